"""The benchmarks' simulator: ``tvframe.sim`` in its own process, limits raised, driven on stdin.

Every client of a benchmark talks to this process over loopback, so all of them receive the
same bytes, and the simulator's CPU time is its own (``cpu`` below), never the client's. The
clock is manual and stands at ``DEFAULT_START``: history answers are identical for every
client and every run.

    python bench/simserver.py [--bars-per-request 200000] [--max-depth 1000000]

It prints ``{"url": ...}`` once listening, then answers one JSON line per command line:

- ``{"cmd": "cpu"}``: ``{"cpu": <process CPU seconds so far>}``.
- ``{"cmd": "prepare", "steps": N, "step": S}``: render, for every connected client, ``N``
  pushes of ``S`` seconds of ticks (one frame per push and client, one ``du`` per series, as
  the real-time push writes them), without sending them: ``{"frames", "updates", "cpu"}``.
- ``{"cmd": "push", "pace": P}``: write the prepared frames, as fast as the sockets take them
  (``P`` = 0) or one every ``P`` seconds: ``{"frames", "seconds"}``.

The pushes are rendered ahead, so the push itself costs the simulator nothing but socket
writes and the client is flooded as fast as loopback carries it (the simulator's own live
path, ~0.15 ms per series and tick, would pace it at its market's speed). The first push is
the simulator's own (``live_updates``); it gives each series' ids, index and last bar, and
the rest are ticks continuing it in exactly that shape (a random walk; a new bar every
minute, sent with the closed one as the simulator does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson

from tvframe.protocol import FrameDecoder, Heartbeat, encode_frame
from tvframe.sim import SimConfig, Simulator
from tvframe.sim.server import _Peer

Prepared = list[tuple[_Peer, str]]
_MINUTE = 60.0


@dataclass
class _Series:
    """One live series of one client, as its last ``du`` left it."""

    session: str
    series_id: str
    template: dict[str, Any]  # the du series object, its "s" and "lbs" replaced per tick
    index: int
    row: list[float]  # time, open, high, low, close, volume


class Firehose:
    """Renders ticks for every series of every connected client, continuing the simulator's."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._series: dict[_Peer, list[_Series]] = {}
        self._now = 0.0
        self._random = random.Random(0)

    def prepare(self, steps: int, step: float) -> tuple[Prepared, dict[str, Any]]:
        """``steps`` frames per client, ``step`` seconds of ticks apart."""
        started = time.process_time()
        frames: Prepared = []
        updates = 0
        if not self._series:
            frames, updates = self._seed(step)
            steps -= 1
        for _ in range(steps):
            self._now += step
            for peer, series in self._series.items():
                messages = [self._tick(s) for s in series]
                updates += sum(len(m[1]) for m in messages)
                frames.append((peer, "".join(_du(s, points) for s, points in messages)))
        return frames, {
            "frames": len(frames),
            "updates": updates,
            "cpu": time.process_time() - started,
        }

    def _seed(self, step: float) -> tuple[Prepared, int]:
        """The simulator's own push for the first step; it tells each series' state."""
        sim = self._sim
        sent_before = sim.stats.bars_sent
        self._now = sim.clock.advance(step)
        frames: Prepared = []
        # Bench-only access to the connected sockets: the simulator lists them nowhere public.
        for peer in list(sim._peers):
            messages = peer.session.live_updates()
            frames.append((peer, "".join(messages)))
            self._series[peer] = [s for m in messages for s in _parse_du(m)]
        return frames, sim.stats.bars_sent - sent_before

    def _tick(self, series: _Series) -> tuple[_Series, list[dict[str, Any]]]:
        """The series one ``step`` later: its forming bar changed, or closed and a new one."""
        opened = math.floor(self._now / _MINUTE) * _MINUTE
        t, o, h, low, c, v = series.row
        if opened > t:
            closed = {"i": series.index, "v": list(series.row)}
            series.index += 1
            series.row = [opened, c, c, c, c, 0.0]
            return series, [closed, {"i": series.index, "v": list(series.row)}]
        c = round(c * (1.0 + self._random.gauss(0.0, 2e-4)), 2)
        series.row = [t, o, max(h, c), min(low, c), c, v + self._random.randint(1, 50)]
        return series, [{"i": series.index, "v": list(series.row)}]


def _parse_du(framed: str) -> list[_Series]:
    found: list[_Series] = []
    for payload in FrameDecoder().feed(framed):
        if isinstance(payload, Heartbeat):
            continue
        message = orjson.loads(payload)
        if message.get("m") != "du":
            continue
        session, objects = message["p"][0], message["p"][1]
        for series_id, obj in objects.items():
            if obj.get("s"):
                last = obj["s"][-1]
                found.append(_Series(session, series_id, obj, last["i"], list(last["v"])))
    return found


def _du(series: _Series, points: list[dict[str, Any]]) -> str:
    obj = dict(series.template)
    obj["s"] = points
    obj["lbs"] = {"bar_close_time": int(series.row[0] + _MINUTE)}
    return encode_frame(
        orjson.dumps({"m": "du", "p": [series.session, {series.series_id: obj}]}).decode()
    )


async def push(frames: Prepared, pace: float) -> dict[str, Any]:
    """Write prepared frames in order; ``pace`` seconds apart when positive."""
    started = time.perf_counter()
    for peer, text in frames:
        async with peer.lock:
            await peer.ws.send(text)
        if pace > 0:
            await asyncio.sleep(pace)
    return {"frames": len(frames), "seconds": time.perf_counter() - started}


async def _commands(sim: Simulator) -> None:
    loop = asyncio.get_running_loop()
    firehose = Firehose(sim)
    prepared: Prepared = []
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        request = json.loads(line)
        command = request["cmd"]
        if command == "cpu":
            reply: dict[str, Any] = {"cpu": time.process_time()}
        elif command == "prepare":
            prepared, reply = firehose.prepare(int(request["steps"]), float(request["step"]))
        elif command == "push":
            reply = await push(prepared, float(request.get("pace", 0.0)))
            prepared = []
        else:
            reply = {"error": f"unknown command {command!r}"}
        print(json.dumps(reply), flush=True)


async def serve(bars_per_request: int, max_depth: int) -> None:
    """Listen on a free loopback port until stdin closes."""
    config = SimConfig(bars_per_request=bars_per_request, max_depth=max_depth)
    async with Simulator(config) as sim:
        print(json.dumps({"url": sim.url}), flush=True)
        await _commands(sim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars-per-request", type=int, default=200_000)
    parser.add_argument("--max-depth", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(serve(args.bars_per_request, args.max_depth))


if __name__ == "__main__":
    main()
