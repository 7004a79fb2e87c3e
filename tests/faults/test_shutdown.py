"""Graceful shutdown: Ctrl-C during a sync call, interpreter exit with live frames open, and
``stop()``/``close()``: sockets are closed with a closing handshake the server sees (after the
sessions are deleted), exports are complete, and no thread or task is left behind.

The server side is observed through a relay (``Proxy``): which calls arrived, and the close
code each connection ended with (1000: a clean close; 1006: dropped without one).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import orjson
import pytest

from tests.faults.figures import Figures
from tests.faults.helpers import WAIT, Collected, Proxy, start_reading
from tvframe import Client
from tvframe.liveframe import live
from tvframe.loop import shared_loop
from tvframe.models import ExportConfig, StreamConfig, StreamData
from tvframe.sim import running
from tvframe.streamer import RealtimeStreamer

# Run first by a child script, before tvframe is imported: its exit hook then runs last, after
# tvframe's own, and reports what is still alive.
PRELUDE = """
import atexit, sys, threading
def _report():
    names = sorted(t.name for t in threading.enumerate())
    print("threads at exit:", ",".join(names), flush=True)
atexit.register(_report)
import tvframe as tv
"""
CLEAN_EXIT = "threads at exit: MainThread"
DIRTY = ("Traceback", "Task was destroyed", "Exception ignored", "never retrieved", "Error")


def child(script: str, url: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TVFRAME_URL": url, "PYTHONPATH": str(Path.cwd())}
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=cwd,
    )  # fmt: skip


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = process.communicate("", timeout=30)  # an empty stdin, then end of file
    assert process.returncode == 0, err
    assert not [word for word in DIRTY if word in err], err
    return out, err


def test_ctrl_c_during_a_sync_call_interrupts_it_and_exits_cleanly(
    tmp_path: Path, figures: Figures
) -> None:
    script = """
    import time
    started = time.monotonic()
    try:
        tv.history("NASDAQ:AAPL", "1m", 10, timeout=60)
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - started:.2f}s", flush=True)
    sys.stdin.read()  # a REPL lives on after Ctrl-C: the test says when to exit
    """
    with running() as sim, Proxy(sim.url) as proxy:
        proxy.hold_after(1)  # the hello goes through; the bars never come
        process = child(script, proxy.url, tmp_path)
        proxy.wait_method("create_series")  # the call now waits for its reply
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.stdout is not None
        line = process.stdout.readline()
        latency = time.monotonic() - interrupted
        proxy.wait_method("chart_delete_session")  # the abandoned series is deleted at once
        out, _ = finish(process)
        closes = proxy.wait_closes(1)
    assert line.startswith("interrupted after")
    assert latency < 5
    assert out.strip().endswith(CLEAN_EXIT)
    assert closes == [1000]  # a closing handshake at exit, not a dropped socket
    assert proxy.connections == 1
    figures.record(
        "Ctrl-C (SIGINT) while tv.history waits, the process lives on, then exits",
        interrupt_latency_s=round(latency, 2), sessions_deleted=1, exit_code=0,
        close_code=closes[0], threads_left=0,
    )  # fmt: skip


def test_exit_with_live_frames_open_deletes_sessions_and_flushes_exports(
    tmp_path: Path, figures: Figures
) -> None:
    script = """
    import asyncio
    lf = tv.live(["BINANCE:BTCUSDT", "NASDAQ:AAPL"], "1m", 5)
    lf2 = tv.live("FX:EURUSD", "1m", 5)
    written = lf.to_pandas().tv.to_csv()  # under export/
    streamer = tv.RealtimeStreamer(
        export_config=tv.ExportConfig(export_result=True, export_type="csv", directory="seed"),
        stream_config=tv.StreamConfig(timeframe="1m", num_candles=3),
    )
    async def export():
        return await streamer.stream(exchange="BINANCE", symbol="BTCUSDT")
    data = asyncio.run(export())
    print("exported", len(data.ohlc), written.name, flush=True)
    """  # neither frame is stopped: the interpreter's exit must do it
    with running() as sim, Proxy(sim.url) as proxy:
        out, _ = finish(child(script, proxy.url, tmp_path))
        closes = proxy.wait_closes(2)
    assert out.strip().endswith(CLEAN_EXIT), out
    assert proxy.methods["chart_create_session"] == 4  # 3 live series + the streamer's
    # The streamer deletes its session; at exit the pool's socket closes first, which ends
    # the live frames' sessions on the server with it.
    assert proxy.methods["chart_delete_session"] >= 1
    assert closes == [1000, 1000]  # the streamer's socket, then the pooled one at exit
    seed = list((tmp_path / "seed").iterdir())
    frames = list((tmp_path / "export").iterdir())
    assert len(seed) == 1 and len(frames) == 1  # complete files, no temp file left
    assert len(seed[0].read_text().splitlines()) == 1 + 3
    assert len(frames[0].read_text().splitlines()) == 2 + 2 * 5
    figures.record(
        "interpreter exit with 2 LiveFrames open, after 2 exports", exit_code=0,
        sessions_deleted=proxy.methods["chart_delete_session"], close_codes="1000, 1000",
        threads_left=0,
    )  # fmt: skip


def tvframe_tasks() -> set[str]:
    async def names() -> set[str]:
        return {t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    return {n for n in shared_loop().run(names()) if n.startswith("tvframe-live")}


def test_liveframe_stop_deletes_its_sessions_and_leaves_no_task(figures: Figures) -> None:
    threads_before = {t.name for t in threading.enumerate()}
    with running() as sim, Proxy(sim.url) as proxy:
        lf = live(["BINANCE:BTCUSDT", "NASDAQ:AAPL", "FX:EURUSD"], "1m", 5, url=proxy.url)
        sim.advance(60)
        lf.wait(1, timeout=WAIT)
        lf.stop()
        proxy.wait_method("chart_delete_session", 3)  # every session was deleted
        assert not lf.running and len(lf) == 3 * 6  # the data stays
        assert not tvframe_tasks()
        lf.stop()  # idempotent
    threads = {t.name for t in threading.enumerate()} - threads_before
    assert threads <= {"tvframe-loop"}, threads  # the shared loop lives on until exit
    figures.record(
        "LiveFrame.stop() with 3 symbols", sessions_deleted=3, tasks_left=0,
        threads_left=len(threads - {"tvframe-loop"}),
    )  # fmt: skip


async def test_client_and_stream_close_with_a_handshake_and_no_task(figures: Figures) -> None:
    symbols = ["BINANCE:BTCUSDT", "NASDAQ:AAPL"]
    with running() as sim, Proxy(sim.url) as proxy:
        client = Client(proxy.url)
        async with client:
            async with client.stream(symbols, "1m", n_bars=3) as stream:
                await start_reading(stream, Collected(), symbols)
            proxy.wait_method("chart_delete_session", 2)
        config = StreamConfig(symbols=symbols, timeframe="1m", num_candles=3)
        async with RealtimeStreamer(config, url=proxy.url) as streamer:
            async for _ in streamer.stream():
                break
        closes = await asyncio.to_thread(proxy.wait_closes, 2)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert closes == [1000, 1000]
    assert not [t.get_name() for t in others if "tvframe" in t.get_name()]
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    figures.record(
        "Client, Stream and RealtimeStreamer closed by their context managers",
        close_codes="1000, 1000", sessions_deleted=proxy.methods["chart_delete_session"],
        tasks_left=0,
    )  # fmt: skip


def test_streamer_export_is_complete_when_the_call_returns(
    tmp_path: Path, figures: Figures
) -> None:
    with running() as sim:
        export = ExportConfig(export_result=True, export_type="json", directory=tmp_path)
        config = StreamConfig(timeframe="1m", num_candles=4)
        streamer = RealtimeStreamer(export_config=export, stream_config=config, url=sim.url)
        data = asyncio.run(collect(streamer))
    (written,) = tmp_path.iterdir()
    assert len(orjson.loads(written.read_bytes())) == len(data.ohlc) == 4
    figures.record("seed export read back as soon as the call returns", rows=4, files=1)


async def collect(streamer: RealtimeStreamer) -> StreamData:
    data = await streamer.stream(exchange="NASDAQ", symbol="AAPL")
    assert isinstance(data, StreamData)
    return data
