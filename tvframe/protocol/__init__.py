"""TradingView's chart WebSocket protocol, sans-I/O: no sockets, no asyncio, no threads.

Example:
    >>> from tvframe.protocol import Connection
    >>> c = Connection()
    >>> c.receive('~m~50~m~{"m":"quote_completed","p":["qs_a","NASDAQ:AAPL"]}')
    >>> c.events()
    [QuoteCompleted(session='qs_a', key='NASDAQ:AAPL')]
"""

from tvframe.protocol.connection import Connection
from tvframe.protocol.events import (
    NA,
    Bars,
    CriticalErrorEvent,
    DataUpdate,
    Event,
    Hello,
    ProtocolErrorEvent,
    QuoteCompleted,
    QuoteData,
    SeriesCompleted,
    SeriesData,
    SeriesErrorEvent,
    SeriesLoading,
    SeriesTimeframe,
    StudyCompleted,
    StudyDeleted,
    StudyErrorEvent,
    StudyLoading,
    StudyPoints,
    SymbolErrorEvent,
    SymbolResolved,
    TickmarkUpdate,
    TimescaleUpdate,
    UnknownMessage,
)
from tvframe.protocol.framing import (
    FrameDecoder,
    Heartbeat,
    encode_frame,
    encode_heartbeat,
    utf16_len,
)
from tvframe.protocol.messages import (
    PendingBars,
    decode_message,
    encode_message,
    join_message,
    split_message,
    symbol_descriptor,
)

__all__ = [
    "NA",
    "Bars",
    "Connection",
    "CriticalErrorEvent",
    "DataUpdate",
    "Event",
    "FrameDecoder",
    "Heartbeat",
    "Hello",
    "PendingBars",
    "ProtocolErrorEvent",
    "QuoteCompleted",
    "QuoteData",
    "SeriesCompleted",
    "SeriesData",
    "SeriesErrorEvent",
    "SeriesLoading",
    "SeriesTimeframe",
    "StudyCompleted",
    "StudyDeleted",
    "StudyErrorEvent",
    "StudyLoading",
    "StudyPoints",
    "SymbolErrorEvent",
    "SymbolResolved",
    "TickmarkUpdate",
    "TimescaleUpdate",
    "UnknownMessage",
    "decode_message",
    "encode_frame",
    "encode_heartbeat",
    "encode_message",
    "join_message",
    "split_message",
    "symbol_descriptor",
    "utf16_len",
]
