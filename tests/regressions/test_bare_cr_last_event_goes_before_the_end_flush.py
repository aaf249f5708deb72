"""Bug: with bare-CR framing, the body's end (held text) was flushed before the last event,
which the parser holds until it knows no LF follows its CR.
Fix: the parser's last events are rendered first, then what the rewriter still held.
"""

from __future__ import annotations

import pytest

from tests.asgi_helpers import chunk, chunks_in, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


async def test_text_order_survives_bare_cr_framing() -> None:
    events = [sse_event(chunk(t), line_ending=b"\r") for t in ["<think>a</think>", "b <", "c"]]
    recorder = await stream_through(events)
    texts = [c["choices"][0]["delta"].get("content") or "" for c in chunks_in(recorder.body)]
    assert "".join(texts) == "b <c"
