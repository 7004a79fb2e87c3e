"""JSON, CSV and Parquet export with the seed's file names, safe paths and atomic writes.

Rules of this module:
- a name part never carries a path separator, ``..``, a NUL byte or a Windows reserved name, so
  a file always lands inside the directory it was given;
- a file appears complete or not at all: it is written to a temporary file in the same folder
  and moved into place with ``os.replace``;
- an existing file is never overwritten: the name is claimed with an exclusive create, and
  ``-1``, ``-2`` … are appended until a free name is found.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

import orjson
from pydantic import BaseModel

from tvframe.errors import InvalidArgumentError
from tvframe.models import EXPORT_TYPES

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = [
    "ExportData",
    "atomic_write",
    "check_path",
    "export_data",
    "export_filename",
    "safe_component",
    "write_csv",
    "write_json",
    "write_parquet",
]

logger = logging.getLogger(__name__)

#: What the writers accept: seed models (all of one type) or a pandas or polars DataFrame.
ExportData: TypeAlias = "Sequence[BaseModel] | pd.DataFrame | pl.DataFrame"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_UNDERSCORES = re.compile(r"_{2,}")
# Device names Windows resolves in any folder, whatever the extension.
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_MAX_COMPONENT = 64
_MAX_SUFFIX = 10_000


def safe_component(text: str) -> str:
    """Make ``text`` safe as one part of a file name, on every operating system.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` (separators, ``:``, NUL …)
    become ``_``; runs of dots become ``_`` so no ``..`` remains; leading and trailing dots,
    dashes and underscores are dropped; a Windows device name (``CON``, ``NUL.txt`` …) gets a
    ``_`` after it; the result is at most 65 characters. Case is kept.

    Raises:
        InvalidArgumentError: nothing usable is left (the value is named).

    Example:
        >>> safe_component("../../etc/passwd"), safe_component("CON"), safe_component("BRK.B")
        ('etc_passwd', 'CON_', 'BRK.B')
    """
    cleaned = _DOTS.sub("_", _UNSAFE.sub("_", text))
    cleaned = _UNDERSCORES.sub("_", cleaned).strip("._-")[:_MAX_COMPONENT].rstrip("._-")
    if not cleaned:
        raise InvalidArgumentError(f"{text!r} has no characters usable in a file name")
    head, dot, rest = cleaned.partition(".")
    if head.upper() in _RESERVED:
        # Windows reads the part before the first dot, so the mark goes there: nul.txt -> nul_.txt
        cleaned = f"{head}_{dot}{rest}"
    return cleaned


def _check_type(export_type: str) -> str:
    if export_type not in EXPORT_TYPES:
        raise InvalidArgumentError(
            f"export_type={export_type!r} is not one of {', '.join(EXPORT_TYPES)}"
        )
    return export_type


def export_filename(
    data_category: str,
    symbol: str,
    timeframe: str,
    export_type: str,
    when: datetime | None = None,
) -> str:
    """The seed's file name: ``{data_category}_{symbol}_{timeframe}_{YYYYmmdd-HHMMSS}.{ext}``.

    The symbol part is the ticker, lower-cased (``BINANCE:BTCUSDT`` → ``btcusdt``); the
    timeframe keeps its case because ``1m`` is a minute and ``1M`` a month. Every part goes
    through :func:`safe_component`. ``when`` defaults to now; it is written in UTC.

    Example:
        >>> when = datetime(2024, 1, 1, 12, 30, 45, tzinfo=timezone.utc)
        >>> export_filename("ohlc", "BINANCE:BTCUSDT", "1m", "json", when)
        'ohlc_btcusdt_1m_20240101-123045.json'
    """
    moment = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    ticker = symbol.rsplit(":", 1)[-1]
    parts = (safe_component(data_category.lower()), safe_component(ticker.lower()))
    return (
        f"{parts[0]}_{parts[1]}_{safe_component(timeframe)}_"
        f"{moment:%Y%m%d-%H%M%S}.{_check_type(export_type)}"
    )


# --- atomic, never-overwriting file placement -------------------------------------------


def check_path(value: object, argument: str = "path") -> Path:
    """A user-given file or folder path as a ``Path``, refused early when the OS cannot take it.

    Checked where the user hands the path over, so that the error names the argument and the
    value instead of surfacing from ``os`` as ``ValueError('embedded null byte')``.

    Raises:
        InvalidArgumentError: not a str or ``os.PathLike[str]``, or it holds a NUL byte.

    Example:
        >>> check_path("export/bars.csv").as_posix()
        'export/bars.csv'
    """
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str):
        raise InvalidArgumentError(
            f"{argument} must be a str or os.PathLike path, got {type(value).__name__} {value!r}"
        )
    if "\x00" in text:
        raise InvalidArgumentError(f"{argument}={text!r} contains a NUL byte")
    return Path(text)


def _claim(target: Path) -> Path:
    """Create an empty ``target`` (or ``target-1``, ``target-2`` …) exclusively and return it."""
    for n in range(_MAX_SUFFIX):
        candidate = target if n == 0 else target.with_name(f"{target.stem}-{n}{target.suffix}")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{target} and {_MAX_SUFFIX - 1} numbered variants already exist")


def atomic_write(target: Path, write: Callable[[Path], None]) -> Path:
    """Write through ``write(temp_path)``, then move the result to a free name near ``target``.

    The claimed name is created empty first so that no concurrent writer can take it; the
    finished temporary file then replaces that placeholder in one ``os.replace``. Shared by
    every tvframe writer (:mod:`tvframe.io`, :mod:`tvframe.plot`) so all follow the module rules.

    Returns:
        The path written: ``target``, or ``target`` with ``-1``, ``-2`` … when it existed.

    Raises:
        InvalidArgumentError: ``target`` is an existing folder (named).

    Example:
        >>> folder = Path(tempfile.mkdtemp())
        >>> [atomic_write(folder / "a.txt", lambda p: p.write_text("x")).name for _ in "12"]
        ['a.txt', 'a-1.txt']
    """
    if target.is_dir():
        # Claiming would skip the taken name and land as ``<folder>-1`` beside the folder.
        raise InvalidArgumentError(
            f"{str(target)!r} is a folder; give a file name inside it, e.g. {str(target / 'out')!r}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temp = Path(temp_name)
    final: Path | None = None
    try:
        write(temp)
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        final = _claim(target)
        # mkstemp makes the file private (0600); give it the mode the umask gives new files.
        os.chmod(temp, stat.S_IMODE(final.stat().st_mode))
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        if final is not None:  # the empty placeholder we claimed
            final.unlink(missing_ok=True)
        raise
    logger.debug("wrote %s", final)
    return final


# --- conversion of the accepted inputs ---------------------------------------------------


# Checked by module name so that exporting models never imports pandas or polars.
def _is_pandas(data: object) -> TypeGuard[pd.DataFrame]:
    return type(data).__module__.startswith("pandas") and hasattr(data, "to_csv")


def _is_polars(data: object) -> TypeGuard[pl.DataFrame]:
    return type(data).__module__.startswith("polars") and hasattr(data, "write_csv")


def _model_rows(data: object) -> tuple[list[str], list[dict[str, Any]]]:
    """Field names and rows of a list of models, checked to be models of one type."""
    items = list(data) if isinstance(data, Sequence) and not isinstance(data, str) else None
    if items is None:
        raise InvalidArgumentError(
            f"export needs a list of pydantic models or a DataFrame, got {type(data).__name__}"
        )
    if not items:
        return [], []
    kinds = {type(item) for item in items}
    first = items[0]
    if len(kinds) > 1 or not isinstance(first, BaseModel):
        names = sorted(kind.__name__ for kind in kinds)
        raise InvalidArgumentError(
            f"export needs a list of one pydantic model type or a DataFrame, got {names}"
        )
    rows = [item.model_dump(mode="python") for item in items if isinstance(item, BaseModel)]
    return list(type(first).model_fields), rows


def _pandas_frame(data: pd.DataFrame) -> pd.DataFrame:
    """The frame with a meaningful index (tvframe's ``time``) turned into a leading column."""
    import pandas as pd

    if isinstance(data.index, pd.RangeIndex) and data.index.name is None:
        return data
    frame: pd.DataFrame = data.reset_index()
    return frame


def _records(data: ExportData) -> list[dict[str, Any]]:
    if _is_polars(data):
        return data.to_dicts()
    if _is_pandas(data):
        frame = _pandas_frame(data)
        return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
    return _model_rows(data)[1]


def _json_default(value: Any) -> Any:
    """What orjson cannot encode itself: pandas timestamps, numpy scalars."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot export a {type(value).__name__} as JSON")


def _finite(row: Mapping[str, Any]) -> dict[str, Any]:
    # NaN and infinities are not JSON; a missing value is written as null.
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


# --- writers ----------------------------------------------------------------------------


def write_json(data: ExportData, path: str | os.PathLike[str]) -> Path:
    """Write a JSON array of objects, one per model or row; floats keep every digit.

    Timestamps of DataFrames become ISO 8601 text; NaN becomes ``null``. Written atomically,
    never over an existing file (see the module rules).

    Returns:
        The path actually written (``-1`` … appended when ``path`` existed).

    Example:
        >>> from tvframe.models import OHLCData
        >>> bar = OHLCData(index=0, timestamp=60.0, open=1, high=2, low=0.5, close=1.5)
        >>> path = write_json([bar], Path(tempfile.mkdtemp()) / "bars.json")
        >>> path.read_text()[:22]
        '[{"index":0,"timestamp'
    """

    def dump(temp: Path) -> None:
        rows = [_finite(row) for row in _records(data)]
        temp.write_bytes(orjson.dumps(rows, default=_json_default, option=orjson.OPT_NAIVE_UTC))

    return atomic_write(check_path(path), dump)


def write_csv(data: ExportData, path: str | os.PathLike[str]) -> Path:
    """Write a CSV file with a header row; floats keep every digit, missing values are empty.

    Returns:
        The path actually written (``-1`` … appended when ``path`` existed).

    Example:
        >>> from tvframe.models import OHLCData
        >>> bar = OHLCData(index=0, timestamp=60.0, open=1, high=2, low=0.5, close=1.5)
        >>> write_csv([bar], Path(tempfile.mkdtemp()) / "bars.csv").read_text().splitlines()[1]
        '0,60.0,1.0,2.0,0.5,1.5,'
    """

    def dump(temp: Path) -> None:
        if _is_polars(data):
            data.write_csv(temp)
        elif _is_pandas(data):
            _pandas_frame(data).to_csv(temp, index=False)
        else:
            fields, rows = _model_rows(data)
            with temp.open("w", newline="", encoding="utf-8") as handle:
                if fields:  # no models, no columns: an empty file rather than a blank line
                    writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
                    writer.writeheader()
                    writer.writerows(rows)

    return atomic_write(check_path(path), dump)


def write_parquet(data: ExportData, path: str | os.PathLike[str]) -> Path:
    """Write a Parquet file (via pyarrow for models and pandas, natively for polars).

    Returns:
        The path actually written (``-1`` … appended when ``path`` existed).

    Example:
        >>> import pandas as pd
        >>> path = write_parquet(pd.DataFrame({"a": [1.5]}), Path(tempfile.mkdtemp()) / "a.parquet")
        >>> pd.read_parquet(path)["a"].tolist()
        [1.5]
    """

    def dump(temp: Path) -> None:
        if _is_polars(data):
            data.write_parquet(temp)
        elif _is_pandas(data):
            _pandas_frame(data).to_parquet(temp, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            fields, rows = _model_rows(data)
            table = pa.Table.from_pylist(rows) if rows else pa.table({f: [] for f in fields})
            pq.write_table(table, temp)

    return atomic_write(check_path(path), dump)


_WRITERS: dict[str, Callable[[ExportData, str | os.PathLike[str]], Path]] = {
    "json": write_json,
    "csv": write_csv,
    "parquet": write_parquet,
}


def export_data(
    data: ExportData,
    *,
    symbol: str,
    timeframe: str,
    export_type: str = "json",
    data_category: str = "ohlc",
    directory: str | os.PathLike[str] = "export",
    when: datetime | None = None,
) -> Path:
    """Write ``data`` to ``{directory}/{data_category}_{symbol}_{timeframe}_{timestamp}.{ext}``.

    Args:
        data: seed models (e.g. ``StreamData.ohlc``) or a pandas or polars DataFrame.
        symbol: ``EXCHANGE:TICKER`` or a ticker; the file name carries the ticker only.
        timeframe: the data's timeframe, e.g. ``"1m"``.
        export_type: ``"json"``, ``"csv"`` or ``"parquet"``.
        data_category: ``"ohlc"`` or ``"indicator"`` in the seed.
        directory: created when missing.
        when: the time stamped into the name (UTC); now by default.

    Returns:
        The path written; a ``-1``, ``-2`` … suffix is added rather than overwrite a file.

    Raises:
        InvalidArgumentError: unknown export type, unusable name parts, mixed model types, a
            ``directory`` that is no usable path.

    Example:
        >>> from tvframe.models import OHLCData
        >>> bar = OHLCData(index=0, timestamp=60.0, open=1, high=2, low=0.5, close=1.5)
        >>> when = datetime(2024, 1, 1, 12, 30, 45, tzinfo=timezone.utc)
        >>> export_data([bar], symbol="BINANCE:BTCUSDT", timeframe="1m", export_type="csv",
        ...             directory=tempfile.mkdtemp(), when=when).name
        'ohlc_btcusdt_1m_20240101-123045.csv'
    """
    folder = check_path(directory, "directory")
    name = export_filename(data_category, symbol, timeframe, export_type, when)
    return _WRITERS[export_type](data, folder / name)
