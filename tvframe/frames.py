"""Bars to DataFrames: tz-aware time, float64 prices, ascending, one row per bar.

The time column is microsecond precision in both backends (``datetime64[us, <tz>]`` in pandas,
``Datetime("us", <tz>)`` in polars) so dtypes do not drift with library defaults. Times are
UTC unless ``tz=`` names another zone (or ``"exchange"``: the symbols' own zone).

Shapes: one symbol in pandas is indexed by ``time`` with ``symbol`` as a column; several
symbols are indexed by a ``(symbol, time)`` MultiIndex. polars frames always have ``time``
and ``symbol`` columns first. Several symbols keep the order they were asked in.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import numpy.typing as npt

from tvframe.errors import InvalidArgumentError
from tvframe.meta import FrameMeta, attach_meta
from tvframe.models import SymbolInfo
from tvframe.protocol.events import Bars

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = [
    "BACKENDS",
    "COLUMNS",
    "PRICE_COLUMNS",
    "Backend",
    "bars_frame",
    "check_backend",
    "check_tz",
    "resolve_tz",
    "to_pandas",
    "to_polars",
]

Backend = Literal["pandas", "polars"]
BACKENDS: tuple[str, ...] = ("pandas", "polars")
#: Column order of every bar frame (``time`` is the index in pandas).
COLUMNS: tuple[str, ...] = ("time", "symbol", "open", "high", "low", "close", "volume")
#: The float64 columns.
PRICE_COLUMNS: tuple[str, ...] = COLUMNS[2:]


def check_backend(backend: str) -> Backend:
    """Validate a backend name.

    Example:
        >>> check_backend("polars")
        'polars'
    """
    if backend == "pandas":
        return "pandas"
    if backend == "polars":
        return "polars"
    raise InvalidArgumentError(f"backend={backend!r} is not one of {', '.join(BACKENDS)}")


def check_tz(tz: str) -> str:
    """Validate ``tz``: ``"UTC"``, ``"exchange"`` or an IANA zone name.

    Example:
        >>> check_tz("Europe/Berlin")
        'Europe/Berlin'
    """
    if tz in ("UTC", "exchange"):
        return tz
    if not isinstance(tz, str) or not tz:
        raise InvalidArgumentError(f"tz={tz!r} must be 'UTC', 'exchange' or an IANA zone name")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidArgumentError(
            f"tz={tz!r} is not a known time zone: use 'UTC', 'exchange' or an IANA name "
            "such as 'America/New_York'"
        ) from None
    return tz


def resolve_tz(tz: str, infos: Mapping[str, SymbolInfo]) -> str:
    """The zone name for the time column; ``"exchange"`` becomes the symbols' shared zone.

    Raises:
        InvalidArgumentError: ``"exchange"`` for symbols of different zones (one column has
            one zone: name one, or keep UTC).

    Example:
        >>> resolve_tz("exchange", {"NASDAQ:AAPL": SymbolInfo(symbol="NASDAQ:AAPL",
        ...                                                  timezone="America/New_York")})
        'America/New_York'
    """
    if tz != "exchange":
        return check_tz(tz)
    zones = sorted({info.timezone for info in infos.values()})
    if len(zones) > 1:
        named = ", ".join(f"{s}={i.timezone}" for s, i in infos.items())
        raise InvalidArgumentError(
            f"tz='exchange' needs one zone, but the symbols trade in several ({named}); "
            "pass one IANA name as tz= or keep UTC"
        )
    return _canonical(zones[0]) if zones else "UTC"


def _canonical(zone: str) -> str:
    return "UTC" if zone in ("Etc/UTC", "UTC", "Etc/GMT") else zone


def _micros(times: np.ndarray) -> np.ndarray:
    return np.round(times * 1_000_000).astype("datetime64[us]")


@overload
def bars_frame(
    parts: Sequence[tuple[str, Bars]],
    backend: Literal["pandas"] = ...,
    *,
    meta: FrameMeta | None = ...,
    multi: bool = ...,
    tz: str = ...,
    extra: Sequence[Mapping[str, np.ndarray]] = ...,
) -> pd.DataFrame: ...


@overload
def bars_frame(
    parts: Sequence[tuple[str, Bars]],
    backend: Literal["polars"],
    *,
    meta: FrameMeta | None = ...,
    multi: bool = ...,
    tz: str = ...,
    extra: Sequence[Mapping[str, np.ndarray]] = ...,
) -> pl.DataFrame: ...


@overload
def bars_frame(
    parts: Sequence[tuple[str, Bars]],
    backend: Backend,
    *,
    meta: FrameMeta | None = ...,
    multi: bool = ...,
    tz: str = ...,
    extra: Sequence[Mapping[str, np.ndarray]] = ...,
) -> pd.DataFrame | pl.DataFrame: ...


def bars_frame(
    parts: Sequence[tuple[str, Bars]],
    backend: Backend = "pandas",
    *,
    meta: FrameMeta | None = None,
    multi: bool = False,
    tz: str = "UTC",
    extra: Sequence[Mapping[str, np.ndarray]] = (),
) -> pd.DataFrame | pl.DataFrame:
    """One frame from the bars of one or several symbols.

    Args:
        parts: ``(symbol, bars)`` pairs, in the order the frame should keep.
        backend: ``"pandas"`` or ``"polars"``.
        meta: attached to the frame (:mod:`tvframe.meta`).
        multi: pandas only: index by ``(symbol, time)`` (forced when there are several parts).
        tz: an IANA zone for the time column (already resolved, not ``"exchange"``).
        extra: float64 columns after ``volume`` (indicator values), one mapping per part, each
            array as long as that part's bars; a column a part lacks is NaN there.

    Example:
        >>> bars_frame([("A:X", Bars.empty()), ("B:Y", Bars.empty())]).index.names
        FrozenList(['symbol', 'time'])
    """
    times = _micros(np.concatenate([b.time for _, b in parts]) if parts else np.empty(0))
    names = [s for s, _ in parts]
    lengths = [len(b) for _, b in parts]
    # Each row's position in ``names``: the symbol column is built from codes, never from
    # one Python string per row.
    codes = np.repeat(np.arange(len(parts)), lengths)
    labels, block = _float_block(parts, extra)
    if backend == "polars":
        columns = dict(zip(labels, block, strict=True))
        frame: pd.DataFrame | pl.DataFrame = _polars(times, names, codes, columns, tz)
    elif multi or len(parts) > 1:
        frame = _pandas_multi(times, lengths, names, codes, labels, block, tz)
    else:
        frame = _pandas(times, names, codes, labels, block, tz)
    if meta is not None:
        attach_meta(frame, meta)
    return frame


def _float_block(
    parts: Sequence[tuple[str, Bars]], extra: Sequence[Mapping[str, np.ndarray]]
) -> tuple[list[str], np.ndarray]:
    """The float columns (prices, then the extra ones) as the rows of one 2-D block.

    pandas keeps such a block as it is, where separate columns would each be copied out of
    the parts and then copied again into one block.
    """
    extra_names = list(dict.fromkeys(name for columns in extra for name in columns))
    labels = [*PRICE_COLUMNS, *extra_names]
    block = np.empty((len(labels), sum(len(b) for _, b in parts)), dtype=np.float64)
    if not parts:
        return labels, block
    for row, name in zip(block, PRICE_COLUMNS, strict=False):
        np.concatenate([getattr(b, name) for _, b in parts], out=row)
    for row, name in zip(block[len(PRICE_COLUMNS) :], extra_names, strict=True):
        pieces = [
            np.asarray(columns.get(name, np.full(len(bars), np.nan)), dtype=np.float64)
            for (_, bars), columns in zip(parts, extra, strict=True)
        ]
        np.concatenate(pieces, out=row)
    return labels, block


def _time_codes(times: np.ndarray, lengths: list[int]) -> tuple[npt.NDArray[np.int64], np.ndarray]:
    """Each row's position among the sorted distinct ``times``, and those times.

    What ``factorize(sort=True)`` gives, without hashing every row: symbols of one market
    share their bar times, so each distinct run of times is looked up once and its codes
    serve every part that has it.
    """
    runs = np.split(times, np.cumsum(lengths)[:-1]) if lengths else []
    found: dict[bytes, np.ndarray] = {}
    keys = [run.tobytes() for run in runs]
    for key, run in zip(keys, runs, strict=True):
        found.setdefault(key, run)
    distinct = np.unique(np.concatenate(list(found.values()))) if found else times[:0]
    for key, run in found.items():
        found[key] = np.searchsorted(distinct, run)
    codes = np.concatenate([found[key] for key in keys]) if keys else np.empty(0, np.intp)
    return codes.astype(np.int64, copy=False), distinct


def _utc_index(times: np.ndarray, tz: str) -> pd.DatetimeIndex:
    import pandas as pd

    index: pd.DatetimeIndex = pd.DatetimeIndex(times, name="time").tz_localize("UTC")
    return index if tz == "UTC" else index.tz_convert(tz)


def _pandas(
    times: np.ndarray,
    names: list[str],
    codes: np.ndarray,
    labels: list[str],
    block: np.ndarray,
    tz: str,
) -> pd.DataFrame:
    import pandas as pd

    index = _utc_index(times, tz)
    frame: pd.DataFrame = pd.DataFrame(block.T, index=index, columns=labels, copy=False)
    frame.insert(0, "symbol", pd.Series(names, dtype="string").take(codes).array)
    return frame


def _pandas_multi(
    times: np.ndarray,
    lengths: list[int],
    names: list[str],
    codes: np.ndarray,
    labels: list[str],
    block: np.ndarray,
    tz: str,
) -> pd.DataFrame:
    import pandas as pd

    # What MultiIndex.from_arrays makes (sorted levels), without hashing a string per row.
    # A part without rows leaves no level value, as with from_arrays.
    used = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    name_codes, symbols = pd.Index([names[k] for k in used], dtype="string").factorize(sort=True)
    level_of = np.zeros(len(names), dtype=np.int64)
    level_of[used] = name_codes
    time_codes, distinct = _time_codes(times, lengths)
    # pandas-stubs type levels and codes as plain sequences; an Index and arrays are what
    # pandas itself uses.
    keys = pd.MultiIndex(
        levels=[symbols, _utc_index(distinct, tz)],  # type: ignore[list-item]
        codes=[level_of[codes], time_codes],  # type: ignore[list-item]
        names=["symbol", "time"],
        verify_integrity=False,
    )
    frame: pd.DataFrame = pd.DataFrame(block.T, index=keys, columns=labels, copy=False)
    return frame


def _polars(
    times: np.ndarray,
    names: list[str],
    codes: np.ndarray,
    columns: dict[str, np.ndarray],
    tz: str,
) -> pl.DataFrame:
    import polars as pl

    time = pl.Series("time", times).dt.replace_time_zone("UTC")
    if tz != "UTC":
        time = time.dt.convert_time_zone(tz)
    return pl.DataFrame(
        [time, pl.Series("symbol", names, dtype=pl.String).gather(codes)]
        + [pl.Series(name, values, dtype=pl.Float64) for name, values in columns.items()]
    )


def to_pandas(bars: Bars, symbol: str, meta: FrameMeta | None = None) -> pd.DataFrame:
    """A pandas frame of one symbol, indexed by tz-aware UTC ``time``.

    Example:
        >>> to_pandas(Bars.empty(), "NASDAQ:AAPL").columns.tolist()
        ['symbol', 'open', 'high', 'low', 'close', 'volume']
    """
    return bars_frame([(symbol, bars)], "pandas", meta=meta)


def to_polars(bars: Bars, symbol: str, meta: FrameMeta | None = None) -> pl.DataFrame:
    """A polars frame of one symbol with a tz-aware UTC ``time`` column first.

    Example:
        >>> to_polars(Bars.empty(), "NASDAQ:AAPL").columns
        ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume']
    """
    return bars_frame([(symbol, bars)], "polars", meta=meta)
