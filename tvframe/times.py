"""Points in time from users (``start=``, ``end=``) to UTC epoch seconds.

Accepted: ``datetime`` (naive means UTC), ``date`` (midnight UTC), ISO-8601 strings
(``"2024-01-31"``, ``"2024-01-31 09:30"``, ``"2024-01-31T09:30:00-05:00"``, a trailing ``Z``),
and epoch seconds as ``int``/``float``. pandas Timestamps are datetimes, so they work too.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import TypeAlias

from tvframe.errors import InvalidArgumentError

__all__ = ["TimeLike", "format_epoch", "to_epoch"]

#: What ``start=``/``end=`` accept.
TimeLike: TypeAlias = "datetime | date | str | int | float"


def to_epoch(value: TimeLike, name: str) -> float:
    """UTC epoch seconds of ``value``; ``name`` is the argument's name for the error message.

    Raises:
        InvalidArgumentError: naming the argument and the value that is not a point in time.

    Example:
        >>> to_epoch("2024-01-02", "start")
        1704153600.0
        >>> to_epoch("2024-01-02T00:00:00+01:00", "end")
        1704150000.0
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value):
            return float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return to_epoch(datetime.fromisoformat(text), name)
        except ValueError:
            pass
    raise InvalidArgumentError(
        f"{name}={value!r} is not a point in time: use a datetime, a date, an ISO-8601 "
        "string such as '2024-01-31' or '2024-01-31T09:30:00-05:00', or epoch seconds"
    )


def format_epoch(seconds: float) -> str:
    """ISO-8601 UTC text of epoch seconds, for messages.

    Example:
        >>> format_epoch(0)
        '1970-01-01T00:00:00Z'
    """
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
