"""The OpenAI Responses API (``*/v1/responses``): typed events as they stream, or a whole response.

Reasoning found in a ``message`` item's ``output_text`` becomes ``reasoning`` output items placed
before the answer, in text order (DESIGN.md §13). In a stream, the message item's
``output_item.added`` and ``content_part.added`` are held until its first text says whether
reasoning comes first; every later ``output_index`` moves by the items inserted (or removed),
and ``sequence_number`` is renumbered so that it stays strictly increasing. The ``.done``
events and the terminal event's ``response.output`` carry the texts as the client received
them. ``responses_reasoning`` picks the reasoning item's parts: ``"text"`` (``content`` parts
and ``response.reasoning_text.*`` events, as vLLM and llama.cpp send them), ``"summary"``
(``summary`` parts and ``response.reasoning_summary_*`` events, as Ollama sends them), or
``"both"``.

Plain dicts in, plain dicts out. ``None`` from a rewrite means "unchanged": the caller forwards
the original bytes.

Intentional divergences:

1. While a message item is open, every ``output_text.delta`` event is read, marker or not:
   when reasoning follows answer text, the answer part closes with ``.done`` events that must
   carry its exact text. Events of the stream's usual delta shape are read by the byte-level
   fast path (``text_delta_shape``), the others are parsed. Unchanged events still go out as
   their own bytes. Outside message items (tool-call arguments, lifecycle events) events are
   not parsed.
2. The message item's held ``output_item.added`` / ``content_part.added`` events are written
   again from their parsed JSON (compact, key order kept); for the compact JSON that vLLM,
   llama.cpp and Ollama write, those bytes are the original ones.
3. A message that held nothing but reasoning (a reply that is only a tool call, or a stream
   cut inside reasoning) leaves no empty message item behind: it is removed, and later
   ``output_index`` values move down.
4. Once the server sent a reasoning item of its own, the response counts as split by the
   server and message text is not split again (a literal ``<think>`` in an answer survives).
   Under ``mode="strip"`` it is split anyway, and every reasoning item goes (DESIGN.md §17).
5. ``usage.output_tokens_details.reasoning_tokens``, when the server left it absent or 0 and
   reasoning was split out, is an estimate: one token per ``output_text.delta`` event that
   carried reasoning (streams), or ``output_tokens`` times the reasoning's share of the
   characters (whole bodies).
6. ``reasoning.effort`` alone does not decide the initial state: it reaches a chat template
   only through the opt-in effort translation (DESIGN.md §15), and vLLM passes it to the
   template as a kwarg that Qwen3 and DeepSeek-R1 templates ignore. ``chat_template_kwargs``
   (which vLLM's Responses endpoint accepts, as its Chat one does) decides as on Chat.
7. Per-stream state is bounded: at most ``MAX_TRACKED_ITEMS`` (10,000) output items are
   tracked. Past the cap a message item is forwarded unsplit and an item's ``output_index``
   moves by the shift of the moment; under strip the stream ends with an error event instead.
   Under strip every event is read, and one that still holds a marker, a reasoning item or
   part, or encrypted reasoning after the rewrite ends the stream with an error event
   (``refuse_reasoning``); a whole body is refused the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeGuard, cast

from ..text.splitter import CONTENT, REASONING, ReasoningSplitter, merge_segments
from ..wire.templates import TEXT_HOLE, number_hole
from .base import (
    UNCHANGED,
    FastDelta,
    StreamRewriter,
    TextDeltaShape,
    UnfilterableError,
    WireAPI,
    chat_template_thinking,
)

if TYPE_CHECKING:
    from collections.abc import Hashable

    from ..policy import Policy
    from ..text.splitter import Kind, Segment
    from .base import Payload

TERMINAL_TYPES: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})
# The events of a message item's own text part, which the split rewrites.
ITEM_ADDED: Final = "response.output_item.added"
ITEM_DONE: Final = "response.output_item.done"
PART_ADDED: Final = "response.content_part.added"
PART_DONE: Final = "response.content_part.done"
TEXT_DELTA: Final = "response.output_text.delta"
TEXT_DONE: Final = "response.output_text.done"
REASONING_EVENT_PREFIX: Final = "response.reasoning"
# Per-stream state is bounded: at most this many output items are tracked (module docstring).
MAX_TRACKED_ITEMS: Final = 10_000
# Keys that carry reasoning wherever they appear (strip refuses them, ``refuse_reasoning``).
REASONING_CARRIER_KEYS: Final = frozenset(
    {"encrypted_content", "reasoning_content", "reasoning_text", "reasoning_details"}
)


def _event(event_type: str, numbered: bool, **fields: Any) -> Payload:
    """A new event: ``type`` first, as servers write it, then ``sequence_number`` if used."""
    event: Payload = {"type": event_type}
    if numbered:
        event["sequence_number"] = 0
    event.update(fields)
    return event


@dataclass(slots=True)
class _ClientItem:
    """One output item as the client sees it: a reasoning item or a (part of a) message."""

    kind: Kind
    item_id: str
    output_index: int
    pieces: list[str] = field(default_factory=list)
    is_text_done: bool = False
    is_part_done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(slots=True)
class _MessageState:
    """A server ``message`` item whose text is split into client items."""

    server_id: str
    base_index: int
    added: Payload
    splitter: ReasoningSplitter
    part_added: Payload | None = None
    content_index: int = 0
    items: list[_ClientItem] = field(default_factory=list)
    current: _ClientItem | None = None
    is_finished: bool = False
    has_text: bool = False


class ResponsesRewriter(StreamRewriter):
    """Rewrites one stream's Responses events, in order (DESIGN.md §13, §17)."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._is_strip = policy.mode == "strip"
        self._writes_text = policy.responses_reasoning in ("text", "both")
        self._writes_summary = policy.responses_reasoning in ("summary", "both")
        self._reasoning_events_per_delta = int(self._writes_text) + int(self._writes_summary)
        self._is_numbered: bool | None = None
        self._last_sequence = -1
        self._sequence_shift = 0
        self._index_shift = 0
        self._index_of: dict[int, int] = {}
        self._message: _MessageState | None = None
        self._messages: dict[str, _MessageState] = {}
        self._dropped_ids: set[str] = set()
        self._is_native = False
        self._reasoning_deltas = 0
        self._has_split = False

    @property
    def is_transparent(self) -> bool:
        """True outside message items while nothing was split and no number has moved.

        Never under strip.
        """
        # Under strip every event is read: a reasoning item's summary or encrypted content
        # holds no marker byte, and may come in any event (DESIGN.md §17).
        return (
            not self._is_strip
            and self._message is None
            and self._index_shift == 0
            and self._sequence_shift == 0
            # The terminal event's output must then be rewritten, marker or not.
            and not self._has_split
        )

    def rewrite(self, payload: object) -> list[Payload] | None:
        if not isinstance(payload, dict):
            return None
        event_type = payload.get("type")
        if not isinstance(event_type, str):
            return None
        sequence = payload.get("sequence_number")
        if self._is_numbered is None:
            self._is_numbered = _is_int(sequence)
            if _is_int(sequence):
                self._last_sequence = sequence - 1
        if _is_int(sequence):
            # Events forwarded without this rewriter (it was transparent) took numbers too.
            self._last_sequence = sequence - 1 + self._sequence_shift
        events = self._route(event_type, payload)
        if self._is_strip:
            refuse_reasoning(events, self._policy)
        if _is_int(sequence):
            events = self._renumber(events)
            self._sequence_shift = self._last_sequence - sequence
        if len(events) == 1 and events[0] is payload:
            return None
        return events

    def flush(self) -> list[Payload]:
        """Events closing what is still open: the body ended before the item did."""
        if self._message is None:
            return []
        events = self._finish_message(self._message)
        if self._is_strip:
            refuse_reasoning(events, self._policy)
        return self._renumber(events)

    def text_delta_shape(self, payload: Payload) -> TextDeltaShape | None:
        """An ``output_text.delta`` of the message being split, numbered as the stream is."""
        message = self._message
        if (
            message is None
            or payload.get("type") != TEXT_DELTA
            or payload.get("item_id") != message.server_id
            or not isinstance(payload.get("delta"), str)
        ):
            return None
        if not _is_int(payload.get("sequence_number")):
            return None if self._is_numbered else TextDeltaShape(message.server_id, ("delta",))
        if not self._is_numbered:
            return None
        return TextDeltaShape(message.server_id, ("delta",), ("sequence_number",))

    def rewrite_text_delta(
        self, payload: Payload, key: Hashable, text: str, number: int
    ) -> FastDelta | None:
        """What ``rewrite`` does with such a delta when the splitter passes its text whole."""
        message = self._message
        if message is None or message.server_id != key:
            return None
        current = message.current
        splitter = message.splitter
        if current is None or not splitter.passes_whole(text):
            return None
        kind = REASONING if splitter.in_reasoning else CONTENT
        if current.kind != kind:
            return None
        message.has_text = True
        current.pieces.append(text)
        first = number + self._sequence_shift
        if kind == CONTENT:
            if number >= 0:
                self._last_sequence = first
            if (
                first == number
                and payload.get("item_id") == current.item_id
                and payload.get("output_index") == current.output_index
            ):
                return UNCHANGED
            return (CONTENT, current.item_id, current.output_index), first
        self._reasoning_deltas += 1
        if number >= 0:
            self._last_sequence = first + self._reasoning_events_per_delta - 1
            self._sequence_shift = self._last_sequence - number
        return (REASONING, current.item_id, current.output_index), first

    def text_delta_events(self, payload: Payload, events: Hashable) -> list[Payload]:
        kind, item_id, output_index = cast("tuple[Kind, str, int]", events)
        if kind == CONTENT:
            return [{**payload, "item_id": item_id, "output_index": output_index}]
        built = self._reasoning_delta_events(item_id, output_index, TEXT_HOLE)
        if self._is_numbered:
            for offset, event in enumerate(built):
                event["sequence_number"] = number_hole(offset)
        return built

    def _renumber(self, events: list[Payload]) -> list[Payload]:
        if not self._is_numbered:
            return events
        numbered = []
        for event in events:
            self._last_sequence += 1
            if event.get("sequence_number") != self._last_sequence:
                event = {**event, "sequence_number": self._last_sequence}
            numbered.append(event)
        return numbered

    def _route(self, event_type: str, payload: Payload) -> list[Payload]:
        message = self._message
        item_id = payload.get("item_id")
        if event_type == ITEM_ADDED:
            return self._on_item_added(payload)
        if message is not None and item_id == message.server_id:
            if event_type == TEXT_DELTA:
                return self._on_text_delta(message, payload)
            if event_type == PART_ADDED:
                return self._on_part_added(message, payload)
            if event_type == TEXT_DONE:
                return self._on_text_done(message, payload)
            if event_type == PART_DONE:
                return self._on_part_done(message, payload)
            # Annotations, refusals: they belong to the answer part now open.
            return [self._in_current_message(message, payload)]
        if event_type == ITEM_DONE:
            return self._on_item_done(payload)
        if event_type in TERMINAL_TYPES:
            return self._on_terminal(payload)
        if isinstance(item_id, str) and item_id in self._dropped_ids:
            return []
        if event_type.startswith(REASONING_EVENT_PREFIX):
            # Reasoning the server split itself, whatever item announced it.
            self._is_native = True
            if self._is_strip:
                return []
        return [self._moved(payload)]

    def _moved(self, payload: Payload) -> Payload:
        """``payload`` with its ``output_index`` where the client sees that item."""
        index = payload.get("output_index")
        if not _is_int(index):
            return payload
        moved = self._index_of.get(index, index + self._index_shift)
        return payload if moved == index else {**payload, "output_index": moved}

    def _on_item_added(self, payload: Payload) -> list[Payload]:
        events: list[Payload] = []
        if self._message is not None:
            # A new item began: the message before it is over, whatever the server said.
            events = self._finish_message(self._message)
        item = payload.get("item")
        index = payload.get("output_index")
        if not isinstance(item, Mapping) or not _is_int(index):
            return [*events, payload]
        item_type = item.get("type")
        item_id = item.get("id")
        is_over_cap = len(self._index_of) + len(self._messages) >= MAX_TRACKED_ITEMS
        if is_over_cap and self._is_strip:
            raise UnfilterableError(f"more than {MAX_TRACKED_ITEMS} output items in one stream")
        if item_type == "reasoning":
            self._is_native = True
            if self._is_strip:
                if isinstance(item_id, str):
                    self._dropped_ids.add(item_id)
                self._index_shift -= 1
                return events
        elif (
            item_type == "message"
            and isinstance(item_id, str)
            and item.get("role", "assistant") == "assistant"
            and (self._is_strip or not self._is_native)
            and not is_over_cap
        ):
            policy = self._policy
            splitter = ReasoningSplitter.from_format(
                policy.tag_format, starts_in_reasoning=policy.starts_in_reasoning
            )
            message = _MessageState(item_id, index + self._index_shift, payload, splitter)
            self._message = self._messages[item_id] = message
            return events
        if not is_over_cap:
            self._index_of[index] = index + self._index_shift
        return [*events, self._moved(payload)]

    def _on_part_added(self, message: _MessageState, payload: Payload) -> list[Payload]:
        part = payload.get("part")
        if message.part_added is None and isinstance(part, Mapping):
            if part.get("type") == "output_text":
                message.part_added = payload
                index = payload.get("content_index")
                message.content_index = index if _is_int(index) else 0
                return []
        return [self._in_current_message(message, payload)]

    def _on_text_delta(self, message: _MessageState, payload: Payload) -> list[Payload]:
        delta = payload.get("delta")
        if not isinstance(delta, str):
            return [self._in_current_message(message, payload)]
        if delta:
            message.has_text = True
        segments = message.splitter.feed(delta)
        current = message.current
        if (
            len(segments) == 1
            and segments[0] == (CONTENT, delta)
            and current is not None
            and current.kind == CONTENT
        ):
            current.pieces.append(delta)
            return [self._in_current_message(message, payload)]
        return self._emit(message, segments, payload)

    def _on_text_done(self, message: _MessageState, payload: Payload) -> list[Payload]:
        events = self._emit(message, message.splitter.finish(), None)
        events += self._keep_if_empty(message)
        current = message.current
        if current is None:
            return events
        if current.kind == REASONING:
            return events + self._close(message)
        current.is_text_done = True
        if payload.get("text") != current.text:
            payload = {**payload, "text": current.text}
        return [*events, self._in_current_message(message, payload)]

    def _on_part_done(self, message: _MessageState, payload: Payload) -> list[Payload]:
        current = message.current
        if current is None or current.kind != CONTENT or current.is_part_done:
            return []
        if not current.is_text_done:
            return self._close(message)
        current.is_part_done = True
        part = payload.get("part")
        if isinstance(part, Mapping) and part.get("text") != current.text:
            payload = {**payload, "part": _retexted(part, current.text)}
        return [self._in_current_message(message, payload)]

    def _on_item_done(self, payload: Payload) -> list[Payload]:
        item = payload.get("item")
        item_id = item.get("id") if isinstance(item, Mapping) else None
        message = self._message
        if message is not None and item_id == message.server_id and isinstance(item, Mapping):
            events: list[Payload] = []
            current = message.current
            if current is not None and current.kind == CONTENT and current.is_part_done:
                message.current = None
                done_item = self._message_item(message, current, item, item.get("status"))
                if done_item != item or payload.get("output_index") != current.output_index:
                    payload = {**payload, "output_index": current.output_index, "item": done_item}
                events.append(payload)
            return events + self._finish_message(message)
        if isinstance(item_id, str) and item_id in self._dropped_ids:
            return []
        if isinstance(item, Mapping) and item.get("type") == "reasoning":
            self._is_native = True
        return [self._moved(payload)]

    def _on_terminal(self, payload: Payload) -> list[Payload]:
        events = [] if self._message is None else self._finish_message(self._message)
        response = payload.get("response")
        if not isinstance(response, Mapping):
            return [*events, payload]
        rewritten = self._final_response(response)
        return [*events, payload if rewritten is None else {**payload, "response": rewritten}]

    def _final_response(self, response: Mapping[str, Any]) -> dict[str, Any] | None:
        """``response`` with ``output`` as streamed to the client, or ``None`` if unchanged."""
        output = response.get("output")
        if not isinstance(output, list):
            return None
        new_output: list[Any] = []
        changed = False
        for item in output:
            item_id = item.get("id") if isinstance(item, Mapping) else None
            message = self._messages.get(item_id) if isinstance(item_id, str) else None
            if message is not None and isinstance(item, Mapping):
                if _is_unchanged(message):
                    new_output.append(item)
                    continue
                new_output.extend(self._output_items(message, item))
                changed = True
            elif isinstance(item_id, str) and item_id in self._dropped_ids:
                changed = True
            elif self._is_strip and isinstance(item, Mapping) and item.get("type") == "reasoning":
                changed = True
            else:
                new_output.append(item)
        if not changed:
            return None
        result = {**response, "output": new_output}
        if self._reasoning_deltas and not self._is_strip:
            usage = with_reasoning_tokens(response.get("usage"), self._reasoning_deltas)
            if usage is not None:
                result["usage"] = usage
        return result

    def _output_items(
        self, message: _MessageState, server_item: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        status = server_item.get("status")
        return [
            self._message_item(message, item, server_item, status)
            if item.kind == CONTENT
            else self._reasoning_item(item, "completed")
            for item in message.items
        ]

    def _emit(
        self, message: _MessageState, segments: list[Segment], source: Payload | None
    ) -> list[Payload]:
        """Events for these pieces of the message's text, opening and closing items."""
        events: list[Payload] = []
        has_reasoning = False
        for kind, text in merge_segments(segments):
            if kind == REASONING:
                has_reasoning = True
                if self._is_strip:
                    continue
                if message.current is None or message.current.kind != REASONING:
                    events += self._open(message, REASONING)
                events += self._reasoning_deltas_for(message, text)
            else:
                if message.current is None or message.current.kind != CONTENT:
                    events += self._open(message, CONTENT)
                events.append(self._text_delta(message, text, source))
        if has_reasoning and source is not None:
            self._reasoning_deltas += 1
        return events

    def _open(self, message: _MessageState, kind: Kind) -> list[Payload]:
        events = self._close(message) if message.current is not None else []
        index = message.base_index + len(message.items)
        item = _ClientItem(kind, self._client_id(message, kind), index)
        message.items.append(item)
        message.current = item
        numbered = bool(self._is_numbered)
        if kind == CONTENT:
            added = message.added
            server_item = added.get("item")
            new_item = (
                {**server_item, "id": item.item_id}
                if isinstance(server_item, Mapping)
                else server_item
            )
            events.append({**added, "output_index": index, "item": new_item})
            part_added = message.part_added or _event(
                PART_ADDED,
                numbered,
                item_id=message.server_id,
                output_index=index,
                content_index=message.content_index,
                part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            )
            events.append({**part_added, "item_id": item.item_id, "output_index": index})
            return events
        reasoning = {"type": "reasoning", "id": item.item_id, "summary": [], "content": []}
        events.append(
            _event(
                ITEM_ADDED,
                numbered,
                output_index=index,
                item={**reasoning, "status": "in_progress"},
            )
        )
        where = {"item_id": item.item_id, "output_index": index}
        if self._writes_text:
            events.append(
                _event(
                    PART_ADDED,
                    numbered,
                    **where,
                    content_index=0,
                    part={"type": "reasoning_text", "text": ""},
                )
            )
        if self._writes_summary:
            events.append(
                _event(
                    "response.reasoning_summary_part.added",
                    numbered,
                    **where,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
            )
        return events

    def _client_id(self, message: _MessageState, kind: Kind) -> str:
        """Ids stay unique and readable: the server's id first, ``…_2`` for a second part."""
        count = 1 + sum(1 for item in message.items if item.kind == kind)
        suffix = "" if count == 1 else f"_{count}"
        if kind == CONTENT:
            return message.server_id + suffix
        stem = message.server_id.removeprefix("msg_").removeprefix("msg-")
        return f"rs_{stem}{suffix}"

    def _reasoning_deltas_for(self, message: _MessageState, text: str) -> list[Payload]:
        item = message.current
        assert item is not None
        item.pieces.append(text)
        return self._reasoning_delta_events(item.item_id, item.output_index, text)

    def _reasoning_delta_events(self, item_id: str, output_index: int, text: str) -> list[Payload]:
        where = {"item_id": item_id, "output_index": output_index}
        numbered = bool(self._is_numbered)
        events = []
        if self._writes_text:
            events.append(
                _event(
                    "response.reasoning_text.delta", numbered, **where, content_index=0, delta=text
                )
            )
        if self._writes_summary:
            events.append(
                _event(
                    "response.reasoning_summary_text.delta",
                    numbered,
                    **where,
                    summary_index=0,
                    delta=text,
                )
            )
        return events

    def _text_delta(self, message: _MessageState, text: str, source: Payload | None) -> Payload:
        item = message.current
        assert item is not None
        item.pieces.append(text)
        if (
            source is not None
            and text == source.get("delta")
            and source.get("item_id") == item.item_id
            and source.get("output_index") == item.output_index
        ):
            return source
        if source is None:
            return _event(
                TEXT_DELTA,
                bool(self._is_numbered),
                item_id=item.item_id,
                output_index=item.output_index,
                content_index=message.content_index,
                delta=text,
                logprobs=[],
            )
        delta = {
            **source,
            "item_id": item.item_id,
            "output_index": item.output_index,
            "delta": text,
        }
        if "logprobs" in source and text != source.get("delta"):
            # The server's logprobs cover the whole delta, reasoning tokens included.
            delta["logprobs"] = []
        return delta

    def _in_current_message(self, message: _MessageState, payload: Payload) -> Payload:
        """An event of the server's message item, moved to the client item now open."""
        item = message.current
        if item is None or item.kind != CONTENT:
            return self._moved(payload)
        if (
            payload.get("item_id") == item.item_id
            and payload.get("output_index") == item.output_index
        ):
            return payload
        return {**payload, "item_id": item.item_id, "output_index": item.output_index}

    def _close(self, message: _MessageState) -> list[Payload]:
        """The ``.done`` events of the open client item, written from what it streamed."""
        item = message.current
        if item is None:
            return []
        message.current = None
        numbered = bool(self._is_numbered)
        where = {"item_id": item.item_id, "output_index": item.output_index}
        text = item.text
        events: list[Payload] = []
        if item.kind == REASONING:
            if self._writes_text:
                events.append(
                    _event(
                        "response.reasoning_text.done",
                        numbered,
                        **where,
                        content_index=0,
                        text=text,
                    )
                )
                events.append(
                    _event(
                        PART_DONE,
                        numbered,
                        **where,
                        content_index=0,
                        part={"type": "reasoning_text", "text": text},
                    )
                )
            if self._writes_summary:
                summary = {**where, "summary_index": 0}
                events.append(
                    _event("response.reasoning_summary_text.done", numbered, **summary, text=text)
                )
                events.append(
                    _event(
                        "response.reasoning_summary_part.done",
                        numbered,
                        **summary,
                        part={"type": "summary_text", "text": text},
                    )
                )
            done_item = self._reasoning_item(item, "completed")
            events.append(
                _event(ITEM_DONE, numbered, output_index=item.output_index, item=done_item)
            )
            return events
        part = self._text_part(message, text)
        content_index = message.content_index
        if not item.is_text_done:
            events.append(
                _event(
                    TEXT_DONE,
                    numbered,
                    **where,
                    content_index=content_index,
                    text=text,
                    logprobs=[],
                )
            )
        if not item.is_part_done:
            events.append(
                _event(PART_DONE, numbered, **where, content_index=content_index, part=part)
            )
        server_item = message.added.get("item")
        template = server_item if isinstance(server_item, Mapping) else {}
        done_item = self._message_item(message, item, template, "completed")
        events.append(_event(ITEM_DONE, numbered, output_index=item.output_index, item=done_item))
        return events

    def _keep_if_empty(self, message: _MessageState) -> list[Payload]:
        """A message the server sent without any text goes out as it came, empty."""
        if message.has_text or message.items:
            return []
        return self._open(message, CONTENT)

    def _finish_message(self, message: _MessageState) -> list[Payload]:
        """Close the message's items; later items move by the items it became, less one."""
        if message.is_finished:
            return []
        events = self._emit(message, message.splitter.finish(), None)
        events += self._keep_if_empty(message) + self._close(message)
        message.is_finished = True
        self._has_split |= not _is_unchanged(message)
        self._message = None
        self._index_shift += len(message.items) - 1
        return events

    def _text_part(self, message: _MessageState, text: str) -> dict[str, Any]:
        held = message.part_added.get("part") if message.part_added is not None else None
        part = (
            dict(held) if isinstance(held, Mapping) else {"type": "output_text", "annotations": []}
        )
        part["text"] = text
        if "logprobs" in part:
            part["logprobs"] = []
        return part

    def _message_item(
        self,
        message: _MessageState,
        item: _ClientItem,
        template: Mapping[str, Any],
        status: object,
    ) -> dict[str, Any]:
        result = {**template, "id": item.item_id}
        if "status" in result or status is not None:
            result["status"] = status if status is not None else "completed"
        content = template.get("content")
        index = message.content_index
        if (
            isinstance(content, list)
            and index < len(content)
            and isinstance(content[index], Mapping)
            and content[index].get("type") == "output_text"
        ):
            part = content[index]
            if part.get("text") != item.text:
                part = _retexted(part, item.text)
            result["content"] = [*content[:index], part, *content[index + 1 :]]
        else:
            result["content"] = [self._text_part(message, item.text)]
        return result

    def _reasoning_item(self, item: _ClientItem, status: str) -> dict[str, Any]:
        text = item.text
        return {
            "type": "reasoning",
            "id": item.item_id,
            "summary": [{"type": "summary_text", "text": text}] if self._writes_summary else [],
            "content": [{"type": "reasoning_text", "text": text}] if self._writes_text else [],
            "status": status,
        }


def _retexted(part: Mapping[str, Any], text: str) -> dict[str, Any]:
    """A text part with new text; its logprobs, which covered the old text, are emptied."""
    result = {**part, "text": text}
    if result.get("logprobs"):
        result["logprobs"] = []
    return result


def _is_unchanged(message: _MessageState) -> bool:
    """The message reached the client as one answer item holding the server's own text."""
    items = message.items
    return len(items) == 1 and items[0].kind == CONTENT and not message.splitter.saw_marker


def with_reasoning_tokens(usage: object, estimate: int) -> dict[str, Any] | None:
    """``usage`` with ``output_tokens_details.reasoning_tokens`` set, if the server left it 0."""
    if not isinstance(usage, Mapping) or estimate <= 0:
        return None
    details = usage.get("output_tokens_details")
    if isinstance(details, Mapping):
        if details.get("reasoning_tokens"):
            return None
        return {**usage, "output_tokens_details": {**details, "reasoning_tokens": estimate}}
    if details is not None:
        return None
    return {**usage, "output_tokens_details": {"reasoning_tokens": estimate}}


def refuse_reasoning(value: object, policy: Policy) -> None:
    """Under strip, raise ``UnfilterableError`` if ``value`` still holds reasoning anywhere.

    Reasoning is a string holding one of the format's markers, a ``reasoning`` item or part, a
    ``response.reasoning*`` event, or encrypted reasoning. A ``response``'s own ``reasoning``
    key is its configuration (effort, summary setting) and is not reasoning. Iterative, so any
    depth is checked; the split text sent to the client holds no marker, so what holds one was
    forwarded in a shape not understood.
    """
    markers = tuple(dict.fromkeys(marker for pair in policy.tag_format.pairs for marker in pair))
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if any(marker in item for marker in markers):
                raise UnfilterableError("a Responses event holds a reasoning marker")
        elif isinstance(item, dict):
            kind = item.get("type")
            if isinstance(kind, str) and (
                kind.startswith(("reasoning", REASONING_EVENT_PREFIX))
                or kind in ("summary_text", "reasoning_text")
            ):
                raise UnfilterableError(f"a Responses event holds reasoning ({kind})")
            for key, child in item.items():
                if key in REASONING_CARRIER_KEYS and child:
                    raise UnfilterableError(f"a Responses event holds reasoning ({key})")
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)


def rewrite_response(body: object, policy: Policy) -> dict[str, Any] | None:
    """A whole ``response`` object with reasoning moved out of its message items.

    Under strip a body without ``"object": "response"`` is read too when it has an ``output``
    list, and what is left after the rewrite must hold no reasoning (``refuse_reasoning``).
    """
    is_strip = policy.mode == "strip"
    if is_strip and isinstance(body, dict) and isinstance(body.get("output"), list):
        result = _rewrite_response(body, policy)
        refuse_reasoning(body if result is None else result, policy)
        return result
    return _rewrite_response(body, policy)


def _rewrite_response(body: object, policy: Policy) -> dict[str, Any] | None:
    is_strip = policy.mode == "strip"
    if not isinstance(body, dict) or (body.get("object") != "response" and not is_strip):
        return None
    output = body.get("output")
    if not isinstance(output, list):
        return None
    is_native = any(
        isinstance(item, Mapping) and item.get("type") == "reasoning" for item in output
    )
    writes_text = policy.responses_reasoning in ("text", "both")
    writes_summary = policy.responses_reasoning in ("summary", "both")
    new_output: list[Any] = []
    changed = False
    reasoning_chars = content_chars = 0
    for item in output:
        if not isinstance(item, Mapping):
            new_output.append(item)
            continue
        if item.get("type") == "reasoning" and is_strip:
            changed = True
            continue
        split = None if is_native and not is_strip else _split_message(item, body, policy)
        if split is None:
            new_output.append(item)
            continue
        changed = True
        runs, part_index = split
        reasoning_count = message_count = 0
        stem = str(item.get("id", "")).removeprefix("msg_").removeprefix("msg-")
        content = item.get("content")
        assert isinstance(content, list)
        for kind, text in runs:
            if kind == REASONING:
                reasoning_chars += len(text)
                if is_strip:
                    continue
                reasoning_count += 1
                suffix = "" if reasoning_count == 1 else f"_{reasoning_count}"
                new_output.append(
                    {
                        "type": "reasoning",
                        "id": f"rs_{stem}{suffix}",
                        "summary": [{"type": "summary_text", "text": text}]
                        if writes_summary
                        else [],
                        "content": [{"type": "reasoning_text", "text": text}]
                        if writes_text
                        else [],
                        "status": "completed",
                    }
                )
            else:
                content_chars += len(text)
                message_count += 1
                if is_strip and message_count > 1:
                    # Under strip the answer stays one item: its pieces would reveal reasoning.
                    previous = new_output[-1]["content"][part_index]
                    previous["text"] += text
                    continue
                suffix = "" if message_count == 1 else f"_{message_count}"
                part = {**content[part_index], "text": text}
                if "logprobs" in part:
                    part["logprobs"] = []
                parts = [*content[:part_index], part, *content[part_index + 1 :]]
                new_output.append({**item, "id": f"{item.get('id')}{suffix}", "content": parts})
    if not changed:
        return None
    result = {**body, "output": new_output}
    usage = body.get("usage")
    if reasoning_chars and not is_strip and isinstance(usage, Mapping):
        output_tokens = usage.get("output_tokens")
        if _is_int(output_tokens) and output_tokens > 0:
            share = reasoning_chars / (reasoning_chars + content_chars)
            estimate = max(1, round(output_tokens * share))
            new_usage = with_reasoning_tokens(usage, estimate)
            if new_usage is not None:
                result["usage"] = new_usage
    return result


def _split_message(
    item: Mapping[str, Any], response: Mapping[str, Any], policy: Policy
) -> tuple[list[Segment], int] | None:
    """The runs of a message item's one text part, and that part's index; ``None``: no split."""
    if item.get("type") != "message" or item.get("role", "assistant") != "assistant":
        return None
    content = item.get("content")
    if not isinstance(content, list):
        return None
    text_parts = [
        i
        for i, part in enumerate(content)
        if isinstance(part, Mapping) and part.get("type") == "output_text"
    ]
    if len(text_parts) != 1 or not isinstance(content[text_parts[0]].get("text"), str):
        return None
    text: str = content[text_parts[0]]["text"]
    splitter = ReasoningSplitter.from_format(
        policy.tag_format, starts_in_reasoning=policy.starts_in_reasoning
    )
    runs = merge_segments(splitter.feed(text) + splitter.finish())
    if not splitter.saw_marker and (
        # DESIGN.md §4.10: an answer given without thinking stays the answer.
        not policy.starts_in_reasoning or response.get("status") == "completed"
    ):
        return None
    return runs, text_parts[0]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class ResponsesAPI(WireAPI):
    """OpenAI Responses: ``output`` items of a ``response``, and its typed stream events."""

    name = "responses"
    path_patterns = ("*/v1/responses",)
    has_event_names = True
    # Item and part openings (a message's must be held; a reasoning item says the server
    # splits by itself) and the server's own reasoning events (strip drops them).
    always_inspect = (b'.added"', b'"response.reasoning')

    def thinking_requested(self, request: Mapping[str, Any]) -> bool | None:
        return chat_template_thinking(request)

    def new_stream(self, policy: Policy, request: Mapping[str, Any] | None) -> ResponsesRewriter:
        return ResponsesRewriter(policy)

    def rewrite_body(self, body: object, policy: Policy) -> Payload | None:
        return rewrite_response(body, policy)

    def error_body(self, message: str) -> Payload:
        return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}

    def error_event(self, message: str) -> Payload:
        # The Responses stream's `error` event (openai.types.responses.ResponseErrorEvent).
        # Its sequence_number cannot follow the stream's here; 0 keeps the field typed.
        return {
            "type": "error",
            "code": "server_error",
            "message": message,
            "param": None,
            "sequence_number": 0,
        }
