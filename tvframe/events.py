"""What a live stream yields: bar and indicator updates, quote updates, failures, reconnects.

Frozen, slotted dataclasses; one object per update, never per stored bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tvframe.errors import TvFrameError
from tvframe.indicators import IndicatorSpec

__all__ = [
    "Bar",
    "BarUpdate",
    "IndicatorUpdate",
    "QuoteUpdate",
    "Reconnected",
    "StreamEvent",
    "SymbolFailed",
]


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``time`` is the bar open in UTC epoch seconds; ``volume`` NaN if none.

    Example:
        >>> Bar(60.0, 1.0, 2.0, 0.5, 1.5, 10.0).close
        1.5
    """

    time: float
    open: float
    high: float
    low: float
    close: float
    volume: float = math.nan


@dataclass(frozen=True, slots=True)
class BarUpdate:
    """A bar of ``symbol`` at ``interval`` changed.

    ``closed=False``: the forming bar's new state (it changes in place, same ``index``).
    ``closed=True``: the bar is final; each bar is delivered closed exactly once, in time order,
    across reconnects. ``index`` counts bars in this stream from 0 (the oldest loaded bar).
    """

    symbol: str
    interval: str
    index: int
    bar: Bar
    closed: bool


@dataclass(frozen=True, slots=True)
class IndicatorUpdate:
    """The values of one indicator on one bar of ``symbol`` at ``interval``.

    Follows the bar's :class:`BarUpdate` with the same ``time``. ``closed=False``: the forming
    bar's values, updated in place as it trades. ``closed=True``: the bar is final and so are
    its values; delivered once per bar, in time order, across reconnects. ``values`` maps the
    spec's column names (``"rsi_14"``) to floats, NaN where the study has no value yet.

    Example:
        >>> from tvframe.indicators import indicator
        >>> update = IndicatorUpdate("X:Y", "1m", indicator("RSI"), 60.0, {"rsi_14": 55.0}, True)
        >>> update.values["rsi_14"]
        55.0
    """

    symbol: str
    interval: str
    spec: IndicatorSpec
    time: float
    values: Mapping[str, float]
    closed: bool


@dataclass(frozen=True, slots=True)
class QuoteUpdate:
    """The merged quote of ``symbol`` after a server diff; ``changed`` names the fields that moved.

    ``quote`` holds every field received so far (``lp`` last price, ``ch``/``chp`` change,
    ``volume``, ``bid``, ``ask``, ``current_session``, ``update_mode`` …).
    """

    symbol: str
    quote: Mapping[str, Any]
    changed: frozenset[str]


@dataclass(frozen=True, slots=True)
class SymbolFailed:
    """``symbol`` could not be streamed; the other symbols go on."""

    symbol: str
    interval: str | None
    error: TvFrameError


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The socket dropped and was re-established; sessions were recreated and gaps backfilled."""

    attempt: int
    reason: str


StreamEvent = BarUpdate | IndicatorUpdate | QuoteUpdate | SymbolFailed | Reconnected
