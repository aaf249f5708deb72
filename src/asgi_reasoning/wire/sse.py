"""Incremental, byte-level parser for `text/event-stream` bodies.

`SSEParser.feed(chunk)` takes the body of a streamed response in whatever pieces the
application sends and returns every event that those bytes complete, in order, each with
the exact bytes it was made of, so that an event nobody changes can be forwarded byte for
byte. `encode_event()` builds the bytes of an event whose data was rewritten. No I/O, no
event loop: bytes in, values out (the h11 and httpx decoder model).

What the parser guarantees:

* Concatenating the `raw` of every item returned by `feed()` and `finish()`, in order,
  gives back exactly the bytes fed.
* Chunk invariance: any split of the same bytes into chunks yields the same sequence of
  `SSEEvent` values. (Only how the bytes after a give-up, see below, are cut into
  `SSERaw` items depends on the chunks.)
* Lines end at CR, LF or CRLF, as the SSE specification says; nothing else splits a line.
  A CRLF cut between two chunks is one line end. Work is linear in the bytes fed, however
  small the chunks.

What it interprets: only the `data` field, which is all the rewriting needs. `event:`,
`id:`, `retry:`, comments and unknown fields stay in `raw` untouched; `encode_event()`
keeps them.

Intentional divergences from a browser's `EventSource`:

1. Every block ended by a blank line is returned, including comment-only blocks
   (`: ping`), blocks without a data field and extra blank lines (each its own event with
   `data is None`), because the middleware must forward them. The spec would dispatch none
   of these.
2. A byte order mark (U+FEFF) at the very start of the stream, which the spec strips, is
   returned as its own `SSERaw` item before the first event, so that it is forwarded but
   never part of an event.
3. An event whose blank line ends in a CR that is the last byte received so far is held
   until the next byte shows whether an LF follows (an LF then belongs to the same line
   end and to this event's `raw`). Streams using CRLF or LF are not delayed by this;
   a stream using bare CR line ends sees each event one chunk late (or at `finish()`).
4. `finish()` returns bytes of an unterminated event as `SSERaw`: a client discards such
   an event, so it is forwarded as it is and not interpreted.

The cap: an event longer than `max_event_size` bytes (default 1 MiB), whether it is still
incomplete or arrives whole, ends parsing for the rest of the stream. From then on
`is_passthrough` is true and the bytes of that event, and of every later chunk, are
returned as `SSERaw` without being looked at (h11's `max_incomplete_event_size` plays the
same role). The parser therefore never holds more than `max_event_size` bytes plus one
chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BOM",
    "DEFAULT_MAX_EVENT_SIZE",
    "SSEEvent",
    "SSEParser",
    "SSERaw",
    "encode_event",
    "encode_without_data",
]

DEFAULT_MAX_EVENT_SIZE: Final = 1 * 1024 * 1024

_CR: Final = 13
_LF: Final = 10
_SPACE: Final = 32
_COLON: Final = 58
BOM: Final = b"\xef\xbb\xbf"
"""The byte order mark a stream may start with, returned as its own ``SSERaw``."""
_LINE_END: Final = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: a block of lines ended by a blank line.

    `raw` holds the exact bytes of the event, from its first line through the line end of
    the blank line that ended it. `data` is the value of its data field(s), one leading
    space after `data:` removed, several lines joined by `b"\\n"`; `None` when the event has
    no data line at all (a comment-only block such as `: ping`). `line_ending` is the line
    end of the event's first line (`b"\\n"`, `b"\\r\\n"` or `b"\\r"`).
    """

    raw: bytes
    data: bytes | None
    line_ending: bytes


@dataclass(frozen=True, slots=True)
class SSERaw:
    """Bytes passed through without being parsed: see `SSEParser.finish` and the cap."""

    raw: bytes


class SSEParser:
    """Split a `text/event-stream` body, fed in arbitrary chunks, into events.

    `max_event_size` is the largest event, in bytes, that is parsed; a longer one makes the
    parser pass everything from that event on through as `SSERaw` (see the module docstring).
    """

    __slots__ = (
        "_buffer",
        "_data_lines",
        "_event_line_ending",
        "_is_at_stream_start",
        "_is_finished",
        "_is_idle",
        "_is_passthrough",
        "_line_start",
        "_max_event_size",
        "_search_from",
    )

    # `object`, not `int`: the compiled build checks an annotated type before this check can
    # name the argument, with a message that does not.
    def __init__(self, max_event_size: object = DEFAULT_MAX_EVENT_SIZE) -> None:
        if isinstance(max_event_size, bool) or not isinstance(max_event_size, int):
            raise TypeError(f"max_event_size must be an int, not {type(max_event_size).__name__}")
        if max_event_size < 1:
            raise ValueError(f"max_event_size must be at least 1, not {max_event_size}")
        self._max_event_size = max_event_size
        # Bytes of the current, incomplete event; index 0 is where that event starts.
        self._buffer = bytearray()
        # Where the current, incomplete line starts in `_buffer`.
        self._line_start = 0
        # Bytes of `_buffer` before this index hold no line end that is still to be handled.
        self._search_from = 0
        self._data_lines: list[bytes] = []
        self._event_line_ending: bytes | None = None
        self._is_at_stream_start = True
        self._is_passthrough = False
        self._is_finished = False
        # True when nothing is buffered and no special state applies, so that `feed` may take
        # its shortcut for a chunk that is exactly one single-line data event.
        self._is_idle = False

    @property
    def is_between_events(self) -> bool:
        """Nothing is buffered: a chunk ending in a blank line holds only whole events."""
        return self._is_idle

    @property
    def max_event_size(self) -> int:
        """The largest event parsed, in bytes."""
        return self._max_event_size

    @property
    def is_passthrough(self) -> bool:
        """True once an event exceeded `max_event_size`: all later bytes come back as `SSERaw`."""
        return self._is_passthrough

    def feed(self, chunk: bytes) -> list[SSEEvent | SSERaw]:
        """Take the next piece of the body; return the events and raw bytes it completes."""
        plain = self.match_plain_event(chunk)
        if plain is not None:
            return [SSEEvent(chunk, *plain)]
        named = self._match_named_event(chunk)
        if named is not None:
            return [named]
        return self._feed_bytes(chunk)

    def _match_named_event(self, chunk: bytes) -> SSEEvent | None:
        """The event when ``chunk`` is exactly `event: X`, `data: Y` and the blank line (LF).

        The Responses and Messages APIs send one such event per body message; recognised
        with a few C-level calls, as ``match_plain_event`` does for data-only events.
        """
        if (
            not self._is_idle
            or not chunk.startswith(b"event:")
            or len(chunk) > self._max_event_size
            or not chunk.endswith(b"\n\n")
            or chunk.find(b"\r") >= 0
        ):
            return None
        data_line = chunk.find(b"\n") + 1
        if (
            not chunk.startswith(b"data:", data_line)
            or chunk.find(b"\n", data_line) != len(chunk) - 2
        ):
            return None
        value_start = data_line + 5
        if chunk[value_start] == _SPACE:
            value_start += 1
        return SSEEvent(chunk, chunk[value_start:-2], b"\n")

    def match_plain_event(self, chunk: bytes) -> tuple[bytes, bytes] | None:
        """``(data, line_ending)`` when ``chunk`` is one whole single-line data event.

        Only while nothing is buffered; the parser's state does not change, so a caller may
        handle such a chunk itself instead of calling ``feed``. ``None`` otherwise.
        """
        if not self._is_idle:
            return None
        # The common case, one chunk per token: `data: {json}\n\n` (vLLM, SGLang, the
        # OpenAI API) or the same with CRLF (sse-starlette), recognised with a few C-level
        # calls instead of the line scanner. The first LF being the second-to-last byte (or
        # third-to-last, for CRLF) and no other CR proves it is one data line followed by
        # the blank line.
        size = len(chunk)
        # The shortest such event is `data:\n\n`.
        if not 7 <= size <= self._max_event_size or not chunk.startswith(b"data:"):
            return None
        first_lf = chunk.find(b"\n")
        value_start = 6 if chunk[5] == _SPACE else 5
        if first_lf == size - 2 and chunk[-1] == _LF and chunk.find(b"\r") < 0:
            return chunk[value_start:first_lf], b"\n"
        if (
            first_lf == size - 3
            and chunk[-1] == _LF
            and chunk.find(b"\r") == size - 4
            and chunk[-2] == _CR
        ):
            return chunk[value_start : size - 4], b"\r\n"
        return None

    def finish(self) -> list[SSEEvent | SSERaw]:
        """Signal the end of the body; return what was still held.

        A CR held back at the end now counts as a line end, which may complete an event.
        Bytes of an event without its terminating blank line come back as one `SSERaw`.
        Calling `finish` again returns nothing; `feed` after `finish` raises `RuntimeError`.
        """
        if self._is_finished:
            return []
        self._is_finished = True
        self._is_idle = False
        items: list[SSEEvent | SSERaw] = []
        buffer = self._buffer
        if self._is_passthrough or not buffer:
            return items
        if not self._is_at_stream_start:
            consumed = self._scan(buffer, items, is_final=True)
            del buffer[:consumed]
        if buffer:
            items.append(SSERaw(bytes(buffer)))
        buffer.clear()
        return items

    def _feed_bytes(self, chunk: bytes) -> list[SSEEvent | SSERaw]:
        if self._is_finished:
            raise RuntimeError("SSEParser.feed() called after finish()")
        if not chunk:
            return []
        if self._is_passthrough:
            return [SSERaw(chunk)]
        items: list[SSEEvent | SSERaw] = []
        buffer = self._buffer
        if self._is_at_stream_start:
            buffer += chunk
            if len(buffer) < len(BOM) and BOM.startswith(buffer):
                return items
            self._is_at_stream_start = False
            if buffer.startswith(BOM):
                items.append(SSERaw(BOM))
                del buffer[: len(BOM)]
            chunk = bytes(buffer)
            buffer.clear()
        # Scan the chunk itself when nothing is buffered: slices of it are already `bytes`,
        # and only an incomplete tail needs copying into the buffer.
        if buffer:
            buffer += chunk
            consumed = self._scan(buffer, items, is_final=False)
            del buffer[:consumed]
        else:
            consumed = self._scan(chunk, items, is_final=False)
            buffer += chunk[consumed:]
        if self._is_passthrough or len(buffer) > self._max_event_size:
            self._give_up(items)
        self._is_idle = not buffer and not self._is_passthrough
        return items

    def _scan(
        self, text: bytes | bytearray, items: list[SSEEvent | SSERaw], *, is_final: bool
    ) -> int:
        """Handle every line end in `text` not yet handled; return the bytes consumed.

        `text` starts at the current event's first byte. Complete events are appended to
        `items`; the returned count is where the next, incomplete event starts. A CR that
        is the last byte of `text` is left for the next call unless `is_final`, because
        an LF may follow it.
        """
        size = len(text)
        event_start = 0
        line_start = self._line_start
        position = self._search_from
        # Positions of the next LF and CR, found once and reused until passed, so that each
        # byte is searched over once per call however the line ends are mixed. `size` stands
        # for "none left": a -1 would compare below every position and send the search over
        # the rest of the text again after each line (O(lines x bytes) for LF-only streams).
        next_lf = _find(text, b"\n", position, size)
        next_cr = _find(text, b"\r", position, size)
        while next_lf < size or next_cr < size:
            if next_lf < next_cr:
                line_end = next_lf
                line_ending = b"\n"
            elif next_cr + 1 < size:
                line_end = next_cr
                line_ending = b"\r\n" if text[next_cr + 1] == _LF else b"\r"
            elif is_final:
                line_end = next_cr
                line_ending = b"\r"
            else:
                position = next_cr
                break
            position = line_end + len(line_ending)
            if next_lf < position:
                next_lf = _find(text, b"\n", position, size)
            if next_cr < position:
                next_cr = _find(text, b"\r", position, size)
            if self._event_line_ending is None:
                self._event_line_ending = line_ending
            if line_start == line_end:
                raw = bytes(text[event_start:position])
                if len(raw) > self._max_event_size:
                    # The caller sees the flag and returns this event's bytes and the rest raw.
                    self._is_passthrough = True
                    return event_start
                data_lines = self._data_lines
                if not data_lines:
                    data = None
                elif len(data_lines) == 1:
                    data = data_lines[0]
                else:
                    data = b"\n".join(data_lines)
                items.append(SSEEvent(raw, data, self._event_line_ending))
                self._data_lines = []
                self._event_line_ending = None
                event_start = position
            elif text.startswith(b"data", line_start, line_end):
                name_end = line_start + 4
                if name_end == line_end:
                    self._data_lines.append(b"")
                elif text[name_end] == _COLON:
                    value_start = name_end + 1
                    if value_start < line_end and text[value_start] == _SPACE:
                        value_start += 1
                    self._data_lines.append(bytes(text[value_start:line_end]))
            line_start = position
        else:
            position = size
        self._line_start = line_start - event_start
        self._search_from = position - event_start
        return event_start

    def _give_up(self, items: list[SSEEvent | SSERaw]) -> None:
        self._is_passthrough = True
        if self._buffer:
            items.append(SSERaw(bytes(self._buffer)))
        self._buffer = bytearray()
        self._data_lines = []
        self._event_line_ending = None
        self._line_start = self._search_from = 0


def _find(text: bytes | bytearray, byte: bytes, start: int, size: int) -> int:
    """Where ``byte`` next occurs in ``text`` from ``start``; ``size`` when it does not."""
    found = text.find(byte, start)
    return size if found < 0 else found


def _is_data_line(line: bytes) -> bool:
    return line == b"data" or line.startswith(b"data:")


def _is_event_line(line: bytes) -> bool:
    return line == b"event" or line.startswith(b"event:")


def encode_event(event: SSEEvent, data: bytes) -> bytes:
    """`event` with its data replaced by `data`.

    Every non-data line (comments, `event:`, `id:`, `retry:`, unknown fields) is kept in
    order; the data line(s) are replaced by one `data: <line>` for each line of `data`
    (split at LF, CRLF or CR, so that `data` cannot break the framing) at the position of
    the first original data line, or just before the blank line when the event had none.
    The event's own `line_ending` is used throughout, and the result ends with the blank
    line. `encode_event(event, event.data)` is an equivalent event, not always the same
    bytes (`data:x` becomes `data: x`, mixed line ends become one kind).
    """
    line_ending = event.line_ending
    raw = event.raw
    # A CR would end a line too, so CR, LF and CRLF in `data` all start a new data line.
    is_one_line = data.find(b"\n") < 0 and data.find(b"\r") < 0
    if (
        is_one_line
        and raw.startswith(b"data:")
        and raw.find(line_ending) == len(raw) - 2 * len(line_ending)
    ):
        # The common case: a single data line and the blank line, nothing else to keep.
        return b"data: " + data + line_ending + line_ending
    if is_one_line and raw.startswith(b"event:"):
        # The Responses and Messages shape: one event line, one data line, the blank line.
        data_line = raw.find(line_ending) + len(line_ending)
        if raw.startswith(b"data:", data_line) and raw.find(line_ending, data_line) == len(
            raw
        ) - 2 * len(line_ending):
            return raw[:data_line] + b"data: " + data + line_ending + line_ending
    if is_one_line:
        data_block = b"data: " + data + line_ending
    else:
        data_block = b"".join(b"data: " + line + line_ending for line in _LINE_END.split(data))
    # Drop the blank line that ends the event: the last two pieces of the split.
    lines = _LINE_END.split(raw)[:-2]
    before_data: list[bytes] = []
    after_data: list[bytes] = []
    kept = before_data
    for line in lines:
        if _is_data_line(line):
            kept = after_data
        else:
            kept.append(line + line_ending)
    return b"".join(before_data) + data_block + b"".join(after_data) + line_ending


def encode_without_data(event: SSEEvent) -> bytes:
    """``event`` without its data lines, or ``b""`` when nothing else is in it.

    For an event whose data is dropped: its ``id:`` and ``retry:`` lines still take effect
    (the SSE specification sets the last event ID even for an event with no data, which is
    not dispatched), and its comments and other fields stay in order. Its ``event:`` line
    goes too: alone it says nothing, and some SSE clients hand it on as an event with empty
    data (the count of such events would reveal what strip dropped).
    """
    lines = _LINE_END.split(event.raw)[:-2]
    kept = [
        line + event.line_ending
        for line in lines
        if not _is_data_line(line) and not _is_event_line(line)
    ]
    if not kept:
        return b""
    return b"".join(kept) + event.line_ending
