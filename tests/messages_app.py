"""A scripted ASGI app serving ``/v1/messages`` the way local servers really write it.

Each server's stream shape is taken from its source, for a model whose reasoning the server
did not split (no reasoning parser, or one that missed), so ``<think>`` arrives in text:

- ``llamacpp``: llama.cpp ``tools/server/server-task.cpp`` (``to_json_anthropic_stream``):
  blocks at fixed indices, every ``content_block_stop`` at the end of the message (a text
  block is still open while its ``tool_use`` blocks stream), ``message_delta`` usage with
  ``output_tokens`` only. (llama.cpp writes a ``tool_use`` start without ``input``; it is
  given ``{}`` here, as the SDK's accumulator would, so every event validates.)
- ``vllm``: vLLM ``vllm/entrypoints/anthropic/serving.py`` (``message_stream_converter``):
  one block open at a time, each stopped before the next starts; ``message_delta`` usage
  with input and output tokens.
- ``ollama``: Ollama ``anthropic/anthropic.go`` (``StreamConverter``) and
  ``middleware/anthropic.go`` (``writeSSE``): Go's ``json.Marshal`` writes ``<``, ``>`` and
  ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``; a tool call's input in one
  ``input_json_delta``; a non-streaming body ends with a newline (``json.Encoder``).
- ``anthropic``: the Anthropic API itself: a ``ping`` after ``message_start``, native
  ``thinking`` blocks with ``signature_delta``.

A request's ``model`` is ``"<style>/<script>"`` (``SCRIPTS``); ``stream`` picks SSE or JSON.
Every event goes out in its own body message, ``delay`` seconds apart, as servers flush them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import anyio

if TYPE_CHECKING:
    from asgi_reasoning.asgi import ASGIApp, Receive, Scope, Send

Payload = dict[str, Any]

STYLES: Final = ("llamacpp", "vllm", "ollama", "anthropic")
MESSAGES_PATH: Final = "/v1/messages"


@dataclass(frozen=True)
class Script:
    """What the model writes: text pieces (one per token run), then tool calls."""

    pieces: tuple[str, ...]
    stop_reason: str = "end_turn"
    tools: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """``(id, name, argument pieces)`` for each ``tool_use`` block after the text."""
    native_thinking: tuple[str, ...] = ()
    """Thinking the server split itself (a ``thinking`` block before the text)."""
    reasoning: str = ""
    """The thinking a client should see (joined thinking blocks), for the tests."""
    answer: str = ""
    """The answer text a client should see (joined text blocks)."""
    thinking_blocks: int = 0
    text_blocks: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(self.pieces)


SCRIPTS: Final[dict[str, Script]] = {
    # One piece carries the end of the reasoning and the start of the answer: vLLM and
    # llama.cpp send "</think>" inside a token's text, and answers then start mid-word.
    "think": Script(
        pieces=(
            "<think>",
            "\nThe user",
            " asks 2+2.",
            " Easy.</think>\n\nThe",
            " answer",
            " is 4.",
        ),
        reasoning="The user asks 2+2. Easy.",
        answer="The answer is 4.",
        thinking_blocks=1,
        text_blocks=("The answer is 4.",),
    ),
    # The chat template pre-filled "<think>" (DeepSeek-R1, QwQ): no opener in the output.
    "prefilled": Script(
        pieces=("Count", " the", " letters.", "</think>", "\n\n", "Three."),
        reasoning="Count the letters.",
        answer="Three.",
        thinking_blocks=1,
        text_blocks=("Three.",),
    ),
    # Agents: think, then call a tool; all of the text block was reasoning.
    "tool": Script(
        pieces=("<think>\nI need", " the weather", " in Paris.</think>\n\n"),
        stop_reason="tool_use",
        tools=(("toolu_01", "get_weather", ('{"city"', ': "Pa', 'ris"}')),),
        reasoning="I need the weather in Paris.",
        answer="",
        thinking_blocks=1,
        text_blocks=(),
    ),
    # Reasoning, answer, reasoning again, more answer, then a tool call.
    "multi": Script(
        pieces=(
            "<th",
            "ink>First",
            " thought.</thi",
            "nk>Part one.",
            " <think>Second",
            "</think> Part two.",
        ),
        stop_reason="tool_use",
        tools=(("toolu_02", "lookup", ('{"q":', '"x"}')),),
        reasoning="First thought.\n\nSecond",
        answer="Part one. Part two.",
        thinking_blocks=2,
        text_blocks=("Part one. ", "Part two."),
    ),
    # Cut by max_tokens inside reasoning, holding what may be the start of "</think>".
    "truncated": Script(
        pieces=("<think>Still", " thinking about", " it </th"),
        stop_reason="max_tokens",
        reasoning="Still thinking about it </th",
        answer="",
        thinking_blocks=1,
        text_blocks=(),
    ),
    # No marker: every byte must reach the client as the server wrote it.
    "plain": Script(
        pieces=("Hello", ", world.", " 2 < 3 and", " a <b> tag", " is not <thinking>."),
        answer="Hello, world. 2 < 3 and a <b> tag is not <thinking>.",
        text_blocks=("Hello, world. 2 < 3 and a <b> tag is not <thinking>.",),
    ),
    # The server split by itself; the answer quotes a marker on purpose.
    "native": Script(
        pieces=("Write ", "<think>", " to open a block."),
        native_thinking=("The user asks", " about tags."),
        reasoning="The user asks about tags.",
        answer="Write <think> to open a block.",
        thinking_blocks=1,
        text_blocks=("Write <think> to open a block.",),
    ),
}


def _message(style: str, script: Script, content: list[Payload], *, final: bool) -> Payload:
    usage: Payload = {"input_tokens": 12, "output_tokens": len(script.pieces) if final else 0}
    return {
        "id": f"msg_{style}_0001",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": f"{style}-model",
        "stop_reason": script.stop_reason if final else None,
        "stop_sequence": None,
        "usage": usage,
    }


def _start(index: int, block: Payload) -> Payload:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: Payload) -> Payload:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _stop(index: int) -> Payload:
    return {"type": "content_block_stop", "index": index}


def stream_events(style: str, script: Script) -> list[Payload]:
    """The events ``style``'s server sends for ``script``, in order."""
    events: list[Payload] = [
        {"type": "message_start", "message": _message(style, script, [], final=False)}
    ]
    if style in ("anthropic", "llamacpp"):
        events.append({"type": "ping"})
    index = 0
    stops_at_end: list[int] = []
    if script.native_thinking:
        events.append(_start(index, {"type": "thinking", "thinking": "", "signature": ""}))
        events += [
            _delta(index, {"type": "thinking_delta", "thinking": t}) for t in script.native_thinking
        ]
        events.append(_delta(index, {"type": "signature_delta", "signature": "sig-0001"}))
        events.append(_stop(index))
        index += 1
    if script.pieces:
        events.append(_start(index, {"type": "text", "text": ""}))
        for position, piece in enumerate(script.pieces):
            events.append(_delta(index, {"type": "text_delta", "text": piece}))
            if style == "anthropic" and position == 1:
                events.append({"type": "ping"})
        if style == "llamacpp":
            stops_at_end.append(index)
        else:
            events.append(_stop(index))
        index += 1
    for tool_id, name, arguments in script.tools:
        events.append(_start(index, {"type": "tool_use", "id": tool_id, "name": name, "input": {}}))
        if style == "ollama":
            arguments = ("".join(arguments),)
        events += [
            _delta(index, {"type": "input_json_delta", "partial_json": a}) for a in arguments
        ]
        if style == "llamacpp":
            stops_at_end.append(index)
        else:
            events.append(_stop(index))
        index += 1
    events += [_stop(i) for i in stops_at_end]
    usage: Payload = {"output_tokens": len(script.pieces)}
    if style in ("vllm", "ollama"):
        usage = {"input_tokens": 12, **usage}
    delta: Payload = {"stop_reason": script.stop_reason, "stop_sequence": None}
    if style == "ollama":
        delta = {"stop_reason": script.stop_reason}
    events.append({"type": "message_delta", "delta": delta, "usage": usage})
    events.append({"type": "message_stop"})
    return events


def whole_message(style: str, script: Script) -> Payload:
    """The non-streaming ``message`` ``style``'s server returns for ``script``."""
    content: list[Payload] = []
    if script.native_thinking:
        content.append(
            {
                "type": "thinking",
                "thinking": "".join(script.native_thinking),
                "signature": "sig-0001",
            }
        )
    if script.pieces:
        content.append({"type": "text", "text": script.text})
    for tool_id, name, arguments in script.tools:
        content.append(
            {
                "type": "tool_use",
                "id": tool_id,
                "name": name,
                "input": json.loads("".join(arguments)),
            }
        )
    return _message(style, script, content, final=True)


def encode_json(style: str, value: object) -> bytes:
    """Compact UTF-8 JSON as each server writes it (Go escapes HTML characters)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if style == "ollama":
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


def encode_sse(style: str, payload: Payload) -> bytes:
    return (
        b"event: "
        + str(payload["type"]).encode()
        + b"\ndata: "
        + encode_json(style, payload)
        + b"\n\n"
    )


def stream_body(style: str, script: Script) -> list[bytes]:
    """The SSE body, one event per body message."""
    return [encode_sse(style, event) for event in stream_events(style, script)]


def json_body(style: str, script: Script) -> bytes:
    body = encode_json(style, whole_message(style, script))
    return body + b"\n" if style == "ollama" else body


def parse_model(model: object) -> tuple[str, Script]:
    """The style and script a request's ``model`` names (``"vllm/think"``)."""
    style, _, name = str(model).partition("/")
    if style not in STYLES or name not in SCRIPTS:
        raise LookupError(f"unknown model {model!r}")
    return style, SCRIPTS[name]


def messages_app(*, delay: float = 0.0) -> ASGIApp:
    """The app: ``POST /v1/messages`` answers from the script its ``model`` names."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += bytes(message.get("body", b""))
            if not message.get("more_body", False):
                break
        request = json.loads(body or b"{}")
        try:
            style, script = parse_model(request.get("model"))
        except LookupError as error:
            error_body = {
                "type": "error",
                "error": {"type": "not_found_error", "message": str(error)},
            }
            await _send_whole(send, 404, json.dumps(error_body).encode())
            return
        if scope["path"] != MESSAGES_PATH:
            await _send_whole(send, 404, b'{"type":"error"}')
            return
        if not request.get("stream"):
            await _send_whole(send, 200, json_body(style, script))
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        for event in stream_body(style, script):
            await send({"type": "http.response.body", "body": event, "more_body": True})
            if delay:
                await anyio.sleep(delay)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _send_whole(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
