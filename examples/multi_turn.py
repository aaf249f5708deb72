"""The request side: a client sends back its earlier reasoning, and the model gets it where its
chat template reads it.

Run it:  python examples/multi_turn.py   (in-process, no server, no network)

The conversation has a tool call whose assistant turn carries `reasoning_content`, as an
OpenAI-style client echoes it. Two families, one middleware, routed on the request's `model`:

- MiniMax-M2 (`history="inline"`): its docs say the `<think>` block "must be preserved
  completely" in history, and a side field does not always get there (vLLM reads `reasoning`
  and drops `reasoning_content`), so the reasoning goes back inline at the start of `content`,
  where its template finds it on every engine.
- Qwen3 (`effort=True`): the client's `reasoning_effort` becomes the template switch
  `chat_template_kwargs.enable_thinking`; no template reads `reasoning_effort` itself.

The recording app prints each request exactly as it received it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from asgi_reasoning import ReasoningMiddleware

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

received: list[dict[str, Any]] = []


async def recording_app(scope: Message, receive: Receive, send: Send) -> None:
    """Record the request body, answer with a fixed completion."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    received.append(json.loads(body))
    answer = {"role": "assistant", "content": "It is 18 °C in Paris."}
    completion = {
        "id": "chatcmpl-example",
        "object": "chat.completion",
        "created": 0,
        "model": received[-1].get("model", ""),
        "choices": [{"index": 0, "message": answer, "finish_reason": "stop"}],
    }
    payload = json.dumps(completion).encode()
    length = str(len(payload)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


app = ReasoningMiddleware(
    recording_app,
    models={
        "minimax-m2*": {"preset": "minimax_m2", "history": "inline"},
        "qwen3*": {"preset": "qwen3", "effort": True},
    },
)

CONVERSATION: list[dict[str, Any]] = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "I need the weather tool for Paris.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 18}'},
]
REQUESTS: dict[str, dict[str, Any]] = {
    "MiniMax-M2": {"model": "MiniMax-M2", "messages": CONVERSATION},
    "Qwen3-8B": {"model": "Qwen3-8B", "messages": CONVERSATION, "reasoning_effort": "none"},
}


async def main() -> None:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        for name, request in REQUESTS.items():
            response = await client.post("/v1/chat/completions", json=request)
            response.raise_for_status()
            print(f"--- {name}: the request the app received")
            print(json.dumps(received[-1], indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
