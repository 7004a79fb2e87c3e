"""Hostile input: the protocol core raises FramingError or MessageError (or skips), nothing else.

Bounded: about 200 examples per property, no deadline (CI machines vary).
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.faults.figures import Figures, open_figures
from tvframe.bars import merge_bars
from tvframe.errors import FramingError, MessageError
from tvframe.models import SymbolInfo
from tvframe.protocol import (
    Connection,
    CriticalErrorEvent,
    DataUpdate,
    FrameDecoder,
    Heartbeat,
    SeriesErrorEvent,
    SymbolResolved,
    TimescaleUpdate,
    decode_message,
    encode_frame,
)
from tvframe.protocol.framing import DEFAULT_MAX_MESSAGE

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
METHODS = [
    "timescale_update", "du", "symbol_resolved", "series_loading", "series_completed",
    "series_timeframe", "series_error", "symbol_error", "study_loading", "study_completed",
    "study_deleted", "study_error", "critical_error", "protocol_error", "qsd",
    "quote_completed", "tickmark_update", "replay_point",
]  # fmt: skip

# Text made of protocol fragments reaches the decoder's deeper branches far more often
# than uniformly random text does.
_TOKENS = st.sampled_from(
    ["~m~", "~h~", "~", "m", "~m", "0", "1", "4", "12", "99999999999", "{}", '{"m":"du"}',
    "😀", "한", "\x00", " "]
)  # fmt: skip
protocolish_text = st.one_of(st.text(max_size=200), st.lists(_TOKENS, max_size=40).map("".join))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["i", "v", "s", "st", "t", "n", "lbs", "x"]), children,
                      max_size=5),
    max_leaves=30,
)  # fmt: skip


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


def decode_chunks(chunks: list[str]) -> list[str | Heartbeat] | FramingError:
    """Items decoded from the chunks in turn, or the FramingError that stopped them."""
    decoder = FrameDecoder()
    items: list[str | Heartbeat] = []
    try:
        for chunk in chunks:
            items += decoder.feed(chunk)
    except FramingError as exc:
        return exc
    return items


def check_connection(chunks: list[str]) -> None:
    """Feed a Connection: only FramingError may escape, and when none does, every framed
    message is either an event or a counted skip, and every heartbeat is echoed."""
    conn = Connection()
    try:
        for chunk in chunks:
            conn.receive(chunk)
    except FramingError:
        assert isinstance(decode_chunks(chunks), FramingError)
        return
    items = decode_chunks(chunks)
    assert isinstance(items, list)
    assert len(conn.events()) + conn.skipped == len(items)
    heartbeats = [item.frame for item in items if isinstance(item, Heartbeat)]
    assert conn.data_to_send() == heartbeats


@FUZZ
@given(protocolish_text, st.lists(st.integers(min_value=0), max_size=8))
def test_arbitrary_text_in_arbitrary_chunks(text: str, cuts: list[int]) -> None:
    whole = decode_chunks([text])
    pieces = decode_chunks(chunked(text, cuts))
    # Chunking never changes the outcome: same items, or a FramingError either way.
    if isinstance(whole, FramingError):
        assert isinstance(pieces, FramingError)
    else:
        assert pieces == whole


@FUZZ
@given(protocolish_text, st.lists(st.integers(min_value=0), max_size=8))
def test_connection_survives_arbitrary_text(text: str, cuts: list[int]) -> None:
    check_connection(chunked(text, cuts))


@FUZZ
@given(
    st.lists(json_values.map(lambda v: orjson.dumps(v).decode()), min_size=1, max_size=5),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_valid_frames_of_arbitrary_json_round_trip(payloads: list[str], cuts: list[int]) -> None:
    text = "".join(encode_frame(p) for p in payloads)
    assert decode_chunks(chunked(text, cuts)) == payloads


@FUZZ
@given(
    st.lists(st.text().filter(lambda t: not t.startswith("~h~")), min_size=1, max_size=5),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_valid_frames_of_arbitrary_text_round_trip(payloads: list[str], cuts: list[int]) -> None:
    text = "".join(encode_frame(p) for p in payloads)
    assert decode_chunks(chunked(text, cuts)) == payloads


@FUZZ
@given(st.sampled_from(METHODS), st.lists(json_values, max_size=6))
def test_any_json_params_decode_or_raise_message_error(method: str, params: list[Any]) -> None:
    payload = orjson.dumps({"m": method, "p": params}).decode()
    try:
        decode_message(payload)
    except MessageError as exc:
        assert str(exc).startswith(f"{method}: ")


@FUZZ
@given(st.integers(min_value=DEFAULT_MAX_MESSAGE + 1, max_value=10**10 - 1))
def test_huge_declared_length_rejected(length: int) -> None:
    with pytest.raises(FramingError, match="max_message"):
        FrameDecoder().feed(f"~m~{length}~m~{{")


def test_huge_declared_length_allocates_nothing() -> None:
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        with pytest.raises(FramingError):
            decoder.feed("~m~9999999999~m~x")
        accepted = FrameDecoder()
        accepted.feed(f"~m~{DEFAULT_MAX_MESSAGE}~m~x")  # allowed, but only buffered
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert accepted.buffered == len(f"~m~{DEFAULT_MAX_MESSAGE}~m~x")
    assert peak < 1_000_000


@pytest.mark.parametrize("depth", [100_000, 1_030])
def test_deep_nesting_is_a_message_error(depth: int) -> None:
    with pytest.raises(MessageError):
        decode_message("[" * depth)
    with pytest.raises(MessageError):
        decode_message('{"m":"du","p":' + "[" * depth + "]" * depth + "}")


@pytest.mark.parametrize("method", METHODS)
def test_nesting_just_under_the_json_limit_is_a_message_error(method: str) -> None:
    # orjson accepts ~1 000 levels, more than repr() can recurse through: error messages
    # that quote such a value must still come out as MessageError, not RecursionError.
    deep = "[" * 1000 + "]" * 1000
    payload = f'{{"m":"{method}","p":[{deep},{deep},{{"error":{deep}}},{deep},{deep}]}}'
    try:
        decode_message(payload)
    except MessageError as exc:
        assert method in str(exc)


def test_deep_nesting_through_a_connection_is_skipped() -> None:
    conn = Connection()
    conn.receive(encode_frame("[" * 100_000) + encode_frame('{"m":"du","p":["cs",{}]}'))
    assert conn.skipped == 1
    assert len(conn.events()) == 1


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    for kind, where, char in edits:
        i = where % (len(text) + 1)
        if kind == 0:
            text = text[:i] + char + text[i:]
        elif kind == 1:
            text = text[:i] + text[i + 1 :]
        elif kind == 2:
            text = text[:i] + char + text[i + 1 :]
        else:
            text = text[:i] + text[i : i + 8] + text[i:]
    return text


edits_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),
        st.integers(min_value=0),
        st.sampled_from(list('~m0123456789{}[]",:.-e+hx😀한 ')),
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture(scope="module")
def small_real_frames(real_frames: list[str]) -> list[str]:
    # Big bar frames only slow the fuzzer down; their shapes recur in the small ones.
    return [f for f in real_frames if len(f) <= 20_000]


@FUZZ
@given(data=st.data())
def test_mutated_real_frames(small_real_frames: list[str], data: st.DataObject) -> None:
    frame = data.draw(st.sampled_from(small_real_frames))
    edits = data.draw(edits_strategy)
    cuts = data.draw(st.lists(st.integers(min_value=0), max_size=4))
    check_connection(chunked(_mutate(frame, edits), cuts))


@FUZZ
@given(data=st.data())
def test_mutated_real_payloads_keep_framing(
    small_real_frames: list[str], data: st.DataObject
) -> None:
    # Mutating the payload and re-framing it reaches the message decoders every time.
    frame = data.draw(st.sampled_from(small_real_frames))
    payload = frame[frame.index("~m~", 3) + 3 :]
    mutated = _mutate(payload, data.draw(edits_strategy))
    assume(not mutated.startswith("~h~"))
    conn = Connection()
    conn.receive(encode_frame(mutated) + encode_frame(payload))
    events = conn.events()
    assert len(events) + conn.skipped == 2
    assert conn.skipped <= 1


# --- wrong types in every field of every server message kind (issue 7) -------------------

# Kinds no capture holds, in the shapes of protocol.md §6.
HAND_MADE = [
    '{"m":"series_error","p":["cs_x","sds_1","s1","resolve error","undefined"]}',
    '{"m":"series_error","p":["cs_x","sds_1","s1",{"error":"bad {a}","ctx":{"a":"x"}},"n"]}',
    '{"m":"symbol_error","p":["cs_x","sds_sym_1","permission denied","group","economics_paid"]}',
    '{"m":"study_error","p":["cs_x","st1","s1_st1",{"error":"{e}","ctx":{"e":1}},"undefined"]}',
    '{"m":"study_deleted","p":["cs_x","st1","s1_st1"],"t":1,"t_ms":1000}',
]
# Values of every JSON type, and nesting; a value of the field's own type is skipped.
WRONG: list[Any] = [
    None, True, 0, -1, 2**63, 1.5, 1e308, "", "x", "~m~1~m~x", [], [0], {}, {"a": {}},
    [[[[[[[[[[]]]]]]]]]],
]  # fmt: skip
_TRIM = 3  # list elements kept per list: enough to reach every element shape


def _trim(value: Any) -> Any:
    if isinstance(value, list):
        return [_trim(v) for v in value[:_TRIM]]
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items()}
    return value


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path to every node below ``value`` (dict keys and list indexes)."""
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    out: list[tuple[Any, ...]] = []
    for key, child in items:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    copy = orjson.loads(orjson.dumps(value))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return copy


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _shape(payload: str) -> tuple[str, bool, bool]:
    obj = orjson.loads(payload)
    method = obj.get("m") if isinstance(obj.get("m"), str) else "hello"
    return method, '"s":[{' in payload, '"st":[{' in payload


@pytest.fixture(scope="module")
def server_samples(real_frames: list[str]) -> list[str]:
    """The smallest captured payload of each server message kind and shape (series bars,
    study points), trimmed, plus the hand-made kinds; what the client sends is left out."""
    smallest: dict[tuple[str, bool, bool], str] = {}
    for frame in real_frames:
        items = FrameDecoder().feed(frame)
        for item in items:
            if not isinstance(item, str) or not item.startswith("{"):
                continue
            shape = _shape(item)
            if shape[0] not in (*METHODS, "hello"):
                continue
            if shape not in smallest or len(item) < len(smallest[shape]):
                smallest[shape] = item
    trimmed = [orjson.dumps(_trim(orjson.loads(p))).decode() for p in smallest.values()]
    return trimmed + HAND_MADE


def consume(event: Any) -> None:
    """What the client and its streams do with an event once decoded (client.py, stream.py)."""
    if isinstance(event, SymbolResolved):
        SymbolInfo.from_server(event.info)
    elif isinstance(event, (TimescaleUpdate, DataUpdate)):
        merged = merge_bars([s.bars for s in event.series])
        assert merged.time.dtype == np.float64 and bool(np.all(np.diff(merged.time) > 0))
        for points in event.studies:
            assert points.values.ndim == 2
    names: tuple[str, ...] = ("reason", "session", "key", "update_mode")
    if isinstance(event, CriticalErrorEvent):
        names += ("info",)
    for name in names:
        value = getattr(event, name, "")
        assert isinstance(value, str), (name, value)


def test_wrong_types_in_every_field_of_every_server_message_kind(
    server_samples: list[str], figures: Figures
) -> None:
    kinds = {_shape(p)[0] for p in server_samples}
    assert kinds >= set(METHODS) - {"replay_point"} | {"hello"}, sorted(kinds)
    cases = decoded = rejected = 0
    for payload in server_samples:
        original = orjson.loads(payload)
        for path in _paths(original):
            current = _get(original, path)
            for wrong in WRONG:
                if type(wrong) is type(current):
                    continue
                mutated = orjson.dumps(_replaced(original, path, wrong)).decode()
                cases += 1
                try:
                    event = decode_message(mutated)
                except MessageError:
                    rejected += 1
                    continue
                consume(event)
                decoded += 1
                conn = Connection()
                conn.receive(encode_frame(mutated))
                assert len(conn.events()) == 1 and conn.skipped == 0
    assert cases > 3000 and rejected > 500 and decoded > 500
    figures.record(
        "wrong type in every field of every server message kind (captures + §6 shapes)",
        kinds=len(kinds), samples=len(server_samples), cases=cases,
        message_errors=rejected, decoded_and_consumed=decoded,
    )  # fmt: skip


def test_every_truncation_of_every_kind_is_buffered_or_a_framing_error(
    server_samples: list[str], figures: Figures
) -> None:
    cuts = 0
    for payload in server_samples:
        frame = encode_frame(payload)
        follower = encode_frame('{"m":"quote_completed","p":["qs_a","X:Y"]}')
        for cut in range(1, len(frame)):
            cuts += 1
            conn = Connection()
            conn.receive(frame[:cut])  # the rest never comes: nothing is decoded, all held
            assert conn.events() == [] and conn.skipped == 0
            try:  # the next message lands inside the cut one: misread, never mis-typed
                conn.receive(follower)
            except FramingError:
                continue
            events = conn.events()
            assert len(events) + conn.skipped <= 2
    figures.record(
        "every truncation of every server message kind, then another message",
        truncations=cuts,
    )


def test_a_reason_template_cannot_expand_beyond_its_message() -> None:
    ctx = {"a": "{b}" * 10, "b": "{c}" * 10, "c": "{d}" * 10, "d": "x"}
    reason = {"error": "{a}" * 10, "ctx": ctx}
    payload = orjson.dumps({"m": "series_error", "p": ["cs", "s", "t", reason]}).decode()
    tracemalloc.start()
    try:
        event = decode_message(payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(event, SeriesErrorEvent)
    # Four chained placeholders already make 10**4 characters out of a 200-character message.
    assert len(event.reason) <= 10 * len(payload), f"{len(event.reason)} characters"
    assert peak < 1_000_000


def test_a_message_split_into_small_frames_decodes_in_linear_time() -> None:
    text = encode_frame("x" * (4 << 20))

    def best_of_two(chunk: int) -> float:
        best = math.inf
        for _ in range(2):
            decoder = FrameDecoder()
            started = time.perf_counter()
            for i in range(0, len(text), chunk):
                decoder.feed(text[i : i + chunk])
            best = min(best, time.perf_counter() - started)
        return best

    whole, split = best_of_two(len(text)), best_of_two(4096)
    # 1 024 frames of 4 KiB: linear work is a few times one whole feed; copying the
    # growing buffer on every feed makes it a hundred times or more.
    assert split < 20 * whole + 0.05, (whole, split)


@pytest.mark.parametrize("body", ["x" * (4 << 20), ("é😀" + "x" * 1021) * 1024])
def test_a_message_split_into_many_frames_is_copied_a_bounded_number_of_times(body: str) -> None:
    # Counted, not timed: 64 and 4 096 pieces of a 4 MiB message copy no more than twice its
    # size in all, as one piece does; re-joining the buffer per feed would copy ~32x and ~2048x.
    text = encode_frame(body)
    copies: dict[int, int] = {}
    for pieces in (1, 64, 4096):
        decoder = FrameDecoder()
        step = -(-len(text) // pieces)
        got = [p for i in range(0, len(text), step) for p in decoder.feed(text[i : i + step])]
        assert got == [body] and decoder.buffered == 0
        copies[pieces] = decoder.copied
    assert copies[1] == 0
    assert copies[64] <= 2 * len(text) and copies[4096] <= 2 * len(text), copies


@pytest.fixture
def figures(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Figures]:
    """Figures for docs/reliability.md (see tests/faults/conftest.py)."""
    yield from open_figures(request, tmp_path_factory)
