"""Bug: under strip, ``reasoning_details`` (OpenRouter), ``thinking_blocks`` (LiteLLM),
``thinking`` and reasoning objects with only a ``summary`` reached the client.
Fix: strip removes reasoning fields of every name, in messages and in deltas.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.asgi_helpers import chunk, compact, completion, sse_event
from tests.regressions._exchange import body_through, stream_through

pytestmark = pytest.mark.anyio

CARRIERS: list[dict[str, Any]] = [
    {"reasoning_content": "secret"},
    {"reasoning": "secret"},
    {"reasoning": {"summary": "secret"}},
    {"reasoning": [{"type": "text", "text": "secret"}]},
    {"reasoning_details": [{"type": "reasoning.text", "text": "secret"}]},
    {"reasoning_details": [{"type": "reasoning.summary", "summary": "secret"}]},
    {"thinking": "secret"},
    {"thinking_blocks": [{"type": "thinking", "thinking": "secret", "signature": "s"}]},
]


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_message_keeps_no_reasoning_field(carrier: dict[str, Any]) -> None:
    recorder = await body_through(compact(completion("Answer", message=carrier)), mode="strip")
    assert b"secret" not in recorder.body
    assert b'"content":"Answer"' in recorder.body


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_delta_keeps_no_reasoning_field(carrier: dict[str, Any]) -> None:
    events = [
        sse_event(chunk("", delta={"role": "assistant"})),
        sse_event(chunk(None, delta=carrier)),
        sse_event(chunk("Answer")),
        sse_event(b"[DONE]"),
    ]
    recorder = await stream_through(events, mode="strip")
    assert b"secret" not in recorder.body
    assert b"Answer" in recorder.body
