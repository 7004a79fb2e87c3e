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
#: Frames up to this size are split at every marker at once (a live push: many small
#: messages); a bigger one is a history answer, one big message the header scan cuts faster.
_SPLIT_MAX = 1 << 16
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

    A message split over many frames is kept as a list of pieces and joined once, when its
    declared length has arrived: every character is copied a bounded number of times, so
    reassembly costs linear time however small the frames (:attr:`copied` counts the copies).

    Example:
        >>> d = FrameDecoder()
        >>> d.feed("~m~4~m~~h~1~m~2~m~{}")
        [Heartbeat(number=1, frame='~m~4~m~~h~1'), '{}']
    """

    __slots__ = ("_copied", "_held", "_need", "_pieces", "_units", "max_buffer", "max_message")

    def __init__(
        self, max_message: int = DEFAULT_MAX_MESSAGE, max_buffer: int = DEFAULT_MAX_BUFFER
    ) -> None:
        self.max_message = max_message
        self.max_buffer = max_buffer
        self._pieces: list[str] = []  # text of an incomplete message, as received
        self._held = 0  # characters in _pieces
        self._units = 0  # UTF-16 units in _pieces
        self._need = 0  # UTF-16 units that complete it; 0 while its header is incomplete
        self._copied = 0

    @property
    def buffered(self) -> int:
        """Characters held while waiting for the rest of a message."""
        return self._held

    @property
    def copied(self) -> int:
        """Characters of buffered text copied so far (joins and slices); linear in the input."""
        return self._copied

    def feed(self, text: str) -> list[str | Heartbeat]:
        """Add received text; return every complete payload (str) or Heartbeat, in order.

        Raises:
            FramingError: the text is not ``~m~``-framed, a length is malformed or over
                ``max_message``, or the buffer would exceed ``max_buffer``. The decoder is
                unusable afterwards: the stream position is lost.
        """
        if not self._pieces:
            return self._decode(text)
        self._pieces.append(text)
        self._held += len(text)
        self._units += utf16_len(text)
        if self._units < self._need:
            self._check_held(self._held, 0)
            return []
        data = "".join(self._pieces)
        self._copied += len(data)
        return self._decode(data)

    def _decode(self, data: str) -> list[str | Heartbeat]:
        """Parse ``data`` from its start; hold what is left of an incomplete message."""
        whole = _whole_messages(data, self.max_message)
        if whole is not None:
            self._pieces, self._held, self._units, self._need = [], 0, 0, 0
            return whole
        out: list[str | Heartbeat] = []
        pos, need = self._parse(data, out)
        if pos >= len(data):
            self._pieces, self._held, self._units, self._need = [], 0, 0, 0
            return out
        rest = data[pos:]
        self._check_held(len(rest), pos)
        self._copied += len(rest)
        self._pieces, self._held, self._units, self._need = [rest], len(rest), utf16_len(rest), need
        return out

    def _check_held(self, held: int, pos: int) -> None:
        if held > self.max_buffer:
            raise FramingError(
                f"{held} buffered characters exceed max_buffer={self.max_buffer}", pos
            )

    def _parse(self, data: str, out: list[str | Heartbeat]) -> tuple[int, int]:
        """Append complete messages of ``data`` to ``out``.

        Returns:
            Where parsing stopped, and the UTF-16 units the message starting there needs
            (0 when its header is not complete yet).
        """
        pos = 0
        end = len(data)
        ascii_only = data.isascii()
        while pos < end:
            body, length = self._header(data, pos)
            if body < 0:
                return pos, 0
            if ascii_only:
                stop = body + length
                if stop > end:
                    return pos, stop - pos
            else:
                stop = _units_to_chars(data, body, length)
                if stop < 0:
                    return pos, body - pos + length  # the header is ASCII: one unit a character
            out.append(_payload(data, pos, body, stop))
            pos = stop
        return pos, 0

    def _header(self, data: str, pos: int) -> tuple[int, int]:
        """Start and declared length of the body framed at ``pos``; (-1, 0) if cut short."""
        if not data.startswith(_MARK, pos):
            if len(data) - pos < 3 and _MARK.startswith(data[pos:]):
                return -1, 0  # a frame ended inside the next marker
            raise FramingError(f"expected '~m~' at offset {pos}, got {data[pos : pos + 16]!r}", pos)
        digits_start = pos + 3
        digits_end = data.find(_MARK, digits_start, digits_start + _MAX_DIGITS + 3)
        if digits_end < 0:
            if _PARTIAL_PREFIX.match(data, digits_start):
                return -1, 0  # the length prefix itself is split across frames
            raise FramingError(
                f"malformed length prefix at offset {pos}: {data[pos : pos + 24]!r}", pos
            )
        digits = data[digits_start:digits_end]
        if not digits.isdigit() or not digits.isascii():
            raise FramingError(f"length {digits!r} at offset {pos} is not a number", pos)
        length = int(digits)
        if length > self.max_message:
            raise FramingError(
                f"message of {length} units at offset {pos} exceeds max_message={self.max_message}",
                pos,
            )
        return digits_end + 3, length


def _payload(data: str, pos: int, body: int, stop: int) -> str | Heartbeat:
    payload = data[body:stop]
    if not payload.startswith(_HEARTBEAT):
        return payload
    heartbeat = _heartbeat(payload, data[pos:stop])
    if heartbeat is None:
        raise FramingError(f"malformed heartbeat {payload!r} at offset {pos}", pos)
    return heartbeat


def _heartbeat(payload: str, frame: str) -> Heartbeat | None:
    number = payload[3:]
    if not number.isdigit() or not number.isascii() or len(number) > 18:
        return None
    return Heartbeat(int(number), frame)


def _whole_messages(data: str, max_message: int) -> list[str | Heartbeat] | None:
    """The messages of ``data`` when it is whole ASCII messages, none with the marker in its
    body (every live frame): one split finds them all, instead of a scan per message.

    None otherwise (a message cut at the frame's end, a marker inside a body, anything
    malformed), and the scan decides. Where every declared length matches the text between
    two markers, the scan would cut the same messages, so both agree.
    """
    if len(data) > _SPLIT_MAX or not data.isascii():
        return None
    parts = data.split(_MARK)
    if parts[0] or not len(parts) & 1:
        return None
    prefixes, bodies = parts[1::2], parts[2::2]
    # Each check runs over all the messages at once, in C.
    if not "".join(prefixes).isdigit() or max(map(len, prefixes)) > _MAX_DIGITS:
        return None
    try:
        lengths = list(map(int, prefixes))
    except ValueError:  # an empty prefix
        return None
    if lengths != list(map(len, bodies)) or max(lengths) > max_message:
        return None
    if _MARK + _HEARTBEAT not in data:  # no body starts with a heartbeat's prefix
        return bodies  # type: ignore[return-value]
    out: list[str | Heartbeat] = []
    for digits, body in zip(prefixes, bodies, strict=True):
        if body.startswith(_HEARTBEAT):
            heartbeat = _heartbeat(body, f"{_MARK}{digits}{_MARK}{body}")
            if heartbeat is None:
                return None
            out.append(heartbeat)
        else:
            out.append(body)
    return out
