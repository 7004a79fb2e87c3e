"""Server payloads decoded into typed events; client methods encoded. No I/O.

Every server message is untrusted: shapes are checked and a bad one raises
:class:`~tvframe.errors.MessageError` naming the method and what was wrong. The events
(:mod:`tvframe.protocol.events`) are frozen Structs; bars travel as numpy columns, never one
object per bar.
Shapes follow ``protocol.md`` §6 and the captures in ``shared/captures``.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from tvframe.errors import MessageError
from tvframe.protocol.barscan import MIN_SCAN_CHARS, BarText, Columns, cut_payload, find_unread
from tvframe.protocol.events import (
    NA,
    Bars,
    CriticalErrorEvent,
    DataUpdate,
    Event,
    FloatArray,
    Hello,
    ProtocolErrorEvent,
    QuoteCompleted,
    QuoteData,
    SeriesCompleted,
    SeriesData,
    SeriesErrorEvent,
    SeriesLoading,
    SeriesTimeframe,
    StudyCompleted,
    StudyDeleted,
    StudyErrorEvent,
    StudyLoading,
    StudyPoints,
    SymbolErrorEvent,
    SymbolResolved,
    TickmarkUpdate,
    TimescaleUpdate,
    UnknownMessage,
)
from tvframe.protocol.framing import encode_frame
from tvframe.protocol.updates import DU_PREFIX, decode_du

__all__ = [
    "PendingBars",
    "decode_message",
    "encode_message",
    "join_message",
    "split_message",
    "symbol_descriptor",
]


# --- shape checks ---------------------------------------------------------------------


def _param(method: str, params: list[Any], i: int, kind: type | tuple[type, ...]) -> Any:
    if i >= len(params):
        raise MessageError(f"{method}: expected at least {i + 1} params, got {len(params)}")
    value = params[i]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MessageError(
            f"{method}: param {i} should be {_kind_name(kind)}, got {type(value).__name__} "
            f"{_clip(value)}"
        )
    return value


def _opt_str(params: list[Any], i: int) -> str | None:
    value = params[i] if i < len(params) else None
    return value if isinstance(value, str) else None


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__


# Bounded repr: orjson accepts 1024 levels of nesting, deeper than repr() can recurse.
_REPR = reprlib.Repr()
_REPR.maxlevel = 4
_REPR.maxstring = 80
_REPR.maxother = 80


def _clip(value: Any) -> str:
    text = _REPR.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# A reason is shown to people: longer than this is noise, and the cap bounds the expansion.
_REASON_MAX = 2000


def _expand(template: str, ctx: dict[Any, Any]) -> str:
    """Fill ``{key}`` placeholders in one pass over the template only, capped as it grows.

    Values are inserted verbatim and never rescanned, so a value holding placeholders cannot
    multiply; stopping at the cap keeps a many-placeholder template from costing memory.
    """
    values = {str(key): val if isinstance(val, str) else _clip(val) for key, val in ctx.items()}
    parts: list[str] = []
    size = 0
    start = 0
    for match in _PLACEHOLDER.finditer(template):
        value = values.get(match.group(1), match.group(0))
        parts += (template[start : match.start()], value)
        size += match.start() - start + len(value)
        start = match.end()
        if size > _REASON_MAX:
            break
    else:
        parts.append(template[start:])
    return _capped("".join(parts))


def _capped(text: str) -> str:
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


def _reason_text(reason: Any) -> str:
    """Flatten a reason that may be a string or a ``{error, ctx}`` template (§6)."""
    if isinstance(reason, str):
        return _capped(reason)
    if isinstance(reason, dict) and isinstance(reason.get("error"), str):
        ctx = reason.get("ctx")
        return _expand(reason["error"], ctx if isinstance(ctx, dict) else {})
    return _clip(reason)


def _bars(method: str, series_id: str, points: Any) -> Bars:
    if isinstance(points, Bars):  # already parsed as columns by the scan
        return points
    if not isinstance(points, list):
        raise MessageError(
            f"{method}: series {series_id!r} 's' is {type(points).__name__}, not a list"
        )
    if not points:
        return Bars.empty()
    if len(points) <= _FEW_ROWS:
        few = _few_bars(points)
        if few is not None:
            return few
    try:
        idx = np.array([p["i"] for p in points])
        vals = np.array([p["v"] for p in points])
    except (TypeError, KeyError, ValueError) as exc:
        raise MessageError(f"{method}: series {series_id!r} has a malformed bar: {exc}") from exc
    if idx.dtype.kind != "i" or idx.ndim != 1:
        raise MessageError(f"{method}: series {series_id!r} bar indexes are not integers")
    if vals.ndim != 2 or vals.dtype.kind not in "if" or vals.shape[1] not in (5, 6):
        raise MessageError(
            f"{method}: series {series_id!r} bars must be 5 or 6 numbers "
            "[time, open, high, low, close(, volume)]"
        )
    columns = _columns(vals)
    if len(columns) == 5:
        columns.append(np.full(len(vals), np.nan))
    return Bars(idx.astype(np.int64, copy=False), *columns)


def _few_bars(points: list[Any]) -> Bars | None:
    """A live update's few bars as points, with no numpy; None when any bar is not plainly
    ``{"i": int, "v": [5 or 6 numbers]}`` (the general path then decides)."""
    index: list[int] = []
    rows: list[tuple[float, ...]] = []
    for point in points:
        if type(point) is not dict:
            return None
        i, v = point.get("i"), point.get("v")
        if type(i) is not int or type(v) is not list or not 5 <= len(v) <= 6:
            return None
        try:
            sum(v)  # in C: a TypeError for anything that is not a number
            rows.append(tuple(map(float, v)))
        except (TypeError, OverflowError):
            return None
        index.append(i)
    return Bars.from_rows(index, rows)


def _columns(rows: npt.NDArray[Any]) -> list[FloatArray]:
    """Contiguous float64 copies of the columns of ``rows``, column by column: no transposing
    copy, no block of a history's size (a live update's few bars never come here: they stay
    rows, see :func:`_few_bars`)."""
    return [rows[:, k].astype(np.float64) for k in range(rows.shape[1])]


#: Up to this many bars, a bar array is kept as rows (a live update), not made numpy columns.
_FEW_ROWS = 16


def _study_points(method: str, study_id: str, obj: dict[str, Any]) -> StudyPoints:
    points = obj.get("st")
    turnaround = obj.get("t") if isinstance(obj.get("t"), str) else None
    if not isinstance(points, list):
        raise MessageError(f"{method}: study {study_id!r} 'st' is not a list")
    if not points:
        return StudyPoints(study_id, turnaround, np.empty(0, dtype=np.int64), np.empty((0, 1)))
    try:
        idx = np.array([p["i"] for p in points])
        vals = np.array([p["v"] for p in points])
    except (TypeError, KeyError, ValueError) as exc:
        raise MessageError(f"{method}: study {study_id!r} has a malformed point: {exc}") from exc
    if idx.dtype.kind != "i" or idx.ndim != 1 or vals.ndim != 2 or vals.dtype.kind not in "if":
        raise MessageError(f"{method}: study {study_id!r} points must be [time, plots…] numbers")
    vals = vals.astype(np.float64)
    vals[vals >= NA] = np.nan
    return StudyPoints(study_id, turnaround, idx.astype(np.int64, copy=False), vals)


def _objects(method: str, objects: Any) -> tuple[tuple[SeriesData, ...], tuple[StudyPoints, ...]]:
    if not isinstance(objects, dict):
        raise MessageError(f"{method}: param 1 should be an object, got {type(objects).__name__}")
    series: list[SeriesData] = []
    studies: list[StudyPoints] = []
    for key, obj in objects.items():
        if not isinstance(obj, dict):
            raise MessageError(f"{method}: entry {key!r} is {type(obj).__name__}, not an object")
        if "st" in obj:
            studies.append(_study_points(method, key, obj))
        elif "s" in obj:
            series.append(_series(key, obj.get("t"), obj.get("lbs"), _bars(method, key, obj["s"])))
    return tuple(series), tuple(studies)


def _series(key: str, turnaround: Any, lbs: Any, bars: Bars) -> SeriesData:
    close_time = lbs.get("bar_close_time") if isinstance(lbs, dict) else None
    return SeriesData(
        key,
        turnaround if isinstance(turnaround, str) else None,
        bars,
        float(close_time) if isinstance(close_time, (int, float)) else None,
    )


# --- per-method decoders --------------------------------------------------------------


def _timescale_update(p: list[Any]) -> TimescaleUpdate:
    m = "timescale_update"
    session = _param(m, p, 0, str)
    series, studies = _objects(m, _param(m, p, 1, dict))
    scale = p[2] if len(p) > 2 and isinstance(p[2], dict) else {}
    index = scale.get("index", 0)
    zoffset = scale.get("zoffset", 0)
    return TimescaleUpdate(
        session,
        series,
        studies,
        index if isinstance(index, int) else 0,
        zoffset if isinstance(zoffset, int) else 0,
    )


def _du(p: list[Any]) -> DataUpdate:
    session = _param("du", p, 0, str)
    series, studies = _objects("du", _param("du", p, 1, dict))
    return DataUpdate(session, series, studies)


def _symbol_resolved(p: list[Any]) -> SymbolResolved:
    m = "symbol_resolved"
    return SymbolResolved(_param(m, p, 0, str), _param(m, p, 1, str), _param(m, p, 2, dict))


def _series_loading(p: list[Any]) -> SeriesLoading:
    m = "series_loading"
    return SeriesLoading(_param(m, p, 0, str), _param(m, p, 1, str), _opt_str(p, 2) or "")


def _series_completed(p: list[Any]) -> SeriesCompleted:
    m = "series_completed"
    return SeriesCompleted(
        _param(m, p, 0, str), _param(m, p, 1, str), _opt_str(p, 2) or "", _opt_str(p, 3)
    )


def _series_timeframe(p: list[Any]) -> SeriesTimeframe:
    m = "series_timeframe"
    final = p[6] if len(p) > 6 else False
    return SeriesTimeframe(
        _param(m, p, 0, str), _param(m, p, 1, str), _opt_str(p, 2) or "", final is True
    )


def _series_error(p: list[Any]) -> SeriesErrorEvent:
    m = "series_error"
    reason = p[3] if len(p) > 3 else (p[2] if len(p) > 2 else "unknown")
    return SeriesErrorEvent(_param(m, p, 0, str), _param(m, p, 1, str), _reason_text(reason))


def _symbol_error(p: list[Any]) -> SymbolErrorEvent:
    m = "symbol_error"
    details = [_reason_text(x) for x in p[2:]]
    return SymbolErrorEvent(
        _param(m, p, 0, str), _param(m, p, 1, str), ", ".join(details) or "unknown"
    )


def _study_state(
    cls: type[StudyLoading | StudyCompleted | StudyDeleted], m: str
) -> Callable[[list[Any]], StudyLoading | StudyCompleted | StudyDeleted]:
    def decode(p: list[Any]) -> StudyLoading | StudyCompleted | StudyDeleted:
        return cls(_param(m, p, 0, str), _param(m, p, 1, str), _opt_str(p, 2) or "")

    return decode


def _study_error(p: list[Any]) -> StudyErrorEvent:
    m = "study_error"
    reason = p[3] if len(p) > 3 else "unknown"
    return StudyErrorEvent(_param(m, p, 0, str), _param(m, p, 1, str), _reason_text(reason))


def _critical_error(p: list[Any]) -> CriticalErrorEvent:
    m = "critical_error"
    info = p[2] if len(p) > 2 else ""
    return CriticalErrorEvent(
        _param(m, p, 0, str), _reason_text(p[1] if len(p) > 1 else "unknown"), _reason_text(info)
    )


def _protocol_error(p: list[Any]) -> ProtocolErrorEvent:
    return ProtocolErrorEvent(_reason_text(p[0]) if p else "unknown")


def _qsd(p: list[Any]) -> QuoteData:
    session = _param("qsd", p, 0, str)
    body = _param("qsd", p, 1, dict)
    key, status, values = body.get("n"), body.get("s"), body.get("v", {})
    if not isinstance(key, str) or not isinstance(status, str) or not isinstance(values, dict):
        raise MessageError(f"qsd: body needs n (str), s (str), v (object), got {_clip(body)}")
    errmsg = body.get("errmsg")
    return QuoteData(session, key, status, values, errmsg if isinstance(errmsg, str) else None)


def _quote_completed(p: list[Any]) -> QuoteCompleted:
    m = "quote_completed"
    return QuoteCompleted(_param(m, p, 0, str), _param(m, p, 1, str))


def _tickmark_update(p: list[Any]) -> TickmarkUpdate:
    return TickmarkUpdate(_param("tickmark_update", p, 0, str))


_DECODERS: dict[str, Callable[[list[Any]], Event]] = {
    "timescale_update": _timescale_update,
    "du": _du,
    "symbol_resolved": _symbol_resolved,
    "series_loading": _series_loading,
    "series_completed": _series_completed,
    "series_timeframe": _series_timeframe,
    "series_error": _series_error,
    "symbol_error": _symbol_error,
    "study_loading": _study_state(StudyLoading, "study_loading"),
    "study_completed": _study_state(StudyCompleted, "study_completed"),
    "study_deleted": _study_state(StudyDeleted, "study_deleted"),
    "study_error": _study_error,
    "critical_error": _critical_error,
    "protocol_error": _protocol_error,
    "qsd": _qsd,
    "quote_completed": _quote_completed,
    "tickmark_update": _tickmark_update,
}


#: Methods whose payload may carry a big bar array (the scan's candidates).
_BAR_METHODS = frozenset({"timescale_update", "du"})


@dataclass(slots=True)
class PendingBars:
    """A big bar message decoded all but its bar numbers, which are still text.

    ``text.parse()`` (:meth:`~tvframe.protocol.barscan.BarText.parse`) may run on any thread;
    :func:`join_message` then makes the event. Used once: joining fills ``holder``.

    Attributes:
        payload: the message as received.
        text: its bar array, cut out and checked.
        message: the rest of the payload as JSON, the bars' ``"s"`` None.
        holder: the object in ``message`` whose ``"s"`` the bars fill.
    """

    payload: str
    text: BarText
    message: dict[str, Any]
    holder: dict[str, Any]


def decode_message(payload: str) -> Event:
    """Decode one framed payload (not a heartbeat) into an event.

    Big bar payloads (a history answer) take a faster route with the same result: the bar
    array is parsed as columns (:mod:`tvframe.protocol.barscan`), the rest as JSON.

    Raises:
        MessageError: invalid JSON, or a shape the method does not allow.

    Example:
        >>> decode_message('{"m":"quote_completed","p":["qs_1","NASDAQ:AAPL"]}')
        QuoteCompleted(session='qs_1', key='NASDAQ:AAPL')
    """
    found = split_message(payload)
    if isinstance(found, PendingBars):
        return join_message(found, found.text.parse())
    return found


def split_message(payload: str) -> Event | PendingBars:
    """:func:`decode_message`, except that a big bar message comes back as
    :class:`PendingBars`, its numbers left to parse where the caller likes.

    Raises:
        MessageError: as :func:`decode_message`.

    Example:
        >>> bars = ",".join(f'{{"i":{i},"v":[{i * 60}.0,1,2,0.5,1.5,10]}}' for i in range(600))
        >>> found = split_message(
        ...     f'{{"m":"timescale_update","p":["cs_1",{{"sds_1":{{"s":[{bars}],"t":"s1"}}}}]}}'
        ... )
        >>> found.text.count, join_message(found, found.text.parse()).series[0].bars.close[-1]
        (600, np.float64(1.5))
    """
    if len(payload) < MIN_SCAN_CHARS:
        if payload.startswith(DU_PREFIX):
            # A live bar update (decode_du leaves study points to the JSON path).
            update = decode_du(payload)
            if update is not None:
                return update
    else:
        pending = _pending_bars(payload)
        if pending is not None:
            return pending
    return _decode_json(payload)


def join_message(pending: PendingBars, columns: Columns) -> Event:
    """The event of ``pending`` once its numbers are parsed (``pending.text.parse()``);
    ``columns=None`` (they were not all numbers) decodes the whole payload as JSON.

    Raises:
        MessageError: as :func:`decode_message`.
    """
    if columns is None:
        return _decode_json(pending.payload)
    pending.holder["s"] = Bars(*columns)
    return _decode(pending.message, pending.payload)


def _decode_json(payload: str) -> Event:
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MessageError(f"payload is not JSON ({exc}): {payload[:60]!r}") from exc
    return _decode(obj, payload)


def _pending_bars(payload: str) -> PendingBars | None:
    """The payload cut in two, its one bar array (checked, not parsed) and the rest as JSON
    (the series' ``"s"`` None), or None when the payload is not that simple case."""
    text = cut_payload(payload)
    if text is None:
        return None
    pieces, at = [payload[: text.start], "null"], text.end
    for first, last in find_unread(payload, text.end):
        pieces += [payload[at:first], "[]"]
        at = last
    pieces.append(payload[at:])
    try:
        obj = orjson.loads("".join(pieces))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    params = obj.get("p")
    if obj.get("m") not in _BAR_METHODS or not isinstance(params, list) or len(params) < 2:
        return None
    objects = params[1]
    holders = [
        o for o in (objects.values() if isinstance(objects, dict) else ())
        if isinstance(o, dict) and "s" in o and o["s"] is None
    ]  # fmt: skip
    if len(holders) != 1:
        return None
    return PendingBars(payload, text, obj, holders[0])


def _decode(obj: Any, payload: str) -> Event:
    if not isinstance(obj, dict):
        raise MessageError(
            f"payload is a JSON {type(obj).__name__}, not an object: {payload[:60]!r}"
        )
    method = obj.get("m")
    if method is None and isinstance(obj.get("session_id"), str):
        ts = obj.get("timestampMs")
        release = obj.get("release")
        proto = obj.get("protocol")
        return Hello(
            obj["session_id"],
            ts if isinstance(ts, int) else None,
            release if isinstance(release, str) else "",
            proto if isinstance(proto, str) else "",
            obj,
        )
    params = obj.get("p")
    if not isinstance(method, str) or not isinstance(params, list):
        raise MessageError(f"payload lacks 'm' (str) and 'p' (list): {payload[:60]!r}")
    decoder = _DECODERS.get(method)
    if decoder is None:
        return UnknownMessage(method, tuple(params))
    return decoder(params)


# --- client side ----------------------------------------------------------------------


def encode_message(method: str, params: Sequence[Any]) -> str:
    """Encode a client method call as one framed message.

    Example:
        >>> encode_message("set_locale", ["en", "US"])
        '~m~34~m~{"m":"set_locale","p":["en","US"]}'
    """
    return encode_frame(orjson.dumps({"m": method, "p": list(params)}).decode())


def symbol_descriptor(
    symbol: str,
    *,
    adjustment: str = "splits",
    session: str = "regular",
    currency: str | None = None,
    backadjustment: bool = False,
) -> str:
    """The ``"=" + JSON`` symbol descriptor of ``resolve_symbol`` (``protocol.md`` §4).

    Keys are sorted, as the web app sends them.

    Example:
        >>> symbol_descriptor("NASDAQ:AAPL")
        '={"adjustment":"splits","session":"regular","symbol":"NASDAQ:AAPL"}'
    """
    desc: dict[str, str] = {"adjustment": adjustment, "session": session, "symbol": symbol}
    if currency:
        desc["currency-id"] = currency
    if backadjustment:
        desc["backadjustment"] = "default"
    return "=" + orjson.dumps(desc, option=orjson.OPT_SORT_KEYS).decode()
