from __future__ import annotations

import json
import time
from collections.abc import MutableMapping
from typing import Any

import anyio
import openai
import pytest

from asgi_reasoning.cli import serve_in_thread
from asgi_reasoning.cli.demo_model import (
    ANSWER_TEXT,
    DEMO_MODEL_NAME,
    REASONING_TEXT,
    SCRIPTED_PIECES,
    ScriptedReasoningModel,
)

Message = MutableMapping[str, Any]
FULL_OUTPUT = f"<think>\n{REASONING_TEXT}</think>\n\n{ANSWER_TEXT}"
USER_MESSAGES = [{"role": "user", "content": "How many r's?"}]


async def call(
    app: ScriptedReasoningModel, method: str, path: str, request: object = None
) -> list[Message]:
    """Every message the app sends for one request, with a JSON body when `request` is given."""
    body = b"" if request is None else json.dumps(request).encode()
    incoming: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent


def body_of(sent: list[Message]) -> bytes:
    return b"".join(message.get("body", b"") for message in sent[1:])


def sse_data(sent: list[Message]) -> list[str]:
    events = body_of(sent).decode().split("\n\n")
    assert events[-1] == ""
    assert all(event.startswith("data: ") for event in events[:-1])
    return [event.removeprefix("data: ") for event in events[:-1]]


def chunks_of(sent: list[Message]) -> list[dict[str, Any]]:
    data = sse_data(sent)
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


def streamed_text(chunks: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        choice["delta"].get("content", "")
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["index"] == index
    )


def chat(**fields: object) -> dict[str, object]:
    return {"model": DEMO_MODEL_NAME, "messages": USER_MESSAGES, **fields}


@pytest.mark.anyio
async def test_stream_writes_reasoning_then_answer_with_tags_cut_across_pieces() -> None:
    sent = await call(
        ScriptedReasoningModel(token_delay=0), "POST", "/v1/chat/completions", chat(stream=True)
    )

    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-type"].startswith(b"text/event-stream")
    chunks = chunks_of(sent)
    assert streamed_text(chunks) == FULL_OUTPUT
    pieces = [choice["delta"].get("content") for chunk in chunks for choice in chunk["choices"]]
    assert "<think>" not in pieces
    assert not any("<think>" in piece or "</think>" in piece for piece in pieces if piece)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")


@pytest.mark.anyio
async def test_stream_sends_each_piece_in_its_own_body_message() -> None:
    sent = await call(
        ScriptedReasoningModel(token_delay=0), "POST", "/v1/chat/completions", chat(stream=True)
    )

    piece_messages = [m for m in sent[1:] if b'"content": "' in m["body"] and m["more_body"]]
    assert len(piece_messages) >= len(SCRIPTED_PIECES)
    assert sent[-1]["more_body"] is False


@pytest.mark.anyio
async def test_json_completion_holds_the_whole_output() -> None:
    sent = await call(ScriptedReasoningModel(token_delay=0), "POST", "/v1/chat/completions", chat())

    completion = json.loads(body_of(sent))
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body_of(sent))
    assert completion["object"] == "chat.completion"
    assert completion["model"] == DEMO_MODEL_NAME
    [choice] = completion["choices"]
    assert choice["message"]["content"] == FULL_OUTPUT
    assert choice["finish_reason"] == "stop"
    usage = completion["usage"]
    assert usage["completion_tokens"] == len(SCRIPTED_PIECES)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.anyio
@pytest.mark.parametrize("is_streaming", [True, False])
async def test_n_gives_every_choice_the_whole_output(is_streaming: bool) -> None:
    request = chat(n=3, stream=is_streaming)
    sent = await call(
        ScriptedReasoningModel(token_delay=0), "POST", "/v1/chat/completions", request
    )

    if is_streaming:
        chunks = chunks_of(sent)
        assert [streamed_text(chunks, index) for index in range(3)] == [FULL_OUTPUT] * 3
    else:
        choices = json.loads(body_of(sent))["choices"]
        assert [choice["index"] for choice in choices] == [0, 1, 2]
        assert {choice["message"]["content"] for choice in choices} == {FULL_OUTPUT}


@pytest.mark.anyio
@pytest.mark.parametrize("limit_field", ["max_tokens", "max_completion_tokens"])
async def test_token_limit_cuts_the_output_with_finish_reason_length(limit_field: str) -> None:
    request = chat(stream=True, **{limit_field: 4})
    sent = await call(
        ScriptedReasoningModel(token_delay=0), "POST", "/v1/chat/completions", request
    )

    chunks = chunks_of(sent)
    assert streamed_text(chunks) == "".join(SCRIPTED_PIECES[:4])
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.anyio
async def test_enable_thinking_false_answers_without_reasoning() -> None:
    request = chat(chat_template_kwargs={"enable_thinking": False})
    sent = await call(
        ScriptedReasoningModel(token_delay=0), "POST", "/v1/chat/completions", request
    )

    assert json.loads(body_of(sent))["choices"][0]["message"]["content"] == ANSWER_TEXT


@pytest.mark.anyio
async def test_include_usage_adds_a_usage_chunk_before_done() -> None:
    request = chat(stream=True, stream_options={"include_usage": True})
    sent = await call(
        ScriptedReasoningModel(token_delay=0), "POST", "/v1/chat/completions", request
    )

    usage_chunk = chunks_of(sent)[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == len(SCRIPTED_PIECES)


@pytest.mark.anyio
async def test_models_route_lists_the_model() -> None:
    sent = await call(ScriptedReasoningModel(model="my-model"), "GET", "/v1/models")

    assert sent[0]["status"] == 200
    assert [card["id"] for card in json.loads(body_of(sent))["data"]] == ["my-model"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "request_body", "status"),
    [
        ("POST", "/v1/embeddings", {}, 404),
        ("GET", "/v1/chat/completions", None, 405),
        ("POST", "/v1/models", {}, 405),
        ("POST", "/v1/chat/completions", "not an object", 400),
        ("POST", "/v1/chat/completions", {"messages": [], "n": 0}, 400),
    ],
)
async def test_bad_requests_get_an_openai_style_error(
    method: str, path: str, request_body: object, status: int
) -> None:
    sent = await call(ScriptedReasoningModel(), method, path, request_body)

    assert sent[0]["status"] == status
    assert json.loads(body_of(sent))["error"]["code"] == status


@pytest.mark.anyio
async def test_token_delay_spaces_the_pieces() -> None:
    app = ScriptedReasoningModel(token_delay=0.05, pieces=("a", "b", "c"))
    started = time.monotonic()
    sent = await call(app, "POST", "/v1/chat/completions", chat(stream=True))

    assert time.monotonic() - started >= 0.15
    assert streamed_text(chunks_of(sent)) == "abc"


@pytest.mark.anyio
async def test_stream_ends_quietly_when_the_client_is_gone() -> None:
    request = json.dumps(chat(stream=True)).encode()
    sends = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": request, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal sends
        sends += 1
        if sends >= 3:
            raise OSError("client disconnected")

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    await ScriptedReasoningModel(token_delay=0)(scope, receive, send)

    assert sends == 3


@pytest.mark.anyio
async def test_lifespan_startup_and_shutdown_complete() -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(dict(message))

    with anyio.fail_after(5):
        await ScriptedReasoningModel()({"type": "lifespan"}, receive, send)

    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_negative_token_delay_is_rejected() -> None:
    with pytest.raises(ValueError, match="token_delay"):
        ScriptedReasoningModel(token_delay=-1)


def test_openai_client_reads_the_stream_from_a_real_server() -> None:
    with serve_in_thread(ScriptedReasoningModel(token_delay=0)) as base_url:
        client = openai.OpenAI(
            base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=10
        )
        stream = client.chat.completions.create(
            model=DEMO_MODEL_NAME, messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        completion = client.chat.completions.create(
            model=DEMO_MODEL_NAME, messages=[{"role": "user", "content": "Hi"}]
        )

    assert text == FULL_OUTPUT
    assert completion.choices[0].message.content == FULL_OUTPUT
