"""``ReasoningMiddleware``: the ASGI plumbing around the pure rewriting modules.

Only ``http`` requests to matching paths are looked at. The response is taken on, or
left alone, from its ``http.response.start`` message alone: status 200, no
``content-encoding``, and ``text/event-stream`` (rewritten as it streams) or
``application/json`` (buffered, bounded, rewritten whole). Everything else is forwarded
as it came, except under strip, which fails closed (DESIGN.md §17): a 200 it cannot read
becomes the API's error. The API shape (``apis/``) is picked from the path; when ``history``
or ``effort`` apply, the app receives the rewritten request (§15). Per-request state lives in
``__call__``; the instance holds configuration only.

Intentional divergences:

1. A compressed body is not decompressed: compression middleware must sit outside this one
   (add ``GZipMiddleware`` after ``ReasoningMiddleware``), so that it compresses the
   rewritten body.
2. A rewritten JSON body loses ``Content-MD5`` and ``Digest`` headers and its strong
   ``ETag`` becomes weak (``W/"…"``): the bytes changed, the meaning did not.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from typing import TYPE_CHECKING, Any, Final, Literal

from .apis import api_for_path
from .apis.chat_completions import ChatCompletionsAPI
from .bodies import (
    CLOSED_STATUS,
    FailedClosed,
    SSEBodyRewriter,
    closed_json_body,
    closed_sse_body,
    rewrite_json_body,
)
from .config import DEFAULT_MAX_BODY_SIZE, DEFAULT_PATHS, make_config
from .history import DEFAULT_HISTORY_FIELD
from .policy import decide_policy
from .wire import json as _json

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable, Mapping, Sequence

    from .apis.base import WireAPI
    from .asgi import ASGIApp, Message, Receive, Scope, Send
    from .config import (
        Config,
        EffortOption,
        HistoryOption,
        Mode,
        ModelSettings,
        ResponsesReasoning,
        StartsInReasoning,
    )

logger = logging.getLogger("asgi_reasoning")

Headers = list[tuple[bytes, bytes]]
# "encoded": an SSE or JSON body under a content-encoding, which is not read; "other": a 200
# of another media type. Both pass through, except under strip (DESIGN.md §17).
BodyKind = Literal["sse", "json", "encoded", "other"]

_CHAT_COMPLETIONS: Final = ChatCompletionsAPI()
# Headers that describe the exact bytes of a body, which a rewrite changes.
DIGEST_HEADERS: Final = frozenset({b"content-md5", b"digest", b"content-digest", b"repr-digest"})


class ReasoningMiddleware:
    """Move reasoning out of the answer in Chat Completions, Responses and Messages, as it streams.

    Args:
        app: the ASGI application to wrap.
        preset: model family whose markers and start state to use (``"think"``,
            ``"deepseek_r1"``, ``"qwen3"``, ``"auto"``, ...; see ``PRESETS``).
        tags: ``[(start, end), ...]`` marker pairs replacing the preset's.
        starts_in_reasoning: ``True`` when the chat template pre-fills the opener, so the
            output starts inside reasoning; ``False`` never; ``None`` lets the preset and
            the request's ``chat_template_kwargs`` decide; or a callable taking the request
            JSON and returning a bool.
        mode: ``"separate"`` moves reasoning to ``field``; ``"strip"`` drops it;
            ``"passthrough"`` changes nothing unless a request opts in.
        field: the reasoning field's name (``"reasoning_content"`` or ``"reasoning"``), or a
            tuple of names to write all of them.
        paths: ``fnmatch`` patterns of request paths to rewrite; others pass untouched.
        request_overrides: honour per-request switches such as ``include_reasoning`` and
            ``reasoning_format``.
        max_body_size: largest request body read, and largest JSON response buffered, in
            bytes; past it the exchange passes through unchanged.
        responses_reasoning: where the Responses API gets split reasoning: ``"summary"``
            (summary parts and ``reasoning_summary_text`` events: what Codex CLI and the
            AI SDK show), ``"text"`` (``reasoning_text`` content parts, as vLLM sends them)
            or ``"both"`` (some clients then show the text twice).
        signature: the ``signature`` of Messages API ``thinking`` blocks made from text.
        models: per-model settings, ``{glob: preset_name or {option: value}}``: the first
            glob matching the request's ``model`` (``fnmatch``, case-insensitive) wins, and
            its options override these (any of them but ``paths`` and ``max_body_size``).
        history: what the app receives of the reasoning in earlier assistant turns:
            ``"keep"`` (unchanged), ``"field"`` (in ``history_field``), ``"inline"`` (back
            in the content between the preset's markers), ``"strip"`` (removed),
            ``"harmony"`` (gpt-oss: kept only for tool calls after the last answer), or
            ``"auto"`` (the preset's documented rule).
        history_field: the field ``history="field"`` writes, the one the server reads
            (``"reasoning"`` for vLLM, ``"reasoning_content"`` for SGLang and llama.cpp).
        effort: ``True`` turns the client's ``reasoning_effort`` (Responses
            ``reasoning.effort``, Messages ``thinking``) into the preset's chat-template
            switch when the client set none; a string names a boolean
            ``chat_template_kwargs`` key to use instead; ``False`` (default) does nothing.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        preset: str = "think",
        tags: Sequence[tuple[str, str]] | None = None,
        starts_in_reasoning: StartsInReasoning = None,
        mode: Mode = "separate",
        field: str | tuple[str, ...] = "reasoning_content",
        paths: str | Sequence[str] = DEFAULT_PATHS,
        request_overrides: bool = True,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        responses_reasoning: ResponsesReasoning = "summary",
        signature: str = "",
        models: ModelSettings | None = None,
        history: HistoryOption = "keep",
        history_field: str = DEFAULT_HISTORY_FIELD,
        effort: EffortOption = False,
    ) -> None:
        self.app = app
        self.config = make_config(
            preset=preset,
            tags=tags,
            starts_in_reasoning=starts_in_reasoning,
            mode=mode,
            field=field,
            paths=paths,
            request_overrides=request_overrides,
            max_body_size=max_body_size,
            responses_reasoning=responses_reasoning,
            signature=signature,
            models=models,
            history=history,
            history_field=history_field,
            effort=effort,
        )
        self._path_pattern = re.compile("|".join(map(fnmatch.translate, self.config.paths)))
        # Whether any request, for any model, may be rewritten: read once, not per request.
        self._may_rewrite_requests = self.config.rewrites_requests
        self._has_warned_encoded = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        method = scope.get("method")
        if scope["type"] != "http" or method == "HEAD" or not self._path_pattern.match(path):
            await self.app(scope, receive, send)
            return

        # A matched path that no API claims by its last segments is read as Chat
        # Completions, the one API of the 0.1 releases.
        api = api_for_path(path) or _CHAT_COMPLETIONS
        config = self.config
        max_body_size = config.max_body_size
        request: object = None
        server_receive = receive
        if method == "POST":
            if _declared_length(scope) > max_body_size:
                # Known to be too large before a byte is read: the app reads it itself.
                logger.warning(
                    "request body larger than max_body_size (%d bytes); not read", max_body_size
                )
            else:
                request, receive = await self._read_request(receive)
        body = request if isinstance(request, dict) else None
        if body is not None and config.models:
            config = config.for_model(body.get("model"))
        if body is not None and self._may_rewrite_requests and config.rewrites_requests:
            rewritten = _rewrite_request(api, body, config)
            if rewritten is not None:
                body, encoded = rewritten
                # The app reads the new body whole, then the server's own messages.
                scope = {**scope, "headers": _with_content_length(scope, len(encoded))}
                request_message = {"type": "http.request", "body": encoded, "more_body": False}
                receive = _replay([request_message], server_receive)
        thinking = api.thinking_requested(body) if body is not None else None
        policy = decide_policy(config, body, thinking=thinking)
        if policy.mode == "passthrough":
            await self.app(scope, receive, send)
            return
        # The stream rewriter is made only if the response is a stream; the parsed request
        # (a whole conversation) need not live as long as the response, only what it keeps.
        stream_request = None if body is None else api.stream_request(body)
        del request, body

        is_strip = policy.mode == "strip"
        held_start: Message | None = None
        stream: SSEBodyRewriter | None = None
        json_parts: list[bytes] = []
        json_size = 0
        # Strip failed closed and the response was ended: nothing more of the app's goes out.
        has_ended = False

        def send_wrapper(message: Message) -> Awaitable[None]:
            # A plain function, not a coroutine function: a body message of a stream is
            # rewritten here and the server's own awaitable returned, so that no coroutine
            # of ours is made per event. Everything else goes to `send_other`.
            nonlocal has_ended
            if stream is None or has_ended or message["type"] != "http.response.body":
                return send_other(message)
            more_body = message.get("more_body", False)
            original = message.get("body", b"")
            rewritten = stream.feed(original)
            if stream.has_ended:
                has_ended = True
                return send({"type": "http.response.body", "body": rewritten})
            if not more_body:
                rewritten += stream.finish()
            if rewritten is original:
                return send(message)
            if rewritten or not more_body:
                return send({**message, "body": rewritten})
            return _send_nothing()

        async def send_other(message: Message) -> None:
            nonlocal held_start, stream, json_size, has_ended
            message_type = message["type"]
            if has_ended:
                return
            if message_type == "http.response.start":
                if type(message.get("headers")) is not list:
                    # ASGI allows any iterable of headers (a generator): read them once.
                    message = {**message, "headers": list(message.get("headers", ()))}
                body_kind = self._body_kind(message)
                if body_kind in ("encoded", "other") and is_strip:
                    # DESIGN.md §17: a body that cannot be read cannot be filtered.
                    if body_kind == "other":
                        await _send_closed(
                            send, message, closed_json_body(api, "the body is not JSON or SSE")
                        )
                    elif _media_type(message["headers"]) == b"text/event-stream":
                        headers = _without(
                            message["headers"], {b"content-length", b"content-encoding"}
                        )
                        await send({**message, "headers": headers})
                        closing = closed_sse_body(api, "the stream is compressed")
                        await send({"type": "http.response.body", "body": closing})
                    else:
                        await _send_closed(
                            send, message, closed_json_body(api, "the body is compressed")
                        )
                    has_ended = True
                elif body_kind == "sse":
                    stream = SSEBodyRewriter(api, policy, api.new_stream(policy, stream_request))
                    headers = _without(message["headers"], {b"content-length"})
                    await send({**message, "headers": headers})
                elif body_kind == "json":
                    # Content-Length is known only once the rewritten body is.
                    held_start = message
                else:
                    await send(message)
            elif message_type == "http.response.body" and held_start is not None:
                chunk = message.get("body", b"")
                json_size += len(chunk)
                more_body = message.get("more_body", False)
                if json_size > max_body_size and is_strip:
                    start, held_start = held_start, None
                    json_parts.clear()
                    reason = f"the body is larger than max_body_size ({max_body_size} bytes)"
                    await _send_closed(send, start, closed_json_body(api, reason))
                    has_ended = True
                elif json_size > max_body_size:
                    logger.warning(
                        "JSON response larger than max_body_size (%d bytes); passed through",
                        max_body_size,
                    )
                    start, held_start = held_start, None
                    json_parts.append(chunk)
                    await send(start)
                    await send({**message, "body": b"".join(json_parts)})
                    json_parts.clear()
                elif more_body:
                    json_parts.append(chunk)
                else:
                    start, held_start = held_start, None
                    # Most apps send the whole body in one message: no copy is made of it.
                    original = b"".join((*json_parts, chunk)) if json_parts else chunk
                    json_parts.clear()
                    try:
                        rewritten = rewrite_json_body(original, api, policy)
                    except FailedClosed as failure:
                        await _send_closed(send, start, failure.body)
                        return
                    if rewritten is None:
                        await send(start)
                        await send(message if chunk is original else {**message, "body": original})
                    else:
                        await send({**start, "headers": _rewritten_headers(start, rewritten)})
                        await send({**message, "body": rewritten})
            else:
                if held_start is not None:
                    # pathsend / zerocopysend carry no bytes to rewrite: the held start
                    # goes first, as it would have, and everything else passes through.
                    start, held_start = held_start, None
                    await send(start)
                await send(message)

        await self.app(scope, receive, send_wrapper)

    def _body_kind(self, start: Message) -> BodyKind | None:
        if start.get("status") != 200:
            return None
        media_type = b""
        encoding = b"identity"
        for name, value in start.get("headers", ()):
            lowered = name.lower()
            if lowered == b"content-type":
                media_type = value.split(b";", 1)[0].strip().lower()
            elif lowered == b"content-encoding":
                encoding = value.strip().lower()
            elif lowered == b"content-range":
                return None
        if media_type not in (b"text/event-stream", b"application/json"):
            return "other"
        if encoding != b"identity":
            if not self._has_warned_encoded:
                self._has_warned_encoded = True
                logger.warning(
                    "a %s response is %s-encoded and passed through unchanged; add compression "
                    "middleware outside ReasoningMiddleware",
                    media_type.decode("latin-1"),
                    encoding.decode("latin-1"),
                )
            return "encoded"
        return "sse" if media_type == b"text/event-stream" else "json"

    async def _read_request(self, receive: Receive) -> tuple[object, Receive]:
        """The request's JSON (``None`` when unreadable) and a ``receive`` that replays it."""
        max_body_size = self.config.max_body_size
        message = await receive()
        messages = [message]
        if message["type"] != "http.request":
            return None, _replay(messages, receive)
        body = message.get("body", b"")
        size = len(body)
        if message.get("more_body", False) and size <= max_body_size:
            parts = [body]
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                parts.append(message.get("body", b""))
                size += len(parts[-1])
                if size > max_body_size or not message.get("more_body", False):
                    break
            body = b"".join(parts)
        if size > max_body_size:
            logger.warning(
                "request body larger than max_body_size (%d bytes); not read", max_body_size
            )
            return None, _replay(messages, receive)
        request: object = None
        if body:
            try:
                request = _json.loads(body)
            except _json.JSONDecodeError:
                request = None
        return request, _replay(messages, receive)


def _rewrite_request(
    api: WireAPI, body: dict[str, Any], config: Config
) -> tuple[dict[str, Any], bytes] | None:
    """The rewritten request and its bytes, or ``None`` to forward the original bytes."""
    try:
        rewritten = api.rewrite_request(body, config)
        if rewritten is None:
            return None
        encoded = _json.dumps(rewritten)
    except Exception:
        # Fail open: a request shape nobody foresaw still reaches the app as it was sent.
        logger.exception("could not rewrite a %s request; forwarded as it came", api.name)
        return None
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "rewrote the %s request for model %r: %s",
            api.name,
            body.get("model"),
            _describe_changes(body, rewritten),
        )
    return rewritten, encoded


def _describe_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """What a request rewrite changed, for the debug log: keys, and how many items."""
    changes: list[str] = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old is new or old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            changed = sum(1 for a, b in zip(old, new, strict=False) if a is not b and a != b)
            changes.append(f"{key}: {changed} of {len(old)} items rewritten, {len(new)} now")
        else:
            changes.append(f"{key}: {old!r} -> {new!r}")
    return "; ".join(changes)


def _declared_length(scope: Scope) -> int:
    """The request's ``Content-Length``, or 0 when absent or not a number."""
    for name, value in scope.get("headers", ()):
        # The length first: most names are not lowered (a copy) to be compared.
        if len(name) == 14 and name.lower() == b"content-length":
            return int(value) if value.strip().isdigit() else 0
    return 0


def _with_content_length(scope: Scope, length: int) -> Headers:
    # The body is now whole and of known length: no chunked framing is left to describe.
    dropped = {b"content-length", b"transfer-encoding"}
    headers = _without(scope.get("headers", ()), dropped)
    headers.append((b"content-length", str(length).encode("ascii")))
    return headers


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` giving ``messages`` exactly as they came, then ``receive``'s own."""
    pending = messages[::-1]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _send_nothing() -> None:
    """What ``send`` returns for a message that leaves nothing to send (all of it held)."""


def _media_type(headers: Iterable[Sequence[bytes]]) -> bytes:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return b""


async def _send_closed(send: Send, start: Message, body: bytes) -> None:
    """Strip failed closed: ``body`` (an error in the API's shape) replaces the response."""
    replaced = {b"content-type", b"content-encoding", b"etag", *DIGEST_HEADERS}
    headers = _without(start.get("headers", ()), replaced | {b"content-length"})
    headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    await send({**start, "status": CLOSED_STATUS, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _without(headers: Iterable[Sequence[bytes]], names: set[bytes]) -> Headers:
    return [(name, value) for name, value in headers if name.lower() not in names]


def _rewritten_headers(start: Mapping[str, Any], body: bytes) -> Headers:
    headers: Headers = []
    for name, value in start.get("headers", ()):
        lowered = name.lower()
        if lowered == b"content-length" or lowered in DIGEST_HEADERS:
            continue
        if lowered == b"etag" and not value.startswith(b"W/"):
            value = b"W/" + value
        headers.append((name, value))
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    return headers
