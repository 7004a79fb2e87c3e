"""What every history driver shares: arguments, the timing loop and the JSON it prints.

A driver runs in its client's own interpreter (a peer's venv, or this repo's for tvframe),
imports only the standard library from here, and prints one JSON line on stdout:

    {"client", "version", "cold": run, "warmup": [run, ...], "runs": [run, ...],
     "base_rss_kb", "maxrss_kb"}

where a run is ``{"wall", "cpu", "bars"}``: wall seconds, this process's CPU seconds (every
thread), and the bars the call returned. ``cold`` is the first call of the process (imports
done, connections not yet open); ``warmup`` calls follow it (Python and the allocator settle
over the first calls of any client; the harness reports them apart); ``runs`` are the timed
calls. RSS figures are the process's resident set after the imports and its peak over all
calls.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

#: Fetches ``bars`` bars of one symbol, returns how many bars came.
FetchOne = Callable[[str, int], int]
#: Fetches ``bars`` bars of each symbol, returns how many bars came in all.
FetchMany = Callable[[list[str], int], int]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments every driver takes.

    Example:
        >>> parse_args(["--url", "ws://x", "--symbols", "A:B,C:D", "--bars", "5"]).symbols
        ['A:B', 'C:D']
    """
    parser = argparse.ArgumentParser(description="Time one client's history calls.")
    parser.add_argument("--url", required=True, help="the simulator's WebSocket URL")
    parser.add_argument("--symbols", required=True, type=lambda s: s.split(","))
    parser.add_argument("--bars", type=int, required=True, help="bars per symbol")
    parser.add_argument("--warmup", type=int, default=0, help="calls after the cold one, apart")
    parser.add_argument("--runs", type=int, default=5, help="timed calls after the warm-up")
    parser.add_argument("--many", action="store_true", help="all symbols (else the first)")
    return parser.parse_args(argv)


def maxrss_kb() -> int:
    """Peak resident set of this process so far, in KiB (Linux units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def timed(call: Callable[[], int]) -> dict[str, float]:
    """Wall and CPU seconds of one call, and the bars it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    bars = call()
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "bars": bars,
    }


def version_of(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"?"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def run_driver(
    client: str,
    distribution: str,
    fetch_one: FetchOne,
    fetch_many: FetchMany,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Parse the arguments, time a cold call and ``--runs`` more, print and return the JSON."""
    args = parse_args(argv)
    symbols: list[str] = args.symbols
    bars: int = args.bars

    def call() -> int:
        if args.many:
            return fetch_many(symbols, bars)
        return fetch_one(symbols[0], bars)

    base = maxrss_kb()
    cold = timed(call)
    warmup = [timed(call) for _ in range(args.warmup)]
    runs = [timed(call) for _ in range(args.runs)]
    result = {
        "client": client,
        "version": version_of(distribution),
        "cold": cold,
        "warmup": warmup,
        "runs": runs,
        "base_rss_kb": base,
        "maxrss_kb": maxrss_kb(),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return result
