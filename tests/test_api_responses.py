"""The Responses API rewriter at the dict level: DESIGN.md §13 and §17, one rule per test.

Event streams come from ``tests/responses_app.py`` (the shapes vLLM, llama.cpp and Ollama
send); what the middleware writes is checked against the ``openai`` SDK's event types.
"""

from __future__ import annotations

import itertools
import json
import typing
from typing import Any, Final

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.apis.responses import ResponsesAPI, ResponsesRewriter
from asgi_reasoning.policy import Policy
from asgi_reasoning.text.presets import PRESETS
from asgi_reasoning.text.splitter import compile_grammar
from asgi_reasoning.wire.json import string_bytes
from tests.asgi_helpers import (
    Recorder,
    ScriptedReceive,
    event_data,
    http_scope,
    record,
    request_messages,
    split_events,
)
from tests.responses_app import (
    MESSAGE_ID,
    STYLES,
    FunctionCall,
    Style,
    encode_events,
    responses_app,
    stream_events,
    usage_of,
    whole_response,
)

if typing.TYPE_CHECKING:
    from pydantic import BaseModel

Event = dict[str, Any]
API: Final = ResponsesAPI()
THOUGHT: Final = ["<think>", "\nLet me", " see", ".</think>", "\n\n", "The answer", " is 4."]


def _event_models() -> dict[str, type[BaseModel]]:
    union = typing.get_args(ResponseStreamEvent)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        (literal,) = typing.get_args(model.model_fields["type"].annotation)
        models[literal] = model
    return models


EVENT_MODELS: Final = _event_models()


def policy(**overrides: Any) -> Policy:
    settings_: dict[str, Any] = {
        "tag_format": PRESETS["think"],
        "starts_in_reasoning": False,
        "mode": "separate",
        "fields": ("reasoning_content",),
        "responses_reasoning": "text",
        "signature": "",
    }
    settings_.update(overrides)
    return Policy(**settings_)


def run(events: list[Event], rules: Policy | None = None) -> list[Event]:
    """What the client receives for ``events``: each rewritten, then the flush."""
    rules = rules or policy()
    rewriter = API.new_stream(rules, {})
    grammar = compile_grammar(rules.tag_format)
    triggers = [*map(string_bytes, grammar.in_content.first_chars), b"\\u", *API.always_inspect]
    received: list[Event] = []
    for event in events:
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        if rewriter.is_transparent and not any(t in data for t in triggers):
            # The body layer forwards such an event without calling the rewriter.
            received.append(event)
            continue
        out = rewriter.rewrite(event)
        received.extend([event] if out is None else out)
    return received + rewriter.flush()


def validate(events: list[Event]) -> None:
    for event in events:
        EVENT_MODELS[event["type"]].model_validate(event)


def of_type(events: list[Event], event_type: str) -> list[Event]:
    return [event for event in events if event["type"] == event_type]


def items_added(events: list[Event]) -> list[tuple[int, str, str]]:
    return [
        (e["output_index"], e["item"]["type"], e["item"]["id"])
        for e in of_type(events, "response.output_item.added")
    ]


def streamed_texts(events: list[Event]) -> dict[str, str]:
    """Per item id, the text its deltas carried (answer or reasoning text; ``…#summary``)."""
    texts: dict[str, str] = {}
    for event in events:
        if event["type"] in ("response.output_text.delta", "response.reasoning_text.delta"):
            key = event["item_id"]
        elif event["type"] == "response.reasoning_summary_text.delta":
            key = event["item_id"] + "#summary"
        else:
            continue
        texts[key] = texts.get(key, "") + event["delta"]
    return texts


def final_output(events: list[Event]) -> list[Event]:
    terminal = events[-1]
    assert terminal["type"] in ("response.completed", "response.incomplete", "response.failed")
    output: list[Event] = terminal["response"]["output"]
    return output


def texts_of(output: list[Event]) -> list[tuple[str, str]]:
    """(kind, text) per output item: a message's text, a reasoning item's text or summary."""
    result = []
    for item in output:
        if item["type"] == "message":
            result.append(("message", "".join(p["text"] for p in item["content"])))
        elif item["type"] == "reasoning":
            parts = item.get("content") or item["summary"]
            result.append(("reasoning", "".join(p["text"] for p in parts)))
        else:
            result.append((item["type"], item.get("arguments", "")))
    return result


def assert_consistent(events: list[Event]) -> None:
    """Sequence numbers increase by one; every event names its item's index; all are done."""
    numbers = [e["sequence_number"] for e in events if "sequence_number" in e]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else True
    index_of: dict[str, int] = {}
    done: list[str] = []
    for event in events:
        if event["type"] == "response.output_item.added":
            item_id = event["item"]["id"]
            assert item_id not in index_of
            assert event["output_index"] == len(index_of)
            index_of[item_id] = event["output_index"]
        elif event["type"] == "response.output_item.done":
            assert index_of[event["item"]["id"]] == event["output_index"]
            done.append(event["item"]["id"])
        elif "item_id" in event:
            assert index_of[event["item_id"]] == event["output_index"]
    assert done == list(index_of)


def test_reasoning_becomes_an_item_before_the_message() -> None:
    received = run(stream_events(THOUGHT))
    assert items_added(received) == [(0, "reasoning", "rs_7f3a"), (1, "message", MESSAGE_ID)]
    assert texts_of(final_output(received)) == [
        ("reasoning", "Let me see."),
        ("message", "The answer is 4."),
    ]
    assert_consistent(received)


def test_reasoning_streams_token_by_token_as_reasoning_text_deltas() -> None:
    received = run(stream_events(THOUGHT))
    deltas = [e["delta"] for e in of_type(received, "response.reasoning_text.delta")]
    assert deltas == ["Let me", " see", "."]
    added = of_type(received, "response.output_item.added")[0]["item"]
    assert added == {
        "type": "reasoning",
        "id": "rs_7f3a",
        "summary": [],
        "content": [],
        "status": "in_progress",
    }
    part = of_type(received, "response.content_part.added")[0]
    assert part["part"] == {"type": "reasoning_text", "text": ""}


def test_reasoning_item_events_come_in_the_order_servers_send_them() -> None:
    received = run(stream_events(THOUGHT))
    reasoning_events = [e["type"] for e in received if e.get("item_id", "").startswith("rs_")]
    assert reasoning_events == [
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
    ]
    types = [e["type"] for e in received]
    assert types.index("response.output_item.done") < types.index("response.output_text.delta")


def test_summary_mode_writes_summary_parts_and_events() -> None:
    received = run(stream_events(THOUGHT), policy(responses_reasoning="summary"))
    assert not of_type(received, "response.reasoning_text.delta")
    deltas = of_type(received, "response.reasoning_summary_text.delta")
    assert [e["delta"] for e in deltas] == ["Let me", " see", "."]
    assert of_type(received, "response.reasoning_summary_part.added")[0]["part"] == {
        "type": "summary_text",
        "text": "",
    }
    assert of_type(received, "response.reasoning_summary_text.done")[0]["text"] == "Let me see."
    reasoning = final_output(received)[0]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Let me see."}]
    assert reasoning["content"] == []
    validate(received)


def test_both_mode_writes_text_and_summary() -> None:
    received = run(stream_events(THOUGHT), policy(responses_reasoning="both"))
    assert len(of_type(received, "response.reasoning_text.delta")) == 3
    assert len(of_type(received, "response.reasoning_summary_text.delta")) == 3
    reasoning = final_output(received)[0]
    assert reasoning["summary"][0]["text"] == reasoning["content"][0]["text"] == "Let me see."
    validate(received)


def test_several_blocks_give_several_items_in_text_order() -> None:
    deltas = ["Intro. <think>", "first", "</think>Middle. <think>sec", "ond</think>", "End."]
    received = run(stream_events(deltas))
    assert items_added(received) == [
        (0, "message", MESSAGE_ID),
        (1, "reasoning", "rs_7f3a"),
        (2, "message", f"{MESSAGE_ID}_2"),
        (3, "reasoning", "rs_7f3a_2"),
        (4, "message", f"{MESSAGE_ID}_3"),
    ]
    assert texts_of(final_output(received)) == [
        ("message", "Intro. "),
        ("reasoning", "first"),
        ("message", "Middle. "),
        # DESIGN.md §4.3: a later block starts with the separator.
        ("reasoning", "\n\nsecond"),
        ("message", "End."),
    ]
    assert_consistent(received)
    validate(received)


def test_message_opening_is_held_until_its_first_text() -> None:
    events = stream_events(THOUGHT)
    rewriter = API.new_stream(policy(), {})
    for event in events[:2]:
        assert rewriter.rewrite(event) is None
    assert rewriter.rewrite(events[2]) == []  # output_item.added of the message
    assert rewriter.rewrite(events[3]) == []  # its content_part.added
    first = rewriter.rewrite(events[4])  # "<think>": nothing certain yet
    assert first == []


def test_later_items_move_by_the_items_inserted_and_keep_their_arguments() -> None:
    call = FunctionCall("get_weather", '{"city": "Paris"}')
    received = run(stream_events(THOUGHT, function_call=call))
    fc_events = [e for e in received if e.get("item_id") == "fc_1"]
    assert {e["output_index"] for e in fc_events} == {2}
    assert of_type(received, "response.function_call_arguments.done")[0]["arguments"] == (
        call.arguments
    )
    assert final_output(received)[2]["arguments"] == call.arguments
    assert_consistent(received)


def test_sequence_numbers_are_renumbered_strictly_increasing() -> None:
    received = run(stream_events(THOUGHT, function_call=FunctionCall("f", "{}")))
    numbers = [e["sequence_number"] for e in received]
    assert numbers == list(range(len(received)))


def test_stream_without_sequence_numbers_gets_none() -> None:
    received = run(stream_events(THOUGHT, numbered=False))
    assert all("sequence_number" not in event for event in received)
    assert texts_of(final_output(received))[0] == ("reasoning", "Let me see.")


def test_done_events_and_terminal_output_carry_the_texts_the_client_received() -> None:
    received = run(stream_events(THOUGHT))
    streamed = streamed_texts(received)
    assert streamed == {"rs_7f3a": "Let me see.", MESSAGE_ID: "The answer is 4."}
    assert of_type(received, "response.output_text.done")[0]["text"] == "The answer is 4."
    part_done = of_type(received, "response.content_part.done")
    assert [p["part"]["text"] for p in part_done] == ["Let me see.", "The answer is 4."]
    items_done = [e["item"] for e in of_type(received, "response.output_item.done")]
    assert items_done == final_output(received)


def test_truncated_stream_flushes_held_text_as_reasoning() -> None:
    deltas = ["<think>", "Still", " thinking <", "/thi"]
    received = run(stream_events(deltas, terminal="response.incomplete"))
    # The held "</thi" was no closer: it is reasoning text, and no empty message is left.
    assert texts_of(final_output(received)) == [("reasoning", "Still thinking </thi")]
    assert items_added(received) == [(0, "reasoning", "rs_7f3a")]
    assert received[-1]["type"] == "response.incomplete"
    assert_consistent(received)
    validate(received)


def test_body_end_without_done_events_closes_every_open_item() -> None:
    events = stream_events(THOUGHT[:3], with_done_events=False)[:-1]
    received = run(events)
    assert [e["type"] for e in received[-3:]] == [
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert received[-1]["item"]["content"] == [{"type": "reasoning_text", "text": "Let me see"}]
    assert_consistent(received)


def test_output_inside_reasoning_without_any_marker_is_all_reasoning() -> None:
    # A stream cannot take back what it sent (DESIGN.md §4.10 is for whole bodies).
    received = run(stream_events(["Hello", " there."]), policy(starts_in_reasoning=True))
    assert texts_of(final_output(received)) == [("reasoning", "Hello there.")]


def test_output_that_starts_inside_reasoning_needs_no_opener() -> None:
    deltas = ["Hmm", " ok", "</think>", "Yes."]
    received = run(stream_events(deltas), policy(starts_in_reasoning=True))
    assert texts_of(final_output(received)) == [("reasoning", "Hmm ok"), ("message", "Yes.")]


def test_reply_of_only_reasoning_and_a_tool_call_has_no_empty_message() -> None:
    call = FunctionCall("f", '{"x": 1}')
    received = run(stream_events(["<think>need a tool</think>\n"], function_call=call))
    assert items_added(received) == [(0, "reasoning", "rs_7f3a"), (1, "function_call", "fc_1")]
    assert texts_of(final_output(received)) == [
        ("reasoning", "need a tool"),
        ("function_call", '{"x": 1}'),
    ]
    assert_consistent(received)


@pytest.mark.parametrize("style", STYLES)
def test_stream_without_marker_is_unchanged(style: Style) -> None:
    call = FunctionCall("f", '{"q": "<b>"}')
    events = stream_events(["Plain", " answer, a < b."], style=style, function_call=call)
    assert run(events) == events


def test_stream_without_marker_goes_untouched_outside_message_items() -> None:
    events = stream_events(["Plain answer."], function_call=FunctionCall("f", "{}"))
    rewriter = API.new_stream(policy(), {})
    transparent = []
    for event in events:
        transparent.append(rewriter.is_transparent)
        rewriter.rewrite(event)
    item_of = [e.get("item_id") or e.get("item", {}).get("id") for e in events]
    assert all(t for t, item in zip(transparent, item_of, strict=True) if item == "fc_1")
    assert transparent[0] and transparent[1] and transparent[-1]


@pytest.mark.parametrize("style", ["vllm", "ollama"])
def test_native_reasoning_is_kept_and_the_message_not_split_again(style: Style) -> None:
    # A literal "<think>" in an answer about tags survives: the server split already.
    events = stream_events(
        ["Use the ", "<think> tag."], native_reasoning=["Thinking", " hard"], style=style
    )
    assert run(events) == events


def test_strip_removes_split_reasoning_and_every_trace_of_it() -> None:
    received = run(stream_events(THOUGHT), policy(mode="strip"))
    assert items_added(received) == [(0, "message", MESSAGE_ID)]
    assert not [e for e in received if "reasoning" in e["type"]]
    assert texts_of(final_output(received)) == [("message", "The answer is 4.")]
    # No empty event stands for a reasoning token.
    assert len(of_type(received, "response.output_text.delta")) == 2
    assert "Let me" not in repr(received)
    assert_consistent(received)


@pytest.mark.parametrize("style", ["vllm", "ollama"])
def test_strip_removes_native_reasoning_items_and_moves_indices_down(style: Style) -> None:
    events = stream_events(
        ["Answer."], native_reasoning=["secret", " plan"], style=style,
        function_call=FunctionCall("f", "{}"),
    )  # fmt: skip
    received = run(events, policy(mode="strip"))
    assert "secret" not in repr(received)
    assert "encrypted_content" not in repr(received)
    assert items_added(received) == [(0, "message", MESSAGE_ID), (1, "function_call", "fc_1")]
    assert [item["type"] for item in final_output(received)] == ["message", "function_call"]
    assert_consistent(received)


def test_strip_keeps_the_answer_in_one_message_item() -> None:
    deltas = ["A <think>x</think>", "B <think>y</think>C"]
    received = run(stream_events(deltas), policy(mode="strip"))
    assert items_added(received) == [(0, "message", MESSAGE_ID)]
    assert texts_of(final_output(received)) == [("message", "A B C")]


def test_strip_also_splits_a_message_after_native_reasoning() -> None:
    events = stream_events(["<think>again</think>", "Done."], native_reasoning=["first"])
    received = run(events, policy(mode="strip"))
    assert "again" not in repr(received) and "first" not in repr(received)
    assert texts_of(final_output(received)) == [("message", "Done.")]


def test_usage_estimates_one_reasoning_token_per_reasoning_delta() -> None:
    received = run(stream_events(THOUGHT))
    usage = received[-1]["response"]["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] == 3


def test_usage_the_server_counted_is_kept() -> None:
    received = run(stream_events(THOUGHT, usage=usage_of(7, reasoning_tokens=5)))
    assert received[-1]["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] == 5


def test_usage_without_details_gets_them() -> None:
    received = run(stream_events(THOUGHT, usage=usage_of(7, reasoning_tokens=None)))
    assert received[-1]["response"]["usage"]["output_tokens_details"] == {"reasoning_tokens": 3}


def test_usage_is_not_estimated_under_strip() -> None:
    received = run(stream_events(THOUGHT), policy(mode="strip"))
    assert received[-1]["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] == 0


def test_logprobs_of_a_split_delta_are_dropped() -> None:
    events = stream_events(["<think>a</think>b"])
    for event in of_type(events, "response.output_text.delta"):
        event["logprobs"] = [{"token": "x", "logprob": -0.1, "top_logprobs": []}]
    received = run(events)
    assert of_type(received, "response.output_text.delta")[0]["logprobs"] == []


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("mode", ["text", "summary", "both"])
@pytest.mark.parametrize("strip", [False, True])
def test_every_written_event_is_a_valid_sdk_event(style: Style, mode: str, strip: bool) -> None:
    events = stream_events(
        ["Hi <think>a", "b</think>", "c<think>d</think>"], style=style,
        native_reasoning=["n"] if style == "ollama" else (),
        function_call=FunctionCall("f", "{}"),
    )  # fmt: skip
    rules = policy(responses_reasoning=mode, mode="strip" if strip else "separate")
    received = run(events, rules)
    validate(received)
    Response.model_validate(received[-1]["response"])


def test_error_shapes_are_the_responses_ones() -> None:
    EVENT_MODELS["error"].model_validate(API.error_event("cannot filter"))
    assert API.error_body("cannot filter")["error"]["message"] == "cannot filter"


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"chat_template_kwargs": {"enable_thinking": False}}, False),
        ({"chat_template_kwargs": {"thinking": True}}, True),
        ({"reasoning": {"effort": "none"}}, None),
        ({}, None),
    ],
)
def test_thinking_requested_reads_the_template_switch(
    request_body: dict[str, Any], expected: bool | None
) -> None:
    assert API.thinking_requested(request_body) is expected


def test_whole_response_is_split_into_reasoning_and_message_items() -> None:
    body = whole_response("<think>\nplan</think>\n\nAnswer.", usage=usage_of(20))
    result = API.rewrite_body(body, policy())
    assert result is not None
    assert list(result) == list(body)
    assert texts_of(result["output"]) == [("reasoning", "plan"), ("message", "Answer.")]
    assert result["output"][0]["id"] == "rs_7f3a"
    assert result["output"][1]["id"] == MESSAGE_ID
    # 4 of 11 characters were reasoning: 20 x 4/11, rounded.
    assert result["usage"]["output_tokens_details"]["reasoning_tokens"] == 7
    Response.model_validate(result)


def test_whole_response_blocks_interleave_in_text_order() -> None:
    body = whole_response("A<think>x</think>B<think>y</think>C")
    result = API.rewrite_body(body, policy(responses_reasoning="summary"))
    assert result is not None
    assert [item["id"] for item in result["output"]] == [
        MESSAGE_ID, "rs_7f3a", f"{MESSAGE_ID}_2", "rs_7f3a_2", f"{MESSAGE_ID}_3",
    ]  # fmt: skip
    assert result["output"][1]["summary"] == [{"type": "summary_text", "text": "x"}]


def test_whole_response_without_marker_is_unchanged() -> None:
    assert API.rewrite_body(whole_response("a < b, <thinking> is not a tag"), policy()) is None


def test_whole_response_answer_without_thinking_stays_the_answer() -> None:
    # DESIGN.md §4.10: assumed to start in reasoning, no marker, finished normally.
    rules = policy(starts_in_reasoning=True)
    assert API.rewrite_body(whole_response("Just the answer."), rules) is None
    cut = API.rewrite_body(whole_response("Still thinking", status="incomplete"), rules)
    assert cut is not None
    assert texts_of(cut["output"]) == [("reasoning", "Still thinking")]


def test_whole_response_with_native_reasoning_is_not_split_again() -> None:
    body = whole_response("The <think> tag.", native_reasoning="mine")
    assert API.rewrite_body(body, policy()) is None


def test_whole_response_under_strip_loses_every_reasoning_trace() -> None:
    body = whole_response("A<think>x</think>B", native_reasoning="secret", style="ollama")
    result = API.rewrite_body(body, policy(mode="strip"))
    assert result is not None
    assert texts_of(result["output"]) == [("message", "AB")]
    assert "secret" not in repr(result)


def test_whole_body_that_is_not_a_response_is_left_alone() -> None:
    assert API.rewrite_body({"object": "chat.completion"}, policy()) is None
    assert API.rewrite_body([1, 2], policy()) is None


def test_odd_events_never_raise() -> None:
    rewriter = API.new_stream(policy(), {})
    odd: object
    for odd in ([], "x", {"type": 3}, {"type": "response.output_item.added"},
                {"type": "response.output_item.added", "output_index": 0, "item": "x"},
                {"type": "response.completed", "response": []}):  # fmt: skip
        rewriter.rewrite(odd)
    assert rewriter.flush() == []


def _cuts(text: str, points: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(p % (len(text) + 1) for p in points)})
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


TEXTS: Final = st.sampled_from(
    [
        "<think>\nplan it</think>\n\nThe answer.",
        "Intro <think>a</think> mid <think>b</think> end",
        "<think>only thinking, cut",
        "no marker, a < b and <thinking>",
        "<think></think>empty reasoning",
        "x</think>y",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    text=TEXTS,
    points=st.lists(st.integers(0, 200), max_size=12),
    mode=st.sampled_from(["text", "summary", "both"]),
    strip=st.booleans(),
    style=st.sampled_from(STYLES),
    starts_inside=st.booleans(),
)
def test_any_split_into_deltas_gives_the_same_items_and_output(
    text: str, points: list[int], mode: str, strip: bool, style: Style, starts_inside: bool
) -> None:
    rules = policy(
        responses_reasoning=mode,
        mode="strip" if strip else "separate",
        starts_in_reasoning=starts_inside,
    )
    call = FunctionCall("f", "{}")
    whole = run(stream_events([text], style=style, function_call=call), rules)
    pieces = _cuts(text, points)
    split = run(stream_events(pieces, style=style, function_call=call), rules)
    assert final_output(split) == final_output(whole)
    assert streamed_texts(split) == streamed_texts(whole)
    assert items_added(split) == items_added(whole)
    assert_consistent(split)
    validate(split)


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", blacklist_characters="<"), max_size=40),
    points=st.lists(st.integers(0, 50), max_size=8),
    style=st.sampled_from(STYLES),
)
def test_any_stream_without_marker_comes_back_unchanged(
    text: str, points: list[int], style: Style
) -> None:
    events = stream_events(_cuts(text, points), style=style, function_call=FunctionCall("f", "{}"))
    assert run(events) == events


def test_rewriter_is_the_responses_one() -> None:
    assert isinstance(API.new_stream(policy(), None), ResponsesRewriter)
    assert API.event_name({"type": "response.created"}) == "response.created"


RESPONSES_PATH: Final = "/v1/responses"


def responses_request(**fields: Any) -> Any:
    body = {"model": "qwen3-8b", "input": "What is 2+2?", "stream": True, **fields}
    return ScriptedReceive(request_messages(json.dumps(body).encode()))


async def through_middleware(
    body: list[bytes] | bytes, *, content_type: bytes = b"text/event-stream", **options: Any
) -> Recorder:
    app = ReasoningMiddleware(responses_app(body, content_type=content_type), **options)
    return await record(app, http_scope(RESPONSES_PATH), responses_request())


def sse_payloads(body: bytes) -> list[tuple[str | None, Event]]:
    """(``event:`` line, data JSON) of every event in ``body``."""
    result = []
    for raw in split_events(body):
        data = event_data(raw)
        if data is None:
            continue
        name = next(
            (line[6:].strip() for line in raw.decode().splitlines() if line.startswith("event:")),
            None,
        )
        result.append((name, json.loads(data)))
    return result


@pytest.mark.anyio
@pytest.mark.parametrize("style", STYLES)
async def test_middleware_splits_a_streamed_response(style: Style) -> None:
    events = stream_events(THOUGHT, style=style, function_call=FunctionCall("f", "{}"))
    recorder = await through_middleware(encode_events(events, style))
    received = sse_payloads(recorder.body)
    # Every event is named by its type, as the server named its own.
    assert all(name == payload["type"] for name, payload in received)
    payloads = [payload for _, payload in received]
    assert texts_of(final_output(payloads)) == [
        ("reasoning", "Let me see."),
        ("message", "The answer is 4."),
        ("function_call", "{}"),
    ]
    assert_consistent(payloads)
    validate(payloads)
    recorder.assert_complete()


@pytest.mark.anyio
@pytest.mark.parametrize("style", STYLES)
async def test_middleware_leaves_a_stream_without_marker_byte_for_byte(style: Style) -> None:
    call = FunctionCall("f", '{"html": "<b>&</b>"}')
    body = encode_events(stream_events(["Plain", " text."], style=style, function_call=call), style)
    recorder = await through_middleware(body)
    assert recorder.body == b"".join(body)


@pytest.mark.anyio
async def test_middleware_splits_a_whole_response_and_fixes_its_length() -> None:
    body = json.dumps(whole_response("<think>plan</think>Answer.")).encode()
    recorder = await through_middleware(body, content_type=b"application/json")
    result = json.loads(recorder.body)
    assert texts_of(result["output"]) == [("reasoning", "plan"), ("message", "Answer.")]
    assert recorder.header(b"content-length") == str(len(recorder.body)).encode()


@pytest.mark.anyio
async def test_middleware_summary_option_reaches_the_stream() -> None:
    body = encode_events(stream_events(THOUGHT))
    recorder = await through_middleware(body, responses_reasoning="summary")
    payloads = [payload for _, payload in sse_payloads(recorder.body)]
    assert of_type(payloads, "response.reasoning_summary_text.delta")
    assert not of_type(payloads, "response.reasoning_text.delta")


@pytest.mark.anyio
async def test_middleware_strip_leaves_no_reasoning_in_the_bytes() -> None:
    events = stream_events(THOUGHT, native_reasoning=["secret"], style="ollama")
    recorder = await through_middleware(encode_events(events, "ollama"), mode="strip")
    assert b"secret" not in recorder.body
    assert b"Let me" not in recorder.body
    assert b"reasoning" not in recorder.body.replace(b"reasoning_tokens", b"")


def _byte_cuts(body: bytes, points: list[int]) -> list[bytes]:
    bounds = sorted({0, len(body), *(p % (len(body) + 1) for p in points)})
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(st.integers(0, 10_000), max_size=20),
    style=st.sampled_from(STYLES),
    marker=st.booleans(),
)
def test_any_byte_split_of_the_body_gives_the_same_events(
    points: list[int], style: Style, marker: bool
) -> None:
    deltas = THOUGHT if marker else ["No", " marker < here."]
    call = FunctionCall("f", '{"a": 1}')
    body = b"".join(encode_events(stream_events(deltas, style=style, function_call=call), style))
    whole = anyio.run(through_middleware, [body])
    split = anyio.run(through_middleware, _byte_cuts(body, points))
    assert sse_payloads(split.body) == sse_payloads(whole.body)
    if not marker:
        assert split.body == body


@pytest.mark.anyio
async def test_middleware_request_switch_turns_the_split_off() -> None:
    body = encode_events(stream_events(THOUGHT))
    app = ReasoningMiddleware(responses_app(body))
    receive = responses_request(separate_reasoning=False)
    recorder = await record(app, http_scope(RESPONSES_PATH), receive)
    assert recorder.body == b"".join(body)


@pytest.mark.anyio
async def test_middleware_template_switch_says_the_output_starts_in_content() -> None:
    # deepseek_r1 starts inside reasoning, unless the template was told not to think.
    body = encode_events(stream_events(["Hello", " there."]))
    app = ReasoningMiddleware(responses_app(body), preset="deepseek_r1")
    thinking_off = responses_request(chat_template_kwargs={"enable_thinking": False})
    recorder = await record(app, http_scope(RESPONSES_PATH), thinking_off)
    assert recorder.body == b"".join(body)
    default = await record(app, http_scope(RESPONSES_PATH), responses_request())
    payloads = [payload for _, payload in sse_payloads(default.body)]
    assert texts_of(final_output(payloads)) == [("reasoning", "Hello there.")]
