"""Bug: bodies shaped to slip past the filter (escaped markers, an index the request did not
ask for, arrays, data split over lines, reasoning under unexpected keys) reached clients of
``mode="strip"`` with their reasoning.
Fix: under strip every such body is filtered or replaced by an error; none leaks.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.asgi_helpers import chunk, compact, completion, sse_event
from tests.regressions._exchange import body_through, stream_through

pytestmark = pytest.mark.anyio


def escaped(text: str) -> bytes:
    # As Go servers write "<" and ">".
    return text.replace("<", "\\u003c").replace(">", "\\u003e").encode()


HOSTILE_STREAMS: list[Any] = [
    pytest.param(
        [
            b'data: {"choices":[{"index":0,"delta":{"content":"'
            + escaped("<think>secret")
            + b'"}}]}\n\n'
        ],
        {},
        id="escaped marker",
    ),
    pytest.param(
        [sse_event(chunk("secret", index=1))], {"starts_in_reasoning": True}, id="unasked index"
    ),
    pytest.param(
        [sse_event([{"choices": [{"delta": {"content": "<think>secret"}}]}])], {}, id="array"
    ),
    pytest.param(
        [b'data: {"choices":[{"index":0,\ndata: "delta":{"content":"<think>secret"}}]}\n\n'],
        {},
        id="data over two lines",
    ),
    pytest.param(
        [sse_event(chunk(None, delta={"reasoning": {"summary": [{"text": "secret"}]}}))],
        {},
        id="summary parts",
    ),
    pytest.param(
        [
            sse_event(chunk("<think>sec")),
            sse_event({"choices": [{"index": 0, "delta": {"content": "ret"}}], "object": "other"}),
        ],
        {},
        id="another object",
    ),
    pytest.param(
        [sse_event(chunk("<think>")), b"data: " + compact(chunk("secret"))[:-5] + b"\n\n"],
        {},
        id="truncated JSON",
    ),
    pytest.param(
        [
            sse_event(
                {"id": "x", "choices": [{"index": 0, "message": {"content": "<think>secret"}}]}
            )
        ],
        {},
        id="message in a stream",
    ),
]


@pytest.mark.parametrize(("parts", "kwargs"), HOSTILE_STREAMS)
async def test_a_hostile_stream_leaks_nothing(parts: list[bytes], kwargs: dict[str, Any]) -> None:
    recorder = await stream_through([*parts, sse_event(b"[DONE]")], mode="strip", **kwargs)
    assert b"secret" not in recorder.body
    assert b"sec" not in recorder.body.replace(b"server_error", b"")


def nested(depth: int, inner: bytes) -> bytes:
    return b'{"a":[' * depth + inner + b"]}" * depth


HOSTILE_BODIES: list[Any] = [
    pytest.param(
        compact(completion("<think>secret</think>ok", message={"reasoning_content": 1})),
        id="odd native value",
    ),
    pytest.param(
        b'{"object":"chat.completion","choices":[{"index":0,"message":{"content":"'
        + escaped("<think>secret</think>ok")
        + b'"}}]}',
        id="escaped marker",
    ),
    pytest.param(
        compact({"choices": [{"index": [0], "message": {"content": "<think>secret</think>ok"}}]}),
        id="no object, list index",
    ),
    pytest.param(compact([completion("<think>secret</think>ok")]), id="array of completions"),
    pytest.param(
        compact(completion("ok"))[:-1] + b',"extra":' + nested(900, b'"<think>secret"') + b"}",
        id="deeply nested marker",
    ),
    pytest.param(
        compact(completion("<think>secret</think>ok")).replace(b"}", b"}" * 2, 1), id="broken JSON"
    ),
    pytest.param(b"\xef\xbb\xbf" + compact(completion("<think>secret</think>ok")), id="BOM"),
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
async def test_a_hostile_body_leaks_nothing(body: bytes) -> None:
    recorder = await body_through(body, mode="strip")
    assert b"secret" not in recorder.body
