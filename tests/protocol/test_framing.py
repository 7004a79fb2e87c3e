"""``~m~<len>~m~`` framing: round trips, split and batched frames, UTF-16 lengths, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvframe.errors import FramingError
from tvframe.protocol import Connection, FrameDecoder, Heartbeat, encode_frame, encode_heartbeat
from tvframe.protocol.framing import utf16_len

KOREAN = "삼성전자보통주"
EMOJI = "📈😀"
PAYLOADS = [
    '{"m":"quote_completed","p":["qs_1","NASDAQ:AAPL"]}',
    '{"m":"qsd","p":["qs_1",{"n":"KRX:005930","s":"ok","v":{"d":"' + KOREAN + '"}}]}',
    '{"m":"x","p":["' + EMOJI + 'tail"]}',
    "",
]


def decode_all(*chunks: str) -> list[str | Heartbeat]:
    decoder = FrameDecoder()
    out = [item for chunk in chunks for item in decoder.feed(chunk)]
    assert decoder.buffered == 0
    return out


@pytest.mark.parametrize("payload", PAYLOADS)
def test_round_trip(payload: str) -> None:
    assert decode_all(encode_frame(payload)) == [payload]


def test_encode_frame_declares_utf16_units() -> None:
    assert encode_frame("abc") == "~m~3~m~abc"
    assert encode_frame(KOREAN) == f"~m~7~m~{KOREAN}"
    assert encode_frame(EMOJI) == f"~m~4~m~{EMOJI}"


@pytest.mark.parametrize(
    ("text", "units"), [("", 0), ("abc", 3), (KOREAN, 7), ("😀", 2), ("a😀b", 4), ("é", 1)]
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


def test_several_messages_in_one_frame() -> None:
    text = "".join(encode_frame(p) for p in PAYLOADS) + encode_heartbeat(3)

    assert decode_all(text) == [*PAYLOADS, Heartbeat(3, "~m~4~m~~h~3")]


def test_message_split_at_every_offset() -> None:
    # Non-ASCII and a heartbeat inside, so both length paths and heartbeats are cut too.
    text = encode_frame(PAYLOADS[1]) + encode_heartbeat(12) + encode_frame(PAYLOADS[2])
    expected = decode_all(text)
    assert len(expected) == 3
    for cut in range(len(text) + 1):
        assert decode_all(text[:cut], text[cut:]) == expected, cut


def test_message_split_at_every_pair_of_offsets() -> None:
    # Short, so every cut inside the prefix digits and inside each "~m~" is covered twice.
    text = encode_frame("{}") + encode_frame('"' + "x" * 10 + '"')
    expected = ["{}", '"xxxxxxxxxx"']
    for a in range(len(text) + 1):
        for b in range(a, len(text) + 1):
            assert decode_all(text[:a], text[a:b], text[b:]) == expected, (a, b)


def test_one_character_at_a_time() -> None:
    text = "".join(encode_frame(p) for p in PAYLOADS)
    assert decode_all(*text) == PAYLOADS


@pytest.mark.parametrize("partial", ["~", "~m", "~m~", "~m~1", "~m~12~", "~m~12~m", "~m~12~m~{"])
def test_incomplete_tail_is_buffered_not_an_error(partial: str) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame("{}") + partial) == ["{}"]
    assert decoder.buffered == len(partial)


def test_heartbeat_alone() -> None:
    assert decode_all("~m~4~m~~h~1") == [Heartbeat(1, "~m~4~m~~h~1")]


def test_heartbeat_ten_has_length_five() -> None:
    assert encode_heartbeat(10) == "~m~5~m~~h~10"
    assert decode_all("~m~5~m~~h~10") == [Heartbeat(10, "~m~5~m~~h~10")]


def test_heartbeats_batched_with_data() -> None:
    text = encode_heartbeat(9) + encode_frame("{}") + encode_heartbeat(10)
    assert decode_all(text) == [
        Heartbeat(9, "~m~4~m~~h~9"),
        "{}",
        Heartbeat(10, "~m~5~m~~h~10"),
    ]


def test_connection_echoes_each_heartbeat_alone_before_queued_calls() -> None:
    conn = Connection()
    conn.send("set_locale", ["en", "US"])
    conn.receive(encode_heartbeat(9) + encode_heartbeat(10))

    assert [e.number for e in conn.events() if isinstance(e, Heartbeat)] == [9, 10]
    assert conn.data_to_send() == [
        "~m~4~m~~h~9",
        "~m~5~m~~h~10",
        '~m~34~m~{"m":"set_locale","p":["en","US"]}',
    ]
    assert conn.data_to_send() == []


@pytest.mark.parametrize("text", ["~m~4~m~~h~x", "~m~3~m~~h~", "~m~5~m~~h~-1"])
def test_malformed_heartbeat(text: str) -> None:
    with pytest.raises(FramingError, match="heartbeat"):
        FrameDecoder().feed(text)


def test_utf16_length_astral_then_next_frame() -> None:
    # Counting code points (1 per emoji) would swallow the next frame's "~m~".
    text = f"~m~4~m~{EMOJI}~m~2~m~{{}}"
    assert decode_all(text) == [EMOJI, "{}"]


def test_utf16_length_korean() -> None:
    # Korean is 3 UTF-8 bytes a character but one UTF-16 unit.
    payload = '{"d":"' + KOREAN + '"}'
    text = f"~m~{len(payload)}~m~{payload}~m~2~m~{{}}"
    assert decode_all(text) == [payload, "{}"]


def test_utf16_length_astral_split_around_the_emoji() -> None:
    text = f"~m~6~m~a{EMOJI}b" + encode_frame("{}")
    for cut in range(len(text) + 1):
        assert decode_all(text[:cut], text[cut:]) == [f"a{EMOJI}b", "{}"], cut


@pytest.mark.parametrize("text", ["~m~1~m~😀", "~m~2~m~a😀b", "~m~3~m~😀😀"])
def test_declared_length_inside_surrogate_pair(text: str) -> None:
    with pytest.raises(FramingError, match="surrogate pair at offset 7") as info:
        FrameDecoder().feed(text)
    assert info.value.position == 7


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("~m~x~m~{}", 0),
        ("~m~~m~{}", 0),
        ("~m~-2~m~{}", 0),
        ("~m~\u0661~m~x", 0),  # an Arabic-Indic digit: a digit to str.isdigit, not to us
        ("~m~12345678901~m~", 0),
        ('{"m":"x","p":[]}', 0),
        ("~x~2~m~{}", 0),
        ("garbage~m~2~m~{}", 0),
        ("~m~2~m~{}junk~m~2~m~{}", 9),
        ("~m~2~m~{}~m~2x~m~{}", 9),
        ("~m~2~m~{}~h~3", 9),
    ],
)
def test_malformed_prefix_names_the_offset(text: str, offset: int) -> None:
    with pytest.raises(FramingError, match=f"offset {offset}\\b") as info:
        FrameDecoder().feed(text)
    assert info.value.position == offset


def test_error_offset_counts_from_the_buffered_text() -> None:
    decoder = FrameDecoder()
    assert decoder.feed("~m~2~m~") == []
    with pytest.raises(FramingError, match="offset 9") as info:
        decoder.feed("{}?")
    assert info.value.position == 9


def test_max_message_rejects_the_prefix_before_the_payload_arrives() -> None:
    decoder = FrameDecoder(max_message=10)
    assert decoder.feed(encode_frame("x" * 10)) == ["x" * 10]
    with pytest.raises(FramingError, match="max_message=10"):
        decoder.feed("~m~11~m~")


def test_max_buffer() -> None:
    decoder = FrameDecoder(max_buffer=20)
    decoder.feed("~m~100~m~" + "x" * 11)  # 20 buffered: at the limit
    assert decoder.buffered == 20
    with pytest.raises(FramingError, match="max_buffer=20"):
        decoder.feed("x")


def test_connection_passes_limits_to_its_decoder() -> None:
    with pytest.raises(FramingError, match="max_message=5"):
        Connection(max_message=5).receive("~m~6~m~")
    with pytest.raises(FramingError, match="max_buffer=8"):
        Connection(max_buffer=8).receive("~m~9~m~xx")


# --- whole frames: one split finds the messages; where it cannot, the scan decides --------


@pytest.mark.parametrize(
    "payloads",
    [
        ['{"a":"~m~5~m~hello"}', "{}"],  # a body that looks like framing
        ['{"a":"x~m~"}', "~m~", "{}"],
        ['{"a":"~h~1"}', "{}"],  # a heartbeat's prefix inside a body
        ["{}", "~m~~h~1"],
    ],
)
def test_marker_inside_a_body(payloads: list[str]) -> None:
    assert decode_all("".join(encode_frame(p) for p in payloads)) == payloads


def test_whole_message_over_max_message_in_one_frame() -> None:
    with pytest.raises(FramingError, match="max_message=10"):
        FrameDecoder(max_message=10).feed(encode_frame("{}") + encode_frame("x" * 11))


def test_leading_zero_length_is_read_as_a_number() -> None:
    assert decode_all("~m~02~m~{}~m~4~m~~h~1") == ["{}", Heartbeat(1, "~m~4~m~~h~1")]


# Bodies made of the framing's own characters; one starting "~h~" would be a heartbeat.
_BODY = st.text(alphabet='~mh09{}"é', max_size=12).filter(lambda t: not t.startswith("~h~"))
_ITEM = st.one_of(_BODY, st.integers(0, 10**6))


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_ITEM, max_size=8), cut=st.floats(0, 1))
def test_any_messages_whole_or_cut(items: list[str | int], cut: float) -> None:
    text = "".join(encode_frame(i) if isinstance(i, str) else encode_heartbeat(i) for i in items)
    expected = [i if isinstance(i, str) else Heartbeat(i, encode_heartbeat(i)) for i in items]
    at = int(cut * len(text))
    assert decode_all(text) == expected
    assert decode_all(text[:at], text[at:]) == expected
