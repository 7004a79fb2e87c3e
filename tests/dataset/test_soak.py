"""The issue's volumes: 200 symbols x 10 years of 1d, 30 symbols x 60 days of 5m.

The 10-year run spends minutes in the simulator's market generation, so it is a soak test
(``-m soak``); test_download.py runs the same checks on 200 symbols x 30 days always.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from tests.dataset.helpers import DAY, closed_history, fetches, part_files
from tvframe import sim as tvsim
from tvframe.dataset import download, scan
from tvframe.sim.catalogue import universe


def _check(
    symbols: list[str], interval: str, start: float, path: Path, sim: tvsim.SimHandle
) -> None:
    report = download(symbols, interval, start=start, path=path, progress=False, rate=None)
    assert not report.failed and not report.short
    assert sim.stats.connections == 1
    stored = scan(path, symbols, interval).collect()
    assert_frame_equal(stored, closed_history(symbols, interval, start))
    before = fetches(sim)
    again = download(symbols, interval, start=start, path=path, progress=False)
    assert fetches(sim) == before and again.fetched == 0


def test_30_symbols_60_days_of_5m(tmp_path: Path) -> None:
    # 17 280 bars a 24x7 symbol: past the free plan's 5 000, so the depth is raised.
    with tvsim.running(max_depth=20_000) as sim:
        symbols = [s.full_name for s in universe(30)]
        _check(symbols, "5m", sim.clock.now() - 60 * DAY, tmp_path, sim)
        assert len(part_files(tmp_path)) == 30


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_200_symbols_10_years_of_1d(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if "soak" not in (request.config.option.markexpr or ""):
        pytest.skip("opt-in: run with -m soak (minutes of market generation in the simulator)")
    with tvsim.running() as sim:
        symbols = [s.full_name for s in universe(200)]
        _check(symbols, "1d", sim.clock.now() - 3652.5 * DAY, tmp_path, sim)
        assert len(part_files(tmp_path)) == 200 * 11  # 2016 (from November) to 2026
