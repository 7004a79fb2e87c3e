"""The manifest: per symbol and interval, the time range a dataset covers and its last bar.

``_manifest.json`` at the dataset root::

    {"format": "tvframe.dataset", "version": 1,
     "series": [{"interval": "1d", "symbol": "NASDAQ:AAPL", "start": 1451606400.0,
                 "end": 1793577600.0, "last": 1793491200.0, "pending": 1793577600.0,
                 "checked": 1793631600.0, "short": null}, ...]}

Times are UTC epoch seconds. Series are sorted by interval, then symbol, so the same dataset
always has the same manifest, whichever run (or cluster worker) wrote each part.

Rules of this module:
- the manifest is replaced atomically, like the partitions;
- a run records each series as it finishes in ``_journal/`` (one small file per series, so
  parallel tasks and cluster workers never write the same file); the journal is merged into
  the manifest once, at the end of the run, or by the next run when this one was killed;
- a series is recorded only after its partitions are written: a run killed in between
  re-fetches that series, and the merge by bar time makes the repeat harmless.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson

from tvframe.dataset.layout import JOURNAL_DIR, Dataset
from tvframe.dataset.writer import atomic_replace
from tvframe.errors import TvFrameError

__all__ = ["FORMAT", "Coverage", "Manifest", "SeriesKey", "record"]

logger = logging.getLogger(__name__)

FORMAT = "tvframe.dataset"
_VERSION = 1

#: ``(interval, symbol)``: the spelling of the interval (``"1d"``), the symbol's full name.
SeriesKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a dataset holds of one series.

    Attributes:
        start: every closed bar opening at or after ``start`` ...
        end: ... and before ``end`` is stored; the server had no other.
        last: the open time of the newest bar stored; None when none is.
        pending: the first bar at or after ``end`` the server sent, not stored because it may
            have been forming (or lies past the ``end=`` asked); None when none was seen.
        checked: the server's clock when the series was last fetched.
        short: what the server could not give (a plan's depth cap), None when nothing.

    Example:
        >>> Coverage(0.0, 120.0, 60.0, 120.0, 130.0).has_bars
        True
    """

    start: float
    end: float
    last: float | None
    pending: float | None
    checked: float
    short: str | None = None

    @property
    def has_bars(self) -> bool:
        """True when the server sent any bar for the series (stored or pending)."""
        return self.last is not None or self.pending is not None

    def to_json(self, key: SeriesKey) -> dict[str, Any]:
        """The manifest's record of the series."""
        return {"interval": key[0], "symbol": key[1], **asdict(self)}

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> tuple[SeriesKey, Coverage]:
        """Inverse of :meth:`to_json`."""
        coverage = cls(
            float(item["start"]),
            float(item["end"]),
            _optional_time(item.get("last")),
            _optional_time(item.get("pending")),
            float(item["checked"]),
            None if item.get("short") is None else str(item["short"]),
        )
        if not (math.isfinite(coverage.start) and math.isfinite(coverage.end)):
            raise ValueError("start and end must be finite")
        return (str(item["interval"]), str(item["symbol"])), coverage

    def with_short(self, note: str | None) -> Coverage:
        """The same coverage, with ``note`` added to what the server could not give."""
        if not note:
            return self
        return replace(self, short=f"{self.short}; {note}" if self.short else note)


class Manifest:
    """The coverage of every series of a dataset.

    Example:
        >>> ds = Dataset.open("memory://doc-manifest")
        >>> manifest = Manifest.load(ds)
        >>> manifest.entries[("1d", "X:Y")] = Coverage(0.0, 60.0, None, 60.0, 90.0)
        >>> manifest.save(ds)
        >>> Manifest.load(ds).entries == manifest.entries
        True
    """

    def __init__(self, entries: Mapping[SeriesKey, Coverage] | None = None) -> None:
        self.entries: dict[SeriesKey, Coverage] = dict(entries or {})

    @classmethod
    def load(cls, ds: Dataset) -> Manifest:
        """The manifest, with the journal a killed run left merged in (nothing is written).

        Raises:
            TvFrameError: the manifest or a journal file is not tvframe's (the path is named).
        """
        manifest = cls(dict(_read_series(ds, ds.manifest, header=True)))
        for path in _journal_files(ds):
            try:
                manifest.entries.update(_read_series(ds, path, header=False))
            except TvFrameError as exc:
                # An unsynced entry a power cut emptied: that series is fetched again.
                logger.warning("ignoring a damaged journal entry: %s", exc)
        return manifest

    def save(self, ds: Dataset) -> None:
        """Write the manifest atomically, then drop the journal it now contains."""
        journal = _journal_files(ds)
        body = {
            "format": FORMAT,
            "version": _VERSION,
            "series": [self.entries[key].to_json(key) for key in sorted(self.entries)],
        }
        data = orjson.dumps(body, option=orjson.OPT_INDENT_2)
        atomic_replace(ds, ds.manifest, lambda handle: handle.write(data))
        for path in journal:
            ds.fs.rm(path)
        folder = ds.join(JOURNAL_DIR)
        if ds.fs.exists(folder) and not ds.fs.find(folder):
            ds.fs.rm(folder, recursive=True)  # the empty per-interval folders


def _optional_time(value: Any) -> float | None:
    return None if value is None else float(value)


def record(ds: Dataset, key: SeriesKey, coverage: Coverage) -> None:
    """Journal one series' new coverage (after its partitions are written)."""
    data = orjson.dumps({"series": [coverage.to_json(key)]})
    # Not synced: a journal entry lost to a power cut only means that series is fetched again.
    atomic_replace(ds, ds.journal(*key), lambda handle: handle.write(data), durable=False)


def _journal_files(ds: Dataset) -> list[str]:
    folder = ds.join(JOURNAL_DIR)
    if not ds.fs.exists(folder):
        return []
    return sorted(path for path in ds.fs.find(folder) if path.endswith(".json"))


def _read_series(ds: Dataset, path: str, *, header: bool) -> Iterable[tuple[SeriesKey, Coverage]]:
    if not ds.fs.exists(path):
        return []
    try:
        body = orjson.loads(ds.fs.cat_file(path))
        if header and (body.get("format") != FORMAT or body.get("version") != _VERSION):
            raise ValueError(f"not a {FORMAT} manifest of version {_VERSION}")
        return [Coverage.from_json(item) for item in body["series"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TvFrameError(
            f"{path} is not a tvframe dataset manifest ({exc}); point path= at a tvframe "
            "dataset or an empty folder"
        ) from exc
