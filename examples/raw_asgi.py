"""A bare ASGI app, no framework, that serves a tiny scripted reasoning model, wrapped in
ReasoningMiddleware.

Run it:  python examples/raw_asgi.py
Try it:  curl -N http://127.0.0.1:8000/v1/chat/completions -H 'content-type: application/json' \
           -d '{"model": "tiny-reasoner", "stream": true, "messages": []}'
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import uvicorn

from asgi_reasoning import ReasoningMiddleware

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# What a reasoning model served without a reasoning parser writes, a token at a time.
TOKENS = ["<think>", "\nThe user", " says hello.", " Be", " friendly.", "</think>", "\n\n"]
TOKENS += ["Hello", "!", " How", " can", " I", " help?"]
TOKEN_DELAY = 0.05


async def model_app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Send,
) -> None:
    if scope["type"] != "http":
        return
    if (scope["method"], scope["path"]) != ("POST", "/v1/chat/completions"):
        await send_json(send, 404, {"error": {"message": "Not found", "code": 404}})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    request = json.loads(body)
    model = request.get("model", "tiny-reasoner")
    if not request.get("stream"):
        message = {"role": "assistant", "content": "".join(TOKENS)}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        await send_json(send, 200, completion(model, "chat.completion", choice))
        return
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for token in TOKENS:
        choice = {"index": 0, "delta": {"content": token}, "finish_reason": None}
        await send_event(send, completion(model, "chat.completion.chunk", choice))
        await anyio.sleep(TOKEN_DELAY)
    choice = {"index": 0, "delta": {}, "finish_reason": "stop"}
    await send_event(send, completion(model, "chat.completion.chunk", choice))
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


async def send_event(send: Send, chunk: object) -> None:
    event = f"data: {json.dumps(chunk)}\n\n".encode()
    await send({"type": "http.response.body", "body": event, "more_body": True})


async def send_json(send: Send, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def completion(model: str, kind: str, choice: dict[str, object]) -> dict[str, object]:
    return {
        "id": "chatcmpl-example",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


app = ReasoningMiddleware(model_app, preset="think")  # <- the one line that adds it

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
