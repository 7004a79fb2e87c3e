"""Client.history against the simulator: exact bars, paging, limits, errors."""

from __future__ import annotations

import asyncio
import re
import string
import warnings

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve

import tvframe
from tvframe import Client
from tvframe.errors import (
    AuthError,
    ConnectionClosed,
    InvalidArgumentError,
    InvalidIntervalError,
    InvalidSymbolError,
    SeriesError,
    ShortHistoryWarning,
    TvTimeoutError,
)
from tvframe.sim import SimHandle, running
from tvframe.sim.catalogue import find_symbol


def expected_bars(sim: SimHandle, symbol: str, resolution: str, n: int) -> np.ndarray:
    """What the simulator's market holds: the latest n bars, as rows of t,o,h,l,c,v."""
    bars = sim.market.bars_before(
        find_symbol(symbol), resolution, sim.clock.now() + 1e9, n, now=sim.clock.now()
    )
    return np.column_stack([bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])


def rows(hist: tvframe.History) -> np.ndarray:
    b = hist.bars
    return np.column_stack([b.time, b.open, b.high, b.low, b.close, b.volume])


async def test_history_returns_exactly_the_simulated_bars(sim: SimHandle) -> None:
    async with Client(sim.url) as client:
        hist = await client.history("NASDAQ:AAPL", "5m", 500)
    assert len(hist.bars) == 500
    np.testing.assert_array_equal(rows(hist), expected_bars(sim, "NASDAQ:AAPL", "5", 500))
    assert hist.info.symbol == "NASDAQ:AAPL"
    assert hist.info.timezone == "America/New_York"
    assert sim.stats.connections == 1


async def test_paging_reaches_12000_bars_when_the_depth_allows() -> None:
    with running(max_depth=20_000) as sim:
        async with Client(sim.url) as client:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                hist = await client.history("BINANCE:BTCUSDT", "1m", 12_000)
        assert len(hist.bars) == 12_000
        np.testing.assert_array_equal(
            rows(hist), expected_bars(sim, "BINANCE:BTCUSDT", "1", 12_000)
        )
        assert np.all(np.diff(hist.bars.time) == 60)
        # 5000 per request: the first page and two request_more_data pages.
        assert sim.stats.messages["request_more_data"] == 2


async def test_short_history_returns_what_exists_and_names_the_shortfall(sim: SimHandle) -> None:
    async with Client(sim.url) as client:
        with pytest.warns(ShortHistoryWarning, match="asked for 12000 bars, the server has 5000"):
            hist = await client.history("BINANCE:BTCUSDT", "1m", 12_000)
    assert len(hist.bars) == 5000
    np.testing.assert_array_equal(rows(hist), expected_bars(sim, "BINANCE:BTCUSDT", "1", 5000))


async def test_instrument_without_volume_has_nan_volume(sim: SimHandle) -> None:
    async with Client(sim.url) as client:
        hist = await client.history("SP:SPX", "1d", 50)
    assert len(hist.bars) == 50
    assert np.isnan(hist.bars.volume).all()


async def test_unknown_symbol_raises_a_value_error_naming_it(sim: SimHandle) -> None:
    async with Client(sim.url) as client:
        with pytest.raises(InvalidSymbolError, match="NASDAQ:NOPE") as info:
            await client.history("NASDAQ:NOPE", "5m", 10)
        assert isinstance(info.value, ValueError)
        # The connection is still usable afterwards.
        hist = await client.history("NASDAQ:MSFT", "5m", 10)
        assert len(hist.bars) == 10


async def test_seconds_on_an_anonymous_plan_is_a_series_error(sim: SimHandle) -> None:
    async with Client(sim.url) as client:
        with pytest.raises(SeriesError, match="seconds_not_entitled"):
            await client.history("BINANCE:BTCUSDT", "15s", 10)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"symbol": "AAPL"}, InvalidSymbolError),
        ({"interval": "5min"}, InvalidIntervalError),
        ({"n_bars": 0}, InvalidArgumentError),
        ({"n_bars": 2_000_000}, InvalidArgumentError),
        ({"adjustment": "none"}, InvalidArgumentError),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    sim: SimHandle, kwargs: dict[str, object], error: type[Exception]
) -> None:
    args: dict[str, object] = {"symbol": "NASDAQ:AAPL", "interval": "5m", "n_bars": 10}
    args.update(kwargs)
    async with Client(sim.url) as client:
        with pytest.raises(error):
            await client.history(**args)  # type: ignore[arg-type]
    assert sim.stats.messages["create_series"] == 0


async def test_bad_token_raises_auth_error_without_showing_the_token() -> None:
    secret = "not-a-valid-token"
    with running() as sim:
        async with Client(sim.url, token=secret, reconnect=False) as client:
            with pytest.raises(AuthError, match="bad auth token") as info:
                await client.history("NASDAQ:AAPL", "5m", 10)
    assert secret not in str(info.value)
    assert secret not in repr(client)


async def test_a_silent_server_times_out_instead_of_hanging() -> None:
    async def silent(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with serve(silent, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = Client(f"ws://127.0.0.1:{port}/socket.io/websocket", timeout=0.3)
        with pytest.raises(TvTimeoutError, match="hello"):
            await client.connect()
        assert client.state is tvframe.ClientState.CLOSED


async def test_a_socket_closed_mid_call_raises_connection_closed() -> None:
    async def hello_then_close(ws: ServerConnection) -> None:
        await ws.send('~m~28~m~{"session_id":"x","via":"y"}')
        await ws.recv()
        await ws.close(1011, "going away")

    async with serve(hello_then_close, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with Client(f"ws://127.0.0.1:{port}/socket.io/websocket", reconnect=False) as c:
            with pytest.raises(ConnectionClosed, match="1011") as info:
                await c.history("NASDAQ:AAPL", "5m", 10)
            assert info.value.code == 1011


async def test_unreachable_host_is_a_websocket_exception() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(tvframe.WebSocketException, match="could not connect"):
        await Client(f"ws://127.0.0.1:{port}/x", timeout=2).connect()


def test_client_cannot_be_reopened(sim: SimHandle) -> None:
    async def main() -> None:
        client = Client(sim.url)
        async with client:
            pass
        with pytest.raises(tvframe.TvFrameError, match="cannot be opened again"):
            await client.connect()

    asyncio.run(main())


def test_url_must_be_a_websocket_url() -> None:
    with pytest.raises(InvalidArgumentError, match="http://x"):
        Client("http://x")


def test_session_ids_are_the_prefix_and_twelve_lowercase_letters() -> None:
    from tvframe.client import new_id

    ids = {new_id("cs_") for _ in range(2000)}
    assert len(ids) == 2000  # no repeats
    assert all(re.fullmatch(r"cs_[a-z]{12}", i) for i in ids)
    # Every letter turns up: the bytes are spread over the whole alphabet.
    assert set("".join(i[3:] for i in ids)) == set(string.ascii_lowercase)
