"""Running a fleet campaign: every home, in this process or sharded over Dask workers, handed on
in home order.

`run_fleet(campaign, sink)` runs the campaign's homes and calls `sink` with each `HomeResult`
in home order (index 0, 1, 2, ...) whatever order they finished in, so what the sink writes (the
results database) is the same for the same seed however many workers ran. With no workers and no
scheduler the homes run here, one after the other (the default). With `workers=N` a Dask
`LocalCluster` of N processes (one thread each) is started for the run; with `scheduler` an
existing cluster is used (its workers must have hanemu installed). Homes are sent in chunks
(`chunk_size`), one task per chunk, never one per home. An `Interruption` that caught SIGINT or
SIGTERM stops the run: the home running here is dropped (part of a home is not a home), tasks
still out are cancelled, and every home handed on before stays handed on.

`measure(campaign, homes, workers)` times a run for `scripts/bench.py`. This module owns the
scheduling of homes; it never decides what happens in a home (`emulator.fleet.homes` and the
scenario engine do) and reads the wall clock only in `measure`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.errors import HanemuError
from emulator.fleet.campaign import DEFAULT_CAMPAIGN, FleetCampaign, load_campaign
from emulator.fleet.homes import HomeResult, kinds, run_home
from emulator.interrupt import Interruption

Sink = Callable[[HomeResult], None]
Progress = Callable[[int, int], None]
"""Told (homes finished, homes in all) as homes finish."""

MAX_CHUNK = 25
"""The most homes one Dask task runs."""
TASKS_PER_WORKER = 4
"""Chunks are sized so that each worker gets about this many (load balance against overhead)."""
POLL_S = 0.2
"""How often the Dask path looks for finished tasks and a caught signal."""


class FleetError(HanemuError):
    """A fleet that cannot be run as asked: a cluster that cannot be reached or started."""


@dataclass(frozen=True, slots=True)
class FleetOutcome:
    homes: int
    """Homes handed on (all of them, unless interrupted)."""
    interrupted: int | None = None


def chunk_size(homes: int, workers: int) -> int:
    """Homes per Dask task for `homes` homes on `workers` workers."""
    return max(1, min(MAX_CHUNK, math.ceil(homes / (max(1, workers) * TASKS_PER_WORKER))))


def run_chunk(campaign: FleetCampaign, start: int, chunk: list[str]) -> list[HomeResult]:
    """Homes `start`, `start + 1`, ... of kinds `chunk` (one Dask task, on a worker)."""
    return [run_home(campaign, start + i, kind) for i, kind in enumerate(chunk)]


def run_fleet(
    campaign: FleetCampaign,
    sink: Sink,
    *,
    workers: int = 0,
    scheduler: str | None = None,
    client: Any = None,
    progress: Progress | None = None,
    interruption: Interruption | None = None,
) -> FleetOutcome:
    """Run every home of `campaign`, handing each result to `sink` in home order: on `client`
    (a Dask client, `dask_client`) when given, else on a cluster made for the run when
    `workers` or `scheduler` ask for one, else here."""
    plan = kinds(campaign)
    if client is not None:
        return _on_dask(client, campaign, plan, sink, progress, interruption)
    if workers == 0 and scheduler is None:
        return _here(campaign, plan, sink, progress, interruption)
    with dask_client(workers, scheduler) as made:
        return _on_dask(made, campaign, plan, sink, progress, interruption)


def _here(
    campaign: FleetCampaign,
    plan: list[str],
    sink: Sink,
    progress: Progress | None,
    interruption: Interruption | None,
) -> FleetOutcome:
    done = 0
    for index, kind in enumerate(plan):
        if interruption is not None and interruption.signum is not None:
            break
        result = run_home(campaign, index, kind, interruption=interruption)
        if result.interrupted is not None:
            break
        sink(result)
        done += 1
        if progress is not None:
            progress(done, len(plan))
    signum = None if interruption is None else interruption.signum
    return FleetOutcome(done, signum)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: on a new LocalCluster of `workers` processes (closed on leaving), or on
    `scheduler`; `FleetError` when neither can be had."""
    from distributed import Client, LocalCluster

    for name in ("distributed", "tornado", "asyncio"):  # its chatter is not the run's output
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    warnings.filterwarnings("ignore", module="distributed")
    try:
        if scheduler is not None:
            client = Client(scheduler, timeout=10, set_as_default=False)
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: never a clash with another cluster
                silence_logs=logging.CRITICAL,
            )
            client = Client(cluster, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        where = f"--scheduler {scheduler}" if scheduler else f"a LocalCluster of {workers}"
        raise FleetError(f"{where}: {' '.join(str(exc).split()) or type(exc).__name__}") from None
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


def _on_dask(
    client: Any,
    campaign: FleetCampaign,
    plan: list[str],
    sink: Sink,
    progress: Progress | None,
    interruption: Interruption | None,
) -> FleetOutcome:
    from distributed import wait

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = chunk_size(len(plan), workers)
    shared = client.scatter(campaign, broadcast=True)
    pending = {
        client.submit(run_chunk, shared, start, plan[start : start + size], pure=False): start
        for start in range(0, len(plan), size)
    }
    finished: dict[int, list[HomeResult]] = {}
    handed = 0
    completed = 0
    try:
        while pending:
            if interruption is not None and interruption.signum is not None:
                break
            try:
                with client.as_current():
                    done, _ = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # none finished yet
                continue
            for future in done:
                start = pending.pop(future)
                finished[start] = future.result()
                completed += len(finished[start])
            while handed in finished:
                chunk = finished.pop(handed)
                for result in chunk:
                    sink(result)
                handed += len(chunk)
            if done and progress is not None:
                progress(completed, len(plan))
    except Exception:
        if interruption is not None and interruption.signum is not None:
            pass  # the signal reached the workers too: what they say now is not news
        else:
            raise
    finally:
        if pending:
            client.cancel(list(pending))
    signum = None if interruption is None else interruption.signum
    return FleetOutcome(handed, signum)


def measure(
    campaign: str | Path | FleetCampaign = DEFAULT_CAMPAIGN,
    homes: int | None = None,
    workers: int = 0,
) -> float:
    """Wall-clock seconds to run `campaign` (a file, or one loaded) over `homes` homes (default:
    the file's) and write the results database (in a temporary directory): here with
    `workers=0`, else on a Dask LocalCluster of `workers` processes, started before the clock
    starts and closed after it stops (the run's time, not the cluster's start-up)."""
    from emulator.fleet.store import FleetStore

    if not isinstance(campaign, FleetCampaign):
        campaign = load_campaign(campaign)
    if homes is not None:
        campaign = campaign.replace(homes=homes)
    with (
        tempfile.TemporaryDirectory(prefix="hanemu-fleet-") as tmp,
        FleetStore.create(Path(tmp) / "fleet.sqlite", campaign) as store,
    ):
        if workers == 0:
            started = time.perf_counter()
            run_fleet(campaign, store.add)
            return time.perf_counter() - started
        with dask_client(workers, None) as client:
            client.wait_for_workers(workers)
            started = time.perf_counter()
            _on_dask(client, campaign, kinds(campaign), store.add, None, None)
            return time.perf_counter() - started
