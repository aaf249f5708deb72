"""Bug: reasoning-only deltas came in different shapes: with ``content: null`` when split
from a content delta, without it when flushed or split from a finish chunk.
Fix: every reasoning-only delta made by the middleware is ``{"content": null,
"reasoning_content": ...}`` (DeepSeek's convention), the flushed last one too.
"""

from __future__ import annotations

import pytest

from tests.asgi_helpers import chunk, deltas_in, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


async def test_split_and_flushed_reasoning_deltas_look_alike() -> None:
    events = [
        sse_event(chunk("<think>a")),
        sse_event(chunk("b</thi")),
    ]
    recorder = await stream_through(events)
    reasoning = [d for d in deltas_in(recorder.body) if d.get("reasoning_content")]
    assert reasoning == [
        {"content": None, "reasoning_content": "a"},
        {"content": None, "reasoning_content": "b"},
        {"content": None, "reasoning_content": "</thi"},
    ]


async def test_a_finish_chunk_splits_into_the_same_shape() -> None:
    events = [
        sse_event(chunk("<think>a")),
        sse_event(chunk(None, delta={}, finish_reason="length")),
    ]
    recorder = await stream_through(events)
    assert {"content": None, "reasoning_content": "a"} in deltas_in(recorder.body)
