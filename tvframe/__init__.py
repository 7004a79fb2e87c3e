"""tvframe: TradingView market data into pandas and polars.

Example:
    >>> import tvframe as tv
    >>> with tv.sim.running():            # the built-in offline simulator
    ...     df = tv.history("NASDAQ:AAPL", "5m", 500)
    >>> list(df.columns)
    ['symbol', 'open', 'high', 'low', 'close', 'volume']

Names are imported lazily (PEP 562) so that ``import tvframe.protocol`` stays free of
asyncio and websockets. The ``.tv`` accessor of pandas and polars frames is registered here,
at import, so it works on any frame once tvframe is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tvframe.accessors import register_on_import

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "history": "tvframe.facade",
    "ahistory": "tvframe.facade",
    "live": "tvframe.liveframe",
    "alive": "tvframe.liveframe",
    "LiveFrame": "tvframe.liveframe",
    "LiveUpdates": "tvframe.liveupdates",
    "live_quotes": "tvframe.livequotes",
    "alive_quotes": "tvframe.livequotes",
    "LiveQuotes": "tvframe.livequotes",
    "indicator": "tvframe.indicators",
    "IndicatorSpec": "tvframe.indicators",
    "INDICATORS": "tvframe.indicators",
    "IndicatorUpdate": "tvframe.events",
    "StudyValues": "tvframe.studies",
    "join_indicators": "tvframe.join",
    "ajoin_indicators": "tvframe.join",
    "download": "tvframe.dataset",
    "scan": "tvframe.dataset",
    "DownloadReport": "tvframe.dataset",
    "SeriesResult": "tvframe.dataset",
    "search": "tvframe.symbol_search",
    "asearch": "tvframe.symbol_search",
    "quote": "tvframe.quotes",
    "aquote": "tvframe.quotes",
    "quotes_frame": "tvframe.quotes",
    "QUOTE_COLUMNS": "tvframe.quotes",
    "allow_asyncio_run": "tvframe.notebook",
    "read_csv": "tvframe.io",
    "read_json": "tvframe.io",
    "read_parquet": "tvframe.io",
    "FrameShapeError": "tvframe.errors",
    "MissingColumnsError": "tvframe.errors",
    "Client": "tvframe.client",
    "ClientState": "tvframe.client",
    "History": "tvframe.client",
    "SymbolInfo": "tvframe.models",
    "RealtimeStreamer": "tvframe.streamer",
    "validate_symbols": "tvframe.streamer",
    "StreamCall": "tvframe.streamer",
    "StreamConfig": "tvframe.models",
    "ExportConfig": "tvframe.models",
    "IndicatorConfig": "tvframe.models",
    "OHLCData": "tvframe.models",
    "IndicatorData": "tvframe.models",
    "StreamData": "tvframe.models",
    "StreamerResponse": "tvframe.models",
    "Bar": "tvframe.events",
    "BarUpdate": "tvframe.events",
    "QuoteUpdate": "tvframe.events",
    "SymbolFailed": "tvframe.events",
    "Reconnected": "tvframe.events",
    "Stream": "tvframe.stream",
    "Interval": "tvframe.intervals",
    "parse_interval": "tvframe.intervals",
    "Symbol": "tvframe.symbols",
    "parse_symbol": "tvframe.symbols",
    "parse_symbols": "tvframe.symbols",
    "AuthError": "tvframe.errors",
    "ConnectionClosed": "tvframe.errors",
    "CriticalError": "tvframe.errors",
    "DataNotFoundError": "tvframe.errors",
    "FramingError": "tvframe.errors",
    "InvalidArgumentError": "tvframe.errors",
    "InvalidIntervalError": "tvframe.errors",
    "InvalidSymbolError": "tvframe.errors",
    "MessageError": "tvframe.errors",
    "ProtocolError": "tvframe.errors",
    "RateLimitError": "tvframe.errors",
    "SeriesError": "tvframe.errors",
    "ServerError": "tvframe.errors",
    "ShortHistoryWarning": "tvframe.errors",
    "StudyError": "tvframe.errors",
    "SymbolsError": "tvframe.errors",
    "SymbolsFailedWarning": "tvframe.errors",
    "FrameMeta": "tvframe.meta",
    "frame_meta": "tvframe.meta",
    "TvFrameError": "tvframe.errors",
    "TvFrameValidationError": "tvframe.errors",
    "TvTimeoutError": "tvframe.errors",
    "WebSocketException": "tvframe.errors",
}
_SUBMODULES = ("protocol", "realtime", "sim")

__all__ = [
    "AuthError",
    "Bar",
    "BarUpdate",
    "Client",
    "ClientState",
    "ConnectionClosed",
    "CriticalError",
    "DataNotFoundError",
    "DownloadReport",
    "ExportConfig",
    "FrameMeta",
    "FrameShapeError",
    "FramingError",
    "History",
    "INDICATORS",
    "IndicatorConfig",
    "IndicatorData",
    "IndicatorSpec",
    "IndicatorUpdate",
    "Interval",
    "InvalidArgumentError",
    "InvalidIntervalError",
    "InvalidSymbolError",
    "LiveFrame",
    "LiveQuotes",
    "LiveUpdates",
    "MessageError",
    "MissingColumnsError",
    "OHLCData",
    "ProtocolError",
    "QUOTE_COLUMNS",
    "QuoteUpdate",
    "RateLimitError",
    "RealtimeStreamer",
    "Reconnected",
    "SeriesError",
    "SeriesResult",
    "ServerError",
    "ShortHistoryWarning",
    "Stream",
    "StreamCall",
    "StreamConfig",
    "StreamData",
    "StreamerResponse",
    "StudyError",
    "StudyValues",
    "Symbol",
    "SymbolFailed",
    "SymbolInfo",
    "SymbolsError",
    "SymbolsFailedWarning",
    "TvFrameError",
    "TvFrameValidationError",
    "TvTimeoutError",
    "WebSocketException",
    "ahistory",
    "ajoin_indicators",
    "alive",
    "alive_quotes",
    "allow_asyncio_run",
    "aquote",
    "asearch",
    "download",
    "frame_meta",
    "history",
    "indicator",
    "join_indicators",
    "live",
    "live_quotes",
    "parse_interval",
    "parse_symbol",
    "parse_symbols",
    "protocol",
    "quote",
    "quotes_frame",
    "read_csv",
    "read_json",
    "read_parquet",
    "realtime",
    "scan",
    "search",
    "sim",
    "validate_symbols",
]

if TYPE_CHECKING:
    from tvframe import protocol, realtime, sim
    from tvframe.client import Client, ClientState, History
    from tvframe.dataset import DownloadReport, SeriesResult, download, scan
    from tvframe.errors import (
        AuthError,
        ConnectionClosed,
        CriticalError,
        DataNotFoundError,
        FrameShapeError,
        FramingError,
        InvalidArgumentError,
        InvalidIntervalError,
        InvalidSymbolError,
        MessageError,
        MissingColumnsError,
        ProtocolError,
        RateLimitError,
        SeriesError,
        ServerError,
        ShortHistoryWarning,
        StudyError,
        SymbolsError,
        SymbolsFailedWarning,
        TvFrameError,
        TvFrameValidationError,
        TvTimeoutError,
        WebSocketException,
    )
    from tvframe.events import (
        Bar,
        BarUpdate,
        IndicatorUpdate,
        QuoteUpdate,
        Reconnected,
        SymbolFailed,
    )
    from tvframe.facade import ahistory, history
    from tvframe.indicators import INDICATORS, IndicatorSpec, indicator
    from tvframe.intervals import Interval, parse_interval
    from tvframe.io import read_csv, read_json, read_parquet
    from tvframe.join import ajoin_indicators, join_indicators
    from tvframe.liveframe import LiveFrame, alive, live
    from tvframe.livequotes import LiveQuotes, alive_quotes, live_quotes
    from tvframe.liveupdates import LiveUpdates
    from tvframe.meta import FrameMeta, frame_meta
    from tvframe.models import (
        ExportConfig,
        IndicatorConfig,
        IndicatorData,
        OHLCData,
        StreamConfig,
        StreamData,
        StreamerResponse,
        SymbolInfo,
    )
    from tvframe.notebook import allow_asyncio_run
    from tvframe.quotes import QUOTE_COLUMNS, aquote, quote, quotes_frame
    from tvframe.stream import Stream
    from tvframe.streamer import RealtimeStreamer, StreamCall, validate_symbols
    from tvframe.studies import StudyValues
    from tvframe.symbol_search import asearch, search
    from tvframe.symbols import Symbol, parse_symbol, parse_symbols


register_on_import()


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"tvframe.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tvframe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
