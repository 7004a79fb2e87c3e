"""Download throughput: symbols per second of ``tv.download`` against a loop of ``tv.history``.

Every method talks to ``bench/simserver.py`` (the simulator in its own process, its limits
raised, its clock standing still), whose market is warmed by one untimed pass first: each
method then gets the same answers from a warm server, and the figures are the client's.

Methods, interleaved in each round; the median of each is reported:

- ``download``: ``tv.download(symbols, interval, start=..., path=<fresh folder>, rate=None)``,
  one socket, 8 series at a time, closed bars into the Parquet dataset;
- ``download (rate 10/s)``: the same at the default politeness (10 series a second);
- ``update, nothing new``: the same call again on the finished dataset (no bar requested);
- ``history loop``: ``for s in symbols: tv.history(s, ...)`` (the pooled socket), each frame
  written to its own Parquet file, as a loop user does.

    python bench/download_bench.py [--symbols 100] [--interval 1d] [--days 365] [--rounds 3]

The last line printed is the JSON record (machine, settings, seconds, symbols per second).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from benchlib import SimProcess, machine, universe

import tvframe as tv
from tvframe.dataset import download

_DAY = 86_400.0
# The simulator's clock stands at DEFAULT_START (tvframe.sim.clock).
_NOW = tv.sim.DEFAULT_START


def _history_loop(symbols: list[str], interval: str, start: float, url: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="history-loop-"))
    for i, symbol in enumerate(symbols):
        frame = tv.history(symbol, interval, start=start, backend="polars", url=url)
        assert isinstance(frame, pl.DataFrame)
        frame.write_parquet(folder / f"{i}.parquet", compression="zstd")


def _methods(
    symbols: list[str], interval: str, start: float, url: str
) -> dict[str, Callable[[], None]]:
    finished = Path(tempfile.mkdtemp(prefix="dataset-"))

    def fresh(rate: float | None) -> Callable[[], None]:
        def run() -> None:
            path = Path(tempfile.mkdtemp(prefix="dataset-"))
            download(symbols, interval, start=start, path=path, rate=rate, url=url, progress=False)

        return run

    download(symbols, interval, start=start, path=finished, rate=None, url=url, progress=False)
    return {
        "download": fresh(None),
        "download (rate 10/s)": fresh(10.0),
        "update, nothing new": lambda: download(
            symbols, interval, start=start, path=finished, url=url, progress=False
        ),
        "history loop": lambda: _history_loop(symbols, interval, start, url),
    }


def measure(symbols: int, interval: str, days: float, rounds: int) -> dict[str, Any]:
    """Run every method ``rounds`` times, interleaved; the medians, in seconds."""
    names = universe(symbols)
    start = _NOW - days * _DAY
    with SimProcess() as sim:
        # Untimed: the server generates (and caches) every symbol's market once.
        tv.history(names, interval, start=start, url=sim.url, progress=False)
        methods = _methods(names, interval, start, sim.url)
        seconds: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(rounds):
            for name, run in methods.items():
                began = time.perf_counter()
                run()
                seconds[name].append(time.perf_counter() - began)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    return {
        "bench": "download",
        "machine": machine(),
        "symbols": symbols,
        "interval": interval,
        "days": days,
        "rounds": rounds,
        "seconds": medians,
        "symbols_per_second": {name: symbols / value for name, value in medians.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--interval", default="1d")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    record = measure(args.symbols, args.interval, args.days, args.rounds)
    print(f"{args.symbols} symbols x {args.interval} x {args.days:g} days, median of {args.rounds}")
    for name, seconds in record["seconds"].items():
        rate = record["symbols_per_second"][name]
        print(f"  {name:<24}{seconds:>8.2f} s{rate:>10.1f} symbols/s")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
