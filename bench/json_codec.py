"""Which JSON codec decodes TradingView payloads fastest? (the choice behind tvframe's orjson)

Decodes every server payload of the real captures (../shared/captures) with json, orjson and
msgspec, interleaved, and prints the median of several rounds plus ratios against orjson.

    python bench/json_codec.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from tvframe.protocol import FrameDecoder, Heartbeat

CAPTURES = Path(__file__).resolve().parents[1].parent / "shared" / "captures"


def payloads() -> list[str]:
    decoder = FrameDecoder()
    out: list[str] = []
    for name in ("anjanpoonacha_stock-tools__tv.har.ws.jsonl",
                 "anjanpoonacha_stock-tools__trading-chart.har.ws.jsonl"):  # fmt: skip
        for line in (CAPTURES / name).read_text().splitlines():
            row = json.loads(line)
            if row["dir"] == "server->client":
                out += [p for p in decoder.feed(row["data"]) if not isinstance(p, Heartbeat)]
    raw = (CAPTURES / "bitbytelabio_tradingview-rs__socket_messages.txt").read_text().strip()
    out += [p for p in FrameDecoder().feed(raw) if not isinstance(p, Heartbeat)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    data = payloads()
    size = sum(len(p) for p in data)
    decoders: dict[str, Callable[[str], Any]] = {
        "json (stdlib)": json.loads,
        "orjson": orjson.loads,
        "msgspec": msgspec.json.decode,
    }
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(args.rounds):
        for name, decode in decoders.items():  # interleaved: same machine state for each
            start = time.perf_counter()
            for payload in data:
                decode(payload)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["orjson"])
    print(f"{len(data)} payloads, {size / 1e6:.2f} MB, {args.rounds} rounds, "
          f"Python {platform.python_version()}, {platform.machine()}")  # fmt: skip
    print(f"{'codec':<16}{'median ms':>12}{'MB/s':>10}{'vs orjson':>11}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<16}{median * 1e3:>12.2f}{size / 1e6 / median:>10.0f}{median / base:>10.2f}x")


if __name__ == "__main__":
    main()
