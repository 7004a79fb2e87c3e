"""tradingview-scraper's history driver (run with its venv's interpreter).

``Streamer.__init__`` builds its URL as a local string and hands it to ``StreamHandler``, so
the driver rebinds ``StreamHandler`` in ``tradingview_scraper.symbols.stream.streamer`` to a
wrapper that passes the simulator's URL instead. ``stream()`` first GETs
``https://scanner.tradingview.com/symbol?...`` to validate the symbol; the simulator serves
no such endpoint, so ``validate_symbols`` in that module becomes a no-op (the scraper is
timed without that HTTP round trip). Usage as its README shows for history:
``Streamer(export_result=True).stream(exchange, symbol, timeframe, numb_price_candles)``,
one Streamer (one socket) per symbol, in a loop for many. Its ``get_data`` sleeps 1 s before
every frame it reads: that is in its wall times, not in its CPU times. ``export_result``
writes a JSON file per call, into a temporary directory here.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from typing import Any

from driverlib import parse_args, run_driver


def main() -> None:
    url: str = parse_args().url
    os.chdir(tempfile.mkdtemp())  # the export files land in ./export
    streamer: Any = importlib.import_module("tradingview_scraper.symbols.stream.streamer")
    handler = streamer.StreamHandler

    def to_sim(websocket_url: str, jwt_token: str = "unauthorized_user_token") -> Any:
        return handler(websocket_url=url, jwt_token=jwt_token)

    def valid(_symbols: object) -> bool:
        return True

    streamer.StreamHandler, streamer.validate_symbols = to_sim, valid

    def one(symbol: str, bars: int) -> int:
        exchange, ticker = symbol.split(":")
        result = streamer.Streamer(export_result=True, export_type="json").stream(
            exchange, ticker, timeframe="1m", numb_price_candles=bars
        )
        return len(result["ohlc"])

    def many(symbols: list[str], bars: int) -> int:
        return sum(one(symbol, bars) for symbol in symbols)

    run_driver("scraper", "tradingview-scraper", one, many)


if __name__ == "__main__":
    main()
