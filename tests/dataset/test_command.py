"""``tvframe download``: options, exit status and what it prints."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.dataset.helpers import DAY, part_files
from tvframe.cli import main
from tvframe.sim import SimHandle


def download(*argv: str) -> int:
    return main(["download", *argv])


def test_download_then_update(
    sim: SimHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime.fromtimestamp(sim.clock.now() - 5 * DAY, timezone.utc).isoformat()
    spec = ["NASDAQ:AAPL", "BINANCE:BTCUSDT", "1d", "1h"]
    assert download(*spec, "--path", str(tmp_path), "--start", start, "--rate", "0",
                    "--no-progress") == 0  # fmt: skip
    assert "of 4 series fetched, 0 up to date, 0 failed" in capsys.readouterr().out
    assert len(part_files(tmp_path)) == 4
    assert download(*spec, "--path", str(tmp_path), "--no-progress") == 0
    assert "0 bars added; 0 of 4 series fetched, 4 up to date" in capsys.readouterr().out


def test_failed_series_exit_1_and_are_listed(
    sim: SimHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert download("NASDAQ:NOPE", "1d", "--path", str(tmp_path), "--start", "2026-10-01") == 1
    assert "tvframe: failed: NASDAQ:NOPE 1d: InvalidSymbolError" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--rate", "-1"], ["--connections", "0"], ["--retries", "x"]])
def test_bad_options_are_usage_errors(bad: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        download("NASDAQ:AAPL", "1d", "--path", "bars", *bad)
    assert exit_info.value.code == 2


def test_rate_zero_means_no_limit_and_one_connection_by_default() -> None:
    from tvframe.cli import _parser

    args = _parser().parse_args(["download", "NASDAQ:AAPL", "1d", "--path", "bars", "--rate", "0"])
    assert args.rate == 0 and (args.rate or None) is None and args.connections == 1
