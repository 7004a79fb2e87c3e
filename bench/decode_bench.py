"""Decode throughput of tvframe's protocol core against the bare-JSON floor.

Two sets of server text, each fed frame by frame as it arrived on the socket:

- ``captures``: every server frame of the real captures (``../shared/captures``): hellos,
  quotes, studies, bars, heartbeats, as TradingView sent them;
- ``sim history``: the simulator's answer to 50 history requests of 5 000 one-minute bars
  (``timescale_update`` heavy, the shape of a big ``tv.history`` call);
- ``sim live``: the simulator's pushes to 50 live series over 60 one-second ticks, one
  ``du`` per series per push (the shape of a busy live feed).

The core is ``Connection.receive`` + ``events()``: framing, JSON, typed events with numpy bar
columns. The floor is ``orjson.loads`` over the same payloads, already cut out of their
frames. Interleaved rounds, the median of each; the ratio core/floor is the figure.

    python bench/decode_bench.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from benchlib import CAPTURES, universe

from tvframe.protocol import Connection, FrameDecoder, Heartbeat
from tvframe.sim import Market, SimClock, SimConfig, SimStats
from tvframe.sim.session import ClientSession

_HAR = (
    "anjanpoonacha_stock-tools__tv.har.ws.jsonl",
    "anjanpoonacha_stock-tools__trading-chart.har.ws.jsonl",
)
_RAW = "bitbytelabio_tradingview-rs__socket_messages.txt"


@dataclass(frozen=True)
class Corpus:
    """Server text as received (``frames``) and its JSON payloads (``payloads``)."""

    name: str
    frames: list[str]
    payloads: list[str]

    @property
    def size(self) -> int:
        """Characters of all frames."""
        return sum(len(f) for f in self.frames)


def _corpus(name: str, frames: list[str]) -> Corpus:
    decoder = FrameDecoder()
    payloads = [
        item for frame in frames for item in decoder.feed(frame) if not isinstance(item, Heartbeat)
    ]
    return Corpus(name, frames, payloads)


def captures() -> Corpus | None:
    """Every server frame of the real captures, or None when they are not beside the repo."""
    if not CAPTURES.is_dir():
        return None
    frames: list[str] = []
    for name in _HAR:
        for line in (CAPTURES / name).read_text().splitlines():
            row = json.loads(line)
            if row["dir"] == "server->client":
                frames.append(row["data"])
    # The Rust client's fixture is one stream of frames without WebSocket boundaries.
    frames.append((CAPTURES / _RAW).read_text().strip())
    return _corpus("captures", frames)


def sim_history(symbols: int = 50, bars: int = 5000) -> Corpus:
    """What the simulator sends for ``symbols`` history requests of ``bars`` 1-minute bars."""
    session = ClientSession(
        SimConfig(bars_per_request=bars, max_depth=bars), Market(), SimClock(), SimStats()
    )
    frames = [session.hello()]
    for i, symbol in enumerate(universe(symbols)):
        chart = f"cs_bench{i:04d}"
        calls = [
            ("chart_create_session", [chart, ""]),
            ("resolve_symbol", [chart, "sds_sym_1", f'={{"symbol":"{symbol}"}}']),
            ("create_series", [chart, "sds_1", "s1", "sds_sym_1", "1", bars, ""]),
        ]
        payloads = [orjson.dumps({"m": m, "p": p}).decode() for m, p in calls]
        frames.append("".join(session.receive(payloads)))
    return _corpus(f"sim history {symbols}x{bars}", frames)


def sim_live(symbols: int = 50, pushes: int = 60) -> Corpus:
    """What the simulator pushes to ``symbols`` live series over ``pushes`` 1-second ticks:
    one frame per push holding one ``du`` per series (the live-ingest benchmark's shape)."""
    clock = SimClock()
    session = ClientSession(SimConfig(), Market(), clock, SimStats())
    session.hello()
    for i, symbol in enumerate(universe(symbols, around_the_clock=True)):
        chart = f"cs_live{i:04d}"
        calls = [
            ("chart_create_session", [chart, ""]),
            ("resolve_symbol", [chart, "sds_sym_1", f'={{"symbol":"{symbol}"}}']),
            ("create_series", [chart, "sds_1", "s1", "sds_sym_1", "1", 10, ""]),
        ]
        session.receive([orjson.dumps({"m": m, "p": p}).decode() for m, p in calls])
    frames = []
    for _ in range(pushes):
        clock.advance(1.0)
        frames.append("".join(session.live_updates()))
    return _corpus(f"sim live {symbols} series x {pushes} ticks", frames)


def _core(corpus: Corpus) -> None:
    connection = Connection()
    for frame in corpus.frames:
        connection.receive(frame)
        connection.events()


def _framing(corpus: Corpus) -> None:
    decoder = FrameDecoder()
    for frame in corpus.frames:
        decoder.feed(frame)


def _floor(corpus: Corpus) -> None:
    loads = orjson.loads
    for payload in corpus.payloads:
        loads(payload)


CONTENDERS: dict[str, Callable[[Corpus], None]] = {
    "orjson.loads (floor)": _floor,
    "FrameDecoder only": _framing,
    "protocol core": _core,
}


def measure(corpus: Corpus, rounds: int) -> dict[str, float]:
    """Median seconds of each contender over ``rounds`` interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(rounds):
        for name, run in CONTENDERS.items():
            started = time.perf_counter()
            run(corpus)
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in samples.items()}


def corpora(sim_symbols: int = 50) -> list[Corpus]:
    """The captures (when present), the simulator's history answers and its live pushes."""
    found = captures()
    return ([found] if found is not None else []) + [
        sim_history(sim_symbols),
        sim_live(sim_symbols),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    for corpus in corpora():
        medians = measure(corpus, args.rounds)
        floor = medians["orjson.loads (floor)"]
        print(
            f"{corpus.name}: {len(corpus.frames)} frames, {len(corpus.payloads)} payloads, "
            f"{corpus.size / 1e6:.2f} M chars"
        )
        for name, seconds in medians.items():
            print(f"  {name:<22}{seconds * 1e3:>9.2f} ms{seconds / floor:>8.2f}x")


if __name__ == "__main__":
    main()
