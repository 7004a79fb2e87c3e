"""The exceptions tvframe raises: one tree, each message names the bad value and what to do.

```
TvFrameError
├── TvFrameValidationError (also ValueError)      bad input caught before the network
│   ├── InvalidSymbolError                        malformed symbol, or unknown to the server
│   ├── InvalidIntervalError                      interval spelling not understood
│   ├── InvalidArgumentError                      any other argument out of range
│   └── FrameShapeError                           a frame lacks the OHLCV columns (``.missing``)
│       └── MissingColumnsError (also AttributeError)   the same, from the pandas ``.tv`` accessor
├── ProtocolError                                 the server sent what the protocol does not allow
│   ├── FramingError                              ``~m~<len>~m~`` framing broken (stream unusable)
│   └── MessageError                              a well-framed payload with a bad shape
├── ServerError                                   the server reported an error
│   ├── AuthError                                 token rejected, banned, connection limit
│   ├── SeriesError                               ``series_error`` (entitlement, resolution …)
│   ├── CriticalError                             ``critical_error``: a session is dead
│   └── StudyError                                ``study_error``
├── WebSocketException                            transport failures (seed name)
│   ├── ConnectionClosed                          the socket closed (seed name)
│   └── RateLimitError                            HTTP 429 at the handshake, "max sessions rate"
├── TvTimeoutError (also TimeoutError)            an await ran out of time
├── DataNotFoundError                             expected data is not in the stream (seed name)
└── SymbolsError                                  several symbols of one call failed (``.errors``)

ShortHistoryWarning (UserWarning)                 fewer bars exist than were asked for
SymbolsFailedWarning (UserWarning)                some symbols failed; the rest was returned
```
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AuthError",
    "ConnectionClosed",
    "CriticalError",
    "DataNotFoundError",
    "FrameShapeError",
    "FramingError",
    "InvalidArgumentError",
    "InvalidIntervalError",
    "InvalidSymbolError",
    "MessageError",
    "MissingColumnsError",
    "ProtocolError",
    "RateLimitError",
    "SeriesError",
    "ServerError",
    "ShortHistoryWarning",
    "StudyError",
    "SymbolsError",
    "SymbolsFailedWarning",
    "TvFrameError",
    "TvFrameValidationError",
    "TvTimeoutError",
    "WebSocketException",
]


class TvFrameError(Exception):
    """Base of every exception tvframe raises on purpose."""


class TvFrameValidationError(TvFrameError, ValueError):
    """An argument is invalid; raised before any network call where possible."""


class InvalidSymbolError(TvFrameValidationError):
    """A symbol is malformed, or the server does not know it.

    Attributes:
        symbols: every offending symbol, so one error can name all of them.
    """

    def __init__(self, message: str, symbols: list[str] | None = None) -> None:
        super().__init__(message)
        self.symbols: list[str] = list(symbols or [])


class InvalidIntervalError(TvFrameValidationError):
    """An interval spelling is not understood (``1m`` is a minute, ``1M`` a month)."""


class InvalidArgumentError(TvFrameValidationError):
    """Any other argument out of range or of the wrong type."""


class ProtocolError(TvFrameError):
    """The server sent something the TradingView protocol does not allow."""


class FramingError(ProtocolError):
    """The ``~m~<len>~m~`` framing is broken; the stream cannot be resynchronised.

    Attributes:
        position: offset (characters) into the buffered text where parsing failed.
    """

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.position = position


class MessageError(ProtocolError):
    """A well-framed payload is not valid JSON or not of the shape its method requires."""


class ServerError(TvFrameError):
    """The server reported an error for a session, a series, a symbol or a study."""


class AuthError(ServerError):
    """The auth token was rejected (or the account banned / over its connection limit).

    Never retried: a new token is needed. The token itself is never part of the message.
    """


class SeriesError(ServerError):
    """The server refused a series (``series_error``): entitlement, resolution, symbol."""


class CriticalError(ServerError):
    """``critical_error``: the server killed a chart or quote session."""


class StudyError(ServerError):
    """``study_error``: the server refused or failed an indicator."""


class WebSocketException(TvFrameError):
    """A transport failure: the WebSocket could not be opened or used."""


class ConnectionClosed(WebSocketException):
    """The WebSocket closed while a call still needed it.

    Attributes:
        code: the close code when the server sent one (1005 when it sent none).
        reason: the close reason, possibly empty.
    """

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class TvTimeoutError(TvFrameError, TimeoutError):
    """An operation did not finish within its timeout."""


class DataNotFoundError(TvFrameError):
    """The stream ended without the data a call was waiting for."""


class RateLimitError(WebSocketException):
    """The server refused the connection for rate (HTTP 429) or session limits; back off."""


class FrameShapeError(TvFrameValidationError):
    """A frame lacks what OHLCV work needs.

    Attributes:
        missing: the absent or unusable columns (``"time"`` for the bar time).
    """

    def __init__(self, message: str, missing: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.missing: tuple[str, ...] = tuple(missing)


class MissingColumnsError(FrameShapeError, AttributeError):
    """:class:`FrameShapeError` as the ``AttributeError`` pandas' accessor protocol expects."""


class SymbolsError(TvFrameError):
    """Several symbols of one call failed for different reasons.

    Attributes:
        errors: each failed symbol and its error, in the order asked.
    """

    def __init__(self, message: str, errors: dict[str, TvFrameError]) -> None:
        super().__init__(message)
        self.errors = errors


class SymbolsFailedWarning(UserWarning):
    """Some symbols of a call failed (``errors="warn"``); the frame holds the others."""


class ShortHistoryWarning(UserWarning):
    """The server had fewer bars than asked for; the call returned what exists."""
