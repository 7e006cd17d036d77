"""`python -m emulator.cli` runs the `hanemu` command."""

from emulator.cli import main

main()
