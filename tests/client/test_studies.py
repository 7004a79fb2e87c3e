"""Studies in the client: frames per the studies contract and the capture decoded into values,
Pine metadata, and (against the simulator) values equal to an independent computation."""

from __future__ import annotations

import asyncio
import http.server
import itertools
import json
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from tvframe import Client
from tvframe.client import backoff, new_id, open_series_calls
from tvframe.errors import InvalidArgumentError, MessageError, StudyError
from tvframe.events import IndicatorUpdate, Reconnected
from tvframe.indicators import INDICATORS, IndicatorSpec, indicator
from tvframe.protocol import Connection, Event, TimescaleUpdate, encode_message
from tvframe.sim import SimHandle, running
from tvframe.stream import Stream
from tvframe.studies import (
    StreamStudies,
    Study,
    StudySet,
    StudyValues,
    align,
    bind,
    check_indicators,
    resolve_indicators,
    translate,
)
from tvframe.symbols import parse_symbol

CAPTURE = (
    Path(__file__).resolve().parents[2].parent
    / "shared/captures/anjanpoonacha_stock-tools__trading-chart.har.ws.jsonl"
)
NA = 1e100
CS = "cs_test"
HOUR = 3600.0


def decode(*messages: tuple[str, list[Any]]) -> list[Event]:
    """Server messages through the protocol core, as the client receives them."""
    conn = Connection()
    conn.receive("".join(encode_message(method, params) for method, params in messages))
    return conn.events()


def study_du(
    study_id: str, points: dict[int, list[float]], full: bool = True
) -> tuple[str, list[Any]]:
    ns = {"d": "", "indexes": [] if full else "nochange"}
    st = [{"i": i, "v": v} for i, v in points.items()]
    return ("du", [CS, {study_id: {"node": "sim", "st": st, "ns": ns, "t": "s1_st1"}}])


def series_du(bars: dict[int, float]) -> tuple[str, list[Any]]:
    s = [{"i": i, "v": [t, 1.0, 2.0, 0.5, 1.5, 10.0]} for i, t in bars.items()]
    return ("du", [CS, {"sds_1": {"s": s, "ns": {"d": "", "indexes": "nochange"}, "t": "s1"}}])


def state(method: str, study_id: str) -> tuple[str, list[Any]]:
    return (method, [CS, study_id, "s1_st1"])


def apply(studies: StudySet, *messages: tuple[str, list[Any]]) -> list[tuple[str, str]]:
    changes: list[tuple[str, str]] = []
    for event in decode(*messages):
        changes += [(c.study.study_id, c.kind) for c in studies.on_event(event)]
    return changes


def nan_list(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(x) else float(x) for x in values]


# --- StudySet: the contract's frames -------------------------------------------------------


def test_create_sends_the_contract_call() -> None:
    studies = StudySet(CS)
    study, calls = studies.create(indicator("RSI", length=7))
    assert study.study_id.startswith("st_") and len(study.study_id) == 15
    wire = {"length": 7, "source": "close"}
    params = [CS, study.study_id, "st1", "sds_1", "RSI@tv-basicstudies-1", wire]
    assert calls == [("create_study", params)]
    other, _ = studies.create(indicator("RSI"))
    assert other.study_id != study.study_id


def test_a_full_set_splits_warmup_from_rows_and_na_is_nan() -> None:
    studies = StudySet(CS)
    study, _ = studies.create(indicator("MACD"), "st_a")
    changes = apply(
        studies,
        state("study_loading", "st_a"),
        study_du("st_a", {-1000002: [0.0, NA, NA, NA], -1000001: [HOUR, NA, 1.0, NA]}),
        study_du("st_a", {0: [2 * HOUR, 0.5, 2.0, 1.5], 1: [3 * HOUR, 0.25, 2.5, 2.25]}),
        state("study_completed", "st_a"),
    )
    assert changes == [("st_a", "full")]
    values = study.values()
    assert values.time.tolist() == [2 * HOUR, 3 * HOUR]
    assert list(values.columns) == ["macd_hist", "macd", "macd_signal"]
    assert values.columns["macd"].tolist() == [2.0, 2.5]
    assert values.columns["macd_hist"].dtype == np.float64
    assert values.warmup is not None and values.warmup.time.tolist() == [0.0, HOUR]
    assert nan_list(values.warmup.columns["macd"]) == [None, 1.0]


def test_live_points_merge_then_a_full_set_replaces_everything() -> None:
    studies = StudySet(CS)
    study, _ = studies.create(indicator("RSI"), "st_a")
    first = study_du("st_a", {0: [0.0, 40.0], 1: [HOUR, 41.0]})
    apply(studies, state("study_loading", "st_a"), first, state("study_completed", "st_a"))
    changes = apply(studies, study_du("st_a", {1: [HOUR, 42.0], 2: [2 * HOUR, 43.0]}, full=False))
    assert changes == [("st_a", "live")]
    assert study.values().columns["rsi_14"].tolist() == [40.0, 42.0, 43.0]
    # request_more_data paged older bars in: the recomputed set replaces every point
    apply(studies, state("study_loading", "st_a"),
          study_du("st_a", {-1: [-HOUR, 30.0], 0: [0.0, 31.0], 1: [HOUR, 32.0]}))  # fmt: skip
    assert study.values().columns["rsi_14"].tolist() == [40.0, 42.0, 43.0]  # not yet complete
    apply(studies, state("study_completed", "st_a"))
    values = study.values()
    assert values.time.tolist() == [-HOUR, 0.0, HOUR]
    assert values.columns["rsi_14"].tolist() == [30.0, 31.0, 32.0]
    assert study.full_sets == 2


def test_study_error_names_the_study_its_inputs_and_the_reason() -> None:
    studies = StudySet(CS)
    studies.create(indicator("RSI@tv-basicstudies-1", length=0), "st_a")
    reason = {"error": "Invalid value of the 'length' argument ({value}). It must be >= 1.",
              "ctx": {"value": 0}, "stack_trace": [{"n": "#main", "p": 1}]}  # fmt: skip
    changes = apply(studies, ("study_error", [CS, "st_a", "s1_st1", reason, "node"]))
    assert changes == [("st_a", "failed")]
    error = studies.studies["st_a"].error
    assert isinstance(error, StudyError)
    for fragment in ("RSI@tv-basicstudies-1", "st_a", "length=0",
                     "Invalid value of the 'length' argument (0). It must be >= 1."):  # fmt: skip
        assert fragment in str(error)


def test_modify_recomputes_and_drops_points_of_the_old_inputs() -> None:
    studies = StudySet(CS)
    study, _ = studies.create(indicator("SMA"), "st_a")
    apply(studies, state("study_loading", "st_a"), study_du("st_a", {0: [0.0, 1.0]}),
          state("study_completed", "st_a"))  # fmt: skip
    calls = studies.modify("st_a", indicator("SMA", length=20))
    assert calls == [("modify_study", [CS, "st_a", "st1", {"length": 20, "source": "close"}])]
    assert study.spec.columns == ("sma_20",) and not study.ready
    apply(
        studies,
        study_du("st_a", {0: [0.0, 99.0]}, full=False),  # computed before the server saw modify
        state("study_loading", "st_a"),
        study_du("st_a", {0: [0.0, 5.0]}),
        state("study_completed", "st_a"),
    )
    assert study.values().columns == {"sma_20": pytest.approx(np.array([5.0]))}
    with pytest.raises(InvalidArgumentError, match="same type"):
        studies.modify("st_a", indicator("EMA"))


def test_remove_ends_with_study_deleted() -> None:
    studies = StudySet(CS)
    studies.create(indicator("ATR"), "st_a")
    assert studies.remove("st_a") == [("remove_study", [CS, "st_a"])]
    assert apply(studies, state("study_deleted", "st_a")) == [("st_a", "deleted")]
    assert "st_a" not in studies.studies
    with pytest.raises(InvalidArgumentError, match="no study 'st_a'"):
        studies.remove("st_a")


def test_events_of_unknown_studies_are_ignored() -> None:
    studies = StudySet(CS)
    assert apply(studies, state("study_completed", "st_x"),
                 study_du("st_x", {0: [0.0, 1.0]}, full=False)) == []  # fmt: skip


def test_align_puts_nan_where_no_point_came() -> None:
    spec = indicator("SMA")
    values = StudyValues("st_a", spec, np.array([HOUR, 3 * HOUR]), {"sma_9": np.array([1.0, 3.0])})
    aligned = align(values, np.array([0.0, HOUR, 2 * HOUR, 3 * HOUR]))
    assert nan_list(aligned.columns["sma_9"]) == [None, 1.0, None, 3.0]
    empty = StudyValues("st_a", spec, np.empty(0), {"sma_9": np.empty(0)})
    assert nan_list(align(empty, np.array([0.0, HOUR])).columns["sma_9"]) == [None, None]


def test_check_indicators_refuses_non_specs_and_shared_columns() -> None:
    assert check_indicators(indicator("RSI")) == (indicator("RSI"),)
    assert check_indicators(["RSI"]) == (indicator("RSI"),)  # a name means its defaults
    with pytest.raises(InvalidArgumentError, match=r"tvframe\.indicator"):
        check_indicators([14])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="'rsi_14'"):
        check_indicators([indicator("RSI"), indicator("rsi", length=14)])


# --- the capture ---------------------------------------------------------------------------


def test_the_captures_400_points_are_300_rows_and_100_warmup() -> None:
    if not CAPTURE.is_file():
        pytest.skip(f"capture not found at {CAPTURE}")
    rows = [json.loads(line) for line in CAPTURE.read_text("utf-8").splitlines()]
    conn = Connection()
    for row in rows[:53]:
        if row["dir"] == "server->client":
            conn.receive(row["data"])
    studies = StudySet("cs_68z3mne9l3wQ")
    sma, _ = studies.create(indicator("Script@tv-scripting-101!"), "j5VbCX")
    labels, _ = studies.create(indicator("Script@tv-scripting-101!"), "6xnj0H")
    bar_times = np.empty(0)
    for event in conn.events():
        studies.on_event(event)
        if isinstance(event, TimescaleUpdate) and event.session == "cs_68z3mne9l3wQ":
            for series in event.series:
                bar_times = np.concatenate([bar_times, series.bars.time])
    assert sma.ready and labels.ready  # the second one's du carries ns.d graphics: ignored
    values = sma.values()
    assert len(values) == 300 and values.warmup is not None and len(values.warmup) == 100
    assert list(values.columns) == [f"script_plot_{k}" for k in range(5)]
    assert values.warmup.time.max() < values.time.min()
    # aligned by time to the session's 300 bars: every bar has its point
    assert len(bar_times) == 300
    aligned = align(values, np.unique(bar_times))
    np.testing.assert_array_equal(aligned.columns["script_plot_0"], values.columns["script_plot_0"])
    assert not np.isnan(values.columns["script_plot_0"]).any()
    assert np.isnan(values.warmup.columns["script_plot_1"][0])  # 1e+100 became NaN


# --- streams: what a series' studies publish ----------------------------------------------


class Published:
    def __init__(self) -> None:
        self.events: list[IndicatorUpdate] = []
        self.errors: list[Exception] = []

    def emit(
        self, key: tuple[str, ...], closed: list[IndicatorUpdate], forming: IndicatorUpdate
    ) -> None:
        assert key[0] == "indicator"
        self.events += [*closed, forming]

    def closed_times(self) -> list[float]:
        return [e.time for e in self.events if e.closed]


def feed(feeder: StreamStudies, *messages: tuple[str, list[Any]], loading: bool = False) -> None:
    for event in decode(*messages):
        feeder.on_event(event, loading)


def full_set(study_id: str, times: list[float], value: float) -> list[tuple[str, list[Any]]]:
    points = {-1000001: [times[0] - HOUR, NA]} | {k: [t, value + k] for k, t in enumerate(times)}
    return [state("study_loading", study_id), study_du(study_id, points),
            state("study_completed", study_id)]  # fmt: skip


def stream_studies(out: Published) -> tuple[StreamStudies, str]:
    feeder = StreamStudies(CS, "X:Y", "1h", [indicator("RSI")], out.emit, out.errors.append)
    (call,) = feeder.create_calls()
    return feeder, call[1][1]


def test_stream_publishes_closed_rows_once_and_the_forming_row_as_it_changes() -> None:
    out = Published()
    feeder, sid = stream_studies(out)
    feed(feeder, series_du({0: 0.0, 1: HOUR, 2: 2 * HOUR}), loading=True)
    feeder.settled()
    assert out.events == []  # the study has not completed yet
    feed(feeder, *full_set(sid, [0.0, HOUR, 2 * HOUR], 50.0))
    assert [(e.time, e.closed, e.values["rsi_14"]) for e in out.events] == [
        (0.0, True, 50.0), (HOUR, True, 51.0), (2 * HOUR, False, 52.0),
    ]  # fmt: skip
    feed(feeder, study_du(sid, {2: [2 * HOUR, 53.0]}, full=False))
    assert (out.events[-1].time, out.events[-1].closed, out.events[-1].values) == (
        2 * HOUR, False, {"rsi_14": 53.0},
    )  # fmt: skip
    feed(feeder, study_du(sid, {2: [2 * HOUR, 54.0], 3: [3 * HOUR, 55.0]}, full=False))
    assert [(e.time, e.closed, e.values["rsi_14"]) for e in out.events[-2:]] == [
        (2 * HOUR, True, 54.0), (3 * HOUR, False, 55.0),
    ]  # fmt: skip
    assert out.closed_times() == [0.0, HOUR, 2 * HOUR]


def test_stream_waits_for_the_set_computed_after_paging() -> None:
    out = Published()
    feeder, sid = stream_studies(out)
    feed(feeder, series_du({0: 2 * HOUR, 1: 3 * HOUR}), *full_set(sid, [2 * HOUR, 3 * HOUR], 1.0),
         loading=True)  # fmt: skip
    feed(feeder, series_du({-2: 0.0, -1: HOUR}), loading=True)  # the older page
    feeder.settled()  # the series is loaded; the study's set predates the page
    assert out.events == []
    feed(feeder, *full_set(sid, [0.0, HOUR, 2 * HOUR, 3 * HOUR], 10.0))
    assert out.closed_times() == [0.0, HOUR, 2 * HOUR]
    assert out.events[-1].values["rsi_14"] == 13.0 and not out.events[-1].closed


def test_stream_after_a_reconnect_delivers_no_closed_row_twice() -> None:
    out = Published()
    feeder, sid = stream_studies(out)
    feed(feeder, series_du({0: 0.0, 1: HOUR}), *full_set(sid, [0.0, HOUR], 1.0))
    feeder.reset()
    calls = feeder.create_calls()
    assert [c[0] for c in calls] == ["create_study"] and calls[0][1][1] == sid
    feed(feeder, series_du({0: HOUR, 1: 2 * HOUR, 2: 3 * HOUR}))
    feed(feeder, *full_set(sid, [HOUR, 2 * HOUR, 3 * HOUR], 7.0))
    assert out.closed_times() == [0.0, HOUR, 2 * HOUR]
    assert out.events[-1].time == 3 * HOUR and not out.events[-1].closed


def test_stream_reports_a_refused_study() -> None:
    out = Published()
    feeder, sid = stream_studies(out)
    feed(feeder, ("study_error", [CS, sid, "s1_st1", "Internal server study error: nope", "n"]))
    assert len(out.errors) == 1 and "nope" in str(out.errors[0])


# --- Pine metadata ------------------------------------------------------------------------

RSI_META = {
    "success": True,
    "result": {
        "metaInfo": {
            "inputs": [
                {"id": "text", "name": "ILScript", "defval": "", "type": "text", "isHidden": True},
                {"id": "pineId", "name": "PineId", "defval": "", "type": "text"},
                {"id": "pineVersion", "name": "PineVersion", "defval": "", "type": "text"},
                {"id": "pineFeatures", "name": "Features", "defval": '{"indicator":1}',
                 "type": "text"},
                {"id": "in_0", "name": "Length", "defval": 14, "type": "integer", "min": 1},
                {"id": "in_1", "name": "Source", "defval": "close", "type": "source"},
                {"id": "in_2", "name": "MA Type", "defval": "None", "type": "text",
                 "options": ["None", "SMA", "EMA"]},
                {"id": "in_3", "name": "BB StdDev", "defval": 2.0, "type": "float"},
            ],
            "plots": [{"id": "plot_0", "type": "line"}, {"id": "plot_1", "type": "line"}],
            "styles": {"plot_0": {"title": "RSI"}, "plot_1": {"title": "RSI-based MA"}},
            "pine": {"version": "44.0"},
            "scriptIdPart": "STD;RSI",
            "description": "Relative Strength Index",
            "shortDescription": "RSI",
        },
        "ilTemplate": "bmI9Ks46_opaque",
    },
}  # fmt: skip


class Facade:
    """A scripted pine-facade: answers per path, records every request."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []
        self.ws_url = ""


@pytest.fixture
def facade() -> Iterator[Facade]:
    state = Facade()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            status, body = state.answers.get(
                self.path, (404, b'{"success":false,"reason":"script not found"}')
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.ws_url = f"ws://127.0.0.1:{server.server_address[1]}/socket.io/websocket"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_translate_fetches_once_per_id_and_version(facade: Facade) -> None:
    facade.answers["/pine-facade/translate/STD%3BRSI/last"] = (200, orjson.dumps(RSI_META))
    first = await translate(facade.ws_url, "STD;RSI", "last", 5.0)
    again = await translate(facade.ws_url, "STD;RSI", "last", 5.0)
    assert again is first and facade.requests == ["/pine-facade/translate/STD%3BRSI/last"]
    assert (first.version, first.text, first.plots) == ("44.0", "bmI9Ks46_opaque",
                                                       ("RSI", "RSI-based MA"))  # fmt: skip
    assert [i.key for i in first.user_inputs()] == ["length", "source", "ma_type", "bb_stddev"]


async def test_an_unknown_pine_id_is_a_study_error_with_the_reason(facade: Facade) -> None:
    with pytest.raises(StudyError, match=r"'STD;Nope'.*script not found"):
        await translate(facade.ws_url, "STD;Nope", "last", 5.0)
    facade.answers["/pine-facade/translate/STD%3BOdd/last"] = (200, b'{"success": true}')
    with pytest.raises(MessageError, match="STD;Odd"):
        await translate(facade.ws_url, "STD;Odd", "last", 5.0)


async def test_resolve_fills_every_input_and_sends_the_il(facade: Facade) -> None:
    facade.answers["/pine-facade/translate/STD%3BRSI/last"] = (200, orjson.dumps(RSI_META))
    (spec,) = await resolve_indicators(
        [indicator("STD;RSI", length=21, in_3=1)], facade.ws_url, 5.0
    )
    assert spec.resolved and spec.pine_version == "44.0"
    assert spec.columns == ("std_rsi", "std_rsi_rsi_based_ma") and spec.plots == (
        "RSI",
        "RSI-based MA",
    )
    assert dict(spec.wire) == {
        "text": "bmI9Ks46_opaque", "pineId": "STD;RSI", "pineVersion": "44.0",
        "pineFeatures": {"v": '{"indicator":1}', "f": True, "t": "text"},
        "in_0": {"v": 21, "f": True, "t": "integer"},
        "in_1": {"v": "close", "f": True, "t": "source"},
        "in_2": {"v": "None", "f": True, "t": "text"},
        "in_3": {"v": 1.0, "f": True, "t": "float"},
        "__profile": {"v": False, "f": True, "t": "bool"},
    }  # fmt: skip
    _, calls = StudySet(CS).create(spec)
    assert calls[0][1][4] == "Script@tv-scripting-101!"


@pytest.mark.parametrize(
    ("inputs", "pattern"),
    [
        ({"period": 3}, r"no input 'period'.*length \(in_0, default 14\), source \(in_1"),
        ({"length": 0}, r"STD;RSI: length=0 is invalid: it must be an integer >= 1"),
        ({"length": 2.5}, r"length=2\.5 is invalid"),
        ({"source": "volume"}, r"source='volume' is invalid: it must be one of open"),
        ({"ma_type": "WMA"}, r"ma_type='WMA' is invalid: it must be one of 'None', 'SMA'"),
        ({"in_3": "2"}, r"bb_stddev='2' is invalid: it must be a number"),
    ],
)
def test_pine_inputs_are_checked_against_the_metadata(inputs: dict[str, Any], pattern: str) -> None:
    from tvframe.studies import _parse_translation

    meta = _parse_translation("STD;RSI", "last", orjson.dumps(RSI_META))
    with pytest.raises(InvalidArgumentError, match=pattern):
        bind(indicator("STD;RSI", **inputs), meta)


def test_an_unresolved_pine_spec_cannot_be_created() -> None:
    with pytest.raises(InvalidArgumentError, match="resolve"):
        StudySet(CS).create(indicator("STD;RSI"))


# --- against the simulator: an independent computation of the published formulas ----------

Series = list[float]
NAN = math.nan


def smooth(x: Series, n: int, alpha: float) -> Series:
    """ema/rma over the defined values of ``x``: seeded by the sma of the first ``n``."""
    out, seen, prev = [NAN] * len(x), [], NAN
    for i, v in enumerate(x):
        if math.isnan(v):
            continue
        if math.isnan(prev):
            seen.append(v)
            if len(seen) == n:
                prev = sum(seen) / n
                out[i] = prev
        else:
            prev = alpha * v + (1 - alpha) * prev
            out[i] = prev
    return out


def ema(x: Series, n: int) -> Series:
    return smooth(x, n, 2 / (n + 1))


def rma(x: Series, n: int) -> Series:
    return smooth(x, n, 1 / n)


def windows(x: Series, n: int) -> list[Series | None]:
    """The last ``n`` values at each bar, None until ``n`` defined values exist."""
    out: list[Series | None] = []
    for i in range(len(x)):
        window = x[i - n + 1 : i + 1] if i >= n - 1 else []
        out.append(window if window and not any(math.isnan(v) for v in window) else None)
    return out


def sma(x: Series, n: int) -> Series:
    return [sum(w) / n if w else NAN for w in windows(x, n)]


def wma(x: Series, n: int) -> Series:
    weights = range(1, n + 1)
    total = sum(weights)
    return [
        sum(k * v for k, v in zip(weights, w, strict=True)) / total if w else NAN
        for w in windows(x, n)
    ]


def stdev(x: Series, n: int) -> Series:
    out = []
    for w in windows(x, n):
        if w is None:
            out.append(NAN)
            continue
        mean = sum(w) / n
        out.append(math.sqrt(sum((v - mean) ** 2 for v in w) / n))
    return out


def rsi(x: Series, n: int) -> Series:
    change = [NAN] + [b - a for a, b in itertools.pairwise(x)]
    up = rma([max(c, 0.0) if not math.isnan(c) else NAN for c in change], n)
    down = rma([max(-c, 0.0) if not math.isnan(c) else NAN for c in change], n)
    out = []
    for u, d in zip(up, down, strict=True):
        if math.isnan(u) or math.isnan(d):
            out.append(NAN)
        elif d == 0:
            out.append(100.0)
        elif u == 0:
            out.append(0.0)
        else:
            out.append(100 - 100 / (1 + u / d))
    return out


def macd(x: Series, fast: int, slow: int, signal: int) -> tuple[Series, Series, Series]:
    line = [a - b for a, b in zip(ema(x, fast), ema(x, slow), strict=True)]
    sig = ema(line, signal)
    return [a - b for a, b in zip(line, sig, strict=True)], line, sig


def stochastic(
    h: Series, lo: Series, c: Series, k: int, smooth_k: int, d: int
) -> tuple[Series, Series]:
    raw = []
    for i, (hw, lw) in enumerate(zip(windows(h, k), windows(lo, k), strict=True)):
        if hw is None or lw is None or max(hw) == min(lw):
            raw.append(NAN)
        else:
            raw.append(100 * (c[i] - min(lw)) / (max(hw) - min(lw)))
    pct_k = sma(raw, smooth_k)
    return pct_k, sma(pct_k, d)


def atr(h: Series, lo: Series, c: Series, n: int) -> Series:
    tr = [h[0] - lo[0]] + [
        max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(c))
    ]
    return rma(tr, n)


def vwap_utc(t: Series, h: Series, lo: Series, c: Series, v: Series) -> Series:
    out, day, pv, vol = [], None, 0.0, 0.0
    for i in range(len(t)):
        today = int(t[i] // 86400)
        if today != day:
            day, pv, vol = today, 0.0, 0.0
        pv += (h[i] + lo[i] + c[i]) / 3 * v[i]
        vol += v[i]
        out.append(pv / vol if vol else NAN)
    return out


def expected_columns(bars: Any) -> dict[str, Series]:
    """Every column of the ten catalogue entries (defaults) plus the Pine forms' columns."""
    t, h, lo, c, v = (bars.time.tolist(), bars.high.tolist(), bars.low.tolist(),
                      bars.close.tolist(), bars.volume.tolist())  # fmt: skip
    hist, line, sig = macd(c, 12, 26, 9)
    basis, dev = sma(c, 20), stdev(c, 20)
    k, d = stochastic(h, lo, c, 14, 1, 3)
    return {
        "rsi_14": rsi(c, 14), "sma_9": sma(c, 9), "ema_9": ema(c, 9), "wma_9": wma(c, 9),
        "macd_hist": hist, "macd": line, "macd_signal": sig, "bb_basis": basis,
        "bb_upper": [b + 2 * s for b, s in zip(basis, dev, strict=True)],
        "bb_lower": [b - 2 * s for b, s in zip(basis, dev, strict=True)],
        "stoch_k": k, "stoch_d": d, "atr_14": atr(h, lo, c, 14), "vwap": vwap_utc(t, h, lo, c, v),
        "vol": v, "vol_ma_20": sma(v, 20),
        # the Pine forms of RSI and MACD, named from the Pine id and plot titles
        "std_rsi": rsi(c, 14), "std_macd_histogram": hist, "std_macd": line,
        "std_macd_signal": sig,
    }  # fmt: skip


SYMBOL = "BINANCE:BTCUSDT"


async def test_history_values_equal_the_published_formulas(sim: SimHandle) -> None:
    specs = [indicator(name) for name in INDICATORS] + [indicator("STD;RSI"), indicator("STD;MACD")]
    async with Client(sim.url) as client:
        with_extra = await client.history(SYMBOL, "1h", 600)  # the 100 warm-up bars too
        hist = await client.history(SYMBOL, "1h", 500, indicators=specs)
    np.testing.assert_array_equal(hist.bars.time, with_extra.bars.time[100:])
    assert [v.spec.name for v in hist.indicators] == [s.name for s in specs]
    got = hist.indicator_columns
    expected = expected_columns(with_extra.bars)
    assert list(got) == list(expected)
    for name, want in expected.items():
        assert got[name].dtype == np.float64 and len(got[name]) == 500, name
        np.testing.assert_allclose(got[name], want[100:], rtol=1e-9, atol=1e-9, equal_nan=True,
                                   err_msg=name)  # fmt: skip


async def test_history_paged_in_several_requests_ends_with_the_final_span() -> None:
    with running(bars_per_request=120) as sim:
        async with Client(sim.url) as client:
            with_extra = await client.history(SYMBOL, "1h", 400)
            hist = await client.history(SYMBOL, "1h", 300, indicators=[indicator("RSI")])
    assert sim.stats.messages["request_more_data"] >= 2
    want = rsi(with_extra.bars.close.tolist(), 14)[100:]
    np.testing.assert_allclose(hist.indicator_columns["rsi_14"], want, rtol=1e-9, atol=1e-9)


async def indicator_updates(
    stream: Stream, until: Callable[[IndicatorUpdate], bool]
) -> list[IndicatorUpdate]:
    """Indicator updates read (bars skipped) up to the first one ``until`` accepts."""
    got: list[IndicatorUpdate] = []
    while not got or not until(got[-1]):
        event = await asyncio.wait_for(stream.__anext__(), 10)
        if isinstance(event, IndicatorUpdate):
            got.append(event)
    return got


def rsi_by_time(bars: Any) -> dict[float, float]:
    return dict(zip(bars.time.tolist(), rsi(bars.close.tolist(), 14), strict=True))


async def test_stream_forming_value_updates_and_closed_values_stay(sim: SimHandle) -> None:
    spec = indicator("RSI")
    async with (
        Client(sim.url) as client,
        client.stream(SYMBOL, "1m", n_bars=30, indicators=spec) as stream,
    ):
        loaded = await indicator_updates(stream, lambda u: not u.closed)
        forming = loaded[-1]
        sim.advance(10)
        (moved,) = await indicator_updates(stream, lambda u: True)
        sim.advance(120)
        live = await indicator_updates(stream, lambda u: u.time == forming.time + 120)
        first = loaded[0].time
        # the server computes from 100 bars before the stream's first bar: so does the check
        count = 100 + int((forming.time + 120 - first) // 60) + 1
        expected = rsi_by_time((await client.history(SYMBOL, "1m", count)).bars)
    assert [u.closed for u in loaded] == [True] * 29 + [False]
    assert (moved.time, moved.closed, moved.spec) == (forming.time, False, spec)
    assert moved.values["rsi_14"] != forming.values["rsi_14"]
    closed = [u for u in loaded + live if u.closed]
    assert [u.time for u in closed] == [first + 60 * k for k in range(31)]  # each bar once
    for update in closed:
        assert update.values["rsi_14"] == pytest.approx(expected[update.time], rel=1e-9)
    assert live[-1].values["rsi_14"] == pytest.approx(expected[live[-1].time], rel=1e-9)


async def test_stream_paged_load_publishes_the_recomputed_values() -> None:
    with running(bars_per_request=100) as sim:
        async with (
            Client(sim.url) as client,
            client.stream(SYMBOL, "1h", n_bars=250, indicators=[indicator("RSI")]) as stream,
        ):
            loaded = await indicator_updates(stream, lambda u: not u.closed)
            expected = rsi_by_time((await client.history(SYMBOL, "1h", 350)).bars)
    assert sim.stats.messages["request_more_data"] >= 1
    assert len(loaded) == 250 and [u.closed for u in loaded].count(True) == 249
    for update in loaded:
        assert update.values["rsi_14"] == pytest.approx(expected[update.time], rel=1e-9)


def fast_backoff() -> Iterator[float]:
    return backoff(0.01, 2.0, 0.1, jitter=0.0)


async def test_a_reconnect_resubscribes_the_studies(sim: SimHandle) -> None:
    client = Client(sim.url, reconnect_delays=fast_backoff)
    async with client, client.stream(SYMBOL, "1m", n_bars=3, indicators=[indicator("RSI")]) as s:
        before = await indicator_updates(s, lambda u: not u.closed)
        sim.faults.drop()
        while not isinstance(await asyncio.wait_for(s.__anext__(), 10), Reconnected):
            pass
        sim.advance(60)
        after = await indicator_updates(s, lambda u: u.time > before[-1].time)
    assert sim.stats.messages["create_study"] == 2
    closed = [u.time for u in before + after if u.closed]
    assert closed == sorted(set(closed)) and before[-1].time in closed


async def test_a_bad_input_is_refused_before_any_io(sim: SimHandle) -> None:
    with pytest.raises(InvalidArgumentError, match="RSI: length=0"):
        indicator("RSI", length=0)
    async with Client(sim.url) as client:
        with pytest.raises(InvalidArgumentError, match=r"tvframe\.indicator"):
            await client.history(SYMBOL, "1h", 10, indicators=[14])  # type: ignore[list-item]
        with pytest.raises(InvalidArgumentError, match=r"STD;RSI: length=2\.5 is invalid"):
            await client.history(SYMBOL, "1h", 10, indicators=[indicator("STD;RSI", length=2.5)])
        with pytest.raises(InvalidArgumentError, match="'rsi_14'"):
            client.stream(SYMBOL, "1m", indicators=[indicator("RSI"), indicator("RSI")])
    assert sim.stats.messages["create_series"] == 0 and sim.stats.messages["create_study"] == 0


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (indicator("RSI@tv-basicstudies-1", length=0),
         "Invalid value of the 'length' argument (0)"),
        (indicator("MASimple@tv-basicstudies-1", period=3), "Unknown input 'period'"),
        (indicator("Nope@tv-basicstudies-1"),
         "Internal server study error: unknown study Nope@tv-basicstudies-1"),
        (indicator("STD;Nope"), "script not found"),
    ],
)  # fmt: skip
async def test_a_study_the_server_refuses_raises_study_error_with_the_reason(
    sim: SimHandle, spec: IndicatorSpec, reason: str
) -> None:
    async with Client(sim.url) as client:
        with pytest.raises(StudyError) as caught:
            await client.history(SYMBOL, "1h", 10, indicators=[spec])
    assert reason in str(caught.value) and spec.name in str(caught.value)


async def test_more_studies_than_the_server_allows(sim: SimHandle) -> None:
    specs = [indicator("SMA", length=n) for n in range(1, 18)]
    async with Client(sim.url) as client:
        with pytest.raises(StudyError, match="maximum number of studies per chart"):
            await client.history(SYMBOL, "1h", 10, indicators=specs)


class QueueRoute:
    """A chart session's events into a queue, for driving a StudySet by hand."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    def on_event(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def on_lost(self, error: Exception, reconnecting: bool) -> bool:
        return False

    def resubscribe(self) -> list[tuple[str, list[Any]]]:
        return []

    def on_reconnected(self, attempt: int, reason: str) -> None:
        return None


async def test_create_modify_remove_on_the_simulator(sim: SimHandle) -> None:
    route, cs = QueueRoute(), new_id("cs_")
    studies = StudySet(cs)

    async def until(kind: str) -> Study:
        while True:
            event = await asyncio.wait_for(route.queue.get(), 10)
            for change in studies.on_event(event):
                if change.kind == kind:
                    return change.study

    async with Client(sim.url) as client:
        client.add_route(cs, route)
        await client.send(open_series_calls(cs, parse_symbol(SYMBOL), "60", 50))
        study, calls = studies.create(indicator("SMA", length=5))
        await client.send(calls)
        assert await until("full") is study
        closes = [float(b) for b in (await client.history(SYMBOL, "1h", 50)).bars.close]
        sma5 = study.values().columns["sma_5"]
        await client.send(studies.modify(study.study_id, indicator("SMA", length=10)))
        await until("full")
        sma10 = study.values().columns["sma_10"]
        await client.send(studies.remove(study.study_id))
        assert await until("deleted") is study
    np.testing.assert_allclose(sma5[4:], sma(closes, 5)[4:], rtol=1e-9)
    np.testing.assert_allclose(sma10[9:], sma(closes, 10)[9:], rtol=1e-9)
    assert sim.stats.messages["modify_study"] == 1 and sim.stats.messages["remove_study"] == 1
