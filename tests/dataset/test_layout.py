"""Folder names: any symbol is a safe, reversible folder name; paths stay inside the root."""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tvframe.dataset.layout import Dataset, decode_value, encode_value, interval_value
from tvframe.intervals import SEED_INTERVALS


@given(st.text())
def test_encoding_is_reversible_and_only_safe_characters(text: str) -> None:
    encoded = encode_value(text)
    assert decode_value(encoded) == text
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-%")


@pytest.mark.parametrize(
    "symbol", ["../../etc/passwd", "X:..", "A/B", "C:\\x", "NUL", "a=b%20", "X:\x00", "东京:7203"]
)
def test_hostile_tickers_stay_inside_the_dataset(symbol: str, tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    path = ds.partition("1d", symbol, 2024)
    assert posixpath.normpath(path) == path  # no `..` or `.` component to resolve
    assert path.startswith(f"{ds.root}/interval=1d/symbol=")
    folder = posixpath.basename(ds.series_dir("1d", symbol))
    assert "/" not in folder and "\\" not in folder and "\x00" not in folder
    Path(path).parent.mkdir(parents=True)  # the file system takes it as one folder
    assert Path(path).parent.parent.parent == tmp_path / "interval=1d"


def test_minutes_and_months_never_share_a_folder() -> None:
    folders = [interval_value(text) for text in SEED_INTERVALS]
    assert len({folder.casefold() for folder in folders}) == len(SEED_INTERVALS)
    assert interval_value("1m") == "1m" and decode_value(interval_value("1M")) == "1M"


def test_the_root_is_any_fsspec_url(tmp_path: Path) -> None:
    local, memory = Dataset.open(tmp_path), Dataset.open("memory://somewhere/bars")
    assert local.is_local and local.root == tmp_path.as_posix()
    assert not memory.is_local and memory.root == "/somewhere/bars"
    assert memory.manifest == "/somewhere/bars/_manifest.json"
    assert memory.journal("1M", "A:B") == "/somewhere/bars/_journal/1%4D/A%3AB.json"
