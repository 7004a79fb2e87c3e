import pytest

from tvframe.errors import InvalidSymbolError
from tvframe.symbols import Symbol, parse_symbol, parse_symbols


@pytest.mark.parametrize(
    ("text", "exchange", "ticker"),
    [
        ("NASDAQ:AAPL", "NASDAQ", "AAPL"),
        ("nasdaq:aapl", "NASDAQ", "AAPL"),
        (" BINANCE:BTCUSDT ", "BINANCE", "BTCUSDT"),
        ("CME_MINI:ES1!", "CME_MINI", "ES1!"),
        ("NYSE:BRK.B", "NYSE", "BRK.B"),
    ],
)
def test_valid_symbols(text: str, exchange: str, ticker: str) -> None:
    assert parse_symbol(text) == Symbol(exchange, ticker)


@pytest.mark.parametrize(
    "bad", ["AAPL", ":AAPL", "NASDAQ:", "NAS DAQ:AAPL", "X:../../etc", "X:A/B", "X:\x00"]
)
def test_invalid_symbols_name_the_value(bad: str) -> None:
    with pytest.raises(InvalidSymbolError) as info:
        parse_symbol(bad)
    assert repr(bad) in str(info.value)
    assert info.value.symbols == [bad]


def test_parse_symbols_names_every_bad_symbol_at_once() -> None:
    good = [f"NASDAQ:S{i}" for i in range(48)]
    with pytest.raises(InvalidSymbolError) as info:
        parse_symbols([*good[:20], "BAD", *good[20:], "ALSO/BAD"])
    assert info.value.symbols == ["BAD", "ALSO/BAD"]
    assert "2 invalid symbols" in str(info.value)


def test_parse_symbols_dedupes_in_order() -> None:
    out = parse_symbols(["nyse:ibm", "NASDAQ:AAPL", "NYSE:IBM"])
    assert [s.full_name for s in out] == ["NYSE:IBM", "NASDAQ:AAPL"]


def test_parse_symbols_rejects_empty() -> None:
    with pytest.raises(InvalidSymbolError, match="no symbols"):
        parse_symbols([])
