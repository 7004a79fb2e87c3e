"""Interval spellings (``1m`` … ``1M``) and TradingView resolutions (``"1"`` … ``"1M"``).

Case matters exactly once: ``m`` is a minute and ``M`` a month. Hours are sent as minutes
(``protocol.md`` §5: ``"1h"`` is rejected by the server with ``critical_error``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tvframe.errors import InvalidIntervalError

__all__ = ["SEED_INTERVALS", "Interval", "parse_interval", "from_resolution"]

#: The spellings the seed documents; every one of them is supported.
SEED_INTERVALS: tuple[str, ...] = ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d", "1w", "1M")

_SPELLING = re.compile(r"^([1-9][0-9]{0,3})([smhdwM])$")
_RESOLUTION = re.compile(r"^([1-9][0-9]{0,3})?([SDWM])?$")

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "M": 2_592_000}
# Upper bounds keep the resolution inside what TradingView charts accept.
_UNIT_MAX = {"s": 59, "m": 1439, "h": 23, "d": 365, "w": 52, "M": 12}


@dataclass(frozen=True, slots=True)
class Interval:
    """A validated bar interval.

    Attributes:
        text: the user's spelling, normalised (``"1h"``).
        resolution: what the protocol sends (``"60"``).
        seconds: nominal bar length; months count as 30 days (use it for sizes, not calendars).
        unit: ``s``, ``m``, ``h``, ``d``, ``w`` or ``M``.
        count: how many units make one bar.

    Example:
        >>> parse_interval("4h").resolution
        '240'
    """

    text: str
    resolution: str
    seconds: int
    unit: str
    count: int

    @property
    def is_intraday(self) -> bool:
        """True for second, minute and hour bars."""
        return self.unit in ("s", "m", "h")

    def __str__(self) -> str:
        return self.text


def _resolution_for(count: int, unit: str) -> str:
    if unit == "s":
        return f"{count}S"
    if unit == "m":
        return str(count)
    if unit == "h":
        return str(count * 60)
    return f"{count}{unit.upper()}"


def parse_interval(value: str | Interval) -> Interval:
    """Validate an interval spelling and map it to its protocol resolution.

    Accepts ``<n>s``, ``<n>m``, ``<n>h``, ``<n>d``, ``<n>w`` and ``<n>M``.

    Raises:
        InvalidIntervalError: naming the value and the spellings that work.

    Example:
        >>> parse_interval("1M").seconds
        2592000
    """
    if isinstance(value, Interval):
        return value
    if not isinstance(value, str):
        raise InvalidIntervalError(
            f"interval must be a string such as '5m' or '1d', got {type(value).__name__} {value!r}"
        )
    match = _SPELLING.match(value.strip())
    if match is None:
        hint = ""
        lowered = value.strip().lower()
        if lowered in {"1min", "1minute", "minute"}:
            hint = " (did you mean '1m'?)"
        elif lowered in {"d", "day", "daily", "1day"}:
            hint = " (did you mean '1d'?)"
        raise InvalidIntervalError(
            f"invalid interval {value!r}{hint}: use one of {', '.join(SEED_INTERVALS)} "
            "or <n> followed by s, m, h, d, w or M (m = minute, M = month)"
        )
    count, unit = int(match.group(1)), match.group(2)
    if count > _UNIT_MAX[unit]:
        raise InvalidIntervalError(
            f"invalid interval {value!r}: at most {_UNIT_MAX[unit]}{unit} is supported"
        )
    text = f"{count}{unit}"
    return Interval(
        text=text,
        resolution=_resolution_for(count, unit),
        seconds=count * _UNIT_SECONDS[unit],
        unit=unit,
        count=count,
    )


def from_resolution(resolution: str) -> Interval:
    """Map a protocol resolution (``"5"``, ``"60"``, ``"1D"``, ``"D"``, ``"15S"``) to an Interval.

    Minute resolutions that are whole hours come back as hours (``"240"`` → ``4h``).

    Raises:
        InvalidIntervalError: when the resolution is not one TradingView uses.

    Example:
        >>> from_resolution("240").text
        '4h'
    """
    match = _RESOLUTION.match(resolution) if isinstance(resolution, str) else None
    if match is None or (match.group(1) is None and match.group(2) is None):
        raise InvalidIntervalError(f"invalid resolution {resolution!r}")
    count = int(match.group(1) or 1)
    letter = match.group(2)
    if letter is None:
        if count % 60 == 0 and count // 60 <= _UNIT_MAX["h"]:
            return parse_interval(f"{count // 60}h")
        return parse_interval(f"{count}m")
    unit = {"S": "s", "D": "d", "W": "w", "M": "M"}[letter]
    return parse_interval(f"{count}{unit}")
