"""Bug: a finish chunk without ``delta`` went out before the text the choice was holding.
Fix: the held text goes out first, then the finish chunk as the server wrote it.
"""

from __future__ import annotations

import pytest

from tests.asgi_helpers import chunk, chunks_in, compact, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


async def test_held_text_precedes_a_finish_chunk_without_delta() -> None:
    finish = chunk(None, finish_reason="stop")
    del finish["choices"][0]["delta"]
    events = [sse_event(chunk("<think>a</think>b <")), sse_event(finish), sse_event(b"[DONE]")]
    recorder = await stream_through(events)
    choices = [c["choices"][0] for c in chunks_in(recorder.body)]
    assert choices[-2]["delta"] == {"content": "<"}
    assert choices[-2]["finish_reason"] is None
    assert choices[-1] == finish["choices"][0]
    assert compact(finish) in recorder.body
