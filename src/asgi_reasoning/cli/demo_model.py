"""A scripted reasoning model: an OpenAI-compatible chat-completions server as a pure ASGI app.

It behaves like a reasoning model served without a reasoning parser: the chain of thought is
written inline, between `<think>` and `</think>`, at the start of `content`, and the answer
follows. Text comes in token-sized pieces with the tags cut across pieces, as real tokenizers
often cut them, so everything downstream has to cope with split markers. It answers every
question with the same script. `asgi-reasoning demo` runs it; tests and benchmarks can use it
as an upstream (`pieces` sets the script, `token_delay` the pace).

Routes: `POST /v1/chat/completions` (a `chat.completion.chunk` SSE stream when the request has
`"stream": true`, else one `chat.completion` JSON) and `GET /v1/models`. The request fields it
honours are `model`, `n`, `stream`, `stream_options.include_usage`, `max_tokens` /
`max_completion_tokens` (cut the script short, `finish_reason: "length"`) and
`chat_template_kwargs.enable_thinking: false` (answer without reasoning). The framing follows
vLLM: a first delta with the role and empty content, one event per piece and choice, a last
delta with `finish_reason`, an optional usage chunk, then `data: [DONE]`.

No third-party import: the package has no runtime dependencies.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from asgi_reasoning.asgi import Receive, Scope, Send

DEMO_MODEL_NAME: Final = "scripted-reasoner"
DEMO_PROMPT: Final = 'How many times does the letter "r" appear in "strawberry"?'
DEFAULT_TOKEN_DELAY: Final = 0.02
MAX_REQUEST_BODY: Final = 1024 * 1024

REASONING_TEXT: Final = (
    'The user asks how many times the letter "r" appears in "strawberry". '
    "Let me spell it out: s-t-r-a-w-b-e-r-r-y. "
    'There is one "r" right after the "t", and two more after the "e". '
    "One plus two makes three."
)
ANSWER_TEXT: Final = 'The letter "r" appears **3 times** in "strawberry".'


def _word_pieces(text: str) -> list[str]:
    # Like a BPE tokenizer: each piece is a word with the whitespace that precedes it.
    return re.findall(r"\s*\S+", text)


ANSWER_PIECES: Final[tuple[str, ...]] = tuple(_word_pieces(ANSWER_TEXT))
# "<think>\n" + REASONING_TEXT + "</think>\n\n" + ANSWER_TEXT, both tags cut across pieces.
SCRIPTED_PIECES: Final[tuple[str, ...]] = (
    "<th",
    "ink>\n",
    *_word_pieces(REASONING_TEXT),
    "</",
    "think",
    ">\n\n",
    *ANSWER_PIECES,
)


class ScriptedReasoningModel:
    """ASGI app that plays `pieces` as a model's output, `token_delay` seconds apart.

    `pieces` is what the model writes when thinking is on, `answer_pieces` what it writes when
    the request turns thinking off with `chat_template_kwargs.enable_thinking: false`.
    """

    def __init__(
        self,
        *,
        token_delay: float = DEFAULT_TOKEN_DELAY,
        pieces: Sequence[str] = SCRIPTED_PIECES,
        answer_pieces: Sequence[str] = ANSWER_PIECES,
        model: str = DEMO_MODEL_NAME,
    ) -> None:
        if token_delay < 0:
            raise ValueError(f"token_delay must be >= 0, got {token_delay!r}")
        self.token_delay = token_delay
        self.pieces = tuple(pieces)
        self.answer_pieces = tuple(answer_pieces)
        self.model = model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _run_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/v1/models":
            if method not in ("GET", "HEAD"):
                await _send_error(send, 405, "Method not allowed.", "invalid_request_error")
                return
            models = {"object": "list", "data": [self._model_card()]}
            await _send_json(send, 200, models)
        elif path == "/v1/chat/completions":
            if method != "POST":
                await _send_error(send, 405, "Method not allowed.", "invalid_request_error")
                return
            await self._chat_completions(receive, send)
        else:
            await _send_error(send, 404, f"No route for {path}.", "not_found_error")

    def _model_card(self) -> dict[str, Any]:
        return {"id": self.model, "object": "model", "created": 0, "owned_by": "asgi-reasoning"}

    async def _chat_completions(self, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return
        if len(body) > MAX_REQUEST_BODY:
            await _send_error(send, 413, "Request body too large.", "invalid_request_error")
            return
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await _send_error(send, 400, "Expected a JSON object.", "invalid_request_error")
            return
        choice_count = request.get("n")
        if choice_count is None:
            choice_count = 1
        if not isinstance(choice_count, int) or not 1 <= choice_count <= 16:
            await _send_error(
                send, 400, "n must be an integer from 1 to 16.", "invalid_request_error"
            )
            return

        template_kwargs = _as_object(request.get("chat_template_kwargs"))
        is_thinking = template_kwargs.get("enable_thinking", True) is not False
        pieces = self.pieces if is_thinking else self.answer_pieces
        token_limit = request.get("max_completion_tokens") or request.get("max_tokens")
        finish_reason = "stop"
        if isinstance(token_limit, int) and 0 < token_limit < len(pieces):
            pieces, finish_reason = pieces[:token_limit], "length"

        model = request.get("model") or self.model
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        usage = {
            # A rough count (four characters a token) is enough for a scripted model.
            "prompt_tokens": len(json.dumps(request.get("messages", []))) // 4 + 1,
            "completion_tokens": len(pieces) * choice_count,
            "total_tokens": 0,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        header = {"id": completion_id, "created": created, "model": model}

        if request.get("stream") is True:
            stream_options = _as_object(request.get("stream_options"))
            await self._stream(
                send,
                header,
                pieces,
                choice_count,
                finish_reason,
                usage if stream_options.get("include_usage") is True else None,
            )
            return
        await self._pause()
        choice = {
            "message": {"role": "assistant", "content": "".join(pieces), "tool_calls": []},
            "logprobs": None,
            "finish_reason": finish_reason,
            "stop_reason": None,
        }
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": index, **choice} for index in range(choice_count)],
            "usage": usage,
        }
        await _send_json(send, 200, completion)

    async def _stream(
        self,
        send: Send,
        header: dict[str, Any],
        pieces: Sequence[str],
        choice_count: int,
        finish_reason: str,
        usage: dict[str, int] | None,
    ) -> None:
        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk = {
                "id": header["id"],
                "object": "chat.completion.chunk",
                "created": header["created"],
                "model": header["model"],
                "choices": choices,
                **extra,
            }
            return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"

        def delta_events(delta: dict[str, Any], reason: str | None = None) -> bytes:
            return b"".join(
                event([{"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}])
                for index in range(choice_count)
            )

        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await _send_body(send, delta_events({"role": "assistant", "content": ""}))
            for piece in pieces:
                await self._pause()
                await _send_body(send, delta_events({"content": piece}))
            last = delta_events({"content": ""}, finish_reason)
            if usage is not None:
                last += event([], usage=usage)
            await _send_body(send, last + b"data: [DONE]\n\n", more_body=False)
        except OSError:
            # ASGI spec 2.4: `send` raises OSError once the client has gone; nobody is listening.
            return

    async def _pause(self) -> None:
        if self.token_delay > 0:
            await _sleep(self.token_delay)


def _as_object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def _sleep(seconds: float) -> None:
    # anyio works under every event loop (asyncio, trio); plain asyncio is the fallback when
    # anyio, which every common ASGI server installs, is absent.
    try:
        import anyio
    except ImportError:
        import asyncio

        await asyncio.sleep(seconds)
    else:
        await anyio.sleep(seconds)


async def _run_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes | None:
    """The request body (cut just past MAX_REQUEST_BODY), or None when the client left."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if len(body) <= MAX_REQUEST_BODY:
            body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)


async def _send_body(send: Send, body: bytes, *, more_body: bool = True) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more_body})


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await _send_body(send, body, more_body=False)


async def _send_error(send: Send, status: int, message: str, error_type: str) -> None:
    await _send_json(
        send, status, {"error": {"message": message, "type": error_type, "code": status}}
    )
