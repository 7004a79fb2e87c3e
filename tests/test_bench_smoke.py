"""Keeps the benchmark scripts alive: ``bench/run.py --smoke`` runs and prints its table.

No timing is asserted: the machine running the tests says nothing about speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_prints_the_table_and_saves_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("benchmark"))
    assert header.split()[:4] == ["benchmark", "client", "median", "wall"]
    assert any(line.startswith("history 1x500") and "tvframe" in line for line in lines)
    saved = json.loads((tmp_path / "smoke.json").read_text())
    (row,) = saved["history"]
    assert (row["client"], row["bars"], row["complete"]) == ("tvframe", 500, True)
    assert saved["errors"] == []
