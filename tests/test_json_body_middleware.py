"""The middleware's per-request work: the request read once and replayed, the stream rewriter
made from what is kept of the request, and stream body messages handed to the server's send.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.apis.chat_completions import ChatCompletionsAPI
from tests.asgi_helpers import (
    Assembled,
    Recorder,
    ScriptedReceive,
    assemble,
    chunk,
    compact,
    completion,
    http_scope,
    json_app,
    record,
    request_messages,
    sse_app,
    sse_event,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from asgi_reasoning.asgi import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

DONE = sse_event(b"[DONE]")


def test_the_stream_keeps_the_requests_settings_not_its_conversation() -> None:
    request = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function"}],
        "n": 2,
        "stream": True,
        "temperature": 0.6,
        "stop": None,
    }

    kept = ChatCompletionsAPI().stream_request(request)

    assert kept == {"n": 2, "stream": True, "temperature": 0.6, "stop": None}


async def test_a_request_in_parts_is_read_whole_and_replayed_as_it_came() -> None:
    request = {"messages": [{"role": "user", "content": "é" * 3000}], "include_reasoning": False}
    messages = request_messages(json.dumps(request).encode(), parts=3)
    seen: list[Message] = []
    response = json_app(completion("<think>private</think>answer"))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (message := await receive())["type"] == "http.request":
            seen.append(message)
        seen.append(message)
        await response(scope, receive, send)

    recorder = await record(ReasoningMiddleware(app), http_scope(), ScriptedReceive(messages))

    assert seen == [*messages, {"type": "http.disconnect"}]
    # The request's include_reasoning=false was read from the joined parts.
    assert b"private" not in recorder.body
    assert json.loads(recorder.body)["choices"][0]["message"]["content"] == "answer"


async def test_a_request_larger_than_max_body_size_reaches_the_app_whole() -> None:
    messages = request_messages(json.dumps({"pad": "x" * 5000}).encode(), parts=4)
    received: list[bytes] = []
    response = json_app(completion("<think>a</think>b"))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (message := await receive())["type"] == "http.request":
            received.append(message["body"])
        await response(scope, receive, send)

    middleware = ReasoningMiddleware(app, max_body_size=3000)
    recorder = await record(middleware, http_scope(), ScriptedReceive(messages))

    assert b"".join(received) == b"".join(m["body"] for m in messages)
    # The response is still rewritten, with the defaults a request without switches gets.
    assert json.loads(recorder.body)["choices"][0]["message"]["reasoning_content"] == "a"


@pytest.mark.parametrize("n", [1, 2])
async def test_streams_are_rewritten_per_choice_from_the_requests_n(n: int) -> None:
    events = [
        sse_event(chunk(text, index=index))
        for index in range(n)
        for text in ("thought", "</think>", "answer")
    ]
    app = ReasoningMiddleware(sse_app([*events, DONE]), starts_in_reasoning=True)
    receive = ScriptedReceive(request_messages(json.dumps({"n": n, "stream": True}).encode()))

    recorder = await record(app, http_scope(), receive)

    for index in range(n):
        assert assemble(recorder.body, index) == Assembled("thought", "answer")


async def test_stream_body_messages_go_out_through_the_servers_own_awaitable() -> None:
    events = [sse_event(chunk("plain")), sse_event(chunk("<thi")), sse_event(chunk("nk>x"))]
    recorder = Recorder()
    server_awaitables: list[Awaitable[None]] = []

    def send(message: Message) -> Awaitable[None]:
        awaitable = recorder(message)
        server_awaitables.append(awaitable)
        return awaitable

    returned: list[Awaitable[None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await sse_app(events)(scope, receive, send)

    async def spying_app(scope: Scope, receive: Receive, send: Send) -> None:
        async def spy(message: Message) -> None:
            awaitable = send(message)
            returned.append(awaitable)
            await awaitable

        await app(scope, receive, spy)

    await ReasoningMiddleware(spying_app)(http_scope(), ScriptedReceive(), send)

    # The unchanged first event is the server's own awaitable, not one made around it.
    assert returned[1] is server_awaitables[1]
    # "<thi" may start a marker: it is held, nothing is sent, and the awaitable completes.
    assert len(recorder.body_messages) == len(returned) - 2
    assert assemble(recorder.body) == Assembled("x", "plain")
    recorder.assert_complete()


async def test_a_whole_json_body_in_one_message_goes_out_as_the_apps_own_bytes() -> None:
    body = compact(completion("The answer, ≥ 4."))
    recorder = await record(ReasoningMiddleware(json_app(json.loads(body))))

    assert recorder.body == body
    assert recorder.header(b"content-length") == str(len(body)).encode()
