"""Reasoning in earlier assistant turns, rewritten into what the model's chat template reads.

Clients send a conversation's history back with the reasoning where *they* keep it: Chat
``reasoning_content`` or ``reasoning`` on assistant messages (or inline ``<think>`` in
``content``), Responses ``reasoning`` input items, Messages ``thinking`` blocks. Templates
and servers each read one place: vLLM reads only ``reasoning`` (``chat_utils.py
_parse_chat_message_content`` copies it to both names and drops ``reasoning_content``);
MiniMax-M2's template wants ``<think>`` kept in the content; DeepSeek's R1 API rejects
``reasoning_content`` in input; gpt-oss wants analysis only after a tool call. A rule moves
the reasoning there:

- ``"keep"``: nothing changes.
- ``"field"``: every assistant turn's reasoning goes to ``history_field`` alone (other
  reasoning names removed; inline markers in ``content`` moved out too).
- ``"inline"``: the reasoning goes back into the content, as ``opener\\n…\\ncloser\\n\\n``
  before the answer: the shape MiniMax-M2's template renders it in.
- ``"strip"``: the reasoning is dropped, fields and inline blocks alike.
- ``"harmony"``: gpt-oss's rule (openai/harmony docs, "Handling reasoning output in
  subsequent sampling"; its chat template's ``future_final_message``): reasoning is dropped
  from every assistant turn up to the last final answer, and kept (as ``"field"`` puts it)
  on the tool-call turns after it.

Every function returns a new request dict, sharing the parts it did not change, or ``None``
when nothing changed; the request is never mutated. Odd shapes (a message that is not an
object, content that is neither a string nor a list) are left as they are.

Intentional divergences:

1. In the Responses and Messages APIs the reasoning item / ``thinking`` block *is* the field,
   so ``"field"`` changes nothing there.
2. Messages ``redacted_thinking`` blocks cannot be inlined (their text is encrypted); only
   ``"strip"`` and ``"harmony"`` remove them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from .text.splitter import REASONING, ReasoningSplitter, merge_segments

if TYPE_CHECKING:
    from collections.abc import Callable

    from .text.presets import TagFormat

HistoryRule: TypeAlias = Literal["keep", "field", "inline", "strip", "harmony"]
HISTORY_RULES: Final[tuple[HistoryRule, ...]] = ("keep", "field", "inline", "strip", "harmony")
DEFAULT_HISTORY_FIELD: Final = "reasoning"
# The names clients and servers give an assistant message's reasoning in Chat Completions:
# DeepSeek / SGLang / llama.cpp, vLLM / OpenRouter / Ollama, the gpt-oss template.
CHAT_REASONING_FIELDS: Final = ("reasoning_content", "reasoning", "thinking")

# Each family's documented rule, the value ``history="auto"`` resolves to. Presets not named
# here resolve to "keep": nothing is assumed of an unknown template.
RECOMMENDED_HISTORY: Final[Mapping[str, HistoryRule]] = {
    # MiniMax-M2 model card ("Inference Parameters"): the <think> content of earlier turns
    # "must be preserved completely" in history; its template reads it from the content.
    "minimax_m2": "inline",
    # DeepSeek API docs (reasoning_model): reasoning_content of earlier turns is not
    # concatenated into the context, and sending it back is a 400 error; R1 templates cut
    # everything before </think> out of assistant content.
    "deepseek_r1": "strip",
    # Qwen3 chat template: reasoning_content is rendered for the turns after the last user
    # query (the tool-call loop) and dropped before it; the template decides, given the field.
    "qwen3": "field",
    "qwen3_thinking": "field",
    # DeepSeek V3.2 "thinking with tool use": reasoning_content of the current turn's tool
    # calls must be sent back; the template drops it before the last user message.
    "deepseek_v3": "field",
    # GLM-4.5+ templates render reasoning_content after the last user message; GLM-4.7's
    # preserved thinking keeps all of it.
    "glm45": "field",
    # Kimi K2 Thinking: "reasoning_content is missing in assistant tool call message" (400);
    # its template renders reasoning_content after the last final answer. K3 reads it too.
    "kimi_k2": "field",
    "kimi_k3": "field",
    # Seed-OSS template renders reasoning_content of every assistant turn.
    "seed_oss": "field",
    # gpt-oss (Harmony).
    "harmony": "harmony",
}

_Message: TypeAlias = dict[str, Any]


def recommended_history(preset: str) -> HistoryRule:
    """The rule ``history="auto"`` means for a preset (normalised name); ``"keep"`` if unknown."""
    return RECOMMENDED_HISTORY.get(preset, "keep")


def markers_of(fmt: TagFormat) -> tuple[str, str] | None:
    """The (opener, closer) pair reasoning is inlined with: the format's first pair."""
    return fmt.pairs[0] if fmt.pairs else None


def rewrite_history(
    api: str,
    request: Mapping[str, Any],
    rule: HistoryRule,
    *,
    fmt: TagFormat,
    field: str = DEFAULT_HISTORY_FIELD,
) -> dict[str, Any] | None:
    """The request with its history rewritten by ``rule``, for the API named ``api``.

    ``api`` is a ``WireAPI.name``: ``"chat_completions"``, ``"responses"`` or ``"messages"``;
    any other name changes nothing.
    """
    if rule == "keep":
        return None
    if api == "chat_completions":
        return rewrite_chat_history(request, rule, fmt=fmt, field=field)
    if api == "responses":
        return rewrite_responses_history(request, rule, fmt=fmt)
    if api == "messages":
        return rewrite_messages_history(request, rule, fmt=fmt)
    return None


def rewrite_chat_history(
    request: Mapping[str, Any],
    rule: HistoryRule,
    *,
    fmt: TagFormat,
    field: str = DEFAULT_HISTORY_FIELD,
) -> dict[str, Any] | None:
    """Chat Completions: the reasoning of ``messages[]`` assistant turns, moved by ``rule``."""
    messages = request.get("messages")
    if rule == "keep" or not isinstance(messages, list):
        return None
    keep_from = _first_kept_chat_turn(messages) if rule == "harmony" else 0
    changed = False
    rewritten: list[object] = []
    for index, message in enumerate(messages):
        new: _Message | None = None
        if isinstance(message, dict) and message.get("role") == "assistant":
            if rule == "field" or (rule == "harmony" and index >= keep_from):
                new = _chat_to_field(message, field, fmt)
            elif rule == "inline":
                new = _chat_inline(message, fmt)
            else:
                new = _chat_strip(message, fmt)
        changed = changed or new is not None
        rewritten.append(message if new is None else new)
    return {**request, "messages": rewritten} if changed else None


def _first_kept_chat_turn(messages: list[object]) -> int:
    # Harmony keeps analysis only after the last final answer: an assistant turn without
    # tool calls (vLLM harmony_utils auto_drop_analysis_messages; the chat template's
    # future_final_message test).
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and not message.get("tool_calls")
        ):
            return index + 1
    return 0


def _chat_to_field(message: _Message, field: str, fmt: TagFormat) -> _Message | None:
    texts = [_reasoning_text(message.get(name)) for name in (field, *CHAT_REASONING_FIELDS)]
    reasoning = next((text for text in texts if text), "")
    content = message.get("content")
    inline_reasoning, answer = _split_inline(content, fmt)
    if inline_reasoning:
        reasoning = reasoning or inline_reasoning
    has_other_names = any(name in message for name in CHAT_REASONING_FIELDS if name != field)
    if not reasoning:
        # Nothing to move; empty reasoning keys elsewhere are dropped so none is read twice.
        if not has_other_names:
            return None
        return {k: v for k, v in message.items() if k not in CHAT_REASONING_FIELDS}
    if not has_other_names and message.get(field) == reasoning and inline_reasoning is None:
        return None
    result: _Message = {}
    for key, value in message.items():
        if key in CHAT_REASONING_FIELDS or key == field:
            continue
        result[key] = answer if key == "content" and inline_reasoning is not None else value
    result[field] = reasoning
    return result


def _chat_inline(message: _Message, fmt: TagFormat) -> _Message | None:
    markers = markers_of(fmt)
    texts = [_reasoning_text(message.get(name)) for name in CHAT_REASONING_FIELDS]
    reasoning = next((text for text in texts if text), "")
    has_names = any(name in message for name in CHAT_REASONING_FIELDS)
    if markers is None or not has_names:
        return None
    content = message.get("content")
    already_inline = _split_inline(content, fmt)[0] is not None
    result = {k: v for k, v in message.items() if k not in CHAT_REASONING_FIELDS}
    if reasoning and not already_inline:
        wrapped = inline_block(reasoning, markers)
        if content is None or isinstance(content, str):
            result["content"] = wrapped + (content or "")
        elif isinstance(content, list):
            result["content"] = [{"type": "text", "text": wrapped}, *content]
        else:
            return None
    return result


def _chat_strip(message: _Message, fmt: TagFormat) -> _Message | None:
    has_names = any(name in message for name in CHAT_REASONING_FIELDS)
    inline_reasoning, answer = _split_inline(message.get("content"), fmt)
    if not has_names and inline_reasoning is None:
        return None
    result: _Message = {}
    for key, value in message.items():
        if key in CHAT_REASONING_FIELDS:
            continue
        result[key] = answer if key == "content" and inline_reasoning is not None else value
    return result


def inline_block(reasoning: str, markers: tuple[str, str]) -> str:
    """``reasoning`` wrapped as MiniMax-M2's template renders it: opener, text, closer."""
    opener, closer = markers
    return f"{opener}\n{reasoning}\n{closer}\n\n"


def _split_inline(content: object, fmt: TagFormat) -> tuple[str | None, object]:
    """(reasoning found inline, the content without it); ``(None, content)`` when none."""
    if isinstance(content, str):
        reasoning, answer = _split_text(content, fmt)
        return (None, content) if reasoning is None else (reasoning, answer)
    if isinstance(content, list):
        found: list[str] = []
        parts: list[object] = []
        for part in content:
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(text, str):
                reasoning, answer = _split_text(text, fmt)
                if reasoning is not None:
                    found.append(reasoning)
                    if answer:
                        parts.append({**part, "text": answer})
                    continue
            parts.append(part)
        return (None, content) if not found else ("\n\n".join(f for f in found if f), parts)
    return None, content


def _split_text(text: str, fmt: TagFormat) -> tuple[str | None, str]:
    if not fmt.pairs or not any(opener in text for opener, _ in fmt.pairs):
        return None, text
    splitter = ReasoningSplitter.from_format(fmt, starts_in_reasoning=False)
    segments = merge_segments([*splitter.feed(text), *splitter.finish()])
    if not splitter.saw_marker:
        return None, text
    # Templates strip the newlines around an inline block (Qwen3: rstrip('\n')); so does this.
    reasoning = "".join(part for kind, part in segments if kind == REASONING).rstrip()
    answer = "".join(part for kind, part in segments if kind != REASONING)
    return reasoning, answer


def _reasoning_text(value: object) -> str | None:
    # A string (vLLM, SGLang, DeepSeek), a list of text parts, or an object with text.
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("text", "content"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return None
    if isinstance(value, list):
        # One level of parts only: a deeper list is not a reasoning shape anyone sends.
        return "".join(
            text for part in value if not isinstance(part, list) and (text := _reasoning_text(part))
        )
    return None


def rewrite_responses_history(
    request: Mapping[str, Any], rule: HistoryRule, *, fmt: TagFormat
) -> dict[str, Any] | None:
    """Responses: ``reasoning`` items of the ``input`` list, moved by ``rule``."""
    items = request.get("input")
    if rule in ("keep", "field") or not isinstance(items, list):
        return None
    keep_from = _first_kept_index(items, _is_responses_final) if rule == "harmony" else 0
    markers = markers_of(fmt)
    changed = False
    rewritten: list[object] = []
    index = 0
    while index < len(items):
        item = items[index]
        if not _is_responses_reasoning(item) or (rule == "harmony" and index >= keep_from):
            rewritten.append(item)
            index += 1
            continue
        if rule == "inline":
            text = _responses_reasoning_text(item)
            if text is None or markers is None:
                rewritten.append(item)
                index += 1
                continue
            following = items[index + 1] if index + 1 < len(items) else None
            wrapped = inline_block(text, markers)
            if isinstance(following, dict) and _is_responses_assistant_message(following):
                rewritten.append(_prepend_responses_text(following, wrapped))
                index += 1
            else:
                rewritten.append(
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": wrapped}],
                    }
                )
        changed = True
        index += 1
    return {**request, "input": rewritten} if changed else None


def _is_responses_reasoning(item: object) -> bool:
    return isinstance(item, dict) and item.get("type") == "reasoning"


def _is_responses_assistant_message(item: object) -> bool:
    return (
        isinstance(item, dict)
        and item.get("role") == "assistant"
        and item.get("type", "message") == "message"
    )


def _is_responses_final(item: object) -> bool:
    # A final answer is an assistant message item; reasoning before a function_call item
    # belongs to a tool-call step.
    return _is_responses_assistant_message(item)


def _responses_reasoning_text(item: Mapping[str, Any]) -> str | None:
    for key, part_type in (("content", "reasoning_text"), ("summary", "summary_text")):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [
                part["text"]
                for part in parts
                if isinstance(part, dict)
                and part.get("type", part_type) == part_type
                and isinstance(part.get("text"), str)
            ]
            if any(texts):
                return "\n\n".join(text for text in texts if text)
    return None


def _prepend_responses_text(message: Mapping[str, Any], text: str) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": text + content}
    parts = content if isinstance(content, list) else []
    for position, part in enumerate(parts):
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            new_part = {**part, "text": text + part["text"]}
            return {**message, "content": [*parts[:position], new_part, *parts[position + 1 :]]}
    return {**message, "content": [{"type": "output_text", "text": text}, *parts]}


def rewrite_messages_history(
    request: Mapping[str, Any], rule: HistoryRule, *, fmt: TagFormat
) -> dict[str, Any] | None:
    """Anthropic Messages: ``thinking`` blocks of assistant turns, moved by ``rule``."""
    messages = request.get("messages")
    if rule in ("keep", "field") or not isinstance(messages, list):
        return None
    keep_from = _first_kept_index(messages, _is_messages_final) if rule == "harmony" else 0
    markers = markers_of(fmt)
    changed = False
    rewritten: list[object] = []
    for index, message in enumerate(messages):
        new: _Message | None = None
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and isinstance(message.get("content"), list)
            and not (rule == "harmony" and index >= keep_from)
        ):
            if rule == "inline":
                new = _messages_inline(message, markers) if markers is not None else None
            else:
                new = _messages_strip(message)
        changed = changed or new is not None
        rewritten.append(message if new is None else new)
    return {**request, "messages": rewritten} if changed else None


def _is_thinking_block(block: object, *, redacted: bool = True) -> bool:
    kinds = ("thinking", "redacted_thinking") if redacted else ("thinking",)
    return isinstance(block, dict) and block.get("type") in kinds


def _is_messages_final(message: object) -> bool:
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return False
    content = message.get("content")
    if not isinstance(content, list):
        return True
    return not any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)


def _messages_strip(message: _Message) -> _Message | None:
    blocks = message["content"]
    kept = [block for block in blocks if not _is_thinking_block(block)]
    if len(kept) == len(blocks):
        return None
    return {**message, "content": kept}


def _messages_inline(message: _Message, markers: tuple[str, str]) -> _Message | None:
    blocks = message["content"]
    if not any(_is_thinking_block(block, redacted=False) for block in blocks):
        return None
    result: list[object] = []
    pending = ""
    for block in blocks:
        if _is_thinking_block(block, redacted=False):
            text = block.get("thinking")
            if isinstance(text, str) and text:
                pending += inline_block(text, markers)
            continue
        if pending and isinstance(block, dict) and block.get("type") == "text":
            text = block.get("text")
            block = {**block, "text": pending + (text if isinstance(text, str) else "")}
            pending = ""
        elif pending:
            result.append({"type": "text", "text": pending})
            pending = ""
        result.append(block)
    if pending:
        result.append({"type": "text", "text": pending})
    return {**message, "content": result}


def _first_kept_index(items: list[object], is_final: Callable[[object], bool]) -> int:
    for index in range(len(items) - 1, -1, -1):
        if is_final(items[index]):
            return index + 1
    return 0
