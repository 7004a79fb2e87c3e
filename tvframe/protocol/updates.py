"""Live ``du`` updates decoded by a typed msgspec decoder: shape checked, numbers converted, in C.

A busy live feed is thousands of small ``du`` messages a second, one bar or two each. Decoding
them as generic JSON and then checking every field in Python cost more than everything else
the feed does. Here one C call checks the shape (``{"m", "p": [session, {key: {"s": [{"i":
int, "v": [numbers]}], …}}]}``) and yields each bar's values as a tuple of floats, a
:data:`~tvframe.protocol.messages.BarRow` already. Anything else (study points, an unexpected
type, a bar of the wrong width) returns None and the caller decodes the payload as plain JSON,
which accepts or refuses it as it always did.
"""

from __future__ import annotations

import msgspec

__all__ = ["DU_PREFIX", "SeriesRows", "decode_du"]

#: How every ``du`` payload starts (the captures); others are not tried here.
DU_PREFIX = '{"m":"du",'
_NAN = float("nan")


class _Point(msgspec.Struct):
    i: int
    v: tuple[float, ...]


class _Labels(msgspec.Struct):
    bar_close_time: float | None = None


class _Object(msgspec.Struct):
    # Present (even null) means the object is a study or malformed: the JSON path decides.
    st: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    s: list[_Point] | msgspec.UnsetType = msgspec.UNSET
    t: str | None = None
    lbs: _Labels | None = None


class _Du(msgspec.Struct):
    m: str
    p: tuple[str, dict[str, _Object]]


_DECODER = msgspec.json.Decoder(_Du)

#: One series' part of a ``du``: key, turnaround, ``lbs.bar_close_time``, bar indexes, rows.
SeriesRows = tuple[str, str | None, float | None, list[int], list[tuple[float, ...]]]


def decode_du(payload: str) -> tuple[str, list[SeriesRows]] | None:
    """The session and series rows of a plain ``du`` payload, or None for anything else.

    Example:
        >>> text = '{"m":"du","p":["cs_1",{"sds_1":{"s":[{"i":9,"v":[60,1,2,0.5,1.5]}],"t":"s1"}}]}'
        >>> decode_du(text)
        ('cs_1', [('sds_1', 's1', None, [9], [(60.0, 1.0, 2.0, 0.5, 1.5, nan)])])
    """
    try:
        du = _DECODER.decode(payload)
    except msgspec.MsgspecError:
        return None
    if du.m != "du":
        return None
    session, objects = du.p
    series: list[SeriesRows] = []
    for key, obj in objects.items():
        if obj.st is not msgspec.UNSET:
            return None
        if obj.s is msgspec.UNSET:
            continue
        index: list[int] = []
        rows: list[tuple[float, ...]] = []
        for point in obj.s:
            values = point.v
            if len(values) == 6:
                rows.append(values)
            elif len(values) == 5:
                rows.append((*values, _NAN))
            else:
                return None
            index.append(point.i)
        lbs = obj.lbs
        series.append((key, obj.t, None if lbs is None else lbs.bar_close_time, index, rows))
    return session, series
