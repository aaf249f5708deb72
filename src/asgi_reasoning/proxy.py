"""A streaming reverse proxy as an ASGI app, for model servers that are not Python.

Put in front of llama.cpp's server, Ollama's OpenAI API, TGI, LM Studio or vLLM started
without a reasoning parser, it gives them the reasoning split:

    app = make_reasoning_proxy("http://127.0.0.1:8080", preset="deepseek-r1")

`make_reasoning_proxy` is `TargetNormalizer(ReasoningMiddleware(ProxyApp(...)))`; the parts are
public for other arrangements. Method, path, query string, headers and body go to the upstream;
the response comes back as it arrives, chunk by chunk, never buffered whole. Needs `httpx` and
`anyio` (the `cli` extra).

Safe to face clients:
1. The upstream URL is built from its parts: scheme, host and port are always the upstream's,
   and the request adds only a path and a query. No request target can name another host.
2. Request targets (RFC 9112 §3.2): origin-form (`/path?query`) is forwarded; absolute-form
   (`http://host/path`) is accepted as RFC 9112 §3.2.2 requires of a server: its authority
   replaces the `Host` header (so it reaches the upstream only as `X-Forwarded-Host`) and its
   path is forwarded; `OPTIONS *` is answered here with an empty 200, since there is no one
   resource to forward it to; every other form (authority-form, `@host/x`, `CONNECT`) and any
   target with a fragment, a malformed `%` escape, a control character or a backslash gets a 400;
   a target longer than `MAX_TARGET_LENGTH` a 414. More than one `Host` header, or one that is
   not a host, is a 400 (RFC 9112 §3.2).
3. Paths are normalised before anything looks at them (RFC 3986 §6.2.2): percent-encoded
   unreserved characters decoded (`%2e` is `.`), hex digits upper-cased, dot segments removed
   (§5.2.4; `/../x` is `/x`, so nothing climbs above the upstream base path or `root_path`),
   and empty segments merged (`//` is `/`, as nginx's `merge_slashes`). A path that would still
   hold a dot segment or an empty segment once its `%2F` were decoded is a 400, so that an
   upstream that decodes `%2F` cannot route it elsewhere. `TargetNormalizer`, the outer layer,
   rewrites `scope["path"]` and `raw_path` to the normal form *before* `ReasoningMiddleware`
   matches its `paths`, so `/v1/chat/./completions` is filtered like `/v1/chat/completions`.
   `ProxyApp` itself refuses (400) any path not already in normal form: used without the outer
   layer, a path the middleware may have misjudged is never forwarded.
4. `root_path` (ASGI; a `Mount` or `uvicorn --root-path`) is removed from the path before it is
   joined to the upstream base path.
5. Credentials in the upstream URL (`http://user:pw@host`) are sent as `Authorization: Basic`
   on every upstream request, replacing the client's `Authorization` (they are the operator's,
   for that hop); they never appear in logs or error messages, where the URL reads
   `http://***@host`.
6. `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are set as reverse proxies do.
   From a client in `forwarded_allow_ips` (default `127.0.0.1`, as uvicorn's), the forwarding
   headers it sent are kept and its address is appended to `X-Forwarded-For`; from any other
   client they are dropped (with `Forwarded` and `X-Real-IP`) and replaced by what the proxy
   saw: the client's address, the scheme it used and its `Host`.
7. A `Location` into the upstream (its own URL, or a path under its base path) is rewritten
   to a path through the proxy, under `root_path`, as nginx's default `proxy_redirect`: a
   redirect never sends a client around the proxy, nor names the upstream's address.

Behaviour worth knowing:
1. Hop-by-hop headers (RFC 9110 §7.6.1: `connection` and the headers it names, `keep-alive`,
   `proxy-*`, `te`, `trailer`, `transfer-encoding`, `upgrade`) are dropped both ways, and so is
   `host`: httpx sends the upstream's own. The upstream's `date` and `server` are dropped too, as
   nginx does by default, because the ASGI server adds its own.
2. The upstream is asked for `accept-encoding: identity`, whatever the client accepts. A body
   the upstream compresses anyway is decoded with httpx's decoders (gzip, deflate, and br or
   zstd when `brotli` or `zstandard` is installed) and sent on without `content-encoding` and
   `content-length` (a strong `ETag` becomes weak, digests are dropped), so the middleware always
   sees text. An encoding httpx cannot decode passes through as it came, headers and all.
3. Upstream unreachable, or no response headers within the timeouts: a 502 with an
   OpenAI-style JSON error (`type: "upstream_error"`); the details go to the `asgi_reasoning`
   logger, not to the client. An upstream failure after the response has started propagates
   as an exception, so the server aborts the connection instead of ending it cleanly.
4. A client that disconnects cancels the exchange at once and closes the upstream connection,
   which is how model servers learn to stop generating.
5. With ASGI lifespan (uvicorn, hypercorn, granian) one connection pool is kept for the app's
   life; without it (the app mounted inside another app) each request uses its own client.
   Proxy settings from the environment (`HTTP_PROXY`, `NO_PROXY`) apply, as in httpx.
6. Websockets are refused; so is `CONNECT` (405).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote

import anyio
import httpx

from asgi_reasoning.middleware import ReasoningMiddleware

try:
    # The content codings httpx can decode here: br and zstd only with their packages.
    from httpx._decoders import SUPPORTED_DECODERS

    _DECODABLE: frozenset[str] = frozenset(SUPPORTED_DECODERS)
except ImportError:  # pragma: no cover - a future httpx moving its private module
    _DECODABLE = frozenset({"gzip", "deflate"})

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Sequence

    from asgi_reasoning.asgi import ASGIApp, Receive, Scope, Send

RawHeaders = list[tuple[bytes, bytes]]

logger = logging.getLogger("asgi_reasoning")

DEFAULT_TIMEOUT: Final = 600.0
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_FORWARDED_ALLOW_IPS: Final = ("127.0.0.1",)
# nginx's default large_client_header_buffers (8k) bounds its request line the same way.
MAX_TARGET_LENGTH: Final = 8192
_HOP_BY_HOP_HEADERS: Final = frozenset(
    {b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
_REQUEST_HEADERS_REPLACED: Final = frozenset({b"host", b"accept-encoding"})
_RESPONSE_HEADERS_REPLACED: Final = frozenset({b"date", b"server"})
# Headers through which a client claims an address, scheme or host other than its own.
_FORWARDING_HEADERS: Final = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-real-ip",
    }
)
# Headers that describe the exact bytes of an encoded body, which decoding changes.
_ENCODED_BODY_HEADERS: Final = frozenset(
    {b"content-encoding", b"content-length", b"content-md5", b"digest", b"content-digest"}
)
# RFC 3986 §2.3.
_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
# RFC 3986 §3.3 pchar without pct-encoded, plus "/": bytes a path may hold as they are.
_PATH_BYTES: Final = _UNRESERVED | frozenset(b"!$&'()*+,;=:@/")
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_ABSOLUTE_FORM: Final = re.compile(rb"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)$", re.DOTALL)
# RFC 9110 §7.2: Host = uri-host [ ":" port ]; uri-host is an IP-literal or a reg-name.
_HOST_VALUE: Final = re.compile(
    rb"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(:[0-9]{0,5})?$"
)
_USERINFO: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#]*@")


class _ClientDisconnectedError(Exception):
    """The client left while its request body was still being forwarded."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """A validated upstream base URL; `display` is safe to log."""

    scheme: str
    host: str
    port: int | None
    base_path: bytes
    authorization: bytes | None
    display: str


def redact_url(url: str) -> str:
    """`url` with any userinfo replaced by `***`, for logs and messages."""
    return _USERINFO.sub(r"\1***@", url)


def parse_upstream(url: str) -> Upstream:
    """Validate an upstream base URL (`http[s]://[user:pw@]host[:port][/base]`).

    Raises `ValueError` naming `upstream` and the reason; the URL in the message is redacted.
    """
    if not isinstance(url, str):
        raise TypeError(f"upstream: expected a URL string, got {type(url).__name__}")
    shown = redact_url(url)
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise ValueError(f"upstream: a URL cannot hold spaces or control characters: {shown!r}")
    if "?" in url or "#" in url:
        raise ValueError(f"upstream: a query or fragment cannot be used, got {shown!r}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"upstream: not a URL: {shown!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or "://" not in url:
        raise ValueError(f"upstream: expected an http:// or https:// URL, got {shown!r}")
    if not parsed.host:
        raise ValueError(f"upstream: the URL has no host: {shown!r}")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError(f"upstream: port {parsed.port} is not in 1..65535: {shown!r}")
    try:
        base_path = normalize_path(parsed.raw_path).rstrip(b"/")
    except TargetError as exc:
        reason = exc.reason
        raise ValueError(f"upstream: the base path is not usable ({reason}): {shown!r}") from None
    authorization = None
    if parsed.userinfo:
        credentials = f"{parsed.username}:{parsed.password}".encode()
        authorization = b"Basic " + base64.b64encode(credentials)
    return Upstream(
        scheme=parsed.scheme,
        host=parsed.host,
        port=parsed.port,
        base_path=base_path,
        authorization=authorization,
        display=redact_url(str(parsed.copy_with(raw_path=base_path or b"/"))).rstrip("/"),
    )


class TargetError(Exception):
    """A request target the proxy refuses, with the status to answer and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def normalize_path(raw_path: bytes) -> bytes:
    """The normal form of a percent-encoded absolute path (RFC 3986 §6.2.2).

    Unreserved characters are decoded, other escapes upper-cased, bytes a path cannot hold
    escaped, dot segments removed (§5.2.4) and empty segments merged. Raises `TargetError`
    for a malformed escape, a control character or backslash, or a path whose `%2F` escapes
    would, decoded, make a dot segment or an empty segment.
    """
    if not raw_path.startswith(b"/"):
        raise TargetError(400, "the path must start with '/'")
    escaped = _normalize_escapes(raw_path)
    segments: list[bytes] = []
    for segment in escaped.split(b"/")[1:]:
        if segment == b".":
            continue
        if segment == b"..":
            if segments:
                segments.pop()
            continue
        if segment:
            segments.append(segment)
    # A trailing slash or dot segment names the directory, as §5.2.4 keeps it.
    last = escaped.rsplit(b"/", 1)[1]
    has_trailing_slash = last in (b"", b".", b"..") and bool(segments)
    normal = b"/" + b"/".join(segments) + (b"/" if has_trailing_slash else b"")
    decoded = unquote(normal.decode("ascii"))
    if "\\" in decoded or any(ord(char) < 0x20 or ord(char) == 0x7F for char in decoded):
        raise TargetError(400, "the path holds a control character or a backslash")
    if re.search(r"//|/\.\.?(/|$)", decoded):
        raise TargetError(400, "the path holds an encoded '/' that makes a dot or empty segment")
    return normal


def _normalize_escapes(raw_path: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(raw_path):
        byte = raw_path[index]
        if byte == 0x25:  # "%"
            hex_digits = raw_path[index + 1 : index + 3]
            if len(hex_digits) != 2 or not set(hex_digits) <= _HEX:
                raise TargetError(400, "the path holds a malformed '%' escape")
            value = int(hex_digits, 16)
            out += bytes([value]) if value in _UNRESERVED else b"%" + hex_digits.upper()
            index += 3
            continue
        if byte in (0x3F, 0x23):  # "?" and "#" end a path; a fragment is never sent.
            raise TargetError(400, "the path holds '?' or '#'")
        out += bytes([byte]) if byte in _PATH_BYTES else b"%%%02X" % byte
        index += 1
    return bytes(out)


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """What a request asks for, read from an ASGI scope.

    `raw_path` is the normal, percent-encoded path below `root_path`; `host` the authority of
    an absolute-form target (RFC 9112 §3.2.2: it replaces the Host header); `is_normal` tells
    whether the scope already held the normal form.
    """

    raw_path: bytes
    query: bytes
    host: bytes | None
    is_asterisk: bool
    is_normal: bool


def read_request_target(scope: Scope) -> RequestTarget:
    """The scope's request target, normalised; raises `TargetError` for one to refuse."""
    query: bytes = scope.get("query_string", b"")
    route_raw_path = _route_raw_path(scope)
    if len(route_raw_path) + len(query) > MAX_TARGET_LENGTH:
        raise TargetError(414, f"the request target is longer than {MAX_TARGET_LENGTH} bytes")
    if b"#" in query or any(byte < 0x21 or byte == 0x7F for byte in query):
        raise TargetError(400, "the query holds a fragment, a space or a control character")
    # Bytes past ASCII are no part of a URI (RFC 3986 §2): sent on percent-encoded.
    query = quote(query, safe=bytes(range(0x21, 0x7F)).decode("ascii")).encode("ascii")
    if scope.get("method") == "CONNECT":
        raise TargetError(405, "CONNECT is not proxied")
    if route_raw_path == b"*":
        # RFC 9112 §3.2.4: the asterisk-form is for OPTIONS only.
        if scope.get("method") != "OPTIONS":
            raise TargetError(400, "the '*' target is for OPTIONS only")
        return RequestTarget(b"*", query, None, is_asterisk=True, is_normal=True)
    host: bytes | None = None
    path = route_raw_path
    if absolute := _ABSOLUTE_FORM.match(route_raw_path):
        scheme, host, path = absolute.groups()
        if scheme.lower() not in (b"http", b"https"):
            raise TargetError(400, "an absolute-form target must be an http or https URI")
        # RFC 9110 §4.2.4: userinfo in an http(s) URI is to be treated as an error.
        if not _HOST_VALUE.match(host):
            raise TargetError(400, "the absolute-form target's authority is not a host")
        path = path or b"/"
    normal = normalize_path(path)
    return RequestTarget(
        normal, query, host, is_asterisk=False, is_normal=host is None and normal == path
    )


def _route_raw_path(scope: Scope) -> bytes:
    """The raw path below `root_path`, which (ASGI 2.x, Starlette's rule) `path` includes."""
    path: str = scope.get("path", "")
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is None:
        raw_path = _quoted_path(path)
    root_path: str = scope.get("root_path", "")
    if not root_path or root_path == "/":
        return raw_path
    # uvicorn prefixes raw_path with root_path as it is; Starlette's Mount leaves the raw
    # path alone, which then holds the root path as the client encoded it.
    stripped_root = root_path.rstrip("/")
    for raw_root in dict.fromkeys((stripped_root.encode("utf-8"), _quoted_path(stripped_root))):
        if raw_path == raw_root:
            return b"/"
        if raw_path.startswith(raw_root + b"/"):
            return raw_path[len(raw_root) :]
    if path == stripped_root or path.startswith(stripped_root + "/"):
        return _quoted_path(path[len(stripped_root) :] or "/")
    # A server that leaves root_path out of path (ASGI before 2.x clarified it).
    return raw_path


def _quoted_path(path: str) -> bytes:
    """A decoded path percent-encoded again, sub-delimiters and `:@` kept (RFC 3986 §3.3)."""
    return quote(path, safe="/!$&'()*+,;=:@~").encode("ascii")


def _host_header_value(scope: Scope) -> bytes | None:
    """The request's one Host header; raises `TargetError` when there are several or it is bad."""
    values = [value for name, value in scope.get("headers", ()) if name.lower() == b"host"]
    if len(values) > 1:
        raise TargetError(400, "more than one Host header")
    # RFC 9112 §3.2: an empty Host is valid, for a target URI without an authority.
    if values and values[0] and not _HOST_VALUE.match(values[0]):
        raise TargetError(400, "the Host header is not a host")
    return values[0] if values else None


class TargetNormalizer:
    """ASGI middleware giving the app below a normal `path` and `raw_path`, or a 400.

    Placed outside `ReasoningMiddleware`, it makes the middleware's `paths` match the path the
    upstream will serve. Non-http scopes pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _host_header_value(scope)
            target = read_request_target(scope)
        except TargetError as exc:
            await _send_refusal(send, exc)
            return
        if target.is_normal:
            await self.app(scope, receive, send)
            return
        root_path: str = (scope.get("root_path") or "").rstrip("/")
        headers = list(scope.get("headers", ()))
        if target.host is not None:
            headers = [(name, value) for name, value in headers if name.lower() != b"host"]
            headers.append((b"host", target.host))
        normal_scope = {
            **scope,
            "path": root_path + unquote(target.raw_path.decode("ascii")),
            "raw_path": _quoted_path(root_path) + target.raw_path,
            "headers": headers,
        }
        await self.app(normal_scope, receive, send)


class TrustedProxies:
    """Client addresses whose forwarding headers are believed, as uvicorn's
    `--forwarded-allow-ips`: IP addresses, networks (`10.0.0.0/8`) or `*` for every client.
    """

    def __init__(self, allow: str | Sequence[str]) -> None:
        entries = allow.split(",") if isinstance(allow, str) else list(allow)
        self.trusts_all = False
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in (entry.strip() for entry in entries):
            if not entry:
                continue
            if entry == "*":
                self.trusts_all = True
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"forwarded_allow_ips: not an IP address or network: {entry!r}"
                ) from None

    def __contains__(self, address: object) -> bool:
        if self.trusts_all:
            return True
        if not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)


def make_proxy_app(
    upstream: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    forwarded_allow_ips: str | Sequence[str] = DEFAULT_FORWARDED_ALLOW_IPS,
) -> ProxyApp:
    """An ASGI app forwarding every HTTP request to `upstream` (`http://host:port[/prefix]`).

    `timeout` bounds each wait for upstream bytes (a reasoning model may think for minutes
    before its first token in a non-streaming request); `connect_timeout` bounds the connection;
    `forwarded_allow_ips` names the clients whose `X-Forwarded-*` headers are kept.
    """
    return ProxyApp(
        upstream,
        timeout=timeout,
        connect_timeout=connect_timeout,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def make_reasoning_proxy(
    upstream: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    forwarded_allow_ips: str | Sequence[str] = DEFAULT_FORWARDED_ALLOW_IPS,
    **middleware_kwargs: Any,
) -> ASGIApp:
    """The proxy the `asgi-reasoning proxy` command serves: normaliser, middleware, proxy.

    `middleware_kwargs` are `ReasoningMiddleware`'s; errors name the argument.
    """
    proxy_app = make_proxy_app(
        upstream,
        timeout=timeout,
        connect_timeout=connect_timeout,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    return TargetNormalizer(ReasoningMiddleware(proxy_app, **middleware_kwargs))


class ProxyApp:
    """The ASGI app returned by `make_proxy_app`."""

    def __init__(
        self,
        upstream: str,
        *,
        timeout: float,
        connect_timeout: float,
        forwarded_allow_ips: str | Sequence[str] = DEFAULT_FORWARDED_ALLOW_IPS,
    ) -> None:
        self._upstream = parse_upstream(upstream)
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not value > 0:
                raise ValueError(f"{name}: expected a positive number of seconds, got {value!r}")
        self._trusted = TrustedProxies(forwarded_allow_ips)
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._shared_client: httpx.AsyncClient | None = None

    @property
    def upstream(self) -> str:
        """The upstream base URL, credentials masked: safe to log."""
        return self._upstream.display

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                target = self._checked_target(scope)
            except TargetError as exc:
                await _send_refusal(send, exc)
                return
            if target.is_asterisk:
                # RFC 9110 §9.3.7: OPTIONS * asks about the server itself; there is no one
                # upstream resource to forward it to, and an empty 200 is a valid answer.
                headers = [(b"content-length", b"0")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif self._shared_client is not None:
                await self._proxy(self._shared_client, target, scope, receive, send)
            else:
                async with self._new_client() as client:
                    await self._proxy(client, target, scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)
        elif scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1003})

    def _checked_target(self, scope: Scope) -> RequestTarget:
        _host_header_value(scope)
        target = read_request_target(scope)
        if not target.is_normal:
            raise TargetError(
                400,
                "the request target is not in normal form (serve ProxyApp behind "
                "TargetNormalizer to have it normalised)",
            )
        if unquote(target.raw_path.decode("ascii")) != _route_path(scope):
            raise TargetError(400, "the request's path and raw_path disagree")
        return target

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
        self,
        client: httpx.AsyncClient,
        target: RequestTarget,
        scope: Scope,
        receive: Receive,
        send: Send,
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
            self._target_url(target),
            headers=self._request_headers(scope, is_streamed=not isinstance(content, bytes)),
            content=content,
        )
        is_bodiless = scope["method"] == "HEAD"
        root_path = _quoted_path((scope.get("root_path") or "").rstrip("/")).decode("ascii")

        failure: Exception | None = None
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(
                _cancel_on_disconnect, receive, body_forwarded, task_group.cancel_scope
            )
            try:
                await self._exchange(
                    client, request, send, is_bodiless=is_bodiless, root_path=root_path
                )
            except Exception as exc:
                # Kept out of the task group, which would wrap it in an ExceptionGroup.
                failure = exc
            task_group.cancel_scope.cancel()
        if failure is not None:
            raise failure

    def _target_url(self, target: RequestTarget) -> httpx.URL:
        # From parts, never by joining strings: the request adds a path and a query only.
        raw_path = self._upstream.base_path + target.raw_path
        if target.query:
            raw_path += b"?" + target.query
        return httpx.URL(
            scheme=self._upstream.scheme,
            host=self._upstream.host,
            port=self._upstream.port,
            raw_path=raw_path,
        )

    def _request_headers(self, scope: Scope, *, is_streamed: bool) -> RawHeaders:
        headers = [(name.lower(), value) for name, value in scope.get("headers", ())]
        connection_tokens = _connection_tokens(headers)
        client = scope.get("client")
        client_host = client[0] if client else None
        is_trusted = client_host in self._trusted
        replaced = set(_REQUEST_HEADERS_REPLACED)
        if not is_trusted:
            replaced |= _FORWARDING_HEADERS
        if self._upstream.authorization is not None:
            replaced.add(b"authorization")
        forwarded = [
            (name, value)
            for name, value in headers
            if not _is_hop_by_hop(name, connection_tokens)
            and name not in replaced
            and name != b"x-forwarded-for"
            # httpx sets content-length for a body it has whole; a streamed one keeps the client's.
            and (is_streamed or name != b"content-length")
        ]
        forwarded.append((b"accept-encoding", b"identity"))
        if self._upstream.authorization is not None:
            forwarded.append((b"authorization", self._upstream.authorization))
        # The de facto X-Forwarded-* rules (MDN; nginx's $proxy_add_x_forwarded_for).
        chain = (
            [value for name, value in headers if name == b"x-forwarded-for"] if is_trusted else []
        )
        if client_host:
            chain.append(client_host.encode("latin-1"))
        if chain:
            forwarded.append((b"x-forwarded-for", b", ".join(chain)))
        present = {name for name, _ in forwarded}
        if b"x-forwarded-proto" not in present:
            scheme: str = scope.get("scheme", "http")
            forwarded.append((b"x-forwarded-proto", scheme.encode("latin-1")))
        host = next((value for name, value in headers if name == b"host"), None)
        if b"x-forwarded-host" not in present and host:
            forwarded.append((b"x-forwarded-host", host))
        return forwarded

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        send: Send,
        *,
        is_bodiless: bool,
        root_path: str,
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
            is_decoded = not is_bodiless and _is_decodable(response)
            headers = [
                (name, self._public_location(value, root_path) if name == b"location" else value)
                for name, value in _response_headers(response.headers.raw, is_decoded=is_decoded)
            ]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": headers}
            )
            # aiter_raw: the bytes as sent, matching any content-encoding header kept;
            # aiter_bytes: decoded by httpx, once the encoding header is gone.
            chunks = response.aiter_bytes() if is_decoded else response.aiter_raw()
            async for chunk in chunks:
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

    def _public_location(self, location: bytes, root_path: str) -> bytes:
        """A `Location` into the upstream, as the client must follow it: through the proxy.

        As nginx's default `proxy_redirect`: the upstream's own URL (and base path) becomes an
        absolute-path reference (RFC 9110 §10.2.2) under `root_path`, so that a redirect never
        sends a client around the proxy, nor names the upstream's address. The client's Host
        header is not used, so it cannot steer the redirect elsewhere.
        """
        text = location.decode("latin-1")
        upstream = self._upstream
        base = upstream.base_path.decode("ascii")
        host = f"[{upstream.host}]" if ":" in upstream.host else upstream.host
        default_port = 443 if upstream.scheme == "https" else 80
        origin = f"{upstream.scheme}://{host}".lower()
        # Scheme and host compare case-insensitively (RFC 3986 §6.2.2.1), the path exactly.
        origins = [f"{origin}:{upstream.port or default_port}"]
        if upstream.port in (None, default_port):
            origins.append(origin)
        path: str | None = text
        if not text.startswith("/") or text.startswith("//"):
            path = next((text[len(o) :] for o in origins if text[: len(o)].lower() == o), None)
        if path is None or (path and path[0] not in "/?#"):
            return location
        if not path.startswith(base) or path[len(base) : len(base) + 1] not in ("", "/", "?", "#"):
            return location
        rest = path[len(base) :]
        if not rest.startswith("/"):
            rest = "/" + rest
        return (root_path + rest).encode("latin-1")


def _route_path(scope: Scope) -> str:
    """Starlette's `get_route_path`: the decoded path below `root_path`."""
    path: str = scope.get("path", "")
    root_path = (scope.get("root_path") or "").rstrip("/")
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        return path[len(root_path) :] or "/"
    return path


def _is_decodable(response: httpx.Response) -> bool:
    """Whether httpx can decode every content coding the response names."""
    codings = [
        coding.strip().lower()
        for coding in response.headers.get_list("content-encoding", split_commas=True)
    ]
    codings = [coding for coding in codings if coding and coding != "identity"]
    return (
        bool(codings)
        and all(coding in _DECODABLE for coding in codings)
        and response.status_code not in (204, 206, 304)
        and "content-range" not in response.headers
    )


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


def _response_headers(headers: Iterable[tuple[bytes, bytes]], *, is_decoded: bool) -> RawHeaders:
    headers = list(headers)
    connection_tokens = _connection_tokens(headers)
    kept: RawHeaders = []
    for name, value in ((name.lower(), value) for name, value in headers):
        if _is_hop_by_hop(name, connection_tokens) or name in _RESPONSE_HEADERS_REPLACED:
            continue
        if is_decoded and name in _ENCODED_BODY_HEADERS:
            continue
        if is_decoded and name == b"etag" and not value.startswith(b"W/"):
            # The decoded bytes differ from the ones the strong validator named.
            value = b"W/" + value
        kept.append((name, value))
    return kept


async def _send_refusal(send: Send, error: TargetError) -> None:
    kind = "invalid_request_error" if error.status != 405 else "method_not_allowed"
    await _send_error(send, error.status, error.reason, kind)


async def _send_bad_gateway(send: Send, message: str) -> None:
    await _send_error(send, 502, message, "upstream_error")


async def _send_error(send: Send, status: int, message: str, kind: str) -> None:
    error = {"error": {"message": message, "type": kind, "code": status}}
    body = json.dumps(error).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
    except OSError:
        logger.debug("client left before the %d was sent", status)
