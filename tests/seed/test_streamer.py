"""RealtimeStreamer and validate_symbols against the simulator, with the seed's examples verbatim.

Each seed example runs as the seed prints it; only its import path changes (``tvkit.api.chart``
becomes ``tvframe``) and ``asyncio.run(...)`` gives way to the test's own loop. ``print`` is a
recorder, so the tests check exactly what the examples print.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import socket
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from tests.formulas import rsi
from tvframe.errors import (
    InvalidArgumentError,
    InvalidSymbolError,
    ShortHistoryWarning,
    WebSocketException,
)
from tvframe.models import ExportConfig, IndicatorConfig, StreamConfig, StreamData
from tvframe.realtime import RealtimeStreamer, StreamerResponse, validate_symbols
from tvframe.sim import SimHandle, Simulator, running
from tvframe.sim.catalogue import CATALOGUE, find_symbol

SEED_BASIC_STYLE_1 = """
import asyncio
from tvkit.api.chart.realtime import RealtimeStreamer
from tvkit.api.chart.models import StreamConfig

async def basic_streaming():
    config = StreamConfig(
        symbols=["BINANCE:BTCUSDT", "NASDAQ:AAPL"],
        timeframe="1m",
        num_candles=50
    )

    async with RealtimeStreamer(config) as streamer:
        async for response in streamer.stream():
            if response.data_type == 'ohlcv' and response.ohlcv_data:
                latest = response.ohlcv_data[-1]
                print(f"{response.symbol}: {latest.close}")

asyncio.run(basic_streaming())
"""

SEED_BASIC_STYLE_2 = """
import asyncio
from tvkit.api.chart.realtime import RealtimeStreamer, ExportConfig, StreamConfig

async def basic_streaming():
    export_config = ExportConfig(export_result=False)
    stream_config = StreamConfig(timeframe='1m', numb_price_candles=10)

    async with RealtimeStreamer(
        export_config=export_config,
        stream_config=stream_config
    ) as streamer:
        result = await streamer.stream(exchange="BINANCE", symbol="BTCUSDT")

        # result is an async generator when export_result=False
        if hasattr(result, '__aiter__'):
            async for packet in result:
                print(packet)
                break  # Show first packet

asyncio.run(basic_streaming())
"""

SEED_EXPORT = """
import asyncio
from tvkit.api.chart.realtime import RealtimeStreamer, ExportConfig, StreamConfig, StreamData

async def export_streaming():
    export_config = ExportConfig(export_result=True, export_type='json')
    stream_config = StreamConfig(timeframe='5m', numb_price_candles=20)

    async with RealtimeStreamer(
        export_config=export_config,
        stream_config=stream_config
    ) as streamer:
        result = await streamer.stream(exchange="BINANCE", symbol="ETHUSDT")

        # result is a StreamData object when export_result=True
        if isinstance(result, StreamData):
            print(f"OHLC data points: {len(result.ohlc)}")
            print(f"Indicator data points: {len(result.indicator)}")

asyncio.run(export_streaming())
"""

SEED_INDICATORS = """
import asyncio
from tvkit.api.chart.realtime import (
    RealtimeStreamer, ExportConfig, StreamConfig, IndicatorConfig
)

async def indicator_streaming():
    export_config = ExportConfig(export_result=True, export_type='json')
    stream_config = StreamConfig(timeframe='1m', numb_price_candles=30)
    indicator_config = IndicatorConfig(
        indicator_id="RSI@tv-basicstudies",
        indicator_version="1"
    )

    async with RealtimeStreamer(
        export_config=export_config,
        stream_config=stream_config,
        indicator_config=indicator_config
    ) as streamer:
        result = await streamer.stream(exchange="NASDAQ", symbol="AAPL")

        if isinstance(result, StreamData):
            print(f"OHLC data: {len(result.ohlc)} points")
            print(f"Indicator data: {len(result.indicator)} points")

asyncio.run(indicator_streaming())
"""

SEED_VALIDATION = """
import asyncio
from tvkit.api.chart.realtime import RealtimeStreamer

async def validate_symbols():
    streamer = RealtimeStreamer()

    try:
        # Validate single symbol
        is_valid = await streamer.validate_symbols("BINANCE:BTCUSDT")
        print(f"Single symbol valid: {is_valid}")

        # Validate multiple symbols
        symbols = ["BINANCE:BTCUSDT", "NASDAQ:AAPL", "NYSE:TSLA"]
        is_valid = await streamer.validate_symbols(symbols)
        print(f"Multiple symbols valid: {is_valid}")

    except ValueError as e:
        print(f"Validation error: {e}")

asyncio.run(validate_symbols())
"""

#: Bars the simulator adds before a series when it computes a study (its default).
STUDY_EXTRA_BARS = 100

# The seed's two import spellings, and the flat package the issue asks for.
IMPORT_PATHS = [None, "tvframe"]


class Printer:
    """Stands in for ``print``: records lines, and lets a test await a number of them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.objects: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, *args: Any) -> None:
        self.objects.extend(args)
        self.lines.append(" ".join(str(arg) for arg in args))
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        async def enough() -> None:
            while len(self.lines) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), 10)


def run_seed(
    code: str, printer: Printer, package: str | None, missing: dict[str, Any] | None = None
) -> Any:
    """The coroutine of a seed example, its definitions run with tvframe's import path.

    ``missing`` supplies names an example uses without importing them.
    """
    lines = code.strip().splitlines()
    match = re.fullmatch(r"asyncio\.run\((\w+)\(\)\)", lines[-1])
    assert match is not None
    body = "\n".join(lines[:-1])
    for seed_module, ours in (
        ("tvkit.api.chart.realtime", "tvframe.realtime"),
        ("tvkit.api.chart.models", "tvframe.models"),
    ):
        body = body.replace(seed_module, package or ours)
    namespace: dict[str, Any] = {"print": printer, **(missing or {})}
    exec(compile(body, "<seed example>", "exec"), namespace)
    return namespace[match.group(1)]()


def sim_candles(sim: SimHandle, symbol: str, resolution: str, count: int) -> list[dict[str, Any]]:
    """The latest ``count`` bars the simulator serves now (the last one forming), as dicts."""
    found = find_symbol(symbol)
    assert found is not None
    now = sim.clock.now()
    bars = sim.market.bars_before(found, resolution, now + 1, count, now=now)
    keys = ("timestamp", "open", "high", "low", "close", "volume")
    columns = (bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume)
    return [
        {"index": i, **{k: float(c[i]) for k, c in zip(keys, columns, strict=True)}}
        for i in range(len(bars))
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def ws_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/socket.io/websocket"


# --- the seed's examples -------------------------------------------------------------------


@pytest.mark.parametrize("package", IMPORT_PATHS)
async def test_seed_style_1_streams_many_symbols(sim: SimHandle, package: str | None) -> None:
    printer = Printer()
    task = asyncio.create_task(run_seed(SEED_BASIC_STYLE_1, printer, package))
    try:
        await printer.wait_for(100)
        loaded = {s: sim_candles(sim, s, "1", 50) for s in ("BINANCE:BTCUSDT", "NASDAQ:AAPL")}
        await asyncio.to_thread(sim.advance, 60)
        await printer.wait_for(104)
        after = {s: sim_candles(sim, s, "1", 2) for s in loaded}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    for symbol in loaded:
        # 49 closed candles, the forming one; then it closes and the next one forms.
        expected = [c["close"] for c in loaded[symbol]] + [c["close"] for c in after[symbol]]
        printed = [line for line in printer.lines if line.startswith(f"{symbol}: ")]
        assert printed == [f"{symbol}: {close}" for close in expected]
    assert len(printer.lines) == 104


@pytest.mark.parametrize("package", IMPORT_PATHS)
async def test_seed_style_2_returns_an_async_generator(sim: SimHandle, package: str | None) -> None:
    printer = Printer()
    await run_seed(SEED_BASIC_STYLE_2, printer, package)
    [packet] = printer.objects
    first = sim_candles(sim, "BINANCE:BTCUSDT", "1", 10)[0]
    assert isinstance(packet, StreamerResponse)
    assert (packet.data_type, packet.symbol, packet.timeframe, packet.closed) == (
        "ohlcv",
        "BINANCE:BTCUSDT",
        "1m",
        True,
    )
    assert [c.model_dump() for c in packet.ohlcv_data] == [first]


@pytest.mark.parametrize("package", IMPORT_PATHS)
async def test_seed_export_example_writes_the_seed_file(
    sim: SimHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    printer = Printer()
    before = datetime.now(timezone.utc).replace(microsecond=0)
    await run_seed(SEED_EXPORT, printer, package)
    after = datetime.now(timezone.utc)
    assert printer.lines == ["OHLC data points: 20", "Indicator data points: 0"]
    [path] = (tmp_path / "export").iterdir()
    match = re.fullmatch(r"ohlc_ethusdt_5m_(\d{8}-\d{6})\.json", path.name)
    assert match is not None, path.name
    stamp = datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    assert before <= stamp <= after
    # The 20 closed candles before the forming one, exactly as the simulator made them.
    assert json.loads(path.read_text()) == sim_candles(sim, "BINANCE:ETHUSDT", "5", 21)[:20]


async def test_seed_indicator_example_streams_and_exports_the_study(
    sim: SimHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    printer = Printer()
    # The seed's example tests isinstance(result, StreamData) but never imports StreamData.
    await run_seed(SEED_INDICATORS, printer, None, missing={"StreamData": StreamData})
    assert printer.lines == ["OHLC data: 30 points", "Indicator data: 30 points"]
    files = {path.name.split("_")[0]: path for path in (tmp_path / "export").iterdir()}
    assert set(files) == {"ohlc", "indicator"}
    assert files["indicator"].name.startswith("indicator_aapl_1m_")
    candles = sim_candles(sim, "NASDAQ:AAPL", "1", 31 + STUDY_EXTRA_BARS)
    loaded = [{**c, "index": c["index"] - STUDY_EXTRA_BARS} for c in candles[STUDY_EXTRA_BARS:]]
    assert json.loads(files["ohlc"].read_text()) == loaded[:-1]
    # The server computed RSI(14) over the 31 loaded candles and its 100 warm-up candles.
    expected = rsi([c["close"] for c in candles], 14)[STUDY_EXTRA_BARS:-1]
    points = json.loads(files["indicator"].read_text())
    assert [(p["index"], p["timestamp"], p["close"]) for p in points] == [
        (c["index"], c["timestamp"], c["close"]) for c in loaded[:-1]
    ]
    np.testing.assert_allclose([p["smoothing"] for p in points], expected, rtol=0, atol=1e-9)


async def test_indicator_responses_follow_their_candles_live(sim: SimHandle) -> None:
    config = StreamConfig(symbols=["BINANCE:BTCUSDT"], timeframe="1m", num_candles=20)
    indicator_config = IndicatorConfig(indicator_id="STD;EMA")  # the Pine form
    seen: list[StreamerResponse] = []
    async with RealtimeStreamer(config, indicator_config=indicator_config) as streamer:
        async for response in streamer.stream():
            seen.append(response)
            if response.data_type == "indicator" and not response.closed:
                if sum(r.data_type == "indicator" for r in seen) > 20:
                    break
                await asyncio.to_thread(sim.advance, 60)
    closed_candles = {
        r.ohlcv_data[0].timestamp: r.ohlcv_data[0].close
        for r in seen
        if r.data_type == "ohlcv" and r.closed
    }
    closed_points = [r.indicator_data[0] for r in seen if r.data_type == "indicator" and r.closed]
    times = [p.timestamp for p in closed_points]
    assert times == sorted(set(times)) and len(times) >= 19  # each bar's final value once
    assert all(p.close == closed_candles[p.timestamp] for p in closed_points)
    assert not any(math.isnan(p.smoothing) for p in closed_points)  # warm-up bars cover EMA(9)
    forming = [r for r in seen if r.data_type == "indicator" and not r.closed]
    assert len({r.indicator_data[0].timestamp for r in forming}) > 1  # it followed the clock


@pytest.mark.parametrize("package", IMPORT_PATHS)
async def test_seed_validation_example(sim: SimHandle, package: str | None) -> None:
    printer = Printer()
    await run_seed(SEED_VALIDATION, printer, package)
    # NYSE:TSLA does not exist (Tesla trades on NASDAQ): the seed's own list has a bad symbol.
    assert printer.lines == [
        "Single symbol valid: True",
        "Validation error: 1 symbol unknown to the server: NYSE:TSLA",
    ]


# --- export in every format --------------------------------------------------------------------


@pytest.mark.parametrize("export_type", ["csv", "parquet"])
async def test_export_formats_hold_the_simulated_candles(
    sim: SimHandle, tmp_path: Path, export_type: Literal["csv", "parquet"]
) -> None:
    export_config = ExportConfig(
        export_result=True, export_type=export_type, directory=tmp_path / "out"
    )
    stream_config = StreamConfig(timeframe="15m", numb_price_candles=12)
    async with RealtimeStreamer(
        export_config=export_config, stream_config=stream_config
    ) as streamer:
        result = await streamer.stream(exchange="NYSE", symbol="IBM")
    expected = sim_candles(sim, "NYSE:IBM", "15", 13)[:12]
    assert isinstance(result, StreamData)
    assert [c.model_dump() for c in result.ohlc] == expected
    [path] = (tmp_path / "out").iterdir()
    assert re.fullmatch(rf"ohlc_ibm_15m_\d{{8}}-\d{{6}}\.{export_type}", path.name)
    frame = pd.read_csv(path) if export_type == "csv" else pd.read_parquet(path)
    assert frame.to_dict(orient="records") == expected


def test_short_history_returns_what_exists_with_a_warning(tmp_path: Path) -> None:
    async def collect() -> Any:
        async with RealtimeStreamer(
            export_config=ExportConfig(export_result=True, directory=tmp_path),
            stream_config=StreamConfig(timeframe="1d", numb_price_candles=10),
        ) as streamer:
            return await streamer.stream(symbol="BINANCE:BTCUSDT")

    with running(max_depth=5) as sim, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = asyncio.run(collect())
        expected = sim_candles(sim, "BINANCE:BTCUSDT", "1D", 5)[:4]
    assert isinstance(result, StreamData)
    assert [c.model_dump() for c in result.ohlc] == expected
    [warning] = [w for w in caught if issubclass(w.category, ShortHistoryWarning)]
    assert "asked for 10 closed candles, the server has 4" in str(warning.message)


# --- streaming behaviour ----------------------------------------------------------------------


async def test_unknown_symbol_yields_an_error_and_the_others_go_on(sim: SimHandle) -> None:
    config = StreamConfig(symbols=["NASDAQ:NOPE", "BINANCE:BTCUSDT"], timeframe="1m", num_candles=3)
    seen: list[StreamerResponse] = []
    async with RealtimeStreamer(config) as streamer:
        async for response in streamer.stream():
            seen.append(response)
            if sum(r.data_type == "ohlcv" for r in seen) == 3:
                break
    [error] = [r for r in seen if r.data_type == "error"]
    assert error.symbol == "NASDAQ:NOPE" and error.error is not None and "NOPE" in error.error
    closes = [r.ohlcv_data[0].close for r in seen if r.data_type == "ohlcv"]
    assert closes == [c["close"] for c in sim_candles(sim, "BINANCE:BTCUSDT", "1", 3)]


async def test_when_every_symbol_fails_the_error_names_them_all(sim: SimHandle) -> None:
    config = StreamConfig(symbols=["NASDAQ:NOPE", "NYSE:NADA"], timeframe="1m")
    async with RealtimeStreamer(config) as streamer:
        with pytest.raises(InvalidSymbolError) as info:
            async for _ in streamer.stream():
                pass
    assert sorted(info.value.symbols) == ["NASDAQ:NOPE", "NYSE:NADA"]


async def test_an_unknown_symbol_in_style_2_raises(sim: SimHandle, tmp_path: Path) -> None:
    streamer = RealtimeStreamer(export_config=ExportConfig(export_result=True, directory=tmp_path))
    async with streamer:
        with pytest.raises(InvalidSymbolError, match="NASDAQ:NOPE"):
            await streamer.stream(exchange="NASDAQ", symbol="NOPE")
    assert list(tmp_path.iterdir()) == []


async def test_stream_without_async_with_opens_its_own_connection(sim: SimHandle) -> None:
    streamer = RealtimeStreamer(StreamConfig(symbols="NASDAQ:MSFT", num_candles=2))  # type: ignore[arg-type]
    closes = []
    async for response in streamer.stream():
        closes.append(response.ohlcv_data[0].close)
        if len(closes) == 2:
            break
    assert closes == [c["close"] for c in sim_candles(sim, "NASDAQ:MSFT", "1", 2)]


async def test_leaving_the_streamer_ends_its_open_streams(sim: SimHandle) -> None:
    async with RealtimeStreamer(StreamConfig(symbols=["NASDAQ:AAPL"])) as streamer:
        responses = aiter(streamer.stream())
        await anext(responses)
    with pytest.raises(StopAsyncIteration):
        await anext(responses)


async def test_unreachable_server_surfaces_as_websocket_exception() -> None:
    streamer = RealtimeStreamer(StreamConfig(symbols=["NASDAQ:AAPL"]), url=ws_url(free_port()))
    with pytest.raises(WebSocketException):
        async with streamer:
            pass


def test_arguments_are_checked_before_any_network_call() -> None:
    with pytest.raises(InvalidArgumentError, match="no symbol to stream"):
        RealtimeStreamer().stream()
    with pytest.raises(InvalidArgumentError, match="needs symbol="):
        RealtimeStreamer().stream(exchange="BINANCE")
    with pytest.raises(InvalidSymbolError, match="BINANCE:BTC/USDT"):
        RealtimeStreamer().stream(exchange="BINANCE", symbol="BTC/USDT")
    with pytest.raises(InvalidArgumentError, match="stream_config must be a StreamConfig"):
        RealtimeStreamer(stream_config={"timeframe": "1m"})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="different values"):
        RealtimeStreamer(StreamConfig(timeframe="1m"), stream_config=StreamConfig(timeframe="5m"))
    with pytest.raises(InvalidArgumentError, match="invalid url"):
        RealtimeStreamer(url="http://example.com")


async def test_exporting_needs_exactly_one_symbol() -> None:
    streamer = RealtimeStreamer(
        StreamConfig(symbols=["NASDAQ:AAPL", "NYSE:IBM"]),
        export_config=ExportConfig(export_result=True),
    )
    with pytest.raises(InvalidArgumentError, match="collects one symbol, got 2"):
        await streamer.stream()


# --- validate_symbols ----------------------------------------------------------------------------


# The hand-written instruments (the generated SIMX universe is for scale tests).
KNOWN = [name for name in CATALOGUE if not name.startswith("SIMX:")]


def _fifty_with_unknown() -> tuple[list[str], list[str]]:
    known = KNOWN
    unknown = [f"NASDAQ:FAKE{i:02d}" for i in range(50 - len(known))]
    mixed = [s for pair in itertools.zip_longest(known, unknown) for s in pair if s]
    return mixed, unknown


async def test_fifty_symbols_every_unknown_one_named_in_one_error(sim: SimHandle) -> None:
    symbols, unknown = _fifty_with_unknown()
    assert len(symbols) == 50
    with pytest.raises(InvalidSymbolError) as info:
        await validate_symbols(symbols)
    assert info.value.symbols == unknown
    assert all(symbol in str(info.value) for symbol in unknown)
    assert sim.stats.connections == 1  # one socket for all fifty


async def test_fifty_symbols_malformed_ones_are_named_before_any_connection(
    sim: SimHandle,
) -> None:
    malformed = ["AAPL", "", "NASDAQ:", ":X", "A B:C", "NYSE:IBM/1"]
    symbols = [*_fifty_with_unknown()[0][:44], *malformed]
    assert len(set(symbols)) == 50
    with pytest.raises(InvalidSymbolError) as info:
        await validate_symbols(symbols)
    assert info.value.symbols == malformed
    assert sim.stats.connections == 0


async def test_valid_symbols_return_true(sim: SimHandle) -> None:
    assert await validate_symbols(KNOWN) is True
    assert await validate_symbols("binance:btcusdt") is True


async def test_transport_failures_are_retried_then_raised() -> None:
    delays: list[float] = []

    def recorded() -> Iterator[float]:
        for delay in itertools.repeat(0.0):
            delays.append(delay)
            yield delay

    with pytest.raises(WebSocketException, match="after 4 attempts"):
        await validate_symbols("NASDAQ:AAPL", url=ws_url(free_port()), retry_delays=recorded)
    assert len(delays) == 3


async def test_a_server_that_comes_back_is_reached_on_retry() -> None:
    port = free_port()
    started: list[SimHandle] = []

    def start_server_then_no_delay() -> Iterator[float]:
        # Called only after the first attempt failed: the server comes up for the retry.
        started.append(SimHandle(Simulator(port=port)))
        yield from itertools.repeat(0.0)

    try:
        result = await validate_symbols(
            ["NASDAQ:AAPL", "NYSE:IBM"], url=ws_url(port), retry_delays=start_server_then_no_delay
        )
        assert result is True
        assert started[0].stats.connections == 1
    finally:
        for handle in started:
            handle.stop()
