"""Live ingest into a LiveFrame: the client side, driven by ``run.py`` on stdin.

Opens ``tv.live`` on the symbols given (their history first), prints ``{"rows": ...}``, then
answers one JSON line per command line:

- ``{"cmd": "arm", "minutes": M, "latency": false}``: get ready for a push that opens ``M``
  new bars per symbol, then print ``{"armed": true}``; the reply to the push comes once every
  one of those bars is visible in the frame: ``{"seconds", "cpu", "frames"}``, timed from
  the first frame received. Plain runs poll ``len(lf)`` every 5 ms and add nothing to the
  feed's path.
- the same with ``"latency": true``: every update is also timed from the frame that
  brought it (``Connection.receive`` is wrapped to stamp frames) to the moment it is in the
  frame (``on_update`` runs right after the row is written); the reply adds
  ``latencies_ms`` percentiles over the forming-bar updates.
- ``{"cmd": "quit"}``.

    python bench/live_ingest.py --url ws://... --symbols SIMX:T000,SIMX:T002 --history 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import tvframe as tv
from tvframe.events import BarUpdate
from tvframe.liveframe import LiveFrame
from tvframe.protocol import DataUpdate
from tvframe.protocol.connection import Connection

_original_receive = Connection.receive

BarKey = tuple[float, float, float]


class Probe:
    """Stamps frames as tvframe receives them and, when asked, each bar update's latency."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.frames = 0
        self.keyed = False
        self.received: dict[BarKey, float] = {}
        self.latencies: list[float] = []

    def reset(self, keyed: bool) -> None:
        self.first, self.frames, self.keyed = None, 0, keyed
        self.received.clear()
        self.latencies.clear()

    def receive(self, connection: Connection, text: str) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.frames += 1
        if not self.keyed:
            _original_receive(connection, text)
            return
        queued = len(connection._events)  # bench-only: the events this frame adds
        _original_receive(connection, text)
        for event in connection._events[queued:]:
            if isinstance(event, DataUpdate):
                for series in event.series:
                    bars = series.bars
                    if len(bars):
                        key = (bars.time[-1], bars.close[-1], bars.volume[-1])
                        self.received[key] = now

    def visible(self, update: object) -> None:
        if not self.keyed or not isinstance(update, BarUpdate) or update.closed:
            return
        bar = update.bar
        stamp = self.received.get((bar.time, bar.close, bar.volume))
        if stamp is not None:
            self.latencies.append(time.perf_counter() - stamp)


PROBE = Probe()


def _patched_receive(self: Connection, text: str) -> None:
    PROBE.receive(self, text)


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "median": statistics.median(ordered) * 1e3,
        "p99": p99 * 1e3,
        "max": ordered[-1] * 1e3,
        "n": float(len(ordered)),
    }


def measure(lf: LiveFrame, minutes: int, latency: bool) -> dict[str, Any]:
    """Wait until ``minutes`` more bars per symbol are in ``lf``; time from the first frame."""
    PROBE.reset(keyed=latency)
    # Bench-only: the callback is attached for latency runs alone, so plain runs pay nothing.
    lf._on_update = PROBE.visible if latency else None
    target = len(lf) + minutes * len(lf.symbols)
    print(json.dumps({"armed": True}), flush=True)
    cpu = time.process_time()
    while len(lf) < target:
        time.sleep(0.005)
    done = time.perf_counter()
    result: dict[str, Any] = {
        "seconds": done - (PROBE.first or done),
        "cpu": time.process_time() - cpu,
        "frames": PROBE.frames,
    }
    if latency:
        # on_update for the newest bars may still be running: the rows are in, give it a beat.
        time.sleep(0.05)
        result["latencies_ms"] = _percentiles(PROBE.latencies)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--symbols", required=True, type=lambda s: s.split(","))
    parser.add_argument("--history", type=int, default=100)
    args = parser.parse_args()
    Connection.receive = _patched_receive  # type: ignore[method-assign]
    with tv.live(args.symbols, "1m", args.history, url=args.url) as lf:
        print(json.dumps({"rows": len(lf)}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if request["cmd"] == "quit":
                break
            reply = measure(lf, int(request["minutes"]), bool(request.get("latency")))
            print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
