"""Columnar bar storage for live frames: numpy float64 columns, no Python object per bar.

Rules of this module: appends are amortised O(1) (the capacity doubles; with ``max_bars`` the
dropped prefix is compacted away once it outgrows the live rows, so the capacity stays near
``2 * max_bars``); the last row updates in place; times strictly ascend; every method takes
the buffer's lock, so a :meth:`BarBuffer.snapshot` from any thread sees whole rows only.
Extra named columns (indicator values) share the rows: they grow, compact and trim with the
bars, and a new bar's extra cells are NaN until set, never left over from another bar.

Memory: 48 bytes of payload per bar (six float64) plus 8 per extra column, times
``capacity / len`` — between 1x and 2x, about 1.05x at a million bars.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import numpy.typing as npt

from tvframe.errors import InvalidArgumentError
from tvframe.protocol.events import Bars

__all__ = ["BYTES_PER_BAR", "COLUMNS", "BarBuffer"]

#: The stored columns, in row order of the storage array.
COLUMNS: tuple[str, ...] = ("time", "open", "high", "low", "close", "volume")
#: Payload of one stored bar.
BYTES_PER_BAR = 8 * len(COLUMNS)

_TIME = 0
_N_BAR_COLUMNS = len(COLUMNS)

FloatArray = npt.NDArray[np.float64]


class BarBuffer:
    """The bars of one symbol: ascending times, the last bar updatable in place.

    Args:
        max_bars: keep only the newest ``max_bars`` bars (``None``: keep all).
        capacity: initial room, in bars.
        lock: the lock every method takes; pass one shared lock to snapshot several buffers
            at one instant (it must be reentrant if held around calls, e.g. ``threading.RLock``).
        extra: names of extra float64 columns (e.g. indicator values), NaN until set with
            :meth:`set_extra`; more can be added later with :meth:`add_columns`.

    Example:
        >>> buf = BarBuffer(max_bars=2)
        >>> for t in (60.0, 120.0, 180.0):
        ...     buf.append(t, 1.0, 2.0, 0.5, 1.5, 10.0)
        >>> buf.upsert(180.0, 1.0, 3.0, 0.5, 2.5, 12.0)   # same time: the last bar changes
        False
        >>> buf.snapshot().time.tolist(), buf.snapshot().close.tolist()
        ([120.0, 180.0], [1.5, 2.5])
    """

    def __init__(
        self,
        max_bars: int | None = None,
        *,
        capacity: int = 64,
        lock: AbstractContextManager[Any] | None = None,
        extra: Iterable[str] = (),
    ) -> None:
        if max_bars is not None and (isinstance(max_bars, bool) or max_bars < 1):
            raise InvalidArgumentError(f"max_bars={max_bars!r} must be None or at least 1")
        if capacity < 1:
            raise InvalidArgumentError(f"capacity={capacity!r} must be at least 1")
        self._max_bars = max_bars
        self._lock: AbstractContextManager[Any] = threading.Lock() if lock is None else lock
        self._columns = _empty_columns(capacity, _N_BAR_COLUMNS)
        # Extra column name -> its position in _columns (after the bar columns).
        self._extra: dict[str, int] = {}
        self._start = 0  # rows before _start were dropped by max_bars
        self._end = 0
        # The newest time as a Python float: the ordering check costs no numpy indexing.
        self._last_time = -math.inf
        self.add_columns(extra)

    def __len__(self) -> int:
        with self._lock:
            return self._end - self._start

    def __repr__(self) -> str:
        return f"<BarBuffer {len(self)} bars, capacity {self.capacity}>"

    @property
    def max_bars(self) -> int | None:
        """The bound on stored bars, if any."""
        return self._max_bars

    @property
    def capacity(self) -> int:
        """Bars that fit before the storage grows or compacts."""
        with self._lock:
            return len(self._columns[_TIME])

    @property
    def nbytes(self) -> int:
        """Bytes held by the column arrays (all of the buffer's bar memory)."""
        with self._lock:
            return sum(column.nbytes for column in self._columns)

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The extra columns' names, in the order they were added."""
        with self._lock:
            return tuple(self._extra)

    @property
    def last_time(self) -> float | None:
        """Open time of the newest bar, or None when empty."""
        with self._lock:
            return None if self._end == self._start else self._last_time

    def append(
        self, time: float, open: float, high: float, low: float, close: float, volume: float
    ) -> None:
        """Add a bar after the newest one (dropping the oldest beyond ``max_bars``).

        Raises:
            ValueError: ``time`` is not after the newest bar's time.
        """
        with self._lock:
            self._push(time, open, high, low, close, volume)

    def update_last(
        self, open: float, high: float, low: float, close: float, volume: float
    ) -> None:
        """Overwrite the newest bar's values in place (its time stays).

        Raises:
            IndexError: the buffer is empty.
        """
        with self._lock:
            if self._end == self._start:
                raise IndexError("update_last() on an empty BarBuffer")
            self._set_values(self._end - 1, open, high, low, close, volume)

    def upsert(
        self, time: float, open: float, high: float, low: float, close: float, volume: float
    ) -> bool:
        """Update the newest bar if ``time`` is its time, else append; True when appended.

        Raises:
            ValueError: ``time`` is older than the newest bar.
        """
        with self._lock:
            if self._end > self._start and time == self._last_time:
                self._set_values(self._end - 1, open, high, low, close, volume)
                return False
            self._push(time, open, high, low, close, volume)
            return True

    def add_columns(self, names: Iterable[str]) -> None:
        """Add extra columns, NaN on every stored row; names it already has are left as they are.

        Raises:
            InvalidArgumentError: a name of a bar column (``time``, ``open`` …).

        Example:
            >>> buf = BarBuffer()
            >>> buf.append(60.0, 1.0, 2.0, 0.5, 1.5, 10.0)
            >>> buf.add_columns(["rsi_14"])
            >>> buf.snapshot_columns()[1]["rsi_14"].tolist()
            [nan]
        """
        with self._lock:
            new = [name for name in dict.fromkeys(names) if name not in self._extra]
            clash = [name for name in new if name in COLUMNS]
            if clash:
                raise InvalidArgumentError(
                    f"extra column {clash[0]!r} would hide the bar column of that name"
                )
            capacity = len(self._columns[_TIME])
            for name in new:
                self._extra[name] = len(self._columns)
                self._columns += (np.full(capacity, np.nan),)

    def set_extra(self, time: float, values: Mapping[str, float]) -> bool:
        """Write ``values`` (extra column name -> value) into the row of the bar at ``time``.

        Returns False, writing nothing, when no stored bar has that time (not arrived yet, or
        dropped by ``max_bars``).

        Raises:
            KeyError: a name that is not an extra column (nothing is written).

        Example:
            >>> buf = BarBuffer(extra=["sma_9"])
            >>> buf.append(60.0, 1.0, 2.0, 0.5, 1.5, 10.0)
            >>> buf.set_extra(60.0, {"sma_9": 1.25}), buf.set_extra(120.0, {"sma_9": 2.0})
            (True, False)
        """
        with self._lock:
            targets = [(self._columns[self._extra[name]], value) for name, value in values.items()]
            row = self._row(time)
            if row is None:
                return False
            for column, value in targets:
                column[row] = value
            return True

    def snapshot(self, last: int | None = None) -> Bars:
        """A copy of the stored bars (only the newest ``last`` when given), as columns.

        Example:
            >>> buf = BarBuffer()
            >>> buf.append(60.0, 1.0, 2.0, 0.5, 1.5, 10.0)
            >>> len(buf.snapshot()), len(buf.snapshot(last=0))
            (1, 0)
        """
        with self._lock:
            return _bars(self._copies(last, _N_BAR_COLUMNS))

    def snapshot_columns(self, last: int | None = None) -> tuple[Bars, dict[str, FloatArray]]:
        """Like :meth:`snapshot`, with a copy of every extra column taken at the same instant.

        Example:
            >>> buf = BarBuffer(extra=["sma_9"])
            >>> buf.append(60.0, 1.0, 2.0, 0.5, 1.5, 10.0)
            >>> bars, extra = buf.snapshot_columns()
            >>> len(bars), list(extra)
            (1, ['sma_9'])
        """
        with self._lock:
            copies = self._copies(last, len(self._columns))
            names = list(self._extra)
        return _bars(copies), dict(zip(names, copies[_N_BAR_COLUMNS:], strict=True))

    def _copies(self, last: int | None, count: int) -> list[FloatArray]:
        """Copies of the first ``count`` columns' stored rows, the newest ``last`` (lock held)."""
        start = self._start if last is None else max(self._start, self._end - last)
        return [column[start : self._end].copy() for column in self._columns[:count]]

    def _row(self, time: float) -> int | None:
        """The storage row of the bar at ``time``, if stored (lock held)."""
        if self._end == self._start:
            return None
        if time == self._last_time:  # the forming bar: the usual case
            return self._end - 1
        times = self._columns[_TIME]
        row = self._start + int(np.searchsorted(times[self._start : self._end], time))
        return row if row < self._end and times[row] == time else None

    def _push(
        self, time: float, open: float, high: float, low: float, close: float, volume: float
    ) -> None:
        """Append with the lock held (the default lock is not reentrant)."""
        if self._end > self._start and time <= self._last_time:
            raise ValueError(
                f"bar time {time} is not after the newest bar ({self._last_time}); "
                "use upsert() for the last bar"
            )
        if self._end == len(self._columns[_TIME]):
            self._make_room()
        self._columns[_TIME][self._end] = time
        self._set_values(self._end, open, high, low, close, volume)
        for column in self._columns[_N_BAR_COLUMNS:]:
            # The storage row may hold a dropped or compacted bar's value.
            column[self._end] = math.nan
        self._last_time = float(time)
        self._end += 1
        if self._max_bars is not None and self._end - self._start > self._max_bars:
            self._start += 1

    def _set_values(
        self, row: int, open: float, high: float, low: float, close: float, volume: float
    ) -> None:
        # Six scalar stores cost half of one fancy-indexed store of a tuple.
        _, opens, highs, lows, closes, volumes = self._columns[:_N_BAR_COLUMNS]
        opens[row], highs[row], lows[row], closes[row], volumes[row] = (
            open, high, low, close, volume,
        )  # fmt: skip

    def _make_room(self) -> None:
        """The storage is full: compact when the dropped prefix outweighs the live rows
        (the copy is paid for by the appends that dropped them), else double it."""
        live = self._end - self._start
        if self._start >= live and self._start > 0:
            # Source [start, end) and target [0, live) do not overlap since live <= start.
            for column in self._columns:
                column[:live] = column[self._start : self._end]
        else:
            grown = _empty_columns(2 * len(self._columns[_TIME]), len(self._columns))
            for old, new in zip(self._columns, grown, strict=True):
                new[:live] = old[self._start : self._end]
            self._columns = grown
        self._start, self._end = 0, live


def _empty_columns(capacity: int, count: int) -> tuple[FloatArray, ...]:
    return tuple(np.empty(capacity, dtype=np.float64) for _ in range(count))


def _bars(columns: list[FloatArray]) -> Bars:
    return Bars(np.arange(len(columns[_TIME]), dtype=np.int64), *columns[:_N_BAR_COLUMNS])
