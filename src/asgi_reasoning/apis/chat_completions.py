"""The Chat Completions API (``*/chat/completions``): chunks as they stream, or a whole completion.

Plain dicts in, plain dicts out, one ``ReasoningSplitter`` per ``choices[].index``. ``None``
from a rewrite means "unchanged": the caller forwards the original bytes.

Intentional divergences:

1. A delta whose text yields several runs of different kinds (``a<think>b</think>c`` in one
   token) becomes one chunk per run, in text order; ``role`` stays on the first, and
   ``tool_calls``, ``finish_reason``, ``logprobs`` and ``usage`` on the last.
2. A choice whose server already filled a reasoning field (§8) is never split: its content
   may quote a marker on purpose.
3. Without a marker, a response that was assumed to start inside reasoning and ended with
   ``finish_reason: "stop"`` keeps its content (non-streaming only, DESIGN.md §4.10).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ..text.splitter import CONTENT, REASONING, ReasoningSplitter, merge_segments
from .base import StreamRewriter, WireAPI

if TYPE_CHECKING:
    from ..policy import Policy
    from ..text.splitter import Kind
    from .base import Payload

NATIVE_FIELDS: Final = ("reasoning_content", "reasoning")
CHUNK_IDENTITY_KEYS: Final = ("id", "object", "created", "model", "system_fingerprint")
# On a delta split into several chunks, these belong to the first or the last one only.
FIRST_DELTA_KEYS: Final = frozenset({"role"})
LAST_DELTA_KEYS: Final = frozenset({"tool_calls", "function_call"})
LAST_CHOICE_KEYS: Final = ("finish_reason", "logprobs", "stop_reason")


def native_reasoning(container: Mapping[str, Any]) -> str | None:
    """The reasoning text a server put in a field of its own, or ``None``."""
    for key in NATIVE_FIELDS:
        text = _reasoning_text(container.get(key))
        if text:
            return text
    return None


def _reasoning_text(value: object) -> str | None:
    # vLLM and SGLang send a string; others a list of parts or an object with text.
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("text", "content"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return None
    if isinstance(value, list):
        return "".join(text for part in value if (text := _reasoning_text(part)))
    return None


def with_texts(
    container: Mapping[str, Any], content: object, reasoning: str | None, policy: Policy
) -> dict[str, Any]:
    """``container`` (a message or delta) with ``content`` and the reasoning fields set.

    Reasoning goes to every configured field, right after ``content``; other reasoning
    fields are removed so nothing is said twice. With ``reasoning=None`` the existing
    reasoning keys stay as they were, except in strip mode, which removes them all.
    """
    strip = policy.mode == "strip"
    fields = policy.fields
    result: dict[str, Any] = {}
    for key, value in container.items():
        if key == "content":
            result[key] = content
            if reasoning is not None and not strip:
                for field in fields:
                    result[field] = reasoning
        elif key in NATIVE_FIELDS or key in fields:
            if strip or reasoning is not None:
                continue
            result[key] = value
        else:
            result[key] = value
    if "content" not in container:
        # A server-split delta may carry reasoning alone: add no content key it did not have.
        if content is not None:
            result["content"] = content
        if reasoning is not None and not strip:
            for field in fields:
                result[field] = reasoning
    return result


def rewrite_completion(completion: object, policy: Policy) -> dict[str, Any] | None:
    """A non-streaming ``chat.completion`` with reasoning moved out of ``content``."""
    if not isinstance(completion, dict) or completion.get("object") != "chat.completion":
        return None
    choices = completion.get("choices")
    if not isinstance(choices, list):
        return None
    rewritten = [_rewrite_message_choice(choice, policy) for choice in choices]
    if all(choice is None for choice in rewritten):
        return None
    return {
        **completion,
        "choices": [new or old for new, old in zip(rewritten, choices, strict=True)],
    }


def _rewrite_message_choice(choice: object, policy: Policy) -> dict[str, Any] | None:
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        return None
    message: dict[str, Any] = choice["message"]
    native = native_reasoning(message)
    if native is not None:
        normalized = with_texts(message, message.get("content"), native, policy)
        return None if _same(normalized, message) else {**choice, "message": normalized}
    content = message.get("content")
    if not isinstance(content, str):
        return None
    splitter = ReasoningSplitter.from_format(
        policy.tag_format, starts_in_reasoning=policy.starts_in_reasoning
    )
    segments = splitter.feed(content) + splitter.finish()
    if not splitter.saw_marker and (
        not policy.starts_in_reasoning or choice.get("finish_reason") == "stop"
    ):
        return None
    reasoning = "".join(text for kind, text in segments if kind == REASONING)
    answer = "".join(text for kind, text in segments if kind == CONTENT)
    message = with_texts(message, answer or None, reasoning or None, policy)
    return {**choice, "message": message}


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return list(a.items()) == list(b.items())


class _ChoiceState:
    __slots__ = ("is_native", "splitter")

    def __init__(self, splitter: ReasoningSplitter) -> None:
        self.splitter = splitter
        self.is_native = False


class ChunkRewriter(StreamRewriter):
    """Rewrites one stream's ``chat.completion.chunk`` objects, with state per choice."""

    def __init__(self, policy: Policy, *, choice_count: int | None = 1) -> None:
        self._policy = policy
        self._is_strip = policy.mode == "strip"
        self._choices: dict[object, _ChoiceState] = {}
        self._choice_count = choice_count
        self._last_chunk: Mapping[str, Any] = {"object": "chat.completion.chunk"}

    @property
    def is_transparent(self) -> bool:
        """True when a chunk without marker characters would come back unchanged."""
        if self._policy.starts_in_reasoning and (
            # A choice not seen yet starts inside reasoning: it is not idle.
            self._choice_count is None or len(self._choices) < self._choice_count
        ):
            return False
        for state in self._choices.values():
            if not state.splitter.passes_text_through:
                return False
        return True

    def rewrite(self, chunk: object) -> list[dict[str, Any]] | None:
        """The chunks to send instead of ``chunk``, or ``None`` to send it as it was."""
        if not isinstance(chunk, dict):
            return None
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return None
        self._last_chunk = chunk
        if len(choices) == 1:
            # One choice per chunk is what servers send; skip the bookkeeping for several.
            only = self._rewrite_choice(choices[0])
            if only is None:
                return None
            if len(only) == 1:
                return [{**chunk, "choices": only}]
            return self._chunks_for(chunk, [only])
        results = [self._rewrite_choice(choice) for choice in choices]
        if all(result is None for result in results):
            return None
        variants = [
            [old] if new is None else new for new, old in zip(results, choices, strict=True)
        ]
        return self._chunks_for(chunk, variants)

    def flush(self) -> list[dict[str, Any]]:
        """Chunks carrying what every choice still holds (before ``[DONE]`` or the end)."""
        identity = {k: self._last_chunk[k] for k in CHUNK_IDENTITY_KEYS if k in self._last_chunk}
        chunks = []
        for index, state in self._choices.items():
            if state.is_native:
                continue
            for kind, text in merge_segments(state.splitter.finish()):
                if kind == REASONING and self._is_strip:
                    continue
                delta = self._delta_for({"content": ""}, kind, text)
                choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}
                chunks.append({**identity, "choices": [choice]})
        return chunks

    def _chunks_for(
        self, chunk: dict[str, Any], variants: list[list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """One chunk per level of the choices' variants; ``usage`` stays on the last one."""
        depth = max(map(len, variants))
        if depth == 1:
            return [{**chunk, "choices": [v[0] for v in variants if v]}]
        if depth == 0:
            # Every choice was held back or stripped; the chunk is needed only for usage.
            return [{**chunk, "choices": []}] if chunk.get("usage") else []
        chunks = [
            {**chunk, "choices": [v[level] for v in variants if level < len(v)]}
            for level in range(depth)
        ]
        if "usage" in chunk:
            for earlier in chunks[:-1]:
                earlier["usage"] = None
        return chunks

    def _state(self, index: object) -> _ChoiceState:
        state = self._choices.get(index)
        if state is None:
            splitter = ReasoningSplitter.from_format(
                self._policy.tag_format, starts_in_reasoning=self._policy.starts_in_reasoning
            )
            state = self._choices[index] = _ChoiceState(splitter)
        return state

    def _rewrite_choice(self, choice: object) -> list[dict[str, Any]] | None:
        if not isinstance(choice, dict):
            return None
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return None
        state = self._state(choice.get("index", 0))
        # Key tests first: most deltas carry no reasoning field at all.
        has_field = "reasoning_content" in delta or "reasoning" in delta
        native = native_reasoning(delta) if has_field else None
        if native is not None or state.is_native:
            state.is_native = True
            normalized = with_texts(delta, delta.get("content"), native, self._policy)
            return None if _same(normalized, delta) else [{**choice, "delta": normalized}]
        content = delta.get("content")
        text = content if isinstance(content, str) else ""
        runs = state.splitter.feed(text) if text else []
        if choice.get("finish_reason") is not None:
            runs = merge_segments(runs + state.splitter.finish())
        if len(runs) == 1:
            kind, run_text = runs[0]
            if kind == CONTENT and run_text == text:
                return None
            if kind == CONTENT or not self._is_strip:
                return [{**choice, "delta": self._delta_for(delta, kind, run_text)}]
            runs = []
        elif not runs and not text:
            return None
        if self._is_strip:
            runs = [run for run in runs if run[0] == CONTENT]
        if not runs:
            if not _carries_more_than_text(choice, delta):
                return []
            return [{**choice, "delta": {**delta, "content": "" if text else content}}]
        last = len(runs) - 1
        return [
            self._choice_variant(choice, delta, kind, run_text, i == 0, i == last)
            for i, (kind, run_text) in enumerate(runs)
        ]

    def _choice_variant(
        self,
        choice: dict[str, Any],
        delta: dict[str, Any],
        kind: Kind,
        text: str,
        is_first: bool,
        is_last: bool,
    ) -> dict[str, Any]:
        kept = {
            k: v
            for k, v in delta.items()
            if (is_first or k not in FIRST_DELTA_KEYS) and (is_last or k not in LAST_DELTA_KEYS)
        }
        variant = {**choice, "delta": self._delta_for(kept, kind, text)}
        if not is_last:
            variant.update((k, None) for k in LAST_CHOICE_KEYS if k in choice)
        return variant

    def _delta_for(self, delta: Mapping[str, Any], kind: Kind, text: str) -> dict[str, Any]:
        if kind == REASONING:
            # DeepSeek's convention: a reasoning delta says content is null.
            return with_texts(delta, None, text, self._policy)
        return with_texts(delta, text, None, self._policy)


def _carries_more_than_text(choice: Mapping[str, Any], delta: Mapping[str, Any]) -> bool:
    if any(choice.get(key) is not None for key in LAST_CHOICE_KEYS):
        return True
    return any(
        value is not None
        for key, value in delta.items()
        if key != "content" and key not in NATIVE_FIELDS
    )


class ChatCompletionsAPI(WireAPI):
    """OpenAI Chat Completions: ``choices[i].message`` / ``choices[i].delta`` content."""

    name = "chat_completions"
    path_patterns = ("*/chat/completions",)
    end_sentinels = frozenset({b"[DONE]"})
    # A server-side reasoning field must be seen to know the server splits by itself.
    always_inspect = (b'"reasoning',)

    def thinking_requested(self, request: Mapping[str, Any]) -> bool | None:
        # vLLM and SGLang pass chat_template_kwargs to the template: Qwen3 reads
        # enable_thinking, DeepSeek V3.1+ reads thinking.
        kwargs = request.get("chat_template_kwargs")
        if not isinstance(kwargs, Mapping):
            return None
        for key in ("enable_thinking", "thinking"):
            value = kwargs.get(key)
            if isinstance(value, bool):
                return value
        return None

    def new_stream(self, policy: Policy, request: Mapping[str, Any] | None) -> ChunkRewriter:
        return ChunkRewriter(policy, choice_count=_choice_count(request))

    def rewrite_body(self, body: object, policy: Policy) -> Payload | None:
        return rewrite_completion(body, policy)

    def error_body(self, message: str) -> Payload:
        return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}

    def error_event(self, message: str) -> Payload:
        # The OpenAI API (and vLLM) report a failure mid-stream as a data event with "error".
        return self.error_body(message)


def _choice_count(request: Mapping[str, Any] | None) -> int | None:
    """How many choices the response has (``n``, default 1); ``None`` when unknown."""
    if request is None:
        return None
    n = request.get("n", 1)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1
