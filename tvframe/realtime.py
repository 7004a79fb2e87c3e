"""The seed's import path: ``from tvframe.realtime import RealtimeStreamer, StreamConfig, ...``.

Only re-exports; the code lives in :mod:`tvframe.streamer`, :mod:`tvframe.models` and
:mod:`tvframe.errors`.

Example:
    >>> from tvframe.realtime import RealtimeStreamer, StreamConfig
    >>> RealtimeStreamer(StreamConfig(symbols=["NASDAQ:AAPL"])).stream_config.symbols
    ['NASDAQ:AAPL']
"""

from __future__ import annotations

from tvframe.errors import ConnectionClosed, DataNotFoundError, WebSocketException
from tvframe.models import (
    ExportConfig,
    IndicatorConfig,
    IndicatorData,
    OHLCData,
    StreamConfig,
    StreamData,
    StreamerResponse,
)
from tvframe.streamer import RealtimeStreamer, StreamCall, validate_symbols

__all__ = [
    "ConnectionClosed",
    "DataNotFoundError",
    "ExportConfig",
    "IndicatorConfig",
    "IndicatorData",
    "OHLCData",
    "RealtimeStreamer",
    "StreamCall",
    "StreamConfig",
    "StreamData",
    "StreamerResponse",
    "WebSocketException",
    "validate_symbols",
]
