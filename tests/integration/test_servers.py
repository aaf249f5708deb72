"""The middleware on real servers (uvicorn h11 and httptools, hypercorn, granian), read by
the official `openai` client (sync and async) and by raw `httpx` (exact bytes)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Final

import anyio
import httpx
import pytest
from openai import AsyncOpenAI, OpenAI

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

from tests.asgi_helpers import split_events
from tests.integration.client_view import (
    ChoiceText,
    assemble_chunks,
    assemble_sdk_chunks,
    chunk_objects,
    kinds_switch_once,
    reasoning_of,
)
from tests.integration.scripted_model import (
    BARE_HEADER,
    chat_request,
    cut_into_pieces,
    encode_json,
    script_for,
)
from tests.integration.servers import ServerProcess, error_lines

BARE: Final = dict([BARE_HEADER])
TIMEOUT_S: Final = 20.0


@pytest.fixture
def anyio_backend() -> str:
    # The openai SDK's AsyncStream drops its inner async generators unexhausted after [DONE],
    # which trio reports as a ResourceWarning (an error here); the servers run trio instead.
    return "asyncio"


def assert_streamed_as_script(choice: ChoiceText, prompt: str) -> None:
    script = script_for(prompt)
    assert choice.reasoning == script.reasoning
    assert choice.content == script.answer
    assert kinds_switch_once(choice.kinds_in_order)
    # Token by token: the reasoning arrives in many deltas, not as one block at the end.
    assert choice.reasoning_deltas > 5
    assert choice.finish_reason == "stop"


def test_openai_sync_client_reads_reasoning_content(upstream_server: ServerProcess) -> None:
    prompt = f"sync non-streaming on {upstream_server.name}"
    with OpenAI(
        base_url=upstream_server.base_url + "/v1", api_key="unused", max_retries=0
    ) as client:
        completion = client.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": prompt}]
        )

    message = completion.choices[0].message
    assert reasoning_of(message) == script_for(prompt).reasoning
    assert message.content == script_for(prompt).answer


def test_openai_sync_client_streams_reasoning_deltas(upstream_server: ServerProcess) -> None:
    prompt = f"sync streaming on {upstream_server.name}"
    with OpenAI(
        base_url=upstream_server.base_url + "/v1", api_key="unused", max_retries=0
    ) as client:
        stream = client.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": prompt}], stream=True
        )
        chunks = list(stream)

    assert_streamed_as_script(assemble_sdk_chunks(chunks)[0], prompt)


@pytest.mark.anyio
async def test_openai_async_client_reads_reasoning_content(upstream_server: ServerProcess) -> None:
    prompt = f"async non-streaming on {upstream_server.name}"
    async with AsyncOpenAI(
        base_url=upstream_server.base_url + "/v1", api_key="unused", max_retries=0
    ) as client:
        completion = await client.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": prompt}], n=2
        )

    for choice in completion.choices:
        script = script_for(prompt, choice.index)
        assert reasoning_of(choice.message) == script.reasoning
        assert choice.message.content == script.answer


@pytest.mark.anyio
async def test_openai_async_client_streams_reasoning_deltas(upstream_server: ServerProcess) -> None:
    prompt = f"async streaming on {upstream_server.name}"
    async with AsyncOpenAI(
        base_url=upstream_server.base_url + "/v1", api_key="unused", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model="scripted",
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            chunks = [chunk async for chunk in stream]

    assert_streamed_as_script(assemble_sdk_chunks(chunks)[0], prompt)
    assert chunks[-1].usage is not None


@pytest.mark.anyio
async def test_openai_async_client_keeps_choices_apart_in_a_stream(
    upstream_server: ServerProcess,
) -> None:
    prompt = f"two choices on {upstream_server.name}"
    async with AsyncOpenAI(
        base_url=upstream_server.base_url + "/v1", api_key="unused", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": prompt}], stream=True, n=2
        )
        chunks = [chunk async for chunk in stream]

    choices = assemble_sdk_chunks(chunks)
    for index in (0, 1):
        script = script_for(prompt, index)
        assert (choices[index].reasoning, choices[index].content) == (
            script.reasoning,
            script.answer,
        )


def comparable_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Response headers in order, without the ones that differ between any two responses."""
    return [
        (name, value) for name, value in response.headers.multi_items() if name not in ("date",)
    ]


def test_httpx_json_body_is_the_apps_with_reasoning_moved(upstream_server: ServerProcess) -> None:
    prompt = f"exact JSON bytes on {upstream_server.name} — ünïcode"
    with httpx.Client(base_url=upstream_server.base_url, timeout=TIMEOUT_S) as client:
        bare = client.post("/v1/chat/completions", json=chat_request(prompt), headers=BARE)
        wrapped = client.post("/v1/chat/completions", json=chat_request(prompt))

    expected = json.loads(bare.content)
    message = expected["choices"][0]["message"]
    message["content"] = script_for(prompt).answer
    message["reasoning_content"] = script_for(prompt).reasoning
    # The app reports no reasoning tokens, so the middleware adds its estimate.
    estimate = json.loads(wrapped.content)["usage"]["completion_tokens_details"]["reasoning_tokens"]
    assert 0 < estimate <= expected["usage"]["completion_tokens"]
    expected["usage"]["completion_tokens_details"] = {"reasoning_tokens": estimate}
    assert wrapped.status_code == 200
    assert json.loads(wrapped.content) == expected
    assert list(json.loads(wrapped.content)) == list(expected), "top-level key order changed"
    assert wrapped.content == encode_json(expected)
    assert int(wrapped.headers["content-length"]) == len(wrapped.content)
    assert wrapped.headers["content-type"] == bare.headers["content-type"]


def test_httpx_stream_events_keep_their_framing_and_fields(upstream_server: ServerProcess) -> None:
    prompt = f"exact SSE bytes on {upstream_server.name} — ünïcode"
    request = chat_request(prompt, stream=True, stream_options={"include_usage": True})
    with httpx.Client(base_url=upstream_server.base_url, timeout=TIMEOUT_S) as client:
        bare = client.post("/v1/chat/completions", json=request, headers=BARE)
        wrapped = client.post("/v1/chat/completions", json=request)

    assert wrapped.status_code == 200
    assert wrapped.headers["content-type"] == bare.headers["content-type"]
    assert "content-length" not in wrapped.headers
    wrapped_events = split_events(wrapped.content)
    bare_events = split_events(bare.content)
    assert all(event.startswith(b"data: ") and event.endswith(b"\n\n") for event in wrapped_events)
    # The finish and [DONE] events carry no text: they leave byte for byte as sent. The
    # usage chunk gains the middleware's reasoning_tokens estimate, one per reasoning delta.
    assert wrapped_events[-3] == bare_events[-3]
    assert wrapped_events[-1] == bare_events[-1]
    usage = json.loads(wrapped_events[-2][len(b"data: ") :])["usage"]
    reasoning_deltas = sum(
        1
        for chunk in chunk_objects(bare.content)
        for choice in chunk["choices"]
        if "<think>" not in (choice["delta"].get("content") or "")
    )
    assert 0 < usage["completion_tokens_details"]["reasoning_tokens"] <= reasoning_deltas
    assert b"<think>" not in wrapped.content
    assert b"</think>" not in wrapped.content

    chunks = chunk_objects(wrapped.content)
    envelope = {
        key: chunk_objects(bare.content)[0][key] for key in ("id", "object", "created", "model")
    }
    assert all({key: value[key] for key in envelope} == envelope for value in chunks)
    assert_streamed_as_script(assemble_chunks(chunks)[0], prompt)


@pytest.mark.parametrize("is_streaming", [False, True], ids=["json", "sse"])
def test_response_without_markers_is_byte_identical(
    upstream_server: ServerProcess, is_streaming: bool
) -> None:
    request = chat_request(
        f"no markers on {upstream_server.name}", model="plain", stream=is_streaming
    )
    with httpx.Client(base_url=upstream_server.base_url, timeout=TIMEOUT_S) as client:
        bare = client.post("/v1/chat/completions", json=request, headers=BARE)
        wrapped = client.post("/v1/chat/completions", json=request)

    assert bare.status_code == wrapped.status_code == 200
    assert wrapped.content == bare.content
    assert comparable_headers(wrapped) == comparable_headers(bare)


def test_sse_starlette_crlf_stream_is_rewritten(upstream_server: ServerProcess) -> None:
    prompt = f"sse-starlette on {upstream_server.name}"
    with httpx.Client(base_url=upstream_server.base_url, timeout=TIMEOUT_S) as client:
        wrapped = client.post(
            "/v1/chat/completions", json=chat_request(prompt, model="sse-starlette", stream=True)
        )

    assert wrapped.status_code == 200
    assert b"<think>" not in wrapped.content
    assert_streamed_as_script(assemble_chunks(chunk_objects(wrapped.content))[0], prompt)


@pytest.mark.anyio
async def test_first_reasoning_delta_arrives_while_the_app_is_still_streaming(
    upstream_server: ServerProcess,
) -> None:
    delay_ms = 20
    prompt = f"timing on {upstream_server.name}"
    request = chat_request(prompt, stream=True, x_delay_ms=delay_ms)
    # The role chunk, one chunk per piece of text, the finish chunk: a pause after each.
    event_count = 1 + len(cut_into_pieces(script_for(prompt).raw_text)) + 1
    app_duration_s = event_count * delay_ms / 1000

    async with httpx.AsyncClient(base_url=upstream_server.base_url, timeout=TIMEOUT_S) as client:
        started = time.monotonic()
        first_reasoning_after_s = None
        with anyio.fail_after(TIMEOUT_S):
            async with client.stream("POST", "/v1/chat/completions", json=request) as response:
                async for raw_event in response.aiter_lines():
                    if first_reasoning_after_s is None and '"reasoning_content":"' in raw_event:
                        first_reasoning_after_s = time.monotonic() - started
        total_s = time.monotonic() - started

    assert first_reasoning_after_s is not None
    assert total_s >= app_duration_s * 0.9
    assert first_reasoning_after_s < app_duration_s / 3


def test_server_logged_no_error(upstream_server: ServerProcess) -> None:
    with OpenAI(
        base_url=upstream_server.base_url + "/v1", api_key="unused", max_retries=0
    ) as client:
        mark = upstream_server.log_mark()
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "quiet"}]
        client.chat.completions.create(model="scripted", messages=messages)
        list(client.chat.completions.create(model="scripted", messages=messages, stream=True))
        time.sleep(0.1)

    assert error_lines(upstream_server.log_since(mark)) == []
