"""Server payloads -> typed events, shape checks, client encoding (``protocol.md`` §3, §4, §6)."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import orjson
import pytest

from tvframe.errors import MessageError
from tvframe.protocol import (
    Connection,
    CriticalErrorEvent,
    DataUpdate,
    Event,
    Hello,
    ProtocolErrorEvent,
    QuoteCompleted,
    QuoteData,
    SeriesCompleted,
    SeriesErrorEvent,
    SeriesLoading,
    SeriesTimeframe,
    StudyCompleted,
    StudyDeleted,
    StudyErrorEvent,
    StudyLoading,
    SymbolErrorEvent,
    SymbolResolved,
    TickmarkUpdate,
    TimescaleUpdate,
    UnknownMessage,
    decode_message,
    encode_frame,
    encode_message,
    symbol_descriptor,
)

CS = "cs_abc"
BAR6 = {"i": 0, "v": [1728272700.0, 361.5, 363.7, 351.0, 354.1, 90305.0]}
BAR6B = {"i": 1, "v": [1728359100.0, 354.1, 360.0, 350.0, 358.2, 80210.0]}
BAR5 = {"i": 1, "v": [1728359100.0, 354.1, 360.0, 350.0, 358.2]}


def msg(method: str, *params: Any) -> str:
    return orjson.dumps({"m": method, "p": list(params)}).decode()


def decode(method: str, *params: Any) -> Event:
    return decode_message(msg(method, *params))


# --- one decode per server method ---------------------------------------------------------


def test_hello() -> None:
    raw = {
        "session_id": "0.1.2_node",
        "timestamp": 1766031047,
        "timestampMs": 1766031047438,
        "release": "release_208-91",
        "protocol": "json",
        "javastudies": ["3.66"],
    }
    event = decode_message(orjson.dumps(raw).decode())
    assert event == Hello("0.1.2_node", 1766031047438, "release_208-91", "json", raw)


def test_hello_with_missing_optional_fields() -> None:
    event = decode_message('{"session_id":"s","timestampMs":"soon"}')
    assert isinstance(event, Hello)
    assert (event.session_id, event.timestamp_ms, event.release, event.protocol) == (
        "s",
        None,
        "",
        "",
    )


def test_timescale_update_bars_and_timescale() -> None:
    objects = {"sds_1": {"s": [BAR6, BAR6B], "t": "s1", "lbs": {"bar_close_time": 1728445500}}}
    event = decode("timescale_update", CS, objects, {"index": 4, "zoffset": 2, "changes": []})

    assert isinstance(event, TimescaleUpdate)
    assert (event.session, event.index, event.zoffset, event.studies) == (CS, 4, 2, ())
    [series] = event.series
    assert (series.series_id, series.turnaround) == ("sds_1", "s1")
    assert series.bar_close_time == 1728445500.0
    bars = series.bars
    assert len(bars) == 2
    assert bars.index.dtype == np.int64
    assert bars.index.tolist() == [0, 1]
    assert bars.time.tolist() == [1728272700.0, 1728359100.0]
    assert bars.open.tolist() == [361.5, 354.1]
    assert bars.high.tolist() == [363.7, 360.0]
    assert bars.low.tolist() == [351.0, 350.0]
    assert bars.close.tolist() == [354.1, 358.2]
    assert bars.volume.tolist() == [90305.0, 80210.0]


def test_timescale_update_five_element_series_has_nan_volume() -> None:
    event = decode("timescale_update", CS, {"sds_1": {"s": [BAR5]}}, {})
    assert isinstance(event, TimescaleUpdate)
    assert np.isnan(event.series[0].bars.volume).all()
    assert event.series[0].bars.close.tolist() == [358.2]
    assert math.isnan(event.series[0].bars.volume[0])


def test_timescale_update_empty_reset_and_tickmark_only() -> None:
    reset = decode("timescale_update", CS, {"sds_1": {"s": [], "t": "s2"}}, {})
    future = decode("timescale_update", CS, {}, {"index": 300, "zoffset": 0, "changes": [1.0]})

    assert isinstance(reset, TimescaleUpdate)
    assert isinstance(future, TimescaleUpdate)
    assert [(s.turnaround, len(s.bars)) for s in reset.series] == [("s2", 0)]
    assert (future.series, future.studies, future.index) == ((), (), 300)


def test_du_series_and_study() -> None:
    objects = {
        "s1": {"s": [{"i": 300, "v": [1663050540.0, 1.0, 2.0, 0.5, 1.5, 229.7826]}], "t": "s1"},
        "st1": {"st": [{"i": 299, "v": [1663050480.0, 10.0, 1e100]}], "t": "s1_st1"},
    }
    event = decode("du", CS, objects)

    assert isinstance(event, DataUpdate)
    assert event.session == CS
    assert event.series[0].bars.index.tolist() == [300]
    assert event.series[0].bars.volume.tolist() == [229.7826]
    assert event.series[0].bar_close_time is None
    [study] = event.studies
    assert (study.study_id, study.turnaround, study.index.tolist()) == ("st1", "s1_st1", [299])
    assert study.values.shape == (1, 3)


def test_study_points_na_sentinel_becomes_nan() -> None:
    # Written as TradingView writes it: 1e+100.
    payload = (
        '{"m":"du","p":["cs_abc",{"st1":{"st":['
        '{"i":0,"v":[1700000000.0,1e+100,5.0]},{"i":1,"v":[1700000060.0,2.5,1e+100]}]}}]}'
    )
    event = decode_message(payload)
    assert isinstance(event, DataUpdate)
    values = event.studies[0].values
    assert values.dtype == np.float64
    np.testing.assert_array_equal(
        values, [[1700000000.0, np.nan, 5.0], [1700000060.0, 2.5, np.nan]]
    )


def test_empty_study_points() -> None:
    event = decode("du", CS, {"st1": {"st": [], "t": "s1_st1"}})
    assert isinstance(event, DataUpdate)
    assert len(event.studies[0].index) == 0


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (msg("symbol_resolved", CS, "sds_sym_1", {"full_name": "NSE:X"}),
         SymbolResolved(CS, "sds_sym_1", {"full_name": "NSE:X"})),
        (msg("series_loading", CS, "sds_1", "s1"), SeriesLoading(CS, "sds_1", "s1")),
        (msg("series_completed", CS, "sds_1", "delayed_streaming_900", "s2",
             {"rt_update_period": 5}),
         SeriesCompleted(CS, "sds_1", "delayed_streaming_900", "s2")),
        (msg("series_completed", CS, "sds_1", "streaming"),
         SeriesCompleted(CS, "sds_1", "streaming", None)),
        (msg("series_timeframe", CS, "sds_1", "s1", -224, 299, "r,1:2", False),
         SeriesTimeframe(CS, "sds_1", "s1", False)),
        (msg("series_timeframe", CS, "sds_1", "s1", 2242, 2636, "LASTSESSION", True),
         SeriesTimeframe(CS, "sds_1", "s1", True)),
        (msg("series_error", CS, "sds_1", "s1", "resolve error", "srv-1@srv-1"),
         SeriesErrorEvent(CS, "sds_1", "resolve error")),
        (msg("series_error", CS, "sds_1", "s1",
             {"error": "no {what} here", "ctx": {"what": "bars"}}, "undefined"),
         SeriesErrorEvent(CS, "sds_1", "no bars here")),
        (msg("symbol_error", CS, "sds_sym_1", "invalid symbol"),
         SymbolErrorEvent(CS, "sds_sym_1", "invalid symbol")),
        (msg("symbol_error", CS, "sds_sym_1", "permission denied", "group", "economics_paid"),
         SymbolErrorEvent(CS, "sds_sym_1", "permission denied, group, economics_paid")),
        (msg("study_loading", CS, "st1", "s1_st1"), StudyLoading(CS, "st1", "s1_st1")),
        (msg("study_completed", CS, "st1", "s1_st1"), StudyCompleted(CS, "st1", "s1_st1")),
        (msg("study_deleted", CS, "st1", "s1_st1"), StudyDeleted(CS, "st1", "s1_st1")),
        (msg("study_error", CS, "st1", "s1_st1", "check study unexpected error", "undefined"),
         StudyErrorEvent(CS, "st1", "check study unexpected error")),
        (msg("study_error", CS, "st1", "s1_st1",
             {"error": "bar {bar_index}: {argName} ({value})",
              "ctx": {"bar_index": 0, "argName": "factor", "value": -1}}),
         StudyErrorEvent(CS, "st1", "bar 0: factor (-1)")),
        (msg("critical_error", CS, "invalid parameters", "method: create_series"),
         CriticalErrorEvent(CS, "invalid parameters", "method: create_series")),
        (msg("protocol_error", "bad auth token"), ProtocolErrorEvent("bad auth token")),
        (msg("qsd", "qs_1", {"n": "NASDAQ:AAPL", "s": "ok", "v": {"lp": 253.0}}),
         QuoteData("qs_1", "NASDAQ:AAPL", "ok", {"lp": 253.0})),
        (msg("qsd", "qs_1", {"n": "X:Y", "s": "error", "errmsg": "no_such_symbol", "v": {}}),
         QuoteData("qs_1", "X:Y", "error", {}, "no_such_symbol")),
        (msg("quote_completed", "qs_1", "NASDAQ:AAPL"), QuoteCompleted("qs_1", "NASDAQ:AAPL")),
        (msg("tickmark_update", CS, {"index": 0, "marks": []}), TickmarkUpdate(CS)),
        (msg("replay_point", "rs_1", 5), UnknownMessage("replay_point", ("rs_1", 5))),
    ],
)  # fmt: skip
def test_decode_method(payload: str, expected: Event) -> None:
    assert decode_message(payload) == expected


def test_events_are_frozen() -> None:
    event = decode("series_loading", CS, "sds_1", "s1")
    assert isinstance(event, SeriesLoading)
    with pytest.raises(AttributeError):
        event.session = "other"  # type: ignore[misc]


# --- wrong shapes -> MessageError naming the method ---------------------------------------

_BAD_SHAPES: list[tuple[str, list[Any]]] = [
    ("symbol_resolved", [1, "sym", {}]),
    ("symbol_resolved", [CS, None, {}]),
    ("symbol_resolved", [CS, "sym", []]),
    ("symbol_resolved", [CS, "sym"]),
    ("series_loading", [True, "sds_1", "s1"]),
    ("series_loading", [CS, 7, "s1"]),
    ("series_loading", [CS]),
    ("series_completed", [[], "sds_1", "streaming"]),
    ("series_completed", [CS, {}, "streaming"]),
    ("series_timeframe", [1.5, "sds_1", "s1"]),
    ("series_timeframe", [CS, False, "s1"]),
    ("series_error", [None, "sds_1", "s1", "x"]),
    ("series_error", [CS, 1, "s1", "x"]),
    ("symbol_error", [1, "sym", "invalid symbol"]),
    ("symbol_error", [CS, ["sym"], "invalid symbol"]),
    ("study_loading", [1, "st1", "s1_st1"]),
    ("study_completed", [CS, None, "s1_st1"]),
    ("study_deleted", [CS]),
    ("study_error", [{}, "st1", "s1_st1", "x"]),
    ("study_error", [CS, 2, "s1_st1", "x"]),
    ("critical_error", [3, "invalid parameters", ""]),
    ("critical_error", []),
    ("qsd", [1, {"n": "X", "s": "ok", "v": {}}]),
    ("qsd", ["qs_1", ["X"]]),
    ("qsd", ["qs_1", {"n": 1, "s": "ok", "v": {}}]),
    ("qsd", ["qs_1", {"n": "X", "s": None, "v": {}}]),
    ("qsd", ["qs_1", {"n": "X", "s": "ok", "v": []}]),
    ("quote_completed", [1, "X"]),
    ("quote_completed", ["qs_1", {}]),
    ("tickmark_update", [None]),
    ("timescale_update", [1, {}, {}]),
    ("timescale_update", [CS, [], {}]),
    ("timescale_update", [CS, {"sds_1": []}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": {}}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [[0, [1, 2, 3, 4, 5]]]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"v": [1, 2, 3, 4, 5]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": 0}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": 0.5, "v": [1, 2, 3, 4, 5]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": True, "v": [1, 2, 3, 4, 5]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": "0", "v": [1, 2, 3, 4, 5]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": 0, "v": [1, 2, 3, 4]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": 0, "v": [1, 2, 3, 4, 5, 6, 7]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": 0, "v": [1, 2, 3, 4, "5"]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": 0, "v": [1, 2, 3, 4, None]}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [{"i": 0, "v": 5}]}}, {}]),
    ("timescale_update", [CS, {"sds_1": {"s": [BAR6, {"i": 1, "v": [1, 2, 3]}]}}, {}]),
    ("du", ["cs", "objects"]),
    ("du", [None, {}]),
    ("du", [CS, {"st1": {"st": {}}}]),
    ("du", [CS, {"st1": {"st": [{"i": 0}]}}]),
    ("du", [CS, {"st1": {"st": [{"i": 0, "v": ["a", "b"]}]}}]),
    ("du", [CS, {"st1": {"st": [{"i": "0", "v": [1.0, 2.0]}]}}]),
    ("du", [CS, {"st1": {"st": [{"i": 0, "v": 1.0}]}}]),
]


@pytest.mark.parametrize(("method", "params"), _BAD_SHAPES)
def test_wrong_types_raise_message_error_naming_the_method(method: str, params: list[Any]) -> None:
    with pytest.raises(MessageError) as info:
        decode(method, *params)
    assert str(info.value).startswith(f"{method}: ")


@pytest.mark.parametrize(
    "payload",
    [
        '{"m":"du","p":[',
        "not json",
        '["du",[]]',
        "42",
        '{"p":["cs"]}',
        '{"m":"du","p":{"0":"cs"}}',
        '{"m":7,"p":[]}',
        '{"session_id":5}',
    ],
)
def test_malformed_payloads(payload: str) -> None:
    with pytest.raises(MessageError) as info:
        decode_message(payload)
    assert payload[:20] in str(info.value)


def test_error_message_clips_huge_values() -> None:
    with pytest.raises(MessageError) as info:
        decode("series_loading", ["x" * 10_000], "sds_1")
    assert len(str(info.value)) < 200


# --- the connection keeps going past a bad message ----------------------------------------


def test_connection_skips_counts_and_logs_a_malformed_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = Connection()
    good = msg("quote_completed", "qs_1", "A:B")
    bad = msg("series_loading", CS, 5)
    with caplog.at_level(logging.WARNING, logger="tvframe.protocol.connection"):
        conn.receive(encode_frame(good) + encode_frame(bad) + encode_frame("{oops"))
        conn.receive(encode_frame(msg("quote_completed", "qs_1", "C:D")))

    assert conn.events() == [QuoteCompleted("qs_1", "A:B"), QuoteCompleted("qs_1", "C:D")]
    assert conn.skipped == 2
    assert isinstance(conn.last_error, MessageError)
    assert "not JSON" in str(conn.last_error)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    assert "series_loading: param 1" in caplog.records[0].getMessage()


def test_connection_events_are_returned_once() -> None:
    conn = Connection()
    conn.receive(encode_frame(msg("tickmark_update", CS)))
    assert conn.events() == [TickmarkUpdate(CS)]
    assert conn.events() == []


# --- client side --------------------------------------------------------------------------


def test_encode_message() -> None:
    assert encode_message("set_locale", ["en", "US"]) == (
        '~m~34~m~{"m":"set_locale","p":["en","US"]}'
    )
    assert encode_message("chart_create_session", ("cs_2iRcv6K6V6wl", "")) == (
        '~m~55~m~{"m":"chart_create_session","p":["cs_2iRcv6K6V6wl",""]}'
    )
    assert encode_message("request_more_data", ["cs_1", "sds_1", 100]) == (
        '~m~50~m~{"m":"request_more_data","p":["cs_1","sds_1",100]}'
    )


def test_encode_message_non_ascii_counts_utf16_units() -> None:
    frame = encode_message("x", ["한😀"])
    payload = '{"m":"x","p":["한😀"]}'
    assert frame == f"~m~{len(payload) + 1}~m~{payload}"  # the emoji is two units


def test_connection_send_batches_calls_in_one_frame() -> None:
    conn = Connection()
    conn.send("set_locale", ["en", "US"])
    conn.send("quote_create_session", ["qs_1"])
    assert conn.data_to_send() == [
        encode_message("set_locale", ["en", "US"])
        + encode_message("quote_create_session", ["qs_1"])
    ]
    assert conn.data_to_send() == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, '={"adjustment":"splits","session":"regular","symbol":"NASDAQ:AAPL"}'),
        (
            {"adjustment": "dividends", "session": "extended", "currency": "EUR"},
            '={"adjustment":"dividends","currency-id":"EUR","session":"extended",'
            '"symbol":"NASDAQ:AAPL"}',
        ),
        (
            {"backadjustment": True},
            '={"adjustment":"splits","backadjustment":"default","session":"regular",'
            '"symbol":"NASDAQ:AAPL"}',
        ),
    ],
)
def test_symbol_descriptor(kwargs: dict[str, Any], expected: str) -> None:
    assert symbol_descriptor("NASDAQ:AAPL", **kwargs) == expected


def test_symbol_descriptor_matches_the_web_app() -> None:
    # resolve_symbol sent by the real web app (HAR trading-chart capture).
    sent = '={"adjustment":"dividends","session":"regular","symbol":"NSE:JUNIPER"}'
    assert symbol_descriptor("NSE:JUNIPER", adjustment="dividends") == sent
