"""Bug: under strip, ``logprobs: true`` kept every reasoning token in
``logprobs.content[].token`` / ``bytes``.
Fix: tokens are mapped to text positions: only the logprobs of answer tokens stay (all of a
choice's are dropped when its tokens do not spell its text).
"""

from __future__ import annotations

import json

import pytest

from tests.asgi_helpers import chunk, compact, completion, sse_event
from tests.regressions._exchange import body_through, stream_through

pytestmark = pytest.mark.anyio

TOKENS = ["<think>", "sec", "ret", "</think>", "\n\n", "Ans", "wer"]


def entry(token: str) -> dict[str, object]:
    return {"token": token, "logprob": -0.1, "bytes": list(token.encode()), "top_logprobs": []}


async def test_a_body_keeps_the_logprobs_of_answer_tokens_only() -> None:
    body = completion("".join(TOKENS))
    body["choices"][0]["logprobs"] = {"content": [entry(t) for t in TOKENS], "refusal": None}
    recorder = await body_through(compact(body), mode="strip")
    out = json.loads(recorder.body)["choices"][0]
    assert out["message"]["content"] == "Answer"
    assert [e["token"] for e in out["logprobs"]["content"]] == ["Ans", "wer"]
    assert b"sec" not in recorder.body and b"115, 101, 99" not in recorder.body


async def test_unmapped_logprobs_are_all_dropped() -> None:
    body = completion("<think>secret</think>Answer")
    body["choices"][0]["logprobs"] = {"content": [entry("sec"), entry("x")]}
    recorder = await body_through(compact(body), mode="strip")
    assert json.loads(recorder.body)["choices"][0]["logprobs"] == {"content": []}


async def test_a_stream_drops_the_logprobs_of_reasoning_deltas() -> None:
    events = []
    for token in TOKENS:
        event = chunk(token)
        event["choices"][0]["logprobs"] = {"content": [entry(token)]}
        events.append(sse_event(event))
    recorder = await stream_through(events, mode="strip")
    assert b"sec" not in recorder.body
    assert b'"token":"Ans"' in recorder.body
