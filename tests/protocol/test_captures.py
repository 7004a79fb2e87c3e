"""Every frame TradingView really sent (``shared/captures``) decodes, with nothing skipped.

Expectations are read off the raw text independently of tvframe: payloads are split with the
regex most peers use and parsed with the standard ``json`` module; the literal counts below
were checked against that reading.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import numpy as np
import orjson
import pytest

from tvframe.protocol import (
    Bars,
    Connection,
    DataUpdate,
    Event,
    Heartbeat,
    Hello,
    QuoteData,
    TimescaleUpdate,
    encode_frame,
    encode_message,
)

HAR_TV = "anjanpoonacha_stock-tools__tv.har.ws.jsonl"
HAR_TC = "anjanpoonacha_stock-tools__trading-chart.har.ws.jsonl"
SERVER = "server->client"
CLIENT = "client->server"
_PREFIX = re.compile(r"~m~(\d+)~m~")
_HEARTBEAT = re.compile(r"~h~(\d+)")

# protocol.md §6: the server method behind each event type.
EVENT_OF_METHOD = {
    "timescale_update": "TimescaleUpdate",
    "du": "DataUpdate",
    "symbol_resolved": "SymbolResolved",
    "series_loading": "SeriesLoading",
    "series_completed": "SeriesCompleted",
    "series_timeframe": "SeriesTimeframe",
    "series_error": "SeriesErrorEvent",
    "symbol_error": "SymbolErrorEvent",
    "study_loading": "StudyLoading",
    "study_completed": "StudyCompleted",
    "study_deleted": "StudyDeleted",
    "study_error": "StudyErrorEvent",
    "critical_error": "CriticalErrorEvent",
    "protocol_error": "ProtocolErrorEvent",
    "qsd": "QuoteData",
    "quote_completed": "QuoteCompleted",
    "tickmark_update": "TickmarkUpdate",
}

HAR_SERVER_COUNTS = {
    HAR_TV: {
        "QuoteData": 49, "StudyLoading": 18, "StudyCompleted": 17, "DataUpdate": 15,
        "QuoteCompleted": 12, "Heartbeat": 9, "TimescaleUpdate": 7, "SeriesLoading": 4,
        "SeriesCompleted": 4, "SymbolResolved": 2, "SeriesTimeframe": 2, "Hello": 1,
        "StudyDeleted": 1,
    },
    HAR_TC: {
        "QuoteData": 736, "QuoteCompleted": 652, "StudyLoading": 12, "StudyCompleted": 12,
        "DataUpdate": 11, "TimescaleUpdate": 5, "SeriesLoading": 2, "SymbolResolved": 2,
        "SeriesCompleted": 2, "Heartbeat": 2, "Hello": 1, "TickmarkUpdate": 1,
    },
}  # fmt: skip
HAR_SERIES = {
    HAR_TV: [("sds_1", 300), ("sds_2", 300), ("sds_2", 232)],
    HAR_TC: [("sds_1", 300), ("sds_2", 300)],
}
HAR_CLIENT_COUNTS = {
    HAR_TV: {"UnknownMessage": 51, "Heartbeat": 9},
    HAR_TC: {"UnknownMessage": 690, "Heartbeat": 2},
}
RS_SOCKET_COUNTS = {
    "SeriesTimeframe": 8, "TimescaleUpdate": 6, "SeriesCompleted": 6, "DataUpdate": 5,
    "StudyCompleted": 5, "QuoteData": 5, "QuoteCompleted": 5, "SymbolResolved": 2,
}  # fmt: skip
RS_SOCKET_SERIES = [
    ("sds_5", 2637), ("sds_2", 2637), ("sds_3", 2637), ("sds_4", 3507), ("sds_7", 368),
    ("sds_6", 2637),
]  # fmt: skip
RS_EVENTS_COUNTS = {
    "StudyLoading": 7, "TimescaleUpdate": 3, "DataUpdate": 3, "StudyCompleted": 3,
    "QuoteData": 2, "SeriesLoading": 1, "SymbolResolved": 1, "SeriesCompleted": 1,
}  # fmt: skip
SNIPPET_COUNTS = {
    "SeriesErrorEvent": 6, "CriticalErrorEvent": 5, "Hello": 4, "StudyErrorEvent": 3,
    "ProtocolErrorEvent": 2, "SymbolErrorEvent": 2, "QuoteData": 2, "DataUpdate": 1,
    "SeriesLoading": 1, "QuoteCompleted": 1, "SeriesCompleted": 1,
}  # fmt: skip


# --- the independent reading of the raw text --------------------------------------------


def raw_payloads(text: str) -> list[str]:
    """Payloads of a framed text, split by regex alone (the declared length is ignored)."""
    pieces = _PREFIX.split(text)
    assert pieces[0] == ""
    return pieces[2::2]


def raw_kind(payload: str) -> str:
    """The event type protocol.md §2/§6 assigns to one raw payload."""
    if payload.startswith("~h~"):
        return "Heartbeat"
    obj = json.loads(payload)
    if "m" not in obj:
        return "Hello"
    return EVENT_OF_METHOD.get(obj["m"], "UnknownMessage")


def raw_objects(messages: Iterable[dict[str, Any]]) -> list[tuple[str, str, list[Any]]]:
    """``(kind 's' or 'st', id, points)`` of every series/study object, in arrival order."""
    found = []
    for msg in messages:
        if msg.get("m") not in ("timescale_update", "du"):
            continue
        for key, obj in msg["p"][1].items():
            kind = "st" if "st" in obj else "s" if "s" in obj else None
            if kind:
                found.append((kind, key, obj[kind]))
    return found


def json_messages(payloads: Iterable[str]) -> list[dict[str, Any]]:
    return [json.loads(p) for p in payloads if not p.startswith("~h~")]


# --- comparing tvframe's events with that reading ----------------------------------------


def decoded_objects(events: Iterable[Event]) -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    for event in events:
        if isinstance(event, TimescaleUpdate | DataUpdate):
            found += [("s", s.series_id, s.bars) for s in event.series]
            found += [("st", s.study_id, s) for s in event.studies]
    return found


def bar_row(bars: Any, k: int) -> list[float]:
    return [float(bars.index[k])] + [
        float(getattr(bars, col)[k]) for col in ("time", "open", "high", "low", "close", "volume")
    ]


def raw_bar_row(point: dict[str, Any]) -> list[float]:
    values = [float(x) for x in point["v"]]
    return [float(point["i"]), *values, *([np.nan] * (6 - len(values)))]


def raw_study_row(point: dict[str, Any]) -> list[float]:
    return [np.nan if x >= 1e100 else float(x) for x in point["v"]]


def assert_objects_match(messages: list[dict[str, Any]], events: list[Event]) -> None:
    """Same objects, same bar/point counts, same first and last values, NaN where raw says."""
    expected = raw_objects(messages)
    actual = decoded_objects(events)
    assert [(k, key, len(points)) for k, key, points in expected] == [
        (k, key, len(obj.index)) for k, key, obj in actual
    ]
    for (kind, key, points), (_, _, obj) in zip(expected, actual, strict=True):
        for k in (0, -1) if points else ():
            if kind == "s":
                np.testing.assert_array_equal(bar_row(obj, k), raw_bar_row(points[k]), key)
            else:
                assert obj.index[k] == points[k]["i"]
                np.testing.assert_array_equal(obj.values[k], raw_study_row(points[k]), key)
        if kind == "s":
            five = sum(len(p["v"]) == 5 for p in points)
            assert int(np.isnan(obj.volume).sum()) == five
        else:
            sentinels = sum(x >= 1e100 for p in points for x in p["v"])
            assert int(np.isnan(obj.values).sum()) == sentinels


def series_counts(events: Iterable[Event]) -> list[tuple[str, int]]:
    return [(key, len(obj.index)) for kind, key, obj in decoded_objects(events) if kind == "s"]


def kinds(events: Iterable[Event]) -> Counter[str]:
    return Counter(type(e).__name__ for e in events)


_BAR_COLUMNS = ("index", "time", "open", "high", "low", "close", "volume")


def canon(value: Any) -> Any:
    """A comparable form of an event: numpy columns compared bit for bit (NaN included)."""
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, Bars):
        return ("Bars", *(canon(getattr(value, name)) for name in _BAR_COLUMNS))
    if isinstance(value, msgspec.Struct):
        names = value.__struct_fields__
        return (type(value).__name__, *(canon(getattr(value, name)) for name in names))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # Heartbeat
        fields = dataclasses.fields(value)
        return (type(value).__name__, *(canon(getattr(value, f.name)) for f in fields))
    if isinstance(value, list | tuple):
        return tuple(canon(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, canon(v)) for k, v in value.items())
    return value


def feed(texts: Iterable[str]) -> tuple[list[Event], Connection]:
    conn = Connection()
    events: list[Event] = []
    for text in texts:
        conn.receive(text)
        events += conn.events()
    return events, conn


# --- the two HAR recordings ---------------------------------------------------------------


@pytest.fixture(params=[HAR_TV, HAR_TC])
def har(request: pytest.FixtureRequest, load_har: Callable[[str], list[dict[str, Any]]]) -> Any:
    return request.param, load_har(request.param)


def test_har_server_frames_decode(har: tuple[str, list[dict[str, Any]]]) -> None:
    name, rows = har
    texts = [r["data"] for r in rows if r["dir"] == SERVER]
    events, conn = feed(texts)
    payloads = [p for t in texts for p in raw_payloads(t)]

    assert conn.skipped == 0
    assert kinds(events) == Counter(raw_kind(p) for p in payloads) == HAR_SERVER_COUNTS[name]
    assert series_counts(events) == HAR_SERIES[name]
    assert_objects_match(json_messages(payloads), events)


def test_har_heartbeats_echo_the_exact_frame(har: tuple[str, list[dict[str, Any]]]) -> None:
    name, rows = har
    conn = Connection()
    numbers = []
    for i, row in enumerate(rows):
        if row["dir"] != SERVER or "~h~" not in row["data"]:
            continue
        conn.receive(row["data"])
        [event] = conn.events()
        assert isinstance(event, Heartbeat)
        assert event.frame == row["data"]
        numbers.append(event.number)
        # The echo is what tvframe would send and what the real web app did send next.
        assert conn.data_to_send() == [row["data"]] == [rows[i + 1]["data"]]
        assert rows[i + 1]["dir"] == CLIENT
    raw_numbers = [
        int(m) for r in rows if r["dir"] == SERVER for m in _HEARTBEAT.findall(r["data"])
    ]
    assert numbers == raw_numbers == list(range(1, HAR_SERVER_COUNTS[name]["Heartbeat"] + 1))


def test_har_hello_fields(har: tuple[str, list[dict[str, Any]]]) -> None:
    _, rows = har
    first = rows[0]["data"]
    [payload] = raw_payloads(first)
    raw = json.loads(payload)
    [hello], _ = feed([first])

    assert isinstance(hello, Hello)
    assert hello.session_id == raw["session_id"]
    assert hello.timestamp_ms == raw["timestampMs"]
    assert hello.release == raw["release"]
    assert hello.protocol == raw["protocol"] == "json"
    assert hello.raw == raw


def test_har_client_frames_decode(har: tuple[str, list[dict[str, Any]]]) -> None:
    name, rows = har
    texts = [r["data"] for r in rows if r["dir"] == CLIENT]
    events, conn = feed(texts)
    payloads = [p for t in texts for p in raw_payloads(t)]

    assert conn.skipped == 0
    assert kinds(events) == HAR_CLIENT_COUNTS[name]
    methods = [getattr(e, "method", None) for e in events if not isinstance(e, Heartbeat)]
    assert methods == [m["m"] for m in json_messages(payloads)]


def test_har_client_frames_reencode_byte_exactly(har: tuple[str, list[dict[str, Any]]]) -> None:
    _, rows = har
    calls = [r["data"] for r in rows if r["dir"] == CLIENT and "~h~" not in r["data"]]
    assert calls
    for text in calls:
        [payload] = raw_payloads(text)
        msg = json.loads(payload)
        assert encode_message(msg["m"], msg["p"]) == text


# --- tradingview-rs: one long line of concatenated frames ---------------------------------


def test_rs_socket_messages_decode(rs_socket_text: str) -> None:
    events, conn = feed([rs_socket_text])
    payloads = raw_payloads(rs_socket_text)

    assert conn.skipped == 0
    assert kinds(events) == Counter(raw_kind(p) for p in payloads) == RS_SOCKET_COUNTS
    assert series_counts(events) == RS_SOCKET_SERIES
    assert_objects_match(json_messages(payloads), events)


def test_rs_socket_series_without_volume_have_nan_volume(rs_socket_text: str) -> None:
    events, _ = feed([rs_socket_text])
    widths = {
        key: {len(p["v"]) for p in points}
        for kind, key, points in raw_objects(json_messages(raw_payloads(rs_socket_text)))
        if kind == "s"
    }
    series = {key: bars for kind, key, bars in decoded_objects(events) if kind == "s"}

    assert widths["sds_5"] == {6}
    assert not np.isnan(series["sds_5"].volume).any()
    for key in ("sds_2", "sds_3", "sds_4", "sds_6"):
        assert widths[key] == {5}
        assert np.isnan(series[key].volume).all()
    first = bar_row(series["sds_5"], 0)
    assert first == [0.0, 1685633880.0, 33019.3, 33025.31, 33018.84, 33021.84, 638315.0]


def test_rs_socket_messages_chunked_give_identical_events(rs_socket_text: str) -> None:
    whole = canon(feed([rs_socket_text])[0])
    text = rs_socket_text
    sevens = [text[i : i + 7] for i in range(0, len(text), 7)]
    rng = random.Random(20230611)
    cuts = sorted(rng.sample(range(1, len(text)), 800))
    slices = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    for chunks in (sevens, slices):
        events, conn = feed(chunks)
        assert conn.skipped == 0
        assert canon(events) == whole


# --- tradingview-rs events.json, greatricky bars, snippets ------------------------------


def test_rs_events_reencoded_decode(rs_events: list[dict[str, Any]]) -> None:
    events, conn = feed(encode_frame(orjson.dumps(msg).decode()) for msg in rs_events)

    assert conn.skipped == 0
    expected = Counter(EVENT_OF_METHOD[msg["m"]] for msg in rs_events)
    assert kinds(events) == expected == RS_EVENTS_COUNTS
    assert_objects_match(rs_events, events)
    reset = events[1]
    assert isinstance(reset, TimescaleUpdate)
    assert [(s.series_id, s.turnaround, len(s.bars)) for s in reset.series] == [("sds_1", "s2", 0)]


def test_sdk_bars_timescale_update(sdk_bars_params: list[Any]) -> None:
    payload = orjson.dumps({"m": "timescale_update", "p": sdk_bars_params}).decode()
    [event], conn = feed([encode_frame(payload)])
    raw_series = sdk_bars_params[1]["sds_1"]
    raw_points = raw_series["s"]

    assert conn.skipped == 0
    assert isinstance(event, TimescaleUpdate)
    assert event.session == sdk_bars_params[0]
    assert (event.index, event.zoffset) == (0, 0)
    [series] = event.series
    assert (series.series_id, series.turnaround) == ("sds_1", raw_series["t"])
    assert series.bar_close_time == raw_series["lbs"]["bar_close_time"]
    assert len(series.bars) == len(raw_points) == 6
    for k in (0, -1):
        assert bar_row(series.bars, k) == raw_bar_row(raw_points[k])
    assert series.bars.time.tolist() == sdk_bars_params[2]["changes"]


def _snippet_text(raw: str) -> str:
    return raw if raw.startswith("~m~") else encode_frame(raw)


def test_snippets_decode(snippets: list[dict[str, Any]]) -> None:
    events, conn = feed(_snippet_text(row["raw"]) for row in snippets)
    payloads = [p for row in snippets for p in raw_payloads(_snippet_text(row["raw"]))]

    assert conn.skipped == 0
    assert kinds(events) == Counter(raw_kind(p) for p in payloads) == SNIPPET_COUNTS
    assert_objects_match(json_messages(payloads), events)
    reasons = {getattr(e, "reason", None) for e in events}
    assert {
        "bad auth token",
        "permission denied, group, economics_paid",
        "unsupported resolution: INDEX:NDFI, 5",
        "Error on bar 0: Invalid value of the 'factor' argument (-1) in the "
        "''supertrend'' function. It must be > 0.",
    } <= reasons


def test_snippet_hellos(snippets: list[dict[str, Any]]) -> None:
    raws = [json.loads(p) for r in snippets for p in raw_payloads(_snippet_text(r["raw"]))]
    raws = [r for r in raws if "m" not in r]
    events, _ = feed(_snippet_text(row["raw"]) for row in snippets)
    hellos = [e for e in events if isinstance(e, Hello)]

    assert len(hellos) == len(raws) == 4
    for hello, raw in zip(hellos, raws, strict=True):
        fields = (hello.session_id, hello.timestamp_ms, hello.release, hello.protocol)
        assert fields == (raw["session_id"], raw["timestampMs"], raw["release"], raw["protocol"])


def test_snippet_declared_lengths_count_utf16_units(snippets: list[dict[str, Any]]) -> None:
    framed = [row["raw"] for row in snippets if row["raw"].startswith("~m~")]
    non_ascii = 0
    for text in framed:
        match = _PREFIX.match(text)
        assert match
        declared, payload = int(match.group(1)), text[match.end() :]
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in payload)
        assert declared == units
        if not payload.isascii():
            non_ascii += 1
            assert declared != len(payload.encode("utf-8"))
    assert non_ascii == 1


def test_korean_qsd_snippet(snippets: list[dict[str, Any]]) -> None:
    [raw] = [row["raw"] for row in snippets if not row["raw"].isascii()]
    [event], conn = feed([raw])

    assert raw.startswith("~m~99~m~")
    assert conn.skipped == 0
    assert isinstance(event, QuoteData)
    assert (event.key, event.status) == ("KRX:005930", "ok")
    assert event.values == {"local_description": "삼성전자보통주"}
