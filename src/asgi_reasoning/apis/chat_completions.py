"""The Chat Completions API (``*/chat/completions``): chunks as they stream, or a whole completion.

Plain dicts in, plain dicts out, one ``ReasoningSplitter`` per ``choices[].index``. ``None``
from a rewrite means "unchanged": the caller forwards the original bytes.

Intentional divergences:

1. A delta whose text yields several runs of different kinds (``a<think>b</think>c`` in one
   token) becomes one chunk per run, in text order; ``role`` stays on the first, and
   ``tool_calls``, ``finish_reason``, ``logprobs`` and ``usage`` on the last.
2. A choice whose server already filled a reasoning field (§8) is never split: its content
   may quote a marker on purpose. (Except under strip: divergence 4.)
3. Without a marker, a response that was assumed to start inside reasoning and ended with
   ``finish_reason: "stop"`` keeps its content (non-streaming only, DESIGN.md §4.10).
4. Under strip, privacy comes before §8: reasoning fields of every name are removed and the
   content of a server-split choice is still read for markers, so an answer that quotes a
   marker loses the quoted part. Logprobs and extension fields (``token_ids``) of a delta
   that touched reasoning are dropped; under strip no ``reasoning_tokens`` is estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..effort import rewrite_effort
from ..history import rewrite_chat_history
from ..text.splitter import CONTENT, REASONING, ReasoningSplitter, merge_segments
from ..wire.templates import TEXT_HOLE
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

    from ..config import Config
    from ..policy import Policy
    from ..text.splitter import Kind, Segment
    from .base import Payload

NATIVE_FIELDS: Final = ("reasoning_content", "reasoning")
# Every field in which a server or gateway may carry reasoning: strip removes them all
# (OpenRouter's reasoning_details, LiteLLM's thinking_blocks, Ollama-style thinking).
REASONING_KEYS: Final = (*NATIVE_FIELDS, "reasoning_details", "thinking", "thinking_blocks")
CHUNK_IDENTITY_KEYS: Final = ("id", "object", "created", "model", "system_fingerprint")
# On a delta split into several chunks, these belong to the first or the last one only.
FIRST_DELTA_KEYS: Final = frozenset({"role"})
LAST_DELTA_KEYS: Final = frozenset({"tool_calls", "function_call"})
LAST_CHOICE_KEYS: Final = ("finish_reason", "logprobs", "stop_reason")
# A choice's own keys; any other (vLLM's token_ids) is an extension that belongs to the
# delta's text and travels with it.
CHOICE_KEYS: Final = frozenset({"index", "delta", "message", *LAST_CHOICE_KEYS})
# Where the fast path's text delta keeps its text (ChunkRewriter.text_delta_shape).
TEXT_DELTA_PATH: Final = ("choices", 0, "delta", "content")
_REASONING_DELTA: Final[FastDelta] = (REASONING, 0)
MAX_CHOICES: Final = 1000
"""Most distinct ``choices[].index`` values a stream keeps state for (see ChunkRewriter)."""

# chr(): mypyc cannot compile surrogates in string literals.
_HIGH_SURROGATES: Final = (chr(0xD800), chr(0xDBFF))


def native_reasoning(container: Mapping[str, Any]) -> str | None:
    """The reasoning text a server put in a field of its own, or ``None``."""
    for key in NATIVE_FIELDS:
        text = _reasoning_text(container.get(key))
        if text:
            return text
    return None


def has_native_reasoning(container: Mapping[str, Any]) -> bool:
    """Whether any reasoning field holds something (a ``null`` or empty value does not count)."""
    for key in REASONING_KEYS:
        value = container.get(key)
        if value and (_reasoning_text(value) or not isinstance(value, str)):
            return True
    return False


def _reasoning_text(value: object) -> str | None:
    # vLLM and SGLang send a string; others a list of parts or an object with text.
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("text", "content", "thinking"):
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
    reasoning keys stay as they were, except in strip mode, which removes every reasoning
    field of any name (``REASONING_KEYS``).
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
        elif key in REASONING_KEYS and strip:
            continue
        elif key in NATIVE_FIELDS or key in fields:
            if reasoning is not None:
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


def holds_reasoning(value: object, policy: Policy) -> bool:
    """Whether a JSON value of unknown shape holds a marker or a filled reasoning field."""
    markers = _markers(policy)
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if any(marker in item for marker in markers):
                return True
        elif isinstance(item, dict):
            if has_native_reasoning(item):
                return True
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _markers(policy: Policy) -> tuple[str, ...]:
    fmt = policy.tag_format
    return tuple(dict.fromkeys(marker for pair in fmt.pairs for marker in pair))


def _unfilterable(value: object, policy: Policy, what: str) -> None:
    """Under strip, refuse ``value`` (of a shape not understood) if it may hold reasoning."""
    if policy.mode == "strip" and holds_reasoning(value, policy):
        raise UnfilterableError(f"{what} holds reasoning in a shape that cannot be filtered")


def rewrite_completion(completion: object, policy: Policy) -> dict[str, Any] | None:
    """A non-streaming ``chat.completion`` with reasoning moved out of ``content``.

    A body without ``"object"`` is read as a completion when its ``choices`` hold messages.
    """
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if (
        not isinstance(completion, dict)
        or completion.get("object", "chat.completion") != "chat.completion"
        or not isinstance(choices, list)
    ):
        _unfilterable(completion, policy, "the body")
        return None
    rewritten = [_rewrite_message_choice(choice, policy) for choice in choices]
    if all(choice is None for choice in rewritten):
        return None
    new_choices = [new or old for new, old in zip(rewritten, choices, strict=True)]
    result = {**completion, "choices": new_choices}
    if policy.mode != "strip":
        _estimate_body_usage(result, choices, new_choices, policy)
    return result


def _rewrite_message_choice(choice: object, policy: Policy) -> dict[str, Any] | None:
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        _unfilterable(choice, policy, "a choice")
        return None
    strip = policy.mode == "strip"
    message: dict[str, Any] = choice["message"]
    # Under strip, reasoning fields go and the content is split all the same (divergence 4).
    stripped: dict[str, Any] | None = None
    if has_native_reasoning(message):
        native = native_reasoning(message)
        normalized = with_texts(message, message.get("content"), native, policy)
        if not strip:
            return None if _same(normalized, message) else {**choice, "message": normalized}
        stripped = {**choice, "message": normalized}
        # The server's logprobs cover the reasoning tokens too.
        _drop_logprobs(stripped)
        message = normalized
    content = message.get("content")
    if not isinstance(content, str):
        _check_content(content, policy)
        return stripped
    splitter = ReasoningSplitter.from_format(
        policy.tag_format, starts_in_reasoning=policy.starts_in_reasoning
    )
    tokens = _logprob_tokens(choice) if strip else None
    kept: list[bool] | None = None
    if tokens is not None and "".join(tokens) == content:
        segments, kept = _feed_tokens(splitter, tokens)
        segments += splitter.finish()
    else:
        segments = splitter.feed(content) + splitter.finish()
    if not splitter.saw_marker and (
        not policy.starts_in_reasoning or choice.get("finish_reason") == "stop"
    ):
        return stripped
    if stripped is not None:
        choice = stripped
    reasoning = "".join(text for kind, text in segments if kind == REASONING)
    answer = "".join(text for kind, text in segments if kind == CONTENT)
    message = with_texts(message, answer or None, reasoning or None, policy)
    new_choice = {**choice, "message": message}
    if strip and reasoning and stripped is None:
        _filter_logprobs(new_choice, kept)
    return new_choice


def _check_content(content: object, policy: Policy) -> None:
    if content is not None and not isinstance(content, str):
        _unfilterable(content, policy, "a content list")
        if policy.mode == "strip" and policy.starts_in_reasoning and content:
            raise UnfilterableError("content is a list of parts, which may be reasoning")


def _logprob_tokens(choice: Mapping[str, Any]) -> list[str] | None:
    """The ``token`` of each ``logprobs.content`` entry, or ``None`` without them."""
    logprobs = choice.get("logprobs")
    entries = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(entries, list) or not entries:
        return None
    tokens = [entry.get("token") if isinstance(entry, dict) else None for entry in entries]
    return tokens if all(isinstance(token, str) for token in tokens) else None  # type: ignore[return-value]


def _feed_tokens(
    splitter: ReasoningSplitter, tokens: list[str]
) -> tuple[list[Segment], list[bool]]:
    """Feed ``tokens`` one by one; which of them are answer text only (their logprobs stay).

    A token is answer text when the splitter was in content before and after it and it
    released answer text only: marker tokens, reasoning tokens, tokens mixing both and
    whitespace dropped after a closer are not.
    """
    segments: list[Segment] = []
    kept: list[bool] = []
    for token in tokens:
        was_in_reasoning = splitter.in_reasoning
        released = splitter.feed(token)
        segments += released
        kept.append(
            not was_in_reasoning
            and not splitter.in_reasoning
            and bool(released)
            and all(kind == CONTENT for kind, _ in released)
        )
    return segments, kept


def _filter_logprobs(choice: dict[str, Any], kept: list[bool] | None) -> None:
    """Under strip: keep the logprobs of answer tokens only (all dropped when unmapped)."""
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        if logprobs is not None:
            _drop_logprobs(choice)
        return
    entries = logprobs["content"]
    if kept is None or len(kept) != len(entries):
        choice["logprobs"] = {**logprobs, "content": []}
        return
    choice["logprobs"] = {
        **logprobs,
        "content": [entry for entry, keep in zip(entries, kept, strict=True) if keep],
    }


def _drop_logprobs(choice: dict[str, Any]) -> None:
    logprobs = choice.get("logprobs")
    if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
        choice["logprobs"] = {**logprobs, "content": []}
    elif logprobs is not None:
        choice["logprobs"] = None


def _estimate_body_usage(
    completion: dict[str, Any],
    old_choices: list[Any],
    new_choices: list[Any],
    policy: Policy,
) -> None:
    """``usage.completion_tokens_details.reasoning_tokens``, estimated when left 0 or absent.

    An estimate: ``completion_tokens`` times the share of reasoning characters in the split
    text, which assumes reasoning and answer tokens are as long on average.
    """
    reasoning_chars = content_chars = 0
    for old, new in zip(old_choices, new_choices, strict=True):
        if old is new or not isinstance(new, dict):
            continue
        message = new.get("message")
        if not isinstance(message, dict):
            continue
        thought = message.get(policy.fields[0])
        said = message.get("content")
        reasoning_chars += len(thought) if isinstance(thought, str) else 0
        content_chars += len(said) if isinstance(said, str) else 0
    if reasoning_chars:
        _set_reasoning_tokens(
            completion,
            lambda total: round(total * reasoning_chars / (reasoning_chars + content_chars)),
        )


def _set_reasoning_tokens(payload: dict[str, Any], estimate: Callable[[int], int]) -> None:
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return
    total = usage.get("completion_tokens")
    if not isinstance(total, int) or isinstance(total, bool):
        return
    details = usage.get("completion_tokens_details")
    if isinstance(details, dict) and details.get("reasoning_tokens"):
        return
    if details is not None and not isinstance(details, dict):
        return
    payload["usage"] = {
        **usage,
        "completion_tokens_details": {
            **(details or {}),
            "reasoning_tokens": min(total, estimate(total)),
        },
    }


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return list(a.items()) == list(b.items())


def _choice_key(index: object) -> object:
    """A dict key for ``index`` of any JSON type (a list or object is not hashable)."""
    if type(index) is int or type(index) is str:
        return index
    return ("json", repr(index))


class _ChoiceState:
    __slots__ = ("carried", "high_surrogate", "index", "is_native", "splitter")

    def __init__(self, splitter: ReasoningSplitter, index: object) -> None:
        self.splitter = splitter
        # The index as the server wrote it, for the chunks that flush this choice.
        self.index = index
        self.is_native = False
        # A high surrogate that ended a delta, waiting for the low one that completes it.
        self.high_surrogate = ""
        # Extension fields (token_ids) of deltas whose text is all held: they go out with it.
        self.carried: dict[str, Any] = {}

    @property
    def is_busy(self) -> bool:
        """Holding anything: an event for this choice may need rewriting."""
        return bool(self.high_surrogate or self.carried) or (
            not self.is_native and not self.splitter.passes_text_through
        )


class ChunkRewriter(StreamRewriter):
    """Rewrites one stream's ``chat.completion.chunk`` objects, with state per choice.

    Each event costs time in its own choices only. State is kept for at most
    ``MAX_CHOICES`` distinct ``index`` values; a choice beyond them passes through as it
    came, or, under strip, ends the stream with an error (it cannot be filtered).
    """

    def __init__(self, policy: Policy, *, choice_count: int | None = 1) -> None:
        self._policy = policy
        self._is_strip = policy.mode == "strip"
        self._choices: dict[object, _ChoiceState] = {}
        self._busy: set[object] = set()
        self._choice_count = choice_count
        self._last_chunk: Mapping[str, Any] = {"object": "chat.completion.chunk"}
        # Server deltas that yielded reasoning: the stream's reasoning_tokens estimate.
        self._reasoning_deltas = 0

    @property
    def is_transparent(self) -> bool:
        """True when a chunk without marker characters would come back unchanged."""
        if self._policy.starts_in_reasoning and (
            # A choice not seen yet starts inside reasoning: it is not idle. Under strip a
            # server may send more choices than the request asked for, so none is trusted.
            self._is_strip or self._choice_count is None or len(self._choices) < self._choice_count
        ):
            return False
        return not self._busy

    def rewrite(self, chunk: object) -> list[dict[str, Any]] | None:
        """The chunks to send instead of ``chunk``, or ``None`` to send it as it was."""
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        if not isinstance(chunk, dict) or not isinstance(choices, list):
            _unfilterable(chunk, self._policy, "an event")
            return None
        self._last_chunk = chunk
        if not choices:
            return self._with_usage_estimate(chunk)
        if len(choices) == 1:
            # One choice per chunk is what servers send; skip the bookkeeping for several.
            only = self._rewrite_choice(choices[0])
            if only is None:
                return self._with_usage_estimate(chunk)
            if len(only) == 1:
                return self._with_usage_estimate({**chunk, "choices": only})
            return self._chunks_for(chunk, [only])
        results = [self._rewrite_choice(choice) for choice in choices]
        if all(result is None for result in results):
            return self._with_usage_estimate(chunk)
        variants = [
            [old] if new is None else new for new, old in zip(results, choices, strict=True)
        ]
        return self._chunks_for(chunk, variants)

    def flush(self) -> list[dict[str, Any]]:
        """Chunks carrying what every choice still holds (before ``[DONE]`` or the end)."""
        identity = {k: self._last_chunk[k] for k in CHUNK_IDENTITY_KEYS if k in self._last_chunk}
        chunks = [
            {**identity, "choices": [variant]}
            for key in self._busy
            for variant in self._held_variants(self._choices[key])
        ]
        self._busy.clear()
        return chunks

    def text_delta_shape(self, payload: Payload) -> TextDeltaShape | None:
        """One choice of plain text: no logprobs, no finish, no usage object.

        The delta holds its content and maybe a role; any other key of it is null (SGLang
        writes ``"reasoning_content":null,"tool_calls":null``). Other choice keys (SGLang's
        ``matched_stop``) are kept as they are, as by ``rewrite``.
        """
        choices = payload.get("choices")
        if not isinstance(choices, list) or len(choices) != 1:
            return None
        choice = choices[0]
        if (
            not isinstance(choice, dict)
            or isinstance(payload.get("usage"), dict)
            or any(choice.get(key) is not None for key in LAST_CHOICE_KEYS)
        ):
            return None
        delta = choice.get("delta")
        if (
            not isinstance(delta, dict)
            or not isinstance(delta.get("content"), str)
            or not all(
                value is None or (key == "role" and isinstance(value, str))
                for key, value in delta.items()
                if key != "content"
            )
        ):
            return None
        key = _choice_key(choice.get("index", 0))
        return TextDeltaShape(key, TEXT_DELTA_PATH) if key in self._choices else None

    def rewrite_text_delta(
        self, payload: Payload, key: Hashable, text: str, number: int
    ) -> FastDelta | None:
        """What ``rewrite`` does with a chunk of this shape whose text the splitter passes whole."""
        state = self._choices.get(key)
        if (
            state is None
            or state.is_native
            or state.carried
            or state.high_surrogate
            or not state.splitter.passes_whole(text)
            or _HIGH_SURROGATES[0] <= text[-1] <= _HIGH_SURROGATES[1]
        ):
            return None
        self._last_chunk = payload
        if not state.splitter.in_reasoning:
            self._busy.discard(key)
            return UNCHANGED
        self._reasoning_deltas += 1
        self._busy.add(key)
        return _REASONING_DELTA

    def text_delta_events(self, payload: Payload, events: Hashable) -> list[Payload]:
        choice = payload["choices"][0]
        variant = self._choice_variant(choice, choice["delta"], REASONING, TEXT_HOLE, True, True)
        return [{**payload, "choices": [variant]}]

    def _with_usage_estimate(self, chunk: dict[str, Any]) -> list[dict[str, Any]] | None:
        if self._is_strip or not self._reasoning_deltas or not isinstance(chunk.get("usage"), dict):
            return None if chunk is self._last_chunk else [chunk]
        estimated = dict(chunk)
        count = self._reasoning_deltas
        _set_reasoning_tokens(estimated, lambda total: count)
        if estimated.get("usage") is chunk.get("usage"):
            return None if chunk is self._last_chunk else [chunk]
        return [estimated]

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

    def _state(self, index: object) -> tuple[object, _ChoiceState | None]:
        key = _choice_key(index)
        state = self._choices.get(key)
        if state is None:
            if len(self._choices) >= MAX_CHOICES:
                if self._is_strip:
                    raise UnfilterableError(f"more than {MAX_CHOICES} choices in one stream")
                return key, None
            splitter = ReasoningSplitter.from_format(
                self._policy.tag_format, starts_in_reasoning=self._policy.starts_in_reasoning
            )
            state = self._choices[key] = _ChoiceState(splitter, index)
        return key, state

    def _rewrite_choice(self, choice: object) -> list[dict[str, Any]] | None:
        if not isinstance(choice, dict):
            _unfilterable(choice, self._policy, "a choice")
            return None
        delta = choice.get("delta")
        if delta is None and choice.get("finish_reason") is not None:
            # A finish chunk without a delta: held text goes out before it.
            delta = {}
        elif not isinstance(delta, dict):
            _unfilterable(choice, self._policy, "a choice")
            return None
        key, state = self._state(choice.get("index", 0))
        if state is None:
            return None
        try:
            return self._rewrite_delta(choice, delta, state)
        finally:
            if state.is_busy:
                self._busy.add(key)
            else:
                self._busy.discard(key)

    def _rewrite_delta(
        self, choice: dict[str, Any], delta: dict[str, Any], state: _ChoiceState
    ) -> list[dict[str, Any]] | None:
        has_delta = "delta" in choice and choice["delta"] is not None
        has_native = any(key in delta for key in REASONING_KEYS) and has_native_reasoning(delta)
        if not self._is_strip and (state.is_native or has_native):
            return self._rewrite_native(choice, delta, state)
        if has_native:
            # Under strip the fields go and the content is split all the same (divergence 4).
            self._reasoning_deltas += 1
            delta = with_texts(delta, delta.get("content"), None, self._policy)
        content = delta.get("content")
        if content is not None and not isinstance(content, str):
            if self._is_strip and content:
                raise UnfilterableError("a delta's content is a list of parts")
            return None
        original = content or ""
        text = self._join_surrogates(state, original)
        is_finish = choice.get("finish_reason") is not None
        tokens = _logprob_tokens(choice) if self._is_strip and text == original else None
        kept: list[bool] | None = None
        was_reasoning = state.splitter.in_reasoning
        if tokens is not None and "".join(tokens) == text:
            runs, kept = _feed_tokens(state.splitter, tokens)
        else:
            runs = state.splitter.feed(text) if text else []
        if is_finish:
            runs = runs + state.splitter.finish() + self._take_surrogate(state)
        runs = merge_segments(runs)
        if any(kind == REASONING for kind, _ in runs):
            self._reasoning_deltas += 1
        touches_reasoning = (
            has_native
            or was_reasoning
            or state.splitter.in_reasoning
            or any(kind == REASONING for kind, _ in runs)
        )
        extensions = {k: v for k, v in choice.items() if k not in CHOICE_KEYS}
        if (
            len(runs) == 1
            and runs[0] == (CONTENT, original)
            and not state.carried
            and has_delta
            and not (self._is_strip and touches_reasoning)
        ):
            return None
        if not runs and not original and not state.carried and has_delta:
            if not self._is_strip or not touches_reasoning:
                return None
        base = choice
        if self._is_strip:
            runs = [run for run in runs if run[0] == CONTENT]
            if touches_reasoning:
                # Logprobs and extension fields of reasoning tokens reveal the reasoning.
                base = {k: v for k, v in base.items() if k in CHOICE_KEYS}
                if kept is not None:
                    _filter_logprobs(base, kept)
                    if not base["logprobs"]["content"]:
                        base["logprobs"] = None
                elif base.get("logprobs") is not None:
                    base["logprobs"] = None
                extensions = {}
        if not runs:
            if (original or text) and not is_finish and extensions:
                # All held: its extension fields wait for the text they belong to.
                _carry(state, extensions)
                base = {k: v for k, v in base.items() if k not in extensions}
            if not _carries_more_than_text(base, delta if has_delta else {}):
                return []
            if not has_delta:
                return [base]
            return [
                {
                    **base,
                    "delta": with_texts(delta, "" if original else content, None, self._policy),
                }
            ]
        if state.carried:
            base = {**base, **_merged(state.carried, extensions)}
            state.carried.clear()
        last = len(runs) - 1
        variants = [
            self._choice_variant(base, delta, kind, run_text, i == 0, i == last)
            for i, (kind, run_text) in enumerate(runs)
        ]
        if not has_delta:
            # The finish chunk keeps its own shape, after the held text.
            for variant in variants:
                variant.update((k, None) for k in LAST_CHOICE_KEYS if k in variant)
            return [*variants, choice]
        return variants

    def _rewrite_native(
        self, choice: dict[str, Any], delta: dict[str, Any], state: _ChoiceState
    ) -> list[dict[str, Any]] | None:
        """A choice the server splits itself (DESIGN.md §8): normalised, never split again."""
        held: list[dict[str, Any]] = []
        if not state.is_native:
            state.is_native = True
            # Text held before the choice turned native came first; it is not lost.
            held = self._held_variants(state)
        native = native_reasoning(delta)
        content = delta.get("content")
        if native:
            self._reasoning_deltas += 1
        out: list[dict[str, Any]]
        if self._is_strip:
            normalized = with_texts(delta, content, None, self._policy)
            base = choice
            if has_native_reasoning(delta):
                base = {k: v for k, v in choice.items() if k in CHOICE_KEYS}
                if base.get("logprobs") is not None:
                    base["logprobs"] = None
            if _same(normalized, delta) and base is choice:
                out = [choice]
            elif not _carries_more_than_text(base, normalized) and not content:
                out = []
            else:
                out = [{**base, "delta": normalized}]
        elif native and isinstance(content, str) and content:
            # vLLM sends both when the closer lands inside a token: reasoning goes first.
            out = [
                self._choice_variant(choice, delta, REASONING, native, True, False),
                self._choice_variant(choice, delta, CONTENT, content, False, True),
            ]
        else:
            normalized = with_texts(delta, content, native, self._policy)
            out = [choice] if _same(normalized, delta) else [{**choice, "delta": normalized}]
        if not held and out == [choice]:
            return None
        return held + out

    def _held_variants(self, state: _ChoiceState) -> list[dict[str, Any]]:
        """Choices carrying what ``state`` holds: its splitter's text, a lone surrogate."""
        runs = merge_segments(state.splitter.finish() + self._take_surrogate(state))
        carried = dict(state.carried)
        state.carried.clear()
        variants = [
            {
                "index": state.index,
                "delta": self._delta_for({"content": ""}, kind, text),
                "logprobs": None,
                "finish_reason": None,
            }
            for kind, text in runs
            if kind == CONTENT or not self._is_strip
        ]
        if variants:
            # The extension fields of the held text's deltas go out with it.
            variants[-1].update(carried)
        return variants

    def _join_surrogates(self, state: _ChoiceState, text: str) -> str:
        """``text`` after a held high surrogate, the pair joined; a new trailing one held."""
        if state.high_surrogate:
            text = state.high_surrogate + text
            state.high_surrogate = ""
            if len(text) > 1 and 0xDC00 <= ord(text[1]) <= 0xDFFF:
                text = text[:2].encode("utf-16", "surrogatepass").decode("utf-16") + text[2:]
        if text and _HIGH_SURROGATES[0] <= text[-1] <= _HIGH_SURROGATES[1]:
            # A character cut between two deltas (Python writes "\ud83d" for half an emoji).
            state.high_surrogate = text[-1]
            text = text[:-1]
        return text

    def _take_surrogate(self, state: _ChoiceState) -> list[Segment]:
        held, state.high_surrogate = state.high_surrogate, ""
        if not held:
            return []
        kind: Kind = REASONING if state.splitter.in_reasoning else CONTENT
        return [(kind, held)]

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
            for k in choice:
                if k not in CHOICE_KEYS:
                    # Extension fields (token_ids) go once, on the last chunk, like logprobs.
                    del variant[k]
        return variant

    def _delta_for(self, delta: Mapping[str, Any], kind: Kind, text: str) -> dict[str, Any]:
        if kind == REASONING:
            # DeepSeek's convention: a reasoning delta says content is null. Every one made
            # here does, a finish chunk's or a flushed one too.
            container = delta if "content" in delta else {**delta, "content": None}
            return with_texts(container, None, text, self._policy)
        return with_texts(delta, text, None, self._policy)


def _carry(state: _ChoiceState, extensions: Mapping[str, Any]) -> None:
    merged = _merged(state.carried, extensions)
    state.carried.clear()
    state.carried.update(merged)


def _merged(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, Any]:
    """Extension fields of consecutive deltas as one: lists joined in order, others the latest."""
    merged = dict(earlier)
    for key, value in later.items():
        before = merged.get(key)
        merged[key] = (
            before + value if isinstance(before, list) and isinstance(value, list) else value
        )
    return merged


def _carries_more_than_text(choice: Mapping[str, Any], delta: Mapping[str, Any]) -> bool:
    if any(choice.get(key) is not None for key in LAST_CHOICE_KEYS):
        return True
    if any(key not in CHOICE_KEYS for key in choice):
        return True
    return any(
        value is not None
        for key, value in delta.items()
        if key != "content" and key not in REASONING_KEYS
    )


class ChatCompletionsAPI(WireAPI):
    """OpenAI Chat Completions: ``choices[i].message`` / ``choices[i].delta`` content."""

    name = "chat_completions"
    path_patterns = ("*/chat/completions",)
    end_sentinels = frozenset({b"[DONE]"})
    # A server-side reasoning field must be seen to know the server splits by itself.
    # A usage object may need its reasoning_tokens estimate.
    always_inspect = (b'"reasoning', b'"thinking', b'"usage":{', b'"usage": {')

    def rewrite_request(self, request: Mapping[str, Any], config: Config) -> Payload | None:
        # messages[] history first, then reasoning_effort (or a thinking object) as the
        # family's chat_template_kwargs switch.
        rewritten = rewrite_chat_history(
            request, config.history, fmt=config.tag_format, field=config.history_field
        )
        if config.effort:
            switched = rewrite_effort(self.name, rewritten or request, config.template_switch)
            rewritten = switched or rewritten
        return rewritten

    def thinking_requested(self, request: Mapping[str, Any]) -> bool | None:
        return chat_template_thinking(request)

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
