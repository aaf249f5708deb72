"""Strip under a real server, read with the openai SDK: nothing of the reasoning arrives, and
what cannot be filtered reaches the SDK as the API's own error (DESIGN.md §17)."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

import openai
import pytest

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import serve_in_thread
from tests.asgi_helpers import (
    JSON_TYPE,
    SSE_HEADERS,
    chunk,
    compact,
    completion,
    response_app,
    sse_event,
)

if TYPE_CHECKING:
    from asgi_reasoning.asgi import ASGIApp
    from tests.asgi_helpers import ResponseApp

pytestmark = pytest.mark.timeout(60)

TOKENS = ["<think>", "sec", "ret", "</think>", "Ans", "wer"]


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=20)


def streamed(app: ASGIApp, **switches: object) -> str:
    with serve_in_thread(app, lifespan="off") as url:
        stream = client(url).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_body=switches,
        )
        parts = []
        for event in stream:
            for choice in event.choices:
                assert "sec" not in str(choice.model_dump())
                parts.append(choice.delta.content or "")
        return "".join(parts)


def stream_app(parts: list[bytes], headers: list[tuple[bytes, bytes]] | None = None) -> ResponseApp:
    return response_app([*parts, b""], headers=headers or list(SSE_HEADERS), content_length=False)


def test_the_sdk_reads_the_answer_alone_under_strip() -> None:
    parts = [sse_event(chunk(t)) for t in TOKENS] + [sse_event(b"[DONE]")]
    app = ReasoningMiddleware(stream_app(parts), mode="strip")
    assert streamed(app, separate_reasoning=True) == "Answer"


def test_an_unfilterable_stream_reaches_the_sdk_as_an_api_error() -> None:
    parts = [sse_event(chunk("<think>")), b"data: not json secret\n\n", sse_event(b"[DONE]")]
    app = ReasoningMiddleware(stream_app(parts), mode="strip")
    with pytest.raises(openai.APIError, match="could not be filtered"):
        streamed(app)


def test_a_compressed_body_reaches_the_sdk_as_a_502() -> None:
    body = gzip.compress(compact(completion("<think>secret</think>Answer")))
    app = ReasoningMiddleware(
        response_app([body], headers=[JSON_TYPE, (b"content-encoding", b"gzip")]), mode="strip"
    )
    with (
        serve_in_thread(app, lifespan="off") as url,
        pytest.raises(openai.InternalServerError) as raised,
    ):
        client(url).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 502
    assert "secret" not in raised.value.response.text
