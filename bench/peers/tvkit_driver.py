"""tvkit's history driver (run with its venv's interpreter).

The endpoint is the module constant ``tvkit.api.chart.ohlcv._STANDARD_WS_URL``, read by every
``OHLCV()`` (``batch_download`` makes its own), so the driver sets it to the simulator's URL.
Before every fetch tvkit GETs ``https://www.tradingview.com/symbols/EX:SYM`` to validate the
symbol; the simulator serves no such page, so the driver replaces ``validate_symbols`` in
``tvkit.api.chart.ohlcv`` with a no-op (tvkit is timed without that HTTP round trip). Usage
as its docs show: ``async with OHLCV() as c: await c.get_historical_ohlcv(...)`` for one
symbol, ``batch_download(BatchDownloadRequest(...))`` (5 sockets at a time) for many.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from driverlib import parse_args, run_driver


async def _valid(_symbols: object) -> bool:
    return True


def main() -> None:
    url: str = parse_args().url
    chart: Any = importlib.import_module("tvkit.api.chart.ohlcv")
    batch: Any = importlib.import_module("tvkit.batch")
    chart._STANDARD_WS_URL = url
    chart.validate_symbols = _valid

    async def fetch(symbol: str, bars: int) -> int:
        async with chart.OHLCV() as client:
            got = await client.get_historical_ohlcv(symbol, "1", bars_count=bars)
        return len(got)

    async def fetch_all(symbols: list[str], bars: int) -> int:
        request = batch.BatchDownloadRequest(symbols=symbols, interval="1", bars_count=bars)
        summary = await batch.batch_download(request)
        return sum(len(result.bars) for result in summary.results if result.success)

    run_driver(
        "tvkit",
        "tvkit",
        lambda symbol, bars: asyncio.run(fetch(symbol, bars)),
        lambda symbols, bars: asyncio.run(fetch_all(symbols, bars)),
    )


if __name__ == "__main__":
    main()
