"""``tv.download(..., cluster=client)``: symbol batches spread over a Dask cluster's workers.

The driver connects once to read the server's clock and plans every series, exactly as a
local run does. Each batch of symbols then runs as one ``dask.distributed`` task: the worker
opens its own connection (its share of ``rate``), fetches its series, writes their partitions
and journal into the dataset itself (so ``path`` must be reachable from every worker: a shared
folder or an object store URL), and returns the outcomes. At most ``connections`` batches run
at once. The driver merges the journal into the manifest once, at the end.

A series is always fetched whole by one task, with the plan a local run would make, so the
dataset is the same, file for file, as a local download's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import groupby
from queue import SimpleQueue
from typing import Any

from tvframe.dataset.downloader import Job, Runner, Task
from tvframe.dataset.layout import Dataset
from tvframe.dataset.manifest import Manifest
from tvframe.dataset.polite import Endpoint, Link, Politeness, server_clock
from tvframe.dataset.report import Outcome
from tvframe.errors import InvalidArgumentError
from tvframe.loop import shared_loop
from tvframe.progress import progress_bar

__all__ = ["batches", "check_cluster", "cluster_threads", "run_batch", "run_on_cluster"]

# Batches per connection by default: enough for idle workers to take over a slow one's share.
_BATCHES_PER_CONNECTION = 4


def check_cluster(client: Any, batch_size: int | None) -> None:
    """Validate ``cluster=`` and ``batch_size=`` (before any I/O).

    Raises:
        InvalidArgumentError: ``client`` is not a ``dask.distributed.Client`` or
            ``batch_size`` is not a whole number >= 1.

    Example:
        >>> check_cluster("local", None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        tvframe.errors.InvalidArgumentError: cluster= takes a dask.distributed.Client ...
    """
    if not (
        callable(getattr(client, "submit", None)) and callable(getattr(client, "nthreads", None))
    ):
        raise InvalidArgumentError(
            f"cluster= takes a dask.distributed.Client (pip install 'tvframe[dask]'), "
            f"not {type(client).__name__}"
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise InvalidArgumentError(f"batch_size={batch_size!r} must be a whole number >= 1")


def cluster_threads(client: Any) -> int:
    """Worker threads of a ``dask.distributed.Client``'s cluster (at least 1)."""
    return max(1, int(sum(client.nthreads().values())))


def batches(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    """``tasks`` cut into batches of ``size`` symbols (a symbol's intervals stay together).

    Example:
        >>> from tvframe.intervals import parse_interval
        >>> tasks = [Task(("1d", s), parse_interval("1d"), None, ()) for s in "ABC"]
        >>> [[t.symbol for t in b] for b in batches(tasks, 2)]
        [['A', 'B'], ['C']]
    """
    by_symbol = [list(group) for _, group in groupby(tasks, key=lambda t: t.symbol)]
    return [
        [task for symbol in by_symbol[i : i + size] for task in symbol]
        for i in range(0, len(by_symbol), size)
    ]


def run_batch(
    tasks: Sequence[Task],
    url: str,
    storage_options: Mapping[str, Any],
    endpoint: Endpoint,
    politeness: Politeness,
    now: float,
) -> list[Outcome]:
    """Run one batch on a worker: its own connection, its own partitions and journal."""
    ds = Dataset.open(url, storage_options)

    async def main() -> list[Outcome]:
        runner = Runner(ds, endpoint, politeness)
        try:
            return await runner.run(tasks, now)
        finally:
            await runner.close()

    return shared_loop().run(main())


async def _server_time(endpoint: Endpoint, politeness: Politeness) -> float:
    link = Link(endpoint, politeness)
    try:
        return server_clock(await link.client())
    finally:
        await link.close()


def run_on_cluster(
    client: Any,
    job: Job,
    ds: Dataset,
    manifest: Manifest,
    progress: bool | None,
    *,
    connections: int | None,
    batch_size: int | None,
) -> tuple[float, list[Outcome]]:
    """Plan on the driver, fetch on the workers; returns the server's clock and the outcomes
    (the arguments checked by :func:`check_cluster`)."""
    lanes = connections or cluster_threads(client)
    politeness = replace(job.politeness, connections=lanes)
    now = shared_loop().run(_server_time(job.endpoint, politeness))
    tasks = job.tasks(manifest, now)
    outcomes = [Outcome(task.key, fetched=False) for task in tasks if not task.fetches]
    wanted = [task for task in tasks if task.fetches]
    size = batch_size or max(1, math.ceil(len(job.symbols) / (lanes * _BATCHES_PER_CONNECTION)))
    queue = iter(batches(wanted, size))
    share = politeness.share(lanes)
    # A relative local path would be resolved against each worker's working directory.
    where = ds.root if ds.is_local else ds.url
    options = dict(ds.storage_options)
    # Done callbacks run on the client's thread; the driver waits on this queue.
    finished: SimpleQueue[Any] = SimpleQueue()
    futures: list[Any] = []

    def submit() -> int:
        batch = next(queue, None)
        if batch is None:
            return 0
        future = client.submit(
            run_batch, batch, where, options, job.endpoint, share, now, pure=False
        )
        future.add_done_callback(finished.put)
        futures.append(future)
        return 1

    bar = progress_bar(len(job.keys), "download", progress)
    bar.update(len(outcomes))
    try:
        running = sum(submit() for _ in range(lanes))
        while running:
            done: list[Outcome] = finished.get().result()
            outcomes.extend(done)
            bar.update(len(done))
            running += submit() - 1
    finally:
        bar.close()
        client.cancel([future for future in futures if not future.done()])
    return now, outcomes
