"""Where each part of a dataset lives, and how symbols and intervals become folder names.

The layout (hive style, one folder level per key)::

    <root>/interval=<interval>/symbol=<symbol>/year=<yyyy>/part-0.parquet
    <root>/_manifest.json       what the dataset covers (tvframe.dataset.manifest)
    <root>/_report.json         the last download's report
    <root>/_journal/...         series finished by a run whose manifest is not merged yet

Rules of this module:
- a folder value is percent-encoded: every character but ASCII letters, digits, ``_`` and
  ``-`` becomes ``%XX`` (its UTF-8 bytes), so ``/``, ``..``, ``:``, ``=``, ``%`` or NUL never
  reach the file system raw; polars, pyarrow, DuckDB and Dask decode hive values this way;
- the month unit is written ``%4D`` (``1M`` -> ``1%4D``): ``1m`` (a minute) and ``1M`` (a
  month) would share one folder on a case-insensitive file system (macOS, Windows);
- names tvframe keeps beside the data start with ``_``, temporary files with ``.``: every
  reader skips both, so they never show up as data.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = [
    "JOURNAL_DIR",
    "MANIFEST_NAME",
    "PART_NAME",
    "REPORT_NAME",
    "Dataset",
    "decode_value",
    "encode_value",
    "interval_value",
]

#: The one data file of each partition (rewritten whole on every change).
PART_NAME = "part-0.parquet"
MANIFEST_NAME = "_manifest.json"
REPORT_NAME = "_report.json"
JOURNAL_DIR = "_journal"

_KEEP = re.compile(r"[A-Za-z0-9_-]")


def encode_value(text: str) -> str:
    """``text`` as a hive folder value: percent-encoded but for ``A-Z a-z 0-9 _ -``.

    Example:
        >>> encode_value("NASDAQ:AAPL"), encode_value("../etc")
        ('NASDAQ%3AAAPL', '%2E%2E%2Fetc')
    """
    return "".join(
        ch if _KEEP.fullmatch(ch) else "".join(f"%{byte:02X}" for byte in ch.encode())
        for ch in text
    )


def decode_value(text: str) -> str:
    """Inverse of :func:`encode_value` (what every hive reader does to a folder value).

    Example:
        >>> decode_value("NASDAQ%3AAAPL"), decode_value("1%4D")
        ('NASDAQ:AAPL', '1M')
    """
    return unquote(text, errors="strict")


def interval_value(interval: str) -> str:
    """The folder value of an interval spelling; months are kept apart from minutes.

    Example:
        >>> interval_value("1d"), interval_value("1M")
        ('1d', '1%4D')
    """
    return encode_value(interval).replace("M", "%4D")


@dataclass(frozen=True)
class Dataset:
    """A dataset root on any fsspec file system.

    Attributes:
        url: the path or URL the user gave (``"data/bars"``, ``"s3://bucket/bars"`` ...).
        storage_options: passed to fsspec (credentials, endpoint ...).

    Example:
        >>> ds = Dataset.open("memory://bars")
        >>> ds.partition("1d", "NASDAQ:AAPL", 2024)
        '/bars/interval=1d/symbol=NASDAQ%3AAAPL/year=2024/part-0.parquet'
    """

    url: str
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    fs: AbstractFileSystem = field(init=False, repr=False, compare=False)
    root: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(self.url, **dict(self.storage_options))
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "root", root.rstrip("/") or "/")

    @classmethod
    def open(cls, path: Any, storage_options: Mapping[str, Any] | None = None) -> Dataset:
        """The dataset at ``path`` (a local path, ``os.PathLike`` or an fsspec URL)."""
        return cls(str(path), dict(storage_options or {}))

    @property
    def is_local(self) -> bool:
        """True on the local file system (where renames replace atomically)."""
        return "file" in _protocols(self.fs)

    def join(self, *parts: str) -> str:
        """A path below the root."""
        return posixpath.join(self.root, *parts)

    def series_dir(self, interval: str, symbol: str) -> str:
        """The folder of one symbol and interval."""
        return self.join(f"interval={interval_value(interval)}", f"symbol={encode_value(symbol)}")

    def partition(self, interval: str, symbol: str, year: int) -> str:
        """The data file of one symbol, interval and year."""
        return posixpath.join(self.series_dir(interval, symbol), f"year={year}", PART_NAME)

    def journal(self, interval: str, symbol: str) -> str:
        """The journal file of one symbol and interval."""
        return self.join(JOURNAL_DIR, interval_value(interval), f"{encode_value(symbol)}.json")

    @property
    def manifest(self) -> str:
        """The manifest file."""
        return self.join(MANIFEST_NAME)

    @property
    def report(self) -> str:
        """The report of the last download."""
        return self.join(REPORT_NAME)


def _protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
