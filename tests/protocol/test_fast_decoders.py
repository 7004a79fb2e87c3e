"""The fast decoders give exactly what JSON decoding gives, or step aside.

Two fast paths: the bar scan of big payloads (history answers) and the typed decoder of
``du`` updates. Every payload here is decoded twice: by ``decode_message`` and by the same
function with both fast paths switched off, the reference. Equal events, or the same error,
whatever the payload.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvframe.errors import MessageError
from tvframe.protocol import barscan, messages
from tvframe.protocol.events import Bars, DataUpdate, TimescaleUpdate
from tvframe.protocol.framing import FrameDecoder, Heartbeat
from tvframe.protocol.messages import decode_message
from tvframe.protocol.updates import decode_du

_COLS = ("index", "time", "open", "high", "low", "close", "volume")


@contextmanager
def _json_only() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(messages, "MIN_SCAN_CHARS", 1 << 62)
        patch.setattr(messages, "DU_PREFIX", "\x00 never a payload")
        yield


def _outcome(payload: str) -> Any:
    """The decoded event in comparable form, or the error's type and text."""
    try:
        event = decode_message(payload)
    except MessageError as exc:
        return ("error", str(exc))
    return _plain(event)


def _plain(value: Any) -> Any:
    if isinstance(value, Bars):  # NaN as a string: NaN != NaN would fail equal columns
        return {name: _nan_free(getattr(value, name).tolist()) for name in _COLS} | {
            "dtypes": [getattr(value, name).dtype.str for name in _COLS]
        }
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__slots__"):
        return {s: _plain(getattr(value, s)) for s in value.__slots__}
    return value


def _nan_free(values: list[Any]) -> list[Any]:
    return ["nan" if v != v else v for v in values]


def _both(payload: str) -> tuple[Any, Any]:
    scanned = _outcome(payload)
    with _json_only():
        reference = _outcome(payload)
    return scanned, reference


def _history(points: list[dict[str, Any]], *, extra: str = "") -> str:
    """A timescale_update shaped like the simulator's and TradingView's (captures)."""
    n = len(points)
    body = {
        "m": "timescale_update",
        "p": [
            "cs_x",
            {"sds_1": {"node": "n1", "s": points, "ns": {"d": "", "indexes": []}, "t": "s1",
                       "lbs": {"bar_close_time": 120}}},
            {"index": 7, "zoffset": 0, "changes": [float(60 * i) for i in range(n)],
             "marks": [[30, 60 * i, i] for i in range(n)], "index_diff": []},
        ],
    }  # fmt: skip
    text = orjson.dumps(body).decode()
    return text[:-1] + extra + "}" if extra else text


def _points(n: int, width: int = 6) -> list[dict[str, Any]]:
    return [
        {"i": i - n, "v": [60.0 * i, 1.5 + i, 2e3, -0.5, 1.25e-7, 10.0 * i][:width]}
        for i in range(n)
    ]


def test_a_big_history_is_scanned_and_equals_the_json_decode() -> None:
    for width in (5, 6):
        payload = _history(_points(800, width))
        assert len(payload) >= barscan.MIN_SCAN_CHARS
        span = barscan.find_bars(payload)
        assert span is not None
        cut = barscan.cut_bars(payload, *span)
        assert cut is not None and cut.count == 800 and cut.width == width
        scanned, reference = _both(payload)
        assert scanned == reference
        assert scanned["series"][0]["bars"]["index"][:2] == [-800, -799]


def test_the_bars_end_is_found_from_the_time_scale_and_checked() -> None:
    history = _history(_points(800))
    cut = barscan.cut_payload(history)
    assert cut is not None
    span = (cut.start, cut.end)
    assert span == barscan.find_bars(history) == barscan.find_bars(history, quick=True)
    # A study array between the bars and the time scale: the quick end is the study's, that
    # span is refused, and the forward search finds the bars' own end.
    study = ',"st1":{"st":[{"i":0,"v":[60.0,1.5]}],"t":"s1"}'
    cut = history.index(',{"index":7')
    with_study = history[: cut - 1] + study + history[cut - 1 :]
    quick = barscan.find_bars(with_study, quick=True)
    forward = barscan.find_bars(with_study)
    assert quick is not None and forward is not None and quick[1] > forward[1]
    assert barscan.cut_bars(with_study, *quick) is None
    scanned = barscan.cut_payload(with_study)
    assert scanned is not None and (scanned.start, scanned.end) == forward
    event, reference = _both(with_study)
    assert event == reference
    # Without a time scale there is no quick end; the forward search alone decides.
    assert barscan.find_bars(history[: history.index(',{"index":7')] + "]}", quick=True) is None


def test_scanned_columns_are_writable_contiguous_arrays() -> None:
    event = decode_message(_history(_points(800)))
    assert isinstance(event, TimescaleUpdate)
    bars = event.series[0].bars
    for name in _COLS:
        column = getattr(bars, name)
        assert column.flags.writeable and column.flags.c_contiguous
    assert bars.index.dtype == np.int64 and bars.close.dtype == np.float64


_BAD_BARS = {
    "a string value": '{"i":1,"v":[60.0,"1",2,3,4,5]}',
    "a null value": '{"i":1,"v":[60.0,null,2,3,4,5]}',
    "NaN": '{"i":1,"v":[60.0,NaN,2,3,4,5]}',
    "Infinity": '{"i":1,"v":[60.0,Infinity,2,3,4,5]}',
    "a float index": '{"i":1.5,"v":[60.0,1,2,3,4,5]}',
    "a missing value": '{"i":1,"v":[60.0,,2,3,4,5]}',
    "seven values": '{"i":1,"v":[60.0,1,2,3,4,5,6]}',
    "four values": '{"i":1,"v":[60.0,1,2,3]}',
    "an extra key": '{"i":1,"v":[60.0,1,2,3,4,5],"x":1}',
    "keys swapped": '{"v":[60.0,1,2,3,4,5],"i":1}',
    "whitespace": '{"i": 1, "v": [60.0, 1, 2, 3, 4, 5]}',
    "a nested array": '{"i":1,"v":[[60.0],1,2,3,4,5]}',
    "a broken number": '{"i":1,"v":[60.0,1-2,2,3,4,5]}',
    "a double minus": '{"i":1,"v":[60.0,--1,2,3,4,5]}',
    "an empty object": "{}",
    "a unicode key": '{"i":1,"v\u00e9":[60.0,1,2,3,4,5]}',
}


@pytest.mark.parametrize("bad", _BAD_BARS.values(), ids=list(_BAD_BARS))
def test_a_bar_the_scan_does_not_know_is_decoded_as_json_would(
    bad: str,
) -> None:
    good = orjson.dumps(_points(400)).decode()[1:-1]
    text = _history([]).replace('"s":[]', f'"s":[{good},{bad},{good}]')
    assert len(text) >= barscan.MIN_SCAN_CHARS
    scanned, reference = _both(text)
    assert scanned == reference


def test_mixed_widths_fall_back_to_json_which_refuses_them() -> None:
    points = [*_points(400, 6), {"i": 0, "v": [1.0, 2, 3, 4, 5]}]
    scanned, reference = _both(_history(points))
    assert scanned == reference
    assert scanned[0] == "error" and "malformed bar" in scanned[1]


@pytest.mark.parametrize(
    ("spelling", "value"), [("+1", 1.0), (".5", 0.5), ("5.", 5.0), ("01", 1.0)]
)
def test_number_spellings_json_refuses_are_read_as_the_numbers_they_spell(
    spelling: str, value: float
) -> None:
    # Documented leniency: Arrow's number parser reads these; JSON refuses the message.
    text = _history(_points(400)).replace('"v":[0.0,1.5,', f'"v":[0.0,{spelling},', 1)
    with _json_only():
        assert _outcome(text)[0] == "error"
    event = decode_message(text)
    assert isinstance(event, TimescaleUpdate)
    assert event.series[0].bars.open[0] == value


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace('"marks":[[30,', '"marks":[["30",', 1),  # a string among the marks
        lambda t: t.replace('"changes":[0.0,', '"changes":[0.0,]', 1),  # a broken array
        # A stray array after the marks: the search back from the end would take both.
        lambda t: t.replace('],"index_diff"', '],[[1]],"index_diff"', 1),
        lambda t: t.replace('"index_diff":[]', '"index_diff":[[1]]', 1),  # a later `]]`
        lambda t: t.replace('"marks":[[30,', '"marks":[[[30],', 1),  # marks nested deeper
        lambda t: t.replace('"index":7', '"index":"7"'),  # a bad field that is read
        lambda t: t.replace('"sds_1":{', '"sds_1":[', 1),  # a series that is not an object
        lambda t: t[:-2],  # truncated JSON
        lambda t: t.replace('"m":"timescale_update"', '"m":"du"'),  # the same body as a du
        lambda t: t.replace('"m":"timescale_update"', '"m":"series_loading"'),
    ],
)
def test_everything_around_the_bars_is_checked_as_json_checks_it(
    mangle: Any,
) -> None:
    text = mangle(_history(_points(400)))
    scanned, reference = _both(text)
    assert scanned == reference


def test_two_series_in_one_message_both_decode() -> None:
    first = orjson.dumps({"s": _points(300), "t": "s1"}).decode()
    second = orjson.dumps({"s": _points(200, 5), "t": "s2"}).decode()
    text = f'{{"m":"du","p":["cs_x",{{"sds_1":{first},"sds_2":{second}}}]}}'
    scanned, reference = _both(text)
    assert scanned == reference
    assert [len(s["bars"]["index"]) for s in scanned["series"]] == [300, 200]
    event = decode_message(text)
    assert isinstance(event, DataUpdate)


def test_unread_arrays_are_skipped_only_when_they_hold_numbers() -> None:
    text = '{"changes":[1.0,"x"],"marks":[[30,1,0],[30,2,1]]}'
    assert [text[a:b] for a, b in barscan.find_unread(text, 0)] == ["[[30,1,0],[30,2,1]]"]
    assert barscan.find_unread('{"marks":[[1,[2]]}', 0) == []  # unbalanced: left to JSON
    # Searched back from the end, the marks' `]]` is the last one; where it is not, the
    # candidate fails the shape check and the forward search decides.
    later = '{"marks":[[30,1,0]],"index_diff":[[2,3]]}'
    assert [later[a:b] for a, b in barscan.find_unread(later, 0)] == ["[[30,1,0]]"]
    # Two arrays one after the other are not one array of arrays.
    assert barscan.find_unread('{"marks":[[1],[2]],[[3]]}', 0) == [(9, 18)]
    assert barscan.find_unread('{"marks":[[1],[2]],[[3]}', 0) == [(9, 18)]
    assert barscan.find_unread('{"marks":[],"x":1}', 0) == []  # empty: nothing to skip


def _numbers(int_bound: int, min_size: int) -> st.SearchStrategy[list[float]]:
    """A bar's values: any finite floats and integers up to ``int_bound``."""
    number = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-int_bound, max_value=int_bound),
    )
    return st.lists(number, min_size=min_size, max_size=6)


_INDEXES = st.integers(min_value=-(2**62), max_value=2**62)


@settings(max_examples=60, deadline=None)
@given(
    width=st.sampled_from([5, 6]),
    values=_numbers(2**53, 6),  # orjson, which writes these payloads, stops at 64 bits
    index=_INDEXES,
)
def test_any_numbers_scan_to_the_values_json_gives(
    width: int, values: list[float], index: int
) -> None:
    points = _points(400, width)
    points[17] = {"i": index, "v": values[:width]}
    scanned, reference = _both(_history(points))
    assert scanned == reference


def test_every_capture_decodes_the_same_with_and_without_the_scan(captures_dir: Path) -> None:
    payloads = []
    for path in sorted(captures_dir.glob("*.ws.jsonl")):
        decoder = FrameDecoder()
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["dir"] == "server->client":
                payloads += [p for p in decoder.feed(row["data"]) if not isinstance(p, Heartbeat)]
    big = [p for p in payloads if len(p) >= barscan.MIN_SCAN_CHARS and '"s":[{' in p]
    assert big, "the captures hold history answers big enough to be scanned"
    assert any(barscan.find_bars(p) for p in big)
    for payload in big:
        scanned, reference = _both(payload)
        assert scanned == reference


# --- du updates ----------------------------------------------------------------------------


def _du(objects: dict[str, Any], session: Any = "cs_x") -> str:
    # The stdlib encoder, compact: it writes integers of any size, as a server may.
    return json.dumps({"m": "du", "p": [session, objects]}, separators=(",", ":"))


def _live(v: list[Any], **extra: Any) -> dict[str, Any]:
    obj = {"node": "n", "s": [{"i": 41, "v": v}], "ns": {"d": "", "indexes": "nochange"}}
    return obj | {"t": "s1", "lbs": {"bar_close_time": 1793631660}} | extra


_ROW = [1793631600.0, 5.01, 5.02, 5.0, 5.015, 123456.0]
_DU_CASES = {
    "one bar": _du({"sds_1": _live(_ROW)}),
    "no volume": _du({"sds_1": _live(_ROW[:5])}),
    "integers": _du({"sds_1": _live([60, 1, 2, 0, 1, 7])}),
    "a huge integer": _du({"sds_1": _live([60, 1, 2, 0, 1, 10**30])}),
    "closed and forming": _du(
        {"sds_1": {"s": [{"i": 1, "v": _ROW}, {"i": 2, "v": _ROW}], "t": "s1"}}
    ),
    "two series": _du({"sds_1": _live(_ROW), "sds_2": _live(_ROW[:5], t="s2")}),
    "with study points": _du({"sds_1": _live(_ROW), "st1": {"st": [{"i": 41, "v": [1, 2]}]}}),
    "study null": _du({"sds_1": _live(_ROW), "st1": {"st": None}}),
    "no bars key": _du({"sds_1": {"t": "s1"}}),
    "empty bars": _du({"sds_1": _live(_ROW) | {"s": []}}),
    "bars null": _du({"sds_1": _live(_ROW) | {"s": None}}),
    "a bool value": _du({"sds_1": _live([60, True, 2, 0, 1, 7])}),
    "a string value": _du({"sds_1": _live([60, "1", 2, 0, 1, 7])}),
    "a null value": _du({"sds_1": _live([60, None, 2, 0, 1, 7])}),
    "four values": _du({"sds_1": _live(_ROW[:4])}),
    "seven values": _du({"sds_1": _live([*_ROW, 1.0])}),
    "a float index": _du({"sds_1": {"s": [{"i": 1.0, "v": _ROW}]}}),
    "a string index": _du({"sds_1": {"s": [{"i": "1", "v": _ROW}]}}),
    "turnaround not a string": _du({"sds_1": _live(_ROW, t=5)}),
    "close time a string": _du({"sds_1": _live(_ROW, lbs={"bar_close_time": "x"})}),
    "close time a bool": _du({"sds_1": _live(_ROW, lbs={"bar_close_time": True})}),
    "lbs a list": _du({"sds_1": _live(_ROW, lbs=[1])}),
    "an object not a dict": _du({"sds_1": [1, 2]}),
    "objects a list": '{"m":"du","p":["cs_x",[1]]}',
    "session not a string": _du({"sds_1": _live(_ROW)}, session=7),
    "three params": '{"m":"du","p":["cs_x",{},{}]}',
    "one param": '{"m":"du","p":["cs_x"]}',
    "not JSON": '{"m":"du","p":["cs_x",{"sds_1":',
    "a duplicate bars key": (
        '{"m":"du","p":["cs_x",{"sds_1":{"s":[{"i":1,"v":[1,2,3,4,5]}],"s":[]}}]}'
    ),
    "extra top-level keys": _du({"sds_1": _live(_ROW)})[:-1] + ',"t":1793631600,"t_ms":1}',
}


@pytest.mark.parametrize("payload", _DU_CASES.values(), ids=list(_DU_CASES))
def test_every_du_decodes_as_json_would(payload: str) -> None:
    scanned, reference = _both(payload)
    assert scanned == reference


_TYPED = ("one bar", "no volume", "integers", "closed and forming", "two series", "no bars key")
_FALLBACK = ("with study points", "study null", "bars null", "a bool value", "four values")


def test_plain_updates_take_the_typed_path_and_the_rest_fall_back() -> None:
    assert all(decode_du(_DU_CASES[name]) is not None for name in _TYPED)
    assert all(decode_du(_DU_CASES[name]) is None for name in _FALLBACK)


def test_a_plain_du_takes_the_typed_path_and_keeps_rows() -> None:
    payload = _DU_CASES["closed and forming"]
    assert payload.startswith(messages.DU_PREFIX)
    event = decode_message(payload)
    assert isinstance(event, DataUpdate)
    bars = event.series[0].bars
    assert bars.rows() == [tuple(_ROW), tuple(_ROW)] and bars.index.tolist() == [1, 2]


@settings(max_examples=100, deadline=None)
@given(values=_numbers(2**70, 5), index=_INDEXES)
def test_any_numbers_in_a_du_decode_as_json_would(values: list[float], index: int) -> None:
    payload = _du({"sds_1": {"s": [{"i": index, "v": values}], "t": "s1"}})
    scanned, reference = _both(payload)
    assert scanned == reference
