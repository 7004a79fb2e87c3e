"""The simulator's indicator maths: TradingView's published Pine definitions over numpy arrays.

Rules of this module: pure functions, no I/O; na is NaN (``1e+100`` is the wire's business);
every study returns its plots in the order of the studies contract. The table of studies, their
classic names, Pine ids, inputs and validation rules is the simulator's own, apart from tvframe's
client-side catalogue, so that a client bug is not mirrored by a simulator bug.

``ema`` and ``rma`` follow Pine's ``na(sum[1]) ? ta.sma(src, length) : alpha * src + (1 - alpha)
* sum[1]``: they start (and restart after an na) with the mean of the first ``length`` values.
A window holding an na gives na, as Pine's sums do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

__all__ = [
    "IL_PREFIX",
    "SOURCES",
    "STUDIES",
    "Input",
    "Ohlcv",
    "StudyDef",
    "StudyRefused",
    "atr",
    "bollinger",
    "ema",
    "highest",
    "lowest",
    "macd",
    "pine_study",
    "resolve",
    "rma",
    "rsi",
    "sma",
    "source",
    "stdev",
    "stochastic",
    "trading_days",
    "vwap",
    "wma",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Inputs a price ``source`` may name.
SOURCES: tuple[str, ...] = ("open", "high", "low", "close", "hl2", "hlc3", "ohlc4")
#: How the (opaque) script text of a Pine study must start.
IL_PREFIX = "bmI9Ks46_"

_CHUNK = 1 << 20  # window elements reduced at once: bounds the temporaries of rolling windows
_DAY = 86_400
_HOURS = re.compile(r"(\d\d)(\d\d)-(\d\d)(\d\d)")


# --------------------------------------------------------------------------- primitives


def _nan_like(x: FloatArray) -> FloatArray:
    return np.full(len(x), np.nan)


def _check_length(n: int) -> None:
    if n < 1:
        raise ValueError(f"a length must be >= 1, got {n!r}")


def sma(x: FloatArray, n: int) -> FloatArray:
    """Mean of the last ``n`` values; na until ``n`` values exist and while one of them is na.

    Example:
        >>> sma(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist()
        [nan, 1.5, 2.5, 3.5]
    """
    _check_length(n)
    out = _nan_like(x)
    if n > len(x):
        return out
    valid = ~np.isnan(x)
    ref = float(x[valid][0]) if valid.any() else 0.0
    # Centred on a value of the series, the running sums stay small: fewer digits cancel.
    sums = np.concatenate(([0.0], np.cumsum(np.where(valid, x - ref, 0.0))))
    gaps = np.concatenate(([0], np.cumsum(~valid)))
    means = (sums[n:] - sums[:-n]) / n + ref
    out[n - 1 :] = np.where(gaps[n:] - gaps[:-n] > 0, np.nan, means)
    return out


def _smoothed(x: FloatArray, n: int, alpha: float) -> FloatArray:
    """Pine's recursive average: seeded by ``sma`` whenever the previous value is na."""
    seeds = sma(x, n).tolist()
    out: list[float] = []
    prev = math.nan
    for value, seed in zip(x.tolist(), seeds, strict=True):
        prev = seed if math.isnan(prev) else alpha * value + (1.0 - alpha) * prev
        out.append(prev)
    return np.array(out, dtype=np.float64)


def ema(x: FloatArray, n: int) -> FloatArray:
    """Exponential moving average, ``alpha = 2 / (n + 1)``, seeded by the first ``sma``.

    Example:
        >>> ema(np.array([1.0, 2.0, 3.0, 4.0]), 3).tolist()
        [nan, nan, 2.0, 3.0]
    """
    _check_length(n)
    return _smoothed(x, n, 2.0 / (n + 1))


def rma(x: FloatArray, n: int) -> FloatArray:
    """Wilder's moving average (``alpha = 1 / n``), seeded by the first ``sma``.

    Example:
        >>> rma(np.array([1.0, 3.0, 5.0]), 2).tolist()
        [nan, 2.0, 3.5]
    """
    _check_length(n)
    return _smoothed(x, n, 1.0 / n)


def wma(x: FloatArray, n: int) -> FloatArray:
    """Weighted moving average: weights ``1 … n``, the newest value weighted ``n``.

    Example:
        >>> wma(np.array([1.0, 2.0, 4.0]), 2).tolist()
        [nan, 1.6666666666666667, 3.3333333333333335]
    """
    _check_length(n)
    out = _nan_like(x)
    if n > len(x):
        return out
    # np.convolve flips the kernel, so n..1 puts weight n on the newest value of each window.
    weights = np.arange(n, 0, -1, dtype=np.float64)
    out[n - 1 :] = np.convolve(x, weights, "valid") / (n * (n + 1) / 2)
    return out


def _rolling(x: FloatArray, n: int, reduce: Callable[[FloatArray], FloatArray]) -> FloatArray:
    """``reduce`` applied to every window of ``n`` values (a 2-D block of windows at a time)."""
    _check_length(n)
    out = _nan_like(x)
    if n > len(x):
        return out
    windows = np.lib.stride_tricks.sliding_window_view(x, n)
    step = max(1, _CHUNK // n)
    for start in range(0, len(windows), step):
        out[n - 1 + start : n - 1 + start + step] = reduce(windows[start : start + step])
    return out


def _population_stdev(windows: FloatArray) -> FloatArray:
    deviations = windows - windows.mean(axis=1, keepdims=True)
    result: FloatArray = np.sqrt((deviations * deviations).mean(axis=1))
    return result


def stdev(x: FloatArray, n: int) -> FloatArray:
    """Population standard deviation (divided by ``n``) of the last ``n`` values.

    Example:
        >>> stdev(np.array([1.0, 3.0, 3.0]), 2).tolist()
        [nan, 1.0, 0.0]
    """
    return _rolling(x, n, _population_stdev)


def highest(x: FloatArray, n: int) -> FloatArray:
    """Highest of the last ``n`` values.

    Example:
        >>> highest(np.array([1.0, 3.0, 2.0]), 2).tolist()
        [nan, 3.0, 3.0]
    """
    return _rolling(x, n, lambda w: np.asarray(w.max(axis=1), dtype=np.float64))


def lowest(x: FloatArray, n: int) -> FloatArray:
    """Lowest of the last ``n`` values.

    Example:
        >>> lowest(np.array([1.0, 3.0, 2.0]), 2).tolist()
        [nan, 1.0, 2.0]
    """
    return _rolling(x, n, lambda w: np.asarray(w.min(axis=1), dtype=np.float64))


# --------------------------------------------------------------------------- bars


@dataclass(frozen=True, slots=True)
class Ohlcv:
    """The columns a study reads, oldest first.

    Attributes:
        open: Opening prices.
        high: Highest prices.
        low: Lowest prices.
        close: Closing prices.
        volume: Volumes; NaN for instruments without volume.
        day: Trading day of each bar (:func:`trading_days`); VWAP restarts where it changes.

    Example:
        >>> bars = Ohlcv(*(np.ones(2) for _ in range(5)), np.zeros(2, dtype=np.int64))
        >>> len(bars)
        2
    """

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    day: IntArray

    def __len__(self) -> int:
        return len(self.close)


def source(bars: Ohlcv, name: str) -> FloatArray:
    """The price series a ``source`` input names (one of :data:`SOURCES`).

    Example:
        >>> bars = Ohlcv(*(np.array([v]) for v in (1.0, 4.0, 1.0, 4.0, 0.0)), np.zeros(1, "i8"))
        >>> source(bars, "hl2").tolist(), source(bars, "ohlc4").tolist()
        ([2.5], [2.5])
    """
    if name == "hl2":
        return (bars.high + bars.low) / 2
    if name == "hlc3":
        return (bars.high + bars.low + bars.close) / 3
    if name == "ohlc4":
        return (bars.open + bars.high + bars.low + bars.close) / 4
    if name in ("open", "high", "low", "close"):
        column: FloatArray = getattr(bars, name)
        return column
    raise ValueError(f"unknown source {name!r}: use one of {', '.join(SOURCES)}")


def _utc_offsets(seconds: IntArray, timezone: str) -> IntArray:
    """UTC offset at each time, looked up once per UTC hour (zones change offset on the hour)."""
    zone = ZoneInfo(timezone)
    hours, inverse = np.unique(seconds // 3600, return_inverse=True)
    offsets = [datetime.fromtimestamp(int(h) * 3600, zone).utcoffset() for h in hours.tolist()]
    table = np.array([0 if o is None else int(o.total_seconds()) for o in offsets], np.int64)
    result: IntArray = table[inverse.reshape(-1)]
    return result


def trading_days(times: FloatArray, timezone: str, session: str) -> IntArray:
    """The exchange-local trading date of each bar, as days since the epoch.

    A session that ends before it starts (CME's ``1700-1600``) opens on the evening before its
    trading day; ``24x7`` markets count UTC dates.

    Example:
        >>> t = np.array([1_800_000_000.0, 1_800_054_000.0])  # 2027-01-15 02:00, 17:00 Chicago
        >>> trading_days(t, "America/Chicago", "1700-1600").tolist()
        [20833, 20834]
    """
    seconds = times.astype(np.int64)
    if session == "24x7" or not len(seconds):
        return seconds // _DAY
    local = seconds + _utc_offsets(seconds, timezone)
    day = local // _DAY
    hours = _HOURS.match(session)
    if hours is not None:
        h0, m0, h1, m1 = (int(g) for g in hours.groups())
        start, end = h0 * 3600 + m0 * 60, h1 * 3600 + m1 * 60
        if end <= start:
            day = day + (local % _DAY >= start)
    return day


# --------------------------------------------------------------------------- studies


def rsi(x: FloatArray, n: int) -> FloatArray:
    """Relative Strength Index over Wilder averages of the gains and losses.

    Example:
        >>> rsi(np.array([1.0, 2.0, 3.0, 2.0]), 2).tolist()
        [nan, nan, 100.0, 50.0]
    """
    change = np.concatenate(([np.nan], np.diff(x)))
    up = rma(np.maximum(change, 0.0), n)
    down = rma(np.maximum(-change, 0.0), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 100.0 - 100.0 / (1.0 + up / down)
    out = np.where(down == 0, 100.0, np.where(up == 0, 0.0, ratio))
    out[np.isnan(up) | np.isnan(down)] = np.nan
    return out


def macd(x: FloatArray, fast: int, slow: int, signal: int) -> tuple[FloatArray, ...]:
    """``(histogram, macd, signal)``; the signal averages the defined MACD values.

    Example:
        >>> [p.tolist() for p in macd(np.array([1.0, 2.0, 4.0]), 1, 2, 1)]
        [[nan, 0.0, 0.0], [nan, 0.5, 0.8333333333333335], [nan, 0.5, 0.8333333333333335]]
    """
    line = ema(x, fast) - ema(x, slow)
    smoothed = ema(line, signal)
    return line - smoothed, line, smoothed


def bollinger(x: FloatArray, n: int, mult: float) -> tuple[FloatArray, ...]:
    """``(basis, upper, lower)``: the SMA and ``mult`` population deviations around it.

    Example:
        >>> [p.tolist() for p in bollinger(np.array([1.0, 3.0]), 2, 2.0)]
        [[nan, 2.0], [nan, 4.0], [nan, 0.0]]
    """
    basis = sma(x, n)
    deviation = mult * stdev(x, n)
    return basis, basis + deviation, basis - deviation


def stochastic(bars: Ohlcv, period_k: int, smooth_k: int, period_d: int) -> tuple[FloatArray, ...]:
    """``(%K, %D)``; the raw value is na where the high-low range is 0.

    Example:
        >>> b = Ohlcv(*(np.array(v) for v in ([1.0, 1], [2.0, 4], [0.0, 1], [1.0, 3], [0.0, 0])),
        ...           np.zeros(2, "i8"))
        >>> [p.tolist() for p in stochastic(b, 2, 1, 1)]
        [[nan, 75.0], [nan, 75.0]]
    """
    low, high = lowest(bars.low, period_k), highest(bars.high, period_k)
    span = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = 100.0 * (bars.close - low) / span
    raw[span == 0] = np.nan
    k = sma(raw, smooth_k)
    return k, sma(k, period_d)


def atr(bars: Ohlcv, n: int) -> FloatArray:
    """Average True Range: Wilder average of the true range (``high - low`` on the first bar).

    Example:
        >>> b = Ohlcv(*(np.array(v) for v in ([1.0, 1], [2.0, 4], [1.0, 3], [1.5, 3], [0.0, 0])),
        ...           np.zeros(2, "i8"))
        >>> atr(b, 2).tolist()
        [nan, 1.75]
    """
    previous = np.concatenate(([np.nan], bars.close[:-1]))
    # fmax skips the na of the first bar's previous close, leaving high - low there.
    true_range = np.fmax(
        bars.high - bars.low,
        np.fmax(np.abs(bars.high - previous), np.abs(bars.low - previous)),
    )
    return rma(true_range, n)


def vwap(bars: Ohlcv) -> FloatArray:
    """Volume-weighted ``hlc3``, both sums restarting with each trading day; na while the
    day's volume is 0 (and everywhere without volume).

    Example:
        >>> b = Ohlcv(*(np.array(v) for v in ([1.0, 1, 1], [3.0, 6, 3], [0.0, 0, 0],
        ...                                   [3.0, 3, 3], [1.0, 2, 0])), np.array([0, 0, 1]))
        >>> vwap(b).tolist()
        [2.0, 2.6666666666666665, nan]
    """
    price_volume = source(bars, "hlc3") * bars.volume
    sums, volumes = np.empty(len(bars)), np.empty(len(bars))
    starts = np.flatnonzero(np.diff(bars.day, prepend=bars.day[:1] - 1))
    for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(bars)], strict=True):
        sums[start:stop] = np.cumsum(price_volume[start:stop])
        volumes[start:stop] = np.cumsum(bars.volume[start:stop])
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(volumes == 0, np.nan, sums / volumes)
    return out


def _rsi(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
    return (rsi(source(bars, p["source"]), p["length"]),)


def _average(
    average: Callable[[FloatArray, int], FloatArray],
) -> Callable[[Ohlcv, Mapping[str, Any]], tuple[FloatArray, ...]]:
    def compute(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
        return (average(source(bars, p["source"]), p["length"]),)

    return compute


def _macd(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
    x = source(bars, p["source"])
    return macd(x, p["fastLength"], p["slowLength"], p["signalLength"])


def _bollinger(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
    return bollinger(source(bars, p["source"]), p["length"], p["mult"])


def _stochastic(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
    return stochastic(bars, p["periodK"], p["smoothK"], p["periodD"])


def _atr(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
    return (atr(bars, p["length"]),)


def _vwap(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
    return (vwap(bars),)


def _volume(bars: Ohlcv, p: Mapping[str, Any]) -> tuple[FloatArray, ...]:
    # col_prev_close only picks the bar colours, which the wire does not carry.
    return bars.volume.copy(), sma(bars.volume, p["length"])


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class Input:
    """One input of a study.

    Attributes:
        name: Classic (``create_study`` inputs) name, e.g. ``"length"``.
        title: Pine metaInfo name, e.g. ``"Length"``.
        type: ``"integer"`` (>= 1), ``"float"`` (> 0), ``"source"`` or ``"bool"``.
        default: Value when the input is not sent.

    Example:
        >>> STUDIES["RSI"].inputs[0]
        Input(name='length', title='Length', type='integer', default=14)
    """

    name: str
    title: str
    type: str
    default: Any


@dataclass(frozen=True, slots=True)
class StudyDef:
    """One study the simulator computes.

    Attributes:
        name: Classic name, the part of ``<Name>@tv-basicstudies-<version>`` before the ``@``.
        pine_id: Pine id, e.g. ``"STD;RSI"``.
        description: Long title.
        short_description: Short title.
        inputs: The inputs, in Pine order (``in_0``, ``in_1``, ...).
        plots: Plot titles, in the order of the values after the time.
        compute: ``(bars, params) -> plots``.

    Example:
        >>> STUDIES["MACD"].plots
        ('Histogram', 'MACD', 'Signal')
    """

    name: str
    pine_id: str
    description: str
    short_description: str
    inputs: tuple[Input, ...]
    plots: tuple[str, ...]
    compute: Callable[[Ohlcv, Mapping[str, Any]], tuple[FloatArray, ...]]

    def run(self, bars: Ohlcv, params: Mapping[str, Any]) -> tuple[FloatArray, ...]:
        """The plots over ``bars`` with validated ``params`` (see :func:`resolve`).

        Example:
            >>> study, params = resolve("Volume@tv-basicstudies-246", {"length": 1})
            >>> bars = Ohlcv(*(np.ones(2) for _ in range(5)), np.zeros(2, "i8"))
            >>> [p.tolist() for p in study.run(bars, params)]
            [[1.0, 1.0], [1.0, 1.0]]
        """
        return self.compute(bars, params)


def _length(default: int, title: str = "Length", name: str = "length") -> Input:
    return Input(name, title, "integer", default)


_SOURCE = Input("source", "Source", "source", "close")

_TABLE = (
    StudyDef("RSI", "STD;RSI", "Relative Strength Index", "RSI",
             (_length(14), _SOURCE), ("RSI",), _rsi),
    StudyDef("MASimple", "STD;SMA", "Moving Average Simple", "SMA",
             (_length(9), _SOURCE), ("MA",), _average(sma)),
    StudyDef("MAExp", "STD;EMA", "Moving Average Exponential", "EMA",
             (_length(9), _SOURCE), ("EMA",), _average(ema)),
    StudyDef("MAWeighted", "STD;WMA", "Moving Average Weighted", "WMA",
             (_length(9), _SOURCE), ("WMA",), _average(wma)),
    StudyDef("MACD", "STD;MACD", "Moving Average Convergence Divergence", "MACD",
             (_length(12, "Fast Length", "fastLength"), _length(26, "Slow Length", "slowLength"),
              _length(9, "Signal Length", "signalLength"), _SOURCE),
             ("Histogram", "MACD", "Signal"), _macd),
    StudyDef("BB", "STD;Bollinger_Bands", "Bollinger Bands", "BB",
             (_length(20), Input("mult", "Mult", "float", 2.0), _SOURCE),
             ("Basis", "Upper", "Lower"), _bollinger),
    StudyDef("Stochastic", "STD;Stochastic", "Stochastic", "Stoch",
             (_length(14, "%K Length", "periodK"), _length(1, "%K Smoothing", "smoothK"),
              _length(3, "%D Smoothing", "periodD")),
             ("%K", "%D"), _stochastic),
    StudyDef("ATR", "STD;Average_True_Range", "Average True Range", "ATR",
             (_length(14),), ("ATR",), _atr),
    StudyDef("VWAP", "STD;VWAP", "Volume Weighted Average Price", "VWAP", (), ("VWAP",), _vwap),
    StudyDef("Volume", "STD;Volume", "Volume", "Vol",
             (_length(20, "MA Length"),
              Input("col_prev_close", "Color based on previous close", "bool", False)),
             ("Volume", "Volume MA"), _volume),
)  # fmt: skip

#: Every study, keyed by classic name.
STUDIES: Mapping[str, StudyDef] = {s.name: s for s in _TABLE}
_BY_PINE_ID: Mapping[str, StudyDef] = {s.pine_id: s for s in _TABLE}


def pine_study(pine_id: str) -> StudyDef | None:
    """The study a Pine id names, ``None`` if the simulator has no such script.

    Example:
        >>> pine_study("STD;Bollinger_Bands").name, pine_study("STD;Nope")
        ('BB', None)
    """
    return _BY_PINE_ID.get(pine_id)


# --------------------------------------------------------------------------- validation


class StudyRefused(Exception):
    """A study the server answers with ``study_error``; :attr:`reason` goes on the wire as is.

    Example:
        >>> StudyRefused("Internal server study error: unknown study X@y").reason[-3:]
        'X@y'
    """

    def __init__(self, reason: str | dict[str, Any]) -> None:
        super().__init__(reason if isinstance(reason, str) else reason["error"])
        self.reason = reason


_CLASSIC = re.compile(r"(?P<name>\w+)@tv-basicstudies-\d+!?")
_PINE = re.compile(r"Script@tv-scripting-\d+!?")
_RULES = {
    "integer": "an integer >= 1",
    "float": "a number > 0",
    "source": "one of " + ", ".join(SOURCES),
    "bool": "true or false",
}
_INVALID = object()


def _runtime_error(error: str, value: Any) -> dict[str, Any]:
    """The Pine runtime error object (TradingView's 2026 format, template plus ``ctx``)."""
    return {"error": error, "ctx": {"value": value}, "stack_trace": [{"n": "#main", "p": 1}]}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _coerce(kind: str, value: Any) -> Any:
    """``value`` as the input's type wants it, or ``_INVALID``."""
    number = _number(value)
    if kind == "integer" and number is not None and number.is_integer() and number >= 1:
        return int(number)
    if kind == "float" and number is not None and math.isfinite(number) and number > 0:
        return number
    if kind == "source" and value in SOURCES:
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "bool" and value in ("true", "false"):
        return value == "true"
    return _INVALID


def _validated(spec: Input, label: str, value: Any) -> Any:
    result = _coerce(spec.type, value)
    if result is _INVALID:
        rule = _RULES[spec.type]
        raise StudyRefused(
            _runtime_error(
                f"Invalid value of the '{label}' argument ({{value}}). It must be {rule}.", value
            )
        )
    return result


def _defaults(study: StudyDef) -> dict[str, Any]:
    return {spec.name: spec.default for spec in study.inputs}


def _classic_params(study: StudyDef, inputs: Mapping[str, Any]) -> dict[str, Any]:
    by_name = {spec.name: spec for spec in study.inputs}
    params = _defaults(study)
    for key, value in inputs.items():
        spec = by_name.get(key)
        if spec is None:
            raise StudyRefused(_runtime_error(f"Unknown input '{key}'", value))
        params[key] = _validated(spec, key, value)
    return params


def _pine_params(study: StudyDef, inputs: Mapping[str, Any]) -> dict[str, Any]:
    by_id = {f"in_{k}": spec for k, spec in enumerate(study.inputs)}
    params = _defaults(study)
    for key, raw in inputs.items():
        if not key.startswith("in_"):
            continue  # the script's own fields: text, pineId, pineVersion, __profile, ...
        value = raw.get("v") if isinstance(raw, dict) else raw
        spec = by_id.get(key)
        if spec is None:
            raise StudyRefused(_runtime_error(f"Unknown input '{key}'", value))
        params[spec.name] = _validated(spec, spec.title, value)
    return params


def _resolve_pine(inputs: Mapping[str, Any]) -> tuple[StudyDef, dict[str, Any]]:
    text = inputs.get("text")
    if not isinstance(text, str) or not text.startswith(IL_PREFIX):
        raise StudyRefused("Internal server study error: invalid script text")
    pine_id = inputs.get("pineId")
    study = pine_study(pine_id) if isinstance(pine_id, str) else None
    if study is None:
        raise StudyRefused(f"Internal server study error: unknown study {pine_id}")
    return study, _pine_params(study, inputs)


def resolve(study_type: str, inputs: Mapping[str, Any]) -> tuple[StudyDef, dict[str, Any]]:
    """The study a ``create_study`` type names and its validated inputs, defaults filled in.

    Classic types are ``<Name>@tv-basicstudies-<any version>`` with inputs by name; Pine ones
    are ``Script@tv-scripting-<version>!`` with ``text``, ``pineId`` and ``in_<k>`` inputs.

    Returns:
        ``(study, params)``, params keyed by the classic input names.

    Raises:
        StudyRefused: unknown type or script, bad script text, unknown or invalid input.

    Example:
        >>> study, params = resolve("RSI@tv-basicstudies-1", {"length": 7})
        >>> study.pine_id, params
        ('STD;RSI', {'length': 7, 'source': 'close'})
        >>> resolve("RSI@tv-basicstudies-1", {"length": 0})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        tvframe.sim.studies.StudyRefused: Invalid value of the 'length' argument ({value}). It...
    """
    classic = _CLASSIC.fullmatch(study_type)
    study = STUDIES.get(classic["name"]) if classic else None
    if study is not None:
        return study, _classic_params(study, inputs)
    if _PINE.fullmatch(study_type):
        return _resolve_pine(inputs)
    raise StudyRefused(f"Internal server study error: unknown study {study_type}")
