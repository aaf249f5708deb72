"""Responses under hostile streams and bodies (DESIGN.md §13, §17).

Under strip no reasoning character reaches the client, whatever the shape: what cannot be
filtered ends the stream with the Responses ``error`` event (a 502 error body for a whole
response). In the other modes odd events never raise, and answer text is never lost.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.apis.base import UnfilterableError
from asgi_reasoning.apis.responses import (
    MAX_TRACKED_ITEMS,
    ResponsesAPI,
    ResponsesRewriter,
    rewrite_response,
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
from tests.responses_app import FunctionCall, stream_events

Payload = dict[str, Any]
API = ResponsesAPI()
SECRET = "SEKRIT"
PATH = "/v1/responses"
PRESET_NAMES = ("think", "deepseek_r1", "qwen3", "mistral", "auto")
ODD_INDICES = st.sampled_from([0, 1, 2, "0", 1.0, True, None, [0], 2**70, -1])
EVENT_TYPES = (
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.reasoning_text.delta",
    "response.reasoning_summary_text.delta",
    "response.output_text.annotation.added",
    "response.future_event",
)


def policy(preset: str = "think", mode: str = "strip", parts: str = "both") -> Policy:
    return Policy(
        tag_format=PRESETS[preset],
        starts_in_reasoning=False,
        mode=mode,  # type: ignore[arg-type]
        fields=("reasoning_content",),
        responses_reasoning=parts,  # type: ignore[arg-type]
        signature="",
    )


def texts(preset: str) -> st.SearchStrategy[str]:
    """Texts whose every SECRET sits inside the preset's reasoning markers."""
    return st.sampled_from(PRESETS[preset].pairs).flatmap(
        lambda pair: st.sampled_from(
            [f"{pair[0]}{SECRET}{pair[1]}answer", f"{pair[0]}{SECRET}", "answer"]
        )
    )


def items(preset: str) -> st.SearchStrategy[Any]:
    text = texts(preset)
    ids = st.sampled_from(["msg_1", "msg_2", "rs_1", "x"])
    return st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("message"),
                "id": ids,
                "content": st.one_of(
                    st.lists(
                        st.fixed_dictionaries(
                            {"type": st.sampled_from(["output_text", "future"]), "text": text}
                        ),
                        max_size=2,
                    ),
                    st.just("x"),
                ),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("reasoning"),
                "id": ids,
                "summary": st.just([{"type": "summary_text", "text": SECRET}]),
                "encrypted_content": st.just(SECRET),
            }
        ),
        st.fixed_dictionaries({"type": st.just("future_item"), "id": ids, "x": text}),
        st.none(),
    )


def events(preset: str) -> st.SearchStrategy[Payload]:
    text = texts(preset)
    plain = st.fixed_dictionaries(
        {
            "type": st.sampled_from(EVENT_TYPES),
            "sequence_number": st.one_of(st.integers(0, 40), st.none(), st.just("1")),
            "output_index": ODD_INDICES,
            "content_index": ODD_INDICES,
            "item_id": st.sampled_from(["msg_1", "msg_2", "rs_1", None, 1]),
        },
        optional={
            "item": items(preset),
            "part": st.fixed_dictionaries(
                {"type": st.just("output_text"), "text": st.one_of(st.just(""), text)}
            ),
            "delta": st.one_of(text, st.integers(), st.none(), st.just(["answer"])),
            "text": text,
        },
    )
    terminal = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["response.completed", "response.incomplete"]),
            "response": st.fixed_dictionaries(
                {"id": st.just("resp"), "output": st.lists(items(preset), max_size=3)}
            ),
        }
    )
    return st.one_of(plain, terminal)


def run(stream: list[Payload], p: Policy) -> list[Payload]:
    return rewritten_stream(API, stream, p)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    preset=st.sampled_from(PRESET_NAMES),
    parts=st.sampled_from(["text", "summary", "both"]),
)
def test_strip_sends_no_reasoning_character_for_any_event_sequence(
    data: st.DataObject, preset: str, parts: str
) -> None:
    stream = data.draw(st.lists(events(preset), max_size=12))
    assert SECRET not in json.dumps(run(stream, policy(preset, parts=parts)))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), preset=st.sampled_from(PRESET_NAMES))
def test_strip_sends_no_reasoning_character_for_any_whole_response(
    data: st.DataObject, preset: str
) -> None:
    body = {"id": "resp", "output": data.draw(st.lists(items(preset), max_size=5))}
    if data.draw(st.booleans()):
        body["object"] = "response"
    try:
        rewritten = rewrite_response(json.loads(json.dumps(body)), policy(preset))
    except UnfilterableError:
        return
    assert SECRET not in json.dumps(body if rewritten is None else rewritten)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), preset=st.sampled_from(PRESET_NAMES))
def test_odd_events_never_raise_outside_strip(data: st.DataObject, preset: str) -> None:
    stream = data.draw(st.lists(events(preset), max_size=12))
    for event in run(stream, policy(preset, "separate")):
        assert isinstance(event.get("type"), str)
        json.dumps(event)


def test_strip_refuses_an_item_done_of_reasoning_never_added() -> None:
    done = {
        "type": "response.output_item.done",
        "output_index": 0,
        "item": {"type": "reasoning", "id": "rs_1", "encrypted_content": SECRET, "summary": []},
    }
    assert run([done], policy()) == [API.error_event("withheld")]


def test_strip_refuses_a_marker_in_an_unknown_item() -> None:
    added = {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {"type": "future_item", "id": "f", "x": f"<think>{SECRET}</think>"},
    }
    assert run([added], policy()) == [API.error_event("withheld")]


def test_strip_refuses_a_held_message_whose_text_is_in_an_unknown_part() -> None:
    added = {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {"type": "message", "id": "m", "content": [{"type": "x", "text": "<think>S"}]},
    }
    assert run([added], policy())[-1] == API.error_event("withheld")


def test_strip_reads_a_whole_response_without_its_object_field() -> None:
    body = {
        "output": [
            {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "s"}]},
            {"type": "message", "id": "m", "content": [{"type": "output_text", "text": "hi"}]},
        ]
    }
    rewritten = rewrite_response(body, policy())
    assert rewritten == {"output": [body["output"][1]]}


def test_a_response_keeps_its_reasoning_configuration_under_strip() -> None:
    body = {"object": "response", "reasoning": {"effort": "high", "summary": "auto"}, "output": []}
    assert rewrite_response(body, policy()) is None


def test_tracked_items_are_capped_and_strip_refuses_more() -> None:
    kept = ResponsesRewriter(policy(mode="separate"))
    stripped = ResponsesRewriter(policy())

    def added(index: int) -> Payload:
        item = {"type": "function_call", "id": f"fc_{index}", "arguments": ""}
        return {"type": "response.output_item.added", "output_index": index, "item": item}

    for index in range(MAX_TRACKED_ITEMS):
        kept.rewrite(added(index))
        stripped.rewrite(added(index))
    assert kept.rewrite(added(MAX_TRACKED_ITEMS)) is None
    assert len(kept._index_of) == MAX_TRACKED_ITEMS
    with pytest.raises(UnfilterableError):
        stripped.rewrite(added(MAX_TRACKED_ITEMS))


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
        path=PATH,
        request={"model": "m", "stream": True, "input": "hi"},
        preset=preset,
        line_ending=line_ending,
        cuts=cuts,
        by_request=switch,
    )
    assert SECRET.encode() not in body


@pytest.mark.anyio
async def test_strip_whole_response_with_a_marker_in_an_unknown_item_is_a_502() -> None:
    body = {"object": "response", "output": [{"type": "future", "x": f"<think>{SECRET}"}]}
    app = ReasoningMiddleware(response_app([json.dumps(body).encode()]), mode="strip")
    recorder = await record(app, http_scope(PATH), json_request({"model": "m"}))
    assert recorder.start["status"] == 502
    assert SECRET.encode() not in recorder.body


# Other modes: valid events stay valid, numbers stay consistent, nothing is lost

PIECES = st.lists(st.sampled_from(["<think>", "</think>", "<th", "ink>", "a", "b c", "<", "é"]))


def split_text(text: str, preset: str) -> str:
    """What the splitter keeps of a whole text, reasoning and answer together."""
    splitter = ReasoningSplitter.from_format(PRESETS[preset], starts_in_reasoning=False)
    return "".join(piece for _, piece in [*splitter.feed(text), *splitter.finish()])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=PIECES,
    preset=st.sampled_from(["think", "qwen3"]),
    style=st.sampled_from(["vllm", "llamacpp", "ollama"]),
    parts=st.sampled_from(["text", "summary", "both"]),
    with_call=st.booleans(),
)
def test_valid_events_stay_valid_numbered_and_keep_every_character(
    pieces: list[str], preset: str, style: str, parts: str, with_call: bool
) -> None:
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    call = FunctionCall("get_weather", '{"city": "Paris"}') if with_call else None
    deltas = [piece for piece in pieces if piece]
    stream = stream_events(deltas, style=style, function_call=call)  # type: ignore[arg-type]
    out = run(stream, policy(preset, "separate", parts))
    for event in out:
        adapter.validate_python(event)
    numbers = [e["sequence_number"] for e in out if "sequence_number" in e]
    assert numbers == sorted(set(numbers))
    added = [e["output_index"] for e in out if e["type"] == "response.output_item.added"]
    assert added == list(range(len(added)))
    reasoning_type = (
        "response.reasoning_summary_text.delta"
        if parts == "summary"
        else "response.reasoning_text.delta"
    )
    text_types = ("response.output_text.delta", reasoning_type)
    sent = "".join(e["delta"] for e in out if e["type"] in text_types)
    assert sent.replace("\n\n", "") == split_text("".join(pieces), preset).replace("\n\n", "")
    arguments = "response.function_call_arguments.delta"
    assert len([e for e in out if e["type"] == arguments]) == len(
        [e for e in stream if e["type"] == arguments]
    )


@pytest.mark.anyio
async def test_strip_reads_a_reasoning_item_done_that_holds_no_marker_byte() -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": SECRET}
    done = {"type": "response.output_item.done", "output_index": 0, "item": item}
    app = ReasoningMiddleware(sse_app([sse_event(done, name=str(done["type"]))]), mode="strip")
    recorder = await record(app, http_scope(PATH), json_request({"model": "m", "stream": True}))
    assert SECRET.encode() not in recorder.body
    assert b"event: error" in recorder.body
