"""Fault injection, observed the way a client sees it: close codes, silence, refused handshakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as sync_connect

from tests.sim.test_server import CS, Peer, load, only, peer_of, series_calls
from tvframe.protocol import FrameDecoder
from tvframe.sim import SimConfig, Simulator, running
from tvframe.sim.faults import FaultState

HEARTBEAT = 0.05


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


async def drain(ws: ClientConnection) -> tuple[list[dict[str, Any]], ConnectionClosed]:
    """Every data message until the socket closes, and how it closed."""
    decoder = FrameDecoder()
    messages: list[dict[str, Any]] = []
    try:
        while True:
            frame = await asyncio.wait_for(ws.recv(), 5.0)
            assert isinstance(frame, str)
            items = decoder.feed(frame)
            messages += [orjson.loads(item) for item in items if isinstance(item, str)]
    except ConnectionClosed as closed:
        return messages, closed


# --- drop -----------------------------------------------------------------------------


async def test_drop_defaults_to_an_abrupt_close_seen_as_1006(sim: Simulator) -> None:
    async with peer_of(sim) as one, peer_of(sim) as two:
        await load(one, *series_calls(count=5))
        await load(two, *series_calls(count=5))
        assert await sim.faults.drop() == 2
        for peer in (one, two):
            _, closed = await drain(peer.ws)
            assert closed.rcvd is None, "no close frame on an abrupt close"
            assert peer.ws.close_code == 1006
    assert sim.stats.drops == 2


@pytest.mark.parametrize("code", [1000, 1001, 1011, 4000])
async def test_drop_with_a_code_sends_that_close_frame(sim: Simulator, code: int) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls(count=5))
        await sim.faults.drop(code)
        _, closed = await drain(peer.ws)
    assert closed.rcvd is not None and closed.rcvd.code == code


async def test_drop_1005_sends_a_close_frame_without_status(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.frame()
        await sim.faults.drop(1005)
        _, closed = await drain(peer.ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1005
    assert peer.ws.close_code == 1005


@pytest.mark.parametrize("code", [999, 1004, 1015, 2000, 5000])
async def test_drop_rejects_codes_that_cannot_be_sent(sim: Simulator, code: int) -> None:
    with pytest.raises(ValueError, match=str(code)):
        await sim.faults.drop(code)


async def test_a_dropped_client_can_reconnect(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.frame()
        await sim.faults.drop()
        await drain(peer.ws)
    async with peer_of(sim) as again:
        messages = await load(again, *series_calls(count=5))
    assert only(messages, "series_completed")
    assert sim.stats.connections == 2


# --- drop_after -----------------------------------------------------------------------


async def test_drop_after_counts_messages_not_frames(sim: Simulator) -> None:
    async with peer_of(sim) as before:  # accepted before the fault: keeps working
        await before.frame()
        await sim.faults.drop_after(3)
        for _ in range(2):
            async with peer_of(sim) as peer:
                await peer.send(*series_calls(count=5))  # 4 replies in one frame
                messages, closed = await drain(peer.ws)
            assert [m.get("m", "<hello>") for m in messages] == [
                "<hello>",
                "series_loading",
                "symbol_resolved",
            ]
            assert closed.rcvd is None
        await sim.faults.drop_after(None)
        async with peer_of(sim) as after:
            assert only(await load(after, *series_calls(count=5)), "series_completed")
        assert only(await load(before, *series_calls(count=5)), "series_completed")
    assert sim.stats.drops == 2


async def test_drop_after_zero_closes_before_the_hello(sim: Simulator) -> None:
    await sim.faults.drop_after(0, code=1011)
    async with peer_of(sim) as peer:
        messages, closed = await drain(peer.ws)
    assert messages == [] and closed.rcvd is not None and closed.rcvd.code == 1011


async def test_drop_after_rejects_a_negative_count(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="-1"):
        await sim.faults.drop_after(-1)


# --- silence --------------------------------------------------------------------------


async def heartbeats(peer: Peer, count: int) -> list[str]:
    """Wait for ``count`` heartbeat frames (skipping data frames)."""
    seen: list[str] = []
    while len(seen) < count:
        frame = await peer.frame()
        if "~h~" in frame:
            seen.append(frame)
    return seen


async def test_silence_stops_heartbeats_and_replies_then_resumes() -> None:
    async with Simulator(SimConfig(heartbeat_interval=HEARTBEAT)) as sim, peer_of(sim) as peer:
        await heartbeats(peer, 1)
        assert await sim.faults.silence() == 1
        sent = sim.stats.heartbeats_sent
        await peer.send(*series_calls(count=5))
        late: list[str | bytes] = []
        with pytest.raises(asyncio.TimeoutError):
            while True:  # only frames written before the silence may still arrive
                late.append(await asyncio.wait_for(peer.ws.recv(), 3 * HEARTBEAT))
        assert sim.stats.heartbeats_sent == sent
        assert all("~h~" in frame for frame in late) and len(late) <= 1
        async with peer_of(sim) as fresh:  # a socket accepted meanwhile is not silenced
            assert only(await load(fresh, *series_calls(count=3)), "series_completed")
            await heartbeats(fresh, 1)
        await sim.faults.silence(False)
        resumed = await heartbeats(peer, 1)
        messages = await load(peer, ("request_more_data", [CS, "sds_1", 1]))
    numbers = sorted(int(frame.rsplit("~", 1)[1]) for frame in [*peer.frames, *late]
                     if isinstance(frame, str) and "~h~" in frame)  # fmt: skip
    assert resumed[0] in peer.frames and numbers == list(range(1, len(numbers) + 1)), (
        "same socket, numbering continues"
    )
    assert sim.stats.messages["create_series"] == 2, "the silenced load was handled..."
    assert [m.get("m") for m in messages] == [
        "series_loading",
        "timescale_update",
        "series_completed",
    ], "...but its replies were lost, not queued"


# --- refuse ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_refuse_answers_handshakes_with_an_http_status(sim: Simulator, status: int) -> None:
    await sim.faults.refuse(2, status)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as info:
            async with connect(sim.url):
                pass
        assert info.value.response.status_code == status
    async with peer_of(sim) as peer:
        assert "session_id" in await peer.frame()
    assert sim.stats.handshakes_refused == 2 and sim.stats.connections == 1


async def test_refuse_rejects_a_non_error_status(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="200"):
        await sim.faults.refuse(1, 200)


# --- protocol_error and critical_error ------------------------------------------------


async def test_protocol_error_is_sent_then_the_socket_closes(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls(count=5))
        assert await sim.faults.protocol_error("banned by ip") == 1
        messages, closed = await drain(peer.ws)
    assert messages == [{"m": "protocol_error", "p": ["banned by ip"]}]
    assert closed.rcvd is not None and closed.rcvd.code == 1000
    assert sim.stats.drops == 1


async def test_critical_error_kills_one_chart_session(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls(count=5), *series_calls(count=5, cs="cs_other")[1:])
        await peer.until("series_completed")
        await sim.faults.critical_error(CS, "internal error", "boom")
        killed = await peer.until("critical_error")
        await sim.advance(60)  # live data goes on for the other session only
        update = (await peer.until("du"))[-1]
        await peer.send(("request_more_data", [CS, "sds_1", 10]))
        closing = await peer.until("protocol_error")
    assert killed[-1] == {"m": "critical_error", "p": [CS, "internal error", "boom"]}
    assert update["p"][0] == "cs_other"
    assert closing[-1]["p"][0].startswith('{unknown_session_id,<<"request_more_data">>')


async def test_critical_error_of_a_quote_session_keeps_the_socket(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(("quote_create_session", ["qs_1"]), ("quote_add_symbols", ["qs_1", "KO"]))
        await peer.until("quote_completed")
        await sim.faults.critical_error("qs_1")
        killed = await peer.until("critical_error")
        messages = await load(peer, *series_calls(count=5))
    assert killed[-1]["p"][:2] == ["qs_1", "internal error"]
    assert only(messages, "series_completed")


async def test_critical_error_of_an_unknown_session_raises(sim: Simulator) -> None:
    with pytest.raises(LookupError, match="cs_nope"):
        await sim.faults.critical_error("cs_nope")


# --- delay ----------------------------------------------------------------------------


async def test_delay_holds_every_frame_back(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.frame()
        await sim.faults.delay(0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await load(peer, *series_calls(count=5))
        delayed = loop.time() - started
        await sim.faults.delay(0)
        started = loop.time()
        await load(peer, ("request_more_data", [CS, "sds_1", 1]))
        prompt = loop.time() - started
    assert delayed >= 0.2 and prompt < 0.2


async def test_delay_rejects_negative_seconds(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="-1"):
        await sim.faults.delay(-1)


# --- bar faults -----------------------------------------------------------------------


async def live_indexes(sim: Simulator) -> list[list[int]]:
    """Point indexes of each du of one push closing two 1-minute bars."""
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "1", 10))
        await sim.advance(150)
        messages = await peer.until("du", 3)
        await peer.send(("request_more_data", [CS, "sds_1", 1]))
        rest = await peer.until("series_completed")
    dus = messages[-3:] + only(rest, "du")
    return [[point["i"] for point in m["p"][1]["sds_1"]["s"]] for m in dus]


async def test_live_bars_in_order_without_faults(sim: Simulator) -> None:
    assert await live_indexes(sim) == [[9, 10], [10, 11], [11]]


async def test_duplicate_bars_repeats_an_earlier_bar(sim: Simulator) -> None:
    await sim.faults.duplicate_bars()
    assert await live_indexes(sim) == [[9, 10], [10, 11], [11], [9, 10]]


async def test_reorder_bars_sends_newest_first(sim: Simulator) -> None:
    await sim.faults.reorder_bars()
    assert await live_indexes(sim) == [[11], [10, 11], [9, 10]]


def test_arrange_leaves_updates_alone_by_default() -> None:
    assert FaultState().arrange([1, 2]) == [1, 2]
    assert FaultState(duplicate_bars=True).arrange([]) == []


# --- the blocking wrappers ------------------------------------------------------------


def test_sim_handle_faults_block_until_applied() -> None:
    with running() as sim:
        with sync_connect(sim.url) as ws:
            ws.recv(timeout=5)
            assert sim.faults.drop(4001) == 1
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001
        sim.faults.refuse(1)
        with pytest.raises(InvalidStatus):
            sync_connect(sim.url)
        assert sim.stats.handshakes_refused == 1 and sim.stats.drops == 1
