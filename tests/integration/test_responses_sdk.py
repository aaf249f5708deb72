"""The official ``openai`` SDK and the OpenAI Agents SDK against the middleware under uvicorn.

The app is ``tests/responses_app.py``: the Responses streams vLLM, llama.cpp and Ollama write,
with ``<think>`` left in ``output_text``. Every event a client receives is validated with the
SDK's own types; the SDK's accumulator (``responses.stream()``) and the Agents SDK's
``OpenAIResponsesModel`` build the final response from them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import anyio
import httpx
import pytest
from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
from agents.items import MessageOutputItem, ReasoningItem, ToolCallItem
from openai import AsyncOpenAI, OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import serve_in_thread
from tests.responses_app import SCRIPTS, STYLES, scripted_app

if TYPE_CHECKING:
    from collections.abc import Iterator

# Long enough between events to tell streaming from buffering, short enough for CI.
EVENT_DELAY_S: Final = 0.02
CLIENT_TIMEOUT_S: Final = 15.0
STREAM_EVENT: Final = TypeAdapter(ResponseStreamEvent)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = ReasoningMiddleware(scripted_app(delay=EVENT_DELAY_S), responses_reasoning="text")
    with serve_in_thread(app, lifespan="off") as url:
        yield url + "/v1"


@pytest.fixture(scope="module")
def summary_url() -> Iterator[str]:
    # The default: summary parts, what Codex CLI and the AI SDK show.
    app = ReasoningMiddleware(scripted_app(delay=EVENT_DELAY_S))
    with serve_in_thread(app, lifespan="off") as url:
        yield url + "/v1"


@pytest.fixture
def client(base_url: str) -> Iterator[OpenAI]:
    with OpenAI(
        base_url=base_url, api_key="local", max_retries=0, timeout=CLIENT_TIMEOUT_S
    ) as sdk_client:
        yield sdk_client


def items_of(response: Response) -> list[tuple[str, str]]:
    """(type, text) per output item: reasoning text, answer text, or tool arguments."""
    out: list[tuple[str, str]] = []
    for item in response.output:
        if item.type == "reasoning":
            parts = item.content or item.summary
            out.append(("reasoning", "".join(part.text for part in parts)))
        elif item.type == "message":
            out.append(("message", "".join(getattr(p, "text", "") for p in item.content)))
        elif item.type == "function_call":
            out.append(("function_call", item.arguments))
        else:
            out.append((item.type, ""))
    return out


def expected_items(script_name: str) -> list[tuple[str, str]]:
    script = SCRIPTS[script_name]
    if script_name == "multi":
        return [
            ("reasoning", "First"),
            ("message", "Part one. "),
            ("reasoning", "\n\nSecond"),
            ("message", "Part two."),
        ]
    items = [("reasoning", text) for text in script.reasoning]
    if script.answer:
        items.append(("message", script.answer))
    if script.function_call is not None:
        items.append(("function_call", script.function_call.arguments))
    return items


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("script_name", ["think", "multi", "tool", "truncated", "native"])
def test_streamed_events_are_valid_and_build_the_split_response(
    client: OpenAI, style: str, script_name: str
) -> None:
    stream = client.responses.create(
        model=f"{script_name}@{style}", input="What is 2+2?", stream=True
    )
    events = list(stream)
    for event in events:
        STREAM_EVENT.validate_python(event.model_dump(mode="json", exclude_unset=True))
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers))
    terminal = events[-1]
    assert terminal.type in ("response.completed", "response.incomplete")
    assert items_of(terminal.response) == expected_items(script_name)


def test_reasoning_arrives_while_the_app_is_still_streaming(client: OpenAI) -> None:
    started = time.monotonic()
    with client.responses.create(model="think", input="q", stream=True) as stream:
        for event in stream:
            if event.type == "response.reasoning_text.delta":
                first_reasoning = time.monotonic() - started
                break
    # Seven text deltas 20 ms apart: buffering would deliver the first after all of them.
    assert first_reasoning < EVENT_DELAY_S * 25


@pytest.mark.parametrize("script_name", ["think", "multi", "tool", "native"])
def test_stream_helper_final_response_has_the_reasoning_items(
    client: OpenAI, script_name: str
) -> None:
    reasoning_deltas: list[str] = []
    text_deltas: list[str] = []
    with client.responses.stream(model=script_name, input="What is 2+2?") as stream:
        for event in stream:
            if event.type == "response.reasoning_text.delta":
                reasoning_deltas.append(event.delta)
            elif event.type == "response.output_text.delta":
                text_deltas.append(event.delta)
        final = stream.get_final_response()
    assert items_of(final) == expected_items(script_name)
    assert final.output_text == SCRIPTS[script_name].answer
    if script_name != "native":
        assert "".join(reasoning_deltas) == "".join(SCRIPTS[script_name].reasoning)
    assert "".join(text_deltas) == SCRIPTS[script_name].answer
    assert "<think>" not in "".join(text_deltas) or script_name == "native"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("script_name", ["think", "multi", "tool", "truncated", "native", "plain"])
def test_whole_response_is_split(client: OpenAI, style: str, script_name: str) -> None:
    response = client.responses.create(model=f"{script_name}@{style}", input="What is 2+2?")
    Response.model_validate(response.model_dump(mode="json", exclude_unset=True))
    assert items_of(response) == expected_items(script_name)


def test_whole_response_reasoning_tokens_are_estimated(client: OpenAI) -> None:
    response = client.responses.create(model="think", input="What is 2+2?")
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def test_stream_without_marker_reaches_the_client_as_sent(base_url: str) -> None:
    request = {"model": "plain@ollama", "input": "q", "stream": True}
    direct_app = scripted_app()
    with serve_in_thread(direct_app, lifespan="off") as direct_url:
        direct = httpx.post(direct_url + "/v1/responses", json=request, timeout=CLIENT_TIMEOUT_S)
    through = httpx.post(base_url + "/responses", json=request, timeout=CLIENT_TIMEOUT_S)
    assert through.content == direct.content


def test_summary_option_streams_summary_events(summary_url: str) -> None:
    with OpenAI(base_url=summary_url, api_key="local", max_retries=0) as sdk_client:
        with sdk_client.responses.stream(model="think", input="q") as stream:
            types = [event.type for event in stream]
            final = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in types
    assert "response.reasoning_text.delta" not in types
    assert final.output[0].type == "reasoning"
    assert [part.text for part in final.output[0].summary] == ["The user asks 2+2."]


def test_request_can_ask_for_reasoning_to_be_left_out(client: OpenAI) -> None:
    response = client.responses.create(
        model="think@ollama", input="q", extra_body={"reasoning": {"exclude": True}}
    )
    assert items_of(response) == [("message", "It is 4.")]
    with client.responses.stream(
        model="native", input="q", extra_body={"reasoning": {"exclude": True}}
    ) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert not [t for t in types if "reasoning" in t]
    # Under strip, privacy wins over a literal "<think>": what follows it is dropped too.
    assert items_of(final) == [("message", "The ")]


def run_agent(base_url: str, model_name: str, *, streamed: bool) -> tuple[list[Any], Any]:
    """The Agents SDK's run items and final output, with its Responses model."""
    set_tracing_disabled(True)

    async def main() -> tuple[list[Any], Any]:
        openai_client = AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0)
        model = OpenAIResponsesModel(model=model_name, openai_client=openai_client)
        agent = Agent(name="assistant", instructions="Answer briefly.", model=model)
        with anyio.fail_after(30):
            if streamed:
                result = Runner.run_streamed(agent, "What is 2+2?")
                async for _ in result.stream_events():
                    pass
            else:
                result = await Runner.run(agent, "What is 2+2?")  # type: ignore[assignment]
        await openai_client.close()
        return list(result.new_items), result.final_output

    return anyio.run(main)


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("style", STYLES)
def test_agents_sdk_sees_a_reasoning_item_and_the_answer(
    base_url: str, streamed: bool, style: str
) -> None:
    items, final_output = run_agent(base_url, f"think@{style}", streamed=streamed)
    assert [type(item) for item in items] == [ReasoningItem, MessageOutputItem]
    reasoning = items[0].raw_item
    assert [part.text for part in reasoning.content] == ["The user asks 2+2."]
    assert final_output == "It is 4."


def test_agents_sdk_tool_call_keeps_its_arguments(base_url: str) -> None:
    set_tracing_disabled(True)
    items, _ = _agent_with_tool(base_url)
    assert isinstance(items[0], ReasoningItem)
    calls = [item for item in items if isinstance(item, ToolCallItem)]
    assert calls
    assert calls[0].raw_item.arguments == '{"city": "Paris"}'  # type: ignore[union-attr]


def _agent_with_tool(base_url: str) -> tuple[list[Any], Any]:
    from agents import function_tool

    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return "sunny"

    async def main() -> tuple[list[Any], Any]:
        openai_client = AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0)
        model = OpenAIResponsesModel(model="tool", openai_client=openai_client)
        agent = Agent(name="assistant", model=model, tools=[get_weather])
        with anyio.fail_after(30):
            # The scripted model calls the tool every turn: one turn is enough to see it.
            result = Runner.run_streamed(agent, "Weather in Paris?", max_turns=1)
            try:
                async for _ in result.stream_events():
                    pass
            except Exception as error:  # MaxTurnsExceeded: the run stops after the tool.
                if type(error).__name__ != "MaxTurnsExceeded":
                    raise
        await openai_client.close()
        assert calls == ["Paris"]
        return list(result.new_items), result.final_output

    return anyio.run(main)
