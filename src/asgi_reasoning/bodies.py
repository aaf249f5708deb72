"""Response bodies, bytes in and bytes out: a streamed SSE body, or a whole JSON body.

Everything not understood goes out as the original bytes. Sans-I/O like the modules it
joins: ``_sse`` (framing), ``_completion`` (chat-completion objects), ``_json``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from .apis.chat_completions import ChunkRewriter, rewrite_completion
from .text.splitter import compile_grammar
from .wire import json as _json
from .wire.sse import SSEEvent, SSEParser, SSERaw, encode_event

if TYPE_CHECKING:
    from .policy import Policy

logger = logging.getLogger("asgi_reasoning")

DONE: Final = b"[DONE]"
# Bytes that send a chunk to the JSON parser even when no choice is inside reasoning: a
# JSON escape may hide a marker ("\u003cthink\u003e", as Go servers write "<"), and a
# server-side reasoning field must be seen to know the server splits by itself.
ALWAYS_INSPECT: Final = (b"\\u", b'"reasoning')


def rewrite_json_body(body: bytes, policy: Policy) -> bytes | None:
    """The rewritten ``chat.completion`` body, or ``None`` to send the original."""
    try:
        completion = _json.loads(body)
    except _json.JSONDecodeError:
        logger.debug("response body is not JSON; passed through")
        return None
    try:
        rewritten = rewrite_completion(completion, policy)
        return None if rewritten is None else _json.dumps(rewritten)
    except Exception:
        # Fail open: a shape nobody foresaw must not cost the client its response.
        logger.exception("could not rewrite a chat.completion body; passed through")
        return None


class SSEBodyRewriter:
    """Rewrites one ``text/event-stream`` body, chunk by chunk, as it is sent."""

    def __init__(self, policy: Policy, *, choice_count: int | None = 1) -> None:
        self._parser = SSEParser()
        self._chunks = ChunkRewriter(policy, choice_count=choice_count)
        grammar = compile_grammar(policy.tag_format)
        self._triggers = (*map(_json.string_bytes, grammar.in_content.first_chars), *ALWAYS_INSPECT)
        self._line_ending = b"\n"
        self._has_logged_unknown = False
        self._has_failed = False

    def feed(self, body: bytes) -> bytes:
        """The bytes to send for this piece of the body."""
        if self._has_failed:
            return body
        if (
            self._chunks.is_idle
            and self._parser.is_idle
            and body.endswith(b"\n\n")
            and body.find(b"\r") < 0
            and not self._may_need_rewrite(body)
        ):
            # Whole LF-framed events, no choice inside reasoning or holding text, and no
            # byte that could start a marker: every event would go out as it is.
            return body
        items: list[SSEEvent | SSERaw] = []
        try:
            plain = self._parser.match_plain_event(body)
            if plain is not None:
                # Most servers send one `data: {json}` event per body message.
                return self._render_data(body, None, *plain)
            items = self._parser.feed(body)
            return b"".join(map(self._render_item, items))
        except Exception:
            return self._fail_open(items or [SSERaw(body)])

    def finish(self) -> bytes:
        """The bytes that end the body: what the splitters and the parser still held."""
        if self._has_failed:
            return b""
        items = self._parser.finish()
        try:
            flushed = self._encode(self._chunks.flush(), None, self._line_ending)
            return flushed + b"".join(map(self._render_item, items))
        except Exception:
            return self._fail_open(items)

    def _fail_open(self, items: list[SSEEvent | SSERaw]) -> bytes:
        # A shape nobody foresaw: the rest of the stream goes out as the app sent it.
        logger.exception("could not rewrite an SSE chunk; the rest of the stream passes through")
        self._has_failed = True
        try:
            # Text the splitters held back came before these bytes; it is sent first.
            held = self._encode(self._chunks.flush(), None, self._line_ending)
        except Exception:
            held = b""
        return held + b"".join(item.raw for item in (*items, *self._parser.finish()))

    def _render_item(self, item: SSEEvent | SSERaw) -> bytes:
        if isinstance(item, SSERaw) or item.data is None:
            return item.raw
        return self._render_data(item.raw, item, item.data, item.line_ending)

    def _render_data(
        self, raw: bytes, event: SSEEvent | None, data: bytes, line_ending: bytes
    ) -> bytes:
        """The bytes for one event: ``raw`` when unchanged. ``event`` None: a plain one."""
        if data == DONE:
            return self._encode(self._chunks.flush(), None, line_ending) + raw
        self._line_ending = line_ending
        if self._chunks.is_idle and not self._may_need_rewrite(data):
            return raw
        try:
            chunk = _json.loads(data)
        except _json.JSONDecodeError:
            self._log_unknown("an SSE data field is not JSON")
            return raw
        rewritten = self._chunks.rewrite(chunk)
        if rewritten is None:
            return raw
        return self._encode(rewritten, event, line_ending)

    def _may_need_rewrite(self, data: bytes) -> bool:
        # bytes.find: faster here than `in`, and several times faster than a regex alternation.
        for trigger in self._triggers:
            if data.find(trigger) >= 0:
                return True
        return False

    def _encode(
        self, chunks: list[dict[str, object]], event: SSEEvent | None, line_ending: bytes
    ) -> bytes:
        """Events for ``chunks``: framed like ``event`` (keeping its other fields), or plain."""
        if event is None:
            blank = line_ending + line_ending
            return b"".join(b"data: " + _json.dumps(chunk) + blank for chunk in chunks)
        return b"".join(encode_event(event, _json.dumps(chunk)) for chunk in chunks)

    def _log_unknown(self, what: str) -> None:
        if not self._has_logged_unknown:
            self._has_logged_unknown = True
            logger.debug("%s; passed through unchanged", what)
