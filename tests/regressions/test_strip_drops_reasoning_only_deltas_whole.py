"""Bug: under strip a reasoning-only delta became an empty ``delta: {}`` event, whose count and
timing revealed the reasoning.
Fix: such a delta is dropped whole, native or split from text; what remains looks like a
stream that never reasoned.
"""

from __future__ import annotations

import pytest

from tests.asgi_helpers import chunk, chunks_in, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("native", [False, True])
async def test_no_event_is_left_for_reasoning(native: bool) -> None:
    thoughts = ["one", " two", " three"]
    events = [sse_event(chunk("", delta={"role": "assistant"}))]
    if native:
        events += [sse_event(chunk(None, delta={"reasoning_content": t})) for t in thoughts]
    else:
        events += [sse_event(chunk(t)) for t in ["<think>", *thoughts, "</think>"]]
    events += [sse_event(chunk("Answer")), sse_event(chunk(None, finish_reason="stop"))]
    recorder = await stream_through([*events, sse_event(b"[DONE]")], mode="strip")
    deltas = [c["choices"][0]["delta"] for c in chunks_in(recorder.body) if c["choices"]]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "Answer"}, {}]
