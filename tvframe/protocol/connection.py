"""The sans-I/O protocol object: ``receive(text)`` in, ``events()`` and ``data_to_send()`` out.

Heartbeats are echoed by the object itself (their echo appears in :meth:`data_to_send`).
A framing error is fatal and raised; a well-framed message that fails to decode is skipped,
counted in :attr:`Connection.skipped` and logged, so one bad message never kills a stream.

With ``defer_bars=True`` the numbers of big bar arrays are not parsed in :meth:`receive`:
they wait in :meth:`jobs` for the caller to parse on another thread (Arrow's parse releases
the GIL, so the reader reads on meanwhile) and to hand back with :meth:`resolve`. Events still
come out of :meth:`events` in arrival order: those behind an unparsed array wait for it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from tvframe.errors import MessageError
from tvframe.protocol.barscan import Columns
from tvframe.protocol.events import Event
from tvframe.protocol.framing import (
    DEFAULT_MAX_BUFFER,
    DEFAULT_MAX_MESSAGE,
    FrameDecoder,
    Heartbeat,
)
from tvframe.protocol.messages import (
    PendingBars,
    encode_message,
    join_message,
    split_message,
)

__all__ = ["Connection"]

logger = logging.getLogger(__name__)

#: Bar rows shorter than this are parsed in :meth:`Connection.receive` even when deferring:
#: a hand-off to another thread costs about what their parse would save (~1 000 bars).
DEFER_MIN_BYTES = 64 * 1024


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
        self,
        max_message: int = DEFAULT_MAX_MESSAGE,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        *,
        defer_bars: bool = False,
    ) -> None:
        self._decoder = FrameDecoder(max_message, max_buffer)
        self._defer = defer_bars
        self._events: list[Event] = []
        # Everything from the first unparsed bar array on, in arrival order.
        self._queue: deque[Event | PendingBars] = deque()
        self._jobs: list[PendingBars] = []
        # Parsed jobs by id() until they reach the queue's head (None: skipped).
        self._joined: dict[int, Event | None] = {}
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
                self._add(item)
                continue
            try:
                found = split_message(item)
                if isinstance(found, PendingBars) and not self._deferred(found):
                    found = join_message(found, found.text.parse())
            except MessageError as exc:
                self._skip(exc)
                continue
            if isinstance(found, PendingBars):
                self._jobs.append(found)
            self._add(found)

    def _deferred(self, pending: PendingBars) -> bool:
        return self._defer and len(pending.text.rows) >= DEFER_MIN_BYTES

    def _add(self, item: Event | PendingBars) -> None:
        if self._queue or isinstance(item, PendingBars):
            self._queue.append(item)
        else:
            self._events.append(item)

    def _skip(self, exc: MessageError) -> None:
        self.skipped += 1
        self.last_error = exc
        logger.warning("skipped a malformed server message: %s", exc)

    def jobs(self) -> list[PendingBars]:
        """Return and clear the bar arrays received since the last call and left to parse
        (only with ``defer_bars=True``): run ``job.text.parse()`` on any thread, then hand
        each result to :meth:`resolve` on this object's thread, in any order."""
        jobs, self._jobs = self._jobs, []
        return jobs

    def resolve(self, job: PendingBars, columns: Columns) -> None:
        """Hand back ``job.text.parse()``'s result (None: not all numbers; the message is then
        decoded as JSON). Its event, and those behind it, become ready for :meth:`events`."""
        try:
            event: Event | None = join_message(job, columns)
        except MessageError as exc:
            self._skip(exc)
            event = None
        self._joined[id(job)] = event

    def events(self) -> list[Event]:
        """Return and clear the events decoded so far, in arrival order (with
        ``defer_bars=True``: up to the first bar array not resolved yet)."""
        events, self._events = self._events, []
        queue = self._queue
        while queue:
            head = queue[0]
            if isinstance(head, PendingBars):
                if id(head) not in self._joined:
                    break
                event = self._joined.pop(id(head))
                if event is not None:
                    events.append(event)
            else:
                events.append(head)
            queue.popleft()
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
