"""Bug: a delta holding only ``<th`` was dropped with its choice-level extension fields
(vLLM's ``token_ids``) and its event's ``id:`` line.
Fix: the fields travel with the held text and go out with it; the dropped event's ``id:``
goes out in an event without data, so the client's Last-Event-ID stays the app's.
"""

from __future__ import annotations

import pytest

from tests.asgi_helpers import chunk, chunks_in, compact
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


def with_ids(content: str, token_ids: list[int], event_id: str) -> bytes:
    event = chunk(content)
    event["choices"][0]["token_ids"] = token_ids
    return b"id: " + event_id.encode() + b"\ndata: " + compact(event) + b"\n\n"


async def test_token_ids_and_event_id_survive_a_held_delta() -> None:
    events = [with_ids("a", [1], "1"), with_ids("<th", [2], "2"), with_ids("e end", [3], "3")]
    recorder = await stream_through([*events, b"data: [DONE]\n\n"])
    assert b"id: 2\n\n" in recorder.body
    choices = [c["choices"][0] for c in chunks_in(recorder.body)]
    assert [c["delta"]["content"] for c in choices] == ["a", "<the end"]
    assert [c["token_ids"] for c in choices] == [[1], [2, 3]]
