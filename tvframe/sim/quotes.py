"""Quote sessions of one simulated connection (``protocol.md`` §3, §6 ``qsd``, §9, §12.18). No I/O.

Each subscribed key is echoed byte for byte as ``qsd.n`` and ``quote_completed p[1]``; distinct
key strings naming one symbol are independent subscriptions. The first ``qsd`` of a key carries
every requested field the symbol has; later ones only the fields whose values changed. No
``t``/``t_ms`` stamps (TVKIT forbids extra keys on these messages).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tvframe.sim.catalogue import SimSymbol
from tvframe.sim.market import Market

__all__ = ["QuoteBook", "quote_values"]

logger = logging.getLogger(__name__)

Emit = Callable[[str, list[Any]], None]

#: Every field the simulator can fill, in the order the first ``qsd`` lists them by default.
QUOTE_FIELDS = (
    "lp", "lp_time", "ch", "chp", "prev_close_price", "open_price", "high_price", "low_price",
    "volume", "bid", "ask", "bid_size", "ask_size", "current_session", "update_mode",
    "description", "local_description", "exchange", "listed_exchange", "type", "currency_code",
    "pricescale", "minmov", "minmove2", "fractional", "short_name", "pro_name", "original_name",
    "is_tradable", "timezone", "format",
)  # fmt: skip


@functools.cache
def _static_fields(symbol: SimSymbol, update_mode: str) -> dict[str, Any]:
    """The fields that do not move with the market."""
    values: dict[str, Any] = {
        "update_mode": update_mode,
        "description": symbol.description,
        "exchange": symbol.exchange,
        "listed_exchange": symbol.exchange,
        "type": "spot" if symbol.type == "crypto" else symbol.type,
        "currency_code": symbol.currency,
        "pricescale": symbol.pricescale,
        "minmov": symbol.minmov,
        "minmove2": 0,
        "fractional": False,
        "short_name": symbol.ticker,
        "pro_name": symbol.full_name,
        "original_name": symbol.full_name,
        "is_tradable": False,
        "timezone": symbol.timezone,
        "format": "price",
    }
    if symbol.local_description is not None:
        values["local_description"] = symbol.local_description
    return values


def quote_values(symbol: SimSymbol, market: Market, now: float, update_mode: str) -> dict[str, Any]:
    """Every quote field of ``symbol`` at ``now``: last price, today's session, bid/ask, statics.

    ``lp`` is the close of the forming (or last) 1-minute bar, which is also the close of the
    latest daily bar; ``ch``/``chp`` compare it with the previous session's close;
    ``open_price``/``high_price``/``low_price``/``volume`` are the latest session's daily bar;
    ``bid``/``ask`` sit one tick below/above ``lp``.

    Example:
        >>> from tvframe.sim.catalogue import CATALOGUE
        >>> from tvframe.sim.clock import DEFAULT_START
        >>> q = quote_values(CATALOGUE["BINANCE:BTCUSDT"], Market(), DEFAULT_START, "streaming")
        >>> round(q["ask"] - q["bid"], 2), q["current_session"], q["pro_name"]
        (0.02, 'market', 'BINANCE:BTCUSDT')
    """
    values = dict(_static_fields(symbol, update_mode))
    # Only daily bars are asked for: a first 1-minute query builds a whole block of minutes,
    # which makes subscribing to hundreds of symbols slow.
    days = market.bars_before(symbol, "1D", now + 1.0, 2, now=now)
    if not len(days):
        return values
    digits = max(0, round(math.log10(symbol.pricescale)))
    tick = symbol.minmov / symbol.pricescale
    lp = float(days.close[-1])
    session_end = market.bar_close(symbol, "1D", float(days.time[-1]))
    prev_close = float(days.close[-2]) if len(days) > 1 else float(days.open[-1])
    change = round(lp - prev_close, digits)
    in_session = market.bar_open(symbol, "1", now) is not None
    minute_number = int(now) // 60
    values.update(
        {
            "lp": lp,
            "lp_time": int(now if session_end is None else min(now, session_end)),
            "ch": change,
            "chp": round(change / prev_close * 100.0, 2) if prev_close else 0.0,
            "prev_close_price": prev_close,
            "open_price": float(days.open[-1]),
            "high_price": float(days.high[-1]),
            "low_price": float(days.low[-1]),
            "bid": round(lp - tick, digits),
            "ask": round(lp + tick, digits),
            # Book sizes cycle with the minute so that diffs carry them now and then.
            "bid_size": float(1 + minute_number % 9),
            "ask_size": float(1 + (minute_number + 4) % 9),
            "current_session": "market" if in_session else "out_of_session",
        }
    )
    if symbol.has_volume:
        values["volume"] = float(days.volume[-1])
    return values


@dataclass(slots=True)
class _Subscription:
    symbol: SimSymbol
    sent: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _QuoteSession:
    session_id: str
    fields: tuple[str, ...] = QUOTE_FIELDS
    keys: dict[str, _Subscription] = field(default_factory=dict)
    hibernating: bool = False


class QuoteBook:
    """Every quote session of one connection.

    Args:
        market: Where prices come from.
        update_mode: The ``update_mode`` field's value.
        now: Returns the simulated time of the message being handled.
        emit: Queues one server message (method, params).
        unknown_session: Answers a method addressed to a quote session that does not exist.
        resolve: Maps a quote key (``"EX:SYM"``, ``"SYM"`` or an ``=``-descriptor) to a symbol.

    Example:
        >>> from tvframe.sim.catalogue import find_symbol
        >>> out = []
        >>> book = QuoteBook(Market(), "streaming", lambda: 1.8e9,
        ...                  lambda m, p: out.append((m, p)), lambda m, p: None,
        ...                  find_symbol)
        >>> for method, params in [("quote_create_session", ["qs_1"]),
        ...                        ("quote_set_fields", ["qs_1", "lp", "pro_name"]),
        ...                        ("quote_add_symbols", ["qs_1", "BTCUSDT"])]:
        ...     book.handlers()[method](params)
        >>> [m for m, _ in out], sorted(out[0][1][1]["v"])
        (['qsd', 'quote_completed'], ['lp', 'pro_name'])
    """

    def __init__(
        self,
        market: Market,
        update_mode: str,
        now: Callable[[], float],
        emit: Emit,
        unknown_session: Callable[[str, list[Any]], None],
        resolve: Callable[[str], SimSymbol | None],
    ) -> None:
        self._market = market
        self._update_mode = update_mode
        self._now = now
        self._emit = emit
        self._unknown_session = unknown_session
        self._resolve = resolve
        self._sessions: dict[str, _QuoteSession] = {}

    def handlers(self) -> dict[str, Callable[[list[Any]], None]]:
        """The quote methods, by name, for the connection's dispatcher."""
        return {
            "quote_create_session": self._create_session,
            "quote_delete_session": self._delete_session,
            "quote_set_fields": self._on_session("quote_set_fields", self._set_fields),
            "quote_add_symbols": self._on_session("quote_add_symbols", self._add_symbols),
            "quote_remove_symbols": self._on_session("quote_remove_symbols", self._remove_symbols),
            "quote_fast_symbols": self._on_session("quote_fast_symbols", _ignore),
            "quote_hibernate_all": self._on_session("quote_hibernate_all", self._hibernate),
        }

    def push(self) -> None:
        """Sparse ``qsd`` diffs for every awake subscription whose fields changed."""
        cache: dict[SimSymbol, dict[str, Any]] = {}
        for session in self._sessions.values():
            if session.hibernating:
                continue
            for key, sub in session.keys.items():
                current = self._values(session, sub.symbol, cache)
                diff = {f: v for f, v in current.items() if f not in sub.sent or sub.sent[f] != v}
                if diff:
                    sub.sent.update(diff)
                    self._emit("qsd", [session.session_id, {"n": key, "s": "ok", "v": diff}])

    def end(self, session_id: str) -> bool:
        """Forget a quote session (after a ``critical_error``); whether it existed."""
        return self._sessions.pop(session_id, None) is not None

    # --- handlers ---------------------------------------------------------------------

    def _on_session(
        self, method: str, handler: Callable[[_QuoteSession, list[Any]], None]
    ) -> Callable[[list[Any]], None]:
        """Wrap a handler of a quote-session method: look the session up first."""

        def run(params: list[Any]) -> None:
            session_id = params[0] if params else None
            session = self._sessions.get(session_id) if isinstance(session_id, str) else None
            if session is None:
                self._unknown_session(method, params)
                return
            handler(session, params[1:])

        return run

    def _create_session(self, params: list[Any]) -> None:
        if not params or not isinstance(params[0], str):
            logger.debug("ignored quote_create_session without a session id: %.80r", params)
            return
        self._sessions[params[0]] = _QuoteSession(params[0])

    def _delete_session(self, params: list[Any]) -> None:
        if params and isinstance(params[0], str):
            self._sessions.pop(params[0], None)

    def _set_fields(self, session: _QuoteSession, names: list[Any]) -> None:
        session.fields = tuple(name for name in names if isinstance(name, str))

    def _add_symbols(self, session: _QuoteSession, keys: list[Any]) -> None:
        if not all(isinstance(key, str) for key in keys):
            # TVDF's legacy trailing {"flags": [...]}: refused, but the session lives on (§3).
            self._emit(
                "critical_error", [session.session_id, "invalid_parameters", "quote_add_symbols"]
            )
            return
        session.hibernating = False
        for key in keys:
            self._subscribe(session, key)

    def _subscribe(self, session: _QuoteSession, key: str) -> None:
        symbol = self._resolve(key)
        qs = session.session_id
        if symbol is None:
            session.keys.pop(key, None)
            self._emit("qsd", [qs, {"n": key, "s": "error", "errmsg": "no_such_symbol", "v": {}}])
            return
        values = self._values(session, symbol, {})
        session.keys[key] = _Subscription(symbol, dict(values))
        self._emit("qsd", [qs, {"n": key, "s": "ok", "v": values}])
        self._emit("quote_completed", [qs, key])

    def _remove_symbols(self, session: _QuoteSession, keys: list[Any]) -> None:
        for key in keys:
            if isinstance(key, str):
                session.keys.pop(key, None)

    def _hibernate(self, session: _QuoteSession, _: list[Any]) -> None:
        session.hibernating = True

    # --- values -----------------------------------------------------------------------

    def _values(
        self,
        session: _QuoteSession,
        symbol: SimSymbol,
        cache: dict[SimSymbol, dict[str, Any]],
    ) -> dict[str, Any]:
        """The session's requested fields that ``symbol`` has, in the requested order."""
        values = cache.get(symbol)
        if values is None:
            values = cache[symbol] = quote_values(
                symbol, self._market, self._now(), self._update_mode
            )
        return {name: values[name] for name in session.fields if name in values}


def _ignore(session: _QuoteSession, params: list[Any]) -> None:
    """``quote_fast_symbols``: the simulator streams every symbol at full rate anyway."""
