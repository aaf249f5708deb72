"""The byte-level fast path for text deltas: the same bytes as the general path, always.

``SSEBodyRewriter`` learns the byte template of a stream's text-delta events and rewrites
later ones from their text alone (``wire/templates.py``, ``StreamRewriter.text_delta_shape``).
The differential properties below run every stream twice, with and without the fast path,
and compare what each body message became: random token streams (markers whole and cut,
escapes, surrogates, control characters), the three APIs in the shapes vLLM, llama.cpp and
Ollama write, JSON written compactly, with spaces, ASCII-escaped, Go-escaped or invalid, LF
and CRLF framing, one event per body message or cut anywhere, and every mode and setting
that changes the rewrite.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.apis import API_SHAPES
from asgi_reasoning.apis.base import FastDelta, StreamRewriter, TextDeltaShape, WireAPI
from asgi_reasoning.bodies import SSEBodyRewriter
from asgi_reasoning.policy import decide_policy
from tests import messages_app, responses_app
from tests.asgi_helpers import chunk

if TYPE_CHECKING:
    from collections.abc import Hashable

    from asgi_reasoning.apis.base import Payload

CHAT, MESSAGES, RESPONSES = API_SHAPES
PIECES: Final = (
    "<think>",
    "</think>",
    "<",
    "</",
    "think>",
    "<tool_call>",
    "\n",
    "\n\n",
    " ",
    "é",
    "😀",
    '"',
    "\\",
    "\x01",
    "\ud83d",
    "\ude00",
    "&",
    "a",
    " b",
)
# Runs of plain words, which the fast path takes, between pieces that it leaves to the rest.
WORD_RUNS: Final = st.lists(st.sampled_from([" one", " step", " more", "é", "\n"]), max_size=12)
OTHER_PIECES: Final = st.one_of(
    st.sampled_from(PIECES), st.text(alphabet='ab <>/\\"\né', max_size=6)
).map(lambda piece: [piece])
TOKENS: Final = st.lists(st.one_of(WORD_RUNS, OTHER_PIECES), max_size=8).map(
    lambda runs: [token for run in runs for token in run]
)
# How a server writes its JSON: as the backend does (compact), with spaces (Python's
# json.dumps defaults), ASCII-escaped, Go-escaped (`\u003c`), or an event made invalid.
ENCODINGS: Final = ("compact", "spaced", "ascii", "go")


def encode(value: Any, encoding: str) -> bytes:
    if encoding == "spaced":
        text = json.dumps(value, ensure_ascii=False)
    elif encoding == "ascii":
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if encoding == "go":
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # A lone surrogate has no UTF-8: written as its escape, as Python servers do.
    return text.encode("utf-8", "backslashreplace")


@st.composite
def framed(draw: st.DrawFn, events: list[Payload], names: bool) -> list[bytes]:
    """The body messages a server sends for ``events``."""
    # Mostly as the backend writes it, the shape the fast path learns.
    encoding = draw(st.sampled_from(("compact", "compact", *ENCODINGS)))
    line_ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    # Now and then one event in another encoding, or with a raw control character (invalid).
    odd = draw(st.lists(st.integers(0, max(len(events) - 1, 0)), max_size=2))
    raw_events = []
    for position, event in enumerate(events):
        data = encode(event, draw(st.sampled_from(ENCODINGS)) if position in odd else encoding)
        if position in odd and draw(st.booleans()):
            data = data.replace(b'":"', b'":"\x01', 1)
        head = b"event: " + str(event.get("type")).encode() + line_ending if names else b""
        raw_events.append(head + b"data: " + data + line_ending + line_ending)
    if draw(st.integers(0, 3)):
        return raw_events
    body = b"".join(raw_events)
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=12)))
    return [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]


def run(api: WireAPI, options: dict[str, Any], messages: list[bytes], fast: bool) -> list[bytes]:
    """What each body message became, then what the end of the body added."""
    request: dict[str, Any] = {"model": "m", "stream": True, "n": options.pop("n", 1)}
    config = ReasoningMiddleware(None, **options).config  # type: ignore[arg-type]
    policy = decide_policy(config, request, thinking=api.thinking_requested(request))
    rewriter = SSEBodyRewriter(api, policy, api.new_stream(policy, request), fast_path=fast)
    sent = [rewriter.feed(message) for message in messages]
    return [*sent, rewriter.finish()]


def assert_same_either_way(api: WireAPI, options: dict[str, Any], messages: list[bytes]) -> None:
    assert run(api, dict(options), messages, True) == run(api, dict(options), messages, False)


OPTIONS: Final = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["separate", "separate", "strip"]),
        "preset": st.sampled_from(["think", "qwen3", "deepseek_r1", "glm45"]),
        "starts_in_reasoning": st.sampled_from([None, True, False]),
    }
)


@st.composite
def chat_events(draw: st.DrawFn) -> tuple[list[Payload], int]:
    """A Chat Completions stream of one or two choices, in the shapes servers send."""
    choices = draw(st.sampled_from([1, 1, 2]))
    role_every_chunk = draw(st.booleans())  # Ollama
    # vLLM's stop_reason, extension fields, SGLang's matched_stop and null delta fields.
    extra = draw(
        st.sampled_from([{}, {"stop_reason": None}, {"token_ids": [7]}, {"matched_stop": None}])
    )
    null_fields = draw(st.sampled_from([{}, {"reasoning_content": None, "tool_calls": None}]))
    usage = draw(st.sampled_from([{}, {"usage": None}]))
    # OpenAI's `obfuscation`: a value of its own in every chunk, which no template matches.
    varies = draw(st.booleans())
    events = [chunk("", index=index, delta={"role": "assistant"}) for index in range(choices)]
    for position, token in enumerate(draw(TOKENS)):
        role = {"role": "assistant"} if role_every_chunk else {}
        event = chunk(token, index=position % choices, delta={**role, **null_fields})
        event["choices"][0].update(extra)
        events.append({**event, **usage, **({"obfuscation": "x" * position} if varies else {})})
    events += [chunk(None, index=index, finish_reason="stop") for index in range(choices)]
    return events, choices


@settings(max_examples=600, deadline=None)
@given(data=st.data(), options=OPTIONS, field=st.sampled_from(["reasoning_content", "both"]))
def test_chat_streams_come_out_the_same_with_and_without_the_fast_path(
    data: st.DataObject, options: dict[str, Any], field: str
) -> None:
    events, choices = data.draw(chat_events())
    messages = data.draw(framed(events, names=False))
    done = data.draw(st.sampled_from([b"data: [DONE]\n\n", b""]))
    fields = ("reasoning_content", "reasoning") if field == "both" else field
    assert_same_either_way(CHAT, {**options, "field": fields, "n": choices}, [*messages, done])


@settings(max_examples=600, deadline=None)
@given(
    data=st.data(),
    options=OPTIONS,
    tokens=TOKENS,
    style=st.sampled_from(responses_app.STYLES),
    numbered=st.booleans(),
    reasoning=st.sampled_from(["summary", "text", "both"]),
    with_done_events=st.booleans(),
)
def test_responses_streams_come_out_the_same_with_and_without_the_fast_path(
    data: st.DataObject,
    options: dict[str, Any],
    tokens: list[str],
    style: responses_app.Style,
    numbered: bool,
    reasoning: str,
    with_done_events: bool,
) -> None:
    events = responses_app.stream_events(
        tokens, style=style, numbered=numbered, with_done_events=with_done_events
    )
    messages = data.draw(framed(events, names=True))
    assert_same_either_way(RESPONSES, {**options, "responses_reasoning": reasoning}, messages)


@settings(max_examples=600, deadline=None)
@given(
    data=st.data(),
    options=OPTIONS,
    tokens=TOKENS,
    style=st.sampled_from(messages_app.STYLES),
)
def test_messages_streams_come_out_the_same_with_and_without_the_fast_path(
    data: st.DataObject, options: dict[str, Any], tokens: list[str], style: str
) -> None:
    events = messages_app.stream_events(style, messages_app.Script(pieces=tuple(tokens)))
    messages = data.draw(framed(events, names=True))
    assert_same_either_way(MESSAGES, options, messages)


class CountingRewriter(StreamRewriter):
    """A real rewriter, counting which path each event took."""

    def __init__(self, inner: StreamRewriter) -> None:
        self.inner = inner
        self.parsed = 0
        self.fast = 0
        self.shapes_asked = 0

    @property
    def is_transparent(self) -> bool:
        return self.inner.is_transparent

    def rewrite(self, payload: object) -> list[Payload] | None:
        self.parsed += 1
        return self.inner.rewrite(payload)

    def flush(self) -> list[Payload]:
        return self.inner.flush()

    def text_delta_shape(self, payload: Payload) -> TextDeltaShape | None:
        self.shapes_asked += 1
        return self.inner.text_delta_shape(payload)

    def rewrite_text_delta(
        self, payload: Payload, key: Hashable, text: str, number: int
    ) -> FastDelta | None:
        outcome = self.inner.rewrite_text_delta(payload, key, text, number)
        self.fast += outcome is not None
        return outcome

    def text_delta_events(self, payload: Payload, events: Hashable) -> list[Payload]:
        return self.inner.text_delta_events(payload, events)


WORDS: Final = [" step" if i % 2 else " one" for i in range(200)]


def chat_body() -> list[bytes]:
    events = [chunk("", delta={"role": "assistant"}), chunk("<think>")]
    events += [chunk(word) for word in WORDS] + [chunk("</think>Done.")]
    return [b"data: " + encode(event, "compact") + b"\n\n" for event in events]


def responses_body() -> list[bytes]:
    return responses_app.encode_events(
        responses_app.stream_events(["<think>", *WORDS, "</think>Done."])
    )


def messages_body() -> list[bytes]:
    script = messages_app.Script(pieces=("<think>", *WORDS, "</think>Done."))
    return messages_app.stream_body("vllm", script)


@pytest.mark.parametrize(
    ("api", "body"),
    [(CHAT, chat_body()), (RESPONSES, responses_body()), (MESSAGES, messages_body())],
    ids=["chat", "responses", "messages"],
)
def test_reasoning_tokens_of_every_api_take_the_fast_path(api: WireAPI, body: list[bytes]) -> None:
    config = ReasoningMiddleware(None).config  # type: ignore[arg-type]
    policy = decide_policy(config, {}, thinking=None)
    counting = CountingRewriter(api.new_stream(policy, {}))
    rewriter = SSEBodyRewriter(api, policy, counting)
    sent = b"".join(rewriter.feed(message) for message in body) + rewriter.finish()
    # Each token went out as one reasoning delta (a summary delta in the Responses API).
    assert sent.count(b'" step"') == WORDS.count(" step")
    assert b"Done." in sent
    # The first reasoning token teaches the shape; the rest are read from their bytes.
    assert counting.fast >= len(WORDS) - 1
    assert counting.parsed <= len(body) - len(WORDS) + 1


def test_a_stream_whose_every_chunk_differs_stops_trying_to_learn() -> None:
    events = [chunk("<think>")] + [chunk(word) for word in WORDS]
    for position, event in enumerate(events):
        event["obfuscation"] = "x" * position
    body = [b"data: " + encode(event, "compact") + b"\n\n" for event in events]
    config = ReasoningMiddleware(None).config  # type: ignore[arg-type]
    policy = decide_policy(config, {}, thinking=None)
    counting = CountingRewriter(CHAT.new_stream(policy, {}))
    rewriter = SSEBodyRewriter(CHAT, policy, counting)
    sent = b"".join(rewriter.feed(message) for message in body) + rewriter.finish()
    assert sent.count(b'"reasoning_content":" step"') == WORDS.count(" step")
    assert counting.fast == 0
    # A few shapes are learned and never match; then no more time goes into learning.
    assert counting.shapes_asked <= 10
