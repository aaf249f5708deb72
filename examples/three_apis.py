"""One scripted model served through all three wire APIs, wrapped in ReasoningMiddleware.

No model, no network: the app writes a fixed reply a token at a time, reasoning left inline,
in the shapes vLLM and llama.cpp send for Chat Completions, the OpenAI Responses API and the
Anthropic Messages API. `models=` routes two model names to two presets: `tiny-think` writes
`<think>…</think>`, `tiny-mistral` writes Mistral's `[THINK]…[/THINK]`.

Run it:  python examples/three_apis.py
Try it:
  curl -N http://127.0.0.1:8000/v1/chat/completions -H 'content-type: application/json' \
    -d '{"model": "tiny-think", "stream": true, "messages": [{"role": "user", "content": "Hi"}]}'
  curl -N http://127.0.0.1:8000/v1/responses -H 'content-type: application/json' \
    -d '{"model": "tiny-mistral", "stream": true, "input": "Hi"}'
  curl -N http://127.0.0.1:8000/v1/messages -H 'content-type: application/json' \
    -d '{"model": "tiny-think", "stream": true, "max_tokens": 64,
         "messages": [{"role": "user", "content": "Hi"}]}'

With the SDKs:
  openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-").responses.create(
      model="tiny-think", input="Hi")          # output[0] is a reasoning item
  with anthropic.Anthropic(base_url="http://127.0.0.1:8000", api_key="-").messages.stream(
      model="tiny-think", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
  ) as stream:
      stream.get_final_message()               # content[0] is a thinking block
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import anyio
import uvicorn

from asgi_reasoning import ReasoningMiddleware

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Event = dict[str, Any]

REASONING = ["\nThe user", " says hello.", " Be", " friendly."]
ANSWER = ["Hello", "!", " How", " can", " I", " help?"]
TAGS = {"tiny-think": ("<think>", "</think>"), "tiny-mistral": ("[THINK]", "[/THINK]")}
TOKEN_DELAY = 0.05


def tokens(model: str) -> list[str]:
    """What a reasoning model served without a reasoning parser writes, a token at a time."""
    opener, closer = TAGS.get(model, TAGS["tiny-think"])
    return [opener, *REASONING, closer, "\n\n", *ANSWER]


def chat(model: str, text: str, *, stream: bool) -> Iterator[Event]:
    """Chat Completions: `chat.completion.chunk`s with `delta.content`, or one `message`."""
    base = {"id": "chatcmpl-example", "created": 0, "model": model}
    if not stream:
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        yield {**base, "object": "chat.completion", "choices": [choice]}
        return
    for token in tokens(model):
        choice = {"index": 0, "delta": {"content": token}, "finish_reason": None}
        yield {**base, "object": "chat.completion.chunk", "choices": [choice]}
    choice = {"index": 0, "delta": {}, "finish_reason": "stop"}
    yield {**base, "object": "chat.completion.chunk", "choices": [choice]}


def responses(model: str, text: str, *, stream: bool) -> Iterator[Event]:
    """Responses API, as vLLM's `/v1/responses` writes it: one `message` item."""

    def response(status: str, output: list[Event]) -> Event:
        usage = {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": len(tokens(model)),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 5 + len(tokens(model)),
        }
        return {
            "id": "resp_example", "object": "response", "created_at": 0, "model": model,
            "status": status, "output": output, "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [], "usage": usage if output else None,
        }  # fmt: skip

    def message(content: str, status: str) -> Event:
        part = {"type": "output_text", "text": content, "annotations": []}
        return {"id": "msg_example", "type": "message", "role": "assistant", "status": status,
                "content": [part] if status == "completed" else []}  # fmt: skip

    if not stream:
        yield response("completed", [message(text, "completed")])
        return
    at = {"item_id": "msg_example", "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "text": "", "annotations": []}
    events: list[Event] = [
        {"type": "response.created", "response": response("in_progress", [])},
        {"type": "response.in_progress", "response": response("in_progress", [])},
        {"type": "response.output_item.added", "output_index": 0,
         "item": message("", "in_progress")},
        {"type": "response.content_part.added", **at, "part": part},
        *({"type": "response.output_text.delta", **at, "delta": t} for t in tokens(model)),
        {"type": "response.output_text.done", **at, "text": text},
        {"type": "response.content_part.done", **at, "part": {**part, "text": text}},
        {"type": "response.output_item.done", "output_index": 0,
         "item": message(text, "completed")},
        {"type": "response.completed",
         "response": response("completed", [message(text, "completed")])},
    ]  # fmt: skip
    for number, event in enumerate(events):
        yield {**event, "sequence_number": number}


def messages(model: str, text: str, *, stream: bool) -> Iterator[Event]:
    """Anthropic Messages, as llama.cpp's `/v1/messages` writes it: one `text` block."""
    usage = {"input_tokens": 5, "output_tokens": len(tokens(model))}
    whole = {
        "id": "msg_example", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": usage,
    }  # fmt: skip
    if not stream:
        yield whole
        return
    start = {**whole, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 0}}
    yield {"type": "message_start", "message": start}
    yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    for token in tokens(model):
        yield {"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": token}}  # fmt: skip
    yield {"type": "content_block_stop", "index": 0}
    yield {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
           "usage": {"output_tokens": len(tokens(model))}}  # fmt: skip
    yield {"type": "message_stop"}


API_BY_PATH = {"/v1/chat/completions": chat, "/v1/responses": responses, "/v1/messages": messages}


async def model_app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    api = API_BY_PATH.get(scope["path"])
    if scope["method"] != "POST" or api is None:
        await send_json(send, 404, {"error": {"message": "Not found"}})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    request = json.loads(body)
    model = str(request.get("model", "tiny-think"))
    text = "".join(tokens(model))
    if not request.get("stream"):
        await send_json(send, 200, next(api(model, text, stream=False)))
        return
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for event in api(model, text, stream=True):
        # Responses and Messages servers name each event; Chat sends bare `data:` lines.
        name = f"event: {event['type']}\n" if api is not chat else ""
        frame = f"{name}data: {json.dumps(event)}\n\n".encode()
        await send({"type": "http.response.body", "body": frame, "more_body": True})
        await anyio.sleep(TOKEN_DELAY)
    end = b"data: [DONE]\n\n" if api is chat else b""
    await send({"type": "http.response.body", "body": end, "more_body": False})


async def send_json(send: Send, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = ReasoningMiddleware(model_app, models={"tiny-think": "think", "tiny-mistral": "mistral"})

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
