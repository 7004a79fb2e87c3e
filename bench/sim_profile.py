"""The simulator's own CPU per history request and per live push, without sockets (issue 6).

``ClientSession`` is driven directly, as ``decode_bench.py::sim_history`` does, with the
limits of ``simserver.py`` (``bars_per_request`` 200 000, ``max_depth`` 1 000 000) and a
manual clock at ``DEFAULT_START``. Every figure is the median over ``--rounds`` rounds of
process CPU time:

- ``history 1x5000 cold``: a fresh ``Market`` and ``HistoryCache`` each round, so nothing of
  the bars or their JSON is cached;
- ``history 1x5000 warm`` / ``50x5000 warm``: one ``Market`` and ``HistoryCache`` shared by
  every connection, the request made once before the rounds, then repeated as a new
  connection each round (the peers of ``bench/run.py`` connect once per call);
- ``live 50 series``: 50 one-minute series of 5 000 bars (the first 50 ``SIMX`` symbols:
  24x7 and NASDAQ hours), ``--pushes`` pushes per round, the clock 1 s further each push
  (so a new minute every 60 pushes, as the real-time server does it); per push, all series.

    python bench/sim_profile.py [--rounds 5] [--pushes 200] [--profile CASE]

``--profile`` runs one case (``cold``, ``warm``, ``many``, ``live``) under cProfile instead and
prints its top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections.abc import Callable

import orjson
from benchlib import universe

from tvframe.sim import Market, SimClock, SimConfig, SimStats
from tvframe.sim.session import ClientSession, HistoryCache

_CONFIG = SimConfig(bars_per_request=200_000, max_depth=1_000_000)
_BARS = 5000


def _requests(symbols: list[str], bars: int) -> list[str]:
    """The payloads of one history call: a chart session and a series per symbol."""
    calls: list[tuple[str, list[object]]] = []
    for i, symbol in enumerate(symbols):
        chart = f"cs_prof{i:04d}"
        calls += [
            ("chart_create_session", [chart, ""]),
            ("resolve_symbol", [chart, "sds_sym_1", f'={{"symbol":"{symbol}"}}']),
            ("create_series", [chart, "sds_1", "s1", "sds_sym_1", "1", bars, ""]),
        ]
    return [orjson.dumps({"m": m, "p": p}).decode() for m, p in calls]


def _serve(
    market: Market, clock: SimClock, cache: HistoryCache, payloads: list[str]
) -> ClientSession:
    """One new connection that sends ``payloads`` (one frame each, as clients write them)."""
    session = ClientSession(_CONFIG, market, clock, SimStats(), history_cache=cache)
    for payload in payloads:
        session.receive([payload])
    return session


def _cpu(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return time.process_time() - started


def history_cold(rounds: int) -> float:
    """Median CPU of one 5 000-bar request on a market that has generated nothing yet."""
    payloads = _requests(universe(1), _BARS)
    return statistics.median(
        _cpu(lambda: _serve(Market(), SimClock(), HistoryCache(), payloads)) for _ in range(rounds)
    )


def history_warm(rounds: int, symbols: int) -> float:
    """Median CPU of a request for ``symbols`` x 5 000 bars already asked for once."""
    market, clock, cache = Market(), SimClock(), HistoryCache()
    payloads = _requests(universe(symbols), _BARS)
    _serve(market, clock, cache, payloads)
    return statistics.median(
        _cpu(lambda: _serve(market, clock, cache, payloads)) for _ in range(rounds)
    )


def live(rounds: int, pushes: int, series: int = 50) -> float:
    """Median CPU of one ``live_updates`` push over ``series`` loaded one-minute series."""
    clock = SimClock()
    session = _serve(Market(), clock, HistoryCache(), _requests(universe(series), _BARS))

    def pushes_of_one_round() -> None:
        for _ in range(pushes):
            clock.advance(1.0)
            session.live_updates()

    return statistics.median(_cpu(pushes_of_one_round) / pushes for _ in range(rounds))


def _cases(rounds: int, pushes: int) -> dict[str, Callable[[], float]]:
    return {
        "cold": lambda: history_cold(rounds),
        "warm": lambda: history_warm(rounds, 1),
        "many": lambda: history_warm(rounds, 50),
        "live": lambda: live(rounds, pushes),
    }


_LABELS = {
    "cold": "history 1x5000 cold, per call",
    "warm": "history 1x5000 warm, per call",
    "many": "history 50x5000 warm, per call",
    "live": "live push of 50 series, per push",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pushes", type=int, default=200, help="live pushes per round")
    parser.add_argument("--profile", choices=sorted(_LABELS), help="cProfile one case")
    args = parser.parse_args()
    cases = _cases(args.rounds, args.pushes)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(cases[args.profile])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return
    print(f"sim CPU, median of {args.rounds} rounds ({args.pushes} live pushes per round)")
    for name, case in cases.items():
        print(f"  {_LABELS[name]:<36}{case() * 1e3:>10.2f} ms")


if __name__ == "__main__":
    main()
