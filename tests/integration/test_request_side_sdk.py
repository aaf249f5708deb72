"""Split on output, put back on input: a tool loop with the ``openai`` SDK under uvicorn.

The upstream is a MiniMax-M2 stand-in: its template pre-fills ``<think>``, so its output is
``reasoning</think>answer``, and it wants that ``<think>`` block back in the assistant
content of later requests. The client is the plain SDK, which keeps what it was given:
``reasoning_content`` beside the content. The middleware splits the reply on the way out and,
with ``history="inline"``, puts the block back on the way in; the recorded request is then
rendered with the MiniMax-M2 template excerpt.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import pytest
from openai import OpenAI

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import serve_in_thread
from tests.templates import render

if TYPE_CHECKING:
    from collections.abc import Iterator

    from asgi_reasoning.asgi import Receive, Scope, Send

pytestmark = pytest.mark.timeout(60)

CLIENT_TIMEOUT_S: Final = 15.0
TOOLS: Final[list[Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


class MiniMaxStandIn:
    """Answers the first request with a tool call, the next with text; keeps every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.requests.append(json.loads(body))
        message_out: dict[str, Any]
        if len(self.requests) == 1:
            message_out = {
                "role": "assistant",
                "content": "The user wants Paris weather; call the tool.</think>\n\n",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            }
            finish = "tool_calls"
        else:
            message_out = {"role": "assistant", "content": "Sunny, so no umbrella.</think>\n\nNo."}
            finish = "stop"
        completion = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "MiniMax-M2",
            "choices": [{"index": 0, "message": message_out, "finish_reason": finish}],
        }
        payload = json.dumps(completion).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture
def upstream() -> MiniMaxStandIn:
    return MiniMaxStandIn()


@pytest.fixture
def client(upstream: MiniMaxStandIn) -> Iterator[OpenAI]:
    app = ReasoningMiddleware(
        upstream, models={"minimax-m2*": {"preset": "minimax_m2", "history": "auto"}}
    )
    with (
        serve_in_thread(app, lifespan="off") as url,
        OpenAI(
            base_url=url + "/v1", api_key="local", max_retries=0, timeout=CLIENT_TIMEOUT_S
        ) as sdk_client,
    ):
        yield sdk_client


def test_the_tool_loop_reasoning_returns_to_the_template(
    client: OpenAI, upstream: MiniMaxStandIn
) -> None:
    messages: list[Any] = [{"role": "user", "content": "Umbrella in Paris today?"}]
    first = client.chat.completions.create(model="MiniMax-M2", messages=messages, tools=TOOLS)
    reply = first.choices[0].message
    assert reply.model_extra is not None
    assert reply.model_extra["reasoning_content"] == "The user wants Paris weather; call the tool."
    assert reply.tool_calls is not None

    # What an SDK user appends: the message as received, then the tool's result.
    messages.append(reply.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": "call_1", "content": "sunny"})
    second = client.chat.completions.create(model="MiniMax-M2", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "No."

    sent = upstream.requests[1]["messages"][1]
    assert "reasoning_content" not in sent
    assert sent["content"] == "<think>\nThe user wants Paris weather; call the tool.\n</think>\n\n"
    prompt = render("minimax_m2", upstream.requests[1]["messages"])
    assert "]~b]ai\n<think>\nThe user wants Paris weather; call the tool.\n</think>\n\n" in prompt
