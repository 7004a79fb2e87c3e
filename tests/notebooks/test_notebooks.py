"""The notebooks in notebooks/ execute headless in a real Jupyter kernel against the simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str) -> Any:
    """Run a notebook top to bottom; a failing cell raises with its traceback."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return nb


def texts(cell: Any) -> str:
    return "".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "") for out in cell.outputs
    )


def test_seed_examples_with_asyncio_run_work_in_a_kernel() -> None:
    nb = execute("streamer.ipynb")
    printed = texts(nb.cells[2])
    assert "BINANCE:BTCUSDT: " in printed and "NASDAQ:AAPL: " in printed
    assert "['BINANCE:BTCUSDT', 'NASDAQ:AAPL']" in texts(nb.cells[3])


def test_scripts_are_never_patched() -> None:
    """Outside a kernel, using the seed API leaves asyncio.run as the standard library's."""
    code = (
        "import asyncio; original = asyncio.run\n"
        "import tvframe as tv; tv.RealtimeStreamer\n"
        "from tvframe.notebook import allow_asyncio_run\n"
        "async def inner(): return 1\n"
        "async def outer():\n"
        "    assert not allow_asyncio_run()\n"
        "    try:\n"
        "        asyncio.run(inner())\n"
        "    except RuntimeError as exc:\n"
        "        return 'refused' if 'running event loop' in str(exc) else str(exc)\n"
        "print(asyncio.run is original, asyncio.run(outer()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "refused"]


def test_live_notebook_table_refreshes_itself() -> None:
    nb = execute("live.ipynb")
    shown = [out for out in nb.cells[2].outputs if out.get("output_type") == "display_data"]
    assert len(shown) == 1  # one table, updated in place (update_display_data), not appended
    html = shown[0]["data"]["text/html"]
    # The display was refreshed after the five simulated minutes: it shows the last bars.
    assert "2026-11-02 15:05:00+00:00" in html and "stopped" in html
    assert texts(nb.cells[5]).strip().isdigit() and int(texts(nb.cells[5])) >= 1
    [table] = [out for out in nb.cells[7].outputs if out.get("output_type") == "display_data"]
    assert "stopped" in table["data"]["text/html"]  # refreshed in place until the stop
    assert "NASDAQ:AAPL" in texts(nb.cells[8]) and "bid" in texts(nb.cells[8])
