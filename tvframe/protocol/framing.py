"""``~m~<len>~m~<payload>`` framing: text in, payloads and heartbeats out. No I/O.

Rules (``protocol.md`` §2):
- one WebSocket text frame may hold many messages, and a message may be split over frames,
  so the decoder buffers until a payload is complete;
- ``<len>`` counts UTF-16 code units (JavaScript ``String.length``), not bytes and not code
  points: a production ``qsd`` with Korean text declared 99 for 113 UTF-8 bytes (SDK capture);
- a heartbeat payload is ``~h~<n>``; the client echoes the identical framed text.

Limits are explicit: a declared length above ``max_message`` or buffered text above
``max_buffer`` raises :class:`~tvframe.errors.FramingError` instead of growing memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tvframe.errors import FramingError

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_MAX_MESSAGE",
    "FrameDecoder",
    "Heartbeat",
    "encode_frame",
    "encode_heartbeat",
    "utf16_len",
]

_MARK = "~m~"
_HEARTBEAT = "~h~"
#: Largest payload accepted, in UTF-16 units. Prodata sends 20 000 bars (~1.9 MB) in one message.
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024
#: Largest amount of not-yet-complete text kept between frames.
DEFAULT_MAX_BUFFER = 128 * 1024 * 1024
_MAX_DIGITS = 10
# What may stand at the end of a frame when a length prefix is cut: digits, then part of "~m~".
_PARTIAL_PREFIX = re.compile(r"[0-9]{0,10}(?:~m?)?\Z")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A ``~h~<n>`` keep-alive. ``frame`` is the exact text to echo back."""

    number: int
    frame: str


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as TradingView counts it.

    Example:
        >>> utf16_len("a😀")
        3
    """
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def encode_frame(payload: str) -> str:
    """Frame one payload.

    Example:
        >>> encode_frame('{"m":"x","p":[]}')
        '~m~16~m~{"m":"x","p":[]}'
    """
    return f"{_MARK}{utf16_len(payload)}{_MARK}{payload}"


def encode_heartbeat(number: int) -> str:
    """The framed heartbeat ``~m~<len>~m~~h~<number>``.

    Example:
        >>> encode_heartbeat(10)
        '~m~5~m~~h~10'
    """
    return encode_frame(f"{_HEARTBEAT}{number}")


def _units_to_chars(text: str, start: int, units: int) -> int:
    """Index in ``text`` after ``units`` UTF-16 units from ``start``; -1 if text runs out.

    Raises FramingError when the count ends inside a surrogate pair.
    """
    # Jump between astral characters (two units each) with a C-level search: a Python loop
    # over every character made a long non-ASCII message split over many frames crawl.
    pos = start
    remaining = units
    while remaining > 0:
        astral = _ASTRAL.search(text, pos, pos + remaining)
        if astral is None:
            return pos + remaining if pos + remaining <= len(text) else -1
        remaining -= astral.start() - pos
        if remaining == 1:
            raise FramingError(
                f"declared length {units} ends inside a surrogate pair at offset {start}", start
            )
        remaining -= 2
        pos = astral.start() + 1
    return pos


class FrameDecoder:
    """Incremental decoder: feed text with :meth:`feed`, get payloads and heartbeats back.

    Example:
        >>> d = FrameDecoder()
        >>> d.feed("~m~4~m~~h~1~m~2~m~{}")
        [Heartbeat(number=1, frame='~m~4~m~~h~1'), '{}']
    """

    __slots__ = ("_buffer", "max_buffer", "max_message")

    def __init__(
        self, max_message: int = DEFAULT_MAX_MESSAGE, max_buffer: int = DEFAULT_MAX_BUFFER
    ) -> None:
        self.max_message = max_message
        self.max_buffer = max_buffer
        self._buffer = ""

    @property
    def buffered(self) -> int:
        """Characters held while waiting for the rest of a message."""
        return len(self._buffer)

    def feed(self, text: str) -> list[str | Heartbeat]:
        """Add received text; return every complete payload (str) or Heartbeat, in order.

        Raises:
            FramingError: the text is not ``~m~``-framed, a length is malformed or over
                ``max_message``, or the buffer would exceed ``max_buffer``. The decoder is
                unusable afterwards: the stream position is lost.
        """
        data = self._buffer + text if self._buffer else text
        out: list[str | Heartbeat] = []
        pos = 0
        end = len(data)
        ascii_only = data.isascii()
        while pos < end:
            if not data.startswith(_MARK, pos):
                if end - pos < 3 and _MARK.startswith(data[pos:]):
                    break  # a frame ended inside the next marker
                raise FramingError(
                    f"expected '~m~' at offset {pos}, got {data[pos : pos + 16]!r}", pos
                )
            digits_start = pos + 3
            digits_end = data.find(_MARK, digits_start, digits_start + _MAX_DIGITS + 3)
            if digits_end < 0:
                if _PARTIAL_PREFIX.match(data, digits_start):
                    break  # the length prefix itself is split across frames
                raise FramingError(
                    f"malformed length prefix at offset {pos}: {data[pos : pos + 24]!r}", pos
                )
            digits = data[digits_start:digits_end]
            if not digits.isdigit() or not digits.isascii():
                raise FramingError(f"length {digits!r} at offset {pos} is not a number", pos)
            length = int(digits)
            if length > self.max_message:
                raise FramingError(
                    f"message of {length} units at offset {pos} exceeds "
                    f"max_message={self.max_message}",
                    pos,
                )
            body = digits_end + 3
            if ascii_only:
                stop = body + length
                if stop > end:
                    break
            else:
                stop = _units_to_chars(data, body, length)
                if stop < 0:
                    break
            payload = data[body:stop]
            if payload.startswith(_HEARTBEAT):
                number = payload[3:]
                if not number.isdigit() or not number.isascii() or len(number) > 18:
                    raise FramingError(f"malformed heartbeat {payload!r} at offset {pos}", pos)
                out.append(Heartbeat(int(number), data[pos:stop]))
            else:
                out.append(payload)
            pos = stop
        rest = data[pos:] if pos < end else ""
        if len(rest) > self.max_buffer:
            raise FramingError(
                f"{len(rest)} buffered characters exceed max_buffer={self.max_buffer}", pos
            )
        self._buffer = rest
        return out
