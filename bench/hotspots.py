"""Where tvframe spends its time: py-spy samples of history 5 000 bars, 50 x 5 000 and live
ingest, every thread of the client process, against ``simserver.py`` in its own process.

    pip install py-spy
    python bench/hotspots.py [--out bench/results]

Writes ``profile_<case>.txt`` per case: the functions with the most samples on top of the
stack (self) and anywhere in it (inclusive), in percent of the case's busy samples. Idle
threads (waiting on the socket or a lock) are not sampled; samples of imports and of
stacks without tvframe in them (the bench's own polling) are dropped.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchlib import BENCH, RESULTS, LineProcess, SimProcess, child_env, universe

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_TOP = 15


def _where(file: str) -> str:
    for anchor in ("tvframe/", "site-packages/", "lib/python3"):
        if anchor in file:
            return file[file.index(anchor) :].replace("site-packages/", "")
    return Path(file).name


def _function(frame: str) -> str:
    found = _FRAME.match(frame)
    if found is None:
        return frame
    return f"{found['name']} ({_where(found['file'])})"


def summarize(raw: Path, title: str) -> str:
    """Top functions, self and inclusive, from py-spy's collapsed-stack output."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # Imports are one-off; stacks without tvframe are the bench's own polling thread.
        if "importlib._bootstrap" in stack or "tvframe/" not in stack:
            continue
        frames = [_function(f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for name in set(frames):
            anywhere[name] += samples
    lines = [f"{title}: {total} busy samples", "", "self (top of stack):"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(_TOP)]
    lines += ["", "inclusive (anywhere in the stack), tvframe and its calls:"]
    inclusive = [(name, n) for name, n in anywhere.most_common() if "tvframe/" in name]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive[:_TOP]]
    return "\n".join(lines) + "\n"


def _spy(raw: Path, rate: int) -> list[str]:
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return [
        spy,
        "record",
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(raw),
        "--nonblocking",
        "--",
    ]


def profile_history(sim: SimProcess, raw: Path, rate: int, symbols: int, runs: int) -> None:
    """tvframe's history driver under py-spy."""
    driver = BENCH / "peers" / "tvframe_driver.py"
    argv = [
        *_spy(raw, rate),
        sys.executable,
        str(driver),
        "--url",
        sim.url,
        "--symbols",
        ",".join(universe(symbols)),
        "--bars",
        "5000",
        "--runs",
        str(runs),
    ]
    if symbols > 1:
        argv.append("--many")
    subprocess.run(argv, check=True, capture_output=True, cwd=BENCH, env=child_env())


def profile_live(sim: SimProcess, raw: Path, rate: int, minutes: int) -> None:
    """The live-ingest client under py-spy while the simulator floods it."""
    argv = [
        *_spy(raw, rate),
        sys.executable,
        str(BENCH / "live_ingest.py"),
        "--url",
        sim.url,
        "--symbols",
        ",".join(universe(50, around_the_clock=True)),
    ]
    with LineProcess(argv) as client:
        client.read()
        sim.ask({"cmd": "prepare", "steps": minutes * 60, "step": 1.0})
        client.ask({"cmd": "arm", "minutes": minutes, "latency": False})
        sim.ask({"cmd": "push", "pace": 0.0})
        client.read()
        client.send({"cmd": "quit"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    cases: dict[str, Callable[[SimProcess, Path], None]] = {
        "history_1x5000": lambda sim, raw: profile_history(sim, raw, args.rate, 1, 150),
        "history_50x5000": lambda sim, raw: profile_history(sim, raw, args.rate, 50, 5),
        "live_ingest": lambda sim, raw: profile_live(sim, raw, args.rate, 60),
    }
    with SimProcess() as sim:
        for name, run in cases.items():
            raw = work / f"{name}.raw"
            print(f"profiling {name}", file=sys.stderr, flush=True)
            run(sim, raw)
            text = summarize(raw, name)
            (args.out / f"profile_{name}.txt").write_text(text)
            print(text)


if __name__ == "__main__":
    main()
