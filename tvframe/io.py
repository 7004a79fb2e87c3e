"""Lossless frame files: Parquet, CSV and JSON that read back into the frame that was written.

A frame read back with the backend that wrote it equals the original: columns, index (pandas),
dtypes, time zones (the zone name, not only its offset), NaN and null values, and the tvframe
metadata (:class:`~tvframe.meta.FrameMeta`). Files are written with :mod:`tvframe.export`'s
rules: atomically, never over an existing file (``-1``, ``-2`` … are appended), and with no
path under ``export/`` with the seed's naming::

    export/ohlcv_{symbol}_{timeframe}_{YYYYmmdd-HHMMSS}.{parquet|csv|json}

``symbol`` is the ticker, lower-cased; a frame of two or three symbols joins their tickers
with ``-`` (``ohlcv_aapl-msft_5m_…``), a frame of more is named by the count
(``ohlcv_12-symbols_5m_…``), one without symbols ``unknown``; ``timeframe`` is the
metadata's interval, ``unknown`` when the frame has none. Every part passes through
:func:`tvframe.export.safe_component`, so a file never lands outside ``export/``.

The format. Each file carries a *header*, a JSON object::

    {"format": "tvframe.frame", "version": 1,
     "backend": "pandas",                          # the library that wrote the frame
     "index": [{"column": "time", "name": "time"}],  # pandas: the columns that form the index
     "columns": [{"name": "time", "type": "timestamp[us, tz=America/New_York]",
                  "dtype": "datetime64[us, America/New_York]"}, ...],
     "meta": {"interval": "5m", "tz": "America/New_York", "symbols": {...}, "failed": {}}}

The frame is stored *flat*: a pandas index becomes leading columns (listed under ``index``;
an unnamed level gets pandas' ``reset_index`` name and ``name: null``), and each column has
its Arrow ``type`` and, for pandas, its pandas ``dtype``. ``meta`` is null for a frame
without tvframe metadata. A missing value is a null: pandas' missing float (NaN) is stored as
a null and comes back as NaN; polars keeps null and NaN apart, and so do the files. Then,
per format:

- **Parquet**: the flat table; the header is the file's key-value metadata under the key
  ``tvframe``. Any Parquet file can be read; one without the key reads as a plain table.
- **CSV**: the first line is ``#tvframe `` followed by the header; then a CSV table with a
  header row (skip one line to read it with any CSV reader). Times are ISO 8601 in their
  column's zone with the offset (``2024-01-02T09:30:00.000000-05:00``; naive times have no
  offset), the zone name is in the header. Floats are written in their shortest exact form
  (``nan``, ``inf``, ``-inf`` for the non-finite); text is quoted; an empty field is a null,
  a quoted empty field (``""``) an empty string.
- **JSON**: ``{"tvframe": <header>, "rows": [{"time": "...", "open": 1.5, ...}, ...]}``,
  times as in CSV, non-finite floats as the strings ``"NaN"``, ``"Infinity"`` and
  ``"-Infinity"``, nulls as ``null``.

CSV and JSON hold numbers, booleans, text and times; a column of another kind (categories,
lists, dates …) is refused with a pointer to Parquet. pandas ``attrs`` other than tvframe's
metadata are not written.
"""

from __future__ import annotations

import io as _io
import logging
import math
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import numpy as np
import orjson

from tvframe.accessors.shape import TICKS_PER_SECOND, is_pandas, is_polars, symbols_in
from tvframe.errors import InvalidArgumentError
from tvframe.export import atomic_write, check_path, export_filename
from tvframe.frames import Backend, check_backend
from tvframe.meta import FrameMeta, attach_meta, frame_meta

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

__all__ = [
    "DATA_CATEGORY",
    "EXPORT_DIR",
    "FORMAT",
    "default_path",
    "read_csv",
    "read_json",
    "read_parquet",
    "to_csv",
    "to_json",
    "to_parquet",
]

logger = logging.getLogger(__name__)

#: The ``format`` of every header, and its ``version``.
FORMAT = "tvframe.frame"
_VERSION = 1
#: The first part of default file names.
DATA_CATEGORY = "ohlcv"
#: Where files go when no path is given (relative to the working directory, as in the seed).
EXPORT_DIR = "export"

_CSV_PREFIX = b"#tvframe "
_PARQUET_KEY = b"tvframe"
_MAX_NAMED_SYMBOLS = 3
_TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]$")
_JSON_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_NUMPY_FLOATS = frozenset({"float16", "float32", "float64"})
_STRING_DTYPE = re.compile(r"^(string|str)\[(python|pyarrow)\]$")

#: Where to write: a file, a folder (for a default name), or None for ``export/``.
PathArg: TypeAlias = "str | os.PathLike[str] | None"


# --- naming -------------------------------------------------------------------------------


def default_path(
    frame: pd.DataFrame | pl.DataFrame, export_type: str, when: datetime | None = None
) -> Path:
    """``export/ohlcv_{symbol}_{timeframe}_{timestamp}.{ext}`` for ``frame`` (module docstring).

    Example:
        >>> import pandas as pd
        >>> from datetime import timezone
        >>> df = pd.DataFrame({"symbol": ["../../x", "NASDAQ:AAPL"], "open": [1.0, 2.0]})
        >>> default_path(df, "csv", datetime(2024, 1, 1, tzinfo=timezone.utc)).as_posix()
        'export/ohlcv_x-aapl_unknown_20240101-000000.csv'
    """
    meta = frame_meta(frame)
    symbols = symbols_in(frame) or (list(meta.symbols) if meta else [])
    tickers = [s.rsplit(":", 1)[-1] for s in symbols]
    if not tickers:
        label = "unknown"
    elif len(tickers) <= _MAX_NAMED_SYMBOLS:
        label = "-".join(tickers)
    else:
        label = f"{len(tickers)}-symbols"
    timeframe = (meta.interval if meta else None) or "unknown"
    name = export_filename(DATA_CATEGORY, label, timeframe, export_type, when)
    return Path(EXPORT_DIR) / name


def _target(frame: pd.DataFrame | pl.DataFrame, path: PathArg, export_type: str) -> Path:
    """The path to write: ``path``, a default name inside ``path`` if it is a folder, or the
    default path under ``export/``."""
    if path is None:
        return default_path(frame, export_type)
    target = check_path(path)
    if target.is_dir():
        return target / default_path(frame, export_type).name
    return target


# --- the header and the flat table --------------------------------------------------------


def _pandas_dtype_name(dtype: Any) -> str:
    """A spelling of a pandas dtype that :func:`_pandas_dtype` turns back into an equal one."""
    import pandas as pd

    if isinstance(dtype, pd.StringDtype):
        kind = "str" if dtype.na_value is not pd.NA else "string"
        return f"{kind}[{dtype.storage}]"
    return str(dtype)


def _pandas_dtype(name: str) -> Any:
    import pandas as pd

    match = _STRING_DTYPE.match(name)
    if match is not None:
        na_value = pd.NA if match.group(1) == "string" else np.nan
        return pd.StringDtype(storage=match.group(2), na_value=na_value)
    return pd.api.types.pandas_dtype(name)


def _meta_json(frame: pd.DataFrame | pl.DataFrame) -> dict[str, Any] | None:
    meta = frame_meta(frame)
    if meta is None:
        return None
    attrs = meta.to_attrs()
    # The server's raw fields too (to_attrs leaves them out), so the metadata reads back equal.
    attrs["symbols"] = {name: info.model_dump(mode="json") for name, info in meta.symbols.items()}
    return attrs


def _flatten(frame: pd.DataFrame | pl.DataFrame) -> tuple[pa.Table, dict[str, Any]]:
    """The frame as one Arrow table plus the header that restores it."""
    import pyarrow as pa

    index: list[dict[str, Any]] = []
    dtypes: dict[str, str] = {}
    if is_polars(frame):
        backend, table = "polars", frame.to_arrow()
    elif is_pandas(frame):
        flat, index = _pandas_flat(frame)
        backend, table = "pandas", pa.Table.from_pandas(flat, preserve_index=False)
        dtypes = {str(name): _pandas_dtype_name(dtype) for name, dtype in flat.dtypes.items()}
    else:
        raise InvalidArgumentError(
            f"expected a pandas or polars DataFrame, got {type(frame).__name__}"
        )
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    for column in columns:
        if column["name"] in dtypes:
            column["dtype"] = dtypes[column["name"]]
    header = {
        "format": FORMAT,
        "version": _VERSION,
        "backend": backend,
        "index": index,
        "columns": columns,
        "meta": _meta_json(frame),
    }
    return table, header


def _pandas_flat(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    import pandas as pd

    idx = frame.index
    default = isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1
    if default and idx.name is None:
        return frame, []
    flat = frame.reset_index()
    names = [None if n is None else str(n) for n in idx.names]
    columns = [str(c) for c in flat.columns[: len(names)]]
    return flat, [{"column": c, "name": n} for c, n in zip(columns, names, strict=True)]


def _check_header(header: Any, source: Path) -> dict[str, Any]:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidArgumentError(f"{source} does not hold a tvframe frame header")
    if header.get("version") != _VERSION:
        raise InvalidArgumentError(
            f"{source} is tvframe frame format version {header.get('version')!r}; this "
            f"tvframe reads version {_VERSION}: upgrade tvframe"
        )
    return header


def _unflatten(table: pa.Table, header: dict[str, Any] | None, backend: str | None) -> Any:
    """The frame an Arrow table and its header describe, in ``backend`` (default: the writer's)."""
    written = header["backend"] if header else None
    chosen = check_backend(backend or written or "pandas")
    meta = header.get("meta") if header else None
    if chosen == "polars":
        frame: Any = _polars_frame(table, header)
    elif written == "pandas" and header is not None:
        frame = _pandas_frame(table, header)
    else:
        frame = _pandas_conventional(table)
    if meta is not None:
        attach_meta(frame, FrameMeta.from_attrs(meta))
    return frame


def _polars_frame(table: pa.Table, header: dict[str, Any] | None) -> pl.DataFrame:
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if header is None or header["backend"] != "pandas":
        return frame
    # A missing value of a pandas float64 column is NaN (Arrow stored it as null), and
    # tvframe's polars frames use NaN too. A pandas frame leads with its index columns;
    # tvframe's polars shape leads with time and symbol.
    nan_floats = [c["name"] for c in header["columns"] if c.get("dtype") in _NUMPY_FLOATS]
    first = [c for c in ("time", "symbol") if c in frame.columns]
    return frame.with_columns(pl.col(nan_floats).fill_null(math.nan)).select(
        first + [c for c in frame.columns if c not in first]
    )


def _pandas_frame(table: pa.Table, header: dict[str, Any]) -> pd.DataFrame:
    flat: pd.DataFrame = table.to_pandas()
    wanted = {c["name"]: c["dtype"] for c in header["columns"] if "dtype" in c}
    changes = {
        name: _pandas_dtype(dtype)
        for name, dtype in wanted.items()
        if _pandas_dtype_name(flat[name].dtype) != dtype
    }
    if changes:
        flat = flat.astype(changes)
    index = header["index"]
    if not index:
        return flat
    frame: pd.DataFrame = flat.set_index([str(level["column"]) for level in index])
    frame.index = frame.index.set_names([level["name"] for level in index])
    return frame


def _pandas_conventional(table: pa.Table) -> pd.DataFrame:
    """A table not written from pandas, in tvframe's pandas shape when it has a ``time``."""
    flat: pd.DataFrame = table.to_pandas()
    if "time" not in flat.columns:
        return flat
    several = "symbol" in flat.columns and flat["symbol"].nunique() > 1
    frame: pd.DataFrame = flat.set_index(["symbol", "time"] if several else "time")
    return frame


# --- text encodings of times and floats ---------------------------------------------------


def _arrow_type(text: str) -> pa.DataType:
    import pyarrow as pa

    match = _TIMESTAMP.match(text)
    if match is not None:
        return pa.timestamp(match.group(1), tz=match.group(2))
    return pa.type_for_alias(text)


def _check_text_types(table: pa.Table, export_type: str) -> None:
    import pyarrow as pa

    t = pa.types
    kinds = (
        t.is_integer, t.is_floating, t.is_boolean, t.is_string, t.is_large_string,
        t.is_string_view, t.is_timestamp, t.is_null,
    )  # fmt: skip
    wrong = [f"{f.name} ({f.type})" for f in table.schema if not any(k(f.type) for k in kinds)]
    if wrong:
        raise InvalidArgumentError(
            f"{export_type.upper()} cannot hold the columns {', '.join(wrong)} faithfully: "
            "write Parquet (to_parquet), or convert them to numbers or text"
        )


def _offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _iso_times(column: pa.ChunkedArray) -> pa.Array:
    """ISO 8601 text of a timestamp column: wall time in its zone plus the offset."""
    import pandas as pd
    import pyarrow as pa

    unit, tz = column.type.unit, column.type.tz
    nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    ticks = np.asarray(column.cast(pa.int64()).fill_null(0).to_numpy(), dtype=np.int64)
    instants = ticks.astype(f"datetime64[{unit}]")
    if tz is None:
        return pa.array(np.datetime_as_string(instants, unit=unit), mask=nulls)
    local = pd.DatetimeIndex(instants).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    wall = np.asarray(local.as_unit(unit).asi8, dtype=np.int64)
    offsets, positions = np.unique((wall - ticks) // TICKS_PER_SECOND[unit], return_inverse=True)
    suffixes = np.array([_offset_text(int(s)) for s in offsets])[positions]
    text = np.char.add(
        np.datetime_as_string(wall.astype(f"datetime64[{unit}]"), unit=unit), suffixes
    )
    return pa.array(text, mask=nulls, type=pa.string())


def _parse_times(values: Any, kind: pa.TimestampType) -> pa.Array:
    """Timestamps of ``kind`` from ISO 8601 text (None for null)."""
    import pandas as pd
    import pyarrow as pa

    parsed = pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601", utc=kind.tz is not None))
    nulls = np.asarray(parsed.isna(), dtype=bool)
    ticks = np.asarray(parsed.as_unit(kind.unit).asi8, dtype=np.int64)
    return pa.array(np.where(nulls, 0, ticks), type=pa.int64(), mask=nulls).cast(kind)


def _text_table(table: pa.Table) -> pa.Table:
    """The table with every timestamp column as ISO 8601 text."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, _iso_times(table.column(i)))
    return table


def _typed_table(table: pa.Table, header: dict[str, Any]) -> pa.Table:
    """Inverse of :func:`_text_table`: the header's types, times parsed from text."""
    import pyarrow as pa

    arrays = []
    for spec in header["columns"]:
        kind = _arrow_type(spec["type"])
        column = table.column(spec["name"])
        if pa.types.is_timestamp(kind):
            arrays.append(_parse_times(column.to_pylist(), kind))
        else:
            arrays.append(column.cast(kind))
    return pa.table(arrays, names=[spec["name"] for spec in header["columns"]])


# --- writers ------------------------------------------------------------------------------


def _write(
    frame: pd.DataFrame | pl.DataFrame,
    path: PathArg,
    export_type: str,
    dump: Callable[[pa.Table, dict[str, Any], Path], None],
) -> Path:
    target = _target(frame, path, export_type)
    table, header = _flatten(frame)
    if export_type != "parquet":
        _check_text_types(table, export_type)
    written = atomic_write(target, lambda t: dump(table, header, t))
    logger.debug("wrote %d rows to %s", table.num_rows, written)
    return written


def to_parquet(frame: pd.DataFrame | pl.DataFrame, path: PathArg = None) -> Path:
    """Write ``frame`` to a Parquet file that :func:`read_parquet` reads back equal.

    Args:
        frame: a pandas or polars frame.
        path: the file to write, or a folder for a default name; None for
            ``export/ohlcv_{symbol}_{timeframe}_{timestamp}.parquet``.

    Returns:
        The path written (``-1`` … appended rather than overwrite a file).

    Example:
        >>> import pandas as pd, tempfile
        >>> df = pd.DataFrame({"close": [1.5, float("nan")]})
        >>> path = to_parquet(df, Path(tempfile.mkdtemp()) / "bars.parquet")
        >>> read_parquet(path).equals(df)
        True
    """

    def dump(table: pa.Table, header: dict[str, Any], temp: Path) -> None:
        import pyarrow.parquet as pq

        metadata = {**(table.schema.metadata or {}), _PARQUET_KEY: orjson.dumps(header)}
        pq.write_table(table.replace_schema_metadata(metadata), temp)

    return _write(frame, path, "parquet", dump)


def to_csv(frame: pd.DataFrame | pl.DataFrame, path: PathArg = None) -> Path:
    """Write ``frame`` to a CSV file with a ``#tvframe`` header line (module docstring).

    Args:
        frame: a pandas or polars frame of numbers, booleans, text and times.
        path: the file to write, or a folder for a default name; None for
            ``export/ohlcv_{symbol}_{timeframe}_{timestamp}.csv``.

    Returns:
        The path written (``-1`` … appended rather than overwrite a file).

    Raises:
        InvalidArgumentError: a column CSV cannot hold faithfully (it is named).

    Example:
        >>> import polars as pl, tempfile
        >>> df = pl.DataFrame({"symbol": ["A:X"], "close": [1.5]})
        >>> path = to_csv(df, Path(tempfile.mkdtemp()) / "bars.csv")
        >>> path.read_text().splitlines()[1:]
        ['"symbol","close"', '"A:X",1.5']
    """

    def dump(table: pa.Table, header: dict[str, Any], temp: Path) -> None:
        import pyarrow.csv as pcsv

        with temp.open("wb") as handle:
            handle.write(_CSV_PREFIX + orjson.dumps(header) + b"\n")
            pcsv.write_csv(_text_table(table), handle, pcsv.WriteOptions(quoting_style="needed"))

    return _write(frame, path, "csv", dump)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def to_json(frame: pd.DataFrame | pl.DataFrame, path: PathArg = None) -> Path:
    """Write ``frame`` to a JSON file: ``{"tvframe": header, "rows": [...]}`` (module docstring).

    Args:
        frame: a pandas or polars frame of numbers, booleans, text and times.
        path: the file to write, or a folder for a default name; None for
            ``export/ohlcv_{symbol}_{timeframe}_{timestamp}.json``.

    Returns:
        The path written (``-1`` … appended rather than overwrite a file).

    Raises:
        InvalidArgumentError: a column JSON cannot hold faithfully (it is named).

    Example:
        >>> import polars as pl, tempfile
        >>> df = pl.DataFrame({"close": [1.5, float("nan")]})
        >>> path = to_json(df, Path(tempfile.mkdtemp()) / "bars.json")
        >>> orjson.loads(path.read_bytes())["rows"]
        [{'close': 1.5}, {'close': 'NaN'}]
    """

    def dump(table: pa.Table, header: dict[str, Any], temp: Path) -> None:
        columns = _text_table(table).to_pydict()
        rows = [
            {name: _json_value(value) for name, value in zip(columns, values, strict=True)}
            for values in zip(*columns.values(), strict=True)
        ]
        temp.write_bytes(orjson.dumps({"tvframe": header, "rows": rows}))

    return _write(frame, path, "json", dump)


# --- readers ------------------------------------------------------------------------------


@overload
def read_parquet(path: str | os.PathLike[str], backend: Literal["pandas"]) -> pd.DataFrame: ...
@overload
def read_parquet(path: str | os.PathLike[str], backend: Literal["polars"]) -> pl.DataFrame: ...
@overload
def read_parquet(
    path: str | os.PathLike[str], backend: Backend | None = None
) -> pd.DataFrame | pl.DataFrame: ...
def read_parquet(
    path: str | os.PathLike[str], backend: Backend | None = None
) -> pd.DataFrame | pl.DataFrame:
    """Read a Parquet file written by :func:`to_parquet` (or any Parquet file).

    Args:
        path: the file.
        backend: ``"pandas"`` or ``"polars"``; None for the library that wrote the file
            (pandas for files tvframe did not write).

    Returns:
        The frame, with its tvframe metadata attached.

    Example:
        >>> import polars as pl, tempfile
        >>> df = pl.DataFrame({"close": [1.5]})
        >>> read_parquet(to_parquet(df, Path(tempfile.mkdtemp()) / "a.parquet")).equals(df)
        True
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(_PARQUET_KEY)
    header = _check_header(orjson.loads(raw), Path(path)) if raw is not None else None
    frame: pd.DataFrame | pl.DataFrame = _unflatten(table, header, backend)
    return frame


@overload
def read_csv(path: str | os.PathLike[str], backend: Literal["pandas"]) -> pd.DataFrame: ...
@overload
def read_csv(path: str | os.PathLike[str], backend: Literal["polars"]) -> pl.DataFrame: ...
@overload
def read_csv(
    path: str | os.PathLike[str], backend: Backend | None = None
) -> pd.DataFrame | pl.DataFrame: ...
def read_csv(
    path: str | os.PathLike[str], backend: Backend | None = None
) -> pd.DataFrame | pl.DataFrame:
    """Read a CSV file written by :func:`to_csv`.

    Args:
        path: the file.
        backend: ``"pandas"`` or ``"polars"``; None for the library that wrote the file.

    Raises:
        InvalidArgumentError: the file has no ``#tvframe`` header line.

    Example:
        >>> import pandas as pd, tempfile
        >>> df = pd.DataFrame({"symbol": ["", None]}, dtype="string")
        >>> back = read_csv(to_csv(df, Path(tempfile.mkdtemp()) / "a.csv"))
        >>> back["symbol"].tolist()
        ['', <NA>]
    """
    import pyarrow.csv as pcsv

    source = Path(path)
    first, _, body = source.read_bytes().partition(b"\n")
    if not first.startswith(_CSV_PREFIX):
        raise InvalidArgumentError(
            f"{source} has no '#tvframe' header line, so it was not written by tvframe's "
            "to_csv: read it with pandas.read_csv or polars.read_csv"
        )
    header = _check_header(orjson.loads(first[len(_CSV_PREFIX) :]), source)
    text_types = {c["name"]: _text_type(_arrow_type(c["type"])) for c in header["columns"]}
    table = pcsv.read_csv(
        _io.BytesIO(body),
        # A row of one null column is an empty line: it is a row, not a blank to skip.
        parse_options=pcsv.ParseOptions(ignore_empty_lines=False),
        convert_options=pcsv.ConvertOptions(
            column_types=text_types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    frame: pd.DataFrame | pl.DataFrame = _unflatten(_typed_table(table, header), header, backend)
    return frame


def _text_type(kind: pa.DataType) -> pa.DataType:
    """The type the CSV parser reads a column as: times as text, the rest as themselves."""
    import pyarrow as pa

    if pa.types.is_timestamp(kind) or pa.types.is_string_view(kind):
        return pa.string()
    return kind


@overload
def read_json(path: str | os.PathLike[str], backend: Literal["pandas"]) -> pd.DataFrame: ...
@overload
def read_json(path: str | os.PathLike[str], backend: Literal["polars"]) -> pl.DataFrame: ...
@overload
def read_json(
    path: str | os.PathLike[str], backend: Backend | None = None
) -> pd.DataFrame | pl.DataFrame: ...
def read_json(
    path: str | os.PathLike[str], backend: Backend | None = None
) -> pd.DataFrame | pl.DataFrame:
    """Read a JSON file written by :func:`to_json`.

    Args:
        path: the file.
        backend: ``"pandas"`` or ``"polars"``; None for the library that wrote the file.

    Raises:
        InvalidArgumentError: the file is not a tvframe JSON frame.

    Example:
        >>> import polars as pl, tempfile
        >>> df = pl.DataFrame({"close": [1.5, float("inf")]})
        >>> read_json(to_json(df, Path(tempfile.mkdtemp()) / "a.json")).equals(df)
        True
    """
    import pyarrow as pa

    source = Path(path)
    document = orjson.loads(source.read_bytes())
    envelope = document.get("tvframe") if isinstance(document, dict) else None
    header = _check_header(envelope, source)
    rows = document.get("rows") or []
    columns = {}
    for spec in header["columns"]:
        name, kind = spec["name"], _arrow_type(spec["type"])
        values = [row.get(name) for row in rows]
        if pa.types.is_floating(kind):
            values = [_JSON_FLOATS.get(v, v) if isinstance(v, str) else v for v in values]
        columns[name] = pa.array(values, type=_text_type(kind))
    table = pa.table(columns) if columns else pa.table({})
    frame: pd.DataFrame | pl.DataFrame = _unflatten(_typed_table(table, header), header, backend)
    return frame
