"""Byte templates of JSON events: recognise an event by its bytes, and write one the same way.

A stream repeats one event shape thousands of times, token after token, with only the text
(and in the Responses API the sequence number) changing. A ``ByteTemplate`` is the
serialisation of such an event cut at those values, its *holes*: later events are recognised
by comparing the bytes around the holes, and rewritten ones are written by joining the
template's pieces around the new values, so neither takes a JSON parse or a dict.

A template is made from a payload holding sentinels (``TEXT_HOLE``, ``number_hole(k)``) where
the values go, serialised by the same backend (``wire/json.py``) as the general path, so a
filled template is byte for byte the serialisation of the filled payload.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from . import json as _json

if TYPE_CHECKING:
    from collections.abc import Sequence

# Private-use characters, written by both JSON backends as they are (no escape): a sentinel
# is found in the serialisation as its own UTF-8 bytes between quotes.
TEXT_HOLE: Final = "\ue000asgi-reasoning-text\ue001"
"""Stands for the event's text (a JSON string) in a payload a template is made from."""

_NUMBER_HOLE: Final = "\ue000asgi-reasoning-number-{}\ue001"
# A sentinel as the backends write it: the quotes, the opening private-use character (UTF-8).
_HOLE_START: Final = b'"\xee\x80\x80asgi-reasoning-'
_HOLE_END: Final = b'\xee\x80\x81"'
# A JSON string whose bytes are its value's UTF-8 as they are: no escape, no control
# character, no quote inside.
_ESCAPED_OR_INVALID: Final = re.compile(b'[\\x00-\\x1f"\\\\]')
_TEXT: Final = -1


def number_hole(offset: int) -> str:
    """Stands for a sequence number: the event's own (0), or the k-th after it (``k``)."""
    return _NUMBER_HOLE.format(offset)


class ByteTemplate:
    """The bytes of a serialised event, cut at its holes.

    ``pieces`` has one more item than ``holes``; each hole is ``-1`` for the text or the
    offset ``k`` of a sequence number.
    """

    __slots__ = ("head", "holes", "pieces", "tail")

    def __init__(self, pieces: Sequence[bytes], holes: Sequence[int]) -> None:
        self.pieces = tuple(pieces)
        self.holes = tuple(holes)
        self.head = self.pieces[0]
        self.tail = self.pieces[-1]

    @classmethod
    def cut(cls, serialised: bytes) -> ByteTemplate:
        """The template of bytes holding hole sentinels (serialised ``TEXT_HOLE`` etc.)."""
        pieces: list[bytes] = []
        holes: list[int] = []
        start = 0
        while (found := serialised.find(_HOLE_START, start)) >= 0:
            name_start = found + len(_HOLE_START)
            name_end = serialised.find(_HOLE_END, name_start)
            name = serialised[name_start:name_end]
            pieces.append(serialised[start:found])
            holes.append(_TEXT if name == b"text" else int(name.removeprefix(b"number-")))
            start = name_end + len(_HOLE_END)
        pieces.append(serialised[start:])
        return cls(pieces, holes)

    def match(self, raw: bytes) -> tuple[bytes, int] | None:
        """``(text token, number)`` when ``raw`` is this template filled; ``None`` otherwise.

        For a template of one text hole and at most one number (an event as it comes in; an
        answer may have more). The token is the JSON string as it came, quotes included; the
        number is the filled sequence number (``-1`` when the template has none). An event is
        recognised only when every piece is where the template has it and the number is
        written as JSON writes it; whether the token is a valid string is for ``read_text``.
        """
        head, tail = self.head, self.tail
        end = len(raw) - len(tail)
        if not raw.startswith(head) or not raw.endswith(tail) or end < len(head):
            return None
        pieces = self.pieces
        if len(pieces) == 2:
            # Chat Completions and Messages: the text is the only hole.
            return raw[len(head) : end], -1
        if len(pieces) == 3:
            # The Responses API: the text and the sequence number, in either order.
            middle = pieces[1]
            upto = raw.find(middle, len(head), end)
            if upto < 0:
                return None
            first, second = raw[len(head) : upto], raw[upto + len(middle) : end]
            token, digits = (first, second) if self.holes[0] == _TEXT else (second, first)
            if not digits.isdigit() or (len(digits) > 1 and digits[0] == 0x30):
                return None
            return token, int(digits)
        return None

    def fill(self, token: bytes, number: int) -> bytes:
        """The event with the text ``token`` (a JSON string), numbered from ``number``."""
        pieces = self.pieces
        if len(pieces) == 2:
            return pieces[0] + token + pieces[1]
        if len(pieces) == 3:
            first, second = self.holes
            return b"".join(
                (
                    pieces[0],
                    token if first == _TEXT else str(number + first).encode(),
                    pieces[1],
                    token if second == _TEXT else str(number + second).encode(),
                    pieces[2],
                )
            )
        parts = [pieces[0]]
        for hole, piece in zip(self.holes, pieces[1:], strict=True):
            parts.append(token if hole == _TEXT else str(number + hole).encode())
            parts.append(piece)
        return b"".join(parts)


def read_text(token: bytes) -> str | None:
    """The value of ``token`` if it is exactly one JSON string, else ``None``."""
    if (
        len(token) >= 2
        and token[0] == 0x22
        and token[-1] == 0x22
        and _ESCAPED_OR_INVALID.search(token, 1, len(token) - 1) is None
    ):
        try:
            return token[1:-1].decode()
        except UnicodeDecodeError:
            return None
    try:
        value = _json.loads(token)
    except _json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None


def written_text(token: bytes, text: str) -> bytes:
    """``text`` as the JSON backend writes it; ``token`` (its reading) when that is the same."""
    # Without an escape the token is the backend's own writing: both escape exactly the
    # quote, the backslash and control characters, and write everything else as UTF-8.
    return token if token.find(b"\\") < 0 else _json.dumps(text)
