"""What a client sees: SSE bodies, chat-completion chunks and the SDK's objects, read the
way users read them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.asgi_helpers import event_data, split_events

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from openai.types.chat import ChatCompletionChunk

JSONObject = dict[str, Any]


def data_payloads(body: bytes) -> list[str]:
    return [data for data in map(event_data, split_events(body)) if data is not None]


def chunk_objects(body: bytes) -> list[JSONObject]:
    """Every `chat.completion.chunk` object in a stream body."""
    chunks: list[JSONObject] = []
    for data in data_payloads(body):
        if data == "[DONE]":
            continue
        value = json.loads(data)
        if isinstance(value, dict) and value.get("object") == "chat.completion.chunk":
            chunks.append(value)
    return chunks


@dataclass(slots=True)
class ChoiceText:
    """What a streaming client assembles for one choice."""

    reasoning: str = ""
    content: str = ""
    reasoning_deltas: int = 0
    content_deltas: int = 0
    kinds_in_order: list[str] = field(default_factory=list)
    finish_reason: str | None = None


def text_of_delta(delta: Mapping[str, Any], key: str) -> str:
    value = delta.get(key)
    return value if isinstance(value, str) else ""


def assemble_choices(
    deltas: Iterable[tuple[int, Mapping[str, Any], str | None]],
) -> dict[int, ChoiceText]:
    """Join `(choice index, delta, finish_reason)` triples into each choice's text.

    Asserts the contract every client relies on: no delta carries both reasoning and content.
    """
    choices: dict[int, ChoiceText] = {}
    for index, delta, finish_reason in deltas:
        choice = choices.setdefault(index, ChoiceText())
        reasoning = text_of_delta(delta, "reasoning_content")
        content = text_of_delta(delta, "content")
        assert not (reasoning and content), f"a delta carries both reasoning and content: {delta}"
        if reasoning:
            choice.reasoning += reasoning
            choice.reasoning_deltas += 1
            choice.kinds_in_order.append("reasoning")
        if content:
            choice.content += content
            choice.content_deltas += 1
            choice.kinds_in_order.append("content")
        if finish_reason is not None:
            choice.finish_reason = finish_reason
    return choices


def assemble_chunks(chunks: Sequence[JSONObject]) -> dict[int, ChoiceText]:
    return assemble_choices(
        (choice["index"], choice.get("delta") or {}, choice.get("finish_reason"))
        for value in chunks
        for choice in value["choices"]
    )


def reasoning_of(value: object) -> str | None:
    """The non-standard field as users read it from the SDK's objects (DeepSeek's docs)."""
    reasoning = getattr(value, "reasoning_content", None)
    assert reasoning is None or isinstance(reasoning, str)
    return reasoning


def assemble_sdk_chunks(chunks: Iterable[ChatCompletionChunk]) -> dict[int, ChoiceText]:
    """Each choice's text from the `openai` SDK's stream objects."""
    return assemble_choices(
        (
            choice.index,
            {"reasoning_content": reasoning_of(choice.delta), "content": choice.delta.content},
            choice.finish_reason,
        )
        for chunk in chunks
        for choice in chunk.choices
    )


def kinds_switch_once(kinds: Sequence[str]) -> bool:
    """True when all reasoning comes first and all content after it."""
    first_content = kinds.index("content") if "content" in kinds else len(kinds)
    return "reasoning" not in kinds[first_content:]
