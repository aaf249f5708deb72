"""ReasoningMiddleware at the ASGI level, one test (or group) per item of the ASGI checklist.

Every test calls the middleware directly with a hand-built scope and records each message it
sends, so the exact sequence, headers and bytes are asserted. Items that need a real server
are in ``test_middleware_server.py``; the per-request switches are in ``test_policy.py``.
"""

from __future__ import annotations

import contextvars
import copy
import gzip
import itertools
import json
import logging
import tracemalloc
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, WebSocketRoute
from starlette.testclient import TestClient

from asgi_reasoning import ReasoningMiddleware
from tests.asgi_helpers import (
    CHAT_PATH,
    JSON_TYPE,
    SSE_HEADERS,
    Assembled,
    Recorder,
    ResponseApp,
    ScriptedReceive,
    assemble,
    assert_forwarded_unchanged,
    chunk,
    chunks_in,
    compact,
    completion,
    content_stream,
    http_scope,
    json_app,
    json_request,
    message_of,
    record,
    request_messages,
    response_app,
    sse_app,
    sse_event,
)
from tests.failing_api import FailingChatCompletionsAPI, any_event, carrying, serve_as

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from starlette.websockets import WebSocket

    from asgi_reasoning.asgi import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

THINKING = "<think>\nLet me see.</think>\n\nYes."
ROLE_CHUNK = sse_event(chunk("", delta={"role": "assistant"}))
DONE = sse_event(b"[DONE]")


async def forwarded_at_once(start: Message) -> list[str]:
    """The message types already sent when the app, having sent ``start``, sends no more."""
    recorder = Recorder()
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        seen.extend(recorder.types)
        await send({"type": "http.response.body", "body": b""})

    await ReasoningMiddleware(app)(http_scope(), json_request(), recorder)
    return seen


# A. Scope, receive, passthrough


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket", "something-new"])
async def test_non_http_scope_reaches_the_app_with_the_same_objects(scope_type: str) -> None:
    calls: list[tuple[Scope, Receive, Send]] = []

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append((scope, receive, send))

    scope: Scope = {"type": scope_type, "path": CHAT_PATH}
    receive = ScriptedReceive()
    send = Recorder()
    await ReasoningMiddleware(spy)(scope, receive, send)

    assert len(calls) == 1
    assert calls[0][0] is scope
    assert calls[0][1] is receive
    assert calls[0][2] is send
    assert receive.calls == 0
    assert send.messages == []


def test_lifespan_and_websocket_work_through_the_middleware() -> None:
    lifespan_events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        lifespan_events.append("startup")
        yield
        lifespan_events.append("shutdown")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    app = Starlette(
        routes=[WebSocketRoute(CHAT_PATH, echo)],
        lifespan=lifespan,
        middleware=[Middleware(ReasoningMiddleware)],
    )
    with TestClient(app) as client, client.websocket_connect(CHAT_PATH) as websocket:
        websocket.send_text(THINKING)
        assert websocket.receive_text() == THINKING
        assert lifespan_events == ["startup"]
    assert lifespan_events == ["startup", "shutdown"]


@pytest.mark.parametrize(
    "app",
    [
        pytest.param(sse_app(content_stream([THINKING])), id="stream"),
        pytest.param(json_app(completion(THINKING)), id="json"),
    ],
)
async def test_scope_is_not_mutated(app: ResponseApp) -> None:
    scope = http_scope(headers=[(b"content-type", b"application/json")])
    before = copy.deepcopy(scope)
    await record(ReasoningMiddleware(app), scope)
    assert scope == before


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param(http_scope(method="GET"), id="GET to the chat path"),
        pytest.param(http_scope("/v1/embeddings"), id="POST to another path"),
        pytest.param(http_scope(method="HEAD"), id="HEAD to the chat path"),
    ],
)
async def test_app_gets_the_servers_receive_when_the_body_is_not_needed(scope: Scope) -> None:
    received: list[Receive] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(receive)
        await json_app(completion(THINKING))(scope, receive, send)

    receive = json_request()
    await ReasoningMiddleware(app)(scope, receive, Recorder())
    assert received == [receive]
    assert receive.calls == 0


async def test_streaming_app_stops_when_the_client_disconnects() -> None:
    disconnected = anyio.Event()
    recorder = Recorder()

    async def send(message: Message) -> None:
        await recorder(message)
        if len(recorder.body_messages) == 3:
            disconnected.set()

    async def endless_tokens() -> AsyncIterator[bytes]:
        yield sse_event(chunk("<think>"))
        index = 0
        while True:
            index += 1
            yield sse_event(chunk(f"step {index} "))
            await anyio.sleep(0.001)

    # Starlette reads `receive` for the disconnect while it streams (ASGI spec < 2.4).
    app = StreamingResponse(endless_tokens(), media_type="text/event-stream")
    receive = ScriptedReceive(request_messages(b"{}"), disconnect=disconnected)
    with anyio.fail_after(5):
        await ReasoningMiddleware(app)(http_scope(), receive, send)
    assert len(recorder.body_messages) >= 3
    assert assemble(recorder.body).reasoning.startswith("step 1 step 2 ")


async def test_request_body_is_replayed_to_the_app_then_the_disconnect() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "x" * 2**20}]}
    body = json.dumps(request).encode()
    seen: list[Message] = []

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        while not seen or seen[-1].get("more_body", False):
            seen.append(await receive())
        seen.append(await receive())
        await json_app(completion(THINKING))(scope, receive, send)

    receive = ScriptedReceive(request_messages(body, parts=3))
    recorder = await record(ReasoningMiddleware(echo), http_scope(), receive)

    assert [m["type"] for m in seen[:-1]] == ["http.request"] * (len(seen) - 1)
    assert b"".join(m["body"] for m in seen[:-1]) == body
    assert seen[-1] == {"type": "http.disconnect"}
    assert message_of(recorder.body)["reasoning_content"] == "Let me see."


async def test_request_body_over_max_body_size_still_reaches_the_app_whole() -> None:
    body = json.dumps({"model": "m", "messages": [{"content": "y" * 4000}]}).encode()
    seen: list[bytes] = []

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        more_body = True
        while more_body:
            message = await receive()
            seen.append(message["body"])
            more_body = message.get("more_body", False)
        await json_app(completion(THINKING))(scope, receive, send)

    middleware = ReasoningMiddleware(echo, max_body_size=1000)
    recorder = await record(
        middleware, http_scope(), ScriptedReceive(request_messages(body, parts=8))
    )
    assert b"".join(seen) == body
    assert message_of(recorder.body)["content"] == "Yes."


# B. The decision, taken at http.response.start

NOT_OURS = [
    pytest.param(404, [JSON_TYPE], id="404 JSON error"),
    pytest.param(500, [JSON_TYPE], id="500 JSON error"),
    pytest.param(201, [JSON_TYPE], id="201 JSON"),
    pytest.param(200, [(b"content-type", b"text/html; charset=utf-8")], id="text/html"),
    pytest.param(200, [(b"content-type", b"text/plain")], id="text/plain"),
    pytest.param(200, [(b"content-type", b"application/jsonl")], id="application/jsonl"),
    pytest.param(200, [], id="no content-type"),
]


@pytest.mark.parametrize(("status", "headers"), NOT_OURS)
async def test_response_that_is_not_ours_is_forwarded_unchanged(
    status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    app = json_app(completion(THINKING), status=status, headers=headers)
    await assert_forwarded_unchanged(app)


@pytest.mark.parametrize(("status", "headers"), NOT_OURS)
async def test_start_of_a_response_that_is_not_ours_is_forwarded_at_once(
    status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    start = {"type": "http.response.start", "status": status, "headers": headers}
    assert await forwarded_at_once(start) == ["http.response.start"]


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/json",
        b"application/json; charset=UTF-8",
        b"Application/JSON",
        b" application/json ;charset=utf-8",
    ],
)
async def test_json_media_type_is_recognised_whatever_its_case_and_parameters(
    content_type: bytes,
) -> None:
    app = json_app(completion(THINKING), headers=[(b"Content-Type", content_type)])
    recorder = await record(ReasoningMiddleware(app))
    assert message_of(recorder.body)["reasoning_content"] == "Let me see."


@pytest.mark.parametrize(
    "content_type",
    [b"text/event-stream", b"text/event-stream; charset=utf-8", b"Text/Event-Stream"],
)
async def test_event_stream_media_type_is_recognised_whatever_its_case_and_parameters(
    content_type: bytes,
) -> None:
    app = sse_app(content_stream([THINKING]), headers=[(b"content-type", content_type)])
    recorder = await record(ReasoningMiddleware(app))
    assert assemble(recorder.body).reasoning == "Let me see."


@pytest.mark.parametrize("encoding", [b"gzip", b"br", b"zstd", b"GZIP"])
async def test_encoded_body_passes_through_unchanged(encoding: bytes) -> None:
    body = gzip.compress(compact(completion(THINKING)))
    app = response_app([body], headers=[JSON_TYPE, (b"content-encoding", encoding)])
    await assert_forwarded_unchanged(app)


async def test_identity_encoding_is_rewritten() -> None:
    app = json_app(completion(THINKING), headers=[JSON_TYPE, (b"content-encoding", b"identity")])
    recorder = await record(ReasoningMiddleware(app))
    assert message_of(recorder.body)["reasoning_content"] == "Let me see."


async def test_encoded_bodies_are_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    body = gzip.compress(compact(completion(THINKING)))
    app = response_app([body], headers=[JSON_TYPE, (b"content-encoding", b"gzip")])
    middleware = ReasoningMiddleware(app)
    with caplog.at_level(logging.WARNING, logger="asgi_reasoning"):
        await record(middleware)
        await record(middleware)
    warnings = [r for r in caplog.records if r.name == "asgi_reasoning"]
    assert len(warnings) == 1
    assert "gzip" in warnings[0].getMessage()


async def test_gzip_added_after_the_middleware_compresses_the_rewritten_body() -> None:
    app = FastAPI()

    @app.post(CHAT_PATH)
    async def chat() -> Response:
        return Response(compact(completion(THINKING)), media_type="application/json")

    # Documented order: ReasoningMiddleware first, so that GZipMiddleware wraps it.
    app.add_middleware(ReasoningMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(CHAT_PATH, json={"model": "m", "messages": []})

    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Yes.",
        "reasoning_content": "Let me see.",
    }


@pytest.mark.parametrize("sends_body", [False, True], ids=["without body", "with GET body"])
async def test_head_request_passes_through_unchanged(sends_body: bool) -> None:
    # Some apps send the GET body on HEAD and leave it to the server to drop it.
    get_body = compact(completion(THINKING))
    app = response_app([get_body if sends_body else b""], content_length=False)
    app.start["headers"].append((b"content-length", str(len(get_body)).encode()))
    await assert_forwarded_unchanged(app, http_scope(method="HEAD"))


@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_status_passes_through_unchanged(status: int) -> None:
    start = {"type": "http.response.start", "status": status, "headers": [JSON_TYPE]}
    app = ResponseApp(start, [{"type": "http.response.body", "body": b""}])
    await assert_forwarded_unchanged(app)


@pytest.mark.parametrize("status", [206, 200])
async def test_partial_content_passes_through_unchanged(status: int) -> None:
    body = compact(completion(THINKING))
    content_range = f"bytes 0-{len(body) - 1}/{len(body) * 2}".encode()
    headers = [JSON_TYPE, (b"content-range", content_range)]
    app = response_app([body], status=status, headers=headers)
    await assert_forwarded_unchanged(app)


async def test_rewritten_json_keeps_header_order_duplicates_and_start_keys() -> None:
    body = compact(completion(THINKING))
    headers = (
        (b"set-cookie", b"a=1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", b"r-1"),
        (b"set-cookie", b"b=2"),
    )
    start = {"type": "http.response.start", "status": 200, "headers": headers, "trailers": True}
    trailers = {"type": "http.response.trailers", "headers": [], "more_trailers": False}
    app = ResponseApp(start, [{"type": "http.response.body", "body": body}, trailers])
    recorder = await record(ReasoningMiddleware(app))

    assert recorder.start["trailers"] is True
    assert [h for h in recorder.headers if h[0] != b"content-length"] == [
        (b"set-cookie", b"a=1"),
        (b"content-type", b"application/json"),
        (b"x-request-id", b"r-1"),
        (b"set-cookie", b"b=2"),
    ]
    assert recorder.header(b"content-length") == str(len(recorder.body)).encode()


async def test_stream_headers_given_as_tuples_keep_order_and_duplicates() -> None:
    headers = (
        (b"content-type", b"text/event-stream"),
        (b"set-cookie", b"a=1"),
        (b"cache-control", b"no-cache"),
        (b"set-cookie", b"b=2"),
    )
    start = {"type": "http.response.start", "status": 200, "headers": headers, "trailers": False}
    bodies = [{"type": "http.response.body", "body": b"".join(content_stream([THINKING]))}]
    recorder = await record(ReasoningMiddleware(ResponseApp(start, bodies)))
    assert recorder.headers == list(headers)
    assert recorder.start["trailers"] is False
    assert assemble(recorder.body).reasoning == "Let me see."


async def test_rewritten_json_weakens_a_strong_etag_and_drops_digests() -> None:
    headers = [
        JSON_TYPE,
        (b"etag", b'"abc"'),
        (b"content-md5", b"Q2hlY2sgSW50ZWdyaXR5IQ=="),
        (b"digest", b"sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="),
        (b"x-kept", b"1"),
    ]
    recorder = await record(ReasoningMiddleware(json_app(completion(THINKING), headers=headers)))
    assert [name for name, _ in recorder.headers] == [
        b"content-type",
        b"etag",
        b"x-kept",
        b"content-length",
    ]
    assert recorder.header(b"etag") == b'W/"abc"'


async def test_rewritten_json_keeps_a_weak_etag_as_it_is() -> None:
    headers = [JSON_TYPE, (b"etag", b'W/"abc"')]
    recorder = await record(ReasoningMiddleware(json_app(completion(THINKING), headers=headers)))
    assert recorder.header(b"etag") == b'W/"abc"'


async def test_json_left_unchanged_keeps_its_validators() -> None:
    headers = [JSON_TYPE, (b"etag", b'"abc"'), (b"content-md5", b"Q2hlY2sgSW50ZWdyaXR5IQ==")]
    await assert_forwarded_unchanged(json_app(completion("No reasoning here."), headers=headers))


async def test_mounted_sub_app_is_rewritten_under_its_full_path() -> None:
    wrapped = ReasoningMiddleware(json_app(completion(THINKING)))
    app = Starlette(routes=[Mount("/api", app=wrapped)])
    recorder = await record(app, http_scope("/api/v1/chat/completions"))
    assert message_of(recorder.body)["reasoning_content"] == "Let me see."


async def test_mounted_sub_app_on_another_path_passes_through() -> None:
    inner = json_app(completion(THINKING))
    app = Starlette(routes=[Mount("/api", app=ReasoningMiddleware(inner))])
    direct = await record(inner, http_scope("/api/v1/embeddings"))
    recorder = await record(app, http_scope("/api/v1/embeddings"))
    assert recorder.messages == direct.messages


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions/extra", "/chat"])
async def test_path_outside_the_default_patterns_passes_through(path: str) -> None:
    await assert_forwarded_unchanged(json_app(completion(THINKING)), http_scope(path))


async def test_paths_option_selects_the_rewritten_paths() -> None:
    app = json_app(completion(THINKING))
    middleware = ReasoningMiddleware(app, paths=["/generate", "/v2/*"])
    for path in ("/generate", "/v2/anything"):
        recorder = await record(middleware, http_scope(path))
        assert message_of(recorder.body)["reasoning_content"] == "Let me see."
    await assert_forwarded_unchanged(app, http_scope(CHAT_PATH), paths=["/generate"])


# C. Whole JSON bodies


async def test_json_body_sent_in_pieces_is_rewritten_as_one() -> None:
    body = compact(completion("<think>Größe prüfen</think>Ja."))
    inside_marker = body.index(b"<think>") + 3
    inside_character = body.index("ö".encode()) + 1
    parts = [body[:inside_marker], body[inside_marker:inside_character], body[inside_character:]]
    recorder = await record(ReasoningMiddleware(response_app(parts)))

    assert recorder.types == ["http.response.start", "http.response.body"]
    assert recorder.body_messages[0].get("more_body", False) is False
    assert message_of(recorder.body)["reasoning_content"] == "Größe prüfen"
    assert message_of(recorder.body)["content"] == "Ja."


async def test_body_messages_without_optional_keys_follow_the_spec_defaults() -> None:
    body = compact(completion(THINKING))
    start = {"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]}
    # ASGI: a missing `body` is b"" and a missing `more_body` is False.
    messages: list[Message] = [
        {"type": "http.response.body", "body": body, "more_body": True},
        {"type": "http.response.body"},
    ]
    recorder = await record(ReasoningMiddleware(ResponseApp(start, messages)))
    assert recorder.types == ["http.response.start", "http.response.body"]
    assert message_of(recorder.body)["reasoning_content"] == "Let me see."

    lone = [{"type": "http.response.body", "body": body}]
    recorder = await record(ReasoningMiddleware(ResponseApp(start, lone)))
    assert message_of(recorder.body)["reasoning_content"] == "Let me see."


async def test_json_start_is_held_until_the_body_is_complete() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]}
    assert await forwarded_at_once(start) == []

    body = compact(completion(THINKING))
    recorder = Recorder()
    sent_before_final: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": body[:10], "more_body": True})
        sent_before_final.extend(recorder.types)
        await send({"type": "http.response.body", "body": body[10:], "more_body": False})

    await ReasoningMiddleware(app)(http_scope(), json_request(), recorder)
    assert sent_before_final == []
    assert recorder.types == ["http.response.start", "http.response.body"]
    assert recorder.header(b"content-length") == str(len(recorder.body)).encode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"object": "chat.completion", "choices": [<think>', id="malformed JSON"),
        pytest.param(
            compact({"object": "list", "data": [{"object": "embedding", "embedding": [0.5]}]}),
            id="embeddings",
        ),
        pytest.param(
            compact({"object": "text_completion", "choices": [{"text": THINKING}]}),
            id="text completion",
        ),
        pytest.param(compact(completion(None, message={"tool_calls": []})), id="content null"),
        pytest.param(
            compact(completion(None, message={"content": [{"type": "text", "text": THINKING}]})),
            id="content as a list of parts",
        ),
        pytest.param(compact([completion(THINKING)]), id="array"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_json_that_is_not_a_chat_completion_is_forwarded_unchanged(body: bytes) -> None:
    await assert_forwarded_unchanged(response_app([body]))


async def test_json_body_over_max_body_size_streams_through_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    max_body_size = 2**20
    body = compact(completion("<think>" + "x" * (8 * 2**20) + "</think>ok"))
    piece = 2**16
    parts = [body[i : i + piece] for i in range(0, len(body), piece)]
    app = response_app(parts)
    middleware = ReasoningMiddleware(app, max_body_size=max_body_size)

    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING, logger="asgi_reasoning"):
            recorder = await record(middleware)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert recorder.start == app.start
    assert recorder.body == body
    recorder.assert_complete()
    # What was buffered went out at once past the limit; every later piece as it came.
    parts_held = max_body_size // piece + 1
    assert len(recorder.body_messages) == len(parts) - parts_held + 1
    assert peak < 3 * max_body_size < len(body) // 2
    assert any("max_body_size" in r.getMessage() for r in caplog.records)


# D. Streamed SSE bodies


async def test_stream_start_is_forwarded_at_once_without_content_length() -> None:
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"content-length", b"4096"),
        (b"x-accel-buffering", b"no"),
    ]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    recorder = Recorder()
    sent_before_body: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        sent_before_body.extend(recorder.types)
        for event in content_stream([THINKING]):
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    await ReasoningMiddleware(app)(http_scope(), json_request(), recorder)
    assert sent_before_body == ["http.response.start"]
    assert recorder.start == {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/event-stream"), (b"x-accel-buffering", b"no")],
    }


async def test_each_event_is_forwarded_in_the_send_that_completed_it() -> None:
    tokens = ["<think>plan", " more", " x</think>Answer", " done"]
    expected = [
        ("plan", ""),
        ("plan more", ""),
        ("plan more x", "Answer"),
        ("plan more x", "Answer done"),
    ]
    recorder = Recorder()
    seen: list[tuple[str, str]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        for token in tokens:
            await send(
                {"type": "http.response.body", "body": sse_event(chunk(token)), "more_body": True}
            )
            assembled = assemble(recorder.body)
            seen.append((assembled.reasoning, assembled.content))
        await send({"type": "http.response.body", "body": b""})

    await ReasoningMiddleware(app)(http_scope(), json_request(), recorder)
    assert seen == expected


RECORDED_TOKENS = [
    "<th",
    "ink>\n",
    "Grö",
    "ße: 3 < 4",
    " m",
    "</",
    "think",
    ">\n\n",
    "Die ",
    "Antwort",
    " ist ",
    "<thinking>",
    " 4.",
]


def recorded_stream(line_ending: bytes) -> bytes:
    events = content_stream(RECORDED_TOKENS, line_ending=line_ending)
    comment = b": ping - 2025-01-01 00:00:00" + line_ending + line_ending
    return b"".join([*events[:4], comment, *events[4:]])


async def rewrite_in_pieces(stream: bytes, cuts: Sequence[int]) -> Recorder:
    bounds = [0, *sorted(set(cuts)), len(stream)]
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    return await record(ReasoningMiddleware(sse_app(pieces)))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line_ending=st.sampled_from([b"\n", b"\r\n"]),
    cuts=st.lists(st.integers(0, len(recorded_stream(b"\r\n"))), max_size=30),
)
async def test_any_split_of_a_stream_gives_the_one_shot_output(
    line_ending: bytes, cuts: list[int]
) -> None:
    stream = recorded_stream(line_ending)
    one_shot = await rewrite_in_pieces(stream, [])
    recorder = await rewrite_in_pieces(stream, [cut for cut in cuts if cut < len(stream)])
    assert recorder.body == one_shot.body
    assert assemble(recorder.body) == Assembled("Größe: 3 < 4 m", "Die Antwort ist <thinking> 4.")
    recorder.assert_complete()


@pytest.mark.parametrize("line_ending", [b"\n", b"\r\n", b"\r"])
async def test_stream_sent_one_byte_at_a_time_gives_the_one_shot_output(
    line_ending: bytes,
) -> None:
    stream = recorded_stream(line_ending)
    one_shot = await rewrite_in_pieces(stream, [])
    recorder = await rewrite_in_pieces(stream, range(len(stream)))
    assert recorder.body == one_shot.body
    assembled = assemble(recorder.body)
    assert assembled.reasoning == "Größe: 3 < 4 m"
    assert assembled.content == "Die Antwort ist <thinking> 4."


async def test_events_that_are_not_chat_chunks_pass_through_in_order() -> None:
    untouched = [
        b": ping - 2025-01-01 00:00:00.000000+00:00\r\n\r\n",
        b"data: not json <think>\n\n",
        b'data: {"error": {"message": "</think> overloaded", "code": 503}}\n\n',
        b'event: error\ndata: {"object": "error", "message": "<think>"}\n\n',
        b"id: 8\nretry: 3000\n\n",
        b"\n",
    ]
    with_fields = (
        b"event: message\r\nid: 7\r\nretry: 1500\r\ndata: " + compact(chunk("ning")) + b"\r\n\r\n"
    )
    events = [
        ROLE_CHUNK,
        sse_event(chunk("<think>plan")),
        *untouched[:3],
        with_fields,
        *untouched[3:],
        sse_event(chunk("</think>Yes")),
        DONE,
    ]
    recorder = await record(ReasoningMiddleware(sse_app(events)))

    def reasoning_event(text: str, framing: bytes = b"", line_ending: bytes = b"\n") -> bytes:
        rewritten = chunk(None, delta={"content": None, "reasoning_content": text})
        return framing + b"data: " + compact(rewritten) + line_ending * 2

    assert recorder.body == b"".join(
        [
            ROLE_CHUNK,
            reasoning_event("plan"),
            *untouched[:3],
            reasoning_event("ning", b"event: message\r\nid: 7\r\nretry: 1500\r\n", b"\r\n"),
            *untouched[3:],
            sse_event(chunk("Yes")),
            DONE,
        ]
    )


async def test_interleaved_choices_are_split_separately() -> None:
    first = ["<think>", "alpha ", "one</th", "ink>A1", " A2"]
    second = ["B1 <th", "ink>beta", " two", "</think>", "B2"]
    events = [
        sse_event(chunk(token, index=index))
        for pair in zip(first, second, strict=True)
        for index, token in enumerate(pair)
    ]
    events += [
        sse_event(chunk(None, index=0, finish_reason="stop")),
        sse_event(chunk(None, index=1, finish_reason="stop")),
        DONE,
    ]
    receive = json_request({"n": 2})
    recorder = await record(ReasoningMiddleware(sse_app(events)), http_scope(), receive)

    assert assemble(recorder.body, 0) == Assembled("alpha one", "A1 A2")
    assert assemble(recorder.body, 1) == Assembled("beta two", "B1 B2")


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param(json.dumps({"n": 2}).encode(), id="n in the request"),
        pytest.param(b"not json", id="request not readable"),
    ],
)
async def test_choice_first_seen_late_starts_in_reasoning(request_body: bytes) -> None:
    # Without a readable `n` the choice count is unknown, so no choice may be assumed idle.
    events = [
        sse_event(chunk("a</think>A", index=0)),
        sse_event(chunk(" more", index=0)),
        sse_event(chunk("b", index=1)),
        sse_event(chunk("</think>B", index=1)),
        DONE,
    ]
    app = ReasoningMiddleware(sse_app(events), preset="deepseek_r1")
    receive = ScriptedReceive(request_messages(request_body))
    recorder = await record(app, http_scope(), receive)
    assert assemble(recorder.body, 0) == Assembled("a", "A more")
    assert assemble(recorder.body, 1) == Assembled("b", "B")


async def test_concurrent_streams_keep_their_own_state() -> None:
    async def numbered_stream(scope: Scope, receive: Receive, send: Send) -> None:
        # Each request names its number; text and token size both depend on it.
        number = json.loads((await receive())["body"])["user"]
        text = f"<think>thought {number}</think>answer {number}"
        size = number % 7 + 1
        tokens = [text[i : i + size] for i in range(0, len(text), size)]
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        for event in content_stream(tokens):
            await send({"type": "http.response.body", "body": event, "more_body": True})
            await anyio.lowlevel.checkpoint()
        await send({"type": "http.response.body", "body": b""})

    shared = ReasoningMiddleware(numbered_stream)
    results: dict[int, Assembled] = {}

    async def client(number: int) -> None:
        recorder = await record(shared, http_scope(), json_request({"user": number}))
        results[number] = assemble(recorder.body)

    async with anyio.create_task_group() as task_group:
        for number in range(50):
            task_group.start_soon(client, number)
    assert results == {n: Assembled(f"thought {n}", f"answer {n}") for n in range(50)}


async def test_stream_ending_inside_reasoning_delivers_the_tail_as_reasoning() -> None:
    events = [
        ROLE_CHUNK,
        sse_event(chunk("<think>deep ")),
        sse_event(chunk("thought</th", chunk_id="chatcmpl-last")),
    ]
    recorder = await record(ReasoningMiddleware(sse_app(events)))

    recorder.assert_complete()
    assert recorder.messages[-1]["type"] == "http.response.body"
    assert assemble(recorder.body) == Assembled("deep thought</th", "")
    final_chunks = chunks_in(recorder.messages[-1]["body"])
    assert len(final_chunks) == 1
    assert final_chunks[0]["id"] == "chatcmpl-last"
    assert final_chunks[0]["model"] == "m"
    assert final_chunks[0]["created"] == 1700000000
    assert final_chunks[0]["system_fingerprint"] == "fp_1"


async def test_unterminated_five_megabyte_event_passes_through_with_bounded_memory() -> None:
    head = (
        b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"<think>'
    )
    stream = head + b"x" * (5 * 10**6)
    piece = 2**16
    app = sse_app([stream[i : i + piece] for i in range(0, len(stream), piece)])

    tracemalloc.start()
    try:
        recorder = await record(ReasoningMiddleware(app))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert recorder.body == stream
    recorder.assert_complete()
    assert peak < 3 * 2**20


# E. Extensions and other message types


async def test_pathsend_follows_the_held_start_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "completion.json"
    path.write_bytes(compact(completion(THINKING)))
    app = FileResponse(path, media_type="application/json")
    scope = http_scope(extensions={"http.response.pathsend": {}})

    direct = await record(app, scope)
    recorder = await record(ReasoningMiddleware(app), scope)
    assert recorder.types == ["http.response.start", "http.response.pathsend"]
    assert recorder.messages == direct.messages


async def test_zerocopysend_follows_the_held_start_unchanged() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]}
    zerocopy = {"type": "http.response.zerocopysend", "file": 7, "offset": 0, "count": 100}
    scope = http_scope(extensions={"http.response.zerocopysend": {}})
    await assert_forwarded_unchanged(ResponseApp(start, [zerocopy]), scope)


@pytest.mark.parametrize("kind", ["sse", "json"])
async def test_trailers_follow_the_final_body_unchanged(kind: str) -> None:
    if kind == "sse":
        headers, parts = SSE_HEADERS, [*content_stream([THINKING]), b""]
    else:
        headers, parts = [JSON_TYPE], [compact(completion(THINKING))]
    start = {"type": "http.response.start", "status": 200, "headers": headers, "trailers": True}
    bodies: list[Message] = [
        {"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    trailers = {
        "type": "http.response.trailers",
        "headers": [(b"x-checksum", b"1")],
        "more_trailers": False,
    }
    recorder = await record(ReasoningMiddleware(ResponseApp(start, [*bodies, trailers])))

    assert recorder.types[0] == "http.response.start"
    assert recorder.types[-1] == "http.response.trailers"
    assert set(recorder.types[1:-1]) == {"http.response.body"}
    recorder.assert_complete()
    assert recorder.messages[-1] == trailers
    assert "Let me see." in recorder.body.decode()


@pytest.mark.parametrize("kind", ["sse", "json"])
async def test_unknown_message_types_keep_their_positions(kind: str) -> None:
    debug = {"type": "http.response.debug", "info": {"template": "chat.html"}}
    hint = {"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]}
    headers = SSE_HEADERS if kind == "sse" else [JSON_TYPE]
    body = b"".join(content_stream([THINKING])) if kind == "sse" else compact(completion(THINKING))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(debug)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(hint)
        await send({"type": "http.response.body", "body": body})

    recorder = await record(ReasoningMiddleware(app))
    assert recorder.types == [
        "http.response.debug",
        "http.response.start",
        "http.response.early_hint",
        "http.response.body",
    ]
    assert recorder.messages[0] == debug
    assert recorder.messages[2] == hint


# F. Errors, disconnects, cancellation


async def test_exception_before_start_reaches_the_outer_error_middleware() -> None:
    error = RuntimeError("model crashed")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise error

    recorder = Recorder()
    with pytest.raises(RuntimeError) as raised:
        await ServerErrorMiddleware(ReasoningMiddleware(app))(
            http_scope(), json_request(), recorder
        )
    assert raised.value is error
    assert recorder.start["status"] == 500
    assert recorder.types == ["http.response.start", "http.response.body"]


async def test_exception_after_the_first_event_propagates_after_one_start() -> None:
    error = RuntimeError("model crashed")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send(
            {"type": "http.response.body", "body": sse_event(chunk("<think>a")), "more_body": True}
        )
        raise error

    recorder = Recorder()
    with pytest.raises(RuntimeError) as raised:
        await ReasoningMiddleware(app)(http_scope(), json_request(), recorder)
    assert raised.value is error
    assert recorder.types == ["http.response.start", "http.response.body"]


async def test_exception_mid_json_body_leaves_the_response_to_the_error_middleware() -> None:
    error = RuntimeError("model crashed")
    body = compact(completion(THINKING))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]})
        await send({"type": "http.response.body", "body": body[:20], "more_body": True})
        raise error

    recorder = Recorder()
    with pytest.raises(RuntimeError) as raised:
        await ReasoningMiddleware(app)(http_scope(), json_request(), recorder)
    assert raised.value is error
    assert recorder.messages == []

    outer = ServerErrorMiddleware(ReasoningMiddleware(app))
    with pytest.raises(RuntimeError):
        await outer(http_scope(), json_request(), recorder)
    assert recorder.start["status"] == 500


async def test_json_rewrite_failure_sends_the_original_body(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api = FailingChatCompletionsAPI(fail_body=True)
    serve_as(api, monkeypatch)
    with caplog.at_level(logging.ERROR, logger="asgi_reasoning"):
        await assert_forwarded_unchanged(json_app(completion(THINKING)))
    assert api.failures == 1
    assert len(caplog.records) == 1


async def test_stream_rewrite_failure_passes_the_stream_through(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api = FailingChatCompletionsAPI(fail_on=any_event)
    serve_as(api, monkeypatch)
    app = sse_app(content_stream(["<think>a", "b</think>", "c", "<think>d</think>e"]))
    direct = await record(app)
    with caplog.at_level(logging.ERROR, logger="asgi_reasoning"):
        recorder = await record(ReasoningMiddleware(app))
    assert recorder.body == direct.body
    recorder.assert_complete()
    assert api.failures == 1
    assert len(caplog.records) == 1


async def test_stream_rewrite_failure_midway_sends_the_rest_as_the_app_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = content_stream(["<think>a", "b</think>", "c", "<think>d</think>e"])
    api = FailingChatCompletionsAPI(fail_on=carrying("c"))
    serve_as(api, monkeypatch)
    recorder = await record(ReasoningMiddleware(sse_app(events)))
    rewritten_head = [
        ROLE_CHUNK,
        sse_event(chunk(None, delta={"content": None, "reasoning_content": "a"})),
        sse_event(chunk(None, delta={"content": None, "reasoning_content": "b"})),
    ]
    assert recorder.body == b"".join([*rewritten_head, *events[3:]])
    recorder.assert_complete()
    assert api.failures == 1


async def test_stream_rewrite_failure_loses_no_held_text(monkeypatch: pytest.MonkeyPatch) -> None:
    events = content_stream(["<think>a", "b</think>", "c <", "d"])
    api = FailingChatCompletionsAPI(fail_on=carrying("d"))
    serve_as(api, monkeypatch)
    recorder = await record(ReasoningMiddleware(sse_app(events)))
    assert api.failures == 1
    # The "<" held back, in case a marker followed, goes out before the app's own bytes.
    assert assemble(recorder.body) == Assembled("ab", "c <d")


@pytest.mark.parametrize("kind", ["sse", "json"])
async def test_failing_send_ends_the_exchange(kind: str) -> None:
    calls = 0

    async def send(message: Message) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("connection closed")

    if kind == "sse":
        app: ResponseApp = sse_app(content_stream([THINKING, "more", "and more"]))
    else:
        app = response_app([compact(completion(THINKING))])
    with pytest.raises(OSError, match="connection closed"):
        await ReasoningMiddleware(app)(http_scope(), json_request(), send)
    assert calls == 2


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


async def test_context_variable_set_by_the_endpoint_is_visible_to_an_outer_middleware() -> None:
    seen: list[str] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        REQUEST_ID.set("req-42")
        await sse_app(content_stream([THINKING]))(scope, receive, send)

    async def outer(scope: Scope, receive: Receive, send: Send) -> None:
        await ReasoningMiddleware(endpoint)(scope, receive, send)
        seen.append(REQUEST_ID.get())

    await outer(http_scope(), json_request(), Recorder())
    assert seen == ["req-42"]


async def test_cancelled_stream_leaves_no_task_or_state_behind() -> None:
    closed = anyio.Event()

    async def endless(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send(
                {
                    "type": "http.response.body",
                    "body": sse_event(chunk("<think>")),
                    "more_body": True,
                }
            )
            while True:
                await send(
                    {
                        "type": "http.response.body",
                        "body": sse_event(chunk("<th")),
                        "more_body": True,
                    }
                )
                await anyio.sleep(0.001)
        finally:
            closed.set()

    middleware = ReasoningMiddleware(endless)
    tasks_before = len(anyio.get_running_tasks())
    with anyio.move_on_after(0.05) as cancel_scope:
        await middleware(http_scope(), json_request(), Recorder())
    assert cancel_scope.cancelled_caught
    assert closed.is_set()
    assert len(anyio.get_running_tasks()) == tasks_before

    # The same instance serves the next request from a clean state.
    middleware.app = sse_app(content_stream([THINKING]))
    recorder = await record(middleware)
    assert assemble(recorder.body) == Assembled("Let me see.", "Yes.")
