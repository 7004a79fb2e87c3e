"""tvdatafeed-enhanced's history driver (run with its venv's interpreter).

Its endpoint is a string literal inside ``get_hist`` (websocket-client ``create_connection``)
and ``get_hist_multi`` (websockets ``connect``), so the driver rebinds those two names in
``tvDatafeed.main`` to wrappers that swap the URL for the simulator's; the peer's files are
untouched. Usage as its README shows: ``TvDatafeed()`` anonymous, ``get_hist`` for one symbol,
``get_hist_multi`` (concurrent, one socket per symbol, 20 at a time) for many. The sync
wrapper also suppresses websocket-client's own ``Origin`` header (see ``to_sim_sync``).
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Any

from driverlib import parse_args, run_driver


def main() -> None:
    url: str = parse_args().url
    feed: Any = importlib.import_module("tvDatafeed.main")
    create_connection, connect = feed.create_connection, feed.connect

    def to_sim_sync(_url: str, **kwargs: Any) -> Any:
        # websocket-client adds an Origin of its own next to the peer's explicit one; the
        # simulator's websockets server refuses two Origin headers (400), TradingView does not.
        return create_connection(url, suppress_origin=True, **kwargs)

    def to_sim_async(_url: str, **kwargs: Any) -> Any:
        return connect(url, **kwargs)

    feed.create_connection, feed.connect = to_sim_sync, to_sim_async
    # A token cache of its own, so no ~/.tv_token.json of this machine is read.
    cache = Path(tempfile.mkdtemp()) / "token.json"
    tv = feed.TvDatafeed(token_cache_file=cache)
    minute = feed.Interval.in_1_minute

    def one(symbol: str, bars: int) -> int:
        exchange, ticker = symbol.split(":")
        frame = tv.get_hist(ticker, exchange, minute, n_bars=bars)
        return 0 if frame is None else len(frame)

    def many(symbols: list[str], bars: int) -> int:
        exchange = symbols[0].split(":")[0]
        tickers = [s.split(":")[1] for s in symbols]
        frames = tv.get_hist_multi(tickers, exchange, minute, n_bars=bars)
        return sum(len(f) for f in frames.values() if f is not None)

    run_driver("tvdatafeed", "tvdatafeed-enhanced", one, many)


if __name__ == "__main__":
    main()
