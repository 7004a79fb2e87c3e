"""Partition files and the manifest: atomic, merged by bar time, the tv.history schema."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tvframe.dataset.layout import Dataset
from tvframe.dataset.manifest import Coverage, Manifest, record
from tvframe.dataset.writer import atomic_replace, read_bars, sweep, write_series
from tvframe.errors import TvFrameError
from tvframe.protocol.events import Bars

NEW_YEAR_2025 = 1_735_689_600.0
DAY = 86_400.0


def bars(times: list[float], close: float = 1.0) -> Bars:
    n = len(times)
    ones = np.ones(n)
    return Bars(np.arange(n), np.array(times), ones, ones * 2, ones / 2, ones * close, ones * 9)


def test_bars_land_in_their_utc_year_with_the_history_schema(tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    times = [NEW_YEAR_2025 - DAY, NEW_YEAR_2025 - 1, NEW_YEAR_2025, NEW_YEAR_2025 + DAY]
    assert write_series(ds, "1d", "X:Y", bars(times)) == 4
    old = Path(ds.partition("1d", "X:Y", 2024))
    new = Path(ds.partition("1d", "X:Y", 2025))
    assert pq.read_table(old).num_rows == 2 and pq.read_table(new).num_rows == 2
    table = pq.read_table(new)
    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.names == ["time", "open", "high", "low", "close", "volume"]
    assert all(table.schema.field(n).type == pa.float64() for n in table.schema.names[1:])
    assert pq.ParquetFile(new).metadata.row_group(0).column(0).compression == "ZSTD"


def test_merging_keeps_one_row_per_time_and_the_newer_fetch_wins(tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    write_series(ds, "1h", "X:Y", bars([0.0, 3600.0], close=1.0))
    assert write_series(ds, "1h", "X:Y", bars([3600.0, 7200.0], close=5.0)) == 1
    merged = read_bars(ds, ds.partition("1h", "X:Y", 1970))
    assert merged.time.tolist() == [0.0, 3600.0, 7200.0]
    assert merged.close.tolist() == [1.0, 5.0, 5.0]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    target = ds.join("a.bin")
    atomic_replace(ds, target, lambda h: h.write(b"old"))

    def broken(handle: IO[bytes]) -> None:
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_replace(ds, target, broken)
    assert Path(target).read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_sweep_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    write_series(ds, "1d", "X:Y", bars([0.0]))
    folder = Path(ds.partition("1d", "X:Y", 1970)).parent
    (folder / ".part-0.parquet.0123abcd.tmp").write_bytes(b"half a file")
    (folder / "notes.txt").write_text("kept")
    assert sweep(ds) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "part-0.parquet"]


def test_the_journal_is_merged_into_the_manifest_once(tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    Manifest({("1d", "B:B"): Coverage(0.0, 10.0, 5.0, 10.0, 11.0)}).save(ds)
    record(ds, ("1d", "A:A"), Coverage(0.0, 20.0, 15.0, 20.0, 21.0))
    record(ds, ("1d", "B:B"), Coverage(0.0, 30.0, 25.0, 30.0, 31.0))
    loaded = Manifest.load(ds)  # a killed run's journal counts
    assert loaded.entries[("1d", "B:B")].end == 30.0 and ("1d", "A:A") in loaded.entries
    loaded.save(ds)
    assert not (tmp_path / "_journal").exists()
    text = (tmp_path / "_manifest.json").read_text()
    assert text.index('"A:A"') < text.index('"B:B"')  # sorted: the same dataset, the same file
    assert Manifest.load(ds).entries == loaded.entries


def test_a_foreign_manifest_is_refused_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "_manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(TvFrameError, match=r"_manifest\.json is not a tvframe dataset manifest"):
        Manifest.load(Dataset.open(tmp_path))


def test_a_damaged_journal_entry_is_skipped_not_fatal(tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    record(ds, ("1d", "A:A"), Coverage(0.0, 20.0, 15.0, 20.0, 21.0))
    Path(ds.journal("1d", "B:B")).write_bytes(b"")  # an unsynced entry a power cut emptied
    assert list(Manifest.load(ds).entries) == [("1d", "A:A")]
