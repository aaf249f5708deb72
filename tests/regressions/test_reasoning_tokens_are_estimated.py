"""Bug: after reasoning was split out of the text, ``usage.completion_tokens_details.
reasoning_tokens`` stayed absent or 0, so clients counted no reasoning at all (#11).
Fix: an estimate when the server left it absent or 0: in a stream one token per reasoning
delta the server sent; in a whole body ``completion_tokens`` times the share of reasoning
characters. A server's own count is kept; under strip nothing is estimated.
"""

from __future__ import annotations

import json

import pytest

from tests.asgi_helpers import chunk, chunks_in, compact, completion, sse_event
from tests.regressions._exchange import body_through, stream_through

pytestmark = pytest.mark.anyio


def usage_chunk(details: dict[str, int] | None = None) -> bytes:
    usage: dict[str, object] = {"prompt_tokens": 1, "completion_tokens": 10, "total_tokens": 11}
    if details is not None:
        usage["completion_tokens_details"] = details
    return sse_event({"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": usage})


STREAM = [sse_event(chunk(t)) for t in ["<think>", "a", "b", "c", "</think>", "ok"]]


@pytest.mark.parametrize("details", [None, {"reasoning_tokens": 0}])
async def test_a_stream_counts_its_reasoning_deltas(details: dict[str, int] | None) -> None:
    recorder = await stream_through([*STREAM, usage_chunk(details)])
    usage = chunks_in(recorder.body)[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 3


async def test_a_servers_own_count_is_kept() -> None:
    recorder = await stream_through([*STREAM, usage_chunk({"reasoning_tokens": 7})])
    assert chunks_in(recorder.body)[-1]["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": 7
    }


async def test_a_body_estimates_from_the_share_of_reasoning_characters() -> None:
    body = completion("<think>abcdef</think>xy")
    body["usage"]["completion_tokens"] = 8
    recorder = await body_through(compact(body))
    usage = json.loads(recorder.body)["usage"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 6}


async def test_nothing_is_estimated_under_strip() -> None:
    recorder = await stream_through([*STREAM, usage_chunk()], mode="strip")
    assert "completion_tokens_details" not in chunks_in(recorder.body)[-1]["usage"]
