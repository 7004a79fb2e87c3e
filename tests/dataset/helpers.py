"""What the dataset tests share: reference frames from tv.history and dataset contents."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import tvframe as tv
from tvframe.sim import SimHandle

DAY = 86_400.0
#: Requests that fetch bars: a run that fetches nothing sends none of them.
FETCHES = ("chart_create_session", "create_series", "request_more_data")


def closed_history(symbols: list[str], interval: str, start: Any, end: Any = None) -> pl.DataFrame:
    """``tv.history`` of the same range, less each symbol's newest bar when it may be forming
    (no ``end``): exactly what a dataset holds."""
    frame = tv.history(symbols, interval, start=start, end=end, backend="polars", progress=False)
    assert isinstance(frame, pl.DataFrame)
    if end is not None:
        return frame
    parts = frame.partition_by("symbol", maintain_order=True)
    return pl.concat([part.head(part.height - 1) for part in parts])


def fetches(sim: SimHandle) -> int:
    """Bar requests the simulator received so far."""
    return sum(sim.stats.messages[name] for name in FETCHES)


def part_files(path: str | os.PathLike[str]) -> list[str]:
    """Every Parquet part of a local dataset, relative to its root, sorted."""
    root = Path(path)
    return sorted(str(p.relative_to(root)) for p in root.rglob("part-*.parquet"))


def contents(path: str | os.PathLike[str]) -> dict[str, pa.Table]:
    """Every part of a local dataset, read back, by relative path."""
    return {name: pq.read_table(Path(path) / name) for name in part_files(path)}


def assert_same_dataset(left: str | os.PathLike[str], right: str | os.PathLike[str]) -> None:
    """Two datasets hold the same files with the same content, and the same manifest."""
    mine, theirs = contents(left), contents(right)
    assert list(mine) == list(theirs)
    for name, table in mine.items():
        assert table.equals(theirs[name]), name
    manifest = (Path(left) / "_manifest.json").read_bytes()
    assert manifest == (Path(right) / "_manifest.json").read_bytes()


def stray_files(path: str | os.PathLike[str]) -> list[str]:
    """Temporary files and journal entries left in a dataset (none once a run ends)."""
    root = Path(path)
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and (p.name.startswith(".") or "_journal" in p.parts)
    )
