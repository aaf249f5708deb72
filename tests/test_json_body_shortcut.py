"""A whole JSON body that nothing could change is sent as it came, without being parsed.

``rewrite_json_body`` skips parsing when the body holds no byte a rewrite starts from; the
shortcut must answer exactly what the general path (``rewrite_json_body_parsed``) answers, for
every API, preset, mode and start state, however the server wrote its JSON.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_reasoning.apis.chat_completions import ChatCompletionsAPI
from asgi_reasoning.apis.messages import MessagesAPI
from asgi_reasoning.apis.responses import ResponsesAPI
from asgi_reasoning.bodies import (
    FailedClosed,
    may_change_json_body,
    rewrite_json_body,
    rewrite_json_body_parsed,
)
from asgi_reasoning.policy import Policy
from asgi_reasoning.text.presets import PRESETS, TagFormat, resolve_tag_format

if TYPE_CHECKING:
    from asgi_reasoning.apis.base import WireAPI

CHAT = ChatCompletionsAPI()
RESPONSES = ResponsesAPI()
MESSAGES = MessagesAPI()
THINK = resolve_tag_format("think", None)
KIMI_TAGS = resolve_tag_format("think", [("◁think▷", "◁/think▷")])

# Text pieces a model writes: words, markers of several families and their prefixes,
# characters JSON escapes, and the names of reasoning fields.
PIECES = (
    "The answer",
    " is 4.",
    "\n",
    " ≥ ",
    "😀",
    '"quoted"',
    "back\\slash",
    "<think>",
    "</think>",
    "<",
    "<thi",
    "[THINK]",
    "[/THINK]",
    "◁think▷",
    "◁/think▷",
    "<|channel|>analysis<|message|>",
    "reasoning",
    "thinking",
    "analysis",
)
TEXT = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
FORMATS = st.one_of(
    st.sampled_from(sorted(PRESETS)).map(lambda name: resolve_tag_format(name, None)),
    st.just(KIMI_TAGS),
)
MODES = st.sampled_from(("separate", "strip"))
FIELDS = st.sampled_from(
    (("reasoning_content",), ("reasoning",), ("reasoning_content", "reasoning"))
)
# How servers write JSON: raw UTF-8 (orjson, vLLM), ASCII with escapes (Python's json
# default), and with spaces after separators.
ENCODINGS = st.sampled_from(
    (
        lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(),
        lambda value: json.dumps(value).encode(),
        lambda value: json.dumps(value, ensure_ascii=False, indent=1).encode(),
    )
)


@st.composite
def chat_bodies(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": draw(st.one_of(TEXT, st.none()))}
    native = draw(st.sampled_from((None, "reasoning_content", "reasoning", "thinking")))
    if native is not None:
        message[native] = draw(TEXT)
    return {
        "id": "chatcmpl-1",
        "object": draw(st.sampled_from(("chat.completion", "chat.completion.chunk"))),
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": draw(st.sampled_from(("stop", "length"))),
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
    }


@st.composite
def responses_bodies(draw: st.DrawFn) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if draw(st.booleans()):
        summary = [{"type": "summary_text", "text": draw(TEXT)}]
        output.append({"type": "reasoning", "id": "rs_1", "summary": summary})
    part = {"type": "output_text", "text": draw(TEXT), "annotations": []}
    output.append(
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [part],
        }
    )
    return {
        "id": "resp_1",
        "object": "response",
        "status": draw(st.sampled_from(("completed", "incomplete"))),
        "model": "m",
        "output": output,
        "usage": {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12},
    }


@st.composite
def messages_bodies(draw: st.DrawFn) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if draw(st.booleans()):
        content.append({"type": "thinking", "thinking": draw(TEXT), "signature": "s"})
    content.extend({"type": "text", "text": text} for text in draw(st.lists(TEXT, max_size=2)))
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": content,
        "stop_reason": draw(st.sampled_from(("end_turn", "max_tokens"))),
        "usage": {"input_tokens": 3, "output_tokens": 9},
    }


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
API_BODIES = st.one_of(
    st.tuples(st.just(CHAT), chat_bodies()),
    st.tuples(st.just(RESPONSES), responses_bodies()),
    st.tuples(st.just(MESSAGES), messages_bodies()),
    st.tuples(st.sampled_from((CHAT, RESPONSES, MESSAGES)), JSON_VALUES),
)


def outcome(rewrite: Any, body: bytes, api: WireAPI, policy: Policy) -> bytes | str | None:
    """What the client gets: the new body, ``None`` (the app's own), or the error body."""
    try:
        result: bytes | None = rewrite(body, api, policy)
    except FailedClosed as failure:
        return "failed closed: " + failure.body.decode()
    return result


@settings(max_examples=600, deadline=None)
@given(
    api_body=API_BODIES,
    encode=ENCODINGS,
    fmt=FORMATS,
    mode=MODES,
    starts_in_reasoning=st.booleans(),
    fields=FIELDS,
)
def test_the_shortcut_answers_what_the_general_path_answers(
    api_body: tuple[WireAPI, object],
    encode: Any,
    fmt: TagFormat,
    mode: str,
    starts_in_reasoning: bool,
    fields: tuple[str, ...],
) -> None:
    api, value = api_body
    body: bytes = encode(value)
    policy = Policy(fmt, starts_in_reasoning, mode, fields)  # type: ignore[arg-type]

    assert outcome(rewrite_json_body, body, api, policy) == outcome(
        rewrite_json_body_parsed, body, api, policy
    )


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=64), fmt=FORMATS, mode=MODES, starts_in_reasoning=st.booleans())
def test_bytes_that_are_not_json_get_the_general_answer(
    body: bytes, fmt: TagFormat, mode: str, starts_in_reasoning: bool
) -> None:
    policy = Policy(fmt, starts_in_reasoning, mode, ("reasoning_content",))  # type: ignore[arg-type]

    for api in (CHAT, RESPONSES, MESSAGES):
        assert outcome(rewrite_json_body, body, api, policy) == outcome(
            rewrite_json_body_parsed, body, api, policy
        )


def _chat_body(content: str, **message: Any) -> bytes:
    body = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **message}}],
    }
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.parametrize("api", [CHAT, RESPONSES, MESSAGES], ids=lambda api: api.name)
def test_a_plain_answer_needs_no_parse(api: WireAPI) -> None:
    assert not may_change_json_body(_chat_body("The answer is 4, ≥ 3."), api, THINK)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_chat_body("<think>a</think>b"), id="a marker"),
        pytest.param(b'{"content": "\\u003cthink\\u003ea"}', id="an escaped marker"),
        pytest.param(_chat_body("b", reasoning="a"), id="a native reasoning field"),
        pytest.param(b'{"content": "\\u0061"}', id="any JSON escape"),
        pytest.param(b'{"content": "a\\"\\u003cthink>b"}', id="an escape right after another"),
    ],
)
def test_a_body_that_may_change_is_parsed(body: bytes) -> None:
    assert may_change_json_body(body, CHAT, THINK)


def test_markers_of_other_families_are_looked_for() -> None:
    body = _chat_body("◁think▷a◁/think▷b")

    assert not may_change_json_body(body, CHAT, THINK)
    assert may_change_json_body(body, CHAT, KIMI_TAGS)
    assert rewrite_json_body(body, CHAT, Policy(KIMI_TAGS, False, "separate", ("reasoning",)))
