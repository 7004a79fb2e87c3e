"""The simulator's deterministic market: bars of any resolution, consistent across resolutions.

Rules of this module:

* No global random state. Every number derives from a splitmix64 hash of (seed, symbol, stream,
  day or UTC minute), so a bar is the same on any machine and in any call order.
* One source of truth: a per-minute path in integer ticks. A day's session is a Brownian bridge
  between that day's open and close anchors (a random walk of daily moves plus overnight gaps);
  every other resolution is an exact roll-up of its 1-minute bars, seconds are a piecewise-linear
  path inside each minute, so aggregation identities hold with ``==``.
* Sessions live in the exchange timezone (zoneinfo handles DST); intraday bars align to each
  session's open, days to the session open, weeks and months to their first session's open.
* The bar containing ``now`` is forming: complete units plus the current unit's partial state.
* Stocks pay quarterly dividends; nothing else does. Each ex-date is the first trading day on or
  after a day of the quarter fixed per symbol; ``ex_time`` is that day's first session open
  (pre-market included). The amount is a per-payment fraction (a yearly yield of 0.4-4 % drawn
  per symbol, jittered per payment) of ``close_k``, the regular-session daily close of the
  trading day before the ex-date, rounded to ``1 / pricescale`` and at least that.
* ``adjustment="splits"`` gives the bars above unchanged. ``adjustment="dividends"`` back-adjusts
  them as TradingView and Yahoo do: the prices (not the volume) of a bar opening at ``t`` are
  multiplied by ``F(t) = prod(1 - amount_k / close_k for every k with t < ex_time_k <= as_of)``,
  ``as_of`` being ``now`` unless the caller pins it. Bars from the last ex-date on keep
  ``F == 1.0`` exactly, so they equal the unadjusted ones.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Generic, NamedTuple, Protocol, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from tvframe.sim.catalogue import SimSymbol
from tvframe.sim.clock import DEFAULT_START

__all__ = ["ADJUSTMENTS", "HISTORY_START", "Market", "Resolution", "SimBars", "parse_resolution"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]

#: 2000-01-03T00:00:00Z: no bar opens before it.
HISTORY_START: float = datetime(2000, 1, 3, tzinfo=timezone.utc).timestamp()

_DAY = 86_400
_FIRST_DAY = int(HISTORY_START) // _DAY
_LAST_DAY = int(datetime(2070, 1, 1, tzinfo=timezone.utc).timestamp()) // _DAY  # exclusive
# Trading days generated (and cached) together: a few days, so that a request for the latest
# few thousand minutes generates little more than it sends.
_BLOCK = 8
_UNIT_BYTES = 48  # one bar or unit of _Ohlc: six int64
_ENTRY_BYTES = 1024  # what a cache entry costs besides its columns (arrays, tuples, keys)
_BLOCK_CACHE_BYTES = 100 * 2**20  # intraday bars of whole blocks, kept across calls
_REQUEST_CACHE_BYTES = 64 * 2**20  # complete bars of recent requests, kept across calls
_PROBE = 7  # UTC offsets are probed every _PROBE days: DST periods are far longer
_TIME_LIMIT = 2**40  # seconds; clamps infinite request bounds

# splitmix64 constants (Steele, Lea & Flood 2014).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

# Quote-currency turnover per minute; volumes are this over the price, so KRW shares are not
# traded in USD-sized lots.
_TURNOVER = {"GBX": 1.6e8, "INR": 1.7e8, "JPY": 3.0e8, "KRW": 2.7e9}
_DEFAULT_TURNOVER = 2.0e6
_EXTENDED_VOLUME = 0.15  # pre- and post-market trade thinly

#: The values of the symbol descriptor's ``adjustment`` key (``protocol.md`` §4), default first.
ADJUSTMENTS = ("splits", "dividends")
_YIELD_LOW, _YIELD_SPAN = 0.004, 0.036  # yearly dividend yields of the simulated stocks
_QUARTERS = (_LAST_DAY - _FIRST_DAY) // 91 + 2  # enough quarters to cover the calendar


# --------------------------------------------------------------------------- resolutions


class Resolution(NamedTuple):
    """A parsed TradingView resolution.

    Attributes:
        unit: ``"S"`` seconds, ``"T"`` minutes, ``"D"`` days, ``"W"`` weeks, ``"M"`` months.
        count: How many units one bar spans.
    """

    unit: str
    count: int  # type: ignore[assignment]  # the spec's name; shadows tuple.count


_RESOLUTION = re.compile(r"(?P<count>[1-9][0-9]*)?(?P<unit>[SHDWM]?)")
_MAX_COUNT = {"S": 60, "T": 1440, "D": 365, "W": 52, "M": 12}


def parse_resolution(text: str) -> Resolution:
    """Parse a protocol resolution string.

    Minutes are bare integers ``"1"``..``"1440"``, ``"<n>H"`` is ``n * 60`` minutes, seconds
    are ``"<n>S"``; days, weeks and months (``"D"``, ``"W"``, ``"M"``) may omit the count.

    Raises:
        ValueError: the text is not a resolution TradingView accepts (``"1h"``, ``"15m"``,
            ``"0"``, ``""``, ``"XX"``), or its count is out of range.

    Example:
        >>> parse_resolution("4H"), parse_resolution("W")
        (Resolution(unit='T', count=240), Resolution(unit='W', count=1))
    """
    match = _RESOLUTION.fullmatch(text)
    if match is None or (match["count"] is None and match["unit"] in ("", "S", "H")):
        raise ValueError(
            f"invalid resolution {text!r}: use minutes '1'..'1440', '<n>H', '<n>S', "
            "or 'D', 'W', 'M' with an optional count"
        )
    unit, count = match["unit"] or "T", int(match["count"] or 1)
    if unit == "H":
        unit, count = "T", count * 60
    if count > _MAX_COUNT[unit]:
        raise ValueError(
            f"invalid resolution {text!r}: at most {_MAX_COUNT[unit]} units of {unit!r} per bar"
        )
    return Resolution(unit, count)


# --------------------------------------------------------------------------- bars


@dataclass(frozen=True, slots=True, eq=False)
class SimBars:
    """Columns of bars, oldest first.

    Attributes:
        time: Bar open times, UTC epoch seconds (float64, ascending).
        open: Opening prices.
        high: Highest prices.
        low: Lowest prices.
        close: Closing (or, for the forming bar, latest) prices.
        volume: Volumes; all zeros for instruments without volume.

    Example:
        >>> len(SimBars(*(np.zeros(3) for _ in range(6))))
        3
    """

    time: F64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __len__(self) -> int:
        return len(self.time)

    def take(self, part: slice) -> SimBars:
        """The bars of ``part``, as views of these columns.

        Example:
            >>> bars = SimBars(*(np.arange(4.0) for _ in range(6)))
            >>> bars.take(slice(1, 3)).close.tolist()
            [1.0, 2.0]
        """
        return SimBars(*(getattr(self, column)[part] for column in _BAR_COLUMNS))

    @staticmethod
    def concat(parts: Sequence[SimBars]) -> SimBars:
        """The bars of ``parts``, one after the other, in new columns.

        Example:
            >>> bars = SimBars(*(np.arange(2.0) for _ in range(6)))
            >>> SimBars.concat([bars, bars]).time.tolist()
            [0.0, 1.0, 0.0, 1.0]
        """
        return SimBars(
            *(np.concatenate([getattr(p, column) for p in parts]) for column in _BAR_COLUMNS)
        )


_BAR_COLUMNS = tuple(field.name for field in fields(SimBars))


class _Ohlc(NamedTuple):
    """Units (minutes, seconds, days) or bars in integer ticks; ``t`` is the start time."""

    t: I64
    o: I64
    h: I64
    l: I64  # noqa: E741 - the OHLC convention
    c: I64
    v: I64

    def take(self, index: I64 | npt.NDArray[np.bool_] | slice) -> _Ohlc:
        return _Ohlc(*(column[index] for column in self))

    def during(self, start: int, end: float) -> _Ohlc:
        """The units that start in ``[start, end]``, as views (``t`` is ascending)."""
        lo = int(np.searchsorted(self.t, start, side="left"))
        return self.take(slice(lo, int(np.searchsorted(self.t, _int_key(end), side="right"))))

    @staticmethod
    def concat(parts: list[_Ohlc]) -> _Ohlc:
        return _Ohlc(*(np.concatenate(columns) for columns in zip(*parts, strict=True)))

    def rollup(self, starts: I64) -> _Ohlc:
        """Aggregate the groups that begin at ``starts``: first open, max high, min low ..."""
        last = np.append(starts[1:], len(self.t)) - 1
        return _Ohlc(
            self.t[starts],
            self.o[starts],
            np.maximum.reduceat(self.h, starts),
            np.minimum.reduceat(self.l, starts),
            self.c[last],
            np.add.reduceat(self.v, starts),
        )

    def with_partial_last(self, fraction: float) -> _Ohlc:
        """The units with the last one ``fraction`` of the way through (requirement 5).

        Rounding each term keeps the state monotone in ``fraction``: the high only rises, the
        low only falls, and ``fraction == 1`` gives the final unit back.
        """
        t, o, h, lo, c, v = (int(column[-1]) for column in self)
        close = o + round(fraction * (c - o))
        high = max(o, close) + round(fraction * (h - max(o, c)))
        low = min(o, close) - round(fraction * (min(o, c) - lo))
        volume = math.floor(fraction * v)
        columns = _Ohlc(*(column.copy() for column in self))
        for column, value in zip(columns, (t, o, high, low, close, volume), strict=True):
            column[-1] = value
        return columns


_EMPTY = _Ohlc(*(np.empty(0, dtype=np.int64) for _ in range(6)))
_ONE_MINUTE = Resolution("T", 1)

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class _Lru(Generic[_K, _V]):
    """Values by key, least recently used out once their ``cost`` passes ``max_bytes``.

    The newest entry always stays, so one oversized request is still served from the cache
    until the next one.
    """

    def __init__(self, max_bytes: int, cost: Callable[[_V], int]) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._cost = cost
        self._entries: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: _K, value: _V) -> _V:
        self._entries[key] = value
        self.nbytes += self._cost(value)
        while self.nbytes > self.max_bytes and len(self._entries) > 1:
            self.nbytes -= self._cost(self._entries.popitem(last=False)[1])
        return value


def _block_cost(block: tuple[int, _Ohlc]) -> int:
    return _ENTRY_BYTES + _UNIT_BYTES * len(block[1].t)


def _bars_cost(bars: SimBars) -> int:
    return _ENTRY_BYTES + _UNIT_BYTES * len(bars)


def _first_of_runs(keys: I64) -> I64:
    """Indexes where a run of equal keys begins."""
    if len(keys) == 0:
        return np.empty(0, dtype=np.int64)
    return np.concatenate(([0], np.flatnonzero(keys[1:] != keys[:-1]) + 1)).astype(np.int64)


def _ragged_arange(starts: I64, lengths: I64) -> I64:
    """``concat(arange(s, s + n) for s, n in zip(starts, lengths))`` without a Python loop."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


# --------------------------------------------------------------------------- noise


def _stream_key(seed: int, name: str, stream: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}\x1f{name}\x1f{stream}".encode(), digest_size=8).digest()
    key: np.uint64 = np.uint64(int.from_bytes(digest, "little"))
    return key


def _splitmix(key: np.uint64, counter: I64) -> U64:
    """splitmix64 of ``key + counter * golden``: independent 64-bit words per counter."""
    x: U64 = counter.astype(np.uint64) * _GOLDEN + key
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


def _normal(bits: U64) -> F64:
    """Irwin-Hall(4) from four 16-bit slices: mean 0, variance 1, bounded, cheap."""
    mask = np.uint64(0xFFFF)
    total: U64 = bits & mask
    for shift in (16, 32, 48):
        total += (bits >> np.uint64(shift)) & mask
    normal: F64 = ((total.astype(np.float64) + 2.0) / 65536.0 - 2.0) * math.sqrt(3.0)
    return normal


def _uniform(bits: U64, shift: int, width: int) -> F64:
    """A uniform in (0, 1) from ``width`` bits of ``bits`` starting at ``shift``."""
    field: U64 = (bits >> np.uint64(shift)) & np.uint64((1 << width) - 1)
    uniform: F64 = (field.astype(np.float64) + 0.5) / float(1 << width)
    return uniform


_LN2 = math.log(2.0)
_EXP_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))


def _exp(x: F64) -> F64:
    """exp() from IEEE-exact operations only (+, *, /, rint, ldexp), hence bit-identical on
    every CPU, unlike np.exp whose SIMD kernels differ between machines.

    ``x = k ln2 + r`` with ``|r| <= ln2 / 2``; a degree-13 Taylor polynomial is exact there to
    well below one ulp.
    """
    k = np.rint(x / _LN2)
    r = x - k * _LN2
    poly = np.full_like(r, _EXP_TAYLOR[0])
    for coefficient in _EXP_TAYLOR[1:]:
        poly *= r
        poly += coefficient
    result: F64 = np.ldexp(poly, k.astype(np.int32))
    return result


# --------------------------------------------------------------------------- calendars


class _Track(NamedTuple):
    """One session variant over a symbol's trading days (index ``d``).

    ``first``/``minutes`` place the variant inside the day's generated minutes.
    """

    open: I64
    close: I64
    first: I64
    minutes: I64

    def day_containing(self, t: float) -> int | None:
        d = int(np.searchsorted(self.open, _int_key(t), side="right")) - 1
        return d if d >= 0 and t < self.close[d] else None


class _Calendar(NamedTuple):
    day: I64  # epoch day of the local trading date
    open: I64
    close: I64


def _session_minutes(session: str) -> tuple[int, int]:
    """``"0930-1600"`` -> (570, 960) local minutes; ``"24x7"`` -> (0, 1440)."""
    if session == "24x7":
        return 0, 1440
    match = re.fullmatch(r"([0-2][0-9])([0-5][0-9])-([0-2][0-9])([0-5][0-9])", session)
    if match is None:
        raise ValueError(f"invalid session {session!r}: expected 'HHMM-HHMM' or '24x7'")
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if start >= 1440 or end > 1440 or end == 0:
        raise ValueError(f"invalid session {session!r}: times must lie within 0000-2400")
    return start, end


_EPOCH = datetime(1970, 1, 1)


def _utc_offset(zone: ZoneInfo, local: int) -> int:
    # A naive datetime is read as wall time (fold 0), as with replace(tzinfo=zone), but cheaper.
    offset = zone.utcoffset(_EPOCH + timedelta(seconds=local))
    return 0 if offset is None else int(offset.total_seconds())


def _utc_offsets(zone: ZoneInfo, local: I64) -> I64:
    """UTC offsets of naive local times (ascending), probing sparsely and bisecting changes."""
    out = np.empty_like(local)
    if len(local) == 0:
        return out
    probes = sorted({*range(0, len(local), _PROBE), len(local) - 1})
    offsets = [_utc_offset(zone, int(local[i])) for i in probes]
    out[-1] = offsets[-1]
    for (a, before), (b, after) in itertools.pairwise(zip(probes, offsets, strict=True)):
        change = b
        if before != after:
            lo = a
            while change - lo > 1:
                mid = (lo + change) // 2
                if _utc_offset(zone, int(local[mid])) == before:
                    lo = mid
                else:
                    change = mid
        out[a:change] = before
        out[change : b + 1] = after
    return out


@lru_cache(maxsize=64)
def _calendar(tz: str, session: str, days: tuple[int, ...]) -> _Calendar:
    """Trading days from HISTORY_START to 2070 with their session bounds in UTC."""
    start, end = _session_minutes(session)
    day = np.arange(_FIRST_DAY, _LAST_DAY, dtype=np.int64)
    day = day[np.isin((day + 3) % 7 + 1, days)]  # epoch day 0 was a Thursday
    overnight = _DAY if end <= start else 0  # the session opens the evening before
    open_local = day * _DAY + start * 60 - overnight
    close_local = day * _DAY + end * 60
    zone = ZoneInfo(tz)
    open_utc = open_local - _utc_offsets(zone, open_local)
    close_utc = close_local - _utc_offsets(zone, close_local)
    keep = open_utc >= HISTORY_START
    return _Calendar(day[keep], open_utc[keep], close_utc[keep])


# --------------------------------------------------------------------------- bar geometry


class _Index(Protocol):
    """Where the bars of one (symbol, session variant, resolution) open and end."""

    total: int

    def count_le(self, t: I64) -> I64: ...  # bars opening at or before each t
    def open_of(self, g: int) -> int: ...
    def end_of(self, g: int) -> int: ...
    def containing(self, t: float) -> int | None: ...
    def days_of(self, g0: int, g1: int) -> tuple[int, int]: ...  # trading days [a, b)


class _IntradayIndex:
    """Bars of ``step`` seconds from each session open; a day's last bar may be shorter."""

    def __init__(self, track: _Track, step: int) -> None:
        self.track, self.step = track, step
        self.per_day = (track.minutes * 60 + step - 1) // step
        self.cum = np.concatenate(([0], np.cumsum(self.per_day))).astype(np.int64)
        self.total = int(self.cum[-1])

    def count_le(self, t: I64) -> I64:
        d = np.searchsorted(self.track.open, t, side="right") - 1
        day = np.maximum(d, 0)
        j = np.minimum((t - self.track.open[day]) // self.step, self.per_day[day] - 1)
        return np.where(d < 0, 0, self.cum[day] + j + 1).astype(np.int64)

    def _day(self, g: int) -> int:
        return int(np.searchsorted(self.cum, g, side="right")) - 1

    def open_of(self, g: int) -> int:
        d = self._day(g)
        return int(self.track.open[d] + (g - self.cum[d]) * self.step)

    def end_of(self, g: int) -> int:
        return min(self.open_of(g) + self.step, int(self.track.close[self._day(g)]))

    def containing(self, t: float) -> int | None:
        d = self.track.day_containing(t)
        if d is None:
            return None
        return int(self.cum[d]) + int((t - self.track.open[d]) // self.step)

    def days_of(self, g0: int, g1: int) -> tuple[int, int]:
        return self._day(g0), self._day(g1 - 1) + 1


class _GroupIndex:
    """Bars that group whole trading days (days, weeks, months), stamped at the first open."""

    def __init__(self, track: _Track, group_key: I64) -> None:
        self.track = track
        self.first_day = _first_of_runs(group_key)
        self.end_day = np.append(self.first_day[1:], len(group_key)).astype(np.int64)
        self.opens = track.open[self.first_day]
        self.total = len(self.opens)

    def count_le(self, t: I64) -> I64:
        return np.searchsorted(self.opens, t, side="right").astype(np.int64)

    def open_of(self, g: int) -> int:
        return int(self.opens[g])

    def end_of(self, g: int) -> int:
        return int(self.track.close[self.end_day[g] - 1])

    def containing(self, t: float) -> int | None:
        d = self.track.day_containing(t)
        return None if d is None else int(np.searchsorted(self.first_day, d, side="right")) - 1

    def days_of(self, g0: int, g1: int) -> tuple[int, int]:
        return int(self.first_day[g0]), int(self.end_day[g1 - 1])


# --------------------------------------------------------------------------- one symbol


class _Model:
    """One symbol's calendar, daily anchors and minute path; caches its daily summaries."""

    def __init__(self, symbol: SimSymbol, seed: int) -> None:
        self.symbol = symbol
        self.keys = {
            s: _stream_key(seed, symbol.full_name, s)
            for s in ("day", "gap", "move", "shape", "dividend")
        }
        regular = _calendar(symbol.timezone, symbol.session, symbol.session_days)
        wide = regular
        if symbol.extended_session is not None:
            wide = _calendar(symbol.timezone, symbol.extended_session, symbol.session_days)
        if not np.array_equal(wide.day, regular.day):
            raise ValueError(f"{symbol.full_name}: extended session must cover every regular day")
        self.day = regular.day
        self.base = self._track(wide, wide)
        self.regular = self._track(regular, wide)
        self.extended = self.base if symbol.extended_session is not None else self.regular
        self.log_open, self.log_close, self.sigma_minute = self._anchors()
        self.tick_scale = symbol.pricescale / symbol.minmov  # ticks per unit of price
        turnover = _TURNOVER.get(symbol.currency, _DEFAULT_TURNOVER)
        self.lot = turnover / symbol.base_price if symbol.has_volume else 0.0
        self.days: dict[int, dict[bool, _Ohlc]] = {}
        self.indexes: dict[tuple[bool, Resolution], _Index] = {}
        draw = _splitmix(self.keys["dividend"], np.zeros(1, dtype=np.int64))
        self.dividend_yield = _YIELD_LOW + _YIELD_SPAN * float(_uniform(draw, 32, 32)[0])
        self.ex_day = self._ex_days(int(draw[0]))
        self.ex_time = self.base.open[self.ex_day]
        # Filled on demand: an amount needs the previous close, hence that day's minutes.
        self.ex_amount = np.full(len(self.ex_day), np.nan)
        self.ex_close = np.full(len(self.ex_day), np.nan)

    def _track(self, cal: _Calendar, wide: _Calendar) -> _Track:
        first = (cal.open - wide.open) // 60
        minutes = (cal.close - cal.open) // 60
        if np.any(first < 0) or np.any(first + minutes > (wide.close - wide.open) // 60):
            raise ValueError(f"{self.symbol.full_name}: extended session must contain the session")
        return _Track(cal.open, cal.close, first, minutes)

    def _anchors(self) -> tuple[F64, F64, F64]:
        """Daily anchors: a log random walk of in-session moves and overnight gaps."""
        phi = np.minimum(self.base.minutes / 1440.0, 1.0)  # share of the day's variance in session
        sessions_per_year = len(self.symbol.session_days) * 365.25 / 7.0
        sigma_day = self.symbol.volatility / math.sqrt(sessions_per_year)
        move = sigma_day * np.sqrt(phi) * _normal(_splitmix(self.keys["day"], self.day))
        gap = sigma_day * np.sqrt(1.0 - phi) * _normal(_splitmix(self.keys["gap"], self.day))
        walk = np.concatenate(([0.0], np.cumsum(move + gap)))
        # Pin the walk so that prices near the default clock start sit at base_price.
        ref = min(int(np.searchsorted(self.base.open, DEFAULT_START)), len(self.day) - 1)
        log_open = walk[:-1] - walk[ref]  # relative to base_price, so no log() is needed
        return log_open, log_open + move, sigma_day * np.sqrt(phi / self.base.minutes)

    def track(self, extended: bool) -> _Track:
        return self.extended if extended else self.regular

    def _ticks(self, price: F64) -> I64:
        return np.maximum(np.rint(price * self.tick_scale), 1).astype(np.int64)

    def _price(self, log_relative: F64) -> F64:
        price: F64 = self.symbol.base_price * _exp(log_relative)
        return price

    def base_minutes(self, a: int, b: int) -> _Ohlc:
        """1-minute bars of the widest session for trading days [a, b), row by row.

        Each day is one row of a padded 2-D array, so a minute's value never depends on which
        other days were generated with it.
        """
        n = self.base.minutes[a:b]
        i = np.arange(int(n.max()), dtype=np.int64)[None, :]
        minute = self.base.open[a:b, None] // 60 + i
        z = _normal(_splitmix(self.keys["move"], minute))
        walk = np.cumsum(z, axis=1)
        frac = (i + 1) / n[:, None]
        bridge = walk - frac * walk[np.arange(b - a), n - 1][:, None]
        log_open, log_close = self.log_open[a:b, None], self.log_close[a:b, None]
        log_c = log_open + frac * (log_close - log_open) + self.sigma_minute[a:b, None] * bridge
        price = self._price(log_c)
        close = self._ticks(price)
        open_ = np.concatenate((self._ticks(self._price(log_open)), close[:, :-1]), axis=1)
        bits = _splitmix(self.keys["shape"], minute)
        # Wicks scale with the minute's volatility in ticks: u^2 keeps most of them small.
        wick = (1.5 * self.tick_scale) * self.sigma_minute[a:b, None] * price
        high = np.maximum(open_, close) + np.rint(_uniform(bits, 0, 21) ** 2 * wick)
        low = np.minimum(open_, close) - np.rint(_uniform(bits, 21, 21) ** 2 * wick)
        volume = self._volume_scale(a, b, i) * (0.5 + _uniform(bits, 42, 22)) * (1.0 + np.abs(z))
        columns = (minute * 60, open_, high, np.maximum(low, 1), close, np.rint(volume))
        if np.all(n == i.shape[1]):
            return _Ohlc(*(column.astype(np.int64, copy=False).ravel() for column in columns))
        valid = i < n[:, None]  # days shortened or lengthened by a DST change
        return _Ohlc(*(column.astype(np.int64, copy=False)[valid] for column in columns))

    def _volume_scale(self, a: int, b: int, i: I64) -> F64:
        """Mean volume per minute: U-shaped over a short session, thin outside the regular one."""
        n = self.base.minutes[a:b, None]
        x = 2.0 * (i + 0.5) / n - 1.0
        scale = self.lot * (1.0 + np.where(n < 1440, 1.5, 0.0) * (x * x))
        if self.extended is self.regular:
            return scale
        first = self.regular.first[a:b, None]
        regular = (i >= first) & (i < first + self.regular.minutes[a:b, None])
        return scale * np.where(regular, 1.0, _EXTENDED_VOLUME)

    def minutes(self, track: _Track, a: int, b: int, base: _Ohlc) -> _Ohlc:
        """1-minute bars of ``track`` for trading days [a, b), from their ``base_minutes``."""
        if track is self.base:
            return base
        day_start = np.cumsum(self.base.minutes[a:b]) - self.base.minutes[a:b]
        return base.take(_ragged_arange(day_start + track.first[a:b], track.minutes[a:b]))

    def day_summaries(self, extended: bool, a: int, b: int) -> _Ohlc:
        """One unit per trading day in [a, b): the session's roll-up of its minutes."""
        blocks = range(a // _BLOCK, (b - 1) // _BLOCK + 1)
        parts = [self._day_block(block)[extended] for block in blocks]
        offset = blocks[0] * _BLOCK
        return _Ohlc.concat(parts).take(slice(a - offset, b - offset))

    def _day_block(self, block: int) -> dict[bool, _Ohlc]:
        cached = self.days.get(block)
        if cached is None:
            cached = self.remember_days(block, self.base_minutes(*self.block_days(block)))
        return cached

    def block_days(self, block: int) -> tuple[int, int]:
        return block * _BLOCK, min((block + 1) * _BLOCK, len(self.day))

    def remember_days(self, block: int, base: _Ohlc) -> dict[bool, _Ohlc]:
        """Cache a block's daily summaries from its already generated minutes."""
        if block not in self.days:
            a, b = self.block_days(block)
            regular = self._summarise(self.regular, a, b, base)
            extended = regular
            if self.extended is not self.regular:
                extended = self._summarise(self.extended, a, b, base)
            self.days[block] = {False: regular, True: extended}
        return self.days[block]

    def _summarise(self, track: _Track, a: int, b: int, base: _Ohlc) -> _Ohlc:
        starts = np.cumsum(track.minutes[a:b]) - track.minutes[a:b]
        return self.minutes(track, a, b, base).rollup(starts)

    def intraday_bars(self, track: _Track, a: int, b: int, step: int, base: _Ohlc) -> _Ohlc:
        """Bars of ``step`` seconds (whole minutes) from each session open, days [a, b)."""
        minutes = self.minutes(track, a, b, base)
        session_open = np.repeat(track.open[a:b], track.minutes[a:b])
        return minutes.rollup(np.flatnonzero((minutes.t - session_open) % step == 0))

    def seconds(self, minutes: _Ohlc) -> _Ohlc:
        """1-second bars: a path O -> first extreme -> second extreme -> C inside each minute.

        The path is linear between integer-second vertices, so the 60 seconds roll up to the
        minute exactly; the extremes come in the order that suits the minute's direction.
        """
        bits = _splitmix(self.keys["shape"] ^ _GOLDEN, minutes.t // 60)
        first_at = (1 + bits % np.uint64(29)).astype(np.float64)[:, None]
        second_at = (31 + (bits >> np.uint64(8)) % np.uint64(29)).astype(np.float64)[:, None]
        up = minutes.c >= minutes.o
        o, c = minutes.o[:, None].astype(np.float64), minutes.c[:, None].astype(np.float64)
        x = np.where(up, minutes.l, minutes.h)[:, None].astype(np.float64)
        y = np.where(up, minutes.h, minutes.l)[:, None].astype(np.float64)
        s = np.arange(61, dtype=np.float64)[None, :]
        path = np.where(
            s <= first_at,
            o + (x - o) * s / first_at,
            np.where(
                s <= second_at,
                x + (y - x) * (s - first_at) / (second_at - first_at),
                y + (c - y) * (s - second_at) / (60.0 - second_at),
            ),
        )
        ticks = np.rint(path).astype(np.int64)
        sec = np.arange(61, dtype=np.int64)
        cum_volume = minutes.v[:, None] * sec[None, :] // 60
        return _Ohlc(
            (minutes.t[:, None] + sec[None, :-1]).ravel(),
            ticks[:, :-1].ravel(),
            np.maximum(ticks[:, :-1], ticks[:, 1:]).ravel(),
            np.minimum(ticks[:, :-1], ticks[:, 1:]).ravel(),
            ticks[:, 1:].ravel(),
            np.diff(cum_volume, axis=1).ravel(),
        )

    def index(self, extended: bool, res: Resolution) -> _Index:
        key = (extended, res)
        index = self.indexes.get(key)
        if index is None:
            index = self.indexes[key] = self._build_index(self.track(extended), res)
        return index

    def _build_index(self, track: _Track, res: Resolution) -> _Index:
        if res.unit in ("S", "T"):
            return _IntradayIndex(track, res.count * (1 if res.unit == "S" else 60))
        if res.unit == "D":
            key = np.arange(len(self.day), dtype=np.int64) // res.count
        elif res.unit == "W":
            key = (self.day + 3) // 7 // res.count  # weeks counted from Monday 1969-12-29
        else:
            months = self.day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            key = months // res.count  # "3M" quarters and "12M" years start in January
        return _GroupIndex(track, key)

    def price(self, ticks: I64) -> F64:
        price: F64 = (ticks * self.symbol.minmov) / float(self.symbol.pricescale)
        return price

    def to_bars(self, units: _Ohlc) -> SimBars:
        return SimBars(
            units.t.astype(np.float64),
            self.price(units.o),
            self.price(units.h),
            self.price(units.l),
            self.price(units.c),
            units.v.astype(np.float64),
        )

    # ----------------------------------------------------------------------- dividends

    def _ex_days(self, bits: int) -> I64:
        """Trading-day indexes of the ex-dates: quarterly, on a per-symbol day of the quarter."""
        if self.symbol.type != "stock":
            return np.empty(0, dtype=np.int64)
        months = np.arange(bits % 3, 3 * _QUARTERS, 3, dtype=np.int64)
        first = (np.datetime64("2000-01", "M") + months).astype("datetime64[D]").astype(np.int64)
        d = np.searchsorted(self.day, first + (bits >> 8) % 28)
        return d[(d >= 1) & (d < len(self.day))].astype(np.int64)

    def dividends(self, lo: int, hi: int) -> tuple[F64, F64]:
        """Amounts of the ex-dates ``[lo, hi)`` and the closes before them."""
        missing = lo + np.flatnonzero(np.isnan(self.ex_close[lo:hi]))
        if len(missing):
            days = self.ex_day[missing] - 1
            a = int(days[0])
            close = self.price(self.day_summaries(False, a, int(days[-1]) + 1).c[days - a])
            draws = _splitmix(self.keys["dividend"], self.day[missing])
            share = self.dividend_yield / 4 * (0.8 + 0.4 * _uniform(draws, 0, 32))
            scale = float(self.symbol.pricescale)  # amounts are whole 1/pricescale units
            self.ex_amount[missing] = np.maximum(np.rint(share * close * scale), 1.0) / scale
            self.ex_close[missing] = close
        return self.ex_amount[lo:hi], self.ex_close[lo:hi]

    def dividend_factors(self, times: F64, as_of: float) -> F64:
        """The back-adjustment factor ``F(t)`` of each bar open time (ascending)."""
        hi = int(np.searchsorted(self.ex_time, as_of, side="right"))
        lo = int(np.searchsorted(self.ex_time, times[0], side="right")) if len(times) else hi
        if hi <= lo:
            return np.ones(len(times))
        amount, close = self.dividends(lo, hi)
        # Multiplied from the latest ex-date backwards, so a bar's factor is the same float
        # however far back the request that carries it reaches.
        later = np.append(np.cumprod((1.0 - amount / close)[::-1])[::-1], 1.0)
        factors: F64 = later[np.searchsorted(self.ex_time[lo:hi], times, side="right")]
        return factors


def _rollup_by_bar(units: _Ohlc, index: _Index) -> tuple[I64, _Ohlc]:
    """Aggregate units into the bars that contain them; returns each bar's global index."""
    bar = index.count_le(units.t) - 1
    starts = _first_of_runs(bar)
    return bar[starts], units.rollup(starts)


def _check_adjustment(adjustment: str) -> None:
    if adjustment not in ADJUSTMENTS:
        raise ValueError(f"invalid adjustment {adjustment!r}: use 'splits' or 'dividends'")


def _adjusted(model: _Model, bars: SimBars, adjustment: str, as_of: float) -> SimBars:
    """``bars`` back-adjusted for the dividends with ex-dates up to ``as_of``."""
    if adjustment == "splits" or not len(model.ex_time):
        return bars
    factor = model.dividend_factors(bars.time, _clamp_time(as_of))
    return SimBars(
        bars.time, bars.open * factor, bars.high * factor, bars.low * factor,
        bars.close * factor, bars.volume,
    )  # fmt: skip


def _int_key(t: float) -> int:
    """``t`` as a key for ``searchsorted(side="right")`` in integer times: the same place, but
    a float key would have numpy convert the whole integer column to floats first."""
    return math.floor(_clamp_time(t))


def _clamp_time(t: float) -> float:
    if math.isnan(t):
        raise ValueError("time must be a number, not NaN")
    return min(max(t, -_TIME_LIMIT), _TIME_LIMIT)


# --------------------------------------------------------------------------- the market


class Market:
    """The deterministic market: the same seed gives the same bars, whatever was asked before.

    Args:
        seed: Selects one of many independent markets.

    Example:
        >>> from tvframe.sim.catalogue import CATALOGUE
        >>> from tvframe.sim.clock import DEFAULT_START
        >>> bars = Market().bars_before(CATALOGUE["NASDAQ:AAPL"], "60", DEFAULT_START, 3,
        ...                             now=DEFAULT_START)
        >>> [int(t) % 86_400 / 3600 for t in bars.time]  # UTC hours: Friday EDT, Monday EST
        [18.5, 19.5, 14.5]
    """

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._lock = threading.RLock()
        self._models: dict[SimSymbol, _Model] = {}
        # (symbol, extended, step, block) -> the block's first bar index and its bars.
        self._blocks: _Lru[tuple[SimSymbol, bool, int, int], tuple[int, _Ohlc]]
        self._blocks = _Lru(_BLOCK_CACHE_BYTES, _block_cost)
        # (symbol, extended, resolution, g0, g1) -> final bars g0 .. g1 - 1, read-only: a
        # repeated request, or the next live push of a series, builds them once.
        self._requests: _Lru[tuple[SimSymbol, bool, Resolution, int, int], SimBars]
        self._requests = _Lru(_REQUEST_CACHE_BYTES, _bars_cost)

    def bars_before(
        self,
        symbol: SimSymbol,
        resolution: str,
        end: float,
        count: int,
        *,
        now: float,
        extended: bool = False,
        adjustment: str = "splits",
        adjusted_at: float | None = None,
    ) -> SimBars:
        """Up to ``count`` bars opening before ``end`` and not after ``now``, oldest first.

        The bar whose span contains ``now`` is forming: its state is the partial aggregate up
        to ``now``.

        Args:
            symbol: The instrument.
            resolution: A protocol resolution (:func:`parse_resolution`).
            end: Bars open strictly before this time.
            count: At most this many bars, the newest ones.
            now: The simulated current time.
            extended: Use the pre- and post-market session where the symbol has one.
            adjustment: ``"splits"`` for the plain prices, ``"dividends"`` to back-adjust them
                for the dividends paid up to ``adjusted_at`` (see the module docstring).
            adjusted_at: Counts the ex-dates up to this time; ``now`` when omitted. Pinning it
                keeps every page of one series on the same factors while the clock moves.

        Raises:
            ValueError: bad resolution or adjustment, negative count or NaN time.

        Example:
            >>> from tvframe.sim.catalogue import CATALOGUE
            >>> btc = CATALOGUE["BINANCE:BTCUSDT"]
            >>> len(Market().bars_before(btc, "1D", 2e9, 10, now=1.8e9))
            10
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count!r}")
        _check_adjustment(adjustment)
        with self._lock:
            model, index, res = self._prepare(symbol, resolution, extended)
            g1 = self._last_allowed(index, end, now)
            bars = self._bars(model, index, res, max(0, g1 - count), g1, now, extended)
            return _adjusted(model, bars, adjustment, now if adjusted_at is None else adjusted_at)

    def bars_between(
        self,
        symbol: SimSymbol,
        resolution: str,
        start: float,
        end: float,
        *,
        now: float,
        extended: bool = False,
        adjustment: str = "splits",
        adjusted_at: float | None = None,
    ) -> SimBars:
        """Bars opening in ``[start, end)`` and not after ``now``, oldest first.

        The keyword arguments are those of :meth:`bars_before`.

        Raises:
            ValueError: bad resolution or adjustment, or NaN time.

        Example:
            >>> from tvframe.sim.catalogue import CATALOGUE
            >>> fx = CATALOGUE["FX:EURUSD"]
            >>> len(Market().bars_between(fx, "1D", 1.8e9, 1.8e9 + 7 * 86_400, now=2e9))
            5
        """
        _check_adjustment(adjustment)
        with self._lock:
            model, index, res = self._prepare(symbol, resolution, extended)
            start_int = math.ceil(_clamp_time(start))
            g0 = int(index.count_le(np.array([start_int - 1]))[0])
            g1 = self._last_allowed(index, end, now)
            bars = self._bars(model, index, res, g0, max(g0, g1), now, extended)
            return _adjusted(model, bars, adjustment, now if adjusted_at is None else adjusted_at)

    def dividends(self, symbol: SimSymbol, start: float, end: float) -> tuple[F64, F64]:
        """The dividends of ``symbol`` whose ex-date starts in ``[start, end)``.

        Only stocks pay; the schedule runs to the end of the simulated calendar, whatever the
        clock says.

        Returns:
            ``(ex_times, amounts)``: the start of each ex-date's trading day (its first session
            open, UTC epoch seconds, ascending) and the cash paid per share, in the symbol's
            currency. Bars opening before an ``ex_time`` are the ones its dividend adjusts.

        Raises:
            ValueError: a bound is NaN.

        Example:
            >>> from tvframe.sim.catalogue import CATALOGUE
            >>> times, amounts = Market().dividends(CATALOGUE["NASDAQ:AAPL"], 1.7e9, 1.8e9)
            >>> len(times), bool(0 < amounts.min() < amounts.max() < 2)
            (13, True)
            >>> len(Market().dividends(CATALOGUE["BINANCE:BTCUSDT"], 0, 2e9)[0])
            0
        """
        with self._lock:
            model = self._model(symbol)
            lo, hi = np.searchsorted(model.ex_time, [_clamp_time(start), _clamp_time(end)])
            amounts, _ = model.dividends(int(lo), int(hi))
            return model.ex_time[lo:hi].astype(np.float64), amounts.copy()

    def bar_open(
        self, symbol: SimSymbol, resolution: str, t: float, *, extended: bool = False
    ) -> float | None:
        """Open time of the bar whose span contains ``t``; ``None`` outside every session.

        Example:
            >>> from tvframe.sim.catalogue import CATALOGUE
            >>> Market().bar_open(CATALOGUE["BINANCE:BTCUSDT"], "240", 1_800_001_234.5)
            1800000000.0
        """
        with self._lock:
            _, index, _ = self._prepare(symbol, resolution, extended)
            g = index.containing(_clamp_time(t))
            return None if g is None else float(index.open_of(g))

    def bar_close(
        self, symbol: SimSymbol, resolution: str, t: float, *, extended: bool = False
    ) -> float | None:
        """Close time of the bar whose span contains ``t``: the next bar's open, or the end of
        the bar's last session when that comes first; ``None`` outside every session.

        Example:
            >>> from tvframe.sim.catalogue import CATALOGUE
            >>> spx = CATALOGUE["SP:SPX"]  # 09:30-16:00 New York: the 15:30 bar lasts 30 min
            >>> Market().bar_close(spx, "60", 1_772_656_200.0) - 1_772_656_200.0
            1800.0
        """
        with self._lock:
            _, index, _ = self._prepare(symbol, resolution, extended)
            g = index.containing(_clamp_time(t))
            return None if g is None else float(index.end_of(g))

    def next_bar_open(
        self, symbol: SimSymbol, resolution: str, t: float, *, extended: bool = False
    ) -> float:
        """The first bar open time strictly after ``t``.

        Raises:
            ValueError: ``t`` is past the simulated calendar (which ends in 2070).

        Example:
            >>> from tvframe.sim.catalogue import CATALOGUE
            >>> Market().next_bar_open(CATALOGUE["BINANCE:BTCUSDT"], "1", 1_800_000_000.5)
            1800000060.0
        """
        with self._lock:
            _, index, _ = self._prepare(symbol, resolution, extended)
            g = int(index.count_le(np.array([math.floor(_clamp_time(t))]))[0])
            if g >= index.total:
                raise ValueError(
                    f"no {resolution!r} bar opens after {t!r}: the calendar ends in 2070"
                )
            return float(index.open_of(g))

    # ----------------------------------------------------------------------- internals

    def _prepare(
        self, symbol: SimSymbol, resolution: str, extended: bool
    ) -> tuple[_Model, _Index, Resolution]:
        res = parse_resolution(resolution)
        model = self._model(symbol)
        return model, model.index(extended, res), res

    def _model(self, symbol: SimSymbol) -> _Model:
        model = self._models.get(symbol)
        if model is None:
            model = self._models[symbol] = _Model(symbol, self._seed)
        return model

    @staticmethod
    def _last_allowed(index: _Index, end: float, now: float) -> int:
        """Number of bars that open before ``end`` and not after ``now`` (opens are integers)."""
        limit = min(math.ceil(_clamp_time(end)) - 1, math.floor(_clamp_time(now)))
        return int(index.count_le(np.array([limit]))[0])

    def _bars(
        self,
        model: _Model,
        index: _Index,
        res: Resolution,
        g0: int,
        g1: int,
        now: float,
        extended: bool,
    ) -> SimBars:
        """Bars ``g0 .. g1 - 1``, the last one forming when its span contains ``now``."""
        forming = g1 > g0 and now < index.end_of(g1 - 1)
        bars = self._complete(model, index, res, g0, g1 - 1 if forming else g1, extended)
        if not forming:
            return bars
        last = model.to_bars(self._forming(model, index, res, g1 - 1, now, extended))
        return SimBars.concat([bars, last]) if len(bars) else last

    def _complete(
        self, model: _Model, index: _Index, res: Resolution, g0: int, g1: int, extended: bool
    ) -> SimBars:
        """Final bars ``g0 .. g1 - 1`` (none forming): the same whenever they are asked for."""
        if g1 <= g0:
            return model.to_bars(_EMPTY)
        key = (model.symbol, extended, res, g0, g1)
        cached = self._requests.get(key)
        if cached is not None:
            return cached
        if res.unit == "S":
            bars = self._seconds(model, index, g0, g1, extended)
        elif res.unit == "T":
            bars = self._minutes(model, index, g0, g1, extended, res.count * 60)
        else:
            a, b = index.days_of(g0, g1)
            bars = _rollup_by_bar(model.day_summaries(extended, a, b), index)[1]
        final = model.to_bars(bars)
        for column in _BAR_COLUMNS:  # shared by every caller from now on
            getattr(final, column).flags.writeable = False
        return self._requests.put(key, final)

    def _seconds(self, model: _Model, index: _Index, g0: int, g1: int, extended: bool) -> _Ohlc:
        a, b = index.days_of(g0, g1)
        minutes = self._day_minutes(model, extended, a, b)
        lo, hi = np.searchsorted(minutes.t, [index.open_of(g0) - 59, index.end_of(g1 - 1)])
        bar, bars = _rollup_by_bar(model.seconds(minutes.take(slice(lo, hi))), index)
        return bars.take((bar >= g0) & (bar < g1))

    def _minutes(
        self, model: _Model, index: _Index, g0: int, g1: int, extended: bool, step: int
    ) -> _Ohlc:
        """k-minute bars from per-block caches (a block's bars never straddle its days)."""
        a, b = index.days_of(g0, g1)
        parts = []
        for block in range(a // _BLOCK, (b - 1) // _BLOCK + 1):
            first, bars = self._minute_block(model, index, extended, step, block)
            parts.append(bars.take(slice(max(g0 - first, 0), g1 - first)))
        # Views of the cached blocks when one block holds them all: nobody writes to them.
        return parts[0] if len(parts) == 1 else _Ohlc.concat(parts)

    def _day_minutes(self, model: _Model, extended: bool, a: int, b: int) -> _Ohlc:
        """1-minute bars of a session variant's trading days [a, b), from the block cache."""
        index = model.index(extended, _ONE_MINUTE)
        track = model.track(extended)
        # The first minute of day a opens at its session open, the last of day b - 1 a
        # minute (or less) before its close.
        g0, g1 = index.count_le(np.array([track.open[a], track.close[b - 1] - 1]))
        return self._minutes(model, index, int(g0) - 1, int(g1), extended, 60)

    def _minute_block(
        self, model: _Model, index: _Index, extended: bool, step: int, block: int
    ) -> tuple[int, _Ohlc]:
        key = (model.symbol, extended, step, block)
        cached = self._blocks.get(key)
        if cached is not None:
            return cached
        a, b = model.block_days(block)
        base = model.base_minutes(a, b)
        model.remember_days(block, base)
        track = model.track(extended)
        first = int(index.count_le(track.open[a : a + 1])[0]) - 1
        return self._blocks.put(key, (first, model.intraday_bars(track, a, b, step, base)))

    def _forming(
        self, model: _Model, index: _Index, res: Resolution, g: int, now: float, extended: bool
    ) -> _Ohlc:
        """The bar ``g`` as it stands at ``now``: complete units plus the current partial one."""
        track = model.track(extended)
        bar_open = index.open_of(g)
        parts = []
        if res.unit in ("D", "W", "M"):
            a, b = index.days_of(g, g + 1)
            done = a + int(np.searchsorted(track.close[a:b], now, side="right"))
            if done > a:
                parts.append(model.day_summaries(extended, a, done))
        d = track.day_containing(now)
        if d is not None:
            units = self._day_minutes(model, extended, d, d + 1)
            unit_seconds = 60
            if res.unit == "S":  # a bar of n seconds may straddle two minutes
                units, unit_seconds = model.seconds(units.during(bar_open - 59, now)), 1
            units = units.during(bar_open, now)
            parts.append(units.with_partial_last((now - int(units.t[-1])) / unit_seconds))
        combined = parts[0] if len(parts) == 1 else _Ohlc.concat(parts)
        return combined.rollup(np.zeros(1, dtype=np.int64))
