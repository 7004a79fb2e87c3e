"""Simulator bars and metadata for the accessor tests.

The bars come straight from the simulator's deterministic market (no server): the same
numbers ``tv.history`` would fetch, fast and identical on every run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypeAlias

import numpy as np

from tvframe.meta import FrameMeta
from tvframe.models import SymbolInfo
from tvframe.protocol.events import Bars
from tvframe.sim.catalogue import CATALOGUE
from tvframe.sim.market import Market

MARKET = Market()
#: Well after every bar used here, so no bar is still forming.
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp()
#: Monday 2026-10-26 to Tuesday 2026-11-03: a weekend and the end of US daylight time.
START = datetime(2026, 10, 26, tzinfo=timezone.utc).timestamp()
END = datetime(2026, 11, 3, 23, 0, tzinfo=timezone.utc).timestamp()
ZONE = "America/New_York"
#: How the tests type frames: ``df.tv`` is registered at run time, so type checkers cannot
#: see it on ``pd.DataFrame`` or ``pl.DataFrame``.
Frame: TypeAlias = Any


def sim_bars(symbol: str, resolution: str = "5", start: float = START, end: float = END) -> Bars:
    """The simulator's bars of ``symbol`` opening in ``[start, end)``."""
    sim = MARKET.bars_between(CATALOGUE[symbol], resolution, start, end, now=NOW)
    index = np.arange(len(sim), dtype=np.int64)
    return Bars(index, sim.time, sim.open, sim.high, sim.low, sim.close, sim.volume.copy())


def with_missing_volume(bars: Bars, every: int) -> Bars:
    """``bars`` with every ``every``-th volume NaN (and a run of NaN volumes at the start)."""
    volume = bars.volume.copy()
    volume[::every] = np.nan
    volume[:30] = np.nan
    return Bars(bars.index, bars.time, bars.open, bars.high, bars.low, bars.close, volume)


def meta_for(symbols: list[str], tz: str = ZONE, interval: str = "5m") -> FrameMeta:
    infos = {
        s: SymbolInfo(
            symbol=s,
            description=CATALOGUE[s].description,
            timezone=CATALOGUE[s].timezone,
            raw={"full_name": s, "pricescale": CATALOGUE[s].pricescale},
        )
        for s in symbols
    }
    return FrameMeta(interval, tz, infos)
