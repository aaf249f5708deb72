"""Bug: a chunk whose ``index`` was a list or object (unhashable) broke the response, and so
did response headers given as a generator (ASGI allows any iterable).
Fix: choices are keyed by a hashable form of any JSON index; headers are read once.
"""

from __future__ import annotations

from typing import Any

import pytest

from asgi_reasoning import ReasoningMiddleware
from tests.asgi_helpers import SSE_HEADERS, ResponseApp, assemble, chunk, record, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("index", [[0], {"i": 0}, "0", 0.0, None, True, 2**70])
async def test_an_index_of_any_json_type_is_a_choice(index: Any) -> None:
    events = []
    for text in ["<think>a", "</think>b"]:
        event = chunk(text)
        event["choices"][0]["index"] = index
        events.append(sse_event(event))
    recorder = await stream_through(events)
    assert b'"reasoning_content":"a"' in recorder.body
    assert b'"content":"b"' in recorder.body


async def test_headers_given_as_a_generator_are_kept() -> None:
    body = sse_event(chunk("<think>a</think>b"))

    class GeneratorHeaders(ResponseApp):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            headers = (pair for pair in [*SSE_HEADERS, (b"x-request-id", b"7")])
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    recorder = await record(ReasoningMiddleware(GeneratorHeaders({}, [])))
    assert recorder.header(b"x-request-id") == b"7"
    assert assemble(recorder.body).reasoning == "a"
