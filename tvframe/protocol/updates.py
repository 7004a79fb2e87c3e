"""Live ``du`` updates decoded by a typed msgspec decoder: shape checked, numbers converted, in C.

A busy live feed is thousands of small ``du`` messages a second, one bar or two each. Decoding
them as generic JSON and then checking every field in Python cost more than everything else
the feed does. Here one C call checks the shape (``{"m", "p": [session, {key: {"s": [{"i":
int, "v": [5 or 6 numbers]}], …}}]}``) and yields each bar's values as a tuple of floats;
the event holds those points as they are. Anything else (study points, an unexpected type, a
bar of the wrong width) returns None and the caller decodes the payload as plain JSON, which
accepts or refuses it as it always did.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tvframe.protocol.events import Bars, DataUpdate, SeriesData

__all__ = ["DU_PREFIX", "decode_du"]

#: How every ``du`` payload starts (the captures); others are not tried here.
DU_PREFIX = '{"m":"du",'

# gc=False: decoded from JSON, these hold no cycles, and live once per update.


class _Point(msgspec.Struct, gc=False):
    i: int
    v: Annotated[tuple[float, ...], msgspec.Meta(min_length=5, max_length=6)]


class _Labels(msgspec.Struct, gc=False):
    bar_close_time: float | None = None


class _Object(msgspec.Struct, gc=False):
    # Present (even null) means the object is a study or malformed: the JSON path decides.
    st: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    s: list[_Point] | msgspec.UnsetType = msgspec.UNSET
    t: str | None = None
    lbs: _Labels | None = None


class _Du(msgspec.Struct, gc=False):
    m: str
    p: tuple[str, dict[str, _Object]]


_DECODER = msgspec.json.Decoder(_Du)


def decode_du(payload: str) -> DataUpdate | None:
    """The event of a plain ``du`` payload, or None for anything else.

    Example:
        >>> text = '{"m":"du","p":["cs_1",{"sds_1":{"s":[{"i":9,"v":[60,1,2,0.5,1.5]}],"t":"s1"}}]}'
        >>> event = decode_du(text)
        >>> event.session, event.series[0].series_id, event.series[0].bars.rows()
        ('cs_1', 'sds_1', [(60.0, 1.0, 2.0, 0.5, 1.5, nan)])
    """
    try:
        du = _DECODER.decode(payload)
    except msgspec.MsgspecError:
        return None
    if du.m != "du":
        return None
    session, objects = du.p
    series: list[SeriesData] = []
    for key, obj in objects.items():
        if obj.st is not msgspec.UNSET:
            return None
        points = obj.s
        if points is msgspec.UNSET:
            continue
        # The points themselves: read into rows only if the bar is read (Bars.from_points).
        lbs = obj.lbs
        series.append(
            SeriesData(
                key, obj.t, Bars.from_points(points), None if lbs is None else lbs.bar_close_time
            )
        )
    return DataUpdate(session, tuple(series), ())
