"""Bug: many LF-only events in one body message cost O(lines x bytes): the parser searched
the rest of the text for a CR again after every line, since "not found" (-1) compared below
every position (2.9 MB of small events took 4 s).
Fix: "not found" is remembered as the end of the text, so each byte is searched once.
"""

from __future__ import annotations

import time

import pytest

from asgi_reasoning.wire.sse import SSEParser
from tests.asgi_helpers import chunk, sse_event
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


def parse_time(events: int, line_ending: bytes) -> float:
    body = (b"data: {}" + line_ending + line_ending) * events
    parser = SSEParser()
    started = time.perf_counter()
    parser.feed(body)
    parser.finish()
    return time.perf_counter() - started


@pytest.mark.parametrize("line_ending", [b"\n", b"\r", b"\r\n"])
def test_ten_times_the_events_take_about_ten_times_as_long(line_ending: bytes) -> None:
    small = min(parse_time(5_000, line_ending) for _ in range(3))
    large = min(parse_time(50_000, line_ending) for _ in range(3))
    # Linear: about 10; the quadratic scan gave about 100.
    assert large / small < 30


async def test_a_large_body_message_of_small_events_is_rewritten_quickly() -> None:
    body = b"".join(sse_event(chunk(f"<think>{i}</think>w")) for i in range(20_000))
    started = time.perf_counter()
    recorder = await stream_through([body])
    assert time.perf_counter() - started < 10
    assert recorder.body.count(b'"content":"w"') == 20_000
