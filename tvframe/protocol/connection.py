"""The sans-I/O protocol object: ``receive(text)`` in, ``events()`` and ``data_to_send()`` out.

Heartbeats are echoed by the object itself (their echo appears in :meth:`data_to_send`).
A framing error is fatal and raised; a well-framed message that fails to decode is skipped,
counted in :attr:`Connection.skipped` and logged, so one bad message never kills a stream.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from tvframe.errors import MessageError
from tvframe.protocol.events import Event
from tvframe.protocol.framing import (
    DEFAULT_MAX_BUFFER,
    DEFAULT_MAX_MESSAGE,
    FrameDecoder,
    Heartbeat,
)
from tvframe.protocol.messages import decode_message, encode_message

__all__ = ["Connection"]

logger = logging.getLogger(__name__)


class Connection:
    """One TradingView WebSocket's protocol state, without the socket.

    Example:
        >>> c = Connection()
        >>> c.receive("~m~4~m~~h~7")
        >>> c.events()
        [Heartbeat(number=7, frame='~m~4~m~~h~7')]
        >>> c.data_to_send()
        ['~m~4~m~~h~7']
    """

    def __init__(
        self, max_message: int = DEFAULT_MAX_MESSAGE, max_buffer: int = DEFAULT_MAX_BUFFER
    ) -> None:
        self._decoder = FrameDecoder(max_message, max_buffer)
        self._events: list[Event] = []
        self._outgoing: list[str] = []
        self._echoes: list[str] = []
        #: Messages that were well framed but could not be decoded (each logged).
        self.skipped = 0
        #: The last decode failure, for diagnostics.
        self.last_error: MessageError | None = None

    def receive(self, text: str) -> None:
        """Feed one received WebSocket text frame.

        Raises:
            FramingError: the framing is broken; the connection must be dropped.
        """
        for item in self._decoder.feed(text):
            if isinstance(item, Heartbeat):
                self._echoes.append(item.frame)
                self._events.append(item)
                continue
            try:
                self._events.append(decode_message(item))
            except MessageError as exc:
                self.skipped += 1
                self.last_error = exc
                logger.warning("skipped a malformed server message: %s", exc)

    def events(self) -> list[Event]:
        """Return and clear the events decoded so far, in arrival order."""
        events, self._events = self._events, []
        return events

    def send(self, method: str, params: Sequence[Any]) -> None:
        """Queue a client method call."""
        self._outgoing.append(encode_message(method, params))

    def data_to_send(self) -> list[str]:
        """Return and clear the text frames to write: heartbeat echoes alone in their own
        frame (as the web app sends them), queued calls batched into one frame."""
        frames = self._echoes
        self._echoes = []
        if self._outgoing:
            frames.append("".join(self._outgoing))
            self._outgoing = []
        return frames
