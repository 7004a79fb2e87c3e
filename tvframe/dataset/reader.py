"""``tv.scan``: a downloaded dataset as a polars LazyFrame, reading only the partitions asked for.

Partition pruning is by construction: the folders are listed once, and only the files of the
interval, symbols and years asked for are handed to polars (its own Parquet reader on a local
disk; pyarrow's dataset over fsspec elsewhere). ``start``/``end`` then filter the bars inside
the first and last year. Frames have the shape and dtypes of ``tv.history``'s.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from tvframe.dataset.layout import PART_NAME, Dataset, decode_value, interval_value
from tvframe.dataset.plan import time_window
from tvframe.errors import InvalidArgumentError
from tvframe.frames import COLUMNS, PRICE_COLUMNS, bars_frame, check_backend
from tvframe.intervals import Interval, parse_interval
from tvframe.meta import FrameMeta
from tvframe.protocol.events import Bars
from tvframe.symbols import Symbol, parse_symbols
from tvframe.times import TimeLike

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["intervals_in", "scan"]

# One part file per (symbol, year) below an interval's folder.
_Part = tuple[str, int, str]  # symbol, year, path


def _values(ds: Dataset, folder: str, key: str) -> list[str]:
    """The decoded ``key=value`` folder names directly below ``folder``."""
    prefix = f"{key}="
    names = [posixpath.basename(p.rstrip("/")) for p in ds.fs.ls(folder, detail=False)]
    return sorted(decode_value(n[len(prefix) :]) for n in names if n.startswith(prefix))


def intervals_in(path: Any, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The intervals a dataset holds.

    Raises:
        InvalidArgumentError: there is no dataset at ``path``.

    Example:
        >>> intervals_in("memory://doc-empty-dataset")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        tvframe.errors.InvalidArgumentError: no dataset at 'memory://doc-empty-dataset'...
    """
    ds = Dataset.open(path, storage_options)
    return _intervals(ds)


def _intervals(ds: Dataset) -> list[str]:
    found = _values(ds, ds.root, "interval") if ds.fs.isdir(ds.root) else []
    if not found:
        raise InvalidArgumentError(
            f"no dataset at {ds.url!r}: it holds no interval=... folder; write one with "
            "tv.download(...)"
        )
    return found


def _interval(ds: Dataset, interval: str | Interval | None) -> Interval:
    found = _intervals(ds)
    if interval is None:
        if len(found) > 1:
            raise InvalidArgumentError(
                f"the dataset holds several intervals ({', '.join(found)}): pass interval="
            )
        return parse_interval(found[0])
    chosen = parse_interval(interval)
    if chosen.text not in found:
        raise InvalidArgumentError(
            f"the dataset has no {chosen.text!r} bars; it holds {', '.join(found)}"
        )
    return chosen


def _parts(ds: Dataset, interval: Interval) -> list[_Part]:
    folder = ds.join(f"interval={interval_value(interval.text)}")
    parts = []
    for path in ds.fs.find(folder):
        year_dir, name = posixpath.split(path)
        series_dir, year = posixpath.split(year_dir)
        symbol = posixpath.basename(series_dir)
        if name == PART_NAME and year.startswith("year=") and symbol.startswith("symbol="):
            parts.append((decode_value(symbol[7:]), int(year[5:]), path))
    return parts


def _year(seconds: float) -> int:
    return datetime.fromtimestamp(seconds, timezone.utc).year


def _select(
    parts: list[_Part], symbols: Sequence[str] | None, start: float | None, end: float | None
) -> tuple[list[str], list[str]]:
    """The symbols in frame order, and the files that can hold their bars in the window."""
    held = sorted({symbol for symbol, _, _ in parts})
    if symbols is None:
        symbols = held
    missing = sorted(set(symbols) - set(held))
    if missing:
        raise InvalidArgumentError(
            f"the dataset has no bars of {', '.join(missing)} at this interval"
        )
    first = -np.inf if start is None else _year(start)
    last = np.inf if end is None else _year(np.nextafter(end, -np.inf))
    wanted = set(symbols)
    files = [
        path for symbol, year, path in sorted(parts) if symbol in wanted and first <= year <= last
    ]
    return list(symbols), files


def _empty() -> pl.LazyFrame:
    import polars as pl

    schema: dict[str, Any] = {"time": pl.Datetime("us", "UTC"), "symbol": pl.String}
    schema.update({name: pl.Float64 for name in PRICE_COLUMNS})
    return pl.LazyFrame(schema=schema)


def _read(ds: Dataset, files: list[str]) -> pl.LazyFrame:
    import polars as pl

    if not files:
        return _empty()
    if ds.is_local:
        hive = {"interval": pl.String, "symbol": pl.String, "year": pl.Int32}
        return pl.scan_parquet(files, hive_partitioning=True, hive_schema=hive)
    import pyarrow as pa
    import pyarrow.dataset as pads

    keys = pa.schema([("interval", pa.string()), ("symbol", pa.string()), ("year", pa.int32())])
    dataset = pads.dataset(
        files,
        filesystem=ds.fs,
        format="parquet",
        partitioning=pads.partitioning(keys, flavor="hive"),
        partition_base_dir=ds.root,
    )
    return pl.scan_pyarrow_dataset(dataset)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _lazy(
    ds: Dataset, files: list[str], order: list[str], start: float | None, end: float | None
) -> pl.LazyFrame:
    import polars as pl

    lazy = _read(ds, files).select(list(COLUMNS))
    if start is not None:
        lazy = lazy.filter(pl.col("time") >= _moment(start))
    if end is not None:
        lazy = lazy.filter(pl.col("time") < _moment(end))
    rank = pl.col("symbol").replace_strict(order, list(range(len(order))), return_dtype=pl.UInt32)
    return lazy.sort(rank, "time")


def _pandas(
    frame: pl.DataFrame, order: list[str], interval: Interval, single: bool
) -> pd.DataFrame:
    parts = []
    for symbol in order:
        rows = frame.filter(frame["symbol"] == symbol)
        times = rows["time"].dt.epoch("us").to_numpy() / 1_000_000
        columns = [rows[name].to_numpy() for name in PRICE_COLUMNS]
        parts.append((symbol, Bars(np.arange(len(times), dtype=np.int64), times, *columns)))
    return bars_frame(parts, "pandas", meta=FrameMeta(interval.text), multi=not single)


@overload
def scan(
    path: Any,
    symbols: str | Symbol | Iterable[str | Symbol] | None = ...,
    interval: str | Interval | None = ...,
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["polars"] = ...,
    storage_options: dict[str, Any] | None = ...,
) -> pl.LazyFrame: ...


@overload
def scan(
    path: Any,
    symbols: str | Symbol | Iterable[str | Symbol] | None = ...,
    interval: str | Interval | None = ...,
    start: TimeLike | None = ...,
    end: TimeLike | None = ...,
    *,
    backend: Literal["pandas"],
    storage_options: dict[str, Any] | None = ...,
) -> pd.DataFrame: ...


def scan(
    path: Any,
    symbols: str | Symbol | Iterable[str | Symbol] | None = None,
    interval: str | Interval | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    backend: str = "polars",
    storage_options: dict[str, Any] | None = None,
) -> pl.LazyFrame | pd.DataFrame:
    """Read a dataset written by :func:`tvframe.download`, pruning partitions.

    polars (default): a LazyFrame with the columns of ``tv.history(..., backend="polars")``
    (``time`` tz-aware UTC, ``symbol``, float64 ``open high low close volume``), sorted by
    symbol (in the order given) and time. ``backend="pandas"``: a collected frame shaped like
    ``tv.history``'s (indexed by ``(symbol, time)``, or by ``time`` for one symbol given as a
    string).

    Args:
        path: the dataset folder or fsspec URL.
        symbols: ``EXCHANGE:SYMBOL`` or several; default every symbol of the interval.
        interval: which interval; may be left out when the dataset holds only one.
        start: only bars opening at or after this time.
        end: only bars opening before this time.
        backend: ``"polars"`` (lazy) or ``"pandas"``.
        storage_options: fsspec options for ``path``.

    Raises:
        InvalidArgumentError: no dataset at ``path``, an interval or symbol it does not hold,
            or ``start`` not before ``end``.

    Example:
        >>> import tvframe as tv, tempfile
        >>> from tvframe.dataset import download
        >>> folder = tempfile.mkdtemp()
        >>> with tv.sim.running():
        ...     _ = download("NASDAQ:AAPL", "1d", start="2026-01-01", path=folder, progress=False)
        >>> lazy = scan(folder, "NASDAQ:AAPL", start="2026-06-01", end="2026-07-01")
        >>> lazy.collect().height
        22
    """
    chosen = check_backend(backend)
    first, last = time_window(start, end)
    wanted = None if symbols is None else [s.full_name for s in parse_symbols(symbols)]
    ds = Dataset.open(path, storage_options)
    iv = _interval(ds, interval)
    order, files = _select(_parts(ds, iv), wanted, first, last)
    lazy = _lazy(ds, files, order, first, last)
    if chosen == "polars":
        return lazy
    return _pandas(lazy.collect(), order, iv, single=isinstance(symbols, (str, Symbol)))
