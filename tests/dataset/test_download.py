"""tv.download against the simulator: contents equal tv.history, incremental, polite, reported."""

from __future__ import annotations

import importlib
import itertools
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import tvframe as tv
from tests.dataset.helpers import DAY, closed_history, fetches, part_files, stray_files
from tvframe import sim as tvsim
from tvframe.dataset import DownloadReport, download, scan
from tvframe.dataset.layout import Dataset
from tvframe.dataset.manifest import Manifest
from tvframe.errors import (
    AuthError,
    InvalidArgumentError,
    InvalidIntervalError,
    InvalidSymbolError,
    ShortHistoryWarning,
    SymbolsFailedWarning,
)
from tvframe.sim import DEFAULT_START, SimClock, SimHandle
from tvframe.sim.catalogue import universe

MIXED = ["BINANCE:BTCUSDT", "NASDAQ:AAPL", "FX:EURUSD"]
# The module, not the function the package exports under the same name.
download_module = importlib.import_module("tvframe.dataset.downloader")


def _run(
    symbols: list[str], intervals: str | list[str], path: Path | str, **kw: Any
) -> DownloadReport:
    return download(symbols, intervals, path=path, progress=False, rate=None, **kw)


def test_200_daily_symbols_over_one_connection_equal_history(
    sim: SimHandle, tmp_path: Path
) -> None:
    # The always-on variant of 200 symbols x 10 years (test_soak.py): 30 days each.
    symbols = [s.full_name for s in universe(200)]
    start = sim.clock.now() - 30 * DAY
    report = download(symbols, "1d", start=start, path=tmp_path, progress=False, rate=None)
    assert sim.stats.connections == 1
    assert report.fetched == 200 and not report.failed and not report.short
    stored = scan(tmp_path, symbols, "1d").collect()
    assert_frame_equal(stored, closed_history(symbols, "1d", start))
    assert report.bars == stored.height
    before = fetches(sim)
    again = download(symbols, "1d", start=start, path=tmp_path, progress=False)
    assert fetches(sim) == before  # nothing requested: nothing new can exist yet
    assert again.fetched == 0 and again.bars == 0
    assert {r.status for r in again.series} == {"up to date"}


def test_years_are_partitions_and_an_end_keeps_its_last_closed_bar(
    sim: SimHandle, tmp_path: Path
) -> None:
    symbols = [s.full_name for s in universe(6)]
    start, end = "2025-11-01", "2026-02-01"
    download(symbols, "1d", start=start, end=end, path=tmp_path, progress=False, rate=None)
    names = part_files(tmp_path)
    assert len(names) == 12 and all(n.endswith("part-0.parquet") for n in names)
    assert {n.split("/")[2] for n in names} == {"year=2025", "year=2026"}
    stored = scan(tmp_path, symbols).collect()
    # Every bar before `end` is closed, the last one too (a later bar proves it).
    assert_frame_equal(stored, closed_history(symbols, "1d", start, end))
    before = fetches(sim)
    report = download(symbols, "1d", start=start, end=end, path=tmp_path, progress=False)
    assert fetches(sim) == before and report.fetched == 0


def test_a_day_later_a_rerun_adds_exactly_the_new_bars(sim: SimHandle, tmp_path: Path) -> None:
    start = sim.clock.now() - 20 * DAY
    _run(MIXED, ["1h", "1d"], tmp_path, start=start)
    before = {iv: scan(tmp_path, MIXED, iv).collect() for iv in ("1h", "1d")}
    sim.advance(DAY)
    report = _run(MIXED, ["1h", "1d"], tmp_path)  # no start: bring what is held up to date
    for iv in ("1h", "1d"):
        after = scan(tmp_path, MIXED, iv).collect()
        assert_frame_equal(after, closed_history(MIXED, iv, start))
        assert_frame_equal(after.join(before[iv], on=["symbol", "time"], how="semi"), before[iv])
    added = {(r.symbol, r.interval): r.bars for r in report.series}
    assert added[("BINANCE:BTCUSDT", "1h")] == 24 and added[("BINANCE:BTCUSDT", "1d")] == 1


def test_the_forming_bar_is_stored_only_once_closed(sim: SimHandle, tmp_path: Path) -> None:
    sim.advance(30 * 60)  # 15:30 UTC: the 15:00 bar is half formed
    start = sim.clock.now() - DAY
    seen = tv.history("BINANCE:BTCUSDT", "1h", start=start, backend="polars")
    assert isinstance(seen, pl.DataFrame)
    forming = seen.row(-1, named=True)
    _run(["BINANCE:BTCUSDT"], "1h", tmp_path, start=start)
    stored = scan(tmp_path, "BINANCE:BTCUSDT", "1h").collect()
    assert_frame_equal(stored, seen.head(seen.height - 1))
    coverage = Manifest.load(Dataset.open(tmp_path)).entries[("1h", "BINANCE:BTCUSDT")]
    assert coverage.pending == forming["time"].timestamp() == coverage.end
    sim.advance(3600)
    _run(["BINANCE:BTCUSDT"], "1h", tmp_path)
    closed = scan(tmp_path, "BINANCE:BTCUSDT", "1h").collect()
    final = closed.filter(pl.col("time") == forming["time"]).row(0, named=True)
    assert final["volume"] > forming["volume"]  # its closed state, not the forming one
    assert_frame_equal(closed, closed_history(["BINANCE:BTCUSDT"], "1h", start))


def test_a_stock_keeps_friday_pending_until_monday(tmp_path: Path) -> None:
    saturday = DEFAULT_START - 2 * DAY - 3 * 3600  # 2026-10-31 12:00 UTC
    with tvsim.running(clock=SimClock(saturday)) as sim:
        start = saturday - 20 * DAY
        _run(["NASDAQ:AAPL"], "1d", tmp_path, start=start)
        weekend = scan(tmp_path, "NASDAQ:AAPL").collect()
        assert weekend["time"][-1].weekday() == 3  # Thursday: Friday's bar is pending
        before = fetches(sim)
        sim.advance(3 * 3600)
        _run(["NASDAQ:AAPL"], "1d", tmp_path)
        assert fetches(sim) > before  # a newer bar could exist: asked, none came
        assert scan(tmp_path, "NASDAQ:AAPL").collect().height == weekend.height
        sim.advance(2 * DAY)  # Monday 15:00 UTC, half an hour into the session
        _run(["NASDAQ:AAPL"], "1d", tmp_path)
        monday = scan(tmp_path, "NASDAQ:AAPL").collect()
        assert monday["time"][-1].weekday() == 4  # Friday, stored once Monday's bar exists
        assert_frame_equal(monday, closed_history(["NASDAQ:AAPL"], "1d", start))


def test_a_wider_start_fetches_only_the_older_bars(sim: SimHandle, tmp_path: Path) -> None:
    now = sim.clock.now()
    _run(MIXED, "1d", tmp_path, start=now - 10 * DAY)
    bars_sent = sim.stats.bars_sent
    report = _run(MIXED, "1d", tmp_path, start=now - 40 * DAY)
    # Only the older days travelled (a stock's estimate overshoots by weekends), not the 10 held.
    assert sim.stats.bars_sent - bars_sent <= 3 * 31
    assert report.bars > 0
    assert_frame_equal(scan(tmp_path, MIXED).collect(), closed_history(MIXED, "1d", now - 40 * DAY))
    coverage = Manifest.load(Dataset.open(tmp_path)).entries[("1d", "BINANCE:BTCUSDT")]
    assert coverage.start == now - 40 * DAY


def test_an_end_in_the_past_then_up_to_now_leaves_no_gap(sim: SimHandle, tmp_path: Path) -> None:
    now = sim.clock.now()
    _run(MIXED, "4h", tmp_path, start=now - 20 * DAY, end=now - 7 * DAY)
    held = scan(tmp_path, MIXED).collect()
    assert held["time"].max().timestamp() < now - 7 * DAY  # type: ignore[union-attr]
    _run(MIXED, "4h", tmp_path)
    stored = scan(tmp_path, MIXED).collect()
    assert_frame_equal(stored, closed_history(MIXED, "4h", now - 20 * DAY))
    assert stored.select(pl.struct("symbol", "time").is_unique().all()).item()


def test_a_capped_history_is_reported_not_lost() -> None:
    with tvsim.running(max_depth=300) as sim, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        path = f"memory://capped-{id(sim)}"
        report = _run(["BINANCE:BTCUSDT"], "1h", path, start=sim.clock.now() - 30 * DAY)
        assert not [w for w in seen if issubclass(w.category, ShortHistoryWarning)]
        label = "BINANCE:BTCUSDT 1h"
        assert "reaches back to" in report.short[label]
        assert report.bars == 299  # 300, less the forming one
        ds = Dataset.open(path)
        assert Manifest.load(ds).entries[("1h", "BINANCE:BTCUSDT")].short
        written = json.loads(ds.fs.cat_file(ds.report))
        assert written["series"][0]["short"] == report.short[label]
        before = fetches(sim)
        _run(["BINANCE:BTCUSDT"], "1h", path, start=sim.clock.now() - 30 * DAY)
        assert fetches(sim) == before
        ds.fs.rm(ds.root, recursive=True)


def test_a_refused_symbol_is_reported_and_the_others_are_written(
    sim: SimHandle, tmp_path: Path
) -> None:
    start = sim.clock.now() - 5 * DAY
    with pytest.warns(SymbolsFailedWarning, match="NASDAQ:NOPE 1d"):
        report = download(
            ["NASDAQ:AAPL", "NASDAQ:NOPE"], "1d", start=start, path=tmp_path, progress=False
        )
    assert list(report.failed) == ["NASDAQ:NOPE 1d"]
    assert "InvalidSymbolError" in report.failed["NASDAQ:NOPE 1d"]
    written = json.loads((tmp_path / "_report.json").read_text())
    assert [r["status"] for r in written["series"]] == ["written", "failed"]
    assert_frame_equal(scan(tmp_path).collect(), closed_history(["NASDAQ:AAPL"], "1d", start))
    with pytest.raises(InvalidSymbolError, match="NASDAQ:NOPE"):
        download(["NASDAQ:NOPE", "NYSE:IBM"], "1d", start=start, path=tmp_path, errors="raise")
    assert scan(tmp_path, "NYSE:IBM").collect().height > 0  # written before the raise


@pytest.fixture
def failing_writes(sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """After every 4th series write, the server drops every socket: "max sessions rate
    reached" (a rate-limit answer), as TradingView does to impatient clients."""
    writes = itertools.count(1)
    drops: list[int] = []
    real: Callable[..., int] = download_module.write_series

    def write_then_maybe_drop(*args: Any) -> int:
        added = real(*args)
        if next(writes) % 4 == 0:
            drops.append(sim.faults.protocol_error("max sessions rate reached"))
        return added

    monkeypatch.setattr(download_module, "write_series", write_then_maybe_drop)
    yield drops


def test_429_on_every_third_handshake_and_rate_drops_lose_nothing(
    sim: SimHandle, tmp_path: Path, failing_writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handshakes = itertools.count(1)

    def every_third() -> int | None:
        if next(handshakes) % 3:
            return None
        sim.stats.handshakes_refused += 1
        return 429

    monkeypatch.setattr(sim.simulator.faults, "take_refusal", every_third)
    symbols = [s.full_name for s in universe(24)]
    start = sim.clock.now() - 10 * DAY
    report = download(
        symbols, "1d", start=start, path=tmp_path, progress=False, rate=None, connections=3,
        concurrency=2, backoff=0.01, retries=8,
    )  # fmt: skip
    assert not report.failed
    assert sum(failing_writes) > 0 and sim.stats.handshakes_refused >= 2
    monkeypatch.undo()
    assert_frame_equal(scan(tmp_path, symbols).collect(), closed_history(symbols, "1d", start))
    assert stray_files(tmp_path) == []


def test_any_fsspec_url_is_a_dataset(sim: SimHandle) -> None:
    url = f"memory://bars-{id(sim)}"
    start = sim.clock.now() - 3 * DAY
    _run(MIXED, "1h", url, start=start)
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"/bars-{id(sim)}/interval=1h/symbol=NASDAQ%3AAAPL/year=2026/part-0.parquet")
    assert_frame_equal(scan(url, MIXED).collect(), closed_history(MIXED, "1h", start))
    fs.rm(f"/bars-{id(sim)}", recursive=True)


def test_arguments_are_checked_before_any_io(sim: SimHandle, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="start= is needed"):
        download(["NASDAQ:AAPL"], "1d", path=tmp_path)
    with pytest.raises(InvalidIntervalError):
        download(["NASDAQ:AAPL"], "1 day", start="2026-01-01", path=tmp_path)
    with pytest.raises(InvalidSymbolError):
        download(["AAPL"], "1d", start="2026-01-01", path=tmp_path)
    with pytest.raises(InvalidArgumentError, match="not before"):
        download(["NASDAQ:AAPL"], "1d", start="2026-02-01", end="2026-01-01", path=tmp_path)
    bad_values: list[dict[str, Any]] = [
        {"connections": 0},
        {"rate": -1.0},
        {"concurrency": 0},
        {"errors": "skip"},
    ]
    for bad in bad_values:
        with pytest.raises(InvalidArgumentError):
            download(["NASDAQ:AAPL"], "1d", start="2026-01-01", path=tmp_path, **bad)
    assert sim.stats.connections == 0
    assert not list(tmp_path.iterdir())


def test_a_rejected_token_stops_the_run_at_once(tmp_path: Path) -> None:
    with tvsim.running(accept_token=lambda token: False) as sim:
        with pytest.raises(AuthError):
            _run(MIXED, "1d", tmp_path, start=sim.clock.now() - DAY)
        assert sim.stats.connections == 1  # never retried


def test_a_series_whose_socket_keeps_dropping_fails_after_its_retries(
    sim: SimHandle, tmp_path: Path
) -> None:
    sim.faults.drop_after(3)  # the hello, then two messages of any history: never complete
    start = sim.clock.now() - DAY
    report = _run(MIXED[:2], "1d", tmp_path, start=start, retries=2, backoff=0, errors="ignore")
    assert set(report.failed) == {"BINANCE:BTCUSDT 1d", "NASDAQ:AAPL 1d"}
    assert all("ConnectionClosed" in why for why in report.failed.values())
    # Both series are in flight on each socket: 1 try + 2 retries, each on a fresh socket.
    assert sim.stats.drops == sim.stats.connections == 3
    assert part_files(tmp_path) == [] and not Manifest.load(Dataset.open(tmp_path)).entries


def test_short_notes_go_to_their_series_and_other_warnings_are_kept() -> None:
    notes = download_module._ShortNotes()
    with pytest.warns(UserWarning, match="unrelated"), notes:
        with notes:  # a second download on the same loop shares the capture
            warnings.warn(ShortHistoryWarning("NASDAQ:AAPL 1d: capped at 10"), stacklevel=1)
            warnings.warn(UserWarning("unrelated"), stacklevel=1)
        assert notes.take(("1h", "NASDAQ:AAPL")) is None
        assert notes.take(("1d", "NASDAQ:AAPL")) == "capped at 10"
        assert notes.take(("1d", "NASDAQ:AAPL")) is None
