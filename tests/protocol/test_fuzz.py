"""Hostile input: the protocol core raises FramingError or MessageError (or skips), nothing else.

Bounded: about 200 examples per property, no deadline (CI machines vary).
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tvframe.errors import FramingError, MessageError
from tvframe.protocol import Connection, FrameDecoder, Heartbeat, decode_message, encode_frame
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
