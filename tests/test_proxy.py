from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import anyio
import httpx
import openai
import pytest

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import serve_in_thread
from asgi_reasoning.cli.demo_model import ANSWER_TEXT, REASONING_TEXT, SCRIPTED_PIECES
from asgi_reasoning.proxy import make_proxy_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

    from openai.types.chat import ChatCompletionMessageParam

    from asgi_reasoning.asgi import ASGIApp

QUIET_MODEL: Final = "quiet"
HELD_MODEL: Final = "held"
SLEEPY_MODEL: Final = "sleepy"
WAIT_LIMIT_S: Final = 5.0
HI: Final[list[ChatCompletionMessageParam]] = [{"role": "user", "content": "Hi"}]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class StdlibUpstream(ThreadingHTTPServer):
    """A model server that is not ASGI: stdlib http.server streaming `<think>` in SSE.

    `POST /v1/chat/completions` plays SCRIPTED_PIECES (chunked SSE or JSON) for any model but
    three: `quiet` sends at most one event, then stays silent until its client closes the
    connection, which sets `stream_closed` (a failed write sets it too); `held` sends one event
    and waits for `release`; `sleepy` answers after a second.
    Any other path answers with a JSON echo and some hop-by-hop response headers.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)
        self.requests: list[RecordedRequest] = []
        self.stream_closed = threading.Event()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StdlibUpstream

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for an access log."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append(RecordedRequest(self.command, self.path, headers, body))
        try:
            if urlsplit(self.path).path == "/v1/chat/completions":
                self._chat_completions(json.loads(body))
            else:
                self._echo(body)
        except (BrokenPipeError, ConnectionResetError):
            self.server.stream_closed.set()
            self.close_connection = True

    def _echo(self, body: bytes) -> None:
        self._send_json(
            200,
            {"method": self.command, "target": self.path, "body": body.decode()},
            [
                ("X-Upstream", "yes"),
                ("Keep-Alive", "timeout=5"),
                ("Proxy-Authenticate", "Basic"),
                ("Connection", "X-Private"),
                ("X-Private", "hop-by-hop"),
            ],
        )

    def _chat_completions(self, request: dict[str, Any]) -> None:
        model = request.get("model")
        if model == SLEEPY_MODEL:
            time.sleep(1.0)
        if model == QUIET_MODEL and not request.get("stream") and self._is_closed_by_client():
            return
        if not request.get("stream"):
            message = {"role": "assistant", "content": "".join(SCRIPTED_PIECES)}
            self._send_json(200, _completion(model, message, "chat.completion"))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if model == QUIET_MODEL:
            self._write_chunk(_event(model, {"role": "assistant", "content": "<think>Hmm"}))
            if self._is_closed_by_client():
                return
        elif model == HELD_MODEL:
            self._write_chunk(_event(model, {"role": "assistant", "content": "<think>Wait"}))
            self.server.release.wait(WAIT_LIMIT_S)
            self._write_chunk(_event(model, {"content": "</think>Done"}))
        else:
            for piece in SCRIPTED_PIECES:
                self._write_chunk(_event(model, {"content": piece}))
        self._write_chunk(_event(model, {}, finish_reason="stop") + b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _is_closed_by_client(self) -> bool:
        """Wait in silence, like a model thinking, until the peer closes or WAIT_LIMIT_S."""
        deadline = time.monotonic() + WAIT_LIMIT_S
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.02)
            # A readable socket with nothing to read has been closed by the peer.
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.server.stream_closed.set()
                self.close_connection = True
                return True
        return False

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        self.rfile.readline()
        return b"".join(chunks)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_json(
        self, status: int, payload: object, extra_headers: list[tuple[str, str]] | None = None
    ) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _completion(model: object, message: Mapping[str, object], kind: str) -> dict[str, object]:
    choice_key = "message" if kind == "chat.completion" else "delta"
    choice = {"index": 0, choice_key: message, "logprobs": None, "finish_reason": "stop"}
    return {"id": "chatcmpl-1", "object": kind, "created": 1, "model": model, "choices": [choice]}


def _event(model: object, delta: dict[str, object], finish_reason: str | None = None) -> bytes:
    chunk = _completion(model, delta, "chat.completion.chunk")
    chunk["choices"][0]["finish_reason"] = finish_reason  # type: ignore[index]
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


@contextlib.contextmanager
def running_upstream() -> Iterator[StdlibUpstream]:
    upstream = StdlibUpstream()
    thread = threading.Thread(target=upstream.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield upstream
    finally:
        upstream.release.set()
        upstream.shutdown()
        upstream.server_close()
        thread.join()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def proxy_app(upstream_url: str, *, is_wrapped: bool) -> ASGIApp:
    bare = make_proxy_app(upstream_url)
    return ReasoningMiddleware(bare) if is_wrapped else bare


def asgi_client(upstream_url: str, **proxy_options: Any) -> httpx.AsyncClient:
    proxy_app = make_proxy_app(upstream_url, **proxy_options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(proxy_app), base_url="http://proxy")


@pytest.fixture
def upstream() -> Iterator[StdlibUpstream]:
    with running_upstream() as running:
        yield running


@pytest.mark.anyio
async def test_method_path_query_headers_and_body_are_forwarded(upstream: StdlibUpstream) -> None:
    async with asgi_client(upstream.url) as client:
        response = await client.post(
            "/v1/echo/a%2Fb?limit=1&q=two%20words",
            content=b'{"hello": 1}',
            headers={"X-Custom": "kept", "Authorization": "Bearer sk-test"},
        )

    assert response.status_code == 200
    [seen] = upstream.requests
    assert seen.method == "POST"
    assert seen.target == "/v1/echo/a%2Fb?limit=1&q=two%20words"
    assert seen.body == b'{"hello": 1}'
    assert seen.headers["x-custom"] == "kept"
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.headers["host"] == upstream.url.removeprefix("http://")
    assert response.json()["target"] == seen.target


@pytest.mark.anyio
async def test_upstream_path_prefix_is_kept(upstream: StdlibUpstream) -> None:
    async with asgi_client(f"{upstream.url}/prefix/") as client:
        await client.get("/v1/models")

    assert [seen.target for seen in upstream.requests] == ["/prefix/v1/models"]


@pytest.mark.anyio
async def test_hop_by_hop_headers_are_dropped_both_ways(upstream: StdlibUpstream) -> None:
    hop_by_hop = {
        "Connection": "keep-alive, X-Private",
        "X-Private": "for the proxy only",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic abc",
        "TE": "trailers",
        "Upgrade": "h2c",
    }
    async with asgi_client(upstream.url) as client:
        response = await client.get("/v1/echo", headers={**hop_by_hop, "X-End-To-End": "1"})

    [seen] = upstream.requests
    assert seen.headers["x-end-to-end"] == "1"
    assert not {"x-private", "keep-alive", "proxy-authorization", "te", "upgrade"} & set(
        seen.headers
    )
    assert seen.headers.get("connection", "keep-alive") == "keep-alive"
    assert response.headers["x-upstream"] == "yes"
    assert not {"keep-alive", "proxy-authenticate", "x-private", "connection"} & set(
        response.headers
    )


@pytest.mark.anyio
async def test_upstream_is_asked_for_an_identity_encoded_body(upstream: StdlibUpstream) -> None:
    async with asgi_client(upstream.url) as client:
        await client.get("/v1/echo", headers={"Accept-Encoding": "gzip, br"})

    assert upstream.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.anyio
async def test_a_request_body_streamed_in_pieces_arrives_whole(upstream: StdlibUpstream) -> None:
    async def body_pieces() -> AsyncIterator[bytes]:
        for piece in (b'{"messages": ', b'[], "model": ', b'"m"}'):
            yield piece

    async with asgi_client(upstream.url) as client:
        response = await client.post("/v1/echo", content=body_pieces())

    assert response.json()["body"] == '{"messages": [], "model": "m"}'


@pytest.mark.anyio
async def test_upstream_status_and_body_come_back_unchanged(upstream: StdlibUpstream) -> None:
    async with asgi_client(upstream.url) as client:
        response = await client.post("/v1/chat/completions", json={"model": "m"})

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(response.content))
    assert response.json()["choices"][0]["message"]["content"] == "".join(SCRIPTED_PIECES)


@pytest.mark.anyio
async def test_unreachable_upstream_gives_502_with_an_openai_error() -> None:
    async with asgi_client(closed_port_url()) as client:
        response = await client.post("/v1/chat/completions", json={"model": "m"})

    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "upstream_error"
    assert error["code"] == 502
    assert "127.0.0.1" not in error["message"]


@pytest.mark.anyio
async def test_upstream_timeout_gives_502(upstream: StdlibUpstream) -> None:
    async with asgi_client(upstream.url, timeout=0.2) as client:
        with anyio.fail_after(WAIT_LIMIT_S):
            response = await client.post("/v1/chat/completions", json={"model": SLEEPY_MODEL})

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"


@pytest.mark.parametrize(
    ("upstream_url", "options"),
    [
        ("ftp://127.0.0.1", {}),
        ("127.0.0.1:8080", {}),
        ("http://", {}),
        ("http://127.0.0.1:8080/?key=1", {}),
        ("http://127.0.0.1:8080", {"timeout": 0}),
        ("http://127.0.0.1:8080", {"connect_timeout": -1}),
    ],
)
def test_bad_settings_are_rejected(upstream_url: str, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"upstream|timeout"):
        make_proxy_app(upstream_url, **options)


@pytest.mark.parametrize("is_wrapped", [False, True], ids=["bare", "wrapped"])
def test_response_streams_back_before_the_upstream_finishes(
    upstream: StdlibUpstream, is_wrapped: bool
) -> None:
    request = {"model": HELD_MODEL, "stream": True}
    with (
        serve_in_thread(proxy_app(upstream.url, is_wrapped=is_wrapped)) as proxy_url,
        # Shorter than the upstream's hold, so that a buffering proxy fails the test.
        httpx.Client(base_url=proxy_url, timeout=WAIT_LIMIT_S / 2) as client,
        client.stream("POST", "/v1/chat/completions", json=request) as response,
    ):
        lines = response.iter_lines()
        first_data = next(lines)
        # The upstream holds the rest until now: a buffering proxy times out here.
        upstream.release.set()
        rest = list(lines)

    assert "Wait" in first_data
    assert any("Done" in line for line in rest)
    assert rest[-2:] == ["data: [DONE]", ""]


@pytest.mark.parametrize("is_wrapped", [False, True], ids=["bare", "wrapped"])
def test_client_disconnect_mid_stream_closes_the_upstream_connection(
    upstream: StdlibUpstream, is_wrapped: bool
) -> None:
    request = {"model": QUIET_MODEL, "stream": True}
    with serve_in_thread(proxy_app(upstream.url, is_wrapped=is_wrapped)) as proxy_url:
        with (
            httpx.Client(base_url=proxy_url, timeout=WAIT_LIMIT_S) as client,
            client.stream("POST", "/v1/chat/completions", json=request) as response,
        ):
            assert "Hmm" in next(response.iter_lines())

        assert upstream.stream_closed.wait(WAIT_LIMIT_S / 2)


@pytest.mark.parametrize("is_wrapped", [False, True], ids=["bare", "wrapped"])
def test_client_leaving_before_the_response_closes_the_upstream_connection(
    upstream: StdlibUpstream, is_wrapped: bool
) -> None:
    with serve_in_thread(proxy_app(upstream.url, is_wrapped=is_wrapped)) as proxy_url:
        with (
            httpx.Client(base_url=proxy_url, timeout=0.3) as client,
            pytest.raises(httpx.ReadTimeout),
        ):
            client.post("/v1/chat/completions", json={"model": QUIET_MODEL})

        assert upstream.stream_closed.wait(WAIT_LIMIT_S / 2)


def test_openai_client_streams_reasoning_apart_through_the_wrapped_proxy(
    upstream: StdlibUpstream,
) -> None:
    with serve_in_thread(proxy_app(upstream.url, is_wrapped=True)) as proxy_url:
        client = openai.OpenAI(base_url=f"{proxy_url}/v1", api_key="unused", max_retries=0)
        stream = client.chat.completions.create(model="scripted", messages=HI, stream=True)
        deltas = [choice.delta for chunk in stream for choice in chunk.choices]

    reasoning = [getattr(delta, "reasoning_content", None) or "" for delta in deltas]
    content = [delta.content or "" for delta in deltas]
    assert "".join(reasoning) == REASONING_TEXT
    assert "".join(content) == ANSWER_TEXT
    assert sum(1 for piece in reasoning if piece) > 10


def test_openai_client_gets_reasoning_content_through_the_wrapped_proxy(
    upstream: StdlibUpstream,
) -> None:
    with serve_in_thread(proxy_app(upstream.url, is_wrapped=True)) as proxy_url:
        client = openai.OpenAI(base_url=f"{proxy_url}/v1", api_key="unused", max_retries=0)
        completion = client.chat.completions.create(model="scripted", messages=HI)

    message: Any = completion.choices[0].message
    assert message.reasoning_content == REASONING_TEXT
    assert message.content == ANSWER_TEXT


def test_unreachable_upstream_502_passes_the_middleware_unchanged() -> None:
    with serve_in_thread(proxy_app(closed_port_url(), is_wrapped=True)) as proxy_url:
        response = httpx.post(f"{proxy_url}/v1/chat/completions", json={"stream": True})

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"
