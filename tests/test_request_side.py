"""The request the app receives: history and effort rewritten per model, or the bytes as sent."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pytest

from asgi_reasoning import ReasoningMiddleware

from .asgi_helpers import (
    Assembled,
    ScriptedReceive,
    assemble,
    content_stream,
    http_scope,
    record,
    request_messages,
)

if TYPE_CHECKING:
    from asgi_reasoning.asgi import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

CALL: Final[dict[str, Any]] = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def conversation(reasoning_field: str = "reasoning_content") -> list[dict[str, Any]]:
    """A finished answer, then a tool loop still running, reasoning on both turns."""
    return [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!", reasoning_field: "Greet."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", reasoning_field: "Call it.", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]


@dataclass
class RecordingApp:
    """Reads the whole request, keeps what it got, answers with a stream of ``tokens``."""

    tokens: list[str] = field(default_factory=lambda: ["Hello", " there"])
    scopes: list[Scope] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for event in content_stream(self.tokens):
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.request")

    @property
    def request(self) -> Any:
        return json.loads(self.body)

    def header(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.scopes[-1]["headers"] if key.lower() == name]


def encoded(request: object) -> bytes:
    # Spacing and key order a rewrite would not keep.
    return json.dumps(request, indent=1, ensure_ascii=True).encode()


async def send_request(
    request: object | bytes,
    *,
    path: str = "/v1/chat/completions",
    parts: int = 1,
    content_length: bool = True,
    **options: Any,
) -> tuple[RecordingApp, bytes, Any]:
    """Send ``request`` through a middleware with ``options``: the app, the bytes, the reply."""
    body = request if isinstance(request, bytes) else encoded(request)
    headers = [(b"content-type", b"application/json")]
    if content_length:
        headers.append((b"content-length", str(len(body)).encode()))
    app = RecordingApp()
    reply = await record(
        ReasoningMiddleware(app, **options),
        http_scope(path, headers=headers),
        ScriptedReceive(request_messages(body, parts=parts)),
    )
    return app, body, reply


class TestUnchanged:
    async def test_with_the_options_off_the_app_gets_the_messages_as_sent(self) -> None:
        request = {"model": "minimax-m2", "messages": conversation(), "reasoning_effort": "none"}
        app, body, _ = await send_request(request, parts=3, preset="qwen3")
        assert app.messages[:3] == request_messages(body, parts=3)
        assert app.header(b"content-length") == [str(len(body)).encode()]

    async def test_with_nothing_to_rewrite_the_bytes_are_identical(self) -> None:
        request = {"model": "q", "messages": [{"role": "user", "content": "Hi"}]}
        app, body, _ = await send_request(
            request, parts=2, preset="qwen3", history="field", effort=True
        )
        assert app.messages[:2] == request_messages(body, parts=2)

    async def test_a_client_template_switch_is_left_alone(self) -> None:
        request = {
            "model": "q",
            "messages": [{"role": "user", "content": "Hi"}],
            "reasoning_effort": "none",
            "chat_template_kwargs": {"enable_thinking": True},
        }
        app, body, _ = await send_request(request, preset="qwen3", effort=True)
        assert app.body == body

    async def test_a_model_no_entry_matches_uses_the_top_level(self) -> None:
        request = {"model": "llama-3", "messages": conversation()}
        app, body, _ = await send_request(request, models={"minimax-m2*": "minimax_m2"})
        assert app.body == body


class TestRewritten:
    async def test_minimax_m2_gets_its_think_blocks_back_inline(self) -> None:
        request = {"model": "MiniMax-M2.1", "messages": conversation("reasoning")}
        app, _, _ = await send_request(request, parts=4, preset="minimax_m2", history="auto")
        assert app.request["messages"][3] == {
            "role": "assistant",
            "content": "<think>\nCall it.\n</think>\n\n",
            "tool_calls": [CALL],
        }
        assert app.request["model"] == "MiniMax-M2.1"

    async def test_the_body_arrives_whole_with_its_length(self) -> None:
        request = {"model": "m", "messages": conversation()}
        app, body, _ = await send_request(request, parts=4, preset="minimax_m2", history="inline")
        requests = [m for m in app.messages if m["type"] == "http.request"]
        assert len(requests) == 1
        assert requests[0]["more_body"] is False
        assert app.header(b"content-length") == [str(len(app.body)).encode()]
        assert len(app.body) != len(body)

    async def test_a_chunked_request_gets_a_length_instead(self) -> None:
        request = {"model": "m", "messages": conversation()}
        body = encoded(request)
        app = RecordingApp()
        scope = http_scope(headers=[(b"transfer-encoding", b"chunked")])
        original_headers = list(scope["headers"])
        await record(
            ReasoningMiddleware(app, preset="deepseek_r1", history="strip"),
            scope,
            ScriptedReceive(request_messages(body, parts=2)),
        )
        assert app.header(b"transfer-encoding") == []
        assert app.header(b"content-length") == [str(len(app.body)).encode()]
        assert scope["headers"] == original_headers
        assert app.scopes[0] is not scope

    async def test_after_the_body_the_app_hears_the_disconnect(self) -> None:
        received: list[Message] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            received.append(await receive())
            received.append(await receive())
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        body = encoded({"model": "m", "messages": conversation()})
        await record(
            ReasoningMiddleware(app, preset="deepseek_r1", history="strip"),
            http_scope(),
            ScriptedReceive(request_messages(body)),
        )
        assert received[1] == {"type": "http.disconnect"}
        assert json.loads(received[0]["body"])["messages"][1] == {
            "role": "assistant",
            "content": "Hello!",
        }

    @pytest.mark.parametrize("parts", [1, 2, 7, 64])
    async def test_however_the_body_was_cut_the_app_gets_the_same_request(self, parts: int) -> None:
        request = {"model": "m", "messages": conversation(), "reasoning_effort": "none"}
        whole, _, _ = await send_request(request, preset="qwen3", history="strip", effort=True)
        cut, _, _ = await send_request(
            request, parts=parts, preset="qwen3", history="strip", effort=True
        )
        assert cut.body == whole.body
        assert cut.request["chat_template_kwargs"] == {"enable_thinking": False}

    async def test_vllm_reads_reasoning_so_field_moves_it_there(self) -> None:
        request = {"model": "qwen3-8b", "messages": conversation("reasoning_content")}
        app, _, _ = await send_request(request, preset="qwen3", history="field")
        assistants = [m for m in app.request["messages"] if m["role"] == "assistant"]
        assert [m.get("reasoning") for m in assistants] == ["Greet.", "Call it."]
        assert not any("reasoning_content" in m for m in assistants)

    async def test_every_rewrite_is_logged_at_debug(self, caplog: pytest.LogCaptureFixture) -> None:
        request = {"model": "qwen3-8b", "messages": conversation(), "reasoning_effort": "none"}
        with caplog.at_level(logging.DEBUG, logger="asgi_reasoning"):
            await send_request(request, preset="qwen3", history="field", effort=True)
        [line] = [r.getMessage() for r in caplog.records if "rewrote" in r.getMessage()]
        assert "chat_completions request for model 'qwen3-8b'" in line
        assert "messages: 2 of 5 items rewritten" in line
        assert "chat_template_kwargs: None -> {'enable_thinking': False}" in line


class TestEffortAndTheResponse:
    async def test_none_turns_qwen3_thinking_off_and_the_reply_starts_in_content(self) -> None:
        request = {"model": "q", "messages": conversation(), "reasoning_effort": "none"}
        app, _, reply = await send_request(
            request, preset="qwen3", effort=True, starts_in_reasoning=True
        )
        assert app.request["chat_template_kwargs"] == {"enable_thinking": False}
        assert assemble(reply.body) == Assembled("", "Hello there")

    async def test_a_level_turns_thinking_on_and_the_reply_starts_in_reasoning(self) -> None:
        request = {"model": "q", "messages": conversation(), "reasoning_effort": "high"}
        app, _, reply = await send_request(request, preset="qwen3", effort=True)
        assert app.request["chat_template_kwargs"] == {"enable_thinking": True}
        assert assemble(reply.body) == Assembled("Hello there", "")

    async def test_minimax_m3_off_starts_in_content(self) -> None:
        request = {"model": "m3", "messages": conversation(), "reasoning_effort": "none"}
        app, _, reply = await send_request(
            request, preset="minimax_m3", effort=True, starts_in_reasoning=True
        )
        assert app.request["chat_template_kwargs"] == {"thinking_mode": "disabled"}
        assert assemble(reply.body) == Assembled("", "Hello there")

    async def test_gpt_oss_effort_reaches_the_template(self) -> None:
        request = {"model": "gpt-oss-20b", "messages": conversation(), "reasoning_effort": "low"}
        app, _, _ = await send_request(request, preset="harmony", effort=True)
        assert app.request["chat_template_kwargs"] == {"reasoning_effort": "low"}
        assert app.request["reasoning_effort"] == "low"

    async def test_a_named_template_key(self) -> None:
        request = {"model": "m", "messages": conversation(), "reasoning_effort": "none"}
        app, _, _ = await send_request(request, effort="use_reasoning")
        assert app.request["chat_template_kwargs"] == {"use_reasoning": False}


class TestPerModelRouting:
    MODELS: Final[dict[str, Any]] = {
        "*gpt-oss*": {"preset": "harmony", "history": "auto", "history_field": "reasoning"},
        "minimax-m2*": {"preset": "minimax_m2", "history": "auto"},
        "qwen3*": {"preset": "qwen3", "history": "field", "effort": True},
        "deepseek-r1*": {"preset": "deepseek_r1", "history": "auto"},
    }

    async def routed(self, model: object, **fields: Any) -> dict[str, Any]:
        request = {"model": model, "messages": conversation(), **fields}
        app, _, _ = await send_request(request, models=self.MODELS)
        result: dict[str, Any] = app.request
        return result

    async def test_gpt_oss_keeps_only_the_tool_loop_analysis(self) -> None:
        messages = (await self.routed("openai/gpt-oss-120b"))["messages"]
        assert messages[1] == {"role": "assistant", "content": "Hello!"}
        assert messages[3]["reasoning"] == "Call it."

    async def test_minimax_inlines(self) -> None:
        messages = (await self.routed("MINIMAX-M2"))["messages"]
        assert messages[1]["content"] == "<think>\nGreet.\n</think>\n\nHello!"

    async def test_qwen3_renames_and_translates_effort(self) -> None:
        request = await self.routed("qwen3-32b", reasoning_effort="minimal")
        assert request["messages"][3]["reasoning"] == "Call it."
        assert request["chat_template_kwargs"] == {"enable_thinking": False}

    async def test_r1_strips(self) -> None:
        messages = (await self.routed("deepseek-r1-distill-qwen-7b"))["messages"]
        assert messages[1] == {"role": "assistant", "content": "Hello!"}
        assert "reasoning_content" not in messages[3]

    @pytest.mark.parametrize("model", [None, 7, ["qwen3"], {"name": "qwen3"}, "other"])
    async def test_a_model_that_is_no_name_of_theirs_is_forwarded_as_sent(
        self, model: object
    ) -> None:
        request = {"model": model, "messages": conversation(), "reasoning_effort": "none"}
        app, body, _ = await send_request(request, models=self.MODELS)
        assert app.body == body

    async def test_the_first_matching_glob_wins(self) -> None:
        models = {"qwen3-coder*": "think", "qwen3*": {"preset": "qwen3", "effort": True}}
        request = {"model": "Qwen3-Coder-30B", "messages": [], "reasoning_effort": "none"}
        app, body, _ = await send_request(request, models=models)
        assert app.body == body


class TestOtherAPIs:
    async def test_responses_input_reasoning_is_stripped(self) -> None:
        request = {
            "model": "m",
            "input": [
                {"role": "user", "content": "Weather?"},
                {"type": "reasoning", "summary": [], "content": [
                    {"type": "reasoning_text", "text": "Call it."}
                ]},
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            ],
            "reasoning": {"effort": "none"},
        }  # fmt: skip
        app, _, _ = await send_request(
            request, path="/v1/responses", preset="qwen3", history="strip", effort=True
        )
        assert [item.get("type") for item in app.request["input"]] == [
            None,
            "function_call",
            "function_call_output",
        ]
        assert app.request["chat_template_kwargs"] == {"enable_thinking": False}

    async def test_messages_thinking_blocks_are_inlined_and_disabled_thinking_switched(
        self,
    ) -> None:
        request = {
            "model": "m",
            "max_tokens": 100,
            "thinking": {"type": "disabled"},
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Call it.", "signature": ""},
                    {"type": "tool_use", "id": "t1", "name": "w", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}
                ]},
            ],
        }  # fmt: skip
        app, _, _ = await send_request(
            request, path="/v1/messages", preset="glm45", history="inline", effort=True
        )
        assert app.request["messages"][1]["content"][0] == {
            "type": "text",
            "text": "<think>\nCall it.\n</think>\n\n",
        }
        assert app.request["chat_template_kwargs"] == {"enable_thinking": False}


class TestLimitsAndHostileInput:
    async def test_a_declared_over_size_body_is_not_read(self) -> None:
        request = {"model": "m", "messages": conversation()}
        body = encoded(request)
        receive = ScriptedReceive(request_messages(body, parts=2))
        app = RecordingApp()
        middleware = ReasoningMiddleware(
            app, preset="deepseek_r1", history="strip", max_body_size=len(body) - 1
        )
        headers = [(b"content-length", str(len(body)).encode())]
        await record(middleware, http_scope(headers=headers), receive)
        assert app.messages[:2] == request_messages(body, parts=2)
        # The app's two reads and its disconnect check; the middleware read nothing.
        assert receive.calls == 2

    async def test_an_undeclared_over_size_body_is_forwarded_as_sent(self) -> None:
        request = {"model": "m", "messages": conversation()}
        app, body, _ = await send_request(
            request,
            parts=5,
            content_length=False,
            preset="deepseek_r1",
            history="strip",
            max_body_size=100,
        )
        assert app.messages[:5] == request_messages(body, parts=5)

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"not json", id="not JSON"),
            pytest.param(b"[1, 2]", id="an array"),
            pytest.param(b'{"messages": "hi"}', id="messages a string"),
            pytest.param(b'{"messages": [1, null, "x", [], {"role": 3}]}', id="odd messages"),
            pytest.param(b'{"messages": [{"role": "user", "content": ' + b"[" * 900
                         + b"]" * 900 + b"}]}", id="deep content"),
            pytest.param(b'{"model": {"$gt": ""}, "reasoning_effort": ["none"]}', id="odd types"),
            pytest.param(b'{"chat_template_kwargs": 1, "reasoning_effort": "none"}', id="kwargs"),
        ],
    )  # fmt: skip
    async def test_hostile_bodies_reach_the_app_as_sent(self, body: bytes) -> None:
        app, _, reply = await send_request(
            body, preset="qwen3", history="strip", effort=True, models={"*": {"history": "inline"}}
        )
        assert app.body == body
        assert reply.start["status"] == 200

    async def test_deeply_nested_reasoning_is_dropped_not_followed(self) -> None:
        body = b'{"messages": [{"role": "assistant", "content": "A", "reasoning": '
        body += b"[" * 900 + b"]" * 900 + b"}]}"
        app, _, reply = await send_request(body, preset="minimax_m2", history="inline")
        assert app.request == {"messages": [{"role": "assistant", "content": "A"}]}
        assert reply.start["status"] == 200

    async def test_a_huge_conversation_is_rewritten(self) -> None:
        messages = conversation() * 2000
        request = {"model": "m", "messages": messages}
        app, _, _ = await send_request(request, preset="deepseek_r1", history="strip")
        assert len(app.request["messages"]) == len(messages)
        assert not any("reasoning_content" in m for m in app.request["messages"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"models": {"q*": {"paths": ["/x"]}}}, r"models\[q\*\]\.paths: not a per-model option"),
        ({"models": {"q*": {"history": "all"}}}, r"models\[q\*\]\.history: unknown value"),
        ({"models": {"q*": "nope"}}, r"models\[q\*\]\.preset: unknown preset 'nope'"),
        ({"history": "sometimes"}, r"^history: unknown value 'sometimes'"),
        ({"history_field": "content"}, r"^history_field: 'content' is a message field"),
        ({"effort": ""}, r"^effort: expected a chat_template_kwargs key"),
    ],
)
def test_wrong_values_fail_at_construction_naming_the_option(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ReasoningMiddleware(RecordingApp(), **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"models": ["q*"]}, r"^models: expected a mapping"),
        ({"models": {"q*": 3}}, r"^models\[q\*\]: expected a preset name or a mapping"),
        ({"models": {"q*": {"mode": 1}}}, r"^models\[q\*\]\.mode: expected a str"),
        ({"effort": 1.5}, r"^effort: expected True"),
    ],
)
def test_wrong_types_fail_at_construction_naming_the_option(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        ReasoningMiddleware(RecordingApp(), **options)
