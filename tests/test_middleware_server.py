"""The checklist items only a real server can prove: lengths it checks, bytes on the wire.

uvicorn runs in a thread on 127.0.0.1 (port 0), with both of its HTTP implementations, h11
and httptools, which check ``Content-Length`` strictly. ``httpx.ASGITransport`` would join
the body, so the client here reads a real socket.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from asgi_reasoning import ReasoningMiddleware
from tests.asgi_helpers import (
    CHAT_PATH,
    Assembled,
    assemble,
    chunk,
    completion,
    sse_event,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from starlette.requests import Request

pytestmark = pytest.mark.anyio

START_TIMEOUT_S: Final = 10.0
# How long the app waits for the test to release it before giving up, so that a failing
# test cannot leave the server thread blocked.
RELEASE_TIMEOUT_S: Final = 5.0
NON_ASCII_TEXT: Final = "<think>\nÜberlegung: 日本語の推論 — ok</think>\n\nAntwort: 答え ✓"
NON_ASCII_SPLIT: Final = Assembled("Überlegung: 日本語の推論 — ok", "Antwort: 答え ✓")
GATED_TOKENS: Final = ("<think>plan", " more", " x</think>Answer", " done")
# What a client has assembled once it received the rewritten delta of each token.
GATED_EXPECTED: Final = (
    Assembled("plan", ""),
    Assembled("plan more", ""),
    Assembled("plan more x", "Answer"),
    Assembled("plan more x", "Answer done"),
)

# Per-test handshakes between the client (the test) and the app (the server thread).
GATES: dict[str, list[threading.Event]] = {}
BACKGROUND_DONE: dict[str, threading.Event] = {}


async def wait_for(event: threading.Event) -> None:
    """Wait in the server's event loop for an event the test sets from its own."""
    deadline = time.monotonic() + RELEASE_TIMEOUT_S
    while not event.is_set():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released this step")
        await anyio.sleep(0.002)


async def non_ascii_completion(request: Request) -> Response:
    await request.body()
    return JSONResponse(completion(NON_ASCII_TEXT))


async def gated_stream(request: Request) -> Response:
    gates = GATES[(await request.json())["gate"]]

    async def events() -> AsyncIterator[bytes]:
        yield sse_event(chunk("", delta={"role": "assistant"}))
        for index, token in enumerate(GATED_TOKENS):
            await wait_for(gates[index])
            yield sse_event(chunk(token))
        yield sse_event(chunk(None, finish_reason="stop"))
        yield sse_event(b"[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream")


async def with_background_task(request: Request) -> Response:
    request_json = await request.json()
    released = GATES[request_json["gate"]][0]
    done = BACKGROUND_DONE[request_json["gate"]]

    async def after_the_response() -> None:
        await wait_for(released)
        done.set()

    background = BackgroundTask(after_the_response)
    if request_json.get("stream"):
        events = [sse_event(chunk(NON_ASCII_TEXT)), sse_event(b"[DONE]")]

        async def stream() -> AsyncIterator[bytes]:
            for event in events:
                yield event

        return StreamingResponse(stream(), media_type="text/event-stream", background=background)
    return JSONResponse(completion(NON_ASCII_TEXT), background=background)


APP: Final = Starlette(
    routes=[
        Route(CHAT_PATH, non_ascii_completion, methods=["POST"]),
        Route("/gated/v1/chat/completions", gated_stream, methods=["POST"]),
        Route("/background/v1/chat/completions", with_background_task, methods=["POST"]),
    ],
    middleware=[Middleware(ReasoningMiddleware)],
)


class ThreadedServer:
    """uvicorn serving ``APP`` from a thread, on a port the system picks."""

    def __init__(self, http: str) -> None:
        config = uvicorn.Config(
            APP,
            host="127.0.0.1",
            port=0,
            http=http,
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{http}", daemon=True)
        self.base_url = ""

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(START_TIMEOUT_S)


@pytest.fixture(scope="module", params=["h11", "httptools"])
def server(request: pytest.FixtureRequest) -> Iterator[ThreadedServer]:
    with ThreadedServer(str(request.param)) as running:
        yield running


class ServerLog:
    """The warnings and errors uvicorn logged since the test began."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    @property
    def problems(self) -> list[str]:
        return [r.getMessage() for r in self._caplog.records if r.name.startswith("uvicorn")]


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[ServerLog]:
    with caplog.at_level(logging.WARNING):
        yield ServerLog(caplog)


def new_gate(steps: int) -> str:
    key = uuid.uuid4().hex
    GATES[key] = [threading.Event() for _ in range(steps)]
    BACKGROUND_DONE[key] = threading.Event()
    return key


def complete_events(received: bytes) -> bytes:
    """The part of a stream body that ends at an event boundary."""
    return received[: received.rfind(b"\n\n") + 2]


async def test_rewritten_non_ascii_body_has_the_right_content_length(
    server: ThreadedServer, server_log: ServerLog
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(CHAT_PATH, json={"model": "m", "messages": []})

    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["choices"][0]["message"] == {
        "role": "assistant",
        "content": NON_ASCII_SPLIT.content,
        "reasoning_content": NON_ASCII_SPLIT.reasoning,
    }
    assert server_log.problems == []


async def test_client_receives_each_delta_before_the_app_produces_the_next(
    server: ThreadedServer, server_log: ServerLog
) -> None:
    gate = new_gate(len(GATED_TOKENS))
    gates = GATES[gate]
    gates[0].set()
    step = 0
    received = b""
    with anyio.fail_after(10):
        async with (
            httpx.AsyncClient(base_url=server.base_url) as client,
            client.stream("POST", "/gated/v1/chat/completions", json={"gate": gate}) as response,
        ):
            assert "content-length" not in response.headers
            async for piece in response.aiter_raw():
                received += piece
                if step < len(GATED_EXPECTED):
                    if assemble(complete_events(received)) == GATED_EXPECTED[step]:
                        step += 1
                        if step < len(gates):
                            gates[step].set()
    assert step == len(GATED_EXPECTED)
    assert received.endswith(b"data: [DONE]\n\n")
    assert server_log.problems == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_background_task_does_not_delay_the_response(
    server: ThreadedServer, server_log: ServerLog, stream: bool
) -> None:
    gate = new_gate(1)
    request: dict[str, Any] = {"gate": gate, "stream": stream}
    # The background task waits for this test, so the response must be complete without it.
    with anyio.fail_after(RELEASE_TIMEOUT_S - 1):
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            response = await client.post("/background/v1/chat/completions", json=request)
    assert not BACKGROUND_DONE[gate].is_set()
    if stream:
        assert assemble(response.content) == Assembled(
            "Überlegung: 日本語の推論 — ok", "Antwort: 答え ✓"
        )
    else:
        assert response.json()["choices"][0]["message"]["content"] == NON_ASCII_SPLIT.content

    GATES[gate][0].set()
    assert await anyio.to_thread.run_sync(BACKGROUND_DONE[gate].wait, RELEASE_TIMEOUT_S)
    assert server_log.problems == []
