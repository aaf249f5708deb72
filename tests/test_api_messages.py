"""The Anthropic Messages shape (DESIGN.md §14, §17): event dicts, whole messages, and bytes.

Dict-level tests drive ``MessageStreamRewriter`` directly; byte-level tests run the scripted
servers of ``tests/messages_app.py`` through ``ReasoningMiddleware`` with a recorder.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.apis import api_for_path
from asgi_reasoning.apis.messages import MessagesAPI, rewrite_message
from asgi_reasoning.bodies import ALWAYS_INSPECT, closed_sse_body
from asgi_reasoning.policy import Policy
from asgi_reasoning.text.presets import PRESETS
from asgi_reasoning.text.splitter import compile_grammar
from asgi_reasoning.wire import json as _json
from tests.asgi_helpers import (
    event_data,
    http_scope,
    json_request,
    record,
    response_app,
    split_events,
    sse_app,
)
from tests.messages_app import SCRIPTS, STYLES, json_body, messages_app, stream_body

Payload = dict[str, Any]
API = MessagesAPI()
PATH = "/v1/messages"


def policy(
    *, starts_in_reasoning: bool = False, mode: str = "separate", signature: str = ""
) -> Policy:
    return Policy(
        tag_format=PRESETS["think"],
        starts_in_reasoning=starts_in_reasoning,
        mode=mode,  # type: ignore[arg-type]
        fields=("reasoning_content",),
        signature=signature,
    )


def start(index: int, block: Payload | None = None) -> Payload:
    return {
        "type": "content_block_start",
        "index": index,
        "content_block": block or {"type": "text", "text": ""},
    }


def text(index: int, value: str) -> Payload:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "text_delta", "text": value},
    }


def delta(index: int, value: Payload) -> Payload:
    return {"type": "content_block_delta", "index": index, "delta": value}


def stop(index: int) -> Payload:
    return {"type": "content_block_stop", "index": index}


MESSAGE_START: Payload = {"type": "message_start", "message": {"id": "msg_1", "content": []}}
MESSAGE_DELTA: Payload = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
MESSAGE_STOP: Payload = {"type": "message_stop"}
TOOL_BLOCK: Payload = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}


def text_message(pieces: list[str], *, stop_reason: str = "end_turn") -> list[Payload]:
    return [
        MESSAGE_START,
        start(0),
        *(text(0, piece) for piece in pieces),
        stop(0),
        {"type": "message_delta", "delta": {"stop_reason": stop_reason}},
        MESSAGE_STOP,
    ]


def rewrite_all(events: list[Payload], p: Policy, *, shortcut: bool = False) -> list[Payload]:
    """What the client receives; ``shortcut``: skip events as the body layer does."""
    rewriter = API.new_stream(p, {})
    triggers = (
        *map(_json.string_bytes, compile_grammar(p.tag_format).in_content.first_chars),
        *ALWAYS_INSPECT,
        *API.always_inspect,
    )
    out: list[Payload] = []
    for event in events:
        data = _json.dumps(event)
        if shortcut and rewriter.is_transparent and not any(t in data for t in triggers):
            out.append(event)
            continue
        rewritten = rewriter.rewrite(json.loads(data))
        out.extend([event] if rewritten is None else rewritten)
    out.extend(rewriter.flush())
    return out


@dataclass
class Block:
    type: str
    text: str = ""
    signature: str | None = None
    stops: int = 0
    deltas: list[str] = field(default_factory=list)


def client_view(events: list[Payload]) -> list[Block]:
    """The content a Messages client builds, checking what the SDK's accumulator relies on."""
    blocks: list[Block] = []
    for event in events:
        kind = event["type"]
        if kind == "content_block_start":
            assert event["index"] == len(blocks), "a block starts at the next index"
            assert all(b.stops == 1 for b in blocks), "blocks do not overlap"
            block = event["content_block"]
            blocks.append(Block(block["type"], block.get("text", block.get("thinking", ""))))
        elif kind == "content_block_delta":
            block = blocks[event["index"]]
            assert block.stops == 0, "no delta after a block's stop"
            d = event["delta"]
            block.deltas.append(d["type"])
            if d["type"] == "text_delta":
                assert block.type == "text"
                assert d["text"], "no empty text deltas"
                block.text += d["text"]
            elif d["type"] == "thinking_delta":
                assert block.type == "thinking"
                assert d["thinking"], "no empty thinking deltas"
                block.text += d["thinking"]
            elif d["type"] == "signature_delta":
                assert block.type == "thinking"
                assert block.signature is None, "one signature per block"
                block.signature = d["signature"]
            elif d["type"] == "input_json_delta":
                assert block.type == "tool_use"
                block.text += d["partial_json"]
        elif kind == "content_block_stop":
            blocks[event["index"]].stops += 1
        elif kind == "message_delta":
            assert all(b.stops == 1 for b in blocks), "every block stopped before message_delta"
    assert all(b.stops == 1 for b in blocks), "every started block stopped exactly once"
    for block in blocks:
        if block.type == "thinking":
            assert block.deltas[-1] == "signature_delta", "the signature comes last"
    return blocks


def shape(blocks: list[Block]) -> list[tuple[str, str]]:
    return [(b.type, b.text) for b in blocks]


# Streams, dict level


def test_reasoning_in_a_text_block_becomes_a_thinking_block_before_it() -> None:
    events = text_message(["<think>\nPlan.</think>\n\nAnswer."])
    assert shape(client_view(rewrite_all(events, policy()))) == [
        ("thinking", "Plan."),
        ("text", "Answer."),
    ]


def test_a_thinking_block_starts_empty_with_an_empty_signature() -> None:
    out = rewrite_all(text_message(["<think>a</think>b"]), policy())
    assert out[1] == start(0, {"type": "thinking", "thinking": "", "signature": ""})


def test_one_signature_delta_with_the_configured_signature_comes_before_the_stop() -> None:
    out = rewrite_all(text_message(["<think>a", "b</think>c"]), policy(signature="local"))
    signatures = [e for e in out if e.get("delta", {}).get("type") == "signature_delta"]
    assert signatures == [delta(0, {"type": "signature_delta", "signature": "local"})]
    assert out[out.index(signatures[0]) + 1] == stop(0)


def test_a_delta_with_reasoning_and_answer_is_split_in_text_order() -> None:
    out = rewrite_all(text_message(["<think>Easy", ".</think>\n\nThe", " answer"]), policy())
    assert out[1:-2] == [
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Easy"}),
        delta(0, {"type": "thinking_delta", "thinking": "."}),
        delta(0, {"type": "signature_delta", "signature": ""}),
        stop(0),
        start(1),
        text(1, "The"),
        text(1, " answer"),
        stop(1),
    ]


def test_the_text_block_start_waits_for_its_first_text() -> None:
    rewriter = API.new_stream(policy(), {})
    assert rewriter.rewrite(start(0)) == []
    assert rewriter.rewrite(text(0, "Hi")) == [start(0), text(0, "Hi")]


def test_every_later_block_index_shifts_tool_use_and_its_input_json_deltas_too() -> None:
    events = [
        MESSAGE_START,
        start(0),
        text(0, "<think>call f</think>Calling."),
        stop(0),
        start(1, TOOL_BLOCK),
        delta(1, {"type": "input_json_delta", "partial_json": '{"a":'}),
        delta(1, {"type": "input_json_delta", "partial_json": "1}"}),
        stop(1),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]
    out = rewrite_all(events, policy())
    assert out[-6:-2] == [
        start(2, TOOL_BLOCK),
        delta(2, {"type": "input_json_delta", "partial_json": '{"a":'}),
        delta(2, {"type": "input_json_delta", "partial_json": "1}"}),
        stop(2),
    ]
    assert [(b.type, b.text) for b in client_view(out)][2] == ("tool_use", '{"a":1}')


def test_event_types_match_their_content() -> None:
    out = rewrite_all(text_message(["<think>a</think>b"]), policy())
    assert all(isinstance(e["type"], str) for e in out)
    assert [API.event_name(e) for e in out] == [e["type"] for e in out]


def test_several_reasoning_blocks_become_several_thinking_blocks_without_a_leading_separator() -> (
    None
):
    events = text_message(["<think>one</think>A. <think>two</think>B."])
    assert shape(client_view(rewrite_all(events, policy()))) == [
        ("thinking", "one"),
        ("text", "A. "),
        ("thinking", "two"),
        ("text", "B."),
    ]


def test_adjacent_reasoning_blocks_share_one_thinking_block() -> None:
    events = text_message(["<think>one</think>\n<think>two</think>B."])
    assert shape(client_view(rewrite_all(events, policy()))) == [
        ("thinking", "one\n\ntwo"),
        ("text", "B."),
    ]


def test_a_prefilled_opener_means_the_first_text_is_reasoning() -> None:
    events = text_message(["Count.", "</think>", "\n\nThree."])
    assert shape(client_view(rewrite_all(events, policy(starts_in_reasoning=True)))) == [
        ("thinking", "Count."),
        ("text", "Three."),
    ]


def test_only_the_first_text_block_starts_in_reasoning() -> None:
    events = [
        MESSAGE_START,
        start(0),
        text(0, "R</think>A"),
        stop(0),
        start(1, TOOL_BLOCK),
        stop(1),
        start(2),
        text(2, "After the tool."),
        stop(2),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]
    assert shape(client_view(rewrite_all(events, policy(starts_in_reasoning=True)))) == [
        ("thinking", "R"),
        ("text", "A"),
        ("tool_use", ""),
        ("text", "After the tool."),
    ]


def test_truncated_reasoning_is_flushed_as_thinking_with_what_it_held() -> None:
    events = text_message(["<think>Still", " going </th"], stop_reason="max_tokens")
    assert shape(client_view(rewrite_all(events, policy()))) == [("thinking", "Still going </th")]


def test_truncated_body_without_stops_flushes_held_reasoning_as_thinking() -> None:
    rewriter = API.new_stream(policy(), {})
    out: list[Payload] = []
    for event in [MESSAGE_START, start(0), text(0, "<think>Still </thi")]:
        out += rewriter.rewrite(event) or [event]
    out += rewriter.flush()
    assert out[-3:] == [
        delta(0, {"type": "thinking_delta", "thinking": "</thi"}),
        delta(0, {"type": "signature_delta", "signature": ""}),
        stop(0),
    ]


def test_a_text_block_that_was_all_reasoning_is_not_sent() -> None:
    out = rewrite_all(text_message(["<think>only thought</think>\n\n"]), policy())
    assert shape(client_view(out)) == [("thinking", "only thought")]
    assert not any(e.get("content_block", {}).get("type") == "text" for e in out)


def test_an_empty_text_block_the_server_sent_is_kept() -> None:
    events = [MESSAGE_START, start(0), stop(0), MESSAGE_DELTA, MESSAGE_STOP]
    assert rewrite_all(events, policy()) == events


def test_ping_error_and_unknown_events_are_untouched() -> None:
    rewriter = API.new_stream(policy(), {})
    rewriter.rewrite(start(0))
    rewriter.rewrite(text(0, "<think>x"))
    for event in ({"type": "ping"}, {"type": "error", "error": {}}, {"type": "future", "index": 0}):
        assert rewriter.rewrite(event) is None


def test_without_a_marker_every_event_is_unchanged() -> None:
    events = text_message(["Hello", " 2 < 3", " <b>bold</b> <thinking>"])
    assert rewrite_all(events, policy()) == events
    rewriter = API.new_stream(policy(), {})
    results = [rewriter.rewrite(event) for event in events]
    # Only the held start and the first delta that decided it are re-sent.
    assert results[:3] == [None, [], [start(0), text(0, "Hello")]]
    assert all(result is None for result in results[3:])


def test_the_rewriter_is_transparent_in_the_steady_state_without_a_marker() -> None:
    rewriter = API.new_stream(policy(), {})
    assert rewriter.is_transparent
    rewriter.rewrite(start(0))
    assert not rewriter.is_transparent
    rewriter.rewrite(text(0, "Hello"))
    assert rewriter.is_transparent


def test_the_rewriter_is_not_transparent_while_inside_reasoning_or_after_a_shift() -> None:
    rewriter = API.new_stream(policy(), {})
    rewriter.rewrite(start(0))
    rewriter.rewrite(text(0, "<think>a"))
    assert not rewriter.is_transparent
    rewriter.rewrite(text(0, "</think>b"))
    assert not rewriter.is_transparent  # the text block moved to index 1


def test_native_thinking_is_kept_and_later_text_is_not_split() -> None:
    thinking = {"type": "thinking", "thinking": "", "signature": ""}
    events = [
        MESSAGE_START,
        start(0, thinking),
        delta(0, {"type": "thinking_delta", "thinking": "plan"}),
        delta(0, {"type": "signature_delta", "signature": "sig"}),
        stop(0),
        start(1),
        text(1, "Write <think> to open."),
        stop(1),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]
    assert rewrite_all(events, policy()) == events


def test_redacted_thinking_is_kept() -> None:
    events = [MESSAGE_START, start(0, {"type": "redacted_thinking", "data": "x"}), stop(0)]
    assert rewrite_all(events, policy()) == events


# Strip (DESIGN.md §17)


def test_strip_sends_no_thinking_and_leaves_the_answer() -> None:
    events = text_message(["<think>secret", " plan</think>\n\nAnswer", "."])
    out = rewrite_all(events, policy(mode="strip"))
    assert shape(client_view(out)) == [("text", "Answer.")]
    assert "secret" not in json.dumps(out)


def test_strip_sends_no_event_for_reasoning_only_deltas() -> None:
    events = text_message(["<think>a", "b", "c", "d</think>", "Answer"])
    out = rewrite_all(events, policy(mode="strip"))
    assert [e["type"] for e in out] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_strip_removes_native_thinking_and_shifts_indices_down() -> None:
    events = [
        MESSAGE_START,
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "secret"}),
        delta(0, {"type": "signature_delta", "signature": "sig"}),
        stop(0),
        start(1, {"type": "redacted_thinking", "data": "opaque"}),
        stop(1),
        start(2),
        text(2, "Answer"),
        stop(2),
        start(3, TOOL_BLOCK),
        delta(3, {"type": "input_json_delta", "partial_json": "{}"}),
        stop(3),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]
    out = rewrite_all(events, policy(mode="strip"))
    assert shape(client_view(out)) == [("text", "Answer"), ("tool_use", "{}")]
    assert "secret" not in json.dumps(out)
    assert "opaque" not in json.dumps(out)


def test_strip_drops_a_text_block_that_was_all_reasoning() -> None:
    events = [*text_message(["<think>x</think>"])[:-2], start(1, TOOL_BLOCK), stop(1), MESSAGE_STOP]
    out = rewrite_all(events, policy(mode="strip"))
    assert shape(client_view(out)) == [("tool_use", "")]


def test_strip_error_shapes_are_anthropics() -> None:
    assert API.error_body("no") == {
        "type": "error",
        "error": {"type": "api_error", "message": "no"},
    }
    assert closed_sse_body(API, "test").startswith(b"event: error\ndata: {")


# Interleaved blocks (llama.cpp stops every block at the end)


def test_blocks_left_open_are_settled_when_the_next_block_starts() -> None:
    events = [
        MESSAGE_START,
        start(0),
        text(0, "<think>call it</think>\n\n"),
        start(1, TOOL_BLOCK),
        delta(1, {"type": "input_json_delta", "partial_json": "{}"}),
        stop(0),
        stop(1),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]
    out = rewrite_all(events, policy())
    assert shape(client_view(out)) == [("thinking", "call it"), ("tool_use", "{}")]


def test_an_open_answer_block_keeps_its_late_stop() -> None:
    events = [
        MESSAGE_START,
        start(0),
        text(0, "<think>t</think>Sure"),
        start(1, TOOL_BLOCK),
        stop(0),
        stop(1),
        MESSAGE_DELTA,
        MESSAGE_STOP,
    ]
    out = rewrite_all(events, policy())
    assert shape(client_view_allowing_overlap(out)) == [
        ("thinking", "t"),
        ("text", "Sure"),
        ("tool_use", ""),
    ]


def client_view_allowing_overlap(events: list[Payload]) -> list[Block]:
    """As ``client_view``, for servers that keep a block open while the next one streams."""
    blocks: list[Block] = []
    for event in events:
        if event["type"] == "content_block_start":
            assert event["index"] == len(blocks)
            b = event["content_block"]
            blocks.append(Block(b["type"]))
        elif event["type"] == "content_block_delta":
            d = event["delta"]
            blocks[event["index"]].text += d.get(
                "text", d.get("thinking", d.get("partial_json", ""))
            )
        elif event["type"] == "content_block_stop":
            blocks[event["index"]].stops += 1
    assert all(b.stops == 1 for b in blocks)
    return blocks


# The request


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"thinking": {"type": "disabled"}}, False),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, True),
        ({"thinking": {"type": "adaptive"}}, None),
        ({"thinking": True}, None),
        ({}, None),
    ],
)
def test_thinking_requested_reads_the_thinking_switch(
    request_body: Payload, expected: bool | None
) -> None:
    assert API.thinking_requested(request_body) is expected


def test_the_messages_path_picks_this_api_and_no_other() -> None:
    assert api_for_path("/v1/messages") is not None
    assert api_for_path("/v1/messages").name == "messages"  # type: ignore[union-attr]
    assert api_for_path("/proxy/anthropic/v1/messages").name == "messages"  # type: ignore[union-attr]
    assert api_for_path("/api/messages") is None


# Whole messages


def message(content: list[Payload], stop_reason: str = "end_turn") -> Payload:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": "m",
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 9},
    }


def test_a_whole_message_text_block_is_split_into_thinking_and_text() -> None:
    body = message([{"type": "text", "text": "<think>\nPlan.</think>\n\nAnswer."}, TOOL_BLOCK])
    assert rewrite_message(body, policy(signature="s")) == message(
        [
            {"type": "thinking", "thinking": "Plan.", "signature": "s"},
            {"type": "text", "text": "Answer."},
            TOOL_BLOCK,
        ]
    )


def test_a_whole_message_keeps_key_order_and_other_block_keys() -> None:
    body = message([{"type": "text", "text": "<think>a</think>b", "citations": None}])
    rewritten = rewrite_message(body, policy())
    assert rewritten is not None
    assert list(rewritten) == list(body)
    assert rewritten["content"][1] == {"type": "text", "text": "b", "citations": None}


def test_a_whole_message_with_several_blocks_gets_several_thinking_blocks() -> None:
    body = message([{"type": "text", "text": "<think>one</think>A <think>two</think>B"}])
    rewritten = rewrite_message(body, policy())
    assert rewritten is not None
    assert [(b["type"], b.get("text", b.get("thinking"))) for b in rewritten["content"]] == [
        ("thinking", "one"),
        ("text", "A "),
        ("thinking", "two"),
        ("text", "B"),
    ]


def test_a_whole_message_that_was_all_reasoning_has_no_text_block() -> None:
    body = message([{"type": "text", "text": "<think>cut off"}], stop_reason="max_tokens")
    rewritten = rewrite_message(body, policy())
    assert rewritten is not None
    assert rewritten["content"] == [{"type": "thinking", "thinking": "cut off", "signature": ""}]


def test_a_whole_message_without_a_marker_is_unchanged() -> None:
    assert (
        rewrite_message(message([{"type": "text", "text": "a < b <thinking>"}]), policy()) is None
    )


def test_a_prefilled_whole_message_without_a_marker_that_ended_normally_is_an_answer() -> None:
    body = message([{"type": "text", "text": "Just the answer."}])
    assert rewrite_message(body, policy(starts_in_reasoning=True)) is None
    truncated = message([{"type": "text", "text": "Still thinking"}], stop_reason="max_tokens")
    rewritten = rewrite_message(truncated, policy(starts_in_reasoning=True))
    assert rewritten is not None
    assert rewritten["content"][0]["type"] == "thinking"


def test_a_whole_message_with_native_thinking_is_unchanged() -> None:
    body = message(
        [
            {"type": "thinking", "thinking": "plan", "signature": "sig"},
            {"type": "text", "text": "Write <think> to open."},
        ]
    )
    assert rewrite_message(body, policy()) is None


def test_strip_removes_every_thinking_block_from_a_whole_message() -> None:
    body = message(
        [
            {"type": "thinking", "thinking": "plan", "signature": "sig"},
            {"type": "redacted_thinking", "data": "x"},
            {"type": "text", "text": "Answer"},
        ]
    )
    assert rewrite_message(body, policy(mode="strip")) == message(
        [{"type": "text", "text": "Answer"}]
    )
    split = message([{"type": "text", "text": "<think>secret</think>Answer"}])
    assert rewrite_message(split, policy(mode="strip")) == message(
        [{"type": "text", "text": "Answer"}]
    )


@pytest.mark.parametrize("body", [None, [], {"type": "error"}, {"type": "message", "content": "x"}])
def test_what_is_not_a_message_is_not_touched(body: object) -> None:
    assert rewrite_message(body, policy()) is None


# Properties


TEXT_PIECES = st.sampled_from(
    ["<think>", "</think>", "<th", "ink>", "</", "a", " b", "\n", "\n\n", "<", "c>", "x y", "é"]
)


def pieces_of(text_value: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text_value) + 1) for c in cuts} | {0, len(text_value)})
    return [text_value[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(TEXT_PIECES, max_size=14),
    cuts=st.lists(st.integers(0, 200), max_size=10),
    prefilled=st.booleans(),
    mode=st.sampled_from(["separate", "strip"]),
    with_tool=st.booleans(),
)
def test_any_split_of_the_text_gives_the_same_blocks(
    parts: list[str], cuts: list[int], prefilled: bool, mode: str, with_tool: bool
) -> None:
    whole = "".join(parts)
    p = policy(starts_in_reasoning=prefilled, mode=mode)

    def blocks_for(pieces: list[str]) -> list[tuple[str, str]]:
        events = text_message(pieces)
        if with_tool:
            events[-2:-2] = [
                start(1, TOOL_BLOCK),
                delta(1, {"type": "input_json_delta", "partial_json": "{}"}),
                stop(1),
            ]
        out = rewrite_all(events, p, shortcut=True)
        assert out == rewrite_all(events, p), "the body layer's shortcut changes nothing"
        return shape(client_view(out))

    one_piece = blocks_for([whole] if whole else [])
    assert blocks_for(pieces_of(whole, cuts)) == one_piece
    assert blocks_for(list(whole)) == one_piece
    if mode == "strip":
        assert all(kind != "thinking" for kind, _ in one_piece)


@settings(max_examples=200)
@given(
    parts=st.lists(st.sampled_from(["a", " <b>", "2 < 3", "<thinking>", "x", "\n"]), max_size=10)
)
def test_a_stream_without_a_marker_comes_out_unchanged(parts: list[str]) -> None:
    events = text_message(parts)
    assert rewrite_all(events, policy(), shortcut=True) == events


# Bytes, through the middleware


def messages_scope() -> Any:
    return http_scope(PATH)


def events_of(body: bytes) -> list[Payload]:
    return [json.loads(data) for raw in split_events(body) if (data := event_data(raw))]


def names_match_types(body: bytes) -> bool:
    for raw in split_events(body):
        lines = raw.decode().splitlines()
        names = [line[7:] for line in lines if line.startswith("event: ")]
        data = event_data(raw)
        if data is not None and names != [json.loads(data)["type"]]:
            return False
    return True


async def run_stream(
    style: str, script: str, chunks: list[bytes] | None = None, **kwargs: Any
) -> bytes:
    body_chunks = chunks if chunks is not None else stream_body(style, SCRIPTS[script])
    app = ReasoningMiddleware(sse_app(body_chunks), **kwargs)
    recorder = await record(
        app, messages_scope(), json_request({"model": f"{style}/{script}", "stream": True})
    )
    recorder.assert_complete()
    return recorder.body


@pytest.mark.anyio
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("script", [name for name in SCRIPTS if name != "prefilled"])
async def test_each_server_stream_gives_thinking_blocks_and_clean_text(
    style: str, script: str
) -> None:
    body = await run_stream(style, script)
    assert names_match_types(body)
    events = events_of(body)
    blocks = client_view_allowing_overlap(events) if style == "llamacpp" else client_view(events)
    expected = SCRIPTS[script]
    assert "\n\n".join(b.text for b in blocks if b.type == "thinking") == expected.reasoning
    assert [b.text for b in blocks if b.type == "text"] == list(expected.text_blocks)
    assert sum(b.type == "thinking" for b in blocks) == expected.thinking_blocks
    assert [b.type for b in blocks].count("tool_use") == len(expected.tools)


@pytest.mark.anyio
async def test_a_prefilled_stream_with_deepseek_r1_is_split() -> None:
    body = await run_stream("vllm", "prefilled", preset="deepseek_r1")
    blocks = client_view(events_of(body))
    assert shape(blocks) == [("thinking", "Count the letters."), ("text", "Three.")]


@pytest.mark.anyio
async def test_thinking_disabled_in_the_request_starts_in_content() -> None:
    app = ReasoningMiddleware(sse_app(stream_body("vllm", SCRIPTS["plain"])), preset="deepseek_r1")
    request = {"model": "vllm/plain", "stream": True, "thinking": {"type": "disabled"}}
    recorder = await record(app, messages_scope(), json_request(request))
    assert recorder.body == b"".join(stream_body("vllm", SCRIPTS["plain"]))


@pytest.mark.anyio
@pytest.mark.parametrize("style", STYLES)
async def test_a_stream_without_a_marker_keeps_its_bytes(style: str) -> None:
    chunks = stream_body(style, SCRIPTS["plain"])
    assert await run_stream(style, "plain", chunks) == b"".join(chunks)


@pytest.mark.anyio
async def test_native_thinking_stream_keeps_its_bytes() -> None:
    chunks = stream_body("anthropic", SCRIPTS["native"])
    assert await run_stream("anthropic", "native", chunks) == b"".join(chunks)


@pytest.mark.anyio
@pytest.mark.parametrize("style", STYLES)
async def test_strip_stream_carries_no_reasoning(style: str) -> None:
    for script in ("think", "native", "multi", "tool"):
        body = await run_stream(style, script, mode="strip")
        events = events_of(body)
        assert not any(e.get("content_block", {}).get("type") == "thinking" for e in events)
        assert b"thinking" not in body.replace(b"<thinking>", b"")
        assert b"Easy" not in body and b"about tags" not in body and b"weather in" not in body


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    style=st.sampled_from(STYLES),
    script=st.sampled_from(["think", "multi", "tool", "truncated", "plain"]),
    cuts=st.lists(st.integers(0, 3000), max_size=12),
    crlf=st.booleans(),
)
@pytest.mark.anyio
async def test_any_byte_split_of_the_body_gives_the_same_events(
    style: str, script: str, cuts: list[int], crlf: bool
) -> None:
    body = b"".join(stream_body(style, SCRIPTS[script]))
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in itertools.pairwise(points)]
    whole = await run_stream(style, script, [body])
    split = await run_stream(style, script, chunks)
    assert events_of(split) == events_of(whole)
    if script == "plain":
        assert split == body


@pytest.mark.anyio
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("script", ["think", "tool", "multi", "plain", "native"])
async def test_each_server_whole_message_is_split(style: str, script: str) -> None:
    original = json_body(style, SCRIPTS[script])
    app = ReasoningMiddleware(
        response_app([original], headers=[(b"content-type", b"application/json")])
    )
    recorder = await record(app, messages_scope(), json_request({"model": f"{style}/{script}"}))
    expected = SCRIPTS[script]
    if script in ("plain", "native"):
        assert recorder.body == original
        return
    rewritten = json.loads(recorder.body)
    content = rewritten["content"]
    assert (
        "\n\n".join(b["thinking"] for b in content if b["type"] == "thinking") == expected.reasoning
    )
    assert [b["text"] for b in content if b["type"] == "text"] == list(expected.text_blocks)
    assert recorder.header(b"content-length") == str(len(recorder.body)).encode()


@pytest.mark.anyio
async def test_strip_whole_message_fails_closed_on_an_unreadable_body() -> None:
    app = ReasoningMiddleware(
        response_app([b"{not json"], headers=[(b"content-type", b"application/json")]),
        mode="strip",
    )
    recorder = await record(app, messages_scope(), json_request({"model": "m"}))
    assert recorder.start["status"] == 502
    assert json.loads(recorder.body)["type"] == "error"


@pytest.mark.anyio
async def test_the_scripted_app_streams_every_style() -> None:
    app = ReasoningMiddleware(messages_app())
    recorder = await record(
        app, messages_scope(), json_request({"model": "ollama/think", "stream": True})
    )
    assert shape(client_view(events_of(recorder.body)))[0] == (
        "thinking",
        SCRIPTS["think"].reasoning,
    )
    assert recorder.header(b"content-type") == b"text/event-stream"


def test_the_messages_benchmark_runs_and_its_outputs_are_right() -> None:
    pytest.importorskip("orjson")
    from benchmarks import messages_events

    results = messages_events.run(tokens=60, rounds=1, budget_seconds=0.0001)
    assert [r.case.name for r in results] == [
        "Messages, reasoning",
        "Messages, answer after thinking",
        "Messages, no reasoning",
    ]
    assert all(r.output_ok for r in results)
    assert "added µs/event" in messages_events.render(results)


BLOCK_KINDS = st.sampled_from(["text", "tool_use", "thinking", "redacted_thinking"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    blocks=st.lists(
        st.tuples(BLOCK_KINDS, st.lists(TEXT_PIECES, max_size=6)), min_size=1, max_size=5
    ),
    prefilled=st.booleans(),
    mode=st.sampled_from(["separate", "strip"]),
    stops_at_end=st.booleans(),
)
def test_any_sequence_of_blocks_keeps_indices_consistent(
    blocks: list[tuple[str, list[str]]], prefilled: bool, mode: str, stops_at_end: bool
) -> None:
    events: list[Payload] = [MESSAGE_START]
    deferred: list[Payload] = []
    for index, (kind, pieces) in enumerate(blocks):
        if kind == "text":
            events += [start(index), *(text(index, piece) for piece in pieces if piece)]
        elif kind == "tool_use":
            events.append(start(index, TOOL_BLOCK))
            events += [delta(index, {"type": "input_json_delta", "partial_json": "{}"})]
        elif kind == "thinking":
            events.append(start(index, {"type": "thinking", "thinking": "", "signature": ""}))
            events += [delta(index, {"type": "thinking_delta", "thinking": "secret"})]
            events += [delta(index, {"type": "signature_delta", "signature": "sig"})]
        else:
            events.append(start(index, {"type": "redacted_thinking", "data": "secret"}))
        (deferred if stops_at_end else events).append(stop(index))
    events += [*deferred, MESSAGE_DELTA, MESSAGE_STOP]
    p = policy(starts_in_reasoning=prefilled, mode=mode)
    out = rewrite_all(events, p, shortcut=True)
    assert out == rewrite_all(events, p)
    view = client_view_allowing_overlap(out) if stops_at_end else client_view(out)
    assert [API.event_name(e) for e in out] == [e["type"] for e in out]
    if mode == "strip":
        assert all(block.type not in ("thinking", "redacted_thinking") for block in view)
        assert "secret" not in json.dumps(out)
    else:
        natives = [k for k, _ in blocks if k in ("thinking", "redacted_thinking")]
        assert [b.type for b in view if b.type == "redacted_thinking"] == [
            k for k in natives if k == "redacted_thinking"
        ]
    assert [b.type for b in view].count("tool_use") == [k for k, _ in blocks].count("tool_use")


def test_strip_drops_reasoning_deltas_even_in_a_block_not_started_as_thinking() -> None:
    events = [
        MESSAGE_START,
        start(0),
        text(0, "Answer"),
        delta(0, {"type": "thinking_delta", "thinking": "secret"}),
        delta(7, {"type": "signature_delta", "signature": "sig"}),
        stop(0),
        MESSAGE_STOP,
    ]
    out = rewrite_all(events, policy(mode="strip"))
    assert "secret" not in json.dumps(out)
    assert "signature" not in json.dumps(out)


@pytest.mark.anyio
async def test_strip_stream_fails_closed_with_an_anthropic_error_event() -> None:
    chunks = [
        *stream_body("vllm", SCRIPTS["think"])[:3],
        b"event: content_block_delta\ndata: {oops\n\n",
    ]
    body = await run_stream("vllm", "think", chunks, mode="strip")
    last = split_events(body)[-1]
    assert last.startswith(b"event: error\n")
    assert json.loads(event_data(last) or "") == {
        "type": "error",
        "error": {
            "type": "api_error",
            "message": "the response could not be filtered; it was withheld",
        },
    }
    assert b"user asks" not in body
