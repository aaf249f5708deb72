"""A streaming reverse proxy as an ASGI app, for model servers that are not Python.

Wrapped in `ReasoningMiddleware`, it puts the reasoning split in front of llama.cpp's server,
Ollama's OpenAI API, TGI, LM Studio or vLLM started without a reasoning parser:

    app = ReasoningMiddleware(make_proxy_app("http://127.0.0.1:8080"), preset="deepseek-r1")

Method, path, query string, headers and body go to the upstream; the response comes back as it
arrives, chunk by chunk, never buffered whole. Needs `httpx` and `anyio` (the `cli` extra).

Behaviour worth knowing:
1. Hop-by-hop headers (RFC 9110 §7.6.1: `connection` and the headers it names, `keep-alive`,
   `proxy-*`, `te`, `trailer`, `transfer-encoding`, `upgrade`) are dropped both ways, and so is
   `host`: httpx sends the upstream's own. The upstream's `date` and `server` are dropped too, as
   nginx does by default, because the ASGI server adds its own.
2. The upstream is always asked for `accept-encoding: identity`, whatever the client accepts:
   the middleware can only rewrite a body it can read, and passes a compressed one through
   untouched. The hop to a model server is usually loopback or a LAN, where compression buys
   little; put compression middleware outside `ReasoningMiddleware` to compress for clients.
3. Upstream unreachable, or no response headers within the timeouts: a 502 with an
   OpenAI-style JSON error (`type: "upstream_error"`); the details go to the `asgi_reasoning`
   logger, not to the client. An upstream failure after the response has started propagates
   as an exception, so the server aborts the connection instead of ending it cleanly.
4. A client that disconnects cancels the exchange at once and closes the upstream connection,
   which is how model servers learn to stop generating.
5. With ASGI lifespan (uvicorn, hypercorn, granian) one connection pool is kept for the app's
   life; without it (the app mounted inside another app) each request uses its own client.
   Proxy settings from the environment (`HTTP_PROXY`, `NO_PROXY`) apply, as in httpx.
6. Websockets are refused.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Final

import anyio
import httpx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from asgi_reasoning.asgi import Receive, Scope, Send

RawHeaders = list[tuple[bytes, bytes]]

logger = logging.getLogger("asgi_reasoning")

DEFAULT_TIMEOUT: Final = 600.0
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
_HOP_BY_HOP_HEADERS: Final = frozenset(
    {b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
_REQUEST_HEADERS_REPLACED: Final = frozenset({b"host", b"accept-encoding"})
_RESPONSE_HEADERS_REPLACED: Final = frozenset({b"date", b"server"})


class _ClientDisconnectedError(Exception):
    """The client left while its request body was still being forwarded."""


def make_proxy_app(
    upstream: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> ProxyApp:
    """An ASGI app forwarding every HTTP request to `upstream` (`http://host:port[/prefix]`).

    `timeout` bounds each wait for upstream bytes (a reasoning model may think for minutes
    before its first token in a non-streaming request); `connect_timeout` bounds the connection.
    """
    return ProxyApp(upstream, timeout=timeout, connect_timeout=connect_timeout)


class ProxyApp:
    """The ASGI app returned by `make_proxy_app`."""

    def __init__(self, upstream: str, *, timeout: float, connect_timeout: float) -> None:
        try:
            upstream_url = httpx.URL(upstream)
        except httpx.InvalidURL as exc:
            raise ValueError(f"upstream: not a URL: {upstream!r} ({exc})") from None
        if upstream_url.scheme not in ("http", "https") or not upstream_url.host:
            raise ValueError(f"upstream: expected an http:// or https:// URL, got {upstream!r}")
        if upstream_url.query or upstream_url.fragment:
            raise ValueError(f"upstream: a query or fragment cannot be used, got {upstream!r}")
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not value > 0:
                raise ValueError(f"{name}: expected a positive number of seconds, got {value!r}")
        self.upstream = str(upstream_url).rstrip("/")
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._shared_client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._shared_client is not None:
                await self._proxy(self._shared_client, scope, receive, send)
            else:
                async with self._new_client() as client:
                    await self._proxy(client, scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)
        elif scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1003})

    def _new_client(self) -> httpx.AsyncClient:
        # No cap on connections: the upstream queues requests; the proxy should not add a limit.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        return httpx.AsyncClient(timeout=self._timeout, limits=limits)

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._shared_client = self._new_client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._shared_client is not None:
                    await self._shared_client.aclose()
                    self._shared_client = None
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _proxy(
        self, client: httpx.AsyncClient, scope: Scope, receive: Receive, send: Send
    ) -> None:
        first_message = await receive()
        if first_message["type"] == "http.disconnect":
            return
        body_forwarded = anyio.Event()
        content: bytes | AsyncIterator[bytes]
        if first_message.get("more_body", False):
            content = _request_body(first_message.get("body", b""), receive, body_forwarded)
        else:
            content = first_message.get("body", b"")
            body_forwarded.set()
        request = client.build_request(
            scope["method"],
            self._target_url(scope),
            headers=_request_headers(scope["headers"], is_streamed=not isinstance(content, bytes)),
            content=content,
        )

        failure: Exception | None = None
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(
                _cancel_on_disconnect, receive, body_forwarded, task_group.cancel_scope
            )
            try:
                await self._exchange(client, request, send)
            except Exception as exc:
                # Kept out of the task group, which would wrap it in an ExceptionGroup.
                failure = exc
            task_group.cancel_scope.cancel()
        if failure is not None:
            raise failure

    def _target_url(self, scope: Scope) -> str:
        # raw_path keeps the client's percent-encoding; ASGI makes it optional.
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        target = self.upstream + raw_path.decode("latin-1")
        query_string: bytes = scope.get("query_string", b"")
        if query_string:
            target += "?" + query_string.decode("latin-1")
        return target

    async def _exchange(
        self, client: httpx.AsyncClient, request: httpx.Request, send: Send
    ) -> None:
        try:
            response = await client.send(request, stream=True)
        except _ClientDisconnectedError:
            return
        except httpx.TimeoutException as exc:
            logger.warning("upstream %s timed out: %r", self.upstream, exc)
            await _send_bad_gateway(send, "The upstream model server did not respond in time.")
            return
        except httpx.TransportError as exc:
            logger.warning("upstream %s unreachable: %r", self.upstream, exc)
            await _send_bad_gateway(send, "The upstream model server could not be reached.")
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _response_headers(response.headers.raw),
                }
            )
            # aiter_raw: the bytes as sent, so they keep matching any content-encoding header.
            async for chunk in response.aiter_raw():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # ASGI spec 2.4: `send` raises OSError once the client has gone.
            logger.debug("client left during a proxied response")
        finally:
            # Shielded: after a disconnect this runs in a cancelled scope, and the upstream
            # connection must still be closed.
            with anyio.CancelScope(shield=True):
                await response.aclose()


async def _request_body(
    first_chunk: bytes, receive: Receive, body_forwarded: anyio.Event
) -> AsyncIterator[bytes]:
    yield first_chunk
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientDisconnectedError
        yield message.get("body", b"")
        if not message.get("more_body", False):
            break
    body_forwarded.set()


async def _cancel_on_disconnect(
    receive: Receive, body_forwarded: anyio.Event, cancel_scope: anyio.CancelScope
) -> None:
    # Only after the body is forwarded: until then the body iterator is the one reading.
    await body_forwarded.wait()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            cancel_scope.cancel()
            return


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
    }


def _is_hop_by_hop(name: bytes, connection_tokens: set[bytes]) -> bool:
    return name in _HOP_BY_HOP_HEADERS or name.startswith(b"proxy-") or name in connection_tokens


def _request_headers(headers: Iterable[tuple[bytes, bytes]], *, is_streamed: bool) -> RawHeaders:
    headers = list(headers)
    connection_tokens = _connection_tokens(headers)
    forwarded = [
        (name, value)
        for name, value in ((name.lower(), value) for name, value in headers)
        if not _is_hop_by_hop(name, connection_tokens)
        and name not in _REQUEST_HEADERS_REPLACED
        # httpx sets content-length for a body it has whole; a streamed one keeps the client's.
        and (is_streamed or name != b"content-length")
    ]
    forwarded.append((b"accept-encoding", b"identity"))
    return forwarded


def _response_headers(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    headers = list(headers)
    connection_tokens = _connection_tokens(headers)
    return [
        (name, value)
        for name, value in ((name.lower(), value) for name, value in headers)
        if not _is_hop_by_hop(name, connection_tokens) and name not in _RESPONSE_HEADERS_REPLACED
    ]


async def _send_bad_gateway(send: Send, message: str) -> None:
    error = {"error": {"message": message, "type": "upstream_error", "code": 502}}
    body = json.dumps(error).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    try:
        await send({"type": "http.response.start", "status": 502, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
    except OSError:
        logger.debug("client left before the 502 was sent")
