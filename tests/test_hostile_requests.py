"""Hostile request bodies (DESIGN.md §15): the app never receives a broken request.

Whatever the client sends (messages not a list, items not objects, content as parts of any
type, deep nesting, non-string models, model names with glob characters, effort and thinking
switches of any JSON type), the middleware does not raise; an unchanged request reaches the app
as its own bytes, and a rewritten one is valid JSON with a correct Content-Length.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningMiddleware
from tests.asgi_helpers import ScriptedReceive, http_scope, record, request_messages
from tests.test_request_side import RecordingApp

PATHS: Final = ("/v1/chat/completions", "/v1/responses", "/v1/messages")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "high", "low", "none", "minimal", "enabled", "disabled", "*[?]"]),
    st.sampled_from(["<think>r</think>a", "a", "assistant", "user"]),
)
KEYS = st.sampled_from(
    [
        "role",
        "content",
        "type",
        "text",
        "thinking",
        "reasoning_content",
        "reasoning",
        "summary",
        "encrypted_content",
        "effort",
        "budget_tokens",
        "enable_thinking",
        "signature",
        "data",
        "tool_calls",
    ]
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)
TURN = st.one_of(
    VALUES,
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["assistant", "user", "system", None, 1]),
            "content": st.one_of(
                VALUES,
                st.just("<think>r</think>a"),
                st.lists(
                    st.one_of(
                        st.just({"type": "text", "text": "<think>r</think>a"}),
                        st.just({"type": "thinking", "thinking": "t", "signature": "s"}),
                        st.just({"type": "redacted_thinking", "data": "d"}),
                        VALUES,
                    ),
                    max_size=3,
                ),
            ),
        },
        optional={"reasoning_content": VALUES, "type": VALUES, "summary": VALUES},
    ),
)
REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(VALUES, st.sampled_from(["qwen3-8b", "m*", "[q]wen?", "deepseek-r1"])),
        "messages": st.one_of(VALUES, st.lists(TURN, max_size=5)),
        "input": st.one_of(VALUES, st.lists(TURN, max_size=5)),
        "reasoning_effort": VALUES,
        "thinking": VALUES,
        "reasoning": VALUES,
        "chat_template_kwargs": VALUES,
        "stream": VALUES,
    },
)
OPTIONS = st.sampled_from(
    [
        {"preset": "qwen3", "history": "strip", "effort": True},
        {"preset": "qwen3", "history": "field", "effort": True},
        {"preset": "deepseek_r1", "history": "strip"},
        {"preset": "minimax_m2", "history": "inline"},
        {"preset": "harmony", "history": "auto", "effort": True},
        {"models": {"qwen3*": {"preset": "qwen3", "history": "strip", "effort": True}}},
        {"models": {"[q]wen?": {"history": "inline"}}, "mode": "strip"},
    ]
)


async def send(body: bytes, path: str, options: dict[str, Any]) -> RecordingApp:
    app = RecordingApp()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await record(
        ReasoningMiddleware(app, **options),
        http_scope(path, headers=headers),
        ScriptedReceive(request_messages(body, parts=2)),
    )
    return app


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=REQUESTS, path=st.sampled_from(PATHS), options=OPTIONS)
@pytest.mark.anyio
async def test_any_request_reaches_the_app_as_its_bytes_or_as_valid_json(
    request: dict[str, Any], path: str, options: dict[str, Any]
) -> None:
    body = json.dumps(request).encode()
    app = await send(body, path, options)
    received = app.body
    if received != body:
        json.loads(received)
        lengths = app.header(b"content-length")
        assert lengths in ([], [str(len(received)).encode()])


@pytest.mark.anyio
@pytest.mark.parametrize("path", PATHS)
async def test_a_deeply_nested_request_reaches_the_app_unchanged(path: str) -> None:
    nested = b"[" * 5000 + b'"x"' + b"]" * 5000
    body = b'{"model": "qwen3", "messages": ' + nested + b', "thinking": ' + nested + b"}"
    app = await send(body, path, {"preset": "qwen3", "history": "strip", "effort": True})
    assert app.body == body


@pytest.mark.anyio
@pytest.mark.parametrize("path", PATHS)
async def test_a_huge_conversation_is_rewritten_to_valid_json(path: str) -> None:
    turns = [
        {"role": "assistant", "content": "<think>r</think>a", "reasoning_content": "r"}
        for _ in range(20_000)
    ]
    body = json.dumps({"model": "m", "messages": turns, "input": turns}).encode()
    app = await send(body, path, {"preset": "deepseek_r1", "history": "strip"})
    json.loads(app.body)
    lengths = app.header(b"content-length")
    assert lengths in ([], [str(len(app.body)).encode()])
