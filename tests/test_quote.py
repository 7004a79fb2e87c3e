"""tv.quote / tv.aquote against the simulator, and quotes_frame on its own."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tvframe.errors import (
    InvalidArgumentError,
    InvalidSymbolError,
    SymbolsFailedWarning,
    TvTimeoutError,
)
from tvframe.protocol import QuoteCompleted, QuoteData
from tvframe.quotes import QUOTE_COLUMNS, QUOTE_FIELDS, _snapshot, aquote, quote, quotes_frame
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import CATALOGUE
from tvframe.sim.quotes import quote_values
from tvframe.symbols import parse_symbols

THREE = ["NASDAQ:AAPL", "BINANCE:BTCUSDT", "FX:EURUSD"]
PANDAS_DTYPES = {"float": "float64", "int": "Int64", "bool": "boolean", "str": "string",
                 "time": "datetime64[us, UTC]"}  # fmt: skip


def frame(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """``quote`` with the pandas backend, typed as such."""
    df = quote(*args, **kwargs)
    assert isinstance(df, pd.DataFrame)
    return df


def pandas_frame(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """``quotes_frame`` with the pandas backend, typed as such."""
    df = quotes_frame(*args, **kwargs)
    assert isinstance(df, pd.DataFrame)
    return df


def model(sim: SimHandle, symbol: str) -> dict[str, Any]:
    """What the simulator's quote model holds for ``symbol`` at the clock's time."""
    return quote_values(CATALOGUE[symbol], sim.market, sim.clock.now(), sim.config.update_mode)


def test_three_symbols_three_rows_equal_to_the_quote_model(sim: SimHandle) -> None:
    df = frame(THREE)
    assert isinstance(df, pd.DataFrame)
    assert df["symbol"].tolist() == THREE  # the order asked
    for row, symbol in zip(df.itertuples(index=False), THREE, strict=True):
        expected = model(sim, symbol)
        assert row.last == expected["lp"]
        assert (row.bid, row.ask, row.change_pct) == (expected["bid"], expected["ask"],
                                                     expected["chp"])  # fmt: skip
        assert row.time == pd.Timestamp(expected["lp_time"], unit="s", tz="UTC")
        assert (row.currency, row.description) == (expected["currency_code"],
                                                   expected["description"])  # fmt: skip


def test_default_columns_and_dtypes(sim: SimHandle) -> None:
    df = frame("NASDAQ:AAPL")
    assert list(df.columns) == ["symbol", *QUOTE_COLUMNS]
    assert str(df["symbol"].dtype) == "string"
    for name, column in QUOTE_COLUMNS.items():
        assert str(df[name].dtype) == PANDAS_DTYPES[column.kind], name
    assert df.loc[0, "pricescale"] == 100 and df.loc[0, "is_tradable"] is np.False_


def test_every_default_field_has_a_column() -> None:
    assert sorted(QUOTE_FIELDS) == sorted(c.field for c in QUOTE_COLUMNS.values())
    assert list(QUOTE_COLUMNS)[:16] == [
        "last", "change", "change_pct", "bid", "ask", "open", "high", "low", "prev_close",
        "volume", "currency", "description", "exchange", "type", "update_mode", "time",
    ]  # fmt: skip


def test_polars_backend_matches_pandas(sim: SimHandle) -> None:
    pdf = frame(THREE)
    pldf = quote(THREE, backend="polars")
    assert isinstance(pldf, pl.DataFrame)
    assert pldf.columns == list(pdf.columns)
    assert pldf.schema["time"] == pl.Datetime("us", "UTC")
    assert pldf.schema["pricescale"] == pl.Int64 and pldf.schema["symbol"] == pl.String
    assert pldf["last"].to_list() == pdf["last"].tolist()


def test_fields_pick_columns_and_raw_fields(sim: SimHandle) -> None:
    df = frame(["NASDAQ:AAPL", "KRX:005930"], ["last", "timezone", "local_description", "lp"])
    assert list(df.columns) == ["symbol", "last", "timezone", "local_description", "lp"]
    assert df["timezone"].tolist() == ["America/New_York", "Asia/Seoul"]
    assert str(df["timezone"].dtype) == "string"
    # AAPL has none: null, not an error
    assert df["local_description"].tolist() == [pd.NA, "삼성전자 📈"]
    assert df["lp"].tolist() == df["last"].tolist()
    assert frame("NASDAQ:AAPL", "volume").columns.tolist() == ["symbol", "volume"]


def test_extended_session_quotes(sim: SimHandle) -> None:
    df = frame("NASDAQ:AAPL", ["last"], session="extended")
    assert df.loc[0, "last"] == model(sim, "NASDAQ:AAPL")["lp"]


def test_the_quote_session_is_deleted(sim: SimHandle) -> None:
    frame("NASDAQ:AAPL", ["last"])
    frame("NASDAQ:MSFT", ["last"])  # replies on the same socket: the first delete came before
    assert sim.stats.messages["quote_delete_session"] >= 1
    assert sim.stats.connections == 1


# --- unknown and malformed symbols ------------------------------------------------------------


def test_unknown_symbols_raise_one_error_naming_all(sim: SimHandle) -> None:
    with pytest.raises(InvalidSymbolError) as caught:
        quote(["NASDAQ:AAPL", "NASDAQ:NOPE", "NYSE:ZZZ"])
    assert caught.value.symbols == ["NASDAQ:NOPE", "NYSE:ZZZ"]
    assert "NASDAQ:NOPE" in str(caught.value) and "NYSE:ZZZ" in str(caught.value)
    with pytest.raises(InvalidSymbolError, match="NASDAQ:NOPE") as one:
        quote(["NASDAQ:NOPE"])
    assert one.value.symbols == ["NASDAQ:NOPE"]


def test_unknown_symbols_warn_and_are_listed(sim: SimHandle) -> None:
    with pytest.warns(SymbolsFailedWarning, match="NASDAQ:NOPE"):
        df = frame(["NASDAQ:NOPE", "NASDAQ:AAPL"], ["last"], errors="warn")
    assert df["symbol"].tolist() == ["NASDAQ:AAPL"]
    assert list(df.attrs["tvframe"]["failed"]) == ["NASDAQ:NOPE"]
    assert "no_such_symbol" in df.attrs["tvframe"]["failed"]["NASDAQ:NOPE"]


def test_unknown_symbols_ignored_silently_but_listed(sim: SimHandle) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = frame(["NASDAQ:AAPL", "NASDAQ:NOPE"], ["last"], errors="ignore")
    assert df["symbol"].tolist() == ["NASDAQ:AAPL"]
    assert list(df.attrs["tvframe"]["failed"]) == ["NASDAQ:NOPE"]


def test_malformed_symbols_fail_before_any_io(sim: SimHandle) -> None:
    with pytest.raises(InvalidSymbolError) as caught:
        quote(["NASDAQ:AAPL", "no-colon", "BAD EX:X"])
    assert caught.value.symbols == ["no-colon", "BAD EX:X"]
    assert sim.stats.connections == 0


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"session": "overnight"}, "session"),
        ({"errors": "loud"}, "errors"),
        ({"backend": "arrow"}, "backend"),
        ({"fields": []}, "fields"),
        ({"fields": ["last", " bid"]}, "fields"),
        ({"fields": ["symbol"]}, "fields"),
    ],
)
def test_bad_arguments_fail_before_any_io(
    sim: SimHandle, kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=named):
        quote("NASDAQ:AAPL", **kwargs)  # type: ignore[arg-type]
    assert sim.stats.connections == 0


def test_a_silent_server_times_out(sim: SimHandle) -> None:
    frame("NASDAQ:AAPL", ["last"])  # the pooled socket is open
    sim.faults.silence()
    with pytest.raises(TvTimeoutError, match="NASDAQ:MSFT"):
        quote("NASDAQ:MSFT", ["last"], timeout=0.3)


# --- the async twin ---------------------------------------------------------------------------


async def test_async_twin(sim: SimHandle) -> None:
    df = await aquote(THREE, ["last"], backend="polars")
    assert isinstance(df, pl.DataFrame)
    assert df["last"].to_list() == [model(sim, s)["lp"] for s in THREE]


def test_sync_and_async_signatures_match() -> None:
    sync, async_ = inspect.signature(quote), inspect.signature(aquote)
    assert sync.parameters == async_.parameters
    assert sync.return_annotation == async_.return_annotation
    assert inspect.iscoroutinefunction(aquote) and not inspect.iscoroutinefunction(quote)
    assert quote.__doc__ and aquote.__doc__


# --- quotes_frame, no I/O ---------------------------------------------------------------------


def test_quotes_frame_types_and_nulls() -> None:
    quotes = {
        "A:X": {"lp": 1, "lp_time": 1_700_000_000.5, "pricescale": 100, "is_tradable": True,
                "description": "x"},
        "B:Y": {"lp": "oops", "lp_time": None, "pricescale": 1.5, "is_tradable": 1,
                "description": 7},
        "C:Z": {},
    }  # fmt: skip
    df = pandas_frame(quotes, columns=["last", "time", "pricescale", "is_tradable", "description"])
    assert df["symbol"].tolist() == ["A:X", "B:Y", "C:Z"]
    assert df["last"].dtype == np.float64 and df["last"].iloc[0] == 1.0
    assert df["time"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20.5", tz="UTC")
    assert df["pricescale"].iloc[0] == 100 and df["is_tradable"].iloc[0]
    # mistyped (row 1) and missing (row 2) values are nulls
    assert df.drop(columns="symbol").iloc[1:].isna().all().all()
    assert df["description"].tolist() == ["x", pd.NA, pd.NA]


def test_quotes_frame_raw_fields_are_typed_from_values() -> None:
    quotes = {"A:X": {"rtc": 1.5, "flag": True, "misc": [1]}, "B:Y": {"rtc": 2, "misc": "s"}}
    df = pandas_frame(quotes, columns=["rtc", "flag", "misc"])
    assert df["rtc"].tolist() == [1.5, 2.0]
    assert str(df["flag"].dtype) == "boolean"
    assert df["misc"].tolist() == ["[1]", "s"]
    pldf = quotes_frame(quotes, "polars", columns=["rtc", "flag", "misc"])
    assert pldf.schema == {"symbol": pl.String, "rtc": pl.Float64, "flag": pl.Boolean,
                           "misc": pl.String}  # fmt: skip


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_quotes_frame_of_nothing_keeps_the_columns(backend: str) -> None:
    df = quotes_frame({}, backend)
    assert list(df.columns) == ["symbol", *QUOTE_COLUMNS]
    assert len(df) == 0


def test_quotes_frame_survives_hostile_numbers() -> None:
    quotes = {"A:X": {"lp_time": 1e300, "pricescale": 2**64 - 1, "lp": float("inf")}}
    for backend in ("pandas", "polars"):
        df = quotes_frame(quotes, backend, columns=["time", "pricescale", "last"])
        assert len(df) == 1
    pdf = pandas_frame(quotes, columns=["time", "pricescale"])
    assert pdf.iloc[0].drop("symbol").isna().all()


class HalfAnswering:
    """A stand-in Client whose server completes the first quote key and never the others."""

    is_open = True

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.sent: list[str] = []

    def add_route(self, session: str, route: Any) -> None:
        self.routes[session] = route

    def remove_route(self, session: str) -> None:
        self.routes.pop(session, None)

    async def send(self, calls: list[tuple[str, list[Any]]]) -> None:
        for method, params in calls:
            self.sent.append(method)
            if method == "quote_add_symbols":
                qs, first = params[0], params[1]
                self.routes[qs].on_event(QuoteData(qs, first, "ok", {"lp": 1.0}))
                self.routes[qs].on_event(QuoteCompleted(qs, first))


async def test_symbols_still_pending_at_the_deadline_fail_alone() -> None:
    client = HalfAnswering()
    symbols = parse_symbols(["A:X", "B:Y", "C:Z"])
    quotes, failures = await _snapshot(client, symbols, ["lp"], "regular", 0.05)  # type: ignore[arg-type]
    assert quotes["A:X"] == {"lp": 1.0}
    assert list(failures) == ["B:Y", "C:Z"]
    assert all(isinstance(error, TvTimeoutError) for error in failures.values())
    assert client.sent[-1] == "quote_delete_session" and not client.routes
