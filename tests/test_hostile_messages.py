"""Messages under hostile streams and bodies (DESIGN.md §14, §17).

Under strip no reasoning character reaches the client, whatever the shape: what cannot be
filtered ends the stream with Anthropic's error event (a 502 error body for a whole message).
In the other modes odd events never raise and nothing the app sent is lost.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.apis.base import UnfilterableError
from asgi_reasoning.apis.messages import (
    MAX_OPEN_BLOCKS,
    MessagesAPI,
    MessageStreamRewriter,
    rewrite_message,
)
from asgi_reasoning.policy import Policy
from asgi_reasoning.text.presets import PRESETS
from asgi_reasoning.text.splitter import ReasoningSplitter
from tests.asgi_helpers import (
    http_scope,
    json_request,
    record,
    response_app,
    rewritten_stream,
    sse_app,
    sse_event,
    strip_stream_body,
)

Payload = dict[str, Any]
API = MessagesAPI()
SECRET = "SEKRIT"
PRESET_NAMES = ("think", "deepseek_r1", "qwen3", "mistral", "auto")
ODD_INDICES = st.sampled_from([0, 1, 2, "0", 1.0, True, None, [0], 2**70, -1, {"i": 0}])


def policy(preset: str = "think", mode: str = "strip") -> Policy:
    return Policy(
        tag_format=PRESETS[preset],
        starts_in_reasoning=False,
        mode=mode,  # type: ignore[arg-type]
        fields=("reasoning_content",),
        signature="",
    )


def texts(preset: str) -> st.SearchStrategy[str]:
    """Texts whose every SECRET sits inside the preset's reasoning markers."""
    pairs = PRESETS[preset].pairs
    return st.sampled_from(pairs).flatmap(
        lambda pair: st.sampled_from(
            [
                f"{pair[0]}{SECRET}{pair[1]}answer",
                f"{pair[0]}{SECRET}",
                "answer",
                f"{pair[0]}\n{SECRET}\n{pair[1]}\n\n",
            ]
        )
    )


def events(preset: str) -> st.SearchStrategy[Payload]:
    text = texts(preset)
    block = st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": st.one_of(st.just(""), text)}),
        st.just({"type": "thinking", "thinking": SECRET, "signature": SECRET}),
        st.just({"type": "redacted_thinking", "data": SECRET}),
        st.just({"type": "tool_use", "id": "t", "name": "f", "input": {}}),
        st.fixed_dictionaries({"type": st.just("server_thing"), "x": text}),
        st.none(),
    )
    delta = st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("text_delta"), "text": st.one_of(text, st.integers(), st.none())}
        ),
        st.just({"type": "thinking_delta", "thinking": SECRET}),
        st.just({"type": "signature_delta", "signature": SECRET}),
        st.just({"type": "input_json_delta", "partial_json": "{}"}),
        st.fixed_dictionaries({"type": st.just("future_delta"), "text": text}),
        st.just("answer"),
    )
    return st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("content_block_start"), "index": ODD_INDICES, "content_block": block}
        ),
        st.fixed_dictionaries(
            {"type": st.just("content_block_delta"), "index": ODD_INDICES, "delta": delta}
        ),
        st.fixed_dictionaries({"type": st.just("content_block_stop"), "index": ODD_INDICES}),
        st.sampled_from(
            [
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}},
                {"type": "message_stop"},
                {"type": "ping"},
            ]
        ),
        st.fixed_dictionaries({"type": st.just("future_event"), "x": text}),
        st.fixed_dictionaries(
            {
                "type": st.just("message_start"),
                "message": st.fixed_dictionaries(
                    {"type": st.just("message"), "content": st.lists(block, max_size=2)}
                ),
            }
        ),
    )


def run(stream: list[Payload], p: Policy) -> list[Payload]:
    return rewritten_stream(API, stream, p)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), preset=st.sampled_from(PRESET_NAMES))
def test_strip_sends_no_reasoning_character_for_any_event_sequence(
    data: st.DataObject, preset: str
) -> None:
    stream = data.draw(st.lists(events(preset), max_size=14))
    assert SECRET not in json.dumps(run(stream, policy(preset)))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), preset=st.sampled_from(PRESET_NAMES), mode=st.sampled_from(["separate"]))
def test_odd_events_never_raise_outside_strip(data: st.DataObject, preset: str, mode: str) -> None:
    stream = data.draw(st.lists(events(preset), max_size=14))
    for event in run(stream, policy(preset, mode)):
        assert isinstance(event.get("type"), str)
        json.dumps(event)


def test_a_bool_index_is_not_block_one() -> None:
    rewriter = API.new_stream(policy(mode="separate"), {})
    rewriter.rewrite({"type": "content_block_start", "index": 1, "content_block": {"type": "x"}})
    moved = rewriter.rewrite({"type": "content_block_stop", "index": True})
    assert moved is None


def test_strip_refuses_a_thinking_start_without_a_usable_index() -> None:
    start = {"type": "content_block_start", "index": [0], "content_block": {}}
    start["content_block"] = {"type": "redacted_thinking", "data": SECRET}
    assert SECRET not in json.dumps(run([start], policy()))


def test_strip_refuses_an_unknown_event_holding_a_marker() -> None:
    out = run([{"type": "future_event", "x": f"<think>{SECRET}</think>"}], policy())
    assert out == [API.error_event("withheld")]


def test_strip_splits_text_beside_native_thinking_in_a_stream() -> None:
    stream = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": f"<think>{SECRET}</think>answer"},
        },
        {"type": "content_block_stop", "index": 1},
    ]
    out = run(stream, policy())
    assert SECRET not in json.dumps(out)
    assert "answer" in json.dumps(out)


def test_strip_splits_text_beside_native_thinking_in_a_whole_message() -> None:
    body = {
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": SECRET, "signature": ""},
            {"type": "text", "text": f"<think>{SECRET}</think>answer"},
        ],
        "stop_reason": "end_turn",
    }
    rewritten = rewrite_message(body, policy())
    assert rewritten is not None
    assert rewritten["content"] == [{"type": "text", "text": "answer"}]


def test_strip_refuses_a_whole_message_with_reasoning_in_an_unknown_block() -> None:
    body = {"type": "message", "content": [{"type": "future", "x": f"<think>{SECRET}"}]}
    with pytest.raises(UnfilterableError):
        rewrite_message(body, policy())


def test_other_modes_keep_an_unknown_block_as_it_came() -> None:
    body = {"type": "message", "content": [{"type": "future", "x": f"<think>{SECRET}"}]}
    assert rewrite_message(body, policy(mode="separate")) is None


def test_stopped_blocks_leave_no_state_behind() -> None:
    rewriter = MessageStreamRewriter(policy(mode="separate"))
    for index in range(10_000):
        block = {"type": "tool_use", "id": f"t{index}", "name": "f", "input": {}}
        rewriter.rewrite({"type": "content_block_start", "index": index, "content_block": block})
        rewriter.rewrite({"type": "content_block_stop", "index": index})
    assert len(rewriter._blocks) == 0


def test_open_blocks_are_capped_and_strip_refuses_more() -> None:
    kept = MessageStreamRewriter(policy(mode="separate"))
    stripped = MessageStreamRewriter(policy())
    block = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    for index in range(MAX_OPEN_BLOCKS):
        start = {"type": "content_block_start", "index": index, "content_block": block}
        kept.rewrite(start)
        stripped.rewrite(start)
    last = {"type": "content_block_start", "index": MAX_OPEN_BLOCKS, "content_block": block}
    assert kept.rewrite(last) is None
    assert len(kept._blocks) == MAX_OPEN_BLOCKS
    with pytest.raises(UnfilterableError):
        stripped.rewrite(last)


# Through the middleware


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    preset=st.sampled_from(PRESET_NAMES),
    line_ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(0, 5000), max_size=8),
    switch=st.booleans(),
)
@pytest.mark.anyio
async def test_strip_stream_through_the_middleware_carries_no_reasoning(
    data: st.DataObject, preset: str, line_ending: bytes, cuts: list[int], switch: bool
) -> None:
    stream = data.draw(st.lists(events(preset), max_size=10))
    body = await strip_stream_body(
        stream,
        path="/v1/messages",
        request={"model": "m", "stream": True},
        preset=preset,
        line_ending=line_ending,
        cuts=cuts,
        by_request=switch,
    )
    assert SECRET.encode() not in body


@pytest.mark.anyio
async def test_strip_whole_message_with_reasoning_in_an_unknown_block_is_a_502() -> None:
    body = {"type": "message", "content": [{"type": "future", "x": f"<think>{SECRET}"}]}
    app = ReasoningMiddleware(response_app([json.dumps(body).encode()]), mode="strip")
    recorder = await record(app, http_scope("/v1/messages"), json_request({"model": "m"}))
    assert recorder.start["status"] == 502
    assert SECRET.encode() not in recorder.body


# Other modes: valid events stay valid, and nothing the app sent is lost

PIECES = st.lists(st.sampled_from(["<think>", "</think>", "<th", "ink>", "a", "b c", "<", "é"]))


def valid_stream(blocks: list[tuple[str, list[str]]]) -> list[Payload]:
    usage = {"input_tokens": 1, "output_tokens": 1}
    message: Payload = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    stream: list[Payload] = [{"type": "message_start", "message": message}]
    for index, (kind, pieces) in enumerate(blocks):
        if kind == "text":
            block: Payload = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
        else:
            block = {"type": "tool_use", "id": f"t{index}", "name": "f", "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": "{}"}]
        stream.append({"type": "content_block_start", "index": index, "content_block": block})
        stream += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        stream.append({"type": "content_block_stop", "index": index})
    stream.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 1},
        }
    )
    stream.append({"type": "message_stop"})
    return stream


def split_text(text: str, preset: str) -> str:
    """What the splitter keeps of one block's whole text, reasoning and answer together."""
    splitter = ReasoningSplitter.from_format(PRESETS[preset], starts_in_reasoning=False)
    return "".join(piece for _, piece in [*splitter.feed(text), *splitter.finish()])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    blocks=st.lists(st.tuples(st.sampled_from(["text", "tool_use"]), PIECES), max_size=5),
    preset=st.sampled_from(["think", "qwen3", "auto"]),
)
def test_valid_events_stay_valid_and_keep_every_character(
    blocks: list[tuple[str, list[str]]], preset: str
) -> None:
    from anthropic.types import RawMessageStreamEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    out = run(valid_stream(blocks), policy(preset, "separate"))
    for event in out:
        adapter.validate_python(event)
    sent = "".join(
        e["delta"].get("text", "") + e["delta"].get("thinking", "")
        for e in out
        if e["type"] == "content_block_delta"
    ).replace("\n\n", "")
    # A marker may be cut anywhere in a block, never across blocks.
    app_text = "".join(split_text("".join(p), preset) for kind, p in blocks if kind == "text")
    assert sent == app_text.replace("\n\n", "")
    starts = [e for e in out if e["type"] == "content_block_start"]
    assert [e["index"] for e in starts] == list(range(len(starts)))
    tools = [e for e in starts if e["content_block"]["type"] == "tool_use"]
    assert len(tools) == sum(kind == "tool_use" for kind, _ in blocks)


@pytest.mark.anyio
async def test_strip_reads_a_thinking_delta_that_holds_no_marker_byte() -> None:
    delta = {"type": "content_block_delta", "index": 0, "delta": {}}
    delta["delta"] = {"type": "thinking_delta", "thinking": SECRET}
    app = ReasoningMiddleware(sse_app([sse_event(delta, name=str(delta["type"]))]), mode="strip")
    recorder = await record(
        app, http_scope("/v1/messages"), json_request({"model": "m", "stream": True})
    )
    assert SECRET.encode() not in recorder.body
