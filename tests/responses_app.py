"""A scripted Responses API server: the event streams vLLM, llama.cpp and Ollama really send.

Shapes read from their source:

- vLLM (``vllm/entrypoints/openai/responses/simple_streaming_events.py``, ``serving.py``):
  ``event: <type>`` then ``data: <pydantic JSON>``; the openai types declare their fields in
  alphabetical order, so keys come sorted; ``sequence_number`` from 0; ``response.created`` and
  ``response.in_progress`` first; a message item is ``output_item.added`` (``status``
  ``in_progress``, ``content: []``), ``content_part.added`` (``output_text`` with
  ``annotations`` and ``logprobs``), ``output_text.delta`` per token (``logprobs: []``),
  ``output_text.done``, ``content_part.done``, ``output_item.done``; its own reasoning
  items carry ``reasoning_text`` parts. Tool calls are ``function_call`` items after it.
- llama.cpp (``tools/server/server-common.cpp`` ``format_oai_resp_sse``): ``event: <name>``
  then ``data: <json>``, keys in insertion order (``nlohmann::ordered_json``).
- Ollama (``openai/responses.go``): Go's ``encoding/json`` on maps, so keys sorted and ``<``,
  ``>``, ``&`` written as ``\\u003c``, ``\\u003e``, ``\\u0026``; ``sequence_number`` from 0;
  its own reasoning is a ``summary`` item streamed as ``reasoning_summary_text.delta``, with
  the text in ``encrypted_content`` too.

``stream_events`` builds the event dicts, ``encode_events`` the bytes as that server writes
them, ``responses_app`` serves them (or a whole ``response`` object) as an ASGI app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from asgi_reasoning.asgi import Receive, Scope, Send

Style = Literal["vllm", "llamacpp", "ollama"]
Event = dict[str, Any]
STYLES: Final[tuple[Style, ...]] = ("vllm", "llamacpp", "ollama")
RESPONSE_ID: Final = "resp_7f3a"
MESSAGE_ID: Final = "msg_7f3a"
MODEL: Final = "qwen3-8b"


@dataclass(frozen=True)
class FunctionCall:
    """A ``function_call`` item the server sends after the message."""

    name: str
    arguments: str
    call_id: str = "call_1"
    item_id: str = "fc_1"


def _response(status: str, output: list[Event], usage: Event | None) -> Event:
    """The ``response`` object as these servers fill it (the fields the SDK requires)."""
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1764600000,
        "status": status,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def usage_of(output_tokens: int, reasoning_tokens: int | None = 0) -> Event:
    details: Event = {} if reasoning_tokens is None else {"reasoning_tokens": reasoning_tokens}
    return {
        "input_tokens": 12,
        # cache_write_tokens: the openai SDK's ResponseUsage requires it since 2026.
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": details,
        "total_tokens": 12 + output_tokens,
    }


def _text_part(text: str) -> Event:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message(text: str, status: str) -> Event:
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [_text_part(text)],
    }


def _native_reasoning(text: str, style: Style) -> Event:
    if style == "ollama":
        return {
            "id": "rs_native",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": text}],
            "encrypted_content": text,
        }
    return {
        "id": "rs_native",
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
        "status": "completed",
    }


def whole_response(
    text: str,
    *,
    status: str = "completed",
    native_reasoning: str | None = None,
    function_call: FunctionCall | None = None,
    usage: Event | None = None,
    style: Style = "vllm",
) -> Event:
    """A non-streaming ``response`` whose message holds ``text`` as the model wrote it."""
    output: list[Event] = []
    if native_reasoning is not None:
        output.append(_native_reasoning(native_reasoning, style))
    output.append(_message(text, "completed" if status == "completed" else "incomplete"))
    if function_call is not None:
        output.append(_function_call_item(function_call, "completed"))
    return _response(status, output, usage if usage is not None else usage_of(len(text) // 4))


def _function_call_item(call: FunctionCall, status: str, arguments: str | None = None) -> Event:
    return {
        "id": call.item_id,
        "type": "function_call",
        "call_id": call.call_id,
        "name": call.name,
        "arguments": call.arguments if arguments is None else arguments,
        "status": status,
    }


def stream_events(
    deltas: Sequence[str],
    *,
    style: Style = "vllm",
    native_reasoning: Sequence[str] = (),
    function_call: FunctionCall | None = None,
    terminal: Literal["response.completed", "response.incomplete", "response.failed"] = (
        "response.completed"
    ),
    usage: Event | None = None,
    numbered: bool = True,
    with_done_events: bool = True,
) -> list[Event]:
    """The events a server sends for a message whose text arrives as ``deltas``.

    ``native_reasoning``: deltas of a reasoning item the server split itself, sent first.
    ``with_done_events=False``: the stream stops after the deltas and the terminal event
    (a server cut short).
    """
    events: list[Event] = []
    status = {"response.completed": "completed", "response.incomplete": "incomplete"}.get(
        terminal, "failed"
    )

    def add(event_type: str, **fields: Any) -> None:
        events.append({"type": event_type, **fields})

    add("response.created", response={**_response("in_progress", [], None)})
    add("response.in_progress", response={**_response("in_progress", [], None)})
    output: list[Event] = []
    index = 0
    if native_reasoning:
        text = "".join(native_reasoning)
        item = _native_reasoning(text, style)
        opening = {**item, "summary": [], **({"content": []} if "content" in item else {})}
        add("response.output_item.added", output_index=index, item=opening)
        if style == "ollama":
            for piece in native_reasoning:
                add("response.reasoning_summary_text.delta", item_id=item["id"],
                    output_index=index, summary_index=0, delta=piece)  # fmt: skip
            add("response.reasoning_summary_text.done", item_id=item["id"],
                output_index=index, summary_index=0, text=text)  # fmt: skip
        else:
            add("response.content_part.added", item_id=item["id"], output_index=index,
                content_index=0, part={"type": "reasoning_text", "text": ""})  # fmt: skip
            for piece in native_reasoning:
                add("response.reasoning_text.delta", item_id=item["id"], output_index=index,
                    content_index=0, delta=piece)  # fmt: skip
            add("response.reasoning_text.done", item_id=item["id"], output_index=index,
                content_index=0, text=text)  # fmt: skip
            add("response.content_part.done", item_id=item["id"], output_index=index,
                content_index=0, part={"type": "reasoning_text", "text": text})  # fmt: skip
        add("response.output_item.done", output_index=index, item=item)
        output.append(item)
        index += 1
    text = "".join(deltas)
    message_status = "completed" if status == "completed" else "incomplete"
    add("response.output_item.added", output_index=index,
        item={**_message("", "in_progress"), "content": []})  # fmt: skip
    add("response.content_part.added", item_id=MESSAGE_ID, output_index=index,
        content_index=0, part=_text_part(""))  # fmt: skip
    for piece in deltas:
        add("response.output_text.delta", item_id=MESSAGE_ID, output_index=index,
            content_index=0, delta=piece, logprobs=[])  # fmt: skip
    if with_done_events:
        add("response.output_text.done", item_id=MESSAGE_ID, output_index=index,
            content_index=0, text=text, logprobs=[])  # fmt: skip
        add("response.content_part.done", item_id=MESSAGE_ID, output_index=index,
            content_index=0, part=_text_part(text))  # fmt: skip
        add("response.output_item.done", output_index=index, item=_message(text, message_status))
    output.append(_message(text, message_status))
    index += 1
    if function_call is not None:
        add("response.output_item.added", output_index=index,
            item=_function_call_item(function_call, "in_progress", ""))  # fmt: skip
        add("response.function_call_arguments.delta", item_id=function_call.item_id,
            output_index=index, delta=function_call.arguments)  # fmt: skip
        add("response.function_call_arguments.done", item_id=function_call.item_id,
            output_index=index, arguments=function_call.arguments)  # fmt: skip
        done = _function_call_item(function_call, "completed")
        add("response.output_item.done", output_index=index, item=done)
        output.append(done)
    final_usage = usage if usage is not None else usage_of(len(deltas))
    add(terminal, response=_response(status, output, final_usage))
    if numbered:
        for number, event in enumerate(events):
            event["sequence_number"] = number
    return [_ordered(event, style) for event in events]


def _ordered(value: Any, style: Style) -> Any:
    """Keys as the server writes them: sorted (pydantic field order, Go maps) or as built."""
    if isinstance(value, dict):
        items = sorted(value.items()) if style != "llamacpp" else list(value.items())
        return {key: _ordered(item, style) for key, item in items}
    if isinstance(value, list):
        return [_ordered(item, style) for item in value]
    return value


def encode_json(value: Any, style: Style = "vllm") -> bytes:
    """Compact JSON as the server writes it; Go escapes ``<``, ``>`` and ``&``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if style == "ollama":
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


def encode_events(events: Sequence[Event], style: Style = "vllm") -> list[bytes]:
    """One SSE event per item, framed as the server frames it (an ``event:`` line first)."""
    return [
        b"event: " + event["type"].encode() + b"\ndata: " + encode_json(event, style) + b"\n\n"
        for event in events
    ]


def responses_app(
    body: Sequence[bytes] | bytes, *, content_type: bytes = b"text/event-stream"
) -> Any:
    """An ASGI app that reads the request and sends ``body`` (one message per item)."""
    messages = [body] if isinstance(body, bytes) else list(body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        headers = [(b"content-type", content_type)]
        if content_type == b"application/json":
            headers.append((b"content-length", str(sum(map(len, messages))).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for number, piece in enumerate(messages):
            last = number == len(messages) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": not last})
        if not messages:
            await send({"type": "http.response.body", "body": b""})

    return app


@dataclass(frozen=True)
class Script:
    """What the model writes for one ``model`` name, with ``<think>`` left in its text."""

    deltas: tuple[str, ...]
    reasoning: tuple[str, ...] = ()
    answer: str = ""
    native_reasoning: tuple[str, ...] = ()
    function_call: FunctionCall | None = None
    terminal: Literal["response.completed", "response.incomplete"] = "response.completed"


SCRIPTS: Final = {
    "think": Script(
        ("<think>", "\nThe user", " asks 2+2", ".</think>", "\n\n", "It is", " 4."),
        reasoning=("The user asks 2+2.",),
        answer="It is 4.",
    ),
    "multi": Script(
        ("<think>First", "</think>Part one. ", "<think>Second</think>", "Part two."),
        reasoning=("First", "\n\nSecond"),
        answer="Part one. Part two.",
    ),
    "tool": Script(
        ("<think>I need the weather.</think>\n",),
        reasoning=("I need the weather.",),
        function_call=FunctionCall("get_weather", '{"city": "Paris"}'),
    ),
    "truncated": Script(
        ("<think>", "Thinking and", " thinking"),
        reasoning=("Thinking and thinking",),
        terminal="response.incomplete",
    ),
    "native": Script(
        ("The ", "<think> tag is literal."),
        native_reasoning=("Already", " split."),
        reasoning=("Already split.",),
        answer="The <think> tag is literal.",
    ),
    "plain": Script(("Just", " an answer."), answer="Just an answer."),
}


def scripted_app(*, delay: float = 0.0) -> Any:
    """A Responses server: ``model`` is ``"<script>"`` or ``"<script>@<style>"``.

    Streams (``"stream": true``) send one event per body message, ``delay`` seconds apart;
    otherwise the whole ``response`` object.
    """
    import anyio

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request = json.loads(body or b"{}")
        name, _, style_name = str(request.get("model", "think")).partition("@")
        style: Style = style_name if style_name in STYLES else "vllm"
        script = SCRIPTS[name]
        if not request.get("stream"):
            text = "".join(script.deltas)
            whole = whole_response(
                text,
                status="completed" if script.terminal == "response.completed" else "incomplete",
                native_reasoning="".join(script.native_reasoning) or None,
                function_call=script.function_call,
                style=style,
            )
            payload = encode_json(_ordered(whole, style), style)
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]})  # fmt: skip
            await send({"type": "http.response.body", "body": payload})
            return
        events = stream_events(
            script.deltas,
            style=style,
            native_reasoning=script.native_reasoning,
            function_call=script.function_call,
            terminal=script.terminal,
        )
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for raw in encode_events(events, style):
            await send({"type": "http.response.body", "body": raw, "more_body": True})
            if delay:
                await anyio.sleep(delay)
        await send({"type": "http.response.body", "body": b""})

    return app
