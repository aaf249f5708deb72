"""A minimal chat-completions ASGI app and the means to drive it without a server.

The app sends a response prepared in advance, one SSE event per ``http.response.body``
message as vLLM does, so what is timed around it is the middleware, not the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final

import orjson

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MODEL: Final = "Qwen/Qwen3-8B"
COMPLETION_ID: Final = "chatcmpl-b7d4c2a1e9f04c3d8a6b5e2f1d0c9b8a"
CREATED: Final = 1_732_000_000
CHAT_PATH: Final = "/v1/chat/completions"


def request_body(*, stream: bool, max_tokens: int = 2000, history_chars: int = 0) -> bytes:
    """A typical chat request: a system prompt and one question, about 1 KB.

    ``history_chars`` adds an earlier exchange of that many characters, as a long
    conversation sends.
    """
    history = (
        [
            {"role": "user", "content": "Tell me about sorting. " * (history_chars // 46)},
            {
                "role": "assistant",
                "content": "Sorting puts items in order. " * (history_chars // 58),
            },
        ]
        if history_chars
        else []
    )
    return orjson.dumps(
        {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are a careful assistant. " * 30},
                *history,
                {"role": "user", "content": "Is this list sorted: [1, 2, 2, 5, 9]?"},
            ],
            "stream": stream,
            "max_tokens": max_tokens,
            "temperature": 0.6,
        }
    )


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def sse_events(tokens: Sequence[str]) -> list[bytes]:
    """The SSE events vLLM sends for ``tokens``: role first, one per token, finish, [DONE]."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks.extend(_chunk({"content": token}) for token in tokens)
    chunks.append(_chunk({"content": ""}, "stop"))
    events = [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks]
    events.append(b"data: [DONE]\n\n")
    return events


def completion_body(text: str) -> bytes:
    """A non-streaming ``chat.completion`` whose message content is ``text``."""
    return orjson.dumps(
        {
            "id": COMPLETION_ID,
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "tool_calls": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 60, "completion_tokens": 2000, "total_tokens": 2060},
        }
    )


def streaming_app(events: Sequence[bytes]) -> ASGIApp:
    """An app that answers every request with ``events``, each in its own body message."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
        ],
    }
    bodies = [{"type": "http.response.body", "body": event, "more_body": True} for event in events]
    end = {"type": "http.response.body", "body": b"", "more_body": False}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        for body in bodies:
            await send(body)
        await send(end)

    return app


def json_app(body: bytes) -> ASGIApp:
    """An app that answers every request with the JSON ``body`` in one message."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    message = {"type": "http.response.body", "body": body, "more_body": False}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send(message)

    return app


def http_scope(body: bytes) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CHAT_PATH,
        "raw_path": CHAT_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "extensions": {},
    }


def run_to_completion(awaitable: Awaitable[None]) -> None:
    """Run an ASGI call that never suspends, without an event loop's cost in the timing."""
    steps = awaitable.__await__()
    try:
        next(steps)
    except StopIteration:
        return
    steps.close()
    raise RuntimeError("the ASGI call suspended: it needs an event loop")


def call_app(app: ASGIApp, request: bytes) -> list[Message]:
    """One request through ``app``, in-process; the messages it sent."""
    sent: list[Message] = []
    request_messages: list[Message] = [
        {"type": "http.request", "body": request, "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return request_messages.pop(0) if len(request_messages) > 1 else request_messages[0]

    async def send(message: Message) -> None:
        sent.append(message)

    run_to_completion(app(http_scope(request), receive, send))
    return sent


def caller(app: ASGIApp, path: str, request: bytes) -> Callable[[], list[Message]]:
    """A function that POSTs ``request`` to ``path`` of ``app`` once, in-process.

    It returns the messages the app sent. The scope is built once, so repeated calls time
    the request alone.
    """
    scope = {**http_scope(request), "path": path, "raw_path": path.encode()}

    def call() -> list[Message]:
        sent: list[Message] = []
        pending: list[Message] = [{"type": "http.request", "body": request}]

        async def receive() -> Message:
            return pending.pop() if pending else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        run_to_completion(app(dict(scope), receive, send))
        return sent

    return call


def orjson_round_trip(data: bytes) -> bytes:
    """One orjson parse and serialisation: the reference the middleware's cost is divided by."""
    return orjson.dumps(orjson.loads(data))


def orjson_round_trips(payloads: Sequence[bytes]) -> Callable[[], None]:
    """A function making one orjson round trip of each of ``payloads``."""
    loads, dumps = orjson.loads, orjson.dumps

    def round_trips() -> None:
        for payload in payloads:
            dumps(loads(payload))

    return round_trips


def sse_data(messages: Sequence[Message]) -> list[bytes]:
    """The ``data:`` payloads of the SSE events in ``messages`` (LF line ends, as sent)."""
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return [
        line[len(b"data: ") :]
        for event in body.split(b"\n\n")
        for line in event.split(b"\n")
        if line.startswith(b"data: ")
    ]


def joined_stream_text(
    messages: Sequence[Message], field: str = "reasoning_content"
) -> tuple[str, str]:
    """The reasoning and content a client reassembles from a streamed response."""
    reasoning: list[str] = []
    content: list[str] = []
    for data in sse_data(messages):
        if data == b"[DONE]":
            continue
        for choice in orjson.loads(data)["choices"]:
            delta = choice["delta"]
            reasoning.append(delta.get(field) or "")
            content.append(delta.get("content") or "")
    return "".join(reasoning), "".join(content)
