"""Partition files: written whole and atomically, merged with what they held, never duplicated.

Rules of this module:
- a partition file appears complete or not at all: it is written to a temporary ``.*.tmp``
  file beside it, then renamed over the old one (``os.replace`` on local disks, where the
  rename is atomic; the file system's move elsewhere, which object stores make atomic per
  object); a run killed mid-write leaves only a temporary file, which :func:`sweep` removes;
- new bars are merged into the partition by time: one row per bar time, the newer fetch wins;
- the schema is that of ``tv.history`` frames (``time`` as ``timestamp[us, tz=UTC]``, prices
  and volume float64) without ``symbol``, which the hive folder carries, so every reader
  (polars, pyarrow, DuckDB, Dask) sees it once.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import posixpath
import uuid
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

import numpy as np

from tvframe.bars import merge_bars, select_bars
from tvframe.dataset.layout import Dataset
from tvframe.frames import PRICE_COLUMNS
from tvframe.protocol.events import Bars

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COMPRESSION",
    "atomic_replace",
    "bars_table",
    "read_bars",
    "schema",
    "sweep",
    "table_bars",
    "write_series",
    "years",
]

logger = logging.getLogger(__name__)

COMPRESSION = "zstd"
_TEMP_SUFFIX = ".tmp"


def schema() -> pa.Schema:
    """The schema of every partition file.

    Example:
        >>> schema().names
        ['time', 'open', 'high', 'low', 'close', 'volume']
    """
    import pyarrow as pa

    return pa.schema(
        [("time", pa.timestamp("us", tz="UTC"))] + [(name, pa.float64()) for name in PRICE_COLUMNS]
    )


def bars_table(bars: Bars) -> pa.Table:
    """Bars as a partition table (times rounded to microseconds, as in ``tv.history``).

    Example:
        >>> bars_table(Bars.empty()).num_rows
        0
    """
    import pyarrow as pa

    micros = np.round(bars.time * 1_000_000).astype(np.int64)
    columns = [pa.array(micros, pa.timestamp("us", tz="UTC"))]
    columns += [pa.array(np.asarray(getattr(bars, name), np.float64)) for name in PRICE_COLUMNS]
    return pa.Table.from_arrays(columns, schema=schema())


def table_bars(table: pa.Table) -> Bars:
    """Inverse of :func:`bars_table`.

    Example:
        >>> len(table_bars(bars_table(Bars.empty())))
        0
    """
    micros = table.column("time").cast("int64").to_numpy()
    columns = [table.column(name).to_numpy().astype(np.float64) for name in PRICE_COLUMNS]
    return Bars(np.arange(len(micros), dtype=np.int64), micros / 1_000_000, *columns)


def years(bars: Bars) -> Iterator[tuple[int, Bars]]:
    """The bars of each UTC calendar year, oldest first.

    Example:
        >>> bars = Bars(np.arange(2), np.array([1.0e9, 1.7e9]), *[np.ones(2)] * 5)
        >>> [year for year, _ in years(bars)]
        [2001, 2023]
    """
    year = np.round(bars.time).astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64)
    for value in np.unique(year):
        yield int(value) + 1970, select_bars(bars, year == value)


def read_bars(ds: Dataset, path: str) -> Bars:
    """The bars of one partition file; none when it does not exist."""
    import pyarrow.parquet as pq

    if not ds.fs.exists(path):
        return Bars.empty()
    with ds.fs.open(path, "rb") as handle:
        return table_bars(pq.read_table(handle))


def _sync(handle: IO[bytes]) -> None:
    """Push a local file's bytes to the disk before it is renamed into place."""
    with contextlib.suppress(AttributeError, OSError, io.UnsupportedOperation):
        handle.flush()
        os.fsync(handle.fileno())


def atomic_replace(
    ds: Dataset, path: str, write: Callable[[IO[bytes]], object], *, durable: bool = True
) -> None:
    """Write ``path`` through ``write(handle)`` into a temporary file, then move it into place.

    ``durable`` syncs a local file to the disk before the rename, so that not even a power cut
    can leave it empty; files that can be lost without harm skip that cost.

    Example:
        >>> ds = Dataset.open("memory://doc-atomic")
        >>> atomic_replace(ds, ds.join("a.txt"), lambda h: h.write(b"x"))
        >>> ds.fs.cat(ds.join("a.txt"))
        b'x'
    """
    folder, name = posixpath.split(path)
    temp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
    ds.fs.makedirs(folder, exist_ok=True)
    try:
        with ds.fs.open(temp, "wb") as handle:
            write(handle)
            if durable:
                _sync(handle)
        if ds.is_local:
            os.replace(temp, path)
        else:
            ds.fs.mv(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            ds.fs.rm(temp)
        raise


def _write_table(ds: Dataset, path: str, table: pa.Table) -> None:
    import pyarrow.parquet as pq

    atomic_replace(ds, path, lambda handle: pq.write_table(table, handle, compression=COMPRESSION))


def write_series(ds: Dataset, interval: str, symbol: str, bars: Bars) -> int:
    """Merge closed ``bars`` of one series into its year partitions; returns the bars added.

    Example:
        >>> ds = Dataset.open("memory://doc-series")
        >>> bars = Bars(np.arange(2), np.array([1.0e9, 1.7e9]), *[np.ones(2)] * 5)
        >>> write_series(ds, "1d", "X:Y", bars), write_series(ds, "1d", "X:Y", bars)
        (2, 0)
    """
    added = 0
    for year, chunk in years(bars):
        path = ds.partition(interval, symbol, year)
        old = read_bars(ds, path)
        merged = merge_bars([old, chunk])
        _write_table(ds, path, bars_table(merged))
        added += len(merged) - len(old)
    return added


def sweep(ds: Dataset) -> int:
    """Remove the temporary files a killed run left behind; returns how many.

    Example:
        >>> sweep(Dataset.open("memory://doc-sweep-empty"))
        0
    """
    if not ds.fs.exists(ds.root):
        return 0
    stale = [
        path
        for path in ds.fs.find(ds.root)
        if posixpath.basename(path).startswith(".") and path.endswith(_TEMP_SUFFIX)
    ]
    for path in stale:
        ds.fs.rm(path)
    if stale:
        logger.info("removed %d temporary files left by an interrupted run", len(stale))
    return len(stale)
