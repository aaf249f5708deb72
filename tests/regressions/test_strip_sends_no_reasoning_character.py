"""Strip is a guarantee: no character of reasoning reaches the client, whatever the stream.

Bug: under ``mode="strip"`` reasoning reached clients through request switches, native
fields, empty deltas and raw pass-through on odd framing.
Fix: strip is a floor no switch lowers, every carrier is filtered, and what cannot be
filtered is replaced by an error (DESIGN.md §17). Reasoning here is written in letters that
appear nowhere else in a stream (neither in JSON keys nor in answers), so finding one of them
anywhere in the bytes the client got, raw or escaped, is a leak.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.text.presets import PRESETS
from tests.asgi_helpers import (
    SSE_HEADERS,
    ScriptedReceive,
    chunk,
    compact,
    record,
    request_messages,
    response_app,
)

pytestmark = pytest.mark.anyio

SECRET_LETTERS = "ψжѮ"
ANSWER_LETTERS = "ab .\n"
# Harmony has no marker pairs (its channels are headers), so no text of it is made here.
PRESET_NAMES = sorted(name for name, fmt in PRESETS.items() if fmt.pairs)
SWITCHES: list[dict[str, Any]] = [
    {},
    {"separate_reasoning": True},
    {"separate_reasoning": False},
    {"reasoning_format": "none"},
    {"reasoning_format": "raw"},
    {"reasoning_format": "parsed"},
    {"reasoning_format": "hidden"},
    {"include_reasoning": False},
    {"include_reasoning": True},
    {"reasoning": {"exclude": True}},
    {"chat_template_kwargs": {"enable_thinking": True}},
    {"chat_template_kwargs": {"enable_thinking": False}},
    {"logprobs": True, "n": 2},
]
# A request switch that asks for strip under a configured "separate".
STRIP_SWITCHES = (
    {"reasoning_format": "hidden"},
    {"include_reasoning": False},
    {"reasoning": {"exclude": True}},
)

secret_text = st.text(SECRET_LETTERS, min_size=1, max_size=6)
answer_text = st.text(ANSWER_LETTERS, max_size=6)


@st.composite
def model_outputs(draw: st.DrawFn, preset: str, switches: dict[str, Any]) -> str:
    """What a model of ``preset`` writes: reasoning blocks (in secret letters) and answers.

    Without an opener at the start only where the template pre-fills it; a model asked not
    to think but thinking anyway writes its opener.
    """
    fmt = PRESETS[preset]
    opener, closer = draw(st.sampled_from(fmt.pairs))
    thinking_off = switches.get("chat_template_kwargs", {}).get("enable_thinking") is False
    text = "" if fmt.starts_in_reasoning and not thinking_off else opener
    text += draw(secret_text) + closer + draw(answer_text)
    if not fmt.leading_openers:
        for _ in range(draw(st.integers(0, 2))):
            text += opener + draw(secret_text) + closer + draw(answer_text)
    if draw(st.booleans()) and not fmt.leading_openers:
        # Truncated inside reasoning.
        text += opener + draw(secret_text)
    return text


def cut(text: str, cuts: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def stream_body(tokens: list[str], line_ending: bytes, native: bool) -> bytes:
    chunks = [chunk("", delta={"role": "assistant"})]
    for token in tokens:
        event = chunk(token)
        choice = event["choices"][0]
        choice["logprobs"] = {"content": [{"token": token, "logprob": -0.5, "bytes": None}]}
        choice["token_ids"] = [len(token)]
        chunks.append(event)
        if native and any(letter in token for letter in SECRET_LETTERS):
            chunks.append(chunk(None, delta={"reasoning_content": token, "thinking": token}))
    chunks.append(chunk(None, finish_reason="length"))
    blank = line_ending + line_ending
    return b"".join(b"data: " + compact(c) + blank for c in chunks) + b"data: [DONE]" + blank


def assert_no_secret(body: bytes) -> None:
    text = body.decode("utf-8", "replace")
    for letter in SECRET_LETTERS:
        assert letter not in text, f"{letter!r} reached the client: {text[:2000]}"
        escaped = json.dumps(letter)[1:-1]
        assert escaped.lower() not in text.lower(), f"{escaped} reached the client"


@st.composite
def stream_cases(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], list[bytes]]:
    """(preset, configured mode, request switches, body messages) of one streamed exchange."""
    preset = draw(st.sampled_from(PRESET_NAMES), label="preset")
    configured = draw(st.sampled_from(["strip", "separate"]), label="mode")
    switches = draw(st.sampled_from(SWITCHES if configured == "strip" else STRIP_SWITCHES))
    output = draw(model_outputs(preset, switches), label="output")
    tokens = [t for t in cut(output, draw(st.lists(st.integers(0, 500), max_size=12))) if t]
    line_ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]), label="framing")
    native = draw(st.booleans(), label="native fields too")
    body = stream_body(tokens, line_ending, native)
    parts = cut(body.decode("latin-1"), draw(st.lists(st.integers(0, 5000), max_size=8)))
    return preset, configured, switches, [part.encode("latin-1") for part in parts]


@st.composite
def body_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(preset, request switches, completion) of one non-streaming exchange."""
    preset = draw(st.sampled_from(PRESET_NAMES), label="preset")
    switches = draw(st.sampled_from(SWITCHES), label="switch")
    output = draw(model_outputs(preset, switches), label="output")
    tokens = [t for t in cut(output, draw(st.lists(st.integers(0, 500), max_size=12))) if t]
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": output},
                "logprobs": {"content": [{"token": t, "logprob": -1.0} for t in tokens]},
                "finish_reason": draw(st.sampled_from(["stop", "length"])),
            }
        ],
    }
    return preset, switches, body


def request_with(switches: dict[str, Any]) -> ScriptedReceive:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **switches}
    return ScriptedReceive(request_messages(json.dumps(request).encode()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=stream_cases())
async def test_no_reasoning_character_reaches_the_client_under_strip(
    case: tuple[str, str, dict[str, Any], list[bytes]],
) -> None:
    preset, configured, switches, parts = case
    app = response_app(parts, headers=list(SSE_HEADERS), content_length=False)
    middleware = ReasoningMiddleware(app, preset=preset, mode=configured)  # type: ignore[arg-type]
    recorder = await record(middleware, receive=request_with(switches))
    assert_no_secret(recorder.body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=body_cases())
async def test_no_reasoning_character_reaches_the_client_in_a_json_body(
    case: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    preset, switches, body = case
    app = response_app([compact(body)])
    middleware = ReasoningMiddleware(app, preset=preset, mode="strip")
    recorder = await record(middleware, receive=request_with(switches))
    assert_no_secret(recorder.body)
