"""The apps the end-to-end benchmark serves with uvicorn: bare, and wrapped in the middleware.

Both answer ``POST /v1/chat/completions`` with a prepared reasoning response of the request's
``max_tokens`` tokens, streamed (one SSE event per body message) or as one JSON body, as fast
as the server takes it: no delay between tokens, so any cost the middleware adds shows.
"""

from __future__ import annotations

from functools import lru_cache

import orjson

from asgi_reasoning import ReasoningMiddleware
from benchmarks._asgi import Message, Receive, Scope, Send, completion_body, sse_events
from benchmarks.streams import build_streams


@lru_cache(maxsize=8)
def _stream_tokens(count: int) -> tuple[str, ...]:
    atomic = next(stream for stream in build_streams(count) if stream.name == "atomic")
    return atomic.chunks


@lru_cache(maxsize=8)
def _events(count: int) -> list[Message]:
    return [
        {"type": "http.response.body", "body": event, "more_body": True}
        for event in sse_events(_stream_tokens(count))
    ]


@lru_cache(maxsize=8)
def _json_body(count: int) -> bytes:
    return completion_body("".join(_stream_tokens(count)))


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more_body = True
    while more_body:
        message = await receive()
        body += message.get("body", b"")
        more_body = message.get("more_body", False)
    request = orjson.loads(body) if body else {}
    count = int(request.get("max_tokens") or 2000)
    if request.get("stream"):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
            }
        )
        for event in _events(count):
            await send(event)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    json_body = _json_body(count)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(json_body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": json_body, "more_body": False})


wrapped_app = ReasoningMiddleware(bare_app)
