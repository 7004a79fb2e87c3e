"""Frames of simulator bars in tvframe's three shapes, with metadata, a non-UTC zone and NaNs."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from tests.accessors.simbars import ZONE, meta_for, sim_bars, with_missing_volume
from tvframe.accessors import register
from tvframe.frames import bars_frame
from tvframe.protocol.events import Bars


@pytest.fixture(autouse=True)
def _registered() -> None:
    register()


@pytest.fixture
def one_symbol() -> pd.DataFrame:
    """NASDAQ:AAPL 5m bars, New York time, some volumes NaN: pandas indexed by time."""
    bars = with_missing_volume(sim_bars("NASDAQ:AAPL"), 7)
    return bars_frame([("NASDAQ:AAPL", bars)], "pandas", tz=ZONE, meta=meta_for(["NASDAQ:AAPL"]))


def _two_symbols() -> list[tuple[str, Bars]]:
    return [
        ("NASDAQ:AAPL", with_missing_volume(sim_bars("NASDAQ:AAPL"), 5)),
        ("FX:EURUSD", with_missing_volume(sim_bars("FX:EURUSD"), 3)),
    ]


@pytest.fixture
def multi_symbol() -> pd.DataFrame:
    """NASDAQ:AAPL and FX:EURUSD: pandas indexed by (symbol, time)."""
    parts = _two_symbols()
    return bars_frame(parts, "pandas", tz=ZONE, meta=meta_for([s for s, _ in parts]))


@pytest.fixture
def polars_frame() -> pl.DataFrame:
    """NASDAQ:AAPL and FX:EURUSD as a polars frame."""
    parts = _two_symbols()
    return bars_frame(parts, "polars", tz=ZONE, meta=meta_for([s for s, _ in parts]))
