"""The Anthropic Messages API (``*/v1/messages``): content-block events, or a whole message.

Reasoning found in a ``text`` block becomes a ``thinking`` block placed before the text that
followed it, in text order (DESIGN.md §14). A streamed thinking block is written the way
llama.cpp writes one for local models: ``content_block_start`` with
``{"type": "thinking", "thinking": "", "signature": ""}``, a ``thinking_delta`` per piece, one
``signature_delta`` (``Policy.signature``, default ``""``), then ``content_block_stop``. Every
later block's ``index`` moves up by the blocks inserted (down by those removed), in its start,
its deltas (``input_json_delta`` of a ``tool_use`` too) and its stop. ``ping``, ``error`` and
unknown events go out as they came.

Each upstream text block has its own splitter; only the message's first text block can start
inside reasoning (the template's pre-filled opener). A text block's ``content_block_start`` is
held until its first text decides whether a thinking block comes first. When another block
starts, the text blocks still open are settled first: what their splitters held is sent, and
a thinking block still open is stopped, so blocks never overlap because of a split. (llama.cpp
stops every block at the end of the message, after the ``tool_use`` blocks began.)

Intentional divergences:

1. A text block whose text was all reasoning is not sent at all: only its thinking block is.
   An empty text block would show as an empty answer in clients such as Claude Code. A text
   block that the server itself sent empty is kept as it came.
2. Several reasoning blocks separated by answer text become several thinking blocks; the
   ``"\\n\\n"`` the splitter puts before a later block's text (DESIGN.md §4.3) is left out of
   a thinking block it would begin, since there it separates nothing.
3. Once the server sent a ``thinking`` or ``redacted_thinking`` block of its own, it splits by
   itself: later text blocks are not split (an answer may quote a marker, DESIGN.md §8).
   Under ``mode="strip"`` they are split anyway, every thinking block goes, every event is
   read, and an event forwarded unsplit that still holds a marker or a thinking block or delta
   (an unknown event type, a thinking start without a usable index) ends the stream with an
   error event instead (DESIGN.md §17).
4. Messages reports no reasoning token count, so ``usage`` is left as the server wrote it.
5. A held block start is sent re-serialised (compact JSON, key order kept): byte-identical to
   the compact JSON that llama.cpp, vLLM, SGLang, Ollama and Anthropic write. Deltas that need
   no change go out as the app's own bytes.
6. Per-stream state is bounded: at most ``MAX_OPEN_BLOCKS`` (10,000) blocks started and not
   stopped are tracked; a later block start is forwarded as it came (under strip the stream
   ends with an error event instead). Stopped blocks cost nothing; work is linear in events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeGuard, cast

from ..text.splitter import BLOCK_SEPARATOR, CONTENT, REASONING, ReasoningSplitter, merge_segments
from ..wire.templates import TEXT_HOLE
from .base import UNCHANGED, FastDelta, StreamRewriter, TextDeltaShape, UnfilterableError, WireAPI
from .chat_completions import holds_reasoning

if TYPE_CHECKING:
    from collections.abc import Hashable

    from ..policy import Policy
    from ..text.splitter import Kind, Segment
    from .base import Payload

THINKING_BLOCK_TYPES: Final = frozenset({"thinking", "redacted_thinking"})
REASONING_DELTA_TYPES: Final = frozenset({"thinking_delta", "signature_delta"})
# A finish in which the model answered as it meant to (DESIGN.md §4.10 for Messages).
NORMAL_STOP_REASONS: Final = frozenset({"end_turn", "stop_sequence"})
# Per-stream state is bounded: at most this many blocks started and not yet stopped are tracked.
MAX_OPEN_BLOCKS: Final = 10_000


def _stop(index: int) -> Payload:
    return {"type": "content_block_stop", "index": index}


class _TextBlock:
    """One upstream ``text`` block being split into thinking and text blocks."""

    __slots__ = (
        "has_output",
        "is_settled",
        "open_index",
        "open_kind",
        "saw_text",
        "splitter",
        "start",
        "upstream_index",
    )

    def __init__(self, upstream_index: int, start: Payload, splitter: ReasoningSplitter) -> None:
        self.upstream_index = upstream_index
        self.start = start
        self.splitter = splitter
        self.open_kind: Kind | None = None
        self.open_index = -1
        self.has_output = False
        self.saw_text = False
        self.is_settled = False


class _OtherBlock:
    """A block passed through with its index moved (``None``: dropped under strip)."""

    __slots__ = ("out_index",)

    def __init__(self, out_index: int | None) -> None:
        self.out_index = out_index


class MessageStreamRewriter(StreamRewriter):
    """Rewrites the events of one streamed message, in order."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._is_strip = policy.mode == "strip"
        self._blocks: dict[int, _TextBlock | _OtherBlock] = {}
        self._open_text: dict[int, _TextBlock] = {}
        self._next_index = 0
        self._text_blocks_seen = 0
        self._dropped_open = 0
        # Every block so far kept its index: events of later blocks need no change.
        self._is_identity = True
        self._is_native = False
        self._is_transparent = not self._is_strip

    @property
    def is_transparent(self) -> bool:
        # Every block start and stop is inspected (MessagesAPI.always_inspect); between them,
        # an event without marker bytes is unchanged while no index moved, no text block waits
        # for its first text or is inside reasoning, and strip drops no open block.
        return self._is_transparent

    def rewrite(self, payload: object) -> list[Payload] | None:
        if not isinstance(payload, dict):
            return None
        kind = payload.get("type")
        # Decided before the event changes the block table (a stop removes its block).
        is_vouched = not self._is_strip or self._is_split_text(payload) or self._drops(payload)
        if kind == "content_block_delta":
            out = self._on_delta(payload)
        elif kind == "content_block_start":
            out = self._on_start(payload)
        elif kind == "content_block_stop":
            out = self._on_stop(payload)
        elif kind in ("message_delta", "message_stop"):
            settled = self._settle()
            out = [*settled, payload] if settled else None
        else:
            out = None
        if not is_vouched:
            self._refuse_reasoning(payload)
        self._is_transparent = self._compute_transparency()
        if out is not None and len(out) == 1 and out[0] == payload:
            return None
        return out

    def _is_split_text(self, payload: Payload) -> bool:
        """Whether ``payload`` is a text delta of a block whose text the splitter filters."""
        if payload.get("type") != "content_block_delta":
            return False
        index = payload.get("index")
        delta = payload.get("delta")
        return (
            _is_index(index)
            and isinstance(self._blocks.get(index), _TextBlock)
            and isinstance(delta, dict)
            and delta.get("type") == "text_delta"
            and isinstance(delta.get("text"), str)
            and all(key in ("type", "text") for key in delta)
        )

    def text_delta_shape(self, payload: Payload) -> TextDeltaShape | None:
        """A ``text_delta`` of a text block being split."""
        if not self._is_split_text(payload):
            return None
        return TextDeltaShape(payload["index"], ("delta", "text"))

    def rewrite_text_delta(
        self, payload: Payload, key: Hashable, text: str, number: int
    ) -> FastDelta | None:
        """What ``rewrite`` does with such a delta when the splitter passes its text whole."""
        block = self._blocks.get(key)  # type: ignore[call-overload]
        if not isinstance(block, _TextBlock) or not block.splitter.passes_whole(text):
            return None
        kind = REASONING if block.splitter.in_reasoning else CONTENT
        if block.open_kind != kind:
            return None
        block.saw_text = True
        block.is_settled = False
        if kind == REASONING:
            # What _compute_transparency gives for a block inside reasoning and not settled.
            self._is_transparent = False
        elif block.open_index == key:
            return UNCHANGED
        return (kind, block.open_index), 0

    def text_delta_events(self, payload: Payload, events: Hashable) -> list[Payload]:
        kind, index = cast("tuple[Kind, int]", events)
        if kind == CONTENT:
            return [self._text_delta(index, TEXT_HOLE, payload)]
        return [self._thinking_delta(index, TEXT_HOLE)]

    def _drops(self, payload: Payload) -> bool:
        """Whether strip drops ``payload`` whole: a thinking block's start, delta or stop."""
        kind = payload.get("type")
        block = payload.get("content_block")
        delta = payload.get("delta")
        index = payload.get("index")
        if kind == "content_block_start":
            # A thinking start without a usable index is not dropped: it is refused.
            is_thinking = isinstance(block, dict) and block.get("type") in THINKING_BLOCK_TYPES
            return is_thinking and _is_index(index)
        if kind == "content_block_delta" and isinstance(delta, dict):
            if delta.get("type") in REASONING_DELTA_TYPES:
                return True
        if kind in ("content_block_delta", "content_block_stop") and _is_index(index):
            known = self._blocks.get(index)
            return isinstance(known, _OtherBlock) and known.out_index is None
        return False

    def _refuse_reasoning(self, payload: Payload) -> None:
        """Under strip, refuse an event forwarded unsplit that may hold reasoning.

        A text block's start is fed to the splitter for its ``text`` only; anything else of an
        event that goes out as it came must hold no marker, thinking block or thinking delta.
        """
        checked: object = payload
        block = payload.get("content_block")
        if payload.get("type") == "content_block_start" and isinstance(block, dict):
            index = payload.get("index")
            fed = _is_index(index) and isinstance(self._blocks.get(index), _TextBlock)
            if fed and block.get("type") == "text":
                without_text = {key: value for key, value in block.items() if key != "text"}
                checked = {**payload, "content_block": without_text}
        if holds_reasoning(checked, self._policy) or _holds_thinking(checked):
            raise UnfilterableError("an event holds reasoning in a shape that cannot be filtered")

    def flush(self) -> list[Payload]:
        events = self._settle()
        self._is_transparent = self._compute_transparency()
        return events

    def _compute_transparency(self) -> bool:
        # Under strip every event is read: a thinking delta, a signature or a redacted block
        # holds no marker byte, and may come where no block was started (DESIGN.md §17).
        if self._is_strip or not self._is_identity or self._dropped_open:
            return False
        for block in self._open_text.values():
            if block.open_kind == CONTENT:
                if not block.splitter.passes_text_through:
                    return False
            elif not block.is_settled or self._is_strip:
                return False
        return True

    def _on_start(self, payload: Payload) -> list[Payload] | None:
        index = payload.get("index")
        block = payload.get("content_block")
        if not _is_index(index) or not isinstance(block, dict):
            return None
        if len(self._blocks) >= MAX_OPEN_BLOCKS:
            # Bounded state: beyond the cap a block is not tracked (strip refuses it).
            if self._is_strip:
                raise UnfilterableError(f"more than {MAX_OPEN_BLOCKS} open content blocks")
            return None
        events = self._settle()
        block_type = block.get("type")
        if block_type in THINKING_BLOCK_TYPES:
            self._is_native = True
            if self._is_strip:
                self._blocks[index] = _OtherBlock(None)
                self._dropped_open += 1
                return events
        elif block_type == "text" and (self._is_strip or not self._is_native):
            starts_in_reasoning = self._policy.starts_in_reasoning and not self._text_blocks_seen
            self._text_blocks_seen += 1
            splitter = ReasoningSplitter.from_format(
                self._policy.tag_format, starts_in_reasoning=starts_in_reasoning
            )
            initial = block.get("text")
            start = payload
            if isinstance(initial, str) and initial:
                start = {**payload, "content_block": {**block, "text": ""}}
            text_block = _TextBlock(index, start, splitter)
            self._blocks[index] = self._open_text[index] = text_block
            if isinstance(initial, str) and initial:
                events += self._feed(text_block, initial, None)
            return events
        out_index = self._allocate(index)
        self._blocks[index] = _OtherBlock(out_index)
        return [*events, payload if out_index == index else {**payload, "index": out_index}]

    def _on_delta(self, payload: Payload) -> list[Payload] | None:
        index = payload.get("index")
        delta = payload.get("delta")
        delta_type = delta.get("type") if isinstance(delta, dict) else None
        if self._is_strip and delta_type in REASONING_DELTA_TYPES:
            # Reasoning in a block not started as thinking (a server's mistake): still none.
            return []
        block = self._blocks.get(index) if _is_index(index) else None
        if block is None:
            return None
        if isinstance(block, _OtherBlock):
            return self._moved(payload, block)
        if delta_type == "text_delta":
            text = delta.get("text") if isinstance(delta, dict) else None
            if isinstance(text, str):
                return self._feed(block, text, payload)
        # A citation (or a delta nobody foresaw) belongs to the answer text.
        events = self._switch(block, CONTENT) if block.open_kind != CONTENT else []
        return [*events, {**payload, "index": block.open_index}]

    def _on_stop(self, payload: Payload) -> list[Payload] | None:
        index = payload.get("index")
        block = self._blocks.pop(index, None) if _is_index(index) else None
        if block is None:
            return None
        if isinstance(block, _OtherBlock):
            if block.out_index is None:
                self._dropped_open -= 1
            return self._moved(payload, block)
        del self._open_text[block.upstream_index]
        events = self._emit(block, block.splitter.finish(), None)
        if block.open_kind == CONTENT:
            events.append({**payload, "index": block.open_index})
            block.open_kind = None
        elif block.open_kind == REASONING:
            events += self._close(block)
        elif not block.has_output and not block.saw_text:
            # The server sent this text block empty: so does the client's.
            events += self._switch(block, CONTENT)
            events.append({**payload, "index": block.open_index})
        return events

    def _moved(self, payload: Payload, block: _OtherBlock) -> list[Payload]:
        if block.out_index is None:
            return []
        if block.out_index == payload.get("index"):
            return [payload]
        return [{**payload, "index": block.out_index}]

    def _settle(self) -> list[Payload]:
        """Events ending what open text blocks hold, as the next block begins or the end."""
        events: list[Payload] = []
        for block in self._open_text.values():
            if block.is_settled:
                continue
            block.is_settled = True
            events += self._emit(block, block.splitter.finish(), None)
            if block.open_kind == REASONING:
                events += self._close(block)
            elif block.open_kind is None and not block.has_output and not block.saw_text:
                events += self._switch(block, CONTENT)
        return events

    def _feed(self, block: _TextBlock, text: str, source: Payload | None) -> list[Payload]:
        if not text:
            # An empty text_delta: kept in an answer block already sent, else nothing to say.
            if block.open_kind == CONTENT and source is not None:
                return [{**source, "index": block.open_index}]
            return []
        block.saw_text = True
        block.is_settled = False
        return self._emit(block, block.splitter.feed(text), source)

    def _emit(
        self, block: _TextBlock, segments: list[Segment], source: Payload | None
    ) -> list[Payload]:
        events: list[Payload] = []
        for kind, text in segments:
            if not text:
                continue
            if kind == REASONING:
                if self._is_strip:
                    continue
                piece = text
                if block.open_kind != REASONING:
                    events += self._switch(block, REASONING)
                    piece = text.removeprefix(BLOCK_SEPARATOR)
                events.append(self._thinking_delta(block.open_index, piece))
            else:
                if block.open_kind != CONTENT:
                    events += self._switch(block, CONTENT)
                events.append(self._text_delta(block.open_index, text, source))
        return events

    @staticmethod
    def _thinking_delta(index: int, text: str) -> Payload:
        return {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "thinking_delta", "thinking": text},
        }

    @staticmethod
    def _text_delta(index: int, text: str, source: Payload | None) -> Payload:
        if source is not None:
            delta = source.get("delta")
            if isinstance(delta, dict):
                return {**source, "index": index, "delta": {**delta, "text": text}}
        return {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "text_delta", "text": text},
        }

    def _switch(self, block: _TextBlock, kind: Kind) -> list[Payload]:
        """Stop the block's open segment, if any, and start one of ``kind``."""
        events = self._close(block)
        index = self._allocate(block.upstream_index)
        if kind == REASONING:
            events.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                }
            )
        else:
            events.append({**block.start, "index": index})
        block.open_kind = kind
        block.open_index = index
        block.has_output = True
        return events

    def _close(self, block: _TextBlock) -> list[Payload]:
        index = block.open_index
        if block.open_kind == REASONING:
            block.open_kind = None
            signature = {"type": "signature_delta", "signature": self._policy.signature}
            signature_event = {"type": "content_block_delta", "index": index, "delta": signature}
            return [signature_event, _stop(index)]
        if block.open_kind == CONTENT:
            block.open_kind = None
            return [_stop(index)]
        return []

    def _allocate(self, upstream_index: int) -> int:
        index = self._next_index
        self._next_index += 1
        if index != upstream_index:
            self._is_identity = False
        return index


def _is_index(value: object) -> TypeGuard[int]:
    """A block index: a JSON integer (``true`` is a bool in JSON, not block 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _holds_thinking(value: object) -> bool:
    """Whether a JSON value holds a thinking block or delta anywhere (iterative: any depth)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            kind = item.get("type")
            if kind in THINKING_BLOCK_TYPES or kind in REASONING_DELTA_TYPES:
                return True
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def rewrite_message(message: object, policy: Policy) -> Payload | None:
    """A non-streaming ``message`` with reasoning in its text blocks moved to thinking blocks."""
    if not isinstance(message, dict) or message.get("type") != "message":
        return None
    content = message.get("content")
    if not isinstance(content, list):
        return None
    is_strip = policy.mode == "strip"
    is_native = any(
        isinstance(block, dict) and block.get("type") in THINKING_BLOCK_TYPES for block in content
    )
    if is_native and not is_strip:
        return None
    if is_strip:
        # Under strip text is split even beside native thinking, and what is left is checked.
        is_native = False
    is_normal_stop = message.get("stop_reason") in NORMAL_STOP_REASONS
    changed = False
    text_blocks_seen = 0
    blocks: list[object] = []
    for block in content:
        if not isinstance(block, dict):
            blocks.append(block)
            continue
        block_type = block.get("type")
        if block_type in THINKING_BLOCK_TYPES:
            # Only under strip (native blocks are kept otherwise, above).
            changed = True
            continue
        text = block.get("text")
        if block_type != "text" or is_native or not isinstance(text, str):
            blocks.append(block)
            continue
        starts_in_reasoning = policy.starts_in_reasoning and not text_blocks_seen
        text_blocks_seen += 1
        splitter = ReasoningSplitter.from_format(
            policy.tag_format, starts_in_reasoning=starts_in_reasoning
        )
        segments = merge_segments(splitter.feed(text) + splitter.finish())
        if not splitter.saw_marker and (not starts_in_reasoning or is_normal_stop):
            blocks.append(block)
            continue
        changed = True
        for kind, piece in segments:
            if kind == CONTENT:
                blocks.append({**block, "text": piece})
            elif not is_strip:
                blocks.append(
                    {
                        "type": "thinking",
                        "thinking": piece.removeprefix(BLOCK_SEPARATOR),
                        "signature": policy.signature,
                    }
                )
    result = {**message, "content": blocks} if changed else None
    if is_strip:
        checked = message if result is None else result
        if holds_reasoning(checked, policy) or _holds_thinking(checked):
            raise UnfilterableError("a message holds reasoning in a shape that cannot be filtered")
    return result


class MessagesAPI(WireAPI):
    """Anthropic Messages: ``content`` blocks of a ``message``, or its content-block events."""

    name = "messages"
    path_patterns = ("*/v1/messages",)
    has_event_names = True
    # Block starts and stops move indices and decide where thinking blocks go; they are few.
    always_inspect = (b'"content_block_start"', b'"content_block_stop"')

    def thinking_requested(self, request: Mapping[str, Any]) -> bool | None:
        # Anthropic: thinking {"type": "enabled", "budget_tokens": N} or {"type": "disabled"};
        # "adaptive" leaves the decision to the model, so it says neither.
        thinking = request.get("thinking")
        if isinstance(thinking, Mapping):
            kind = thinking.get("type")
            if kind == "disabled":
                return False
            if kind == "enabled":
                return True
        return None

    def new_stream(self, policy: Policy, request: Mapping[str, Any] | None) -> StreamRewriter:
        return MessageStreamRewriter(policy)

    def rewrite_body(self, body: object, policy: Policy) -> Payload | None:
        return rewrite_message(body, policy)

    def error_body(self, message: str) -> Payload:
        # https://docs.anthropic.com/en/api/errors: the same object in a body or an event.
        return {"type": "error", "error": {"type": "api_error", "message": message}}

    def error_event(self, message: str) -> Payload:
        return self.error_body(message)
