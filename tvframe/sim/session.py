"""One simulated connection: client payloads in, framed server messages out. No I/O.

Shapes, key order and ``t``/``t_ms`` placement copy the real captures (``protocol.md`` §6,
``shared/captures``); orderings follow §7 and §12.12-16; error strings follow §12.19.
Bar indexes count from the first bar of a series' (re)load, which is index 0; older pages get
negative indexes and live bars keep counting upwards from the initial load.
The simulator parses and builds its own JSON so that a client bug is not mirrored here.
Studies (``create_study`` and the rest) are kept per chart session by
:class:`~tvframe.sim.study_session.StudyBook`, which this module feeds with the series' bars.
History JSON is made once per run of bars and kept (:class:`HistoryCache`); what is spliced
into a message is exactly what ``orjson`` would write for the same bars.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from tvframe.protocol.framing import encode_frame
from tvframe.sim.catalogue import SimSymbol, find_symbol
from tvframe.sim.clock import SimClock
from tvframe.sim.config import ANONYMOUS_TOKEN, SimConfig, SimStats
from tvframe.sim.faults import FaultState
from tvframe.sim.market import ADJUSTMENTS, Market, SimBars, parse_resolution
from tvframe.sim.quotes import QuoteBook
from tvframe.sim.study_session import StudyBook

__all__ = ["ClientSession", "HistoryCache", "RenderedBars"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

# Messages that carry the server's "t"/"t_ms" stamps in every capture (protocol.md §2).
_STAMPED = frozenset(
    {
        "series_loading",
        "symbol_resolved",
        "timescale_update",
        "series_completed",
        "study_loading",
        "study_completed",
        "study_deleted",
    }
)
_EMPTY_NS: dict[str, Any] = {"d": "", "indexes": []}
_EMPTY_TIMESCALE: dict[str, Any] = {
    "index": 0,
    "zoffset": 0,
    "changes": [],
    "marks": [],
    "index_diff": [],
}
_NOCHANGE_NS: dict[str, Any] = {"d": "", "indexes": "nochange"}
_TYPESPECS = {
    "stock": ["common"],
    "crypto": ["crypto"],
    "index": ["main"],
    "futures": ["continuous"],
}
_COUNTRIES = {
    "America": "US",
    "Europe/London": "GB",
    "Europe/Berlin": "DE",
    "Asia/Kolkata": "IN",
    "Asia/Seoul": "KR",
    "Asia/Tokyo": "JP",
}


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _arg_text(value: Any) -> str:
    """One param as TradingView prints it in ``critical_error`` args: unquoted, ', '-joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_arg_text(v) for v in value) + "]"
    return _dumps(value)


def _erlang_term(value: Any) -> str:
    """A param in the Erlang notation of ``protocol_error {unknown_session_id,…}``."""
    if isinstance(value, str):
        return '<<"' + value + '">>'
    if isinstance(value, list):
        return "[" + ",".join(_erlang_term(v) for v in value) + "]"
    return _dumps(value)


def _country(timezone: str) -> str:
    return _COUNTRIES.get(timezone, _COUNTRIES.get(timezone.split("/")[0], ""))


def _columns(bars: SimBars, with_volume: bool) -> list[FloatArray]:
    columns = [bars.time, bars.open, bars.high, bars.low, bars.close]
    return [*columns, bars.volume] if with_volume else columns


def _bar_rows(bars: SimBars, with_volume: bool) -> list[list[float]]:
    rows: list[list[float]] = np.column_stack(_columns(bars, with_volume)).tolist()
    return rows


def _last_row(bars: SimBars, with_volume: bool) -> list[float] | None:
    rows = _bar_rows(bars.take(slice(-1, None)), with_volume)
    return rows[0] if rows else None


def _points(rows: list[list[float]], first_index: int) -> list[dict[str, Any]]:
    return [{"i": first_index + k, "v": row} for k, row in enumerate(rows)]


def _json_array(values: npt.NDArray[Any]) -> bytes:
    """orjson's text of an array: byte for byte that of ``values.tolist()``, made in C."""
    return orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)


def _points_json(rows: FloatArray, first_index: int) -> bytes:
    """The text of ``_points(rows.tolist(), first_index)`` without a dict (or list) per bar."""
    n = len(rows)
    if not n:
        return b"[]"
    values = _json_array(rows)[2:-2].split(b"],[")
    indexes = _json_array(np.arange(first_index, first_index + n))[1:-1].split(b",")
    # '{"i":' index ',"v":[' values ']},{"i":' index ... ']}', joined in one go.
    pieces = [b',"v":['] * (4 * n)
    pieces[0::4] = indexes
    pieces[2::4] = values
    pieces[3::4] = [b']},{"i":'] * n
    pieces[-1] = b"]}"
    return b'[{"i":' + b"".join(pieces) + b"]"


def _marks(times: FloatArray, first_index: int) -> npt.NDArray[np.int64]:
    """Tick marks ``[weight, time, index]``: 70 year, 60 month, 50 week, 40 day, 30 intraday."""
    if not len(times):
        return np.empty((0, 3), dtype=np.int64)
    seconds = times.astype(np.int64)
    previous = np.concatenate(([seconds[0]], seconds[:-1]))
    weight = np.full(len(seconds), 30, dtype=np.int64)
    days, prev_days = seconds // 86400, previous // 86400
    # Epoch day 0 was a Thursday: shifting by 3 makes week numbers roll over on Mondays.
    steps = [
        (days != prev_days, 40),
        ((days + 3) // 7 != (prev_days + 3) // 7, 50),
        (
            seconds.astype("datetime64[s]").astype("datetime64[M]")
            != previous.astype("datetime64[s]").astype("datetime64[M]"),
            60,
        ),
        (
            seconds.astype("datetime64[s]").astype("datetime64[Y]")
            != previous.astype("datetime64[s]").astype("datetime64[Y]"),
            70,
        ),
    ]
    for changed, value in steps:
        weight[changed] = value
    indexes = np.arange(first_index, first_index + len(seconds))
    return np.column_stack((weight, seconds, indexes))


class RenderedBars(NamedTuple):
    """The JSON of a run of bars in a ``timescale_update``, ready to splice into the message.

    Attributes:
        points: The series object's ``"s"`` array.
        changes: The timescale's ``"changes"`` (the bars' open times).
        marks: The timescale's ``"marks"``.
        nbytes: Bytes of the three texts.
    """

    points: orjson.Fragment
    changes: orjson.Fragment
    marks: orjson.Fragment
    nbytes: int


def _render(bars: SimBars, with_volume: bool, first_index: int) -> RenderedBars:
    texts = (
        _points_json(np.column_stack(_columns(bars, with_volume)), first_index),
        _json_array(bars.time),
        _json_array(_marks(bars.time, first_index)),
    )
    points, changes, marks = (orjson.Fragment(text) for text in texts)
    return RenderedBars(points, changes, marks, sum(len(text) for text in texts))


class _BarsKey:
    """Bars by their bytes and first index; equal keys compare every byte.

    The hash reads only both ends of each column, where requests for different bars differ
    (their span, the forming bar): hashing every byte would cost much of what a hit saves.
    """

    __slots__ = ("_hash", "data", "first_index", "width")

    def __init__(self, columns: list[FloatArray], first_index: int) -> None:
        self.data = np.concatenate(columns).tobytes()
        self.first_index = first_index
        self.width = len(columns)
        ends = b"".join(column[[0, -1]].tobytes() for column in columns if len(column))
        self._hash = hash((first_index, self.width, len(self.data), ends))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _BarsKey)
            and (self.first_index, self.width) == (other.first_index, other.width)
            and self.data == other.data
        )


_ENTRY_BYTES = 512  # what an entry costs besides its texts and key bytes


class HistoryCache:
    """The JSON of bars already sent, shared by connections, least recently used out.

    Serialising thousands of bars is most of what a history request costs, and clients ask
    for the same bars again and again (every reconnect, every page, every benchmark run).
    Entries are keyed by the bars' own bytes and their first index, so a hit is exact by
    construction: a forming bar that moved, another adjustment or another seed is another
    key. The JSON texts plus the key bytes of every entry stay within ``max_bytes``. Thread
    safe: several simulators in one process share the default cache.

    Args:
        max_bytes: The bound on the bytes held.

    Example:
        >>> cache = HistoryCache(max_bytes=1 << 20)
        >>> bars = SimBars(*(np.full(1, 2.5) for _ in range(6)))
        >>> orjson.dumps(cache.render(bars, True, 7).points)
        b'[{"i":7,"v":[2.5,2.5,2.5,2.5,2.5,2.5]}]'
        >>> len(cache), cache.render(bars, True, 7) is cache.render(bars, True, 7)
        (1, True)
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._nbytes = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[_BarsKey, RenderedBars] = OrderedDict()

    @property
    def nbytes(self) -> int:
        """Bytes held: every entry's texts, key bytes and a fixed overhead."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._entries)

    def render(self, bars: SimBars, with_volume: bool, first_index: int) -> RenderedBars:
        """The JSON of ``bars`` numbered from ``first_index``: cached, or made and cached.

        Args:
            bars: The bars, oldest first.
            with_volume: Whether each point carries the volume (the symbol has volume).
            first_index: The index of the first bar.
        """
        key = _BarsKey(_columns(bars, with_volume), first_index)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        rendered = _render(bars, with_volume, first_index)
        self._keep(key, rendered)
        return rendered

    def _keep(self, key: _BarsKey, rendered: RenderedBars) -> None:
        size = _ENTRY_BYTES + len(key.data) + rendered.nbytes
        with self._lock:
            if size > self.max_bytes or key in self._entries:
                return
            self._entries[key] = rendered
            self._nbytes += size
            while self._nbytes > self.max_bytes:
                old_key, old = self._entries.popitem(last=False)
                self._nbytes -= _ENTRY_BYTES + len(old_key.data) + old.nbytes


_SHARED_CACHE = HistoryCache()


class _Descriptor(NamedTuple):
    """What a symbol reference asks for; ``name`` is None when it names nothing."""

    name: str | None
    extended: bool = False
    adjustment: str = ADJUSTMENTS[0]


def _parse_descriptor(ref: str) -> _Descriptor:
    """Symbol name, session and adjustment from ``"EX:SYM"`` or an ``=``-JSON descriptor.

    Nested chart-type and replay descriptors wrap the real one under ``symbol`` (§4, §12.11);
    a key counts at any level. An unknown adjustment means the default, ``"splits"``.
    """
    if not ref.startswith("="):
        return _Descriptor(ref)
    try:
        desc: Any = orjson.loads(ref[1:])
    except orjson.JSONDecodeError:
        return _Descriptor(None)
    extended, adjustment = False, ADJUSTMENTS[0]
    while isinstance(desc, dict):
        extended = extended or desc.get("session") == "extended"
        if desc.get("adjustment") in ADJUSTMENTS[1:]:
            adjustment = desc["adjustment"]
        desc = desc.get("symbol")
    return _Descriptor(desc, extended, adjustment) if isinstance(desc, str) else _Descriptor(None)


def _symbol_of(ref: str) -> SimSymbol | None:
    name = _parse_descriptor(ref).name
    return find_symbol(name) if name else None


@dataclass(slots=True)
class _Resolved:
    """A ``resolve_symbol`` result; ``symbol`` is None for an unknown symbol."""

    symbol: SimSymbol | None
    extended: bool
    adjustment: str
    announced: bool = False


class _Feed(NamedTuple):
    """What one series asks of the market: the same bar whichever call fetches it."""

    symbol: SimSymbol
    resolution: str
    extended: bool
    adjustment: str
    # The series' load time: dividends going ex later do not re-adjust bars already sent.
    adjusted_at: float


_TAIL_BARS = 1024  # live bars a series gathers before they join its history


@dataclass(slots=True)
class _Series:
    """A loaded series: what was sent, so paging, live updates and its studies continue it."""

    series_id: str
    turnaround: str
    symbol_id: str
    resolved: _Resolved
    feed: _Feed
    unit: str
    count: int
    # The bars sent are head + tail; live pushes copy only the tail, however deep the head.
    head: SimBars
    tail: SimBars = field(init=False)
    first_index: int = 0
    last_row: list[float] | None = None
    # The last answer of ClientSession._close_of: every live push asks it again.
    close_of_newest: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        self.tail = self.head.take(slice(0, 0))

    @property
    def bars(self) -> SimBars:
        """Every bar sent, oldest first."""
        if len(self.tail):
            self.bars = SimBars.concat([self.head, self.tail])
        return self.head

    @bars.setter
    def bars(self, bars: SimBars) -> None:
        self.head, self.tail = bars, bars.take(slice(0, 0))

    def extend(self, bars: SimBars, *, replace_newest: bool) -> None:
        """Append live bars, the first replacing the newest bar sent when it is that bar again."""
        if replace_newest and len(self.tail):
            self.tail = self.tail.take(slice(0, -1))
        elif replace_newest:
            self.head = self.head.take(slice(0, -1))
        self.tail = SimBars.concat([self.tail, bars])
        if len(self.tail) > _TAIL_BARS:
            self.bars = SimBars.concat([self.head, self.tail])

    @property
    def length(self) -> int:
        return len(self.head) + len(self.tail)

    @property
    def newest_open(self) -> float:
        """Open time of the newest bar sent (there must be one)."""
        return float((self.tail if len(self.tail) else self.head).time[-1])

    @property
    def times(self) -> FloatArray:
        return self.bars.time

    @property
    def last_index(self) -> int:
        return self.first_index + self.length - 1

    @property
    def symbol(self) -> SimSymbol:
        return self.feed.symbol

    @property
    def hours(self) -> str:
        """The trading session in force (extended hours when asked for and offered)."""
        symbol = self.feed.symbol
        if self.feed.extended and symbol.extended_session:
            return symbol.extended_session
        return symbol.session


@dataclass(slots=True)
class _Chart:
    """One chart session and its symbols, series and studies."""

    session_id: str
    studies: StudyBook
    timezone: str = "Etc/UTC"
    symbols: dict[str, _Resolved] = field(default_factory=dict)
    series: dict[str, _Series] = field(default_factory=dict)
    # Bar counts of create_series, kept even when the load failed, so modify_series can retry.
    counts: dict[str, int] = field(default_factory=dict)


class _ParamError(Exception):
    """A malformed client param: answered with ``critical_error "invalid parameters"``."""


class ClientSession:
    """Protocol state of one simulated TradingView connection.

    Feed client payloads with :meth:`receive`; it returns the framed server messages to write
    (the server batches them into one WebSocket frame). :meth:`live_updates` returns the ``du``
    messages that bring every live series up to the clock's current time. History JSON comes
    from ``history_cache`` (by default one cache shared by every session of the process).

    Example:
        >>> from tvframe.sim.clock import SimClock
        >>> s = ClientSession(SimConfig(), Market(), SimClock(), SimStats())
        >>> s.hello().startswith('~m~')
        True
    """

    def __init__(
        self,
        config: SimConfig,
        market: Market,
        clock: SimClock,
        stats: SimStats,
        *,
        session_name: str = "0.1.1_sim1-charts-free-1-webchart-1",
        via: str = "127.0.0.1:443",
        faults: FaultState | None = None,
        history_cache: HistoryCache | None = None,
    ) -> None:
        self._config = config
        self._market = market
        self._clock = clock
        self._stats = stats
        self._session_name = session_name
        self._via = via
        self._faults = faults or FaultState()
        self._history = _SHARED_CACHE if history_cache is None else history_cache
        self._charts: dict[str, _Chart] = {}
        self._out: list[str] = []
        self._now = clock.now()
        self._token: str | None = None
        #: Set after a ``protocol_error``: the server must close the socket.
        self.closing = False
        self._handlers: dict[str, Callable[[list[Any]], None]] = {
            "set_auth_token": self._set_auth_token,
            "chart_create_session": self._chart_create_session,
            "chart_delete_session": self._chart_delete_session,
            "switch_timezone": self._chart_method(self._switch_timezone),
            "resolve_symbol": self._chart_method(self._resolve_symbol),
            "create_series": self._chart_method(self._create_series),
            "modify_series": self._chart_method(self._modify_series),
            "request_more_data": self._chart_method(self._request_more_data),
            "remove_series": self._chart_method(self._remove_series),
            "create_study": self._chart_method(self._create_study),
            "modify_study": self._chart_method(self._modify_study),
            "remove_study": self._chart_method(self._remove_study),
        }
        self._quotes = QuoteBook(
            market,
            config.update_mode,
            lambda: self._now,
            self._emit,
            self._unknown_session,
            _symbol_of,
        )
        self._handlers.update(self._quotes.handlers())

    # --- public -----------------------------------------------------------------------

    def hello(self) -> str:
        """The framed first message (``protocol.md`` §2.2), stamped with the simulated time."""
        now = self._clock.now()
        return encode_frame(
            _dumps(
                {
                    "session_id": self._session_name,
                    "timestamp": int(now),
                    "timestampMs": int(now * 1000),
                    "release": "release_208-91",
                    "studies_metadata_hash": "3af5b8771c6cc64d969596190a83b3e19b5fbce2",
                    "auth_scheme_vsn": 2,
                    "protocol": "json",
                    "via": self._via,
                    "javastudies": ["3.66"],
                }
            )
        )

    def receive(self, payloads: list[str]) -> list[str]:
        """Handle client payloads (one frame's worth) in order; return framed replies."""
        self._now = self._clock.now()
        for payload in payloads:
            if self.closing:
                break
            self._dispatch(payload)
        for chart in self._charts.values():
            for symbol_id, resolved in chart.symbols.items():
                self._announce(chart, symbol_id, resolved)
        return self._flush()

    def live_updates(self) -> list[str]:
        """``du`` messages bringing every live series to the clock's current time, then the
        ``qsd`` diffs of every awake quote subscription."""
        self._now = self._clock.now()
        for chart in self._charts.values():
            for series in chart.series.values():
                self._update_series(chart, series)
        self._quotes.push()
        return self._flush()

    def end_session(self, session_id: str, reason: str, info: str) -> list[str] | None:
        """``critical_error [session_id, reason, info]`` for a chart or quote session, which is
        forgotten: later calls on it are calls on an unknown session. ``None`` if there is none.

        Example:
            >>> from tvframe.sim.clock import SimClock
            >>> s = ClientSession(SimConfig(), Market(), SimClock(), SimStats())
            >>> s.end_session("cs_nope", "internal error", "") is None
            True
        """
        if self._charts.pop(session_id, None) is None and not self._quotes.end(session_id):
            return None
        self._emit("critical_error", [session_id, reason, info])
        return self._flush()

    # --- plumbing ---------------------------------------------------------------------

    def _flush(self) -> list[str]:
        out, self._out = self._out, []
        return out

    def _emit(self, method: str, params: list[Any]) -> None:
        message: dict[str, Any] = {"m": method, "p": params}
        if method in _STAMPED:
            message["t"] = int(self._now)
            message["t_ms"] = int(self._now * 1000)
        self._out.append(encode_frame(_dumps(message)))

    def _protocol_error(self, reason: str) -> None:
        self._emit("protocol_error", [reason])
        self.closing = True

    def _dispatch(self, payload: str) -> None:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            logger.debug("ignored a non-JSON client payload: %.80r", payload)
            return
        method = message.get("m") if isinstance(message, dict) else None
        params = message.get("p") if isinstance(message, dict) else None
        if not isinstance(method, str) or not isinstance(params, list):
            logger.debug("ignored a client payload without m/p: %.80r", payload)
            return
        self._stats.messages[method] += 1
        handler = self._handlers.get(method)
        if handler is None:
            logger.debug("ignored client method %s", method)
            return
        try:
            handler(params)
        except _ParamError:
            # Methods without a chart session have nobody to address the error to.
            logger.debug("ignored %s with malformed params %.80r", method, params)

    def _chart_method(
        self, handler: Callable[[_Chart, list[Any]], None]
    ) -> Callable[[list[Any]], None]:
        """Wrap a handler of a chart-session method: look the session up, map param errors."""
        method = handler.__name__.lstrip("_")

        def run(params: list[Any]) -> None:
            session_id = params[0] if params else None
            chart = self._charts.get(session_id) if isinstance(session_id, str) else None
            if chart is None:
                self._unknown_session(method, params)
                return
            try:
                handler(chart, params)
            except _ParamError:
                self._emit(
                    "critical_error",
                    [chart.session_id, "invalid parameters", self._args_info(method, params)],
                )

        return run

    @staticmethod
    def _args_info(method: str, params: list[Any]) -> str:
        return f'method: {method}. args: "{_arg_text(params[1:])}"'

    def _unknown_session(self, method: str, params: list[Any]) -> None:
        if not self._config.close_on_unknown_session:
            logger.debug("ignored %s for an unknown chart session", method)
            return
        session = _erlang_term(params[0]) if params else "undefined"
        self._protocol_error(
            f'{{unknown_session_id,<<"{method}">>,{session},{_erlang_term(params[1:])}}}'
        )

    @staticmethod
    def _str(params: list[Any], i: int) -> str:
        if i >= len(params) or not isinstance(params[i], str):
            raise _ParamError
        value: str = params[i]
        return value

    @staticmethod
    def _int(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise _ParamError
        return int(value)

    # --- session-level methods --------------------------------------------------------

    def _set_auth_token(self, params: list[Any]) -> None:
        token = params[0] if params else None
        if not isinstance(token, str) or not self._config.accept_token(token):
            self._protocol_error("bad auth token")
            return
        self._token = token

    def _chart_create_session(self, params: list[Any]) -> None:
        session_id = self._str(params, 0)
        series: dict[str, _Series] = {}
        studies = StudyBook(
            session_id,
            self._config,
            self._stats,
            self._emit,
            series,
            functools.partial(self._older_bars, series),
        )
        self._charts[session_id] = _Chart(session_id, studies, series=series)

    def _chart_delete_session(self, params: list[Any]) -> None:
        self._charts.pop(self._str(params, 0), None)

    # --- chart-session methods --------------------------------------------------------

    def _switch_timezone(self, chart: _Chart, params: list[Any]) -> None:
        tz = self._str(params, 1)
        if tz != "exchange" and tz not in _timezones():
            self._emit(
                "critical_error",
                [chart.session_id, "invalid timezone", self._args_info("switch_timezone", params)],
            )
            return
        chart.timezone = tz

    def _resolve_symbol(self, chart: _Chart, params: list[Any]) -> None:
        symbol_id, ref = self._str(params, 1), self._str(params, 2)
        desc = _parse_descriptor(ref)
        chart.symbols[symbol_id] = _Resolved(_symbol_of(ref), desc.extended, desc.adjustment)

    def _create_series(self, chart: _Chart, params: list[Any]) -> None:
        series_id, turnaround = self._str(params, 1), self._str(params, 2)
        symbol_id, resolution = self._str(params, 3), self._str(params, 4)
        if len(params) < 6:
            raise _ParamError
        count, end = self._bar_count(params[5])
        timeframe = params[6] if len(params) > 6 and isinstance(params[6], str) else ""
        unit = self._unit(resolution)
        chart.counts[series_id] = count
        self._load(
            chart,
            series_id,
            turnaround,
            symbol_id,
            resolution,
            unit,
            count,
            end,
            timeframe=timeframe,
            reset=False,
        )

    def _modify_series(self, chart: _Chart, params: list[Any]) -> None:
        series_id, turnaround = self._str(params, 1), self._str(params, 2)
        symbol_id, resolution = self._str(params, 3), self._str(params, 4)
        # 6 params (web, TVAPI, TVKIT) end with the range; TVRS's 7 put a bar count first.
        timeframe = next((p for p in params[5:] if isinstance(p, str)), "")
        unit = self._unit(resolution)
        if series_id not in chart.counts:
            logger.debug("ignored modify_series of unknown series %s", series_id)
            return
        series = chart.series.get(series_id)
        unchanged = (
            series is not None
            and series.symbol_id == symbol_id
            and series.resolved is chart.symbols.get(symbol_id)
            and series.feed.resolution == resolution
            and series.turnaround == turnaround
        )
        if series is not None and unchanged and timeframe:
            self._apply_range(chart, series, timeframe)
            return
        self._load(
            chart,
            series_id,
            turnaround,
            symbol_id,
            resolution,
            unit,
            chart.counts[series_id],
            None,
            timeframe=timeframe,
            reset=True,
        )

    def _request_more_data(self, chart: _Chart, params: list[Any]) -> None:
        series_id = self._str(params, 1)
        wanted = self._int(params[2]) if len(params) > 2 else self._config.bars_per_request
        series = chart.series.get(series_id)
        if series is None:
            logger.debug("ignored request_more_data of unknown series %s", series_id)
            return
        self._emit("series_loading", [chart.session_id, series_id, series.turnaround])
        room = min(wanted, self._room(series))
        bars = None
        if room > 0 and len(series.times):
            bars = self._before(series.feed, float(series.times[0]), room)
        self._prepend(chart, series, bars)
        self._completed(chart, series)
        chart.studies.reload(series)

    def _room(self, series: _Series) -> int:
        """How many older bars one page may add: per-request cap, then the total depth cap."""
        return min(self._config.bars_per_request, self._config.max_depth - len(series.times))

    def _remove_series(self, chart: _Chart, params: list[Any]) -> None:
        series_id = self._str(params, 1)
        chart.series.pop(series_id, None)
        chart.counts.pop(series_id, None)

    def _create_study(self, chart: _Chart, params: list[Any]) -> None:
        study_id, turnaround = self._str(params, 1), self._str(params, 2)
        parent_id, study_type = self._str(params, 3), self._str(params, 4)
        chart.studies.create(study_id, turnaround, parent_id, study_type, self._inputs(params, 5))

    def _modify_study(self, chart: _Chart, params: list[Any]) -> None:
        study_id, turnaround = self._str(params, 1), self._str(params, 2)
        chart.studies.modify(study_id, turnaround, self._inputs(params, 3))

    def _remove_study(self, chart: _Chart, params: list[Any]) -> None:
        chart.studies.remove(self._str(params, 1))

    @staticmethod
    def _inputs(params: list[Any], i: int) -> dict[str, Any]:
        inputs = params[i] if len(params) > i else {}
        if not isinstance(inputs, dict):
            raise _ParamError
        return inputs

    # --- loading ----------------------------------------------------------------------

    def _bar_count(self, spec: Any) -> tuple[int, float | None]:
        """``n`` or TVAPI's ``["bar_count", to, n]`` (n < 0: bars after ``to``)."""
        if isinstance(spec, list) and len(spec) == 3 and spec[0] == "bar_count":
            return self._int(spec[2]), float(self._int(spec[1]))
        return self._int(spec), None

    @staticmethod
    def _unit(resolution: str) -> str:
        try:
            return parse_resolution(resolution).unit
        except ValueError:
            raise _ParamError from None

    def _older_bars(self, loaded: dict[str, _Series], series_id: str, count: int) -> SimBars:
        """The ``count`` bars before a series' first bar: its studies' warm-up history."""
        series = loaded[series_id]
        if not len(series.bars):
            return series.bars
        return self._before(series.feed, float(series.times[0]), count)

    def _before(self, feed: _Feed, end: float, count: int) -> SimBars:
        return self._market.bars_before(
            feed.symbol, feed.resolution, end, count, now=self._now, extended=feed.extended,
            adjustment=feed.adjustment, adjusted_at=feed.adjusted_at,
        )  # fmt: skip

    def _between(self, feed: _Feed, start: float, end: float) -> SimBars:
        return self._market.bars_between(
            feed.symbol, feed.resolution, start, end, now=self._now, extended=feed.extended,
            adjustment=feed.adjustment, adjusted_at=feed.adjusted_at,
        )  # fmt: skip

    def _fetch(self, feed: _Feed, count: int, end: float | None) -> SimBars:
        limit = min(abs(count), self._config.bars_per_request, self._config.max_depth)
        horizon = self._now + 1.0
        if end is None:
            return self._before(feed, horizon, limit)
        if count > 0:
            return self._before(feed, math.nextafter(end, math.inf), limit)
        return self._between(feed, end, horizon).take(slice(0, limit))

    def _load(
        self,
        chart: _Chart,
        series_id: str,
        turnaround: str,
        symbol_id: str,
        resolution: str,
        unit: str,
        count: int,
        end: float | None,
        *,
        timeframe: str,
        reset: bool,
    ) -> None:
        """(Re)load a series: series_loading, symbol, bars, series_completed (§12.12, §12.15)."""
        cs = chart.session_id
        chart.series.pop(series_id, None)
        self._emit("series_loading", [cs, series_id, turnaround])
        resolved = chart.symbols.get(symbol_id)
        if resolved is not None:
            self._announce(chart, symbol_id, resolved)
        if resolved is None or resolved.symbol is None:
            self._emit("series_error", [cs, series_id, turnaround, "resolve error", "undefined"])
            return
        if unit == "S" and not self._seconds_entitled():
            self._emit(
                "series_error", [cs, series_id, turnaround, "seconds_not_entitled", "undefined"]
            )
            return
        if reset:
            self._emit(
                "timescale_update",
                [
                    cs,
                    {series_id: {"s": [], "ns": _EMPTY_NS, "t": turnaround}},
                    _EMPTY_TIMESCALE,
                ],
            )
        feed = _Feed(resolved.symbol, resolution, resolved.extended, resolved.adjustment, self._now)
        bars = self._fetch(feed, count, end)
        series = _Series(
            series_id,
            turnaround,
            symbol_id,
            resolved,
            feed,
            unit,
            count,
            bars,
            last_row=_last_row(bars, feed.symbol.has_volume),
        )
        chart.series[series_id] = series
        self._emit_bars(chart, series, bars, 0, 0)
        if timeframe:
            self._emit_timeframe(chart, series, timeframe, final_only=True)
        self._completed(chart, series)
        chart.studies.reload(series)

    def _prepend(self, chart: _Chart, series: _Series, bars: SimBars | None) -> None:
        """Send older bars at negative indexes (§12.14); zero bars when history is exhausted."""
        if bars is None or not len(bars):
            self._emit_bars(chart, series, series.bars.take(slice(0, 0)), series.first_index, 0)
            return
        series.bars = SimBars.concat([bars, series.bars])
        series.first_index -= len(bars)
        self._emit_bars(chart, series, bars, series.first_index, len(bars))

    def _emit_bars(
        self, chart: _Chart, series: _Series, bars: SimBars, first_index: int, zoffset: int
    ) -> None:
        rendered = self._history.render(bars, series.symbol.has_volume, first_index)
        obj: dict[str, Any] = {
            "node": self._config.node,
            "s": rendered.points,
            "ns": _EMPTY_NS,
            "t": series.turnaround,
        }
        if series.length:
            obj["lbs"] = {"bar_close_time": self._close_of(series, series.newest_open)}
        self._stats.bars_sent += len(bars)
        timescale = {
            "index": first_index,
            "zoffset": zoffset,
            "changes": rendered.changes,
            "marks": rendered.marks,
            "index_diff": [],
        }
        self._emit("timescale_update", [chart.session_id, {series.series_id: obj}, timescale])

    def _completed(self, chart: _Chart, series: _Series) -> None:
        self._emit(
            "series_completed",
            [
                chart.session_id,
                series.series_id,
                self._config.update_mode,
                series.turnaround,
                {"rt_update_period": self._config.rt_update_period},
            ],
        )

    def _apply_range(self, chart: _Chart, series: _Series, timeframe: str) -> None:
        """Range ``modify_series``: page older bars in if needed, then series_timeframe twice."""
        self._emit("series_loading", [chart.session_id, series.series_id, series.turnaround])
        start = self._range_start(timeframe)
        first_index = series.first_index
        if start is not None and len(series.times) and start < series.times[0]:
            room = self._room(series)
            older = self._between(series.feed, start, float(series.times[0]))
            if room > 0 and len(older):
                newest = slice(max(0, len(older) - room), None)
                self._prepend(chart, series, older.take(newest))
        self._emit_timeframe(chart, series, timeframe, final_only=False)
        self._completed(chart, series)
        if series.first_index != first_index:
            chart.studies.reload(series)

    @staticmethod
    def _range_start(timeframe: str) -> float | None:
        if not timeframe.startswith("r,"):
            return None
        try:
            return float(timeframe[2:].split(":")[0])
        except ValueError:
            return None

    def _emit_timeframe(
        self, chart: _Chart, series: _Series, timeframe: str, *, final_only: bool
    ) -> None:
        first, last = series.first_index, series.last_index
        if timeframe.startswith("r,"):
            bounds = timeframe[2:].split(":")
            try:
                start, stop = float(bounds[0]), float(bounds[1])
            except (ValueError, IndexError):
                start, stop = -math.inf, math.inf
            first += int(np.searchsorted(series.times, start, "left"))
            last = series.first_index + int(np.searchsorted(series.times, stop, "right")) - 1
        head = [chart.session_id, series.series_id, series.turnaround, first, last, timeframe]
        for final in (True,) if final_only else (False, True):
            self._emit("series_timeframe", [*head, final])

    # --- symbols ----------------------------------------------------------------------

    def _announce(self, chart: _Chart, symbol_id: str, resolved: _Resolved) -> None:
        """symbol_resolved (or symbol_error) once per resolve_symbol."""
        if resolved.announced:
            return
        resolved.announced = True
        if resolved.symbol is None:
            self._emit("symbol_error", [chart.session_id, symbol_id, "invalid symbol"])
            return
        self._emit(
            "symbol_resolved",
            [chart.session_id, symbol_id, _symbol_info(resolved.symbol, resolved.extended)],
        )

    def _seconds_entitled(self) -> bool:
        return self._config.seconds_entitled or self._token not in (None, ANONYMOUS_TOKEN)

    # --- live -------------------------------------------------------------------------

    def _update_series(self, chart: _Chart, series: _Series) -> None:
        """du for each bar closed since the last push (final values, plus the bar after it),
        then the forming bar at the current time (§12.13)."""
        if not series.length:
            return
        last_open = series.newest_open
        bars = self._between(series.feed, last_open, self._now + 1.0)
        if not len(bars):
            return
        rows = _bar_rows(bars, series.feed.symbol.has_volume)
        continues = bool(bars.time[0] == last_open)
        if continues and len(rows) == 1 and rows[0] == series.last_row:
            return
        base = series.last_index if continues else series.last_index + 1
        series.extend(bars, replace_newest=continues)
        chart.studies.refresh(series)
        updates = [
            (rows[k : k + 2], base + k, float(bars.time[k + 1])) for k in range(len(rows) - 1)
        ]
        updates.append((rows[-1:], base + len(rows) - 1, float(bars.time[-1])))
        for part, first, newest in self._faults.arrange(updates):
            self._du(chart, series, part, first, newest)
        series.last_row = rows[-1]

    def _du(
        self, chart: _Chart, series: _Series, rows: list[list[float]], first: int, newest: float
    ) -> None:
        self._stats.bars_sent += len(rows)
        obj = {
            "s": _points(rows, first),
            "ns": _NOCHANGE_NS,
            "t": series.turnaround,
            "lbs": {"bar_close_time": self._close_of(series, newest)},
        }
        # The studies' points of the same bars ride along, as TradingView batches them.
        objects = {series.series_id: obj, **chart.studies.live(series, first, len(rows))}
        self._emit("du", [chart.session_id, objects])

    def _close_of(self, series: _Series, open_time: float) -> int:
        """``lbs.bar_close_time`` of the bar opening at ``open_time`` (§6): the market's."""
        known = series.close_of_newest
        if known is not None and known[0] == open_time:
            return known[1]
        feed = series.feed
        close = self._market.bar_close(
            feed.symbol, feed.resolution, open_time, extended=feed.extended
        )
        assert close is not None, "a sent bar opens inside its session"
        series.close_of_newest = (open_time, int(close))
        return int(close)


def _symbol_info(symbol: SimSymbol, extended: bool) -> dict[str, Any]:
    """``symbol_resolved`` info with the keys and key order of the HAR-tv capture (§6)."""
    use_extended = extended and symbol.extended_session is not None
    session = symbol.session
    if use_extended and symbol.extended_session:
        session = symbol.extended_session
    subsessions = [_subsession("regular", "Regular Trading Hours", symbol.session)]
    if symbol.extended_session:
        subsessions.append(
            _subsession("extended", "Extended Trading Hours", symbol.extended_session)
        )
    country = _country(symbol.timezone)
    info: dict[str, Any] = {
        "source2": {
            "country": country,
            "description": symbol.exchange,
            "exchange-type": "exchange",
            "id": symbol.exchange,
            "name": symbol.exchange,
            "url": "",
        },
        "currency_code": symbol.currency,
        "source_id": symbol.exchange,
        "session_holidays": "",
        "subsession_id": "extended" if use_extended else "regular",
        "provider_id": "sim",
        "currency_id": symbol.currency,
        "country": country,
        "pro_perm": "",
        "measure": "price",
        "allowed_adjustment": "any" if symbol.type == "stock" else "none",
        "short_description": symbol.description,
        "variable_tick_size": "",
        "isin": "",
        "language": "en",
    }
    if symbol.local_description is not None:
        info["local_description"] = symbol.local_description
    info.update(
        {
            "name": symbol.ticker,
            "full_name": symbol.full_name,
            "pro_name": symbol.full_name,
            "base_name": [symbol.full_name],
            "description": symbol.description,
            "exchange": symbol.exchange,
            "pricescale": symbol.pricescale,
            "pointvalue": 1.0,
            "minmov": symbol.minmov,
            "session": session,
            "session_display": session,
            "subsessions": subsessions,
            "type": "spot" if symbol.type == "crypto" else symbol.type,
            "typespecs": _TYPESPECS.get(symbol.type, []),
            "has_intraday": True,
            "fractional": False,
            "listed_exchange": symbol.exchange,
            "legs": [symbol.full_name],
            "is_tradable": False,
            "minmove2": 0,
            "timezone": symbol.timezone,
            "aliases": [],
            "alternatives": [],
            "is_replayable": True,
            "has_adjustment": symbol.type == "stock",
            "has_extended_hours": symbol.extended_session is not None,
            "bar_source": "trade",
            "bar_transform": "none",
            "bar_fillgaps": False,
            "visible_plots_set": "ohlcv" if symbol.has_volume else "ohlc",
            "isin-displayed": "",
            "is-tickbars-available": False,
            "figi": {},
            "exchange_listed_name": symbol.exchange,
        }
    )
    return info


def _subsession(ident: str, description: str, session: str) -> dict[str, Any]:
    return {
        "description": description,
        "id": ident,
        "private": False,
        "session": session,
        "session-correction": "",
        "session-display": session,
    }
