"""Big bar arrays parsed as columns, without a Python object per number.

A history answer is mostly its ``"s"`` array: ``{"i":0,"v":[t,o,h,l,c,v]},…``, thousands
of bars. Decoding it as JSON makes a dict, a list and seven Python numbers per bar, then
numpy copies them into columns; that is most of a big history call's CPU. Here the array is
cut out of the payload with an index scan, its shape is checked exactly (every bar is
``{"i":<number>,"v":[<5 or 6 numbers>]}``, nothing else), and Arrow's CSV parser turns the
numbers into columns in C. Anything that does not fit that shape returns None and the caller
decodes the payload as plain JSON. Two known differences from JSON, both harmless: Arrow also
reads the number spellings ``+1``, ``.5``, ``5.`` and ``01`` (JSON refuses the message), and an
object holding ``"s"`` twice keeps the first (JSON keeps the last).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

__all__ = ["MIN_SCAN_CHARS", "find_bars", "find_unread", "scan_bars", "scan_payload"]

#: Payloads shorter than this are decoded as JSON: the scan pays off from ~100 bars up.
MIN_SCAN_CHARS = 16_384

_KEY = '"s":['
#: The time scale's first key after the bars in a history answer (``timescale_update``).
_SCALE = '"changes":['
_NUMBER = b"0123456789.-+eE"
#: One bar once its numbers are deleted, by count of values.
_SKELETONS = {width: b'{"i":,"v":[' + b"," * (width - 1) + b"]}" for width in (5, 6)}
#: ``{"i":0,"v":[1,2]},{"i":1,…`` → ``,0,1,2\n,1,…``: one CSV row per bar, an empty first field.
_TO_ROWS = bytes.maketrans(b"}", b"\n")
_DROP = b'{"iv:[]'
#: The time scale's arrays nobody reads, with what closes each (flat, or arrays of arrays).
_UNREAD = (('"changes":[', "]"), ('"marks":[', "]]"))
#: Arrow parses a CSV in blocks of this size: 5 000 bars make one.
_BLOCK_BYTES = 1 << 20
_COLUMNS = ("index", "time", "open", "high", "low", "close", "volume")


def find_bars(payload: str, *, quick: bool = False) -> tuple[int, int] | None:
    """Where the first ``"s"`` array of ``payload`` sits: ``(start, end)`` of ``[…]``, or None.

    ``quick=True`` takes the last ``}]`` before the time scale's ``"changes"`` as the end (None
    without one): fast, and right for a history answer, but only a candidate to check (see
    :func:`scan_payload`).

    Example:
        >>> find_bars('{"p":[{"sds_1":{"s":[{"i":0,"v":[1,2,3,4,5]}],"t":"s1"}}]}')
        (20, 45)
    """
    key = payload.find(_KEY)
    if key < 0:
        return None
    start = key + len(_KEY) - 1
    if payload.startswith("[]", start):
        return None
    if quick:
        scale = payload.rfind(_SCALE, start)
        end = payload.rfind("}]", start, scale) if scale >= 0 else -1
    else:
        end = payload.find("}]", start)
    return None if end < 0 else (start, end + 2)


def scan_payload(payload: str) -> tuple[int, int, list[np.ndarray[Any, Any]]] | None:
    """The first ``"s"`` array of ``payload`` as columns (see :func:`scan_bars`), with its
    ``(start, end)``; None when there is none or it is not plainly bars.

    The array's end is first looked for backwards from the time scale's ``"changes"``: every
    bar holds a ``}`` and a ``]``, so :func:`find_bars`' forward search crawls through all of
    them (0.30 ms for 5 000 bars, against 0.02 ms). In a history answer both find the same
    end; where they do not (another array ends in between), that span holds more than bars,
    :func:`scan_bars` refuses it, and the forward search decides.

    Example:
        >>> text = '{"p":["cs",{"sds_1":{"s":[{"i":0,"v":[1,2,3,4,5]}]}},{"changes":[1]}]}'
        >>> start, end, columns = scan_payload(text)
        >>> text[start:end], columns[1].tolist()
        ('[{"i":0,"v":[1,2,3,4,5]}]', [1.0])
    """
    span = find_bars(payload, quick=True)
    if span is not None:
        columns = scan_bars(payload[span[0] : span[1]])
        if columns is not None:
            return (*span, columns)
    forward = find_bars(payload)
    if forward is None or forward == span:
        return None
    columns = scan_bars(payload[forward[0] : forward[1]])
    return None if columns is None else (*forward, columns)


def find_unread(payload: str, start: int) -> list[tuple[int, int]]:
    """Spans of the time scale's ``changes`` and ``marks`` after ``start``: arrays of numbers
    (or of arrays of numbers) tvframe never reads, found so the JSON decoder can skip them.

    A span is returned only when it holds nothing but numbers, commas and balanced brackets,
    so replacing it with ``[]`` leaves a payload that is valid JSON exactly when the
    original was (up to the spelling of numbers nobody reads).

    Example:
        >>> text = '{"changes":[1.0,2.0],"marks":[[30,1,0],[30,2,1]],"index_diff":[]}'
        >>> [text[a:b] for a, b in find_unread(text, 0)]
        ['[1.0,2.0]', '[[30,1,0],[30,2,1]]']
    """
    spans = []
    for key, closer in _UNREAD:
        at = payload.find(key, start)
        if at < 0:
            continue
        first = at + len(key) - 1
        end = payload.find(closer, first)
        if end < 0:
            continue
        end += len(closer)
        shape = payload[first:end].encode("ascii", "replace").translate(None, _NUMBER)
        if not shape.translate(None, b"[],") and shape.count(b"[") == shape.count(b"]"):
            spans.append((first, end))
            start = end
    return spans


def scan_bars(array: str) -> list[np.ndarray[Any, Any]] | None:
    """The columns (index, time, open, high, low, close, volume) of one ``"s"`` array
    (``[{"i":…,"v":[…]},…]``), or None when the text is not exactly that shape (the caller
    then decodes it as JSON). Volume is NaN for 5-value bars.

    Example:
        >>> cols = scan_bars('[{"i":0,"v":[60.0,1,2,0.5,1.5,10]},{"i":1,"v":[120.0,1,2,1,2,20]}]')
        >>> cols[0].tolist(), cols[5].tolist()
        ([0, 1], [1.5, 2.0])
    """
    if len(array) < 4 or not array.isascii():
        return None
    body = array[1:-1].encode("ascii")
    found = _shape(body.translate(None, _NUMBER))
    if found is None:
        return None
    width, count = found
    columns = _parse_rows(b"," + body.translate(_TO_ROWS, _DROP), width)
    if columns is None or len(columns[0]) != count:
        return None
    if width == 5:
        columns.append(np.full(count, np.nan))
    return columns


def _shape(skeleton: bytes) -> tuple[int, int] | None:
    """``(values per bar, bars)`` when ``skeleton`` is one bar skeleton repeated, else None."""
    for width, bar in _SKELETONS.items():
        # The count of bars the length allows, then the skeleton itself, compared whole.
        count, left = divmod(len(skeleton) + 1, len(bar) + 1)
        if not left and skeleton == ((bar + b",") * count)[:-1]:
            return width, count
    return None


def _parse_rows(rows: bytes, width: int) -> list[np.ndarray[Any, Any]] | None:
    """Columns of ``,index,v1,…`` rows; None if any field is not a number (or missing)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = ["_", *_COLUMNS[: width + 1]]
    types = {name: pa.float64() for name in names[2:]} | {"index": pa.int64()}
    try:
        table = pacsv.read_csv(
            io.BytesIO(rows),
            # One thread: a history answer is one or two blocks, and Arrow's thread pool cost
            # more than it saved (50 x 5 000: 230 -> 215 ms). The GIL is released meanwhile.
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=False, block_size=_BLOCK_BYTES
            ),
            parse_options=pacsv.ParseOptions(quote_char=False, double_quote=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=names[1:], null_values=[]
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    # Writable copies: the columns end up in frames and buffers that may be edited in place.
    # The index column is int64 (its declared type), the others float64.
    return [np.array(column.to_numpy(), copy=True) for column in table.columns]
