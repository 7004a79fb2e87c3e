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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MIN_SCAN_CHARS",
    "BarText",
    "Columns",
    "cut_bars",
    "cut_payload",
    "find_bars",
    "find_unread",
    "parse_texts",
]

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
#: The time scale's arrays nobody reads, and whether each holds arrays (or numbers).
_UNREAD = (('"changes":[', False), ('"marks":[', True))
#: What a flat list of numbers is made of, less its brackets.
_NUMBER_LIST = _NUMBER + b","
#: Arrow parses a CSV in blocks of this size: 5 000 bars make one.
_BLOCK_BYTES = 1 << 20
_COLUMNS = ("index", "time", "open", "high", "low", "close", "volume")

#: A parse's result: the columns (index, time, open, high, low, close, volume), or None when
#: a field is not a number.
Columns = list[np.ndarray[Any, Any]] | None


@dataclass(frozen=True, slots=True)
class BarText:
    """One ``"s"`` array of a payload, cut out and its shape checked, its numbers still text.

    Attributes:
        start: where the array's ``[`` sits in the payload.
        end: one past its ``]``.
        rows: the numbers as CSV rows, ``,index,v1,…`` per bar.
        width: values per bar, 5 or 6.
        count: bars.

    Parsing (:meth:`parse`, :func:`parse_texts`) touches nothing but ``rows`` and runs in
    Arrow with the GIL released, so a reader may run it on another thread while it reads on.
    """

    start: int
    end: int
    rows: bytes
    width: int
    count: int

    def parse(self) -> Columns:
        """The columns (index, time, open, high, low, close, volume), or None when a field is
        not a number (the caller then decodes the payload as JSON). Volume is NaN for
        5-value bars.

        Example:
            >>> BarText(0, 0, b",0,60.0,1,2,0.5,1.5\\n", 5, 1).parse()[6].tolist()
            [nan]
        """
        return _parse_rows(self.rows, self.width, self.count)


def find_bars(payload: str, *, quick: bool = False) -> tuple[int, int] | None:
    """Where the first ``"s"`` array of ``payload`` sits: ``(start, end)`` of ``[…]``, or None.

    ``quick=True`` takes the last ``}]`` before the time scale's ``"changes"`` as the end (None
    without one): fast, and right for a history answer, but only a candidate to check (see
    :func:`cut_payload`).

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


def parse_texts(texts: Sequence[BarText]) -> list[Columns]:
    """:meth:`BarText.parse` of each of ``texts``, in one Arrow parse per width: a reader that
    parses on another thread waits for the GIL once per batch, not once per array.

    Example:
        >>> a, b = BarText(0, 0, b",0,1,2,3,4,5\\n", 5, 1), BarText(0, 0, b",7,8,9,9,9,9\\n", 5, 1)
        >>> [columns[1].tolist() for columns in parse_texts([a, b])]
        [[1.0], [8.0]]
        >>> parse_texts([a, BarText(0, 0, b",x,1,2,3,4,5\\n", 5, 1)])[1] is None
        True
    """
    results: list[Columns] = [None] * len(texts)
    for width in sorted({text.width for text in texts}):
        group = [i for i, text in enumerate(texts) if text.width == width]
        joined = _parse_rows(
            b"".join(texts[i].rows for i in group), width, sum(texts[i].count for i in group)
        )
        if joined is None and len(group) > 1:
            # One of the group is not all numbers: each on its own, to find which.
            for i in group:
                results[i] = texts[i].parse()
        elif joined is not None:
            at = 0
            for i in group:
                count = texts[i].count
                results[i] = [column[at : at + count] for column in joined]
                at += count
    return results


def cut_payload(payload: str) -> BarText | None:
    """The first ``"s"`` array of ``payload``, cut out and checked (see :func:`cut_bars`);
    None when there is none or it is not plainly bars.

    The array's end is first looked for backwards from the time scale's ``"changes"``: every
    bar holds a ``}`` and a ``]``, so :func:`find_bars`' forward search crawls through all of
    them (0.30 ms for 5 000 bars, against 0.02 ms). In a history answer both find the same
    end; where they do not (another array ends in between), that span holds more than bars,
    :func:`cut_bars` refuses it, and the forward search decides. A span that passes the check
    holds no ``}]`` before its end, so both searches agree on it.

    Example:
        >>> text = '{"p":["cs",{"sds_1":{"s":[{"i":0,"v":[1,2,3,4,5]}]}},{"changes":[1]}]}'
        >>> cut = cut_payload(text)
        >>> text[cut.start : cut.end], cut.parse()[1].tolist()
        ('[{"i":0,"v":[1,2,3,4,5]}]', [1.0])
    """
    span = find_bars(payload, quick=True)
    if span is not None:
        cut = cut_bars(payload, *span)
        if cut is not None:
            return cut
    forward = find_bars(payload)
    if forward is None or forward == span:
        return None
    return cut_bars(payload, *forward)


def find_unread(payload: str, start: int) -> list[tuple[int, int]]:
    """Spans of the time scale's ``changes`` and ``marks`` after ``start``: an array of
    numbers and an array of arrays of numbers that tvframe never reads, found so the JSON
    decoder can skip them.

    A span is returned only when it is exactly such an array (numbers, commas and brackets
    nested as said), so replacing it with ``[]`` leaves a payload that is valid JSON exactly
    when the original was (up to the spelling of numbers nobody reads).

    Example:
        >>> text = '{"changes":[1.0,2.0],"marks":[[30,1,0],[30,2,1]],"index_diff":[]}'
        >>> [text[a:b] for a, b in find_unread(text, 0)]
        ['[1.0,2.0]', '[[30,1,0],[30,2,1]]']
    """
    spans = []
    for key, nested in _UNREAD:
        at = payload.find(key, start)
        if at < 0:
            continue
        first = at + len(key) - 1
        span = _numbers_array(payload, first, nested)
        if span is not None:
            spans.append(span)
            start = span[1]
    return spans


def _numbers_array(payload: str, first: int, nested: bool) -> tuple[int, int] | None:
    """``(first, end)`` of the array opening at ``first``: flat numbers, or (``nested``)
    arrays of numbers; None when it is not exactly that."""
    if not nested:
        return _checked_array(payload, first, payload.find("]", first) + 1, nested)
    # The marks end just before the payload does: searching back is 500x faster than
    # crawling forward through every inner `]`. A wrong candidate fails the shape check.
    back = payload.rfind("]]", first) + 2
    found = _checked_array(payload, first, back, nested)
    if found is None:
        forward = payload.find("]]", first) + 2
        if forward != back:
            found = _checked_array(payload, first, forward, nested)
    return found


def _checked_array(payload: str, first: int, end: int, nested: bool) -> tuple[int, int] | None:
    if end <= first:  # the closer was not found
        return None
    shape = payload[first:end].encode("ascii", "replace").translate(None, _NUMBER_LIST)
    inner = (len(shape) - 2) // 2
    return (first, end) if shape == (b"[" + b"[]" * inner + b"]" if nested else b"[]") else None


def cut_bars(payload: str, start: int, end: int) -> BarText | None:
    """``payload[start:end]`` as a :class:`BarText` when it is exactly an ``"s"`` array
    (``[{"i":…,"v":[…]},…]``, 5 or 6 values per bar, the same in every bar), else None (the
    caller then decodes the payload as JSON).

    Example:
        >>> text = '[{"i":0,"v":[60.0,1,2,0.5,1.5,10]},{"i":1,"v":[120.0,1,2,1,2,20]}]'
        >>> cut = cut_bars(text, 0, len(text))
        >>> cut.width, cut.count, cut.rows
        (6, 2, b',0,60.0,1,2,0.5,1.5,10\\n,1,120.0,1,2,1,2,20\\n')
        >>> cut_bars('[{"i":0,"v":[60.0,1,2]}]', 0, 24) is None
        True
    """
    inside = payload[start + 1 : end - 1]  # a slice knows at once whether it is ASCII
    if len(inside) < 2 or not inside.isascii():
        return None
    body = inside.encode("ascii")
    found = _shape(body.translate(None, _NUMBER))
    if found is None:
        return None
    width, count = found
    return BarText(start, end, b"," + body.translate(_TO_ROWS, _DROP), width, count)


def _shape(skeleton: bytes) -> tuple[int, int] | None:
    """``(values per bar, bars)`` when ``skeleton`` is one bar skeleton repeated, else None."""
    for width, bar in _SKELETONS.items():
        # The count of bars the length allows, then the skeleton itself, compared whole.
        count, left = divmod(len(skeleton) + 1, len(bar) + 1)
        if not left and skeleton == ((bar + b",") * count)[:-1]:
            return width, count
    return None


def _parse_rows(rows: bytes, width: int, count: int) -> Columns:
    """Columns of ``count`` rows ``,index,v1,…``; None if a field is not a number (or is
    missing)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = ["_", *_COLUMNS[: width + 1]]
    types = {name: pa.float64() for name in names[2:]} | {"index": pa.int64()}
    try:
        table = pacsv.read_csv(
            # Arrow reads the bytes in place: no copy, and no call back into Python.
            pa.BufferReader(rows),
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
    if table.num_rows != count:
        return None
    # Writable copies: the columns end up in frames and buffers that may be edited in place.
    # The index column is int64 (its declared type), the others float64.
    columns = [np.array(column.to_numpy(), copy=True) for column in table.columns]
    if width == 5:
        columns.append(np.full(count, np.nan))
    return columns
