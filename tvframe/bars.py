"""Merging bar chunks by time: one function serves history paging, backfill and live updates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tvframe.protocol.messages import Bars

__all__ = ["merge_bars", "select_bars"]


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
