"""What a download must fetch for each series, and which fetched bars are closed.

The closed-bar rule: **a bar is stored once the server has sent a newer bar of the same
series.** The newest bar a fetch returns may be forming, so it is never stored; it becomes
the series' ``pending`` bar and is fetched again, closed, by a later run. (This is the rule of
the live stream's ``closed`` flag too.) It needs no clock and no exchange calendar. Its price:
a series whose market is closed (a stock's Friday bar over the weekend) keeps its last bar
pending until the next session opens.

A fetch with an ``end`` asks the server for a little more (:func:`lookahead`), so that a bar
at or after ``end`` proves every bar before it closed.

Coverage stays one contiguous range: a wider ``start`` fetches back to the covered start, a
later ``end`` (or none: up to now) fetches from the covered end, never a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tvframe.bars import select_bars
from tvframe.dataset.manifest import Coverage
from tvframe.errors import InvalidArgumentError
from tvframe.intervals import Interval
from tvframe.protocol.events import Bars
from tvframe.times import TimeLike, to_epoch

__all__ = [
    "Fetch",
    "Settled",
    "advance",
    "earliest_next",
    "lookahead",
    "plan",
    "settle",
    "time_window",
]

_HOUR = 3600.0
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Fetch:
    """One request of a series: bars opening in ``[start, end)``.

    Attributes:
        start: the first bar time wanted (UTC epoch seconds).
        end: exclusive; None for everything up to the server's now.
        proven: every bar before ``end`` is known closed (the dataset holds a newer one), so
            the server is asked for exactly the range and the newest bar is stored too.
    """

    start: float
    end: float | None
    proven: bool = False

    def request_end(self, interval: Interval) -> float | None:
        """The ``end=`` sent to the server: ``end`` plus :func:`lookahead` unless proven."""
        if self.end is None or self.proven:
            return self.end
        return self.end + lookahead(interval)


@dataclass(frozen=True, slots=True)
class Settled:
    """What one fetch gave: the closed bars to store, how far coverage now reaches, the
    pending bar (the first one not stored), if the fetch saw one."""

    closed: Bars
    reach: float
    pending: float | None


def time_window(start: TimeLike | None, end: TimeLike | None) -> tuple[float | None, float | None]:
    """``start`` and ``end`` as epoch seconds, checked (before any I/O).

    Raises:
        InvalidArgumentError: a value is not a point in time, or ``start`` is not before ``end``.

    Example:
        >>> time_window("2024-01-01", None)
        (1704067200.0, None)
    """
    first = None if start is None else to_epoch(start, "start")
    last = None if end is None else to_epoch(end, "end")
    if first is not None and last is not None and first >= last:
        raise InvalidArgumentError(f"start={start!r} is not before end={end!r}")
    return first, last


def lookahead(interval: Interval) -> float:
    """How far past ``end`` a fetch looks for the bar that proves the last one closed.

    Four days cover a weekend and a holiday; two bars cover the bar itself.

    Example:
        >>> lookahead(Interval("1h", "60", 3600, "h", 1)) / 86400
        4.083333333333333
    """
    return 4 * _DAY + 2 * interval.seconds


def earliest_next(bar_time: float, interval: Interval) -> float:
    """The soonest a bar after the one opening at ``bar_time`` can open.

    Intraday bars are at least an interval apart. Daily and longer bars, stamped at a
    session open, can move by an hour with daylight saving time, and a month may have 28 days.

    Example:
        >>> earliest_next(0.0, Interval("1d", "1D", 86400, "d", 1)) / 3600
        23.0
    """
    if interval.is_intraday:
        return bar_time + interval.seconds
    days = 28 * interval.count if interval.unit == "M" else interval.seconds / _DAY
    return bar_time + days * _DAY - _HOUR


def plan(
    coverage: Coverage | None,
    start: float | None,
    end: float | None,
    now: float,
    interval: Interval,
) -> tuple[Fetch, ...]:
    """The fetches that bring a series from ``coverage`` to ``[start, end)`` (nothing when
    nothing new can exist: ``now`` is the server's clock).

    ``start=None`` keeps the covered start. A series with no bar yet is fetched afresh.

    Example:
        >>> day = Interval("1d", "1D", 86400, "d", 1)
        >>> plan(None, 0.0, None, 1e6, day)
        (Fetch(start=0.0, end=None, proven=False),)
        >>> plan(Coverage(0.0, 8.64e5, 7.776e5, 8.64e5, 9e5), None, None, 9e5, day)
        ()
    """
    if coverage is None or not coverage.has_bars:
        first = start if start is not None else coverage.start if coverage is not None else None
        if first is None:
            raise ValueError("a series without coverage needs a start")
        return (Fetch(first, end),) if end is None or first < end else ()
    fetches: list[Fetch] = []
    if start is not None and start < coverage.start:
        fetches.append(Fetch(start, coverage.start, proven=True))
    if _tail_wanted(coverage, end, now, interval):
        fetches.append(Fetch(coverage.end, end))
    return tuple(fetches)


def _tail_wanted(coverage: Coverage, end: float | None, now: float, interval: Interval) -> bool:
    if end is not None and end <= coverage.end:
        return False
    pending = coverage.pending
    if pending is None:
        return True
    if end is not None and pending >= end:
        return False  # the first bar after the covered end opens at or after `end`
    return now >= earliest_next(pending, interval)


def settle(fetch: Fetch, bars: Bars, now: float) -> Settled:
    """Apply the closed-bar rule to the bars one fetch returned (ascending, from ``start``).

    Example:
        >>> import numpy as np
        >>> bars = Bars(np.arange(3), np.array([0.0, 60.0, 120.0]), *[np.ones(3)] * 5)
        >>> s = settle(Fetch(0.0, None), bars, now=150.0)
        >>> s.closed.time.tolist(), s.reach, s.pending
        ([0.0, 60.0], 120.0, 120.0)
    """
    if fetch.proven:
        assert fetch.end is not None
        return Settled(select_bars(bars, bars.time < fetch.end), fetch.end, None)
    if not len(bars):
        # Nothing opened between start and the server's clock: covered that far, no further.
        reach = now if fetch.end is None else min(fetch.end, now)
        return Settled(bars, max(fetch.start, reach), None)
    closed = select_bars(bars, slice(0, -1))
    if fetch.end is None:
        newest = float(bars.time[-1])
        return Settled(closed, newest, newest)
    closed = select_bars(closed, closed.time < fetch.end)
    after = bars.time[bars.time >= fetch.end]
    if len(after):
        return Settled(closed, fetch.end, float(after[0]))
    newest = float(bars.time[-1])
    return Settled(closed, newest, newest)


def advance(
    coverage: Coverage | None, fetch: Fetch, settled: Settled, now: float, short: str | None
) -> Coverage:
    """The series' coverage after one settled fetch.

    Example:
        >>> import numpy as np
        >>> bars = Bars(np.arange(2), np.array([0.0, 60.0]), *[np.ones(2)] * 5)
        >>> fetch = Fetch(0.0, None)
        >>> advance(None, fetch, settle(fetch, bars, 90.0), 90.0, None)
        Coverage(start=0.0, end=60.0, last=0.0, pending=60.0, checked=90.0, short=None)
    """
    newest = float(settled.closed.time[-1]) if len(settled.closed) else None
    if coverage is None or not coverage.has_bars:
        fresh = Coverage(fetch.start, settled.reach, newest, settled.pending, now)
        return fresh.with_short(short)
    if fetch.proven:  # older bars, before the covered start
        last = coverage.last if coverage.last is not None else newest
        widened = replace(coverage, start=fetch.start, last=last, checked=now)
        return widened.with_short(short)
    last = newest if newest is not None else coverage.last
    reach = max(coverage.end, settled.reach)
    moved = replace(coverage, end=reach, last=last, pending=settled.pending, checked=now)
    return moved.with_short(short)
