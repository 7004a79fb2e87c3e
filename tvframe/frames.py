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

from tvframe.errors import InvalidArgumentError
from tvframe.meta import FrameMeta, attach_meta
from tvframe.models import SymbolInfo
from tvframe.protocol.messages import Bars

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
    # Each row's position in ``names``: the symbol column is built from codes, never from
    # one Python string per row.
    codes = np.repeat(np.arange(len(parts)), [len(b) for _, b in parts])
    columns = {
        name: np.concatenate([getattr(b, name) for _, b in parts]) if parts else np.empty(0)
        for name in PRICE_COLUMNS
    }
    columns.update(_extra_columns(parts, extra))
    if backend == "polars":
        frame: pd.DataFrame | pl.DataFrame = _polars(times, names, codes, columns, tz)
    else:
        frame = _pandas(times, names, codes, columns, tz, multi or len(parts) > 1)
    if meta is not None:
        attach_meta(frame, meta)
    return frame


def _extra_columns(
    parts: Sequence[tuple[str, Bars]], extra: Sequence[Mapping[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    if not extra:
        return {}
    names = list(dict.fromkeys(name for columns in extra for name in columns))
    return {
        name: np.concatenate(
            [
                np.asarray(columns.get(name, np.full(len(bars), np.nan)), dtype=np.float64)
                for (_, bars), columns in zip(parts, extra, strict=True)
            ]
        )
        for name in names
    }


def _pandas(
    times: np.ndarray,
    names: list[str],
    codes: np.ndarray,
    columns: dict[str, np.ndarray],
    tz: str,
    multi: bool,
) -> pd.DataFrame:
    import pandas as pd

    index = pd.DatetimeIndex(times, name="time").tz_localize("UTC")
    if tz != "UTC":
        index = index.tz_convert(tz)
    frame: pd.DataFrame
    if multi:
        # What MultiIndex.from_arrays makes (sorted levels), without hashing a string per row.
        # A part without rows leaves no level value, as with from_arrays.
        used = np.flatnonzero(np.bincount(codes, minlength=len(names)))
        name_codes, symbols = pd.Index([names[k] for k in used], dtype="string").factorize(
            sort=True
        )
        level_of = np.zeros(len(names), dtype=np.int64)
        level_of[used] = name_codes
        time_codes, times_level = index.factorize(sort=True)
        keys = pd.MultiIndex(
            levels=[symbols, times_level],
            codes=[level_of[codes], time_codes],
            names=["symbol", "time"],
            verify_integrity=False,
        )
        frame = pd.DataFrame(columns, index=keys)
    else:
        symbol = pd.Series(names, dtype="string").take(codes).array
        frame = pd.DataFrame({"symbol": pd.Series(symbol, index=index), **columns}, index=index)
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
