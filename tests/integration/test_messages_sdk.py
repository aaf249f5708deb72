"""The official ``anthropic`` SDK against the middleware under uvicorn on loopback.

The app is ``tests/messages_app.py``: the Messages streams llama.cpp, vLLM, Ollama and the
Anthropic API write, with ``<think>`` left in text. Every event the client receives is
validated with the SDK's own types, and the SDK's accumulator builds the final message.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Final

import anthropic
import httpx
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import serve_in_thread
from tests.messages_app import SCRIPTS, STYLES, messages_app

if TYPE_CHECKING:
    from collections.abc import Iterator

# Long enough between events to tell streaming from buffering, short enough for CI.
EVENT_DELAY_S: Final = 0.02
CLIENT_TIMEOUT_S: Final = 15.0
STREAM_EVENT: Final = TypeAdapter(RawMessageStreamEvent)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = ReasoningMiddleware(messages_app(delay=EVENT_DELAY_S))
    with serve_in_thread(app, lifespan="off") as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=base_url, api_key="local", max_retries=0, timeout=CLIENT_TIMEOUT_S
    ) as sdk_client:
        yield sdk_client


def ask(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "What is 2+2?"}],
    }


def blocks_of(message: Message) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for block in message.content:
        if block.type == "thinking":
            out.append(("thinking", block.thinking))
        elif block.type == "text":
            out.append(("text", block.text))
        elif block.type == "tool_use":
            out.append(("tool_use", block.input))
        else:
            out.append((block.type, None))
    return out


def expected_blocks(script_name: str) -> list[tuple[str, Any]]:
    script = SCRIPTS[script_name]
    if script_name == "multi":
        return [
            ("thinking", "First thought."),
            ("text", "Part one. "),
            ("thinking", "Second"),
            ("text", "Part two."),
            ("tool_use", {"q": "x"}),
        ]
    blocks: list[tuple[str, Any]] = []
    if script.reasoning:
        blocks.append(("thinking", script.reasoning))
    blocks += [("text", text) for text in script.text_blocks]
    blocks += [("tool_use", json.loads("".join(args))) for _, _, args in script.tools]
    return blocks


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("script", ["think", "tool", "multi", "truncated"])
def test_stream_final_message_has_thinking_blocks_and_clean_text(
    client: anthropic.Anthropic, style: str, script: str
) -> None:
    with client.messages.stream(**ask(f"{style}/{script}")) as stream:
        thinking = "".join(event.thinking for event in stream if event.type == "thinking")
        final = stream.get_final_message()
    assert blocks_of(final) == expected_blocks(script)
    assert thinking == "".join(t for kind, t in expected_blocks(script) if kind == "thinking")
    assert final.stop_reason == SCRIPTS[script].stop_reason
    for block in final.content:
        if block.type == "thinking":
            assert block.signature == ""


@pytest.mark.parametrize("style", STYLES)
def test_create_stream_events_arrive_in_order_with_consistent_indices(
    client: anthropic.Anthropic, style: str
) -> None:
    stream = client.messages.create(**ask(f"{style}/think"), stream=True)
    events = list(stream)
    kinds = [(event.type, getattr(event, "index", None)) for event in events]
    assert kinds[0] == ("message_start", None)
    starts = [e for e in events if e.type == "content_block_start"]
    assert [(e.index, e.content_block.type) for e in starts] == [(0, "thinking"), (1, "text")]
    answer = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert answer == SCRIPTS["think"].answer
    signatures = [
        e for e in events if e.type == "content_block_delta" and e.delta.type == "signature_delta"
    ]
    assert len(signatures) == 1


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("script", ["think", "tool", "multi", "truncated", "plain", "native"])
def test_every_event_written_validates_with_the_sdk_types(
    base_url: str, style: str, script: str
) -> None:
    body = {**ask(f"{style}/{script}"), "stream": True}
    names: list[str] = []
    with (
        httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT_S) as http,
        http.stream("POST", "/v1/messages", json=body) as response,
    ):
        assert response.status_code == 200
        raw = b"".join(response.iter_raw())
    for event in raw.decode().split("\n\n"):
        if not event.strip():
            continue
        lines = event.split("\n")
        name = lines[0].removeprefix("event: ")
        data = json.loads(lines[1].removeprefix("data: "))
        assert len(lines) == 2
        assert data["type"] == name
        names.append(name)
        if name != "ping":
            STREAM_EVENT.validate_python(data)
    assert names[0] == "message_start"
    assert names[-1] == "message_stop"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("script", ["think", "tool", "multi", "truncated"])
def test_whole_message_has_thinking_blocks_and_validates(
    client: anthropic.Anthropic, style: str, script: str
) -> None:
    message = client.messages.create(**ask(f"{style}/{script}"))
    Message.model_validate(message.model_dump())
    assert blocks_of(message) == expected_blocks(script)


@pytest.mark.parametrize("stream", [True, False])
def test_native_thinking_is_kept_and_a_quoted_marker_survives(
    client: anthropic.Anthropic, stream: bool
) -> None:
    if stream:
        with client.messages.stream(**ask("anthropic/native")) as sdk_stream:
            message = sdk_stream.get_final_message()
    else:
        message = client.messages.create(**ask("anthropic/native"))
    assert blocks_of(message) == [
        ("thinking", "The user asks about tags."),
        ("text", "Write <think> to open a block."),
    ]
    thinking = message.content[0]
    assert thinking.type == "thinking"
    assert thinking.signature == "sig-0001"


@pytest.mark.parametrize("style", STYLES)
def test_a_request_that_excludes_reasoning_gets_none(
    client: anthropic.Anthropic, style: str
) -> None:
    for script in ("think", "multi", "native"):
        with client.messages.stream(
            **ask(f"{'anthropic' if script == 'native' else style}/{script}"),
            extra_body={"include_reasoning": False},
        ) as stream:
            events = list(stream)
            final = stream.get_final_message()
        assert all(block.type != "thinking" for block in final.content)
        assert not any(event.type == "thinking" for event in events)


def test_thinking_streams_before_the_app_finishes(client: anthropic.Anthropic) -> None:
    began = time.monotonic()
    first_thinking: float | None = None
    with client.messages.stream(**ask("vllm/think")) as stream:
        for event in stream:
            if event.type == "thinking" and first_thinking is None:
                first_thinking = time.monotonic() - began
    total = time.monotonic() - began
    event_count = len(SCRIPTS["think"].pieces) + 6
    assert first_thinking is not None
    # The app sleeps between events; a buffered body would deliver everything at the end.
    assert total - first_thinking > (event_count - 6) * EVENT_DELAY_S * 0.8
