"""Bug: when a rewrite failed in the middle of a body message, the events before it in that
message went out raw while the text they had left held was flushed too: sent twice.
Fix: events before the failure go out rewritten, then the held text, then the rest raw.
"""

from __future__ import annotations

import pytest

from tests.asgi_helpers import chunk, sse_event
from tests.failing_api import FailingChatCompletionsAPI, carrying, serve_as
from tests.regressions._exchange import stream_through

pytestmark = pytest.mark.anyio


async def test_held_text_is_sent_once_when_a_rewrite_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FailingChatCompletionsAPI(fail_on=carrying("boom"))
    serve_as(api, monkeypatch)
    message = sse_event(chunk("x <")) + sse_event(chunk("<th")) + sse_event(chunk("boom"))
    recorder = await stream_through([message])
    assert api.failures == 1
    assert recorder.body.count(b"<th") == 1
    assert recorder.body.count(b"x <") + recorder.body.count(b'"<"') == 1
