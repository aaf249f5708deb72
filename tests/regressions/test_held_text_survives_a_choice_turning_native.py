"""Bug: text a choice held (a ``<`` that might start ``<think>``) vanished when the server
then sent ``reasoning_content`` itself.
Fix: held text is flushed, in order, before the first native delta.
"""

from __future__ import annotations

import pytest

from tests.asgi_helpers import assemble, chunk, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


async def test_held_text_comes_out_before_the_native_reasoning() -> None:
    events = [
        sse_event(chunk("1 <")),
        sse_event(chunk(None, delta={"reasoning_content": "why"})),
        sse_event(chunk(" 2")),
        sse_event(b"[DONE]"),
    ]
    recorder = await stream_through(events)
    assert assemble(recorder.body).content == "1 < 2"
    assert assemble(recorder.body).reasoning == "why"
