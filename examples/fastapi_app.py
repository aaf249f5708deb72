"""A FastAPI app that serves a tiny scripted reasoning model, with ReasoningMiddleware added.

Run it:  python examples/fastapi_app.py
Try it:  curl -N http://127.0.0.1:8000/v1/chat/completions -H 'content-type: application/json' \
           -d '{"model": "tiny-reasoner", "stream": true, "messages": []}'
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import anyio
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from asgi_reasoning import ReasoningMiddleware

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# What a reasoning model served without a reasoning parser writes, a token at a time.
TOKENS = ["<think>", "\nThe user", " says hello.", " Be", " friendly.", "</think>", "\n\n"]
TOKENS += ["Hello", "!", " How", " can", " I", " help?"]
TOKEN_DELAY = 0.05

app = FastAPI()
app.add_middleware(ReasoningMiddleware, preset="think")  # <- the one line that adds it


@app.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    body = await request.json()
    model = body.get("model", "tiny-reasoner")
    if body.get("stream"):
        return StreamingResponse(stream_chunks(model), media_type="text/event-stream")
    message = {"role": "assistant", "content": "".join(TOKENS)}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return JSONResponse(completion(model, "chat.completion", choice))


async def stream_chunks(model: str) -> AsyncIterator[str]:
    for token in TOKENS:
        choice = {"index": 0, "delta": {"content": token}, "finish_reason": None}
        yield f"data: {json.dumps(completion(model, 'chat.completion.chunk', choice))}\n\n"
        await anyio.sleep(TOKEN_DELAY)
    choice = {"index": 0, "delta": {}, "finish_reason": "stop"}
    yield f"data: {json.dumps(completion(model, 'chat.completion.chunk', choice))}\n\n"
    yield "data: [DONE]\n\n"


def completion(model: str, kind: str, choice: dict[str, object]) -> dict[str, object]:
    return {
        "id": "chatcmpl-example",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
