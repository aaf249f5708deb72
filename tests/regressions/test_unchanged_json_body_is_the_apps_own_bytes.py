"""Bug: a JSON body that came back from the rewriter equal to what it was was re-serialised
anyway (other spacing, other escapes, other number forms).
Fix: an unchanged body is forwarded as the app's own bytes, whatever it contains (``NaN``
and big integers included).
"""

from __future__ import annotations

import json

import pytest

from tests.asgi_helpers import completion
from tests.regressions._exchange import body_through

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["separate", "strip"])
async def test_a_body_without_reasoning_keeps_its_bytes(mode: str) -> None:
    body = completion("Größe 1e-05 < 2", message={"reasoning_content": None})
    body["usage"]["completion_tokens"] = 2**70
    raw = json.dumps(body, indent=2).replace('"m"', "NaN").encode()
    recorder = await body_through(raw, mode=mode)
    assert recorder.body == raw
