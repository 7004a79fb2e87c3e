"""Quotes-only streams: no chart session, the first quote whole, the session in the quote key."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tvframe import Client
from tvframe.errors import InvalidArgumentError, InvalidSymbolError
from tvframe.events import QuoteUpdate, StreamEvent, SymbolFailed
from tvframe.protocol import QuoteCompleted, QuoteData, symbol_descriptor
from tvframe.sim import SimHandle
from tvframe.stream import Stream

BTC = "BINANCE:BTCUSDT"


async def next_event(stream: Stream) -> StreamEvent:
    return await asyncio.wait_for(stream.__anext__(), 10)


async def test_a_quotes_only_stream_opens_no_chart_session(sim: SimHandle) -> None:
    async with (
        Client(sim.url) as client,
        Stream(client, ["NASDAQ:NOPE", BTC], None, quotes=True, quote_fields=["lp"]) as stream,
    ):
        events = [await next_event(stream), await next_event(stream)]
    failed = next(e for e in events if isinstance(e, SymbolFailed))
    quote = next(e for e in events if isinstance(e, QuoteUpdate))
    assert failed.symbol == "NASDAQ:NOPE" and isinstance(failed.error, InvalidSymbolError)
    assert quote.symbol == BTC and set(quote.quote) == {"lp"} and quote.changed == {"lp"}
    assert sim.stats.messages["chart_create_session"] == 0
    assert stream.symbols == []


async def test_no_interval_needs_quotes(sim: SimHandle) -> None:
    async with Client(sim.url) as client:
        with pytest.raises(InvalidArgumentError, match="interval=None"):
            Stream(client, BTC, None)


class SplitQuotes:
    """A stand-in Client whose server splits each first quote over two ``qsd``."""

    is_open = True
    reconnects = 0
    url = "ws://127.0.0.1:9/socket.io/websocket"  # never dialled
    timeout = 5.0

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.sent: list[tuple[str, list[Any]]] = []

    def add_route(self, session: str, route: Any) -> None:
        self.routes[session] = route

    def remove_route(self, session: str) -> None:
        self.routes.pop(session, None)

    async def send(self, calls: list[tuple[str, list[Any]]]) -> None:
        self.sent += calls
        for method, params in calls:
            if method == "quote_add_symbols":
                route = self.routes[params[0]]
                for key in params[1:]:
                    route.on_event(QuoteData(params[0], key, "ok", {"lp": 1.0}))
                    route.on_event(QuoteData(params[0], key, "ok", {"bid": 0.9, "lp": 1.1}))
                    route.on_event(QuoteCompleted(params[0], key))


async def test_the_first_update_holds_the_whole_first_quote() -> None:
    client = SplitQuotes()
    stream = Stream(client, BTC, None, quotes=True, session="extended")  # type: ignore[arg-type]
    await stream.start()
    first = await next_event(stream)
    assert isinstance(first, QuoteUpdate) and stream.backlog == 0
    assert dict(first.quote) == {"lp": 1.1, "bid": 0.9} and first.changed == {"lp", "bid"}
    qs, key = client.sent[-1][1]
    assert key == symbol_descriptor(BTC, session="extended")
    client.routes[qs].on_event(QuoteData(qs, key, "ok", {"lp": 1.2}))
    diff = await next_event(stream)
    assert isinstance(diff, QuoteUpdate)
    assert dict(diff.quote) == {"lp": 1.2, "bid": 0.9} and diff.changed == {"lp"}
    await stream.unsubscribe(BTC)
    assert client.sent[-1] == ("quote_remove_symbols", [qs, key])
    await stream.close()
