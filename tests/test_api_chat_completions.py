"""The Chat Completions shape through ReasoningMiddleware: DESIGN.md §4, §6, §7 and §8.

Recorder tests, as in ``test_middleware.py`` (the ASGI duties); the per-request switches
are in ``test_policy.py``, the dict-level rewriter in ``test_bodies.py``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningMiddleware, ReasoningSplitter
from tests.asgi_helpers import (
    Assembled,
    assemble,
    assert_forwarded_unchanged,
    chunk,
    chunks_in,
    compact,
    completion,
    content_stream,
    deltas_in,
    json_app,
    message_of,
    record,
    response_app,
    split_events,
    sse_app,
    sse_event,
)

pytestmark = pytest.mark.anyio

ROLE_CHUNK = sse_event(chunk("", delta={"role": "assistant"}))
DONE = sse_event(b"[DONE]")


async def test_json_completion_is_rewritten_with_key_order_and_length_right() -> None:
    original = completion(
        "<think>\nGröße?</think>\n\nGroß.", message={"refusal": None, "annotations": []}
    )
    original["system_fingerprint"] = "fp_1"
    recorder = await record(ReasoningMiddleware(json_app(original)))

    rewritten = json.loads(recorder.body)
    assert list(rewritten) == list(original)
    assert list(rewritten["choices"][0]) == list(original["choices"][0])
    assert rewritten["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Groß.",
        "reasoning_content": "Größe?",
        "refusal": None,
        "annotations": [],
    }
    assert list(rewritten["choices"][0]["message"]) == [
        "role",
        "content",
        "reasoning_content",
        "refusal",
        "annotations",
    ]
    assert {k: v for k, v in rewritten.items() if k not in ("choices", "usage")} == {
        k: v for k, v in original.items() if k not in ("choices", "usage")
    }
    # The server left reasoning_tokens out: an estimate is added (#11), the rest is kept.
    assert rewritten["usage"] == {
        **original["usage"],
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    assert recorder.header(b"content-length") == str(len(recorder.body)).encode()


async def test_json_completion_with_only_reasoning_gets_null_content() -> None:
    recorder = await record(ReasoningMiddleware(json_app(completion("<think>all thought</think>"))))
    message = message_of(recorder.body)
    assert message["content"] is None
    assert message["reasoning_content"] == "all thought"


async def test_json_reasoning_blocks_are_joined_with_a_blank_line() -> None:
    text = "<think>one</think>A<think>two</think>B"
    recorder = await record(ReasoningMiddleware(json_app(completion(text))))
    assert message_of(recorder.body)["reasoning_content"] == "one\n\ntwo"
    assert message_of(recorder.body)["content"] == "AB"


@pytest.mark.parametrize(
    ("finish_reason", "expected"),
    [
        pytest.param("stop", {"content": "Just the answer."}, id="answer without thinking"),
        pytest.param(
            "length",
            {"content": None, "reasoning_content": "Just the answer."},
            id="cut off while thinking",
        ),
    ],
)
async def test_json_answer_without_a_marker_stays_content_unless_cut_off(
    finish_reason: str, expected: dict[str, Any]
) -> None:
    app = json_app(completion("Just the answer.", finish_reason=finish_reason))
    recorder = await record(ReasoningMiddleware(app, preset="deepseek_r1"))
    assert message_of(recorder.body) == {"role": "assistant", **expected}


async def test_delta_yielding_both_kinds_becomes_consecutive_chunks() -> None:
    tool_calls = [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "f", "arguments": "{}"},
        }
    ]
    logprobs = {"content": [{"token": "x", "logprob": -0.1, "bytes": [120], "top_logprobs": []}]}
    source = chunk(
        "<think>why</think>Yes",
        delta={"role": "assistant", "tool_calls": tool_calls},
        finish_reason="tool_calls",
    )
    source["choices"][0]["logprobs"] = logprobs
    recorder = await record(ReasoningMiddleware(sse_app([sse_event(source), DONE])))

    chunks = chunks_in(recorder.body)
    assert [c["choices"][0] for c in chunks] == [
        {
            "index": 0,
            "delta": {"content": None, "reasoning_content": "why", "role": "assistant"},
            "logprobs": None,
            "finish_reason": None,
        },
        {
            "index": 0,
            "delta": {"content": "Yes", "tool_calls": tool_calls},
            "logprobs": logprobs,
            "finish_reason": "tool_calls",
        },
    ]
    assert all(
        {k: v for k, v in c.items() if k != "choices"}
        == {k: v for k, v in source.items() if k != "choices"}
        for c in chunks
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.integers(0, 60), max_size=12),
    text=st.sampled_from(
        [
            "<think>\nplan a</think>\n\nanswer <b>",
            "pre <think>r1</think> mid <think>r2</think>post",
            "<think>only reasoning, cut off",
            "no markers < here",
        ]
    ),
)
async def test_no_delta_carries_both_reasoning_and_content(cuts: list[int], text: str) -> None:
    bounds = [0, *sorted(c for c in set(cuts) if c < len(text)), len(text)]
    tokens = [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    recorder = await record(ReasoningMiddleware(sse_app(content_stream(tokens))))

    expected_text = ReasoningSplitter()
    segments = expected_text.feed(text) + expected_text.finish()
    assembled = assemble(recorder.body)
    assert assembled.reasoning == "".join(t for kind, t in segments if kind == "reasoning")
    assert assembled.content == "".join(t for kind, t in segments if kind == "content")
    for delta in deltas_in(recorder.body):
        assert not (delta.get("reasoning_content") and delta.get("content"))
    assert split_events(recorder.body)[-1] == DONE


async def test_held_text_is_flushed_before_finish_reason() -> None:
    events = content_stream(["<think>a</think>Yes <th"])
    recorder = await record(ReasoningMiddleware(sse_app(events)))
    choices = [c["choices"][0] for c in chunks_in(recorder.body)]
    finish_at = next(i for i, c in enumerate(choices) if c["finish_reason"] is not None)
    assert "".join(c["delta"].get("content") or "" for c in choices[: finish_at + 1]) == "Yes <th"
    assert choices[finish_at + 1 :] == []


async def test_held_reasoning_is_flushed_before_a_length_finish() -> None:
    events = [
        ROLE_CHUNK,
        sse_event(chunk("<think>abc </th")),
        sse_event(chunk(None, finish_reason="length")),
        DONE,
    ]
    recorder = await record(ReasoningMiddleware(sse_app(events)))
    choices = [c["choices"][0] for c in chunks_in(recorder.body)]
    assert choices[-1]["finish_reason"] == "length"
    assert assemble(recorder.body).reasoning == "abc </th"
    assert split_events(recorder.body)[-1] == DONE


async def test_held_text_is_flushed_before_done() -> None:
    events = [ROLE_CHUNK, sse_event(chunk("<think>a</think>Yes <th")), DONE]
    recorder = await record(ReasoningMiddleware(sse_app(events)))
    out = split_events(recorder.body)
    assert out[-1] == DONE
    assert chunks_in(out[-2])[0]["choices"][0]["delta"] == {"content": "<th"}
    assert assemble(recorder.body).content == "Yes <th"


async def test_held_text_is_flushed_at_body_end() -> None:
    events = [ROLE_CHUNK, sse_event(chunk("<think>a</think>Yes <th"))]
    recorder = await record(ReasoningMiddleware(sse_app(events)))
    recorder.assert_complete()
    assert chunks_in(recorder.messages[-1]["body"])[0]["choices"][0]["delta"] == {"content": "<th"}
    assert assemble(recorder.body).content == "Yes <th"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            sse_event(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "m",
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 3,
                        "completion_tokens": 5,
                        "total_tokens": 8,
                        # The server's own count: no estimate replaces it (#11).
                        "completion_tokens_details": {"reasoning_tokens": 2},
                    },
                }
            ),
            id="usage-only chunk",
        ),
        pytest.param(
            sse_event(
                {"error": {"message": "<think> overloaded", "type": "server_error", "code": 503}}
            ),
            id="error event",
        ),
        pytest.param(
            sse_event(
                chunk(
                    None,
                    delta={
                        "tool_calls": [{"index": 0, "function": {"arguments": '{"q": "<think>"}'}}]
                    },
                )
            ),
            id="tool_calls delta",
        ),
        pytest.param(sse_event({"type": "response.delta", "text": "</think>"}), id="unknown JSON"),
        pytest.param(sse_event([1, 2, "<think>"]), id="JSON array"),
    ],
)
async def test_event_without_content_to_split_passes_unchanged_inside_reasoning(
    event: bytes,
) -> None:
    events = [
        ROLE_CHUNK,
        sse_event(chunk("<think>thinking")),
        event,
        sse_event(chunk(" on</think>ok")),
        DONE,
    ]
    recorder = await record(ReasoningMiddleware(sse_app(events)))
    out = split_events(recorder.body)
    assert out[2] == event
    assert assemble(recorder.body) == Assembled("thinking on", "ok")


NATIVE_REASONING = [
    pytest.param({"reasoning_content": "why"}, id="reasoning_content string"),
    pytest.param({"reasoning": "why"}, id="reasoning string"),
    pytest.param(
        {"reasoning": [{"type": "text", "text": "wh"}, {"type": "text", "text": "y"}]},
        id="reasoning parts",
    ),
    pytest.param({"reasoning": {"text": "why"}}, id="reasoning object with text"),
    pytest.param({"reasoning": {"content": "why"}}, id="reasoning object with content"),
]
FIELDS = [
    pytest.param("reasoning", ("reasoning",), id="field=reasoning"),
    pytest.param(
        ("reasoning_content", "reasoning"), ("reasoning_content", "reasoning"), id="both fields"
    ),
]


@pytest.mark.parametrize("native", NATIVE_REASONING)
@pytest.mark.parametrize(("field", "names"), FIELDS)
async def test_native_json_reasoning_is_normalised_to_the_field(
    native: dict[str, Any], field: str | tuple[str, ...], names: tuple[str, ...]
) -> None:
    answer = "Use <think> and </think> as markers."
    app = json_app(completion(answer, message=native))
    recorder = await record(ReasoningMiddleware(app, field=field))
    assert message_of(recorder.body) == {
        "role": "assistant",
        "content": answer,
        **dict.fromkeys(names, "why"),
    }


@pytest.mark.parametrize("native", NATIVE_REASONING)
@pytest.mark.parametrize(("field", "names"), FIELDS)
async def test_native_stream_reasoning_is_normalised_to_the_field(
    native: dict[str, Any], field: str | tuple[str, ...], names: tuple[str, ...]
) -> None:
    events = [
        ROLE_CHUNK,
        sse_event(chunk(None, delta=native)),
        sse_event(chunk("Use <think> as")),
        sse_event(chunk(" a marker.")),
        sse_event(chunk(None, finish_reason="stop")),
        DONE,
    ]
    recorder = await record(ReasoningMiddleware(sse_app(events), field=field))
    for name in names:
        assert assemble(recorder.body, field=name) == Assembled("why", "Use <think> as a marker.")
    for delta in deltas_in(recorder.body):
        assert set(delta) - {"role", "content"} <= set(names)


async def test_json_reasoning_already_in_the_field_is_forwarded_unchanged() -> None:
    app = json_app(completion("Use <think>.", message={"reasoning_content": "why"}))
    await assert_forwarded_unchanged(app)


async def test_stream_reasoning_already_in_the_field_is_forwarded_unchanged() -> None:
    # vLLM and SGLang leave `content` out of a delta that carries only reasoning.
    events = [
        ROLE_CHUNK,
        sse_event(chunk(None, delta={"reasoning_content": "why"})),
        sse_event(chunk("Use <think>.")),
        DONE,
    ]
    await assert_forwarded_unchanged(sse_app(events))


SECRET = "qzx"


async def test_strip_mode_leaves_no_reasoning_in_a_json_body() -> None:
    app = json_app(completion(f"<think>{SECRET} {SECRET}</think>Answer"))
    recorder = await record(ReasoningMiddleware(app, mode="strip"))
    assert SECRET.encode() not in recorder.body
    assert message_of(recorder.body) == {"role": "assistant", "content": "Answer"}


async def test_strip_mode_leaves_no_reasoning_in_a_stream() -> None:
    tokens = ["<think>", SECRET[:2], SECRET[2:], f" {SECRET}</th", "ink>Ans", "wer"]
    recorder = await record(ReasoningMiddleware(sse_app(content_stream(tokens)), mode="strip"))
    assert SECRET[:2].encode() not in recorder.body
    assert b"reasoning" not in recorder.body
    assert assemble(recorder.body).content == "Answer"


async def test_strip_mode_removes_native_reasoning_fields() -> None:
    json_body = completion("Answer", message={"reasoning_content": SECRET, "reasoning": SECRET})
    recorder = await record(ReasoningMiddleware(json_app(json_body), mode="strip"))
    assert SECRET.encode() not in recorder.body

    events = [
        ROLE_CHUNK,
        sse_event(chunk(None, delta={"reasoning": SECRET})),
        sse_event(chunk("Answer")),
        DONE,
    ]
    recorder = await record(ReasoningMiddleware(sse_app(events), mode="strip"))
    assert SECRET.encode() not in recorder.body
    assert assemble(recorder.body).content == "Answer"


async def test_response_without_markers_is_byte_identical() -> None:
    text = "If a < b and <thinking> is not a tag, then 3<4."
    await assert_forwarded_unchanged(json_app(completion(text)))
    tokens = ["If a < b", " and <thinking>", " is not a tag,", " then 3<4."]
    await assert_forwarded_unchanged(sse_app(content_stream(tokens)))


async def test_go_style_escaped_markers_are_recognised() -> None:
    escaped = b"\\u003cthink\\u003ewhy\\u003c/think\\u003eYes"
    body = compact(completion("PLACEHOLDER")).replace(b"PLACEHOLDER", escaped)
    recorder = await record(ReasoningMiddleware(response_app([body])))
    assert message_of(recorder.body)["reasoning_content"] == "why"
    assert message_of(recorder.body)["content"] == "Yes"

    event = sse_event(compact(chunk("PLACEHOLDER")).replace(b"PLACEHOLDER", escaped))
    recorder = await record(ReasoningMiddleware(sse_app([ROLE_CHUNK, event, DONE])))
    assert assemble(recorder.body) == Assembled("why", "Yes")
