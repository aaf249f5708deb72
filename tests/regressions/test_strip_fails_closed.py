"""Bug: what strip could not filter went to the client raw, ``<think>`` and all: a JSON body
over ``max_body_size``, an SSE event over 1 MiB, a last event without its blank line, a gzip
body, a body the JSON backend rejects, ``content`` as a list of parts, an exception in a
rewriter, a 200 of another media type.
Fix: under strip such a body is replaced by the API's error (status 502 for JSON; an error
event and the end of the stream for SSE), and the log says why.
"""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any

import pytest

from tests.asgi_helpers import JSON_TYPE, SSE_HEADERS, chunk, compact, completion, sse_event
from tests.failing_api import FailingChatCompletionsAPI, carrying, serve_as
from tests.regressions._exchange import body_through, stream_through

pytestmark = pytest.mark.anyio

ERROR = {
    "error": {
        "message": "the response could not be filtered; it was withheld",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
THINKING = compact(completion("<think>secret</think>Answer"))


def assert_replaced_by_an_error(recorder: object, body: bytes) -> None:
    assert b"secret" not in body
    assert json.loads(body) == ERROR


@pytest.mark.parametrize(
    ("body", "headers", "kwargs"),
    [
        pytest.param(THINKING, None, {"max_body_size": 20}, id="over max_body_size"),
        pytest.param(
            gzip.compress(THINKING),
            [JSON_TYPE, (b"content-encoding", b"gzip")],
            {},
            id="compressed",
        ),
        pytest.param(b'{"choices": [<think>secret', None, {}, id="not JSON"),
        pytest.param(
            compact(
                {
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"content": [{"type": "text", "text": "<think>secret"}]},
                        }
                    ],
                }
            ),
            None,
            {},
            id="content as parts",
        ),
        pytest.param(
            compact({"object": "text_completion", "text": "<think>secret</think>x"}),
            None,
            {},
            id="unknown shape holding a marker",
        ),
        pytest.param(
            b"<think>secret</think>Answer",
            [(b"content-type", b"text/plain; charset=utf-8")],
            {},
            id="another media type",
        ),
    ],
)
async def test_a_body_strip_cannot_filter_becomes_a_502(
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None,
    kwargs: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "asgi_reasoning"):
        recorder = await body_through(body, headers=headers, mode="strip", **kwargs)
    assert recorder.start["status"] == 502
    assert recorder.header(b"content-type") == b"application/json"
    assert recorder.header(b"content-encoding") is None
    assert recorder.header(b"content-length") == str(len(recorder.body)).encode()
    assert_replaced_by_an_error(recorder, recorder.body)
    assert any("strip" in r.message for r in caplog.records)


async def test_an_exception_in_the_rewriter_becomes_a_502(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = FailingChatCompletionsAPI(fail_body=True)
    serve_as(api, monkeypatch)
    recorder = await body_through(THINKING, mode="strip")
    assert api.failures == 1
    assert recorder.start["status"] == 502
    assert_replaced_by_an_error(recorder, recorder.body)


def last_event(body: bytes) -> bytes:
    return body.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]


STREAM_START = [sse_event(chunk("<think>")), sse_event(chunk("secret"))]


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param(
            [sse_event(chunk("<think>")), b"data: " + b'"' + b"x" * (1024 * 1024) + b'"\n\n'],
            id="event over 1 MiB",
        ),
        pytest.param(
            [sse_event(chunk("<think>")), b"data: " + compact(chunk("secret"))],
            id="last event without its blank line",
        ),
        pytest.param([sse_event(chunk("<think>")), b"data: secret <think>\n\n"], id="not JSON"),
        pytest.param(
            [sse_event(chunk(None, delta={"content": [{"type": "text", "text": "secret"}]}))],
            id="content as parts",
        ),
    ],
)
async def test_an_event_strip_cannot_filter_ends_the_stream_with_an_error(
    parts: list[bytes],
) -> None:
    recorder = await stream_through(
        [*parts, sse_event(chunk("after")), sse_event(b"[DONE]")],
        mode="strip",
        starts_in_reasoning=True,
    )
    assert b"secret" not in recorder.body
    assert b"after" not in recorder.body
    assert json.loads(last_event(recorder.body).removeprefix(b"data: ")) == ERROR
    recorder.assert_complete()


async def test_a_compressed_stream_is_replaced_by_an_error_event() -> None:
    body = gzip.compress(b"".join(STREAM_START))
    recorder = await stream_through(
        [body], headers=[*SSE_HEADERS, (b"content-encoding", b"gzip")], mode="strip"
    )
    assert recorder.header(b"content-encoding") is None
    assert json.loads(last_event(recorder.body).removeprefix(b"data: ")) == ERROR
    recorder.assert_complete()


async def test_an_exception_mid_stream_ends_it_with_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = FailingChatCompletionsAPI(fail_on=carrying("more"))
    serve_as(api, monkeypatch)
    events = [sse_event(chunk(t)) for t in ["Hi", "<think>", "secret", "more"]]
    recorder = await stream_through(events, mode="strip")
    assert api.failures == 1
    assert b"secret" not in recorder.body
    assert b"Hi" in recorder.body
    assert json.loads(last_event(recorder.body).removeprefix(b"data: ")) == ERROR
