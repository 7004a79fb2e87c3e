"""Merging bar chunks by time: one function serves history paging, backfill and live updates."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from operator import itemgetter

import numpy as np

from tvframe.protocol.events import BarRow, Bars

__all__ = ["BarRow", "bar_rows", "merge_bars", "row_time", "select_bars"]

#: A :data:`BarRow`'s time: the sort and search key of rows.
row_time = itemgetter(0)


def merge_bars(chunks: Sequence[Bars]) -> Bars:
    """Concatenate chunks, sort by time, and keep one bar per time: the one seen last.

    A later chunk carries the newer state of a bar (a ``du`` after the initial load), so on a
    duplicate time the later chunk wins. Indexes are dropped to 0..n-1 because paging re-bases
    them (``protocol.md`` §5).

    Example:
        >>> import numpy as np
        >>> cols = ([0, 1], [60.0, 0.0], [1.0, 1], [2.0, 2], [0.5, 0.5], [1.5, 1], [3.0, 3])
        >>> old = Bars(*(np.array(c) for c in cols))
        >>> merge_bars([old]).time.tolist()
        [0.0, 60.0]
    """
    chunks = [c for c in chunks if len(c)]
    if not chunks:
        return Bars.empty()
    if len(chunks) == 1 and _ascending(chunks[0].time):
        # One sorted chunk (a whole history load) is its own merge: no copy, no sort.
        return select_bars(chunks[0], slice(None))
    time = np.concatenate([c.time for c in chunks])
    # Reverse so np.unique's first occurrence is the last one received.
    rev = time[::-1]
    _, first = np.unique(rev, return_index=True)
    keep = (len(time) - 1 - first).astype(np.int64)  # ascending time, since unique sorts

    def col(name: str) -> np.ndarray:
        return np.concatenate([getattr(c, name) for c in chunks])[keep]

    return Bars(
        np.arange(len(keep), dtype=np.int64),
        time[keep],
        col("open"),
        col("high"),
        col("low"),
        col("close"),
        col("volume"),
    )


def bar_rows(chunks: Sequence[Bars]) -> list[BarRow]:
    """The bars of ``chunks`` as rows of Python floats, merged as :func:`merge_bars` merges.

    A whole load (one chunk, in order) is read straight into rows. Live updates bring one or
    two bars at a time, several of them repeating the forming bar: a dict keeps the last
    state of each time, with no numpy concatenation, sort or copy. Many rows out of order go
    through :func:`merge_bars`.

    Example:
        >>> import numpy as np
        >>> def bar(t: float) -> Bars:
        ...     return Bars(np.array([0]), np.array([t]), *[np.ones(1)] * 5)
        >>> [row[0] for row in bar_rows([bar(120.0), bar(60.0), bar(120.0)])]
        [60.0, 120.0]
    """
    latest: dict[float, BarRow]
    if len(chunks) == 1:
        rows = chunks[0].rows()
        if _in_order(rows):
            return rows
        if len(rows) > _FEW_ROWS:
            return merge_bars(chunks).rows()
        latest = {row[0]: row for row in rows}
    else:
        latest = {}
        for chunk in chunks:
            chunk.rows_by_time(latest)
            if len(latest) > _FEW_ROWS:
                return merge_bars(chunks).rows()
    rows = list(latest.values())
    return rows if _in_order(rows) else sorted(rows, key=row_time)


def _in_order(rows: list[BarRow]) -> bool:
    return all(a[0] < b[0] for a, b in pairwise(rows))


#: Up to this many rows, :func:`bar_rows` merges in Python rather than with numpy.
_FEW_ROWS = 4096


def _ascending(time: np.ndarray) -> bool:
    return bool(np.all(time[1:] > time[:-1]))


def select_bars(bars: Bars, which: slice | np.ndarray) -> Bars:
    """The bars picked by a slice or a boolean mask, re-indexed 0..n-1.

    Example:
        >>> bars = Bars(np.arange(3), np.array([0.0, 60.0, 120.0]), *[np.ones(3)] * 5)
        >>> select_bars(bars, slice(-2, None)).time.tolist()
        [60.0, 120.0]
    """
    time = bars.time[which]
    return Bars(
        np.arange(len(time), dtype=np.int64),
        time,
        bars.open[which],
        bars.high[which],
        bars.low[which],
        bars.close[which],
        bars.volume[which],
    )
