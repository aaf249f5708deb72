"""The proxy facing hostile clients: real uvicorn (h11 and httptools), raw sockets, a recorder.

Clients such as httpx normalise what they send, so every request here is written byte for
byte on a socket. Each test asserts what the upstream received and what the client got.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import socket
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_reasoning.cli import serve_in_thread
from asgi_reasoning.proxy import (
    MAX_TARGET_LENGTH,
    TargetError,
    make_proxy_app,
    make_reasoning_proxy,
    normalize_path,
    parse_upstream,
    read_request_target,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from asgi_reasoning.asgi import ASGIApp, Receive, Scope, Send

HTTP_IMPLEMENTATIONS: Final = ("h11", "httptools")
SOCKET_TIMEOUT_S: Final = 10.0
REASONING: Final = "secret plan"
ANSWER: Final = "final answer"
CHAT_PATH: Final = "/v1/chat/completions"
STREAM_REQUEST: Final = b'{"model": "m", "stream": true, "messages": []}'


@dataclass
class Seen:
    """One request as the upstream's ASGI server gave it."""

    method: str
    path: str
    raw_path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value.decode("latin-1") for key, value in self.headers if key == name.encode()]


@dataclass
class RecordingUpstream:
    """A model server that records every request.

    `POST */chat/completions` answers `<think>REASONING</think>ANSWER` as SSE or JSON; the
    request header `x-test-encoding` makes it compress the body with that coding anyway.
    Any other request gets a JSON echo of its path.
    """

    requests: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        seen = Seen(
            scope["method"],
            scope["path"],
            scope.get("raw_path") or b"",
            scope["query_string"],
            list(scope["headers"]),
            body,
        )
        self.requests.append(seen)
        encoding = (seen.header("x-test-encoding") or [""])[0]
        if location := seen.header("x-test-location"):
            own_url = f"http://{seen.header('host')[0]}"
            headers = [(b"location", location[0].replace("{self}", own_url).encode())]
            await send({"type": "http.response.start", "status": 307, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["path"].endswith("/chat/completions") and scope["method"] == "POST":
            if json.loads(body or b"{}").get("stream"):
                await self._stream(send, encoding)
            else:
                message_body: dict[str, object] = {
                    "role": "assistant",
                    "content": f"<think>{REASONING}</think>{ANSWER}",
                }
                await self._send_json(send, _completion(message_body, "chat.completion"), encoding)
        else:
            echo = {"path": seen.path, "raw_path": seen.raw_path.decode("latin-1")}
            await self._send_json(send, echo, encoding)

    async def _send_json(self, send: Send, payload: object, encoding: str) -> None:
        body = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json")]
        if encoding:
            body = _compressed(body, encoding)
            headers += [(b"content-encoding", encoding.encode()), (b"etag", b'"v1"')]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, send: Send, encoding: str) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        compressor = None
        if encoding:
            headers.append((b"content-encoding", encoding.encode()))
            compressor = zlib.compressobj(wbits=31 if encoding == "gzip" else 15)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        pieces = ["<think>", REASONING, "</think>", ANSWER]
        events = [_event({"content": piece}) for piece in pieces] + [b"data: [DONE]\n\n"]
        for event in events:
            if compressor is not None:
                # A sync flush per event: the compressed stream still streams.
                event = compressor.compress(event) + compressor.flush(zlib.Z_SYNC_FLUSH)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        tail = compressor.flush() if compressor is not None else b""
        await send({"type": "http.response.body", "body": tail})


def _compressed(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(body)
    # An encoding the proxy cannot decode: the bytes as they are, labelled anyway.
    return body


def _completion(message: dict[str, object], kind: str) -> dict[str, object]:
    key = "message" if kind == "chat.completion" else "delta"
    choice = {"index": 0, key: message, "finish_reason": None}
    return {"id": "c1", "object": kind, "created": 1, "model": "m", "choices": [choice]}


def _event(delta: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(_completion(delta, "chat.completion.chunk")).encode() + b"\n\n"


@dataclass(frozen=True)
class RawResponse:
    status: int
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.encode():
                return value.strip().decode("latin-1")
        return None


def send_raw(port: int, request: bytes) -> RawResponse:
    """Write `request` as it is; read until the server closes (requests say Connection: close).

    A server that refuses a request while it is still being written may reset the connection
    before its answer is read: that is status 0.
    """
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
        try:
            sock.sendall(request)
            while data := sock.recv(65536):
                chunks.append(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
    if not chunks:
        return RawResponse(0, b"", b"")
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return RawResponse(int(head.split(b" ", 2)[1]), head, body)


def raw_request(
    method: str,
    target: bytes,
    *,
    host: bytes = b"proxy.test",
    headers: bytes = b"",
    body: bytes = b"",
) -> bytes:
    length = b"content-length: %d\r\n" % len(body) if body or method == "POST" else b""
    return (
        method.encode() + b" " + target + b" HTTP/1.1\r\n"
        b"host: " + host + b"\r\n" + headers + length + b"connection: close\r\n\r\n" + body
    )


def port_of(url: str) -> int:
    port = httpx.URL(url).port
    assert port is not None
    return port


@dataclass
class Proxied:
    """A proxy under uvicorn in front of a recording upstream, plus an internal bystander."""

    port: int
    upstream: RecordingUpstream
    upstream_url: str
    internal: RecordingUpstream
    internal_port: int

    def all_requests(self) -> list[Seen]:
        return [*self.upstream.requests, *self.internal.requests]


@contextlib.contextmanager
def running_proxy(http: str, *, base: str = "", **options: Any) -> Iterator[Proxied]:
    upstream, internal = RecordingUpstream(), RecordingUpstream()
    with (
        serve_in_thread(upstream, lifespan="off") as upstream_url,
        serve_in_thread(internal, lifespan="off") as internal_url,
    ):
        app: ASGIApp = make_reasoning_proxy(upstream_url + base, **options)
        with serve_in_thread(app, http=http, proxy_headers=False) as proxy_url:
            yield Proxied(
                port_of(proxy_url), upstream, upstream_url, internal, port_of(internal_url)
            )


@pytest.fixture(scope="module", params=HTTP_IMPLEMENTATIONS)
def proxied(request: pytest.FixtureRequest) -> Iterator[Proxied]:
    """The proxy in strip mode, upstream base path `/base`."""
    with running_proxy(request.param, base="/base", mode="strip") as running:
        yield running


@pytest.fixture
def fresh(proxied: Proxied) -> Proxied:
    proxied.upstream.requests.clear()
    proxied.internal.requests.clear()
    return proxied


def test_an_at_sign_target_never_reaches_another_host(fresh: Proxied) -> None:
    target = b"@127.0.0.1:%d/admin" % fresh.internal_port
    response = send_raw(fresh.port, raw_request("GET", target))

    assert response.status == 400
    assert fresh.all_requests() == []


@pytest.mark.parametrize("scheme", [b"http", b"HTTPS"])
def test_an_absolute_form_target_is_served_from_the_upstream_by_its_path(
    fresh: Proxied, scheme: bytes
) -> None:
    target = scheme + b"://127.0.0.1:%d/admin?x=1" % fresh.internal_port
    response = send_raw(fresh.port, raw_request("GET", target))

    assert response.status == 200
    [seen] = fresh.upstream.requests
    assert (seen.raw_path, seen.query) == (b"/base/admin", b"x=1")
    assert seen.header("host") == [fresh.upstream_url.removeprefix("http://")]
    assert fresh.internal.requests == []


@pytest.mark.parametrize("target", [b"ftp://evil/x", b"http://user:pw@evil/x", b"http:///x"])
def test_an_absolute_form_target_without_an_http_host_is_refused(
    fresh: Proxied, target: bytes
) -> None:
    response = send_raw(fresh.port, raw_request("GET", target))

    # httptools gives uvicorn the parsed path alone, so the app never sees the authority:
    # the path is then served from the upstream. Under h11 the proxy sees it and refuses.
    assert fresh.internal.requests == []
    forwarded = [seen.raw_path for seen in fresh.upstream.requests]
    assert (response.status, forwarded) in ((400, []), (200, [b"/base/x"]))


def test_options_asterisk_is_answered_by_the_proxy(fresh: Proxied) -> None:
    response = send_raw(fresh.port, raw_request("OPTIONS", b"*"))

    assert response.status == 200
    assert response.header("content-length") == "0"
    assert fresh.all_requests() == []


def test_asterisk_with_another_method_is_refused(fresh: Proxied) -> None:
    assert send_raw(fresh.port, raw_request("GET", b"*")).status == 400
    assert fresh.all_requests() == []


@pytest.mark.parametrize(
    "target",
    [
        b"/v1/chat/./completions",
        b"/v1/chat/%2e/completions",
        b"/v1/x/../chat/completions",
        b"/v1/x/%2e%2e/chat/completions",
        b"/v1/x/%2E%2e/chat/completions",
        b"/../v1/chat/completions",
        b"//v1/chat//completions",
        b"/v1/chat%2Fcompletions",
        b"/v1/%63hat/completions",
    ],
)
def test_a_disguised_chat_path_is_still_stripped(fresh: Proxied, target: bytes) -> None:
    request = raw_request("POST", target, body=STREAM_REQUEST)
    response = send_raw(fresh.port, request)

    assert response.status == 200
    [seen] = fresh.upstream.requests
    assert seen.path == "/base/v1/chat/completions"
    assert ANSWER in response.body.decode()
    assert REASONING not in response.body.decode()
    assert "<think>" not in response.body.decode()


@pytest.mark.parametrize(
    ("target", "upstream_path"),
    [
        (b"/../admin", b"/base/admin"),
        (b"/%2e%2e/%2E%2E/admin", b"/base/admin"),
        (b"/v1/../../../../admin", b"/base/admin"),
        (b"//internal.test/admin", b"/base/internal.test/admin"),
        (b"/a/b/..", b"/base/a/"),
    ],
)
def test_dot_segments_never_climb_above_the_base_path(
    fresh: Proxied, target: bytes, upstream_path: bytes
) -> None:
    response = send_raw(fresh.port, raw_request("GET", target))

    assert response.status == 200
    [seen] = fresh.upstream.requests
    assert seen.raw_path == upstream_path
    assert seen.header("host") == [fresh.upstream_url.removeprefix("http://")]


@pytest.mark.parametrize(
    "target",
    [
        b"/v1/chat/..%2Fcompletions",
        b"/v1/chat/.%2F/completions",
        b"/v1/chat%2F%2Fcompletions",
        b"/v1/models%0d%0aX-Injected:%201",
        b"/v1/models%00",
        b"/v1\\..\\admin",
        b"/v1/%5c../admin",
        b"/v1/models%zz",
    ],
)
def test_paths_an_upstream_could_read_otherwise_are_refused(fresh: Proxied, target: bytes) -> None:
    response = send_raw(fresh.port, raw_request("GET", target))

    assert response.status == 400
    assert fresh.all_requests() == []


def test_a_fragment_is_never_forwarded(fresh: Proxied) -> None:
    response = send_raw(fresh.port, raw_request("GET", b"/v1/models#frag"))

    # httptools parses the fragment away; h11 leaves it in the path, which is refused.
    assert response.status in (200, 400)
    assert [seen.raw_path for seen in fresh.upstream.requests] in ([], [b"/base/v1/models"])


@pytest.mark.parametrize("length", [MAX_TARGET_LENGTH + 1, 100_000])
def test_a_very_long_target_is_refused(fresh: Proxied, length: int) -> None:
    target = b"/v1/" + b"a" * (length - 4)
    response = send_raw(fresh.port, raw_request("GET", target))

    assert response.status in (0, 400, 414, 431)
    assert fresh.all_requests() == []


@pytest.mark.parametrize(
    "headers",
    [
        # RFC 9112 §2.2: a bare CR must be refused or replaced with SP, never end a line.
        b"x-a: one\rx-injected: 1\r\n",
        # RFC 9112 §5.2: an obs-fold is refused or replaced with SP.
        b"x-a: one\r\n x-injected: 1\r\n",
        b"x-a: one\x00x-injected: 1\r\n",
        b"x-a: one%0d%0ax-injected: 1\r\n",
    ],
)
def test_header_injection_never_adds_a_header_upstream(fresh: Proxied, headers: bytes) -> None:
    response = send_raw(fresh.port, raw_request("GET", b"/v1/models", headers=headers))

    assert response.status in (200, 400)
    for seen in fresh.all_requests():
        assert seen.header("x-injected") == []


@pytest.mark.parametrize(
    "headers", [b"x-a: one\nx-b: 2\r\n", b"x-a: one\r\n\tcontinued\r\n"], ids=["lf", "fold"]
)
def test_header_values_upstream_never_hold_a_line_break(fresh: Proxied, headers: bytes) -> None:
    # A bare LF may end a line (RFC 9112 §2.2), so x-b is the client's own second header.
    response = send_raw(fresh.port, raw_request("GET", b"/v1/models", headers=headers))

    assert response.status in (200, 400)
    for seen in fresh.all_requests():
        assert all(b"\r" not in value and b"\n" not in value for _, value in seen.headers)


@pytest.mark.parametrize("headers", [b"host: other.test\r\n", b""], ids=["two-hosts", "bad-host"])
def test_a_bad_or_repeated_host_header_is_refused(fresh: Proxied, headers: bytes) -> None:
    host = b"proxy.test" if headers else b"a b"
    response = send_raw(fresh.port, raw_request("GET", b"/v1/models", host=host, headers=headers))

    assert response.status == 400
    assert fresh.all_requests() == []


@pytest.mark.parametrize(
    "framing",
    [
        b"content-length: 5\r\ntransfer-encoding: chunked\r\n",
        b"content-length: 5\r\ncontent-length: 60\r\n",
        b"transfer-encoding: gzip, chunked\r\ntransfer-encoding: identity\r\n",
    ],
    ids=["cl-and-te", "two-lengths", "two-codings"],
)
def test_an_ambiguous_body_length_is_reframed_never_passed_on(
    fresh: Proxied, framing: bytes
) -> None:
    smuggled = b"GET /admin HTTP/1.1\r\nhost: proxy.test\r\n\r\n"
    request = b"POST /v1/models HTTP/1.1\r\nhost: proxy.test\r\n" + framing
    response = send_raw(fresh.port, request + b"\r\n0\r\n\r\n" + smuggled)

    # The server refuses it, or reads it as RFC 9112 §6.3 says (chunked wins) and the
    # rest as a pipelined request of the same client; the proxy sends on each request it
    # was given, framed anew by httpx, so proxy and upstream never disagree on a boundary.
    assert response.status in (0, 200, 400)
    upstream_host = fresh.upstream_url.removeprefix("http://")
    for seen in fresh.all_requests():
        assert seen.raw_path in (b"/base/v1/models", b"/base/admin")
        assert seen.header("host") == [upstream_host]
        assert seen.header("transfer-encoding") in ([], ["chunked"])
        assert seen.body == b""
    assert fresh.internal.requests == []


def test_connect_is_refused(fresh: Proxied) -> None:
    response = send_raw(fresh.port, raw_request("CONNECT", b"127.0.0.1:%d" % fresh.internal_port))

    assert response.status in (400, 405)
    assert fresh.all_requests() == []


@pytest.mark.parametrize("http", HTTP_IMPLEMENTATIONS)
def test_forwarded_headers_from_an_untrusted_client_are_replaced(http: str) -> None:
    spoofed = b"x-forwarded-for: 6.6.6.6\r\nx-forwarded-proto: https\r\n" + (
        b"x-forwarded-host: evil.test\r\nforwarded: for=6.6.6.6\r\nx-real-ip: 6.6.6.6\r\n"
    )
    with running_proxy(http, forwarded_allow_ips="10.0.0.1") as proxied:
        response = send_raw(proxied.port, raw_request("GET", b"/v1/models", headers=spoofed))
        [seen] = proxied.upstream.requests

    assert response.status == 200
    assert seen.header("x-forwarded-for") == ["127.0.0.1"]
    assert seen.header("x-forwarded-proto") == ["http"]
    assert seen.header("x-forwarded-host") == ["proxy.test"]
    assert seen.header("forwarded") == seen.header("x-real-ip") == []


@pytest.mark.parametrize("http", HTTP_IMPLEMENTATIONS)
def test_forwarded_headers_from_a_trusted_proxy_are_kept_and_extended(http: str) -> None:
    sent = b"x-forwarded-for: 203.0.113.7, 10.1.1.1\r\nx-forwarded-proto: https\r\n" + (
        b"x-forwarded-host: api.example\r\n"
    )
    with running_proxy(http) as proxied:
        send_raw(proxied.port, raw_request("GET", b"/v1/models", headers=sent))
        [seen] = proxied.upstream.requests

    assert seen.header("x-forwarded-for") == ["203.0.113.7, 10.1.1.1, 127.0.0.1"]
    assert seen.header("x-forwarded-proto") == ["https"]
    assert seen.header("x-forwarded-host") == ["api.example"]


def test_a_client_without_forwarded_headers_gets_them_added() -> None:
    with running_proxy("h11") as proxied:
        send_raw(proxied.port, raw_request("GET", b"/v1/models"))
        [seen] = proxied.upstream.requests

    assert seen.header("x-forwarded-for") == ["127.0.0.1"]
    assert seen.header("x-forwarded-proto") == ["http"]
    assert seen.header("x-forwarded-host") == ["proxy.test"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_a_compressed_json_body_is_decoded_and_split(encoding: str) -> None:
    with running_proxy("h11") as proxied, httpx.Client(timeout=SOCKET_TIMEOUT_S) as client:
        response = client.post(
            f"http://127.0.0.1:{proxied.port}{CHAT_PATH}",
            json={"model": "m", "messages": []},
            headers={"x-test-encoding": encoding, "accept-encoding": "identity"},
        )

    assert "content-encoding" not in response.headers
    assert response.headers["etag"] == 'W/"v1"'
    message = response.json()["choices"][0]["message"]
    assert (message["reasoning_content"], message["content"]) == (REASONING, ANSWER)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_stream_is_decoded_and_split(encoding: str) -> None:
    body = json.dumps({"model": "m", "stream": True, "messages": []}).encode()
    with running_proxy("httptools") as proxied:
        headers = b"x-test-encoding: " + encoding.encode() + b"\r\n"
        request = raw_request("POST", CHAT_PATH.encode(), headers=headers, body=body)
        response = send_raw(proxied.port, request)
        [seen] = proxied.upstream.requests

    assert seen.header("accept-encoding") == ["identity"]
    assert response.header("content-encoding") is None
    text = response.body.decode()
    assert '"reasoning_content": "secret plan"' in text.replace('":"', '": "')
    assert "<think>" not in text


def test_an_encoding_httpx_cannot_decode_passes_through_labelled() -> None:
    with running_proxy("h11") as proxied, httpx.Client(timeout=SOCKET_TIMEOUT_S) as client:
        response = client.get(
            f"http://127.0.0.1:{proxied.port}/v1/models",
            headers={"x-test-encoding": "x-unknown", "accept-encoding": "identity"},
        )

    assert response.headers["content-encoding"] == "x-unknown"


@pytest.mark.parametrize("http", HTTP_IMPLEMENTATIONS)
def test_uvicorn_root_path_is_not_sent_upstream(http: str) -> None:
    upstream = RecordingUpstream()
    with serve_in_thread(upstream, lifespan="off") as upstream_url:
        app = make_reasoning_proxy(upstream_url + "/base")
        with serve_in_thread(app, http=http, root_path="/llm", proxy_headers=False) as url:
            send_raw(port_of(url), raw_request("GET", b"/v1/x/../models"))

    assert [seen.raw_path for seen in upstream.requests] == [b"/base/v1/models"]


def test_a_mounted_proxy_forwards_the_path_below_its_mount() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    upstream = RecordingUpstream()
    with serve_in_thread(upstream, lifespan="off") as upstream_url:
        outer = Starlette(routes=[Mount("/llm", app=make_reasoning_proxy(upstream_url))])
        with serve_in_thread(outer, proxy_headers=False) as url:
            send_raw(port_of(url), raw_request("GET", b"/llm/v1/models?q=1"))

    [seen] = upstream.requests
    assert (seen.raw_path, seen.query) == (b"/v1/models", b"q=1")


def test_the_bare_proxy_refuses_a_path_not_in_normal_form() -> None:
    """Without the normaliser outside the middleware, such a path is refused, not leaked."""
    from asgi_reasoning import ReasoningMiddleware

    upstream = RecordingUpstream()
    with serve_in_thread(upstream, lifespan="off") as upstream_url:
        app = ReasoningMiddleware(make_proxy_app(upstream_url), mode="strip")
        with serve_in_thread(app, http="h11") as url:
            request = raw_request("POST", b"/v1/chat/./completions", body=STREAM_REQUEST)
            response = send_raw(port_of(url), request)

    assert response.status == 400
    assert upstream.requests == []


def test_upstream_credentials_become_basic_auth_and_never_reach_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream = RecordingUpstream()
    with serve_in_thread(upstream, lifespan="off") as upstream_url:
        with_credentials = upstream_url.replace("http://", "http://user:p%40ss@")
        app = make_reasoning_proxy(with_credentials)
        with serve_in_thread(app, http="h11", proxy_headers=False) as url:
            headers = b"authorization: Bearer client-key\r\n"
            send_raw(port_of(url), raw_request("GET", b"/v1/models", headers=headers))
    [seen] = upstream.requests
    assert seen.header("authorization") == ["Basic " + base64.b64encode(b"user:p@ss").decode()]

    unreachable = make_proxy_app("http://user:hunter2@127.0.0.1:1")
    with caplog.at_level(logging.DEBUG, logger="asgi_reasoning"):
        with serve_in_thread(unreachable, http="h11") as url:
            response = send_raw(port_of(url), raw_request("GET", b"/v1/models"))
    assert response.status == 502
    assert "hunter2" not in caplog.text
    assert "http://***@127.0.0.1:1" in caplog.text
    assert unreachable.upstream == "http://***@127.0.0.1:1"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://h:99999", "not in 1..65535"),
        ("http://h:0", "not in 1..65535"),
        ("http://h:-1", "port"),
        ("ftp://h", "http:// or https://"),
        ("h:8080", "http:// or https://"),
        ("http://", "host"),
        ("http:///v1", "host"),
        ("http://h/?", "query or fragment"),
        ("http://h/v1#top", "query or fragment"),
        ("http://h x", "spaces or control characters"),
        ("http://user:hunter2@h:70000", "not in 1..65535"),
    ],
)
def test_a_bad_upstream_is_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"^upstream: ") as raised:
        parse_upstream(url)

    assert reason in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_the_upstream_base_path_is_normalised() -> None:
    upstream = parse_upstream("https://h:8443/a/./b/")

    assert (upstream.scheme, upstream.host, upstream.port) == ("https", "h", 8443)
    assert upstream.base_path == b"/a/b"
    assert upstream.authorization is None


@pytest.mark.parametrize(
    ("raw_path", "normal"),
    [
        (b"/", b"/"),
        (b"/a/./b/../c", b"/a/c"),
        (b"/%7Euser/%2d%41", b"/~user/-A"),
        (b"/a%2fb", b"/a%2Fb"),
        (b"/a b/\xc3\xa9", b"/a%20b/%C3%A9"),
        (b"/a//b///", b"/a/b/"),
        (b"/a/..", b"/"),
    ],
)
def test_normalize_path_follows_rfc_3986(raw_path: bytes, normal: bytes) -> None:
    assert normalize_path(raw_path) == normal


@pytest.mark.parametrize("raw_path", [b"a/b", b"", b"/a%2", b"/a?b", b"/a/%2e%2E%2fb/%2e%2e%2f"])
def test_normalize_path_refuses_what_has_no_normal_form(raw_path: bytes) -> None:
    with pytest.raises(TargetError):
        normalize_path(raw_path)


def http_scope(path: str, **fields: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": path, "query_string": b""}
    return {**scope, **fields}


def test_a_query_is_sent_on_percent_encoded_past_ascii() -> None:
    target = read_request_target(http_scope("/v1/models", query_string="q=é&x=%41".encode()))

    assert target.query == b"q=%C3%A9&x=%41"


@pytest.mark.parametrize(
    ("scope_fields", "raw_path"),
    [
        (
            {"path": "/llm/v1/models", "raw_path": b"/llm/v1/models", "root_path": "/llm"},
            b"/v1/models",
        ),
        (
            {"path": "/llm/v1/a%2Fb", "raw_path": b"/llm/v1/a%2Fb", "root_path": "/llm/"},
            b"/v1/a%2Fb",
        ),
        ({"path": "/llm", "root_path": "/llm"}, b"/"),
        ({"path": "/v1/models", "root_path": "/llm"}, b"/v1/models"),
        ({"path": "/caf\u00e9/x", "root_path": "/caf\u00e9"}, b"/x"),
        ({"path": "/caf\u00e9/x", "raw_path": b"/caf%C3%A9/x", "root_path": "/caf\u00e9"}, b"/x"),
        ({"path": "/v1/100%"}, b"/v1/100%25"),
    ],
)
def test_root_path_is_removed_before_the_upstream_base_path(
    scope_fields: dict[str, Any], raw_path: bytes
) -> None:
    assert read_request_target(http_scope(**scope_fields)).raw_path == raw_path


@pytest.mark.anyio
async def test_an_empty_host_header_is_valid_and_not_forwarded() -> None:
    upstream = RecordingUpstream()
    transport = httpx.ASGITransport(upstream)
    proxy = make_proxy_app("http://upstream.test")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = http_scope("/v1/models", headers=[(b"host", b"")], client=("10.9.9.9", 5))
    async with httpx.AsyncClient(transport=transport) as client:
        proxy._shared_client = client
        await proxy(scope, receive, send)

    assert sent[0]["status"] == 200
    [seen] = upstream.requests
    assert seen.header("x-forwarded-host") == []
    assert seen.header("x-forwarded-for") == ["10.9.9.9"]


PATH_PIECES: Final = [
    "a",
    "chat",
    ".",
    "..",
    "%2e",
    "%2E%2e",
    ".%2e",
    "",
    "%41",
    "%2f",
    "~",
    "%7e",
    "x y",
]


@given(st.lists(st.sampled_from(PATH_PIECES), max_size=12), st.booleans())
def test_a_normal_path_is_a_fixed_point_without_dot_or_empty_segments(
    pieces: list[str], has_trailing_slash: bool
) -> None:
    raw_path = ("/" + "/".join(pieces) + ("/" if has_trailing_slash else "")).encode()
    try:
        normal = normalize_path(raw_path)
    except TargetError:
        # Only a %2F that would make a dot or empty segment once decoded is refused here.
        assert "%2f" in raw_path.decode().lower()
        return

    assert normalize_path(normal) == normal
    segments = unquote(normal.decode()).split("/")[1:-1]
    assert not {".", ".."} & set(segments)
    assert "" not in segments
    assert upstream_url_for(normal).startswith("http://upstream.test/base/")


BASE_PATH_PROXY: Final = make_proxy_app("http://upstream.test/base")


def upstream_url_for(raw_path: bytes) -> str:
    """The upstream URL the proxy builds for a request to `raw_path`."""
    target = read_request_target(http_scope(unquote(raw_path.decode()), raw_path=raw_path))
    return str(BASE_PATH_PROXY._target_url(target))


@pytest.mark.parametrize(
    ("location", "root_path", "public"),
    [
        ("{self}/base/v1/chat/completions?x=1", "", "/v1/chat/completions?x=1"),
        ("{self}/base", "", "/"),
        ("{self}/base/v1/x", "/llm", "/llm/v1/x"),
        ("{self}/BASE/v1/x", "", "{self}/BASE/v1/x"),
        ("/base/v1/x", "/llm", "/llm/v1/x"),
        ("{self}/basement", "", "{self}/basement"),
        ("/elsewhere", "", "/elsewhere"),
        ("https://other.test/base/x", "", "https://other.test/base/x"),
        ("//other.test/base/x", "", "//other.test/base/x"),
    ],
)
def test_a_redirect_into_the_upstream_points_back_through_the_proxy(
    location: str, root_path: str, public: str
) -> None:
    upstream = RecordingUpstream()
    with serve_in_thread(upstream, lifespan="off") as upstream_url:
        app = make_reasoning_proxy(upstream_url + "/base")
        with serve_in_thread(app, root_path=root_path, proxy_headers=False) as url:
            headers = b"x-test-location: " + location.encode() + b"\r\n"
            response = send_raw(port_of(url), raw_request("GET", b"/v1/x", headers=headers))

    assert response.status == 307
    assert response.header("location") == public.replace("{self}", upstream_url)
