"""Bug: under ``mode="strip"`` a client got reasoning back with ``separate_reasoning: true``,
any ``reasoning_format``, or raw ``<think>`` with ``reasoning_format: "none"``.
Fix: the configured strip is a floor; a request may move toward strip, never away from it.
Groq's ``reasoning_format: "hidden"`` is strip, ``"raw"`` passthrough.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.asgi_helpers import chunk, compact, completion, sse_event
from tests.regressions._exchange import body_through, stream_through

pytestmark = pytest.mark.anyio

SWITCHES = [
    {"separate_reasoning": True},
    {"separate_reasoning": False},
    {"reasoning_format": "none"},
    {"reasoning_format": "raw"},
    {"reasoning_format": "parsed"},
    {"reasoning_format": "deepseek"},
    {"include_reasoning": True},
    {"reasoning": {"exclude": False}},
]


@pytest.mark.parametrize("switch", SWITCHES)
async def test_no_switch_brings_reasoning_back_under_strip(switch: dict[str, Any]) -> None:
    recorder = await body_through(
        compact(completion("<think>secret</think>Answer")), mode="strip", request=switch
    )
    assert b"secret" not in recorder.body
    assert b"Answer" in recorder.body


@pytest.mark.parametrize("switch", SWITCHES)
async def test_no_switch_brings_reasoning_back_in_a_stream(switch: dict[str, Any]) -> None:
    events = [sse_event(chunk(t)) for t in ["<think>", "secret", "</think>", "Answer"]]
    recorder = await stream_through(events, mode="strip", request=switch)
    assert b"secret" not in recorder.body


async def test_hidden_is_strip() -> None:
    recorder = await body_through(
        compact(completion("<think>secret</think>Answer")),
        request={"reasoning_format": "hidden"},
    )
    assert b"secret" not in recorder.body


async def test_raw_is_passthrough() -> None:
    body = compact(completion("<think>mine</think>Answer"))
    recorder = await body_through(body, request={"reasoning_format": "raw"})
    assert recorder.body == body
