"""Response bodies, bytes in and out, for any wire API: a streamed SSE body or a whole JSON one.

The API module (``apis/``) rewrites parsed payloads; this layer owns the framing, the JSON
backend, the shortcut that forwards events without parsing them, the byte-level fast path for
text deltas (``SSEBodyRewriter``, ``wire/templates.py``), and failure handling. Sans-I/O like
the modules it joins.

Failure handling depends on the mode (DESIGN.md §17):

- ``separate`` fails open: what cannot be read or rewritten (invalid JSON, an event over
  ``max_event_size``, an exception in a rewriter) goes out as the app's own bytes, and after
  an exception mid-stream the rest of the stream does too. Text the rewriter held goes out
  first, so nothing is lost or repeated.
- ``strip`` fails closed: the same cases, and data the rewriter cannot vouch for (an event
  without its blank line at the end of the body, non-JSON data), are replaced by an error in
  the API's own shape (``WireAPI.error_body`` / ``error_event``), and the log says why. A
  stream then ends with that error event; every later byte of the app's body is dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from .text.splitter import compile_grammar
from .wire import json as _json
from .wire.sse import BOM, SSEEvent, SSEParser, SSERaw, encode_event, encode_without_data
from .wire.templates import TEXT_HOLE, ByteTemplate, number_hole, read_text, written_text

if TYPE_CHECKING:
    from collections.abc import Hashable

    from .apis.base import Payload, StreamRewriter, TextDeltaShape, WireAPI
    from .policy import Policy
    from .text.presets import TagFormat

logger = logging.getLogger("asgi_reasoning")

# A JSON escape may hide a marker ("\u003cthink\u003e", as Go servers write "<"): such an
# event is always parsed.
ALWAYS_INSPECT: Final = (b"\\u",)


# The byte-level fast path (SSEBodyRewriter, wire/templates.py): shapes kept per stream (one
# per choice of an `n > 1` request); how many times in a row a stream may try to learn a
# shape (bytes not as the JSON backend writes them, or a shape learned that no later event
# matched: a value that changes every event, such as OpenAI's `obfuscation`) before it stops
# trying until a shape matches again; and how many events are parsed, shortcut or not, to
# learn a shape at the start of a stream.
MAX_SHAPES: Final = 4
MAX_TRIES_TO_LEARN: Final = 8
PARSES_TO_LEARN: Final = 8

# What a client is told when strip fails closed; the log says why.
CLOSED_MESSAGE: Final = "the response could not be filtered; it was withheld"
CLOSED_STATUS: Final = 502


class FailedClosed(Exception):
    """Strip could not filter a whole body: send ``body`` with status 502 instead of it."""

    def __init__(self, body: bytes) -> None:
        super().__init__("the response was replaced by an error")
        self.body = body


def closed_json_body(api: WireAPI, reason: str) -> bytes:
    """The error body that replaces a whole response strip cannot filter; logs ``reason``."""
    logger.error("strip: %s; the %s response was replaced by an error", reason, api.name)
    return _json.dumps(api.error_body(CLOSED_MESSAGE))


def closed_sse_body(api: WireAPI, reason: str) -> bytes:
    """The error event that replaces a stream strip cannot filter; logs ``reason``."""
    logger.error("strip: %s; the %s stream was replaced by an error", reason, api.name)
    payload = api.error_event(CLOSED_MESSAGE)
    name = api.event_name(payload)
    head = b"" if name is None else b"event: " + name.encode() + b"\n"
    return head + b"data: " + _json.dumps(payload) + b"\n\n"


def rewrite_json_body(body: bytes, api: WireAPI, policy: Policy) -> bytes | None:
    """The rewritten whole response body, or ``None`` to send the original.

    Under strip, raises ``FailedClosed`` when the body cannot be filtered. A body that holds
    none of the bytes a rewrite starts from (``may_change_json_body``) is not parsed.
    """
    if (
        policy.mode == "separate"
        and not policy.starts_in_reasoning
        and not may_change_json_body(body, api, policy.tag_format)
    ):
        # No marker can start in it and no reasoning field is named: every API would give
        # it back unchanged, and separate fails open on what it cannot read.
        return None
    return rewrite_json_body_parsed(body, api, policy)


def may_change_json_body(body: bytes, api: WireAPI, fmt: TagFormat) -> bool:
    """Whether a rewrite in content (the output not starting in reasoning) could change ``body``.

    False only when it holds no first character of a marker, no JSON escape (which could
    hide one, or a field name) and none of ``api.body_inspect`` (native reasoning).
    """
    for trigger in marker_triggers(fmt):
        if body.find(trigger) >= 0:
            return True
    if _has_unicode_escape(body):
        return True
    for trigger in api.body_inspect:
        if body.find(trigger) >= 0:
            return True
    return False


def _has_unicode_escape(body: bytes) -> bool:
    """Whether ``body`` holds ``\\u``: a JSON escape, or a backslash and a u in the text."""
    # memchr finds the first backslash at once: a body without escapes skips the slower
    # scan for the two bytes, which otherwise starts there.
    first = body.find(b"\\")
    return first >= 0 and body.find(b"\\u", first) >= 0


def rewrite_json_body_parsed(body: bytes, api: WireAPI, policy: Policy) -> bytes | None:
    """``rewrite_json_body`` without its shortcut: the body is always parsed and rewritten."""
    is_strip = policy.mode == "strip"
    try:
        parsed = _json.loads(body)
    except _json.JSONDecodeError:
        if is_strip:
            raise FailedClosed(closed_json_body(api, "the body is not JSON")) from None
        logger.debug("response body is not JSON; passed through")
        return None
    try:
        rewritten = api.rewrite_body(parsed, policy)
        if rewritten is None or _is_same(rewritten, parsed):
            # Unchanged: the app's own bytes, not a re-serialisation of them.
            return None
        return _json.dumps(rewritten)
    except Exception:
        if is_strip:
            logger.exception("strip: could not rewrite a %s body", api.name)
            raise FailedClosed(closed_json_body(api, "the rewrite failed")) from None
        # Fail open: a shape nobody foresaw must not cost the client its response.
        logger.exception("could not rewrite a %s body; passed through", api.name)
        return None


# The first characters of each format's markers, as JSON bytes, by identity (as
# compile_grammar caches): a few formats per process, so the table stays small.
_MARKER_TRIGGERS: Final[dict[int, tuple[TagFormat, tuple[bytes, ...]]]] = {}
_MARKER_TRIGGERS_MAX: Final = 256


def marker_triggers(fmt: TagFormat) -> tuple[bytes, ...]:
    """The bytes, as a JSON string holds them, that may begin a marker met in content."""
    entry = _MARKER_TRIGGERS.get(id(fmt))
    if entry is not None and entry[0] is fmt:
        return entry[1]
    triggers = tuple(map(_json.string_bytes, compile_grammar(fmt).in_content.first_chars))
    if len(_MARKER_TRIGGERS) < _MARKER_TRIGGERS_MAX:
        _MARKER_TRIGGERS[id(fmt)] = (fmt, triggers)
    return triggers


def _is_same(rewritten: object, parsed: object) -> bool:
    try:
        return rewritten == parsed
    except RecursionError:
        return False


class _CannotFilter(Exception):
    """Bytes that strip may not forward and cannot rewrite (the message says what)."""


class _LearnedShape:
    """A text-delta event as one stream writes it: a byte template and what it stands for."""

    __slots__ = ("event", "key", "line_ending", "output", "output_key", "payload", "template")

    def __init__(
        self,
        key: Hashable,
        template: ByteTemplate,
        payload: Payload,
        event: SSEEvent | None,
        line_ending: bytes,
    ) -> None:
        self.key = key
        # The whole body message: its SSE framing, the JSON around the holes.
        self.template = template
        # The event with TEXT_HOLE and number_hole(0) in place of its values.
        self.payload = payload
        # The event the shape was learned from (None: a plain `data:` one), for the framing.
        self.event = event
        self.line_ending = line_ending
        # The template of the last events the rewriter answered with (one key at a time: a
        # stream stays in reasoning, or in its answer, for many tokens).
        self.output_key: Hashable | None = None
        self.output: ByteTemplate | None = None


def _with_holes(payload: Payload, shape: TextDeltaShape) -> Payload:
    """``payload`` with ``TEXT_HOLE`` at its text and ``number_hole(0)`` at its number."""
    copied = _copied_along(payload, shape.text, TEXT_HOLE)
    if shape.number is not None:
        copied = _copied_along(copied, shape.number, number_hole(0))
    return copied


def _copied_along(payload: Payload, path: tuple[str | int, ...], value: str) -> Payload:
    """A copy of ``payload`` with ``value`` at ``path``, copying only the containers on it."""
    root: Any = dict(payload)
    container = root
    for step in path[:-1]:
        child = container[step]
        container[step] = dict(child) if isinstance(child, dict) else list(child)
        container = container[step]
    container[path[-1]] = value
    return root  # type: ignore[no-any-return]


class SSEBodyRewriter:
    """Rewrites one ``text/event-stream`` body, chunk by chunk, as it is sent.

    The fast path: once an event of the rewriter's text-delta shape was parsed, and its bytes
    are exactly what the JSON backend writes, later body messages that are one event of the
    same bytes around the text are recognised by a byte template and rewritten from the text
    alone (``StreamRewriter.rewrite_text_delta``). ``fast_path=False`` turns it off (the
    differential tests compare both).
    """

    def __init__(
        self, api: WireAPI, policy: Policy, events: StreamRewriter, *, fast_path: bool = True
    ) -> None:
        self._api = api
        self._parser = SSEParser()
        self._max_event_size = self._parser.max_event_size
        self._events = events
        self._shapes: list[_LearnedShape] = []
        # Strip is left to the general path: every event there is checked for what it holds.
        self._tries_to_learn = MAX_TRIES_TO_LEARN if fast_path and policy.mode != "strip" else 0
        # While positive, events that the shortcut below would forward unread are parsed, so
        # that a stream with nothing to rewrite yet learns its shape too: a template match
        # costs no more than the shortcut's search for every trigger. Zero once a shape matched.
        self._parses_to_learn = PARSES_TO_LEARN if self._tries_to_learn else 0
        self._body_in_hand = b""
        self._triggers = (
            *marker_triggers(policy.tag_format),
            *ALWAYS_INSPECT,
            *api.always_inspect,
        )
        self._line_ending = b"\n"
        self._has_logged_unknown = False
        self._fails_closed = policy.mode == "strip"
        # Fail open: the rest of the body passes through. Fail closed: the body has ended.
        self._has_failed = False

    @property
    def has_ended(self) -> bool:
        """The stream was ended by an error event (strip failed closed): send no more bytes."""
        return self._has_failed and self._fails_closed

    def feed(self, body: bytes) -> bytes:
        """The bytes to send for this piece of the body."""
        if self._has_failed:
            return b"" if self._fails_closed else body
        if self._shapes and self._parser.is_between_events:
            try:
                fast = self._rewrite_by_shape(body)
            except Exception as error:
                return self._fail(b"", [SSERaw(body)], error)
            if fast is not None:
                return fast
        self._body_in_hand = body
        if (
            not self._parses_to_learn
            and self._events.is_transparent
            and self._parser.is_between_events
            and body.endswith(b"\n\n")
            and body.find(b"\r") < 0
            and not self._may_need_rewrite(body)
        ):
            # Whole LF-framed events, nothing held by the rewriter, and no byte that could
            # start a marker: every event would go out as it is.
            return body
        plain = self._parser.match_plain_event(body)
        if plain is not None:
            # Most servers send one `data: {json}` event per body message.
            try:
                return self._render_data(body, None, *plain)
            except Exception as error:
                return self._fail(b"", [SSERaw(body)], error)
        return self._render_items(self._parser.feed(body))

    def _rewrite_by_shape(self, body: bytes) -> bytes | None:
        """The bytes for ``body`` if it is one text delta of a learned shape, else ``None``."""
        if len(body) > self._max_event_size:
            return None
        for shape in self._shapes:
            matched = shape.template.match(body)
            if matched is None:
                continue
            token, number = matched
            text = read_text(token)
            if text is None:
                return None
            outcome = self._events.rewrite_text_delta(shape.payload, shape.key, text, number)
            if outcome is None:
                return None
            self._parses_to_learn = 0
            self._tries_to_learn = MAX_TRIES_TO_LEARN
            self._line_ending = shape.line_ending
            events, first_number = outcome
            if events is None:
                return body
            output = shape.output
            if output is None or shape.output_key != events:
                payloads = self._events.text_delta_events(shape.payload, events)
                source_name = self._api.event_name(shape.payload)
                framed = self._encode_outputs(shape.event, source_name, payloads)
                output = shape.output = ByteTemplate.cut(framed)
                shape.output_key = events
            return output.fill(written_text(token, text), first_number)
        return None

    def _learn(
        self, raw: bytes, event: SSEEvent | None, data: bytes, line_ending: bytes, payload: object
    ) -> None:
        """Keep the shape of ``payload``, a whole body message, if it is a text delta."""
        if self._parses_to_learn:
            self._parses_to_learn -= 1
        if not isinstance(payload, dict):
            return
        for known in self._shapes:
            if known.template.match(raw) is not None:
                # Known, and sent this way for what its text held (a marker, an escape).
                return
        shape = self._events.text_delta_shape(payload)
        if shape is None:
            return
        # Every try counts, learned or not; an event read by a template gives them back.
        self._tries_to_learn -= 1
        if _json.dumps(payload) != data:
            # Not as the backend writes it (spaces, escapes): a template would not match.
            return
        holed = _with_holes(payload, shape)
        framing = raw[: len(raw) - len(data) - 2 * len(line_ending)]
        template = ByteTemplate.cut(framing + _json.dumps(holed) + line_ending + line_ending)
        if len(template.holes) != (1 if shape.number is None else 2):
            # A sentinel's text was in the event already.
            return
        learned = _LearnedShape(shape.key, template, holed, event, line_ending)
        self._shapes = [learned, *self._shapes[: MAX_SHAPES - 1]]

    def finish(self) -> bytes:
        """The bytes that end the body: what the parser and then the rewriter still held."""
        if self._has_failed:
            return b""
        # The parser's last event (one ended by a bare CR waits for the next byte) came
        # before the end of the body, so it goes out before the text flushed at the end.
        sent = self._render_items(self._parser.finish(), is_final=True)
        if self._has_failed:
            return sent
        try:
            return sent + self._encode_fresh(self._events.flush())
        except Exception as error:
            return self._fail(sent, [], error)

    def _render_items(self, items: list[SSEEvent | SSERaw], *, is_final: bool = False) -> bytes:
        sent: list[bytes] = []
        for position, item in enumerate(items):
            try:
                sent.append(self._render_item(item, is_final=is_final))
            except Exception as error:  # noqa: PERF203 - zero-cost try since Python 3.11
                # Events before this one went out rewritten; this one and the rest go raw
                # (or not at all), so no text is sent twice.
                return self._fail(b"".join(sent), items[position:], error)
        return b"".join(sent)

    def _fail(self, sent: bytes, unsent: list[SSEEvent | SSERaw], error: Exception) -> bytes:
        """Bytes that end this chunk after ``error``: fail open, or closed under strip."""
        self._has_failed = True
        try:
            # Text the rewriter held back came before the unsent bytes; it goes first. (Under
            # strip the rewriter flushes answer text only.)
            held = self._encode_fresh(self._events.flush())
        except Exception:
            held = b""
        if self._fails_closed:
            if isinstance(error, _CannotFilter):
                logger.error("strip: %s; the %s stream ends with an error", error, self._api.name)
            else:
                logger.exception("strip: could not rewrite a %s SSE event", self._api.name)
            self._parser.finish()
            closing = self._encode_fresh([self._api.error_event(CLOSED_MESSAGE)])
            return sent + held + closing
        # A shape nobody foresaw: the rest of the stream goes out as the app sent it.
        logger.error(
            "could not rewrite a %s SSE chunk; the rest of the stream passes through",
            self._api.name,
            exc_info=error,
        )
        rest = (*unsent, *self._parser.finish())
        return sent + held + b"".join(item.raw for item in rest)

    def _render_item(self, item: SSEEvent | SSERaw, *, is_final: bool = False) -> bytes:
        if isinstance(item, SSERaw):
            if self._fails_closed and item.raw != BOM:
                if self._parser.is_passthrough:
                    raise _CannotFilter("an SSE event is larger than the parser's cap")
                if is_final and _holds_a_field(item.raw):
                    raise _CannotFilter("the body ended inside an event (no blank line)")
            return item.raw
        if item.data is None:
            return item.raw
        return self._render_data(item.raw, item, item.data, item.line_ending)

    def _render_data(
        self, raw: bytes, event: SSEEvent | None, data: bytes, line_ending: bytes
    ) -> bytes:
        """The bytes for one event: ``raw`` when unchanged. ``event`` None: a plain one."""
        self._line_ending = line_ending
        if data in self._api.end_sentinels:
            return self._encode_fresh(self._events.flush()) + raw
        if (
            not self._parses_to_learn
            and self._events.is_transparent
            and not self._may_need_rewrite(data)
        ):
            return raw
        try:
            payload = _json.loads(data)
        except _json.JSONDecodeError:
            if self._fails_closed:
                raise _CannotFilter("an SSE data field is not JSON") from None
            self._log_unknown("an SSE data field is not JSON")
            return raw
        rewritten = self._events.rewrite(payload)
        if self._tries_to_learn > 0 and raw is self._body_in_hand:
            try:
                self._learn(raw, event, data, line_ending, payload)
            except Exception:
                # The event was rewritten already: a shape nobody foresaw only ends learning.
                logger.debug("could not learn a %s event's shape", self._api.name, exc_info=True)
                self._tries_to_learn = self._parses_to_learn = 0
        if rewritten is None:
            return raw
        if not rewritten:
            # Dropped; an `id:` (or `retry:`) line still goes out, in an event without data,
            # so that the client's Last-Event-ID stays the app's.
            return b"" if event is None else encode_without_data(event)
        source_name = self._api.event_name(payload) if isinstance(payload, dict) else None
        return self._encode_outputs(event, source_name, rewritten)

    def _encode_outputs(
        self, event: SSEEvent | None, source_name: str | None, payloads: list[Payload]
    ) -> bytes:
        """The events for ``payloads``, framed like ``event`` while they keep its name."""
        return b"".join(
            self._encode_like(event, out)
            if self._api.event_name(out) == source_name
            else self._encode_fresh([out])
            for out in payloads
        )

    def _may_need_rewrite(self, data: bytes) -> bool:
        # bytes.find: faster here than `in`, and several times faster than a regex alternation.
        for trigger in self._triggers:
            if data.find(trigger) >= 0:
                return True
        return False

    def _encode_like(self, event: SSEEvent | None, payload: Payload) -> bytes:
        """``payload`` framed like the event it replaces (its other fields kept)."""
        if event is None:
            blank = self._line_ending + self._line_ending
            return b"data: " + _json.dumps(payload) + blank
        return encode_event(event, _json.dumps(payload))

    def _encode_fresh(self, payloads: list[Payload]) -> bytes:
        """New events for ``payloads``, in the stream's line ending, named when the API is."""
        line_ending = self._line_ending
        parts: list[bytes] = []
        for payload in payloads:
            name = self._api.event_name(payload)
            if name is not None:
                parts.append(b"event: " + name.encode() + line_ending)
            parts.append(b"data: " + _json.dumps(payload) + line_ending + line_ending)
        return b"".join(parts)

    def _log_unknown(self, what: str) -> None:
        if not self._has_logged_unknown:
            self._has_logged_unknown = True
            logger.debug("%s; passed through unchanged", what)


def _holds_a_field(raw: bytes) -> bool:
    """Whether unterminated SSE bytes hold a line other than a comment or blank."""
    for line in raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
        if line and not line.startswith(b":"):
            return True
    return False
