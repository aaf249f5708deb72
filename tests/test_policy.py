"""Per-request behaviour (DESIGN.md §5), through the middleware: what a client's request asks.

The request body decides where the model's output starts (``chat_template_kwargs``) and,
when ``request_overrides`` is on, whether reasoning is separated, stripped or left alone.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from asgi_reasoning import ReasoningMiddleware
from tests.asgi_helpers import (
    Assembled,
    Recorder,
    ScriptedReceive,
    assemble,
    completion,
    content_stream,
    http_scope,
    json_app,
    json_request,
    record,
    request_messages,
    sse_app,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asgi_reasoning.asgi import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

SECRET = "qzx"
THINKING = f"<think>{SECRET} plan</think>Answer"
# Output of a model whose template pre-filled the opener: no opener in the text.
PREFILLED_TOKENS = [f"{SECRET} ", "plan", "</think>", "Answer"]
UNMARKED_TOKENS = ["Hello", " there"]


async def streamed(
    tokens: list[str], request: Mapping[str, Any] | None = None, **options: Any
) -> tuple[Recorder, Recorder]:
    """What the app sent, and what the client got through the middleware."""
    app = sse_app(content_stream(tokens))
    direct = await record(app, http_scope(), json_request(request))
    wrapped = await record(ReasoningMiddleware(app, **options), http_scope(), json_request(request))
    return direct, wrapped


async def json_message(
    content: str, request: Mapping[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    app = json_app(completion(content))
    recorder = await record(
        ReasoningMiddleware(app, **options), http_scope(), json_request(request)
    )
    message: dict[str, Any] = json.loads(recorder.body)["choices"][0]["message"]
    return message


@pytest.mark.parametrize("preset", ["deepseek_r1", "qwen3_thinking", "glm45"])
@pytest.mark.parametrize("flag", ["enable_thinking", "thinking"])
async def test_thinking_switched_off_starts_in_content(preset: str, flag: str) -> None:
    request = {"chat_template_kwargs": {flag: False}}
    direct, wrapped = await streamed(UNMARKED_TOKENS, request, preset=preset)
    assert wrapped.body == direct.body


@pytest.mark.parametrize("preset", ["deepseek_r1", "qwen3_thinking", "glm45"])
async def test_prefilling_preset_starts_in_reasoning_by_default(preset: str) -> None:
    _, wrapped = await streamed(PREFILLED_TOKENS, preset=preset)
    assert assemble(wrapped.body) == Assembled(f"{SECRET} plan", "Answer")


@pytest.mark.parametrize("preset", ["qwen3", "deepseek_v3"])
@pytest.mark.parametrize("flag", ["enable_thinking", "thinking"])
async def test_thinking_switched_on_starts_a_hybrid_preset_in_reasoning(
    preset: str, flag: str
) -> None:
    request = {"chat_template_kwargs": {flag: True}}
    _, wrapped = await streamed(PREFILLED_TOKENS, request, preset=preset)
    assert assemble(wrapped.body) == Assembled(f"{SECRET} plan", "Answer")


async def test_family_switch_starts_minimax_m3_in_reasoning() -> None:
    tokens = [f"{SECRET} ", "plan", "</mm:think>", "Answer"]
    request = {"chat_template_kwargs": {"thinking_mode": "enabled"}}
    _, wrapped = await streamed(tokens, request, preset="minimax_m3")
    assert assemble(wrapped.body) == Assembled(f"{SECRET} plan", "Answer")


@pytest.mark.parametrize("value", ["disabled", True, None])
async def test_other_values_of_a_family_switch_start_in_content(value: object) -> None:
    request = {"chat_template_kwargs": {"thinking_mode": value}}
    direct, wrapped = await streamed(UNMARKED_TOKENS, request, preset="minimax_m3")
    assert wrapped.body == direct.body


@pytest.mark.parametrize("preset", ["qwen3", "deepseek_v3", "think"])
async def test_hybrid_preset_without_the_switch_starts_in_content(preset: str) -> None:
    direct, wrapped = await streamed(UNMARKED_TOKENS, preset=preset)
    assert wrapped.body == direct.body


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"reasoning_format": "none"}, id="reasoning_format none"),
        pytest.param({"separate_reasoning": False}, id="separate_reasoning false"),
    ],
)
async def test_request_can_turn_rewriting_off(request_body: dict[str, Any]) -> None:
    direct, wrapped = await streamed(["<think>a", "</think>", "b"], request_body)
    assert wrapped.messages == direct.messages

    app = json_app(completion(THINKING))
    direct = await record(app, http_scope(), json_request(request_body))
    wrapped = await record(ReasoningMiddleware(app), http_scope(), json_request(request_body))
    assert wrapped.messages == direct.messages


STRIP_SWITCHES = [
    pytest.param({"include_reasoning": False}, id="include_reasoning false"),
    pytest.param({"reasoning": {"exclude": True}}, id="reasoning exclude"),
    pytest.param(
        {"reasoning": {"effort": "low", "exclude": True}}, id="reasoning effort and exclude"
    ),
]


@pytest.mark.parametrize("request_body", STRIP_SWITCHES)
async def test_request_can_ask_for_reasoning_to_be_stripped(request_body: dict[str, Any]) -> None:
    message = await json_message(THINKING, request_body)
    assert message == {"role": "assistant", "content": "Answer"}

    _, wrapped = await streamed(["<think>", SECRET, " plan</think>", "Answer"], request_body)
    assert SECRET.encode() not in wrapped.body
    assert b"reasoning" not in wrapped.body
    assert assemble(wrapped.body).content == "Answer"


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"include_reasoning": False, "reasoning_format": "none"}, id="exclude+none"),
        pytest.param({"include_reasoning": False, "separate_reasoning": False}, id="exclude+off"),
        pytest.param({"include_reasoning": False, "separate_reasoning": True}, id="exclude+on"),
        pytest.param({"reasoning": {"exclude": True}, "reasoning_format": "deepseek"}, id="both"),
    ],
)
async def test_strip_wins_when_switches_conflict(request_body: dict[str, Any]) -> None:
    message = await json_message(THINKING, request_body)
    assert message == {"role": "assistant", "content": "Answer"}


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"include_reasoning": True}, id="include_reasoning true"),
        pytest.param({"reasoning": {"exclude": False}}, id="reasoning exclude false"),
        pytest.param({"reasoning": {"effort": "high"}}, id="reasoning effort"),
        pytest.param({"chat_template_kwargs": {"enable_thinking": True}}, id="thinking on"),
    ],
)
async def test_switches_that_keep_reasoning_leave_it_separated(
    request_body: dict[str, Any],
) -> None:
    message = await json_message(THINKING, request_body)
    assert message == {
        "role": "assistant",
        "content": "Answer",
        "reasoning_content": f"{SECRET} plan",
    }


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"separate_reasoning": True}, id="separate_reasoning true"),
        pytest.param({"reasoning_format": "deepseek"}, id="reasoning_format deepseek"),
        pytest.param({"reasoning_format": "parsed"}, id="reasoning_format parsed"),
    ],
)
async def test_client_can_opt_in_under_passthrough_mode(request_body: dict[str, Any]) -> None:
    message = await json_message(THINKING, request_body, mode="passthrough")
    assert message == {
        "role": "assistant",
        "content": "Answer",
        "reasoning_content": f"{SECRET} plan",
    }

    _, wrapped = await streamed(["<think>a", "</think>", "b"], request_body, mode="passthrough")
    assert assemble(wrapped.body) == Assembled("a", "b")


async def test_passthrough_mode_without_a_switch_changes_nothing() -> None:
    direct, wrapped = await streamed(["<think>a", "</think>", "b"], mode="passthrough")
    assert wrapped.messages == direct.messages


async def test_client_can_ask_for_strip_under_passthrough_mode() -> None:
    message = await json_message(THINKING, {"include_reasoning": False}, mode="passthrough")
    assert message == {"role": "assistant", "content": "Answer"}


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"include_reasoning": False}, id="include_reasoning false"),
        pytest.param({"reasoning_format": "none"}, id="reasoning_format none"),
        pytest.param({"separate_reasoning": False}, id="separate_reasoning false"),
    ],
)
async def test_switches_are_ignored_without_request_overrides(
    request_body: dict[str, Any],
) -> None:
    message = await json_message(THINKING, request_body, request_overrides=False)
    assert message == {
        "role": "assistant",
        "content": "Answer",
        "reasoning_content": f"{SECRET} plan",
    }


async def test_opt_in_is_ignored_without_request_overrides() -> None:
    app = json_app(completion(THINKING))
    middleware = ReasoningMiddleware(app, mode="passthrough", request_overrides=False)
    request = {"separate_reasoning": True}
    direct = await record(app, http_scope(), json_request(request))
    wrapped = await record(middleware, http_scope(), json_request(request))
    assert wrapped.messages == direct.messages


async def test_thinking_switched_off_is_honoured_without_request_overrides() -> None:
    request = {"chat_template_kwargs": {"enable_thinking": False}}
    direct, wrapped = await streamed(
        UNMARKED_TOKENS, request, preset="deepseek_r1", request_overrides=False
    )
    assert wrapped.body == direct.body


async def test_explicit_start_in_content_is_not_changed_by_thinking_on() -> None:
    kwargs = {"chat_template_kwargs": {"enable_thinking": True}}
    _, wrapped = await streamed(UNMARKED_TOKENS, kwargs, preset="qwen3", starts_in_reasoning=False)
    assert assemble(wrapped.body) == Assembled("", "Hello there")


async def test_thinking_off_starts_in_content_even_with_starts_in_reasoning_true() -> None:
    # DESIGN.md §15: enable_thinking false is the model's state; no setting overrides it.
    kwargs = {"chat_template_kwargs": {"enable_thinking": False}}
    _, wrapped = await streamed(UNMARKED_TOKENS, kwargs, preset="qwen3", starts_in_reasoning=True)
    assert assemble(wrapped.body) == Assembled("", "Hello there")


async def test_callable_decides_the_start_state_per_request() -> None:
    requests_seen: list[Mapping[str, Any]] = []

    def is_thinking_model(request: Mapping[str, Any]) -> bool:
        requests_seen.append(request)
        return str(request.get("model", "")).endswith("-thinking")

    options: dict[str, Any] = {"starts_in_reasoning": is_thinking_model}
    _, thinking = await streamed(PREFILLED_TOKENS, {"model": "qwen3-thinking"}, **options)
    _, instruct = await streamed(UNMARKED_TOKENS, {"model": "qwen3-instruct"}, **options)

    assert assemble(thinking.body) == Assembled(f"{SECRET} plan", "Answer")
    assert assemble(instruct.body) == Assembled("", "Hello there")
    assert [r["model"] for r in requests_seen] == ["qwen3-thinking", "qwen3-instruct"]
    assert requests_seen[0]["messages"] == [{"role": "user", "content": "hi"}]


async def test_callable_that_fails_falls_back_to_the_preset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(request: Mapping[str, Any]) -> bool:
        raise KeyError("model")

    with caplog.at_level(logging.ERROR, logger="asgi_reasoning"):
        _, wrapped = await streamed(
            PREFILLED_TOKENS, preset="deepseek_r1", starts_in_reasoning=broken
        )
    assert assemble(wrapped.body) == Assembled(f"{SECRET} plan", "Answer")
    assert len(caplog.records) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"chat_template_kwargs": {"enable_thinking": false', id="truncated JSON"),
        pytest.param(b'["include_reasoning", false]', id="JSON array"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_unreadable_request_gets_the_configured_behaviour(body: bytes) -> None:
    app = sse_app(content_stream(PREFILLED_TOKENS))
    receive = ScriptedReceive(request_messages(body))
    recorder = await record(ReasoningMiddleware(app, preset="deepseek_r1"), http_scope(), receive)
    assert assemble(recorder.body) == Assembled(f"{SECRET} plan", "Answer")


async def test_request_with_switches_reaches_the_app_unchanged() -> None:
    request = {
        "model": "m",
        "messages": [{"role": "user", "content": "<think>hi</think>"}],
        "include_reasoning": False,
        "chat_template_kwargs": {"enable_thinking": False},
        "n": 2,
    }
    body = json.dumps(request, indent=1).encode()
    seen: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message: Message = {"more_body": True}
        while message.get("more_body", False):
            message = await receive()
            seen.append(message["body"])
        await json_app(completion(THINKING))(scope, receive, send)

    receive = ScriptedReceive(request_messages(body, parts=3))
    await record(ReasoningMiddleware(app), http_scope(), receive)
    assert b"".join(seen) == body
