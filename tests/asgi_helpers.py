"""A recorder for ASGI tests: hand-built scopes, a scripted ``receive``, every sent message kept.

Recorder tests call an application directly, so they see each ``send`` the middleware makes,
in order, with the exact bytes and headers (``httpx.ASGITransport`` would join the body).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.apis.base import UnfilterableError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import anyio

    from asgi_reasoning.apis.base import WireAPI
    from asgi_reasoning.asgi import ASGIApp, Message, Receive, Scope, Send
    from asgi_reasoning.policy import Policy

JSONObject = dict[str, Any]
Headers = list[tuple[bytes, bytes]]

CHAT_PATH: Final = "/v1/chat/completions"
SSE_HEADERS: Final[Headers] = [(b"content-type", b"text/event-stream; charset=utf-8")]
JSON_TYPE: Final = (b"content-type", b"application/json")
# SSE: an event ends at a blank line; lines end with CRLF, LF or CR.
EVENT_END: Final = re.compile(rb"\r\n\r\n|\n\n|\r\r")
LINE_END: Final = re.compile(r"\r\n|\n|\r")


def http_scope(
    path: str = CHAT_PATH,
    *,
    method: str = "POST",
    headers: Headers | None = None,
    root_path: str = "",
    extensions: Mapping[str, Any] | None = None,
) -> Scope:
    """An ``http`` scope as a server builds it."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    if extensions is not None:
        scope["extensions"] = dict(extensions)
    return scope


class ScriptedReceive:
    """Returns the scripted messages in order, then ``http.disconnect``.

    ASGI: once the request is read, ``receive`` blocks until the client goes away. With
    ``disconnect`` given, that happens when the event is set; otherwise at once.
    """

    def __init__(
        self, messages: Iterable[Message] = (), *, disconnect: anyio.Event | None = None
    ) -> None:
        self.messages = list(messages)
        self.disconnect = disconnect
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        if self.messages:
            return self.messages.pop(0)
        if self.disconnect is not None:
            await self.disconnect.wait()
        return {"type": "http.disconnect"}


def request_messages(body: bytes, *, parts: int = 1) -> list[Message]:
    """``body`` as ``parts`` ``http.request`` messages of nearly equal size."""
    size = -(-len(body) // parts) if body else 0
    pieces = [body[i * size : (i + 1) * size] for i in range(parts)]
    return [
        {"type": "http.request", "body": piece, "more_body": i < parts - 1}
        for i, piece in enumerate(pieces)
    ]


def json_request(request: Mapping[str, Any] | None = None) -> ScriptedReceive:
    """A ``receive`` that delivers ``request`` (a chat request by default) as the body."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **(request or {})}
    return ScriptedReceive(request_messages(json.dumps(body).encode()))


class Recorder:
    """A ``send`` that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def types(self) -> list[str]:
        return [str(message["type"]) for message in self.messages]

    @property
    def start(self) -> Message:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.types
        return starts[0]

    @property
    def headers(self) -> Headers:
        return [(bytes(name), bytes(value)) for name, value in self.start.get("headers", ())]

    def header(self, name: bytes) -> bytes | None:
        values = [value for key, value in self.headers if key.lower() == name]
        assert len(values) <= 1, values
        return values[0] if values else None

    @property
    def body_messages(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(bytes(m.get("body", b"")) for m in self.body_messages)

    def assert_complete(self) -> None:
        """Exactly one final body message, and it is the last body message."""
        finals = [m for m in self.body_messages if not m.get("more_body", False)]
        assert len(finals) == 1, self.types
        assert self.body_messages[-1] is finals[0]


async def record(
    app: ASGIApp, scope: Scope | None = None, receive: Receive | None = None
) -> Recorder:
    """Call ``app`` once and return what it sent."""
    recorder = Recorder()
    await app(
        http_scope() if scope is None else scope,
        json_request() if receive is None else receive,
        recorder,
    )
    return recorder


def compact(value: object) -> bytes:
    """JSON as vLLM and the OpenAI API write it: compact, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def completion(
    content: str | None,
    *,
    finish_reason: str | None = "stop",
    message: Mapping[str, Any] | None = None,
) -> JSONObject:
    """A non-streaming ``chat.completion`` with one choice."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **(message or {})},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


def chunk(
    content: str | None = None,
    *,
    index: int = 0,
    finish_reason: str | None = None,
    delta: Mapping[str, Any] | None = None,
    chunk_id: str = "chatcmpl-1",
) -> JSONObject:
    """A ``chat.completion.chunk`` with one choice whose delta carries ``content``."""
    body: JSONObject = {} if content is None else {"content": content}
    return {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": index,
                "delta": {**body, **(delta or {})},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
    }


def sse_event(data: object, *, line_ending: bytes = b"\n", name: str | None = None) -> bytes:
    """One ``data:`` event; ``data`` is JSON-encoded unless it already is bytes.

    ``name`` adds an ``event:`` line first, as the Responses and Messages APIs send.
    """
    payload = data if isinstance(data, bytes) else compact(data)
    event_line = b"" if name is None else b"event: " + name.encode() + line_ending
    return event_line + b"data: " + payload + line_ending + line_ending


def content_stream(tokens: Iterable[str], *, line_ending: bytes = b"\n") -> list[bytes]:
    """A vLLM-style stream: a role chunk, one chunk per token, a finish chunk, ``[DONE]``."""
    chunks = [chunk("", delta={"role": "assistant"})]
    chunks += [chunk(token) for token in tokens]
    chunks.append(chunk(None, finish_reason="stop"))
    events = [sse_event(c, line_ending=line_ending) for c in chunks]
    return [*events, sse_event(b"[DONE]", line_ending=line_ending)]


@dataclass(frozen=True, slots=True)
class ResponseApp:
    """An app that answers every request with ``start`` and then ``messages``, as given."""

    start: Message
    messages: Sequence[Message]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(dict(self.start))
        for message in self.messages:
            await send(dict(message))


def response_app(
    parts: Sequence[bytes],
    *,
    status: int = 200,
    headers: Headers | None = None,
    content_length: bool = True,
) -> ResponseApp:
    """An app sending ``parts`` as body messages, the last one final.

    ``headers`` defaults to JSON; a ``content-length`` for the whole body is added.
    """
    raw_headers = list(headers if headers is not None else [JSON_TYPE])
    if content_length:
        size = sum(map(len, parts))
        raw_headers.append((b"content-length", str(size).encode()))
    bodies: list[Message] = [
        {"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    return ResponseApp(
        {"type": "http.response.start", "status": status, "headers": raw_headers}, bodies
    )


def json_app(value: object, *, status: int = 200, headers: Headers | None = None) -> ResponseApp:
    """An app answering with ``value`` as one JSON body with its ``Content-Length``."""
    return response_app([compact(value)], status=status, headers=headers)


def sse_app(events: Sequence[bytes], *, headers: Headers | None = None) -> ResponseApp:
    """An app streaming each of ``events`` in its own body message, then an empty final one."""
    return response_app(
        [*events, b""],
        headers=list(SSE_HEADERS if headers is None else headers),
        content_length=False,
    )


def split_events(body: bytes) -> list[bytes]:
    """The raw bytes of each event, terminator included; an unterminated tail is kept."""
    events: list[bytes] = []
    position = 0
    for match in EVENT_END.finditer(body):
        events.append(body[position : match.end()])
        position = match.end()
    if position < len(body):
        events.append(body[position:])
    return events


def event_data(raw_event: bytes) -> str | None:
    """The ``data`` of one event (lines joined with LF), or ``None`` without a data line."""
    lines = [
        line[5:].removeprefix(" ")
        for line in LINE_END.split(raw_event.decode("utf-8"))
        if line.startswith("data:")
    ]
    return "\n".join(lines) if lines else None


def chunks_in(body: bytes) -> list[JSONObject]:
    """Every ``chat.completion.chunk`` in a stream body, in order."""
    chunks = []
    for data in map(event_data, split_events(body)):
        if data is None or data == "[DONE]":
            continue
        value = json.loads(data)
        if isinstance(value, dict) and value.get("object") == "chat.completion.chunk":
            chunks.append(value)
    return chunks


def deltas_in(body: bytes, index: int = 0) -> list[JSONObject]:
    """The deltas of choice ``index``, in stream order."""
    return [
        choice["delta"]
        for c in chunks_in(body)
        for choice in c["choices"]
        if choice.get("index", 0) == index
    ]


@dataclass(frozen=True, slots=True)
class Assembled:
    """What a streaming client puts together for one choice."""

    reasoning: str
    content: str


def assemble(body: bytes, index: int = 0, field: str = "reasoning_content") -> Assembled:
    reasoning = content = ""
    for delta in deltas_in(body, index):
        reasoning += delta.get(field) or ""
        content += delta.get("content") or ""
    return Assembled(reasoning, content)


def message_of(body: bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(body)["choices"][0]["message"]
    return message


async def assert_forwarded_unchanged(
    app: ResponseApp, scope: Scope | None = None, **options: Any
) -> None:
    """The middleware sends exactly what ``app`` sends on its own."""
    direct = await record(app, scope)
    wrapped = await record(ReasoningMiddleware(app, **options), scope)
    assert wrapped.messages == direct.messages


async def strip_stream_body(
    events: Sequence[JSONObject],
    *,
    path: str,
    request: JSONObject,
    preset: str,
    line_ending: bytes,
    cuts: Sequence[int],
    by_request: bool,
) -> bytes:
    """What a client reads of ``events`` (named SSE events, cut at ``cuts``) under strip.

    Strip is configured, or (``by_request``) asked for by the request, as a request may move
    toward strip. Every event sent must be valid JSON.
    """
    body = b"".join(
        sse_event(event, line_ending=line_ending, name=str(event["type"])) for event in events
    )
    points = sorted({cut % (len(body) + 1) for cut in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in itertools.pairwise(points)]
    options: dict[str, Any] = {"preset": preset}
    if by_request:
        request = {**request, "reasoning_format": "hidden"}
    else:
        options["mode"] = "strip"
    app = ReasoningMiddleware(sse_app(chunks), **options)
    recorder = await record(app, http_scope(path), json_request(request))
    for raw in split_events(recorder.body):
        text = event_data(raw)
        if text is not None:
            json.loads(text)
    return recorder.body


def rewritten_stream(
    api: WireAPI, stream: Sequence[JSONObject], policy: Policy
) -> list[JSONObject]:
    """The events a client gets of ``stream`` from ``api``'s rewriter, as parsed JSON.

    An ``error`` event ends them where strip failed closed (``UnfilterableError``).
    """
    rewriter = api.new_stream(policy, {})
    out: list[JSONObject] = []
    try:
        for event in stream:
            rewritten = rewriter.rewrite(json.loads(json.dumps(event)))
            out += [event] if rewritten is None else rewritten
        out += rewriter.flush()
    except UnfilterableError:
        out.append(api.error_event("withheld"))
    return out
