"""The protocol's typed events, and :class:`Bars`, the columns every bar travels in.

Events are frozen msgspec Structs: immutable like frozen dataclasses, and about nine times
cheaper to create, which a live feed does for every update it receives. Decoding JSON into
them is :mod:`tvframe.protocol.messages`'s job (and :mod:`tvframe.protocol.updates`' for
live ``du``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from tvframe.protocol.framing import Heartbeat

__all__ = [
    "NA",
    "BarRow",
    "BarPoint",
    "Bars",
    "CriticalErrorEvent",
    "DataUpdate",
    "Event",
    "FloatArray",
    "Hello",
    "IntArray",
    "ProtocolErrorEvent",
    "QuoteCompleted",
    "QuoteData",
    "SeriesCompleted",
    "SeriesData",
    "SeriesErrorEvent",
    "SeriesLoading",
    "SeriesTimeframe",
    "StudyCompleted",
    "StudyDeleted",
    "StudyErrorEvent",
    "StudyLoading",
    "StudyPoints",
    "SymbolErrorEvent",
    "SymbolResolved",
    "TickmarkUpdate",
    "TimescaleUpdate",
    "UnknownMessage",
    "bar_row",
]

#: TradingView's "no value" sentinel in study plots and quotes (``protocol.md`` §2).
NA = 1e100

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_EMPTY_F: FloatArray = np.empty(0, dtype=np.float64)
_EMPTY_I: IntArray = np.empty(0, dtype=np.int64)


#: One bar as plain floats: ``(time, open, high, low, close, volume)``.
BarRow = tuple[float, float, float, float, float, float]
_Columns = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
_NAN = float("nan")


def bar_row(values: tuple[float, ...]) -> BarRow:
    """A bar's 5 or 6 values as a :data:`BarRow`, with a NaN volume where there is none.

    Example:
        >>> bar_row((60.0, 1.0, 2.0, 0.5, 1.5))
        (60.0, 1.0, 2.0, 0.5, 1.5, nan)
    """
    return values if len(values) == 6 else (*values, _NAN)  # type: ignore[return-value]


class BarPoint(Protocol):
    """One bar as a decoder reads it: the server's index ``i`` and its 5 or 6 values ``v``."""

    @property
    def i(self) -> int: ...

    @property
    def v(self) -> tuple[float, ...]: ...


class _Point(NamedTuple):
    i: int
    v: tuple[float, ...]


class Bars:
    """Bars as columns. ``index`` is the server's bar index (negative for paged history);
    ``time`` is the bar open in UTC epoch seconds; ``volume`` is NaN where the instrument
    has none (5-element bars, ``protocol.md`` §6).

    A live update's one or two bars are kept as the decoder read them (:meth:`from_points`)
    and become rows or numpy columns only when read: the live path merges them by time as
    they are (:meth:`rows_by_time`), so it never pays numpy's per-array cost, and a bar that
    the next update replaces is never converted at all. Immutable by contract, like every event.

    Example:
        >>> bars = Bars.from_rows([7], [(60.0, 1.0, 2.0, 0.5, 1.5, 10.0)])
        >>> bars.rows(), bars.close.tolist(), len(bars)
        ([(60.0, 1.0, 2.0, 0.5, 1.5, 10.0)], [1.5], 1)
    """

    __slots__ = ("_columns", "_points")

    def __init__(
        self,
        index: IntArray,
        time: FloatArray,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> None:
        self._columns: _Columns | None = (index, time, open, high, low, close, volume)
        self._points: Sequence[BarPoint] | None = None

    @classmethod
    def from_points(cls, points: Sequence[BarPoint]) -> Bars:
        """Bars from decoded points (an index ``i`` and 5 or 6 values ``v`` each).

        Example:
            >>> Bars.from_points([_Point(3, (60.0, 1.0, 2.0, 0.5, 1.5))]).rows()
            [(60.0, 1.0, 2.0, 0.5, 1.5, nan)]
        """
        bars = cls.__new__(cls)
        bars._columns, bars._points = None, points
        return bars

    @classmethod
    def from_rows(cls, index: Sequence[int], rows: Sequence[tuple[float, ...]]) -> Bars:
        """Bars from server indexes and rows of 5 or 6 floats (NaN volume where there is none)."""
        return cls.from_points([_Point(i, row) for i, row in zip(index, rows, strict=True)])

    @classmethod
    def empty(cls) -> Bars:
        """No bars."""
        return cls(_EMPTY_I, _EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_F)

    def __len__(self) -> int:
        points = self._points
        return len(points) if points is not None else len(self._cols()[0])

    def __repr__(self) -> str:
        return f"Bars(<{len(self)} bars>)"

    def rows(self) -> list[BarRow]:
        """The bars as rows of Python floats, in their order."""
        if self._points is not None:
            return [bar_row(point.v) for point in self._points]
        _, *columns = self._cols()
        return list(zip(*(c.tolist() for c in columns), strict=True))

    def rows_by_time(self, into: dict[float, BarRow]) -> None:
        """Put each bar's row into ``into`` under its time, a later row replacing an earlier
        one: how live updates, several repeating the forming bar, are merged.

        Example:
            >>> latest = {}
            >>> bars = Bars.from_rows([0, 1], [(60.0, 1, 1, 1, 1, 1), (60.0, 2, 2, 2, 2, 2)])
            >>> bars.rows_by_time(latest)
            >>> latest
            {60.0: (60.0, 2, 2, 2, 2, 2)}
        """
        if self._points is None:
            into.update((row[0], row) for row in self.rows())
            return
        for point in self._points:
            values = point.v
            # bar_row's test inline: calling it for every update cost more than the merge.
            into[values[0]] = values if len(values) == 6 else bar_row(values)

    def _cols(self) -> _Columns:
        columns = self._columns
        if columns is None:
            points = self._points
            assert points is not None  # one of the two is always set
            values = np.array(self.rows(), dtype=np.float64).reshape(-1, 6).T
            index = np.array([point.i for point in points], dtype=np.int64)
            columns = (index, *map(np.ascontiguousarray, values))  # type: ignore[assignment]
            self._columns = columns
        return columns  # type: ignore[return-value]

    @property
    def index(self) -> IntArray:
        """The server's bar indexes."""
        return self._cols()[0]

    @property
    def time(self) -> FloatArray:
        """Bar open times, UTC epoch seconds."""
        return self._cols()[1]

    @property
    def open(self) -> FloatArray:
        """Opens."""
        return self._cols()[2]

    @property
    def high(self) -> FloatArray:
        """Highs."""
        return self._cols()[3]

    @property
    def low(self) -> FloatArray:
        """Lows."""
        return self._cols()[4]

    @property
    def close(self) -> FloatArray:
        """Closes."""
        return self._cols()[5]

    @property
    def volume(self) -> FloatArray:
        """Volumes (NaN where the instrument has none)."""
        return self._cols()[6]


class StudyPoints(msgspec.Struct, frozen=True, eq=False):
    """Indicator values: ``values[:, 0]`` is time, ``values[:, k]`` plot ``k-1``; NA → NaN."""

    study_id: str
    turnaround: str | None
    index: IntArray
    values: FloatArray


class SeriesData(msgspec.Struct, frozen=True, gc=False):
    """The bars of one series in a ``timescale_update`` or ``du``."""

    # gc=False here and in DataUpdate: a live feed makes both for every update, and they
    # hold nothing that could point back at them, so the cycle collector need not track them.

    series_id: str
    turnaround: str | None
    bars: Bars
    bar_close_time: float | None = None


class Hello(msgspec.Struct, frozen=True):
    """The server's first message (``protocol.md`` §2.2)."""

    session_id: str
    timestamp_ms: int | None
    release: str
    protocol: str
    raw: dict[str, Any]

    def __repr__(self) -> str:  # the raw hello is long and says nothing new
        return (
            f"Hello(session_id={self.session_id!r}, timestamp_ms={self.timestamp_ms!r}, "
            f"release={self.release!r}, protocol={self.protocol!r})"
        )


class SymbolResolved(msgspec.Struct, frozen=True):
    """``symbol_resolved [cs, symId, info]``."""

    session: str
    symbol_id: str
    info: dict[str, Any]


class TimescaleUpdate(msgspec.Struct, frozen=True):
    """``timescale_update [cs, objects, timescale]``: bars and study points, plus the time scale."""

    session: str
    series: tuple[SeriesData, ...]
    studies: tuple[StudyPoints, ...]
    index: int
    zoffset: int


class DataUpdate(msgspec.Struct, frozen=True, gc=False):
    """``du [cs, objects]``: live updates of the forming bar, new bars, or study points."""

    session: str
    series: tuple[SeriesData, ...]
    studies: tuple[StudyPoints, ...]


class SeriesLoading(msgspec.Struct, frozen=True):
    """``series_loading [cs, sid, turnaround]``."""

    session: str
    series_id: str
    turnaround: str


class SeriesCompleted(msgspec.Struct, frozen=True):
    """``series_completed [cs, sid, updateMode, turnaround, {rt_update_period}]``."""

    session: str
    series_id: str
    update_mode: str
    turnaround: str | None


class SeriesTimeframe(msgspec.Struct, frozen=True):
    """``series_timeframe [cs, sid, turnaround, from, to, timeframe, final]``."""

    session: str
    series_id: str
    turnaround: str
    final: bool


class SeriesErrorEvent(msgspec.Struct, frozen=True):
    """``series_error [cs, sid, turnaround, reason, node]``; reason flattened to text."""

    session: str
    series_id: str
    reason: str


class SymbolErrorEvent(msgspec.Struct, frozen=True):
    """``symbol_error [cs, symId, reason, …details]``."""

    session: str
    symbol_id: str
    reason: str


class StudyLoading(msgspec.Struct, frozen=True):
    """``study_loading [cs, studyId, fullTurnaround]``."""

    session: str
    study_id: str
    turnaround: str


class StudyCompleted(msgspec.Struct, frozen=True):
    """``study_completed [cs, studyId, fullTurnaround]``."""

    session: str
    study_id: str
    turnaround: str


class StudyDeleted(msgspec.Struct, frozen=True):
    """``study_deleted [cs, studyId, fullTurnaround]``."""

    session: str
    study_id: str
    turnaround: str


class StudyErrorEvent(msgspec.Struct, frozen=True):
    """``study_error [cs, studyId, fullTurnaround, reason, node]``; reason flattened to text."""

    session: str
    study_id: str
    reason: str


class CriticalErrorEvent(msgspec.Struct, frozen=True):
    """``critical_error [session, reason, info]``: the addressed session is dead."""

    session: str
    reason: str
    info: str


class ProtocolErrorEvent(msgspec.Struct, frozen=True):
    """``protocol_error [reason]``: the server closes the connection after it."""

    reason: str


class QuoteData(msgspec.Struct, frozen=True):
    """``qsd [qs, {n, s, v}]``: the first ones full, later ones sparse diffs."""

    session: str
    key: str
    status: str
    values: dict[str, Any]
    errmsg: str | None = None


class QuoteCompleted(msgspec.Struct, frozen=True):
    """``quote_completed [qs, key]``."""

    session: str
    key: str


class TickmarkUpdate(msgspec.Struct, frozen=True):
    """``tickmark_update [cs, timescale]``: chart decoration only."""

    session: str


class UnknownMessage(msgspec.Struct, frozen=True):
    """A well-formed message of a method tvframe does not act on (kept, never dropped)."""

    method: str
    params: tuple[Any, ...]


Event = (
    Hello
    | Heartbeat
    | SymbolResolved
    | TimescaleUpdate
    | DataUpdate
    | SeriesLoading
    | SeriesCompleted
    | SeriesTimeframe
    | SeriesErrorEvent
    | SymbolErrorEvent
    | StudyLoading
    | StudyCompleted
    | StudyDeleted
    | StudyErrorEvent
    | CriticalErrorEvent
    | ProtocolErrorEvent
    | QuoteData
    | QuoteCompleted
    | TickmarkUpdate
    | UnknownMessage
)
