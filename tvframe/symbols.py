"""``EXCHANGE:SYMBOL`` parsing and validation, done before any network call."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from tvframe.errors import InvalidSymbolError

__all__ = ["Symbol", "parse_symbol", "parse_symbols"]

_EXCHANGE = re.compile(r"^[A-Z0-9_]{1,32}$")
# Tickers carry dots (BRK.B), continuous-futures bangs (ES1!), slashes are not allowed.
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9._!&'-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Symbol:
    """A validated ``EXCHANGE:TICKER`` pair, upper-cased.

    Example:
        >>> parse_symbol("nasdaq:aapl").full_name
        'NASDAQ:AAPL'
    """

    exchange: str
    ticker: str

    @property
    def full_name(self) -> str:
        """``EXCHANGE:TICKER`` as TradingView spells it."""
        return f"{self.exchange}:{self.ticker}"

    def __str__(self) -> str:
        return self.full_name


def _problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string like 'NASDAQ:AAPL', got {type(value).__name__}"
    text = value.strip()
    if ":" not in text:
        return "must be EXCHANGE:SYMBOL, e.g. 'NASDAQ:AAPL'"
    exchange, _, ticker = text.upper().partition(":")
    if not _EXCHANGE.match(exchange):
        return f"exchange {exchange!r} must be letters, digits or '_'"
    if not _TICKER.match(ticker):
        return f"ticker {ticker!r} must be letters, digits or . _ ! & ' -"
    return None


def parse_symbol(value: str | Symbol) -> Symbol:
    """Validate one symbol.

    Raises:
        InvalidSymbolError: naming the value and the expected form.

    Example:
        >>> parse_symbol("BINANCE:BTCUSDT").ticker
        'BTCUSDT'
    """
    if isinstance(value, Symbol):
        return value
    problem = _problem(value)
    if problem is not None:
        raise InvalidSymbolError(f"invalid symbol {value!r}: {problem}", [str(value)])
    exchange, _, ticker = value.strip().upper().partition(":")
    return Symbol(exchange, ticker)


def _items(values: object) -> list[object]:
    # A str, bytes or scalar is one (possibly bad) symbol, never a sequence of characters.
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes, bytearray)):
        return list(values)
    return [values]


def parse_symbols(values: str | Symbol | Iterable[str | Symbol]) -> list[Symbol]:
    """Validate one or many symbols, naming every bad one in a single error.

    Duplicates are kept once, in first-seen order.

    Raises:
        InvalidSymbolError: listing all malformed symbols at once.

    Example:
        >>> [s.full_name for s in parse_symbols(["NASDAQ:AAPL", "nyse:ibm"])]
        ['NASDAQ:AAPL', 'NYSE:IBM']
    """
    items = _items(values)
    if not items:
        raise InvalidSymbolError("no symbols given: pass at least one 'EXCHANGE:SYMBOL'")
    bad: list[str] = []
    reasons: list[str] = []
    out: dict[Symbol, None] = {}
    for item in items:
        if isinstance(item, Symbol):
            out[item] = None
            continue
        problem = _problem(item)
        if problem is not None:
            bad.append(str(item))
            reasons.append(f"{item!r} ({problem})")
        else:
            out[parse_symbol(cast(str, item))] = None
    if bad:
        raise InvalidSymbolError(
            f"{len(bad)} invalid symbol{'s' if len(bad) > 1 else ''}: " + "; ".join(reasons), bad
        )
    return list(out)
