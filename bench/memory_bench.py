"""Bytes per stored bar of a LiveFrame holding ``--bars`` bars (one symbol), in its own process.

A smaller LiveFrame is opened and stopped first, so imports and the pooled socket are not
counted (1 000 bars: enough for its history to take the same decode path, and imports, as
the big one's); then tracemalloc (which sees numpy's buffers) measures what the big LiveFrame still
holds once its history is in and the decode's temporaries are gone. The column arrays' own
size (``BarBuffer.nbytes``) is reported beside it.

    python bench/memory_bench.py --url ws://... [--bars 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc

import tvframe as tv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--symbol", default="SIMX:T000")
    args = parser.parse_args()
    with tv.live(args.symbol, "1m", 1000, url=args.url):
        pass
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    with tv.live(args.symbol, "1m", args.bars, url=args.url, timeout=600) as lf:
        load = time.perf_counter() - started
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        peak = tracemalloc.get_traced_memory()[1] - before
        rows = len(lf)
        # Bench-only look at the buffers: the payload the design promises (48 B/bar).
        columns = sum(buffer.nbytes for buffer in lf._buffers.values())
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "rows": rows,
                "held_bytes": held,
                "bytes_per_bar": held / rows,
                "column_bytes_per_bar": columns / rows,
                "peak_bytes_per_bar": peak / rows,
                "load_seconds": load,
            }
        )
    )


if __name__ == "__main__":
    main()
