"""Bug: each event cost O(number of choices seen) (20,000 indices took 63 s), and the state per
stream grew with every new index.
Fix: an event costs O(its own choices); at most ``MAX_CHOICES`` (1,000) indices get state.
Beyond them a choice passes through unchanged, or under strip ends the stream with an error.
"""

from __future__ import annotations

import time

import pytest

from asgi_reasoning.apis.chat_completions import MAX_CHOICES
from tests.asgi_helpers import chunk, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


def indexed(index: int, text: str) -> bytes:
    # "<" makes the event parsed, so that its choice gets state.
    return sse_event(chunk(text, index=index))


async def test_many_choices_cost_linear_time() -> None:
    started = time.perf_counter()
    await stream_through([indexed(i, "<think>a</think>b") for i in range(MAX_CHOICES)])
    assert time.perf_counter() - started < 10


async def test_a_choice_beyond_the_cap_passes_through() -> None:
    events = [indexed(i, "<b") for i in range(MAX_CHOICES)]
    extra = indexed(MAX_CHOICES, "<think>a</think>b")
    recorder = await stream_through([*events, extra])
    assert recorder.body.endswith(extra)


async def test_a_choice_beyond_the_cap_fails_closed_under_strip() -> None:
    events = [indexed(i, "<b") for i in range(MAX_CHOICES)]
    recorder = await stream_through(
        [*events, indexed(MAX_CHOICES, "<think>secret</think>b")], mode="strip"
    )
    assert b"secret" not in recorder.body
    assert recorder.body.endswith(b'withheld","type":"server_error","param":null,"code":null}}\n\n')
