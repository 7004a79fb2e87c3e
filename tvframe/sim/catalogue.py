"""The simulator's instruments: its own data, never tvframe's client-side symbol tables.

Sessions are TradingView's exchange-local ``HHMM-HHMM`` form (or ``24x7``); a session whose end
is not after its start opens on the previous calendar day (CME futures, ``1700-1600``).
Besides 26 hand-written instruments, a generated universe ``SIMX:T000`` ... ``SIMX:T199`` serves
tests that need many symbols: even numbers trade 24x7 like crypto, odd ones NASDAQ hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["CATALOGUE", "UNIVERSE_SIZE", "SimSymbol", "find_symbol", "universe"]

_WEEKDAYS = (1, 2, 3, 4, 5)
_EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True, slots=True)
class SimSymbol:
    """One simulated instrument.

    Attributes:
        exchange: Exchange prefix, e.g. ``"NASDAQ"``.
        ticker: Symbol on that exchange, e.g. ``"AAPL"``.
        description: English description.
        type: ``"stock"``, ``"crypto"``, ``"forex"``, ``"index"`` or ``"futures"``.
        currency: Quote currency code.
        timezone: IANA name of the exchange timezone.
        session: Regular session, exchange-local ``"HHMM-HHMM"`` or ``"24x7"``.
        session_days: ISO weekdays that have a session (1 = Monday ... 7 = Sunday).
        pricescale: Price denominator; the tick is ``minmov / pricescale``.
        minmov: Tick size in units of ``1 / pricescale``.
        has_volume: Whether the instrument reports volume.
        base_price: Typical price around ``clock.DEFAULT_START``.
        volatility: Annualised volatility of log returns.
        local_description: Description in the exchange's language, if any.
        extended_session: Pre- and post-market session containing the regular one.

    Example:
        >>> CATALOGUE["NASDAQ:AAPL"].full_name
        'NASDAQ:AAPL'
    """

    exchange: str
    ticker: str
    description: str
    type: str
    currency: str
    timezone: str
    session: str
    session_days: tuple[int, ...]
    pricescale: int
    minmov: int
    has_volume: bool
    base_price: float
    volatility: float
    local_description: str | None = None
    extended_session: str | None = None

    @property
    def full_name(self) -> str:
        """``"EXCHANGE:TICKER"``."""
        return f"{self.exchange}:{self.ticker}"


def _us_stock(exchange: str, ticker: str, description: str, price: float, vol: float) -> SimSymbol:
    return SimSymbol(
        exchange, ticker, description, "stock", "USD", "America/New_York", "0930-1600",
        _WEEKDAYS, 100, 1, True, price, vol, extended_session="0400-2000",
    )  # fmt: skip


def _crypto(exchange: str, ticker: str, description: str, currency: str, price: float,
            vol: float) -> SimSymbol:  # fmt: skip
    return SimSymbol(
        exchange, ticker, description, "crypto", currency, "Etc/UTC", "24x7", _EVERY_DAY,
        100, 1, True, price, vol,
    )  # fmt: skip


def _forex(ticker: str, description: str, currency: str, pricescale: int, price: float
           ) -> SimSymbol:  # fmt: skip
    return SimSymbol(
        "FX", ticker, description, "forex", currency, "Etc/UTC", "0000-2400", _WEEKDAYS,
        pricescale, 1, True, price, 0.08,
    )  # fmt: skip


_SYMBOLS = (
    _us_stock("NASDAQ", "AAPL", "Apple Inc.", 230.0, 0.28),
    _us_stock("NASDAQ", "MSFT", "Microsoft Corporation", 420.0, 0.25),
    _us_stock("NASDAQ", "NVDA", "NVIDIA Corporation", 140.0, 0.50),
    _us_stock("NASDAQ", "TSLA", "Tesla, Inc.", 250.0, 0.60),
    _us_stock("NASDAQ", "AMZN", "Amazon.com, Inc.", 190.0, 0.32),
    _us_stock("NASDAQ", "GOOGL", "Alphabet Inc. Class A", 170.0, 0.30),
    _us_stock("NASDAQ", "META", "Meta Platforms, Inc.", 560.0, 0.38),
    _us_stock("NYSE", "IBM", "International Business Machines Corporation", 220.0, 0.22),
    _us_stock("NYSE", "JPM", "JPMorgan Chase & Co.", 230.0, 0.24),
    _us_stock("NYSE", "KO", "The Coca-Cola Company", 65.0, 0.16),
    _us_stock("NYSE", "XOM", "Exxon Mobil Corporation", 115.0, 0.26),
    SimSymbol("LSE", "VOD", "Vodafone Group Public Limited Company", "stock", "GBX",
              "Europe/London", "0800-1630", _WEEKDAYS, 100, 1, True, 72.0, 0.25),
    SimSymbol("XETR", "SAP", "SAP SE", "stock", "EUR", "Europe/Berlin", "0900-1730",
              _WEEKDAYS, 100, 1, True, 230.0, 0.27),
    # NSE trades in 5-paisa ticks: minmov 5 exercises a tick that is not 1/pricescale.
    SimSymbol("NSE", "RELIANCE", "Reliance Industries Limited", "stock", "INR",
              "Asia/Kolkata", "0915-1530", _WEEKDAYS, 100, 5, True, 1300.0, 0.24),
    # Non-ASCII with an astral emoji: its UTF-16 length (7) differs from len() (6).
    SimSymbol("KRX", "005930", "Samsung Electronics Co., Ltd.", "stock", "KRW", "Asia/Seoul",
              "0900-1530", _WEEKDAYS, 1, 100, True, 60000.0, 0.30,
              local_description="삼성전자 📈"),
    _crypto("BINANCE", "BTCUSDT", "Bitcoin / TetherUS", "USDT", 95000.0, 0.60),
    _crypto("BINANCE", "ETHUSDT", "Ethereum / TetherUS", "USDT", 3300.0, 0.70),
    _crypto("BINANCE", "BTCEUR", "Bitcoin / Euro", "EUR", 88000.0, 0.60),
    _crypto("BINANCE", "ETHEUR", "Ethereum / Euro", "EUR", 3050.0, 0.70),
    _crypto("COINBASE", "BTCUSD", "Bitcoin / U.S. Dollar", "USD", 95000.0, 0.60),
    _forex("EURUSD", "Euro / U.S. Dollar", "USD", 100000, 1.08),
    _forex("GBPUSD", "British Pound / U.S. Dollar", "USD", 100000, 1.27),
    _forex("USDJPY", "U.S. Dollar / Japanese Yen", "JPY", 1000, 150.0),
    SimSymbol("SP", "SPX", "S&P 500", "index", "USD", "America/New_York", "0930-1600",
              _WEEKDAYS, 100, 1, False, 5900.0, 0.16),
    SimSymbol("TVC", "DXY", "U.S. Dollar Index", "index", "USD", "Etc/UTC", "0000-2400",
              _WEEKDAYS, 1000, 1, False, 104.0, 0.07),
    # The CME Globex day opens at 17:00 Chicago on the previous evening.
    SimSymbol("CME_MINI", "ES1!", "E-mini S&P 500 Futures", "futures", "USD", "America/Chicago",
              "1700-1600", _WEEKDAYS, 100, 25, True, 5950.0, 0.16),
)  # fmt: skip

#: Size of the generated ``SIMX`` universe.
UNIVERSE_SIZE = 200


def _universe_symbol(i: int) -> SimSymbol:
    """``SIMX:T<i>``: its price and volatility are spread out by the index, no randomness."""
    ticker = f"T{i:03d}"
    price = round(5.0 + (i * 37) % 491 + (i % 10) / 10, 2)
    vol = 0.15 + (i % 9) * 0.07
    if i % 2 == 0:
        return _crypto("SIMX", ticker, f"Simulated 24x7 asset {i:03d}", "USD", price, vol)
    return _us_stock("SIMX", ticker, f"Simulated NASDAQ-hours stock {i:03d}", price, vol)


_UNIVERSE = tuple(_universe_symbol(i) for i in range(UNIVERSE_SIZE))

#: Every simulated instrument, keyed by ``full_name``.
CATALOGUE: Mapping[str, SimSymbol] = MappingProxyType(
    {s.full_name: s for s in (*_SYMBOLS, *_UNIVERSE)}
)

_BY_TICKER: dict[str, list[SimSymbol]] = {}
for _symbol in CATALOGUE.values():
    _BY_TICKER.setdefault(_symbol.ticker.upper(), []).append(_symbol)


def universe(count: int = UNIVERSE_SIZE) -> tuple[SimSymbol, ...]:
    """The first ``count`` symbols of the generated ``SIMX`` universe.

    Raises:
        ValueError: ``count`` is negative or above :data:`UNIVERSE_SIZE`.

    Example:
        >>> [s.full_name for s in universe(2)], universe(2)[1].session
        (['SIMX:T000', 'SIMX:T001'], '0930-1600')
    """
    if not 0 <= count <= UNIVERSE_SIZE:
        raise ValueError(f"count must be within 0..{UNIVERSE_SIZE}, got {count!r}")
    return _UNIVERSE[:count]


def find_symbol(ref: str) -> SimSymbol | None:
    """Look an instrument up by ``"EXCHANGE:TICKER"`` (any case) or by a ticker alone.

    Args:
        ref: ``"NASDAQ:AAPL"``, ``"nasdaq:aapl"`` or ``"AAPL"``; a bare ticker resolves only
            when one exchange lists it.

    Returns:
        The symbol, or ``None`` when unknown or ambiguous.

    Example:
        >>> find_symbol("binance:btcusdt").full_name
        'BINANCE:BTCUSDT'
        >>> find_symbol("BTCUSD").exchange, find_symbol("NOPE:X")
        ('COINBASE', None)
    """
    key = ref.strip().upper()
    if ":" in key:
        return CATALOGUE.get(key)
    matches = _BY_TICKER.get(key, [])
    return matches[0] if len(matches) == 1 else None
