"""The notebooks in notebooks/ execute headless in a real Jupyter kernel against the simulator."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, cwd: Path = NOTEBOOKS) -> Any:
    """Run a notebook top to bottom in ``cwd``; a failing cell raises with its traceback."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
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


def test_streamer_notebook_shows_top_level_await() -> None:
    """Beside the seed's asyncio.run, a cell awaits at top level: the habit notebooks should use."""
    nb = nbformat.read(NOTEBOOKS / "streamer.ipynb", as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    awaiting = [
        src for src in code if any(line.startswith("seen = await ") for line in src.splitlines())
    ]
    assert awaiting and all("asyncio.run(" not in src for src in awaiting)
    assert any("asyncio.run(basic_streaming())" in src for src in code)
    assert "top-level `await`" in nb.cells[0].source


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


def _shown(cell: Any, mime: str) -> list[Any]:
    return [out["data"][mime] for out in cell.outputs if mime in out.get("data", {})]


def test_quickstart_fetches_joins_draws_and_exports(tmp_path: Path) -> None:
    """Run where its files can land (export/, the PNG): a temporary folder, not notebooks/."""
    import tvframe as tv

    nb = execute("quickstart.ipynb", cwd=tmp_path)

    assert "2026-11-02 14:30:00+00:00  NASDAQ:AAPL" in texts(nb.cells[3])  # the forming bar
    sizes = texts(nb.cells[5]).split()
    for symbol in ("BINANCE:BTCUSDT", "NASDAQ:AAPL", "NYSE:IBM"):
        assert sizes[sizes.index(symbol) + 1] == "250"
    # The chart: shown in the notebook and written to disk, the same PNG.
    [shown] = _shown(nb.cells[10], "image/png")
    assert base64.b64decode(shown).startswith(b"\x89PNG")
    written = (tmp_path / "aapl.png").read_bytes()
    assert written.startswith(b"\x89PNG") and len(written) > 20_000
    # The export: one Parquet file under export/ that reads back with the indicators, no NaN.
    [parquet] = (tmp_path / "export").glob("ohlcv_aapl_1h_*.parquet")
    assert texts(nb.cells[12]).strip() == f"export/{parquet.name}"
    back: Any = tv.read_parquet(parquet)  # pandas, as written; Any: .tv is added at run time
    assert len(back) == 500 and back.tv.meta.interval == "1h"
    assert back[["rsi_14", "macd", "macd_signal", "macd_hist"]].notna().all().all()
    daily = tv.read_csv(tmp_path / "daily.csv", backend="pandas")
    assert daily.index.get_level_values("symbol").nunique() == 3
    assert "BINANCE:BTCUSDT" in texts(nb.cells[15])
    # Progress bars in a kernel without ipywidgets: text bars, never a finaliser traceback.
    assert not any("Exception ignored" in texts(cell) for cell in nb.cells if "outputs" in cell)
