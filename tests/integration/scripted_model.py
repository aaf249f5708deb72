"""A FastAPI app that plays an OpenAI-compatible reasoning model, plus fault scenarios.

The request's `model` field picks the scenario; `scripted` writes `<think>` reasoning derived
from the last user message, so that every client can check it got exactly its own text.
Everything is deterministic (ids, `created`) unless a request asks for timing, so that a bare
response and a response through the middleware can be compared byte for byte.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import gzip
import hashlib
import json
import os
import re
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.lowlevel
import sniffio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

    from starlette.types import Receive, Scope, Send

TRACEMALLOC_ENV: Final = "INTEGRATION_TRACEMALLOC"
if os.environ.get(TRACEMALLOC_ENV) == "1":
    # Started at import, before the first request, so every allocation a request makes is seen.
    tracemalloc.start()

CREATED: Final = 1_700_000_000
MODEL_NAME: Final = "scripted-reasoner"
HEAD_PROMPT: Final = "what does HEAD return?"
PIECE_SIZES: Final = (1, 3, 2, 5, 4)
BRIEF_PIECE_SIZES: Final = (6,)
LEAN_PIECE_SIZES: Final = (16,)
RAISE_MESSAGE_PREFIX: Final = "scripted failure after the response started"
SLOW_STREAM_EVENTS: Final = 2_000
SLOW_STREAM_DELAY_S: Final = 0.01

# A request with this header reaches the app without the middleware (see upstream_app).
BARE_HEADER: Final = ("x-bare", "1")

JSONObject = dict[str, Any]


def chat_request(prompt: str, *, model: str = "scripted", **fields: Any) -> JSONObject:
    """A chat-completion request body for one scenario; `fields` adds or overrides keys."""
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **fields}


@dataclasses.dataclass(frozen=True, slots=True)
class Script:
    """What the scripted model thinks and answers for one prompt and choice."""

    reasoning: str
    answer: str

    @property
    def raw_text(self) -> str:
        """The model's output as a server without a reasoning parser would send it."""
        return f"<think>\n{self.reasoning}</think>\n\n{self.answer}"


def script_for(prompt: str, choice_index: int = 0) -> Script:
    """Derive the reasoning and the answer from the prompt (and the choice for `n` > 1)."""
    suffix = f" [choice {choice_index}]" if choice_index else ""
    reasoning = f"The user wrote «{prompt}»{suffix}; a short, exact echo is the answer."
    answer = f"You said: {prompt}{suffix} ✓"
    return Script(reasoning=reasoning, answer=answer)


def brief_script_for(prompt: str) -> Script:
    """The `brief` scenario: a few events per stream, for load and soak tests."""
    return Script(reasoning=f"r:{prompt}", answer=f"a:{prompt}")


def plain_answer_for(prompt: str) -> str:
    """The `plain` scenario's answer: no marker, so the middleware must leave it alone."""
    return f"No thinking here, just an answer about {prompt} (1<2, <thinking> is not a tag)."


def cut_into_words(text: str) -> list[str]:
    """Cut text at spaces, each word with the spaces before it.

    No piece ends in a possible start of `<think>`, so a stream of these pieces has nothing
    that the middleware may hold back and re-cut (DESIGN §4.8): it must pass byte for byte.
    """
    return re.findall(r"\s*\S+", text)


def cut_into_pieces(text: str, sizes: Sequence[int] = PIECE_SIZES) -> list[str]:
    """Cut text as a tokenizer might, in pieces of varying size, so markers fall across pieces."""
    pieces: list[str] = []
    position = 0
    size_index = 0
    while position < len(text):
        size = sizes[size_index % len(sizes)]
        pieces.append(text[position : position + size])
        position += size
        size_index += 1
    return pieces


def completion_id(prompt: str) -> str:
    return "chatcmpl-" + hashlib.sha256(prompt.encode()).hexdigest()[:16]


def encode_json(value: object) -> bytes:
    # The compact, UTF-8 form that vLLM and SGLang (pydantic's model_dump_json) put on the wire.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def last_user_message(request_json: Mapping[str, Any]) -> str:
    messages = request_json.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


@dataclasses.dataclass(slots=True)
class StreamStats:
    """Counters that tests read through `GET /_stats` to see what the app's generators did."""

    active: int = 0
    completed: int = 0
    closed_early: int = 0


STREAM_STATS = StreamStats()


@dataclasses.dataclass(frozen=True, slots=True)
class ChatRequest:
    prompt: str
    choice_count: int
    is_streaming: bool
    include_usage: bool
    include_timing: bool
    delay_s: float
    piece_sizes: Sequence[int] | None = PIECE_SIZES

    @classmethod
    def from_json(cls, request_json: Mapping[str, Any]) -> ChatRequest:
        stream_options = request_json.get("stream_options") or {}
        return cls(
            prompt=last_user_message(request_json),
            choice_count=int(request_json.get("n") or 1),
            is_streaming=bool(request_json.get("stream")),
            include_usage=bool(stream_options.get("include_usage")),
            include_timing=bool(request_json.get("x_timing")),
            delay_s=float(request_json.get("x_delay_ms") or 0) / 1000,
        )


def chunk(
    request: ChatRequest, choices: list[JSONObject], *, usage: JSONObject | None = None
) -> JSONObject:
    value: JSONObject = {
        "id": completion_id(request.prompt),
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL_NAME,
        "system_fingerprint": "fp_scripted",
        "choices": choices,
    }
    if usage is not None:
        value["usage"] = usage
    if request.include_timing:
        # CLOCK_MONOTONIC is one clock for every process on the machine, so the client can
        # subtract it from its own reading to get the delivery latency of this event.
        value["x_sent_ns"] = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    return value


def usage_for(texts: Sequence[str]) -> JSONObject:
    completion_tokens = sum(len(cut_into_pieces(text)) for text in texts)
    return {
        "prompt_tokens": 7,
        "completion_tokens": completion_tokens,
        "total_tokens": 7 + completion_tokens,
    }


def stream_chunks(request: ChatRequest, texts: Sequence[str]) -> Iterator[JSONObject]:
    """The `chat.completion.chunk` objects a vLLM-like server sends for these texts."""
    choice_indexes = range(len(texts))
    yield chunk(
        request,
        [
            {
                "index": index,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
            for index in choice_indexes
        ],
    )
    pieces_per_choice = [
        cut_into_pieces(text, request.piece_sizes) if request.piece_sizes else cut_into_words(text)
        for text in texts
    ]
    for step in range(max(len(pieces) for pieces in pieces_per_choice)):
        for index, pieces in enumerate(pieces_per_choice):
            if step < len(pieces):
                delta = {"content": pieces[step]}
                yield chunk(
                    request,
                    [{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}],
                )
    for index in choice_indexes:
        yield chunk(
            request, [{"index": index, "delta": {}, "logprobs": None, "finish_reason": "stop"}]
        )
    if request.include_usage:
        yield chunk(request, [], usage=usage_for(texts))


def completion_body(request: ChatRequest, texts: Sequence[str]) -> bytes:
    return encode_json(
        {
            "id": completion_id(request.prompt),
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL_NAME,
            "system_fingerprint": "fp_scripted",
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
                for index, text in enumerate(texts)
            ],
            "usage": usage_for(texts),
        }
    )


async def tracked(events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Count the generator as active until it ends, and whether it ended before its last event."""
    STREAM_STATS.active += 1
    is_finished = False
    try:
        async for event in events:
            yield event
        is_finished = True
    finally:
        STREAM_STATS.active -= 1
        if is_finished:
            STREAM_STATS.completed += 1
        else:
            STREAM_STATS.closed_early += 1


async def sse_events(request: ChatRequest, texts: Sequence[str]) -> AsyncIterator[bytes]:
    # The pause comes after each event, so that the next one is built (and timed) after it.
    for value in stream_chunks(request, texts):
        yield b"data: " + encode_json(value) + b"\n\n"
        if request.delay_s:
            await anyio.sleep(request.delay_s)
    yield b"data: [DONE]\n\n"


async def slow_events(request: ChatRequest) -> AsyncIterator[bytes]:
    """A long stream of reasoning that a client is expected to abandon part way."""
    yield (
        b"data: "
        + encode_json(chunk(request, [{"index": 0, "delta": {"content": "<think>"}}]))
        + b"\n\n"
    )
    for step in range(SLOW_STREAM_EVENTS):
        await anyio.sleep(SLOW_STREAM_DELAY_S)
        delta = {"content": f"step {step}; "}
        yield b"data: " + encode_json(chunk(request, [{"index": 0, "delta": delta}])) + b"\n\n"
    yield b"data: [DONE]\n\n"


async def raising_events(request: ChatRequest) -> AsyncIterator[bytes]:
    first = chunk(
        request, [{"index": 0, "delta": {"role": "assistant", "content": "<think>\nabout to"}}]
    )
    yield b"data: " + encode_json(first) + b"\n\n"
    await anyio.sleep(0.01)
    raise RuntimeError(f"{RAISE_MESSAGE_PREFIX}: {request.prompt}")


MALFORMED_SSE_BODY: Final = (
    b": a comment that mentions <think>\n\n"
    b'data: {"id":"chatcmpl-bad","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":"<think>cut off\n\n'
    b"data: <think>not json at all</think>\r\n\r\n"
    b"event: odd\nid: 7\nretry: soon\na line without a colon <think>\n\n"
    b'data: {"choices": [{"delta": {"content": "<think>x</think>y"}}],}\n\n'
    b"data: [DONE]\n\n"
    b"data: <think>an unterminated tail"
)

INVALID_JSON_BODY: Final = (
    b'{"id":"chatcmpl-invalid","object":"chat.completion","created":1700000000,'
    b'"choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"<think>reasoning</think>answer"},"finish_reason":"stop"}]'
)

ERROR_500_BODY: Final = (
    b'{"error":{"message":"<think>upstream</think> exploded","type":"server_error","code":500}}'
)


async def byte_pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    """Send a body in small pieces, cut without regard for lines, events or characters."""
    for start in range(0, len(body), size):
        yield body[start : start + size]
        await anyio.lowlevel.checkpoint()


def sse_starlette_response(request: ChatRequest, texts: Sequence[str]) -> EventSourceResponse:
    """The same stream through sse-starlette, which ends lines with CRLF."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        for value in stream_chunks(request, texts):
            yield ServerSentEvent(data=encode_json(value).decode())
        yield ServerSentEvent(data="[DONE]")

    return EventSourceResponse(events(), ping=600)


def gzip_response(body: bytes, media_type: str) -> Response:
    return Response(
        gzip.compress(body, mtime=0),
        media_type=media_type,
        headers={"content-encoding": "gzip"},
    )


def scenario_response(model: str, request: ChatRequest) -> Response:
    """Pick the response for a scenario name (the request's `model`)."""
    scripted_texts = [
        script_for(request.prompt, index).raw_text for index in range(request.choice_count)
    ]
    if model == "plain":
        texts = [plain_answer_for(request.prompt)]
        if request.is_streaming:
            word_request = dataclasses.replace(request, piece_sizes=None)
            return StreamingResponse(
                tracked(sse_events(word_request, texts)), media_type="text/event-stream"
            )
        return Response(completion_body(request, texts), media_type="application/json")
    if model == "brief":
        brief_request = dataclasses.replace(request, piece_sizes=BRIEF_PIECE_SIZES)
        texts = [brief_script_for(request.prompt).raw_text]
        return StreamingResponse(
            tracked(sse_events(brief_request, texts)), media_type="text/event-stream"
        )
    if model == "sse-starlette":
        return sse_starlette_response(request, scripted_texts)
    if model == "slow":
        return StreamingResponse(tracked(slow_events(request)), media_type="text/event-stream")
    if model == "raise-after-start":
        return StreamingResponse(tracked(raising_events(request)), media_type="text/event-stream")
    if model == "malformed-sse":
        return StreamingResponse(byte_pieces(MALFORMED_SSE_BODY, 7), media_type="text/event-stream")
    if model == "invalid-json":
        return Response(INVALID_JSON_BODY, media_type="application/json")
    if model == "gzip-json":
        return gzip_response(completion_body(request, scripted_texts), "application/json")
    if model == "gzip-sse":
        sse_body = b"".join(
            b"data: " + encode_json(value) + b"\n\n"
            for value in stream_chunks(request, scripted_texts)
        )
        return gzip_response(sse_body + b"data: [DONE]\n\n", "text/event-stream")
    if model == "error-500":
        return Response(ERROR_500_BODY, status_code=500, media_type="application/json")
    if request.is_streaming:
        return StreamingResponse(
            tracked(sse_events(request, scripted_texts)), media_type="text/event-stream"
        )
    return Response(completion_body(request, scripted_texts), media_type="application/json")


async def lean_brief_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """The `brief` stream in larger pieces, as a plain ASGI app mounted at `/lean`.

    It skips the framework's per-request work, so that a soak of thousands of streams under
    tracemalloc spends its time in the server and the middleware rather than in routing.
    """
    body = b""
    more_body = True
    while more_body:
        message = await receive()
        body += message.get("body", b"")
        more_body = message.get("more_body", False)
    request_json = json.loads(body)
    request = dataclasses.replace(ChatRequest.from_json(request_json), piece_sizes=LEAN_PIECE_SIZES)
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/event-stream")],
    }
    await send(start)
    async for event in sse_events(request, [brief_script_for(request.prompt).raw_text]):
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def running_task_count() -> int | None:
    """Tasks alive on the server's event loop, where the loop is asyncio's."""
    if sniffio.current_async_library() != "asyncio":
        return None
    return len(asyncio.all_tasks())


def traced_memory() -> JSONObject:
    """Memory still allocated (after a full collection), in total and by the middleware's code."""
    if not tracemalloc.is_tracing():
        return {"traced_bytes": None, "middleware_bytes": None}
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(inclusive=True, filename_pattern="*asgi_reasoning*")]
    )
    current, _peak = tracemalloc.get_traced_memory()
    middleware_bytes = sum(statistic.size for statistic in snapshot.statistics("filename"))
    return {"traced_bytes": current, "middleware_bytes": middleware_bytes}


def create_app() -> FastAPI:
    """A fresh app object; the tests serve one bare and one with the middleware."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat_completions(http_request: Request) -> Response:
        request_json = await http_request.json()
        request = ChatRequest.from_json(request_json)
        return scenario_response(str(request_json.get("model", "scripted")), request)

    @app.head("/v1/chat/completions")
    async def chat_completions_head() -> Response:
        request = ChatRequest.from_json({"messages": [{"role": "user", "content": HEAD_PROMPT}]})
        return Response(
            completion_body(request, [script_for(HEAD_PROMPT).raw_text]),
            media_type="application/json",
        )

    app.mount("/lean", lean_brief_stream)

    @app.get("/_health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "pid": os.getpid(), "python": sys.version_info[:2]})

    @app.get("/_stats")
    async def stats() -> JSONResponse:
        return JSONResponse(
            {
                "active_streams": STREAM_STATS.active,
                "completed_streams": STREAM_STATS.completed,
                "closed_early_streams": STREAM_STATS.closed_early,
                "tasks": running_task_count(),
                **traced_memory(),
            }
        )

    return app


bare_app = create_app()
