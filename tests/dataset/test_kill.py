"""A download killed with SIGKILL mid-way resumes and ends identical to an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dataset.helpers import DAY, assert_same_dataset, part_files, stray_files
from tvframe.dataset import download
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import universe

SYMBOLS = [s.full_name for s in universe(30)]
# The child is slowed by its rate limit, so the kill lands while series are in flight.
CHILD = """
import sys
from tvframe.dataset import download
symbols = sys.argv[3].split(",")
download(symbols, ["1d", "4h"], start=float(sys.argv[2]), path=sys.argv[1], rate=12,
         concurrency=4, progress=False)
"""


def _wait_for_parts(path: Path, count: int, child: subprocess.Popen[bytes]) -> int:
    """Watch the dataset folder until ``count`` partitions exist (the child still running)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = len(part_files(path)) if path.exists() else 0
        if found >= count:
            return found
        assert child.poll() is None, "the download ended before it could be killed"
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} partitions after 60 s")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_download_resumes_to_the_same_dataset(sim: SimHandle, tmp_path: Path) -> None:
    start = sim.clock.now() - 40 * DAY
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    argv = [sys.executable, "-c", CHILD, str(killed), str(start), ",".join(SYMBOLS)]
    child = subprocess.Popen(argv, env=dict(os.environ), stderr=subprocess.PIPE)
    try:
        _wait_for_parts(killed, 12, child)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    at_kill = len(part_files(killed))
    resumed = download(SYMBOLS, ["1d", "4h"], start=start, path=killed, progress=False, rate=None)
    assert 0 < resumed.fetched < len(SYMBOLS) * 2  # the series finished before the kill stay
    download(SYMBOLS, ["1d", "4h"], start=start, path=whole, progress=False, rate=None)
    assert at_kill < len(part_files(whole))
    assert_same_dataset(killed, whole)
    assert stray_files(killed) == []
