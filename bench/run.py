"""tvframe against its peers, every client on the same simulator over loopback (issue 6).

    python bench/run.py --smoke   # tvframe only, smallest case: keeps the scripts alive (CI)
    python bench/run.py --quick   # every benchmark, fewer runs and sizes: < 5 minutes
    python bench/run.py           # the recorded results: >= 5 runs each, scaling plot

The simulator runs in its own process (``simserver.py``); each client runs in its own
process too (``peers/*_driver.py``, the peers from their venvs under ``bench/.venvs``, made
on first use), so wall, CPU and peak RSS are each client's alone and the simulator's CPU is
shown beside them. Results go to ``bench/results/<mode>.json``, the table to stdout, the
scaling plot to ``bench/results/scaling.png`` (not in ``--smoke``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import decode_bench
from benchlib import BENCH, RESULTS, LineProcess, SimProcess, machine, run_json, universe
from peer_envs import PEERS, Peer, ensure

TVFRAME = "tvframe"
#: The peer whose every call sleeps 1 s per frame read: it gets fewer runs and sizes.
SLOW = "scraper"

# Targets of issue 6 (later work reaches them; this harness measures the gap).
HISTORY_TARGET = 5.0  # history of 5 000 bars: this many times faster than every peer
MANY_TARGET = 10.0  # 50 x 5 000: this many times faster than the fastest peer
DECODE_TARGET = 2.0  # protocol core at most this many times the bare orjson floor
LIVE_TARGET = 200_000.0  # bar updates per second into a LiveFrame
MEMORY_TARGET = 64.0  # bytes per stored bar


@dataclass(frozen=True)
class Plan:
    """What one mode measures."""

    sizes: tuple[int, ...]  # history of one symbol, bars (the table)
    runs: int  # timed calls after the cold one and the warm-up
    slow_runs: int  # the same for the slow peer
    #: Calls after the cold one, before the timed ones, in the table's cases (not for the slow
    #: peer, whose calls are its sleeps): every client's first calls are its slowest.
    warmup: int = 0
    many: int = 0  # symbols of the many-symbol call (0: none)
    many_runs: int = 0
    slow_many: bool = False  # the slow peer in the many-symbol call too (one call)
    scale_bars: tuple[int, ...] = ()  # extra sizes for the plot
    scale_symbols: tuple[int, ...] = ()  # extra symbol counts for the plot, 5 000 bars each
    scale_runs: int = 3
    slow_max_symbols: int = 10
    live_minutes: int = 0  # minutes of ticks pushed to the LiveFrame (0: no live benchmark)
    latency_minutes: int = 5
    live_symbols: int = 50
    memory_bars: int = 0
    decode_rounds: int = 5
    peers: bool = True
    plot: bool = True
    decode_sim_symbols: int = 50


PLANS: dict[str, Plan] = {
    "smoke": Plan(
        sizes=(500,),
        runs=1,
        slow_runs=0,
        decode_rounds=1,
        peers=False,
        plot=False,
        decode_sim_symbols=2,
    ),
    "quick": Plan(
        sizes=(500, 5000, 20000),
        runs=5,
        slow_runs=1,
        warmup=5,
        many=50,
        many_runs=3,
        live_minutes=20,
        memory_bars=200_000,
        decode_rounds=5,
    ),
    "full": Plan(
        sizes=(500, 5000, 20000),
        runs=7,
        slow_runs=5,
        warmup=5,
        many=50,
        many_runs=5,
        slow_many=True,
        scale_bars=(100, 1000, 10000, 100000),
        scale_symbols=(10, 200),
        live_minutes=100,
        memory_bars=1_000_000,
        decode_rounds=9,
    ),
}


@dataclass(frozen=True)
class Client:
    """A client under test: its interpreter and driver."""

    name: str
    python: str
    driver: Path


@dataclass
class Results:
    """Everything measured, as saved to ``results/<mode>.json``."""

    mode: str
    machine: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    decode: list[dict[str, Any]] = field(default_factory=list)
    live: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    """Progress on stderr; the table alone goes to stdout."""
    print(message, file=sys.stderr, flush=True)


# --- clients --------------------------------------------------------------------------


def clients(plan: Plan, results: Results, out: Path) -> list[Client]:
    """tvframe, then every peer whose venv is ready (made now if missing)."""
    found = [Client(TVFRAME, sys.executable, BENCH / "peers" / "tvframe_driver.py")]
    if not plan.peers:
        return found
    for peer in PEERS:
        found += _peer_client(peer, results, out)
    return found


def _peer_client(peer: Peer, results: Results, out: Path) -> list[Client]:
    log(f"peer {peer.name}: venv {peer.venv}")
    try:
        ensure(peer, log=out / f"pip-{peer.name}.log")
    except RuntimeError as exc:
        results.errors.append(f"{peer.name}: not installed: {exc}")
        return []
    if peer.note:
        results.notes.append(f"{peer.name}: {peer.note}")
    return [Client(peer.name, str(peer.python), peer.driver_path)]


# --- history --------------------------------------------------------------------------


def history(
    sim: SimProcess,
    client: Client,
    symbols: list[str],
    bars: int,
    runs: int,
    *,
    many: bool,
    warmup: int = 0,
) -> dict[str, Any] | None:
    """One driver process: a cold call, ``warmup`` calls, then ``runs`` timed ones; medians
    of the timed calls and the simulator's CPU per call."""
    argv = [
        client.python,
        str(client.driver),
        "--url",
        sim.url,
        "--symbols",
        ",".join(symbols),
        "--bars",
        str(bars),
        "--runs",
        str(runs),
        "--warmup",
        str(warmup),
    ] + (["--many"] if many else [])
    label = f"{client.name} {len(symbols)}x{bars}"
    log(f"history {label} ({warmup} warm-up and {runs} timed calls after the cold one)")
    sim_before = sim.cpu()
    try:
        out = run_json(argv, cwd=BENCH)
    except (RuntimeError, OSError) as exc:
        return {"client": client.name, "error": f"history {label}: {exc}"}
    sim_cpu = sim.cpu() - sim_before
    calls = [out["cold"], *out.get("warmup", []), *out["runs"]]
    timed = out["runs"] or [out["cold"]]
    expected = bars * len(symbols)
    return {
        "client": client.name,
        "version": out["version"],
        "symbols": len(symbols),
        "bars": bars,
        "n": len(timed),
        "wall": statistics.median(r["wall"] for r in timed),
        "cpu": statistics.median(r["cpu"] for r in timed),
        "cold": out["cold"]["wall"],
        "warmup": [r["wall"] for r in out.get("warmup", [])],
        "complete": all(r["bars"] == expected for r in calls),
        "received": [r["bars"] for r in calls],
        "sim_cpu_per_call": sim_cpu / len(calls),
        "maxrss_kb": out["maxrss_kb"],
        "base_rss_kb": out["base_rss_kb"],
    }


def warm(sim: SimProcess, symbols: list[str], bars: int) -> None:
    """Have the simulator make (and cache) these bars once, so no client's cold call pays for
    the simulator's first generation of them."""
    client = Client(TVFRAME, sys.executable, BENCH / "peers" / "tvframe_driver.py")
    history(sim, client, symbols, bars, 0, many=len(symbols) > 1)


def run_history(sim: SimProcess, plan: Plan, found: list[Client], results: Results) -> None:
    """The table's sizes, the many-symbol call, then the plot's extra points."""
    for bars in sorted(set(plan.sizes) | set(plan.scale_bars)):
        table = bars in plan.sizes
        warm(sim, universe(1), bars)
        for client in found:
            runs = plan.runs if table else plan.scale_runs
            warmup = plan.warmup if table else 0
            if client.name == SLOW:
                runs, warmup = min(runs, plan.slow_runs), 0
            _keep(
                results,
                history(sim, client, universe(1), bars, runs, many=False, warmup=warmup),
            )
    counts = ([plan.many] if plan.many else []) + list(plan.scale_symbols)
    for count in counts:
        warm(sim, universe(count), 5000)
        for client in found:
            runs = plan.many_runs if count == plan.many else plan.scale_runs
            warmup = plan.warmup if count == plan.many else 0
            if client.name == SLOW:
                if count > plan.slow_max_symbols and not (count == plan.many and plan.slow_many):
                    results.notes.append(
                        f"{SLOW}: {count} symbols skipped in this mode (it sleeps 1 s per "
                        "frame read: ~4 s per symbol, one after the other)"
                    )
                    continue
                runs, warmup = 0, 0
            _keep(
                results,
                history(sim, client, universe(count), 5000, runs, many=True, warmup=warmup),
            )
    if plan.scale_symbols and plan.slow_max_symbols not in counts:
        # The slow peer's symbol axis still gets a middle point it can afford.
        slow = [c for c in found if c.name == SLOW]
        for client in slow:
            _keep(
                results, history(sim, client, universe(plan.slow_max_symbols), 5000, 0, many=True)
            )


def _keep(results: Results, row: dict[str, Any] | None) -> None:
    if row is None:
        return
    if "error" in row:
        results.errors.append(row["error"])
        log(f"  error: {row['error']}")
        return
    results.versions[row["client"]] = row["version"]
    results.history.append(row)
    if not row["complete"]:
        results.errors.append(
            f"{row['client']} {row['symbols']}x{row['bars']}: received {row['received']} bars"
        )


# --- decode, live, memory ---------------------------------------------------------------


def run_decode(plan: Plan, results: Results) -> None:
    """The protocol core against the orjson floor, in this process."""
    for corpus in decode_bench.corpora(plan.decode_sim_symbols):
        log(f"decode {corpus.name} ({plan.decode_rounds} rounds)")
        medians = decode_bench.measure(corpus, plan.decode_rounds)
        floor, core = medians["orjson.loads (floor)"], medians["protocol core"]
        results.decode.append(
            {
                "corpus": corpus.name,
                "frames": len(corpus.frames),
                "payloads": len(corpus.payloads),
                "mchars": corpus.size / 1e6,
                "floor_ms": floor * 1e3,
                "framing_ms": medians["FrameDecoder only"] * 1e3,
                "core_ms": core * 1e3,
                "ratio": core / floor,
                "rounds": plan.decode_rounds,
            }
        )


def run_live(sim: SimProcess, plan: Plan, results: Results, out: Path) -> None:
    """Ticks of ``live_symbols`` symbols pushed as fast as the socket takes them, then paced."""
    symbols = universe(plan.live_symbols, around_the_clock=True)
    argv = [
        sys.executable,
        str(BENCH / "live_ingest.py"),
        "--url",
        sim.url,
        "--symbols",
        ",".join(symbols),
        "--history",
        "100",
    ]
    log(f"live ingest: {len(symbols)} symbols, {plan.live_minutes} minutes of 1 s ticks")
    try:
        with LineProcess(argv, stderr_path=out / "live_ingest.log") as client:
            client.read()
            flood = _push(sim, client, plan.live_minutes, pace=0.0, latency=False)
            paced = _push(sim, client, plan.latency_minutes, pace=0.005, latency=True)
    except RuntimeError as exc:
        results.errors.append(f"live ingest: {exc}")
        return
    results.live = {
        "symbols": len(symbols),
        "updates": flood["updates"],
        "seconds": flood["seconds"],
        "rate": flood["updates"] / flood["seconds"],
        "cpu": flood["cpu"],
        "sim_cpu": flood["sim_cpu"],
        "sim_prepare_cpu": flood["prepare_cpu"],
        "frames": flood["frames"],
        "paced_rate": paced["updates"] / paced["seconds"],
        "latency_ms": paced["latencies_ms"],
    }


def _push(
    sim: SimProcess, client: LineProcess, minutes: int, *, pace: float, latency: bool
) -> dict[str, Any]:
    prepared = sim.ask({"cmd": "prepare", "steps": minutes * 60, "step": 1.0})
    client.ask({"cmd": "arm", "minutes": minutes, "latency": latency})
    before = sim.cpu()
    sim.ask({"cmd": "push", "pace": pace})
    measured = client.read()
    return {
        **measured,
        "updates": prepared["updates"],
        "prepare_cpu": prepared["cpu"],
        "sim_cpu": sim.cpu() - before,
    }


def run_memory(sim: SimProcess, plan: Plan, results: Results) -> None:
    """Bytes per stored bar of a LiveFrame of ``memory_bars`` bars, in its own process."""
    log(f"memory: LiveFrame of {plan.memory_bars} bars")
    argv = [
        sys.executable,
        str(BENCH / "memory_bench.py"),
        "--url",
        sim.url,
        "--bars",
        str(plan.memory_bars),
    ]
    try:
        results.memory = run_json(argv, cwd=BENCH)
    except RuntimeError as exc:
        results.errors.append(f"memory: {exc}")


# --- report ---------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


HEADER = (
    f"{'benchmark':<18}{'client':<12}{'median wall':>12}{'cpu':>11}{'cold':>11}{'n':>3}"
    f"{'sim cpu':>11}{'peak RSS':>10}{'vs tvframe wall/cpu':>21}"
)


def history_table(rows: list[dict[str, Any]]) -> list[str]:
    """One line per client and case; the last columns are the client's wall and CPU times
    over tvframe's (above 1: tvframe is faster). ``sim cpu``: the simulator's, per call."""
    lines = [HEADER, "-" * len(HEADER)]
    cases = sorted({(r["symbols"], r["bars"]) for r in rows})
    for symbols, bars in cases:
        case = [r for r in rows if (r["symbols"], r["bars"]) == (symbols, bars)]
        ours = next((r for r in case if r["client"] == TVFRAME), None)
        for r in case:
            ratio = ""
            if ours and r is not ours:
                ratio = f"{r['wall'] / ours['wall']:.1f}x / {r['cpu'] / ours['cpu']:.1f}x"
            lines.append(
                f"{f'history {symbols}x{bars}':<18}{r['client']:<12}{_ms(r['wall']):>12}"
                f"{_ms(r['cpu']):>11}{_ms(r['cold']):>11}{r['n']:>3}"
                f"{_ms(r['sim_cpu_per_call']):>11}{r['maxrss_kb'] / 1024:>7.0f} MB{ratio:>21}"
            )
    return lines


def sim_share(rows: list[dict[str, Any]]) -> list[str]:
    """Where the simulator's CPU per call exceeds the client's: it serves one socket on one
    core, so there it, not the client, sets the client's wall time."""
    lines = []
    for r in rows:
        if r["sim_cpu_per_call"] > r["cpu"]:
            lines.append(
                f"simulator-bound: {r['client']} {r['symbols']}x{r['bars']}: simulator "
                f"{_ms(r['sim_cpu_per_call'])} CPU per call > client {_ms(r['cpu'])}"
            )
    return lines


def other_tables(results: Results) -> list[str]:
    """Decode, live ingest and memory."""
    lines: list[str] = sim_share(results.history)
    for d in results.decode:
        lines.append(
            f"decode {d['corpus']}: {d['mchars']:.2f} M chars, {d['payloads']} payloads: "
            f"core {d['core_ms']:.1f} ms, framing alone {d['framing_ms']:.1f} ms, "
            f"orjson floor {d['floor_ms']:.1f} ms -> {d['ratio']:.2f}x the floor"
        )
    live = results.live
    if live:
        lat = live["latency_ms"]
        lines.append(
            f"live ingest: {live['updates']:,} updates of {live['symbols']} symbols in "
            f"{live['seconds']:.2f} s = {live['rate']:,.0f} updates/s; client cpu "
            f"{live['cpu']:.2f} s, sim cpu {live['sim_cpu']:.2f} s (rendering ahead: "
            f"{live['sim_prepare_cpu']:.1f} s)"
        )
        if lat:
            lines.append(
                f"live latency (paced, {live['paced_rate']:,.0f} updates/s): frame received -> "
                f"row visible median {lat['median']:.3f} ms, p99 {lat['p99']:.3f} ms, "
                f"max {lat['max']:.2f} ms over {lat['n']:.0f} updates"
            )
    mem = results.memory
    if mem:
        lines.append(
            f"memory: LiveFrame of {mem['rows']:,} bars holds {mem['bytes_per_bar']:.1f} B/bar "
            f"(columns {mem['column_bytes_per_bar']:.1f} B/bar; peak while loading "
            f"{mem['peak_bytes_per_bar']:.0f} B/bar; load {mem['load_seconds']:.1f} s "
            "under tracemalloc)"
        )
    return lines


def targets(results: Results) -> list[str]:
    """Each target of issue 6: measured value, met or missed and by how much."""
    lines: list[str] = []
    rows = results.history

    def speedups(symbols: int, bars: int, key: str) -> dict[str, float]:
        case = {r["client"]: r[key] for r in rows if (r["symbols"], r["bars"]) == (symbols, bars)}
        ours = case.pop(TVFRAME, None)
        return {} if ours is None else {name: value / ours for name, value in case.items()}

    # The issue measures 50 x 5 000 by wall time (one call, the peers' loops): tvframe
    # spends more CPU than wall there (its parse runs on a second thread), so its CPU ratio
    # is shown for information, not judged.
    for symbols, what, needed, judged in (
        (1, f"history 5 000 bars >= {HISTORY_TARGET:.0f}x every peer", HISTORY_TARGET, "wall cpu"),
        (50, f"50 x 5 000 >= {MANY_TARGET:.0f}x the fastest peer", MANY_TARGET, "wall"),
    ):
        for key in ("wall", "cpu"):
            ratios = speedups(symbols, 5000, key)
            if ratios:
                # Against every peer = against the fastest one, the smallest ratio.
                worst = min(ratios, key=ratios.__getitem__)
                detail = f"vs {worst}; " + _list(ratios)
                if key in judged.split():
                    lines.append(_verdict(f"{what} ({key})", ratios[worst], needed, detail))
                else:
                    lines.append(f"INFO    {what} ({key}, not a target): {detail}")
    captured = [d for d in results.decode if d["corpus"] == "captures"] or results.decode
    for d in captured:
        lines.append(
            _verdict(
                f"decode ({d['corpus']}) <= {DECODE_TARGET:.0f}x orjson",
                DECODE_TARGET / d["ratio"],
                1.0,
                f"{d['ratio']:.2f}x",
            )
        )
    if results.live:
        rate = results.live["rate"]
        lines.append(
            _verdict(
                f"live ingest >= {LIVE_TARGET:,.0f}/s", rate / LIVE_TARGET, 1.0, f"{rate:,.0f}/s"
            )
        )
    if results.memory:
        per_bar = results.memory["bytes_per_bar"]
        lines.append(
            _verdict(
                f"<= {MEMORY_TARGET:.0f} B per stored bar",
                MEMORY_TARGET / per_bar,
                1.0,
                f"{per_bar:.1f} B",
            )
        )
    return lines


def _list(ratios: dict[str, float]) -> str:
    return ", ".join(f"{name} {ratio:.1f}x" for name, ratio in ratios.items())


def _verdict(what: str, value: float, needed: float, detail: str) -> str:
    if value >= needed:
        return f"MET     {what}: {detail}"
    return f"MISSED  {what}: {detail} (short by {needed / value:.2f}x)"


def report(results: Results) -> str:
    """The whole printed report."""
    m = results.machine
    lines = [
        f"tvframe bench ({results.mode}), {m['date']}: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory']}, {m['os']}, Python {m['python']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in results.versions.items()),
        "",
        *history_table(results.history),
        "",
        *other_tables(results),
        "",
        "targets (issue 6):",
        *targets(results),
    ]
    if results.notes:
        lines += ["", "notes:", *(f"  {n}" for n in dict.fromkeys(results.notes))]
    if results.errors:
        lines += ["", "errors:", *(f"  {e}" for e in results.errors)]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------


@contextmanager
def simulator(out: Path) -> Iterator[SimProcess]:
    """The simulator process for the whole run."""
    sim = SimProcess(stderr_path=out / "simserver.log")
    try:
        yield sim
    finally:
        sim.close()


def run(mode: str, out: Path) -> Results:
    """Measure everything ``mode`` asks for; logs go to ``out``."""
    plan = PLANS[mode]
    out.mkdir(parents=True, exist_ok=True)
    results = Results(mode, machine())
    found = clients(plan, results, out)
    with simulator(out) as sim:
        run_history(sim, plan, found, results)
        if plan.live_minutes:
            run_live(sim, plan, results, out)
        if plan.memory_bars:
            run_memory(sim, plan, results)
    run_decode(plan, results)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="tvframe only, the smallest case")
    group.add_argument("--quick", action="store_true", help="everything, fewer runs (< 5 min)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results and logs go")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    results = run(mode, args.out)
    print(report(results))
    (args.out / f"{mode}.json").write_text(json.dumps(results.__dict__, indent=1) + "\n")
    if PLANS[mode].plot:
        from plot import plot_scaling

        path = plot_scaling(results.history, args.out / "scaling.png")
        log(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
