"""Bug: none: failing open is the contract of ``separate`` (the client keeps its response).
Fix: pinned here, beside strip's fail-closed rule, so that neither leaks into the other.
"""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from tests.asgi_helpers import JSON_TYPE, chunk, compact, completion, sse_event
from tests.regressions._exchange import body_through, stream_through

pytestmark = pytest.mark.anyio

THINKING = compact(completion("<think>mine</think>Answer"))


@pytest.mark.parametrize(
    ("body", "headers", "kwargs"),
    [
        (THINKING, None, {"max_body_size": 20}),
        (gzip.compress(THINKING), [JSON_TYPE, (b"content-encoding", b"gzip")], {}),
        (b'{"choices": [<think>', None, {}),
    ],
)
async def test_an_unreadable_body_passes_through_under_separate(
    body: bytes, headers: list[tuple[bytes, bytes]] | None, kwargs: dict[str, Any]
) -> None:
    recorder = await body_through(body, headers=headers, **kwargs)
    assert recorder.start["status"] == 200
    assert recorder.body == body


async def test_an_unterminated_last_event_passes_through_under_separate() -> None:
    tail = b"data: " + compact(chunk("tail"))
    recorder = await stream_through([sse_event(chunk("Hi")), tail])
    assert recorder.body.endswith(tail)
