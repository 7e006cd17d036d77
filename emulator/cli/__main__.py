"""`python -m emulator.cli` runs the `hanemu` command."""

from emulator.cli import main

if __name__ == "__main__":  # not when a worker process (Dask, multiprocessing) imports it
    main()
