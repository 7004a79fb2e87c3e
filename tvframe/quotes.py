"""Quote snapshots: one quote session on the pooled client, read to completion, then deleted.

The server sends a full ``qsd`` per symbol, then ``quote_completed`` (``protocol.md`` §9,
§12.18); an unknown symbol gets an error ``qsd`` and maybe no completion (§11.5), so either
one ends that symbol's wait. :func:`quotes_frame` turns merged ``qsd`` values into a frame
and does no I/O, so live quote tables can build their frames with it too.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import orjson
from pydantic import SecretStr

from tvframe.client import SESSIONS, Client, check_choice, new_id
from tvframe.errors import (
    CriticalError,
    InvalidArgumentError,
    InvalidSymbolError,
    TvFrameError,
    TvTimeoutError,
)
from tvframe.failures import check_errors, report_failures
from tvframe.frames import Backend, check_backend
from tvframe.loop import shared_loop
from tvframe.meta import FrameMeta, attach_meta
from tvframe.pool import on_shared_loop, with_client
from tvframe.protocol import (
    CriticalErrorEvent,
    Event,
    QuoteCompleted,
    QuoteData,
    symbol_descriptor,
)
from tvframe.symbols import Symbol, parse_symbols

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = [
    "QUOTE_COLUMNS",
    "QUOTE_FIELDS",
    "QuoteColumn",
    "aquote",
    "check_fields",
    "quote",
    "quote_session_calls",
    "quotes_frame",
    "server_fields",
]

logger = logging.getLogger(__name__)

#: How a column's values are typed: float64, nullable Int64, nullable boolean, string,
#: tz-aware UTC time (from epoch seconds), or string holding non-strings as JSON text.
Kind = Literal["float", "int", "bool", "str", "time", "json"]


@dataclass(frozen=True, slots=True)
class QuoteColumn:
    """Where a quote frame column comes from.

    Attributes:
        field: the ``qsd`` field (``protocol.md`` §9), e.g. ``"lp"``.
        kind: how its values are typed (:data:`Kind`).
    """

    field: str
    kind: Kind


def _col(field: str, kind: Kind = "float") -> QuoteColumn:
    return QuoteColumn(field, kind)


#: Readable column name -> quote field, in the column order of quote frames.
QUOTE_COLUMNS: Mapping[str, QuoteColumn] = MappingProxyType({
    "last": _col("lp"), "change": _col("ch"), "change_pct": _col("chp"), "bid": _col("bid"),
    "ask": _col("ask"), "open": _col("open_price"), "high": _col("high_price"),
    "low": _col("low_price"), "prev_close": _col("prev_close_price"), "volume": _col("volume"),
    "currency": _col("currency_code", "str"), "description": _col("description", "str"),
    "exchange": _col("exchange", "str"), "type": _col("type", "str"),
    "update_mode": _col("update_mode", "str"), "time": _col("lp_time", "time"),
    "bid_size": _col("bid_size"), "ask_size": _col("ask_size"),
    "session": _col("current_session", "str"), "pricescale": _col("pricescale", "int"),
    "minmov": _col("minmov", "int"), "short_name": _col("short_name", "str"),
    "pro_name": _col("pro_name", "str"), "original_name": _col("original_name", "str"),
    "is_tradable": _col("is_tradable", "bool"),
})  # fmt: skip

#: Quote fields a session asks for by default: every field of :data:`QUOTE_COLUMNS`.
QUOTE_FIELDS: tuple[str, ...] = tuple(column.field for column in QUOTE_COLUMNS.values())

_MAX_EPOCH = 1e11  # seconds, about the year 5138
_PD_DTYPES: Mapping[Kind, str] = {"float": "float64", "int": "Int64", "bool": "boolean",
                                  "str": "string", "time": "datetime64[us, UTC]",
                                  "json": "string"}  # fmt: skip


def quote_session_calls(
    session: str, keys: Iterable[str], fields: Sequence[str] = QUOTE_FIELDS
) -> list[tuple[str, list[Any]]]:
    """The calls that open a quote session on ``fields`` for ``keys`` (§9).

    Example:
        >>> calls = quote_session_calls("qs_x", ["NASDAQ:AAPL"], ["lp"])
        >>> [method for method, _ in calls], calls[2][1]
        (['quote_create_session', 'quote_set_fields', 'quote_add_symbols'], ['qs_x', 'NASDAQ:AAPL'])
    """
    calls: list[tuple[str, list[Any]]] = [
        ("quote_create_session", [session]),
        ("quote_set_fields", [session, *fields]),
    ]
    symbols = list(keys)
    if symbols:
        calls.append(("quote_add_symbols", [session, *symbols]))
    return calls


# --- frames (no I/O) -------------------------------------------------------------------


def _infer(values: list[Any]) -> Kind:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    return "json"


def _typed(value: Any, kind: Kind) -> Any:
    """``value`` as ``kind`` requires, or ``None`` when it is missing or of another type."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "float":
        return float(value) if number else None
    # Bounds keep hostile values from overflowing Int64 and microsecond datetimes.
    if kind == "int":
        fits = number and math.isfinite(value) and abs(value) < 2**63 and value == int(value)
        return int(value) if fits else None
    if kind == "time":
        return round(value * 1_000_000) if number and abs(value) < _MAX_EPOCH else None
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "str" or value is None or isinstance(value, str):
        return value if isinstance(value, str) else None
    # A raw field of mixed types: keep its JSON text rather than guess.
    return orjson.dumps(value, default=str).decode()


def _pandas_column(values: list[Any], kind: Kind) -> pd.Series:
    import pandas as pd

    column: pd.Series
    if kind == "time":
        micros = [np.datetime64("NaT", "us") if v is None else np.datetime64(v, "us")
                  for v in values]  # fmt: skip
        column = pd.Series(np.array(micros, dtype="datetime64[us]")).dt.tz_localize("UTC")
    elif kind == "float":
        column = pd.Series([np.nan if v is None else v for v in values], dtype=np.float64)
    else:
        column = pd.Series(values, dtype=_PD_DTYPES[kind])
    return column


def _polars_column(name: str, values: list[Any], kind: Kind) -> pl.Series:
    import polars as pl

    if kind == "time":
        micros = pl.Series(name, values, dtype=pl.Int64)
        times: pl.Series = micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        return times
    dtypes = {"float": pl.Float64, "int": pl.Int64, "bool": pl.Boolean, "str": pl.String,
              "json": pl.String}  # fmt: skip
    return pl.Series(name, values, dtype=dtypes[kind])


def quotes_frame(
    quotes: Mapping[str, Mapping[str, Any]],
    backend: Backend | str = "pandas",
    *,
    columns: Sequence[str] | None = None,
    meta: FrameMeta | None = None,
) -> pd.DataFrame | pl.DataFrame:
    """A frame of one row per symbol from merged ``qsd`` values (no I/O).

    Columns: ``symbol`` (string), then ``columns`` (default every :data:`QUOTE_COLUMNS` name):
    prices and sizes float64, ``pricescale``/``minmov`` nullable integers, ``is_tradable``
    nullable boolean, text as strings, ``time`` tz-aware UTC from ``lp_time``. A name that is
    not in :data:`QUOTE_COLUMNS` is read as a raw quote field and typed from its values.
    Missing or mistyped values are nulls. Rows keep the mapping's order.

    Args:
        quotes: symbol -> its quote fields (``{"lp": 230.1, "lp_time": 1793631600, ...}``).
        backend: ``"pandas"`` (a RangeIndex) or ``"polars"``.
        columns: the columns after ``symbol``.
        meta: attached to the frame (:mod:`tvframe.meta`).

    Example:
        >>> df = quotes_frame({"NASDAQ:AAPL": {"lp": 230.5, "lp_time": 1700000000}},
        ...                   columns=["last", "time"])
        >>> df.columns.tolist(), float(df.loc[0, "last"])
        (['symbol', 'last', 'time'], 230.5)
        >>> df.loc[0, "time"]
        Timestamp('2023-11-14 22:13:20+0000', tz='UTC')
    """
    chosen = check_backend(backend)
    names = list(QUOTE_COLUMNS) if columns is None else list(columns)
    data: dict[str, tuple[list[Any], Kind]] = {"symbol": (list(quotes), "str")}
    for name in names:
        known = QUOTE_COLUMNS.get(name)
        raw = [values.get(known.field if known else name) for values in quotes.values()]
        kind = known.kind if known else _infer(raw)
        data[name] = ([_typed(v, kind) for v in raw], kind)
    frame: pd.DataFrame | pl.DataFrame
    if chosen == "polars":
        import polars as pl

        frame = pl.DataFrame([_polars_column(n, v, k) for n, (v, k) in data.items()])
    else:
        import pandas as pd

        frame = pd.DataFrame({n: _pandas_column(v, k) for n, (v, k) in data.items()})
    if meta is not None:
        attach_meta(frame, meta)
    return frame


# --- the quote session -----------------------------------------------------------------


class _SnapshotRoute:
    """Merges ``qsd`` values per key until every key completed or failed; one-shot."""

    def __init__(self, keys: Mapping[str, str], done: asyncio.Future[None]) -> None:
        self.keys = keys
        self.pending = set(keys)
        self.values: dict[str, dict[str, Any]] = {key: {} for key in keys}
        self.failed: dict[str, str] = {}
        self.done = done

    def on_event(self, event: Event) -> None:
        if isinstance(event, QuoteData) and event.key in self.keys:
            if event.status == "ok":
                self.values[event.key].update(event.values)
            else:
                self.failed[event.key] = event.errmsg or event.status
                self.pending.discard(event.key)
        elif isinstance(event, QuoteCompleted):
            self.pending.discard(event.key)
        elif isinstance(event, CriticalErrorEvent):
            self._finish(CriticalError(f"the quote session died: {event.reason} ({event.info})"))
        if not self.pending:
            self._finish(None)

    def on_lost(self, error: TvFrameError, reconnecting: bool) -> bool:
        self._finish(error)
        return False

    def resubscribe(self) -> list[tuple[str, list[Any]]]:
        return []

    def on_reconnected(self, attempt: int, reason: str) -> None:
        return None

    def _finish(self, error: TvFrameError | None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


async def _snapshot(
    client: Client, symbols: list[Symbol], fields: Sequence[str], session: str, timeout: float
) -> tuple[dict[str, dict[str, Any]], dict[str, TvFrameError]]:
    """Every symbol's quote (by name) and every symbol's failure, from one quote session."""
    keys = {symbol_descriptor(s.full_name, session=session): s.full_name for s in symbols}
    route = _SnapshotRoute(keys, asyncio.get_running_loop().create_future())
    qs = new_id("qs_")
    client.add_route(qs, route)
    try:
        await client.send(quote_session_calls(qs, keys, fields))
        await asyncio.wait({route.done}, timeout=timeout)
    finally:
        client.remove_route(qs)
        if client.is_open:
            try:
                await client.send([("quote_delete_session", [qs])])
            except TvFrameError as exc:
                logger.debug("could not delete quote session %s: %s", qs, exc)
    if route.done.done():
        route.done.result()  # raises what ended the session early
    elif len(route.pending) == len(keys):
        raise TvTimeoutError(f"no quote arrived within {timeout}s for {', '.join(keys.values())}")
    failures: dict[str, TvFrameError] = {}
    for key, name in keys.items():  # in the order asked, for a stable report
        if key in route.failed:
            reason = route.failed[key]
            failures[name] = InvalidSymbolError(f"no quote for {name!r}: {reason}", [name])
        elif key in route.pending:
            failures[name] = TvTimeoutError(f"no complete quote for {name!r} within {timeout}s")
    return {keys[key]: values for key, values in route.values.items()}, failures


def check_fields(fields: str | Sequence[str] | None) -> list[str]:
    """Validate ``fields=``: the frame's column names (one string is one name).

    Example:
        >>> check_fields("last")
        ['last']
    """
    if fields is None:
        return list(QUOTE_COLUMNS)
    names = [fields] if isinstance(fields, str) else list(fields)
    bad = [n for n in names if not isinstance(n, str) or not n or n.strip() != n or n == "symbol"]
    if not names or bad:
        raise InvalidArgumentError(
            f"fields={fields!r}: give column names ({', '.join(QUOTE_COLUMNS)}) or raw quote "
            "fields such as 'rtc'; 'symbol' is always the first column"
        )
    return list(dict.fromkeys(names))


def server_fields(columns: Sequence[str]) -> list[str]:
    """The quote fields to ask the server for, to fill ``columns`` (raw names pass through).

    Example:
        >>> server_fields(["last", "change", "rtc"])
        ['lp', 'ch', 'rtc']
    """
    return list(dict.fromkeys(QUOTE_COLUMNS[c].field if c in QUOTE_COLUMNS else c for c in columns))


async def _quote(
    symbols: str | Symbol | Iterable[str | Symbol],
    fields: str | Sequence[str] | None,
    backend: str,
    session: str,
    errors: str,
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
) -> pd.DataFrame | pl.DataFrame:
    parsed = parse_symbols(symbols)
    chosen = check_backend(backend)
    columns = check_fields(fields)
    check_choice("session", session, SESSIONS)
    check_errors(errors)
    wanted = server_fields(columns)
    quotes, failures = await with_client(
        url, token, timeout, lambda client: _snapshot(client, parsed, wanted, session, timeout)
    )
    failed = report_failures(failures, errors, len(parsed))
    rows = {s.full_name: quotes[s.full_name] for s in parsed if s.full_name not in failed}
    return quotes_frame(rows, chosen, columns=columns, meta=FrameMeta(None, failed=failed))


async def aquote(
    symbols: str | Symbol | Iterable[str | Symbol],
    fields: str | Sequence[str] | None = None,
    *,
    backend: str = "pandas",
    session: str = "regular",
    errors: str = "raise",
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """Async twin of :func:`quote`, for code already inside an event loop.

    Example:
        >>> async def main() -> None:
        ...     df = await aquote(["NASDAQ:AAPL", "BINANCE:BTCUSDT"], ["last", "change_pct"])
    """
    return await on_shared_loop(
        _quote(symbols, fields, backend, session, errors, url, token, timeout)
    )


def quote(
    symbols: str | Symbol | Iterable[str | Symbol],
    fields: str | Sequence[str] | None = None,
    *,
    backend: str = "pandas",
    session: str = "regular",
    errors: str = "raise",
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """A snapshot of the current quote of each symbol, one row per symbol in the order asked.

    Columns: ``symbol``, then the ``fields`` asked for (default every name of
    :data:`QUOTE_COLUMNS`: ``last``, ``change``, ``change_pct``, ``bid``, ``ask``, ``open``,
    ``high``, ``low``, ``prev_close``, ``volume``, ``currency``, ``description``, ``exchange``,
    ``type``, ``update_mode``, ``time`` (of the last trade, tz-aware UTC) ...). A field the
    server does not send for a symbol is null. Any other name is asked for as a raw quote field.

    Args:
        symbols: one ``EXCHANGE:SYMBOL`` or many.
        fields: column names of :data:`QUOTE_COLUMNS` and/or raw quote fields.
        backend: ``"pandas"`` or ``"polars"``.
        session: ``"regular"`` or ``"extended"``.
        errors: symbols the server does not know: ``"raise"`` one
            :class:`~tvframe.errors.InvalidSymbolError` naming all of them; ``"warn"`` a
            :class:`~tvframe.errors.SymbolsFailedWarning` and no row for them; ``"ignore"``
            no row. Either way they are listed in ``df.attrs["tvframe"]["failed"]``.
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` or anonymous.
        timeout: seconds to wait for the quotes.

    Raises:
        InvalidSymbolError: malformed symbols (before any network call), or unknown ones with
            ``errors="raise"``.
        InvalidArgumentError: bad ``fields``, ``backend``, ``session`` or ``errors``.
        TvTimeoutError: no quote arrived within ``timeout``.

    Example:
        >>> import tvframe as tv
        >>> with tv.sim.running():
        ...     df = quote(["NASDAQ:AAPL", "BINANCE:BTCUSDT"], ["last", "currency"])
        >>> df.columns.tolist(), df["currency"].tolist()
        (['symbol', 'last', 'currency'], ['USD', 'USDT'])
    """
    return shared_loop().run(_quote(symbols, fields, backend, session, errors, url, token, timeout))
