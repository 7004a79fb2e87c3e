"""``tv.download``: many symbols and intervals into a resumable, hive-partitioned Parquet dataset.

A run: validate every argument (before any I/O); remove the temporary files of a killed run;
read the manifest (and the journal that run left); connect once and read the server's clock;
plan each series (:mod:`tvframe.dataset.plan`: only what is missing, nothing when nothing new
can exist yet); fetch over a few polite connections (:mod:`tvframe.dataset.polite`), locally
or on a Dask cluster (:mod:`tvframe.dataset.cluster`); write each series' closed bars into its
year partitions and journal its new coverage; at the end merge the journal into the manifest
and write the report.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from tvframe.client import Client, resolve_token, resolve_url
from tvframe.dataset.layout import Dataset
from tvframe.dataset.manifest import Coverage, Manifest, SeriesKey, record
from tvframe.dataset.plan import Fetch, advance, plan, settle, time_window
from tvframe.dataset.polite import (
    Endpoint,
    Link,
    Politeness,
    RateLimiter,
    is_connection_failure,
    server_clock,
)
from tvframe.dataset.report import DownloadReport, Outcome, series_label
from tvframe.dataset.writer import sweep, write_series
from tvframe.errors import (
    AuthError,
    InvalidArgumentError,
    InvalidIntervalError,
    ShortHistoryWarning,
    TvFrameError,
)
from tvframe.failures import check_errors, report_failures
from tvframe.intervals import Interval, parse_interval
from tvframe.loop import shared_loop
from tvframe.progress import Progress, progress_bar
from tvframe.protocol.events import Bars
from tvframe.symbols import Symbol, parse_symbols
from tvframe.times import TimeLike

__all__ = ["Job", "Runner", "Task", "download"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Task:
    """One series to bring up to date: its coverage before the run and the fetches planned."""

    key: SeriesKey
    interval: Interval
    coverage: Coverage | None
    fetches: tuple[Fetch, ...]

    @property
    def symbol(self) -> str:
        """``EXCHANGE:SYMBOL``."""
        return self.key[1]


@dataclass(frozen=True, slots=True)
class Job:
    """A validated download request (everything the user gave, checked before any I/O)."""

    symbols: tuple[Symbol, ...]
    intervals: tuple[Interval, ...]
    start: float | None
    end: float | None
    politeness: Politeness
    endpoint: Endpoint

    @property
    def keys(self) -> list[SeriesKey]:
        """Every series, symbol by symbol, in the order asked."""
        return [(iv.text, s.full_name) for s in self.symbols for iv in self.intervals]

    def check_starts(self, manifest: Manifest) -> None:
        """Series the dataset does not hold yet need a ``start``.

        Raises:
            InvalidArgumentError: naming them.
        """
        if self.start is not None:
            return
        new = [series_label(key) for key in self.keys if key not in manifest.entries]
        if new:
            shown = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
            raise InvalidArgumentError(
                f"start= is needed: the dataset has nothing yet of {shown}; without start= a "
                "download only brings the series it holds up to date"
            )

    def tasks(self, manifest: Manifest, now: float) -> list[Task]:
        """Every series with the fetches it needs at the server's time ``now``."""
        by_text = {iv.text: iv for iv in self.intervals}
        tasks = []
        for key in self.keys:
            coverage = manifest.entries.get(key)
            interval = by_text[key[0]]
            fetches = plan(coverage, self.start, self.end, now, interval)
            tasks.append(Task(key, interval, coverage, fetches))
        return tasks


def _parse_intervals(intervals: str | Interval | Iterable[str | Interval]) -> tuple[Interval, ...]:
    items = [intervals] if isinstance(intervals, (str, Interval)) else list(intervals)
    if not items:
        raise InvalidIntervalError("no intervals given: pass at least one, such as '1d'")
    return tuple(dict.fromkeys(parse_interval(item) for item in items))


class _ShortNotes:
    """Routes the :class:`ShortHistoryWarning` of each fetched series to its report line.

    ``warnings.catch_warnings`` swaps process-wide state, so one capture serves every
    download running on the shared loop thread: it starts with the first and ends with the
    last. Warnings that are not a download's are re-issued when it ends.
    """

    def __init__(self) -> None:
        self._users = 0
        self._context: warnings.catch_warnings[list[warnings.WarningMessage]] | None = None
        self._caught: list[warnings.WarningMessage] = []

    def __enter__(self) -> _ShortNotes:
        if self._users == 0:
            self._context = warnings.catch_warnings(record=True)
            self._caught = self._context.__enter__()
            warnings.simplefilter("always", ShortHistoryWarning)
        self._users += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._users -= 1
        if self._users or self._context is None:
            return
        context, self._context = self._context, None
        context.__exit__(exc_type, exc, tb)
        others, self._caught = self._caught, []
        for caught in others:
            warnings.warn_explicit(caught.message, caught.category, caught.filename, caught.lineno)

    def take(self, key: SeriesKey) -> str | None:
        """What the server could not give for ``key`` in its last fetch, if anything."""
        prefix = f"{series_label(key)}: "
        mine = [
            c
            for c in self._caught
            if issubclass(c.category, ShortHistoryWarning) and str(c.message).startswith(prefix)
        ]
        for caught in mine:
            self._caught.remove(caught)
        return "; ".join(str(c.message)[len(prefix) :] for c in mine) or None


_notes = _ShortNotes()


class _Unreachable(Exception):
    """No connection could be opened: every series would fail the same way, so the run stops."""

    def __init__(self, error: TvFrameError) -> None:
        super().__init__(str(error))
        self.error = error


async def _all_or_nothing(coros: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` together; the first to fail cancels the others and its error is raised."""
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Runner:
    """Runs series tasks over ``politeness.connections`` links, ``concurrency`` tasks on each.

    Example:
        >>> async def main(ds: Dataset, job: Job, manifest: Manifest) -> None:
        ...     runner = Runner(ds, job.endpoint, job.politeness)
        ...     try:
        ...         now = await runner.server_time()
        ...         outcomes = await runner.run(job.tasks(manifest, now), now)
        ...     finally:
        ...         await runner.close()
    """

    def __init__(self, ds: Dataset, endpoint: Endpoint, politeness: Politeness) -> None:
        self._ds = ds
        self._politeness = politeness
        self._links = [Link(endpoint, politeness) for _ in range(politeness.connections)]
        self._limiter = RateLimiter(politeness.rate)

    async def server_time(self) -> float:
        """The server's clock, from the hello of the first connection (opened here)."""
        return server_clock(await self._links[0].client())

    async def run(
        self,
        tasks: Sequence[Task],
        now: float,
        on_done: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Run ``tasks`` (``now``: the server's clock they were planned at).

        Raises:
            AuthError: the token was rejected.
            TvFrameError: no connection could be opened (after the retries).
        """
        queue = deque(tasks)
        outcomes: list[Outcome] = []

        async def work(link: Link) -> None:
            while queue:
                outcome = await self._run_task(queue.popleft(), link, now)
                outcomes.append(outcome)
                if on_done is not None:
                    on_done(outcome)

        lanes = [work(link) for link in self._links for _ in range(self._politeness.concurrency)]
        with _notes:
            try:
                await _all_or_nothing(lanes)
            except _Unreachable as stop:
                raise stop.error from None
        return outcomes

    async def close(self) -> None:
        """Close every connection."""
        for link in self._links:
            await link.close()

    async def _connect(self, link: Link) -> Client:
        try:
            return await link.client()
        except AuthError:
            raise
        except TvFrameError as exc:
            raise _Unreachable(exc) from exc

    async def _run_task(self, task: Task, link: Link, now: float) -> Outcome:
        if not task.fetches:
            return Outcome(task.key, fetched=False)
        coverage, added, notes = task.coverage, 0, []
        try:
            for fetch in task.fetches:
                bars, note = await self._fetch(task, fetch, link)
                settled = settle(fetch, bars, now)
                added += await asyncio.to_thread(
                    write_series, self._ds, task.key[0], task.symbol, settled.closed
                )
                coverage = advance(coverage, fetch, settled, now, note)
                await asyncio.to_thread(record, self._ds, task.key, coverage)
                notes += [note] if note else []
        except AuthError:
            raise
        except TvFrameError as exc:
            logger.info("%s failed: %s", series_label(task.key), exc)
            return Outcome(task.key, added, exc, "; ".join(notes) or None)
        return Outcome(task.key, added, None, "; ".join(notes) or None)

    async def _fetch(self, task: Task, fetch: Fetch, link: Link) -> tuple[Bars, str | None]:
        """The bars of one fetch, retried on a fresh connection when the socket fails."""
        for attempt in range(self._politeness.retries + 1):
            client = await self._connect(link)
            await self._limiter.wait()
            try:
                end = fetch.request_end(task.interval)
                history = await client.history(
                    task.symbol, task.interval, start=fetch.start, end=end
                )
            except TvFrameError as exc:
                if not is_connection_failure(exc, client) or attempt == self._politeness.retries:
                    raise
                await link.discard(client, exc)
                continue
            link.succeeded()
            return history.bars, _notes.take(task.key)
        raise AssertionError("unreachable: the last attempt raises")


def _job(
    symbols: str | Symbol | Iterable[str | Symbol],
    intervals: str | Interval | Iterable[str | Interval],
    start: TimeLike | None,
    end: TimeLike | None,
    politeness: Politeness,
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
) -> Job:
    if not timeout > 0:
        raise InvalidArgumentError(f"timeout={timeout!r} must be positive seconds")
    first, last = time_window(start, end)
    # A token given here is checked now; None lets every process read its own TVFRAME_TOKEN.
    secret = None if token is None else resolve_token(token)
    endpoint = Endpoint(resolve_url(url), secret, timeout)
    return Job(
        tuple(parse_symbols(symbols)),
        _parse_intervals(intervals),
        first,
        last,
        politeness,
        endpoint,
    )


def _progress(total: int, enabled: bool | None) -> tuple[Progress, Callable[[Outcome], None]]:
    bar = progress_bar(total, "download", enabled)
    return bar, lambda _: bar.update()


async def _run_local(
    job: Job, ds: Dataset, manifest: Manifest, progress: bool | None
) -> tuple[float, list[Outcome]]:
    runner = Runner(ds, job.endpoint, job.politeness)
    bar, tick = _progress(len(job.keys), progress)
    try:
        now = await runner.server_time()
        outcomes = await runner.run(job.tasks(manifest, now), now, tick)
    finally:
        bar.close()
        await runner.close()
    return now, outcomes


def _finish(
    job: Job, ds: Dataset, now: float, outcomes: list[Outcome], errors: str
) -> DownloadReport:
    Manifest.load(ds).save(ds)
    report = DownloadReport.build(ds, now, job.keys, outcomes)
    report.write(ds)
    logger.info("%s", report.summary())
    errors_by_key = {o.key: o.error for o in outcomes if o.error is not None}
    failures = {series_label(k): errors_by_key[k] for k in job.keys if k in errors_by_key}
    report_failures(failures, errors, len(job.keys))
    return report


def download(
    symbols: str | Symbol | Iterable[str | Symbol],
    intervals: str | Interval | Iterable[str | Interval],
    *,
    path: Any,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    errors: str = "warn",
    progress: bool | None = None,
    concurrency: int = 8,
    rate: float | None = 10.0,
    connections: int | None = None,
    retries: int = 5,
    backoff: float = 0.5,
    cluster: Any = None,
    batch_size: int | None = None,
    storage_options: dict[str, Any] | None = None,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> DownloadReport:
    """Download bars into a hive-partitioned Parquet dataset; run it again to bring it up to date.

    The dataset (``path``, a folder or any fsspec URL) holds one Parquet file per interval,
    symbol and UTC year: ``interval=1d/symbol=NASDAQ%3AAAPL/year=2024/part-0.parquet``
    (zstd; ``time`` tz-aware UTC, float64 prices, as in ``tv.history``; the symbol is in the
    folder name, percent-encoded). ``_manifest.json`` records what each series covers, so a
    second run fetches only what is missing: the bars closed since, or the older ones of a
    wider ``start``. Only closed bars are stored: a bar is stored once the server has sent a
    newer one. A run killed at any moment loses at most the series in flight; the next run
    resumes. Read it with :func:`tvframe.scan`, polars, pyarrow, DuckDB or Dask.

    Args:
        symbols: ``EXCHANGE:SYMBOL``, or several.
        intervals: ``1m 5m 15m 30m 1h 2h 4h 1d 1w 1M`` or ``<n><unit>``, or several.
        path: the dataset folder, or an fsspec URL (``s3://bucket/bars``).
        start: every bar opening at or after this time; needed for a series the dataset does
            not hold yet, optional after (None keeps the covered start).
        end: only bars opening before this time (default: up to now).
        errors: a series the server refuses: ``"warn"`` (a
            :class:`~tvframe.errors.SymbolsFailedWarning`), ``"raise"`` (after everything else
            is written) or ``"ignore"``; it is in the report either way.
        progress: a progress bar over series; default: on a terminal or in a notebook.
        concurrency: chart sessions at once on each connection.
        rate: series requests started per second, over all connections (None: no limit).
        connections: sockets at once (default 1; on a cluster, one per worker thread).
        retries: attempts after the first on refused handshakes (HTTP 429) and dropped
            sockets, each after a backoff delay.
        backoff: the first backoff delay in seconds; it doubles up to 30 s.
        cluster: a ``dask.distributed.Client``: symbol batches run on its workers, each with
            its own connection, writing its own partitions (``pip install 'tvframe[dask]'``;
            ``path`` must be reachable from every worker).
        batch_size: symbols per cluster task (default: about four batches per connection).
        storage_options: fsspec options for ``path`` (credentials ...).
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` (of each worker) or anonymous.
        timeout: seconds any wait on the server may take.

    Returns:
        The :class:`DownloadReport`: each series written, up to date, short (a plan's depth
        cap) or failed, also written to ``<path>/_report.json``.

    Raises:
        InvalidSymbolError: a malformed symbol (before any I/O).
        InvalidIntervalError: a bad interval spelling (before any I/O).
        InvalidArgumentError: another bad argument, or no ``start`` for a new series.
        AuthError: the token was rejected.
        SymbolsError: series failed and ``errors="raise"``.

    Example:
        >>> import tvframe as tv, tempfile
        >>> with tv.sim.running():
        ...     report = download(["NASDAQ:AAPL", "BINANCE:BTCUSDT"], "1d",
        ...                       start="2026-01-01", path=tempfile.mkdtemp(), progress=False)
        ...     again = download(["NASDAQ:AAPL", "BINANCE:BTCUSDT"], "1d",
        ...                      path=report.path, progress=False)
        >>> report.bars > 0, again.bars, again.fetched
        (True, 0, 0)
    """
    check_errors(errors)
    # On a cluster the default is one connection per worker thread, known once connected.
    politeness = Politeness(
        concurrency, rate, 1 if connections is None else connections, retries, backoff
    )
    job = _job(symbols, intervals, start, end, politeness, url, token, timeout)
    if cluster is not None:
        from tvframe.dataset.cluster import check_cluster

        check_cluster(cluster, batch_size)
    ds = Dataset.open(path, storage_options)
    sweep(ds)
    manifest = Manifest.load(ds)
    job.check_starts(manifest)
    if cluster is not None:
        from tvframe.dataset.cluster import run_on_cluster

        now, outcomes = run_on_cluster(
            cluster, job, ds, manifest, progress, connections=connections, batch_size=batch_size
        )
    else:
        now, outcomes = shared_loop().run(_run_local(job, ds, manifest, progress))
    return _finish(job, ds, now, outcomes, errors)
