"""The report of a download: each series' outcome, returned and written beside the data.

``_report.json`` at the dataset root holds the last run's report (readers skip ``_`` files)::

    {"format": "tvframe.download-report", "path": "...", "server_time": 1793631600.0,
     "series": [{"interval": "1d", "symbol": "NASDAQ:AAPL", "status": "written",
                 "bars": 2519, "error": null, "short": null}, ...]}

A series is ``written`` (bars were fetched, maybe none new), ``up to date`` (nothing could be
new: nothing was requested) or ``failed`` (``error`` says why; the series keeps what it had).
``short`` says what the server could not give (a plan's depth cap), whatever the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import orjson

from tvframe.dataset.layout import Dataset
from tvframe.dataset.manifest import SeriesKey
from tvframe.dataset.writer import atomic_replace
from tvframe.errors import TvFrameError

__all__ = ["REPORT_FORMAT", "DownloadReport", "Outcome", "SeriesResult", "series_label"]

REPORT_FORMAT = "tvframe.download-report"

Status = Literal["written", "up to date", "failed"]


def series_label(key: SeriesKey) -> str:
    """How a series is named in messages: ``"NASDAQ:AAPL 1d"``.

    Example:
        >>> series_label(("1d", "NASDAQ:AAPL"))
        'NASDAQ:AAPL 1d'
    """
    return f"{key[1]} {key[0]}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one series task did (travels back from cluster workers)."""

    key: SeriesKey
    bars: int = 0
    error: TvFrameError | None = None
    short: str | None = None
    fetched: bool = True

    def result(self) -> SeriesResult:
        """The outcome as a report line."""
        status: Status = "failed" if self.error else "written" if self.fetched else "up to date"
        error = None if self.error is None else f"{type(self.error).__name__}: {self.error}"
        return SeriesResult(self.key[0], self.key[1], status, self.bars, error, self.short)


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """One series in a :class:`DownloadReport`.

    Attributes:
        interval: the interval spelling (``"1d"``).
        symbol: ``EXCHANGE:SYMBOL``.
        status: ``"written"``, ``"up to date"`` or ``"failed"``.
        bars: closed bars added to the dataset by this run.
        error: why it failed (the error's type and message), None otherwise.
        short: what the server could not give (plan caps), None when nothing.
    """

    interval: str
    symbol: str
    status: Status
    bars: int
    error: str | None
    short: str | None


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """What :func:`tvframe.download` did, series by series (also in ``<path>/_report.json``).

    Attributes:
        path: the dataset's path or URL.
        server_time: the server's clock at the start of the run (UTC epoch seconds).
        series: one result per symbol and interval, in the order asked.

    Example:
        >>> report = DownloadReport("data", 0.0, (SeriesResult("1d", "X:Y", "failed", 0,
        ...                         "SeriesError: no data", None),))
        >>> report.failed
        {'X:Y 1d': 'SeriesError: no data'}
    """

    path: str
    server_time: float
    series: tuple[SeriesResult, ...]

    @property
    def bars(self) -> int:
        """Closed bars added by the run, over all series."""
        return sum(result.bars for result in self.series)

    @property
    def failed(self) -> dict[str, str]:
        """``"SYMBOL interval"`` -> why, for every series that failed."""
        return {
            series_label((r.interval, r.symbol)): r.error or ""
            for r in self.series
            if r.status == "failed"
        }

    @property
    def short(self) -> dict[str, str]:
        """``"SYMBOL interval"`` -> what the server could not give."""
        return {series_label((r.interval, r.symbol)): r.short for r in self.series if r.short}

    @property
    def fetched(self) -> int:
        """Series that were requested from the server (the others were up to date)."""
        return sum(result.status != "up to date" for result in self.series)

    def summary(self) -> str:
        """One line for people.

        Example:
            >>> DownloadReport("data", 0.0, ()).summary()
            'data: 0 bars added; 0 of 0 series fetched, 0 up to date, 0 failed'
        """
        up_to_date = sum(result.status == "up to date" for result in self.series)
        text = (
            f"{self.path}: {self.bars} bars added; {self.fetched} of {len(self.series)} series "
            f"fetched, {up_to_date} up to date, {len(self.failed)} failed"
        )
        return text + (f", {len(self.short)} short" if self.short else "")

    def to_json(self) -> bytes:
        """The report file's content."""
        body = {
            "format": REPORT_FORMAT,
            "path": self.path,
            "server_time": self.server_time,
            "series": [asdict(result) for result in self.series],
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)

    @classmethod
    def build(
        cls, ds: Dataset, server_time: float, order: Sequence[SeriesKey], outcomes: list[Outcome]
    ) -> DownloadReport:
        """The report of ``outcomes``, in the order the series were asked."""
        by_key = {outcome.key: outcome for outcome in outcomes}
        results = tuple(by_key[key].result() for key in order if key in by_key)
        return cls(ds.url, server_time, results)

    def write(self, ds: Dataset) -> None:
        """Write ``_report.json`` atomically."""
        data = self.to_json()
        atomic_replace(ds, ds.report, lambda handle: handle.write(data))
