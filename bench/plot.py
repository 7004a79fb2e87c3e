"""Cost growth at a glance: history time and peak RSS against bars and against symbols.

Four log-log panels, one line per client, from the history rows of a results file:

    python bench/plot.py bench/results/full.json   # writes bench/results/scaling.png
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt

Row = dict[str, Any]

_PANELS: tuple[tuple[str, str, Callable[[Row], float]], ...] = (
    ("wall", "median wall time (s)", lambda r: float(r["wall"])),
    ("rss", "peak RSS of the process (MiB)", lambda r: r["maxrss_kb"] / 1024),
)


def _series(rows: list[Row], axis: str) -> dict[str, list[Row]]:
    """Rows per client along one axis: one symbol by bars, or 5 000 bars by symbols."""
    if axis == "bars":
        chosen = [r for r in rows if r["symbols"] == 1]
    else:
        chosen = [r for r in rows if r["bars"] == 5000]
    by_client: dict[str, list[Row]] = {}
    for row in chosen:
        by_client.setdefault(row["client"], []).append(row)
    return {
        client: sorted(found, key=lambda r: int(r[axis]))
        for client, found in by_client.items()
        if len(found) > 1
    }


def plot_scaling(rows: list[Row], path: Path) -> Path:
    """Draw the four panels of ``rows`` into ``path`` (PNG) and return it."""
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    for column, axis in enumerate(("bars", "symbols")):
        series = _series(rows, axis)
        for line, (_, label, value) in enumerate(_PANELS):
            ax = axes[line][column]
            for client, found in series.items():
                xs = [int(r[axis]) for r in found]
                ax.plot(xs, [value(r) for r in found], marker="o", label=client)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("bars (1 symbol)" if axis == "bars" else "symbols (5 000 bars each)")
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            if series:
                ax.legend()
    figure.suptitle("history cost growth, every client against the same simulator")
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    rows = json.loads(args.results.read_text())["history"]
    print(plot_scaling(rows, args.output or args.results.parent / "scaling.png"))


if __name__ == "__main__":
    main()
