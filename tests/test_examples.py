from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anthropic
import httpx
import openai
import pytest

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import serve_in_thread
from asgi_reasoning.cli.demo_model import ANSWER_TEXT, REASONING_TEXT, ScriptedReasoningModel

from .templates import render

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

EXAMPLES_DIR: Final = Path(__file__).resolve().parents[1] / "examples"
MODEL_EXAMPLES: Final = ("fastapi_app", "starlette_app", "raw_asgi")
THREE_API_MODELS: Final = ("tiny-think", "tiny-mistral")
"""The two model names `examples/three_apis.py` routes to two presets (`<think>`, `[THINK]`)."""
HI: Final[Any] = [{"role": "user", "content": "Hi"}]
EXAMPLE_REASONING: Final = "The user says hello. Be friendly."
EXAMPLE_ANSWER: Final = "Hello! How can I help?"
CHAT_REQUEST: Final = {"model": "tiny-reasoner", "messages": [{"role": "user", "content": "Hi"}]}


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES_DIR / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://example")


def stream_deltas(body: str) -> list[dict[str, Any]]:
    data = [line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [choice["delta"] for item in data[:-1] for choice in json.loads(item)["choices"]]


def joined(deltas: list[dict[str, Any]], field: str) -> str:
    return "".join(delta.get(field) or "" for delta in deltas)


@pytest.fixture(params=MODEL_EXAMPLES)
def model_example(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_example(request.param)
    monkeypatch.setattr(module, "TOKEN_DELAY", 0)
    return module


@pytest.fixture
def demo_upstream() -> Iterator[str]:
    with serve_in_thread(ScriptedReasoningModel(token_delay=0)) as base_url:
        yield base_url


def test_every_example_is_tested() -> None:
    shipped = {path.stem for path in EXAMPLES_DIR.glob("*.py")}
    assert shipped == {*MODEL_EXAMPLES, "upstream_proxy", "three_apis", "multi_turn"}


def test_model_examples_add_the_middleware(model_example: ModuleType) -> None:
    app = model_example.app
    is_wrapped = isinstance(app, ReasoningMiddleware) or any(
        middleware.cls is ReasoningMiddleware for middleware in app.user_middleware
    )
    assert is_wrapped


@pytest.mark.anyio
async def test_model_example_json_completion_has_reasoning_apart(
    model_example: ModuleType,
) -> None:
    async with client_for(model_example.app) as client:
        response = await client.post("/v1/chat/completions", json=CHAT_REQUEST)

    message = response.json()["choices"][0]["message"]
    assert message["reasoning_content"] == EXAMPLE_REASONING
    assert message["content"] == EXAMPLE_ANSWER


@pytest.mark.anyio
async def test_model_example_stream_has_reasoning_apart(model_example: ModuleType) -> None:
    async with client_for(model_example.app) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT_REQUEST, "stream": True})

    deltas = stream_deltas(response.text)
    assert joined(deltas, "reasoning_content") == EXAMPLE_REASONING
    assert joined(deltas, "content") == EXAMPLE_ANSWER
    assert not any(delta.get("reasoning_content") and delta.get("content") for delta in deltas)


@pytest.mark.anyio
@pytest.mark.parametrize("is_streaming", [True, False])
async def test_upstream_proxy_example_splits_the_upstream_reasoning(
    demo_upstream: str, monkeypatch: pytest.MonkeyPatch, is_streaming: bool
) -> None:
    monkeypatch.setenv("UPSTREAM", demo_upstream)
    example = load_example("upstream_proxy")

    async with client_for(example.app) as client:
        request = {**CHAT_REQUEST, "stream": is_streaming}
        response = await client.post("/v1/chat/completions", json=request)

    if is_streaming:
        deltas = stream_deltas(response.text)
        assert joined(deltas, "reasoning_content") == REASONING_TEXT
        assert joined(deltas, "content") == ANSWER_TEXT
    else:
        message = response.json()["choices"][0]["message"]
        assert message["reasoning_content"] == REASONING_TEXT
        assert message["content"] == ANSWER_TEXT


@pytest.fixture(scope="module")
def three_apis_url() -> Iterator[str]:
    example = load_example("three_apis")
    with pytest.MonkeyPatch.context() as monkeypatch:
        # A short pause still sends every event in its own body message, as a model's are.
        monkeypatch.setattr(example, "TOKEN_DELAY", 0.001)
        with serve_in_thread(example.app) as base_url:
            yield base_url


@pytest.fixture(params=THREE_API_MODELS)
def three_apis_model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def openai_client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def openai_three(three_apis_url: str) -> Iterator[openai.OpenAI]:
    with openai_client(three_apis_url) as client:
        yield client


@pytest.fixture(scope="module")
def anthropic_three(three_apis_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=three_apis_url, api_key="unused", max_retries=0, timeout=10
    ) as client:
        yield client


def test_three_apis_chat_completion_has_reasoning_apart(
    openai_three: openai.OpenAI, three_apis_model: str
) -> None:
    completion = openai_three.chat.completions.create(model=three_apis_model, messages=HI)

    message = completion.choices[0].message
    assert (message.model_extra or {})["reasoning_content"] == EXAMPLE_REASONING
    assert message.content == EXAMPLE_ANSWER


@pytest.mark.timeout(30)
def test_three_apis_chat_stream_has_reasoning_apart(
    openai_three: openai.OpenAI, three_apis_model: str
) -> None:
    with openai_three.chat.completions.create(
        model=three_apis_model, messages=HI, stream=True
    ) as stream:
        deltas = [chunk.choices[0].delta.model_dump() for chunk in stream if chunk.choices]
    assert joined(deltas, "reasoning_content") == EXAMPLE_REASONING
    assert joined(deltas, "content") == EXAMPLE_ANSWER
    assert not any(delta.get("reasoning_content") and delta.get("content") for delta in deltas)


def test_three_apis_response_has_a_reasoning_item_before_the_message(
    openai_three: openai.OpenAI, three_apis_model: str
) -> None:
    response = openai_three.responses.create(model=three_apis_model, input="Hi")

    reasoning, message = response.output
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == [EXAMPLE_REASONING]
    assert message.type == "message"
    assert response.output_text == EXAMPLE_ANSWER


@pytest.mark.timeout(30)
def test_three_apis_responses_stream_has_reasoning_events_before_the_answer(
    openai_three: openai.OpenAI, three_apis_model: str
) -> None:
    with openai_three.responses.create(model=three_apis_model, input="Hi", stream=True) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    reasoning = "".join(
        event.delta for event in events if event.type == "response.reasoning_summary_text.delta"
    )
    answer = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert reasoning == EXAMPLE_REASONING
    assert answer == EXAMPLE_ANSWER
    assert kinds.index("response.reasoning_summary_text.done") < kinds.index(
        "response.output_text.delta"
    )
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers))
    assert events[-1].type == "response.completed"


@pytest.mark.timeout(30)
def test_three_apis_responses_stream_final_response_matches_what_was_streamed(
    openai_three: openai.OpenAI, three_apis_model: str
) -> None:
    with openai_three.responses.stream(model=three_apis_model, input="Hi") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()

    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].summary[0].text == EXAMPLE_REASONING  # type: ignore[union-attr]
    assert final.output_text == EXAMPLE_ANSWER


def test_three_apis_message_has_a_thinking_block_before_the_text(
    anthropic_three: anthropic.Anthropic, three_apis_model: str
) -> None:
    message = anthropic_three.messages.create(model=three_apis_model, max_tokens=64, messages=HI)

    thinking, text = message.content
    assert thinking.type == "thinking"
    assert thinking.thinking == EXAMPLE_REASONING
    assert text.type == "text"
    assert text.text == EXAMPLE_ANSWER


@pytest.mark.timeout(30)
def test_three_apis_messages_stream_has_thinking_apart(
    anthropic_three: anthropic.Anthropic, three_apis_model: str
) -> None:
    with anthropic_three.messages.stream(
        model=three_apis_model, max_tokens=64, messages=HI
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()

    thinking = "".join(event.thinking for event in events if event.type == "thinking")
    answer = "".join(event.text for event in events if event.type == "text")
    assert thinking == EXAMPLE_REASONING
    assert answer == EXAMPLE_ANSWER
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[1].text == EXAMPLE_ANSWER  # type: ignore[union-attr]


@pytest.mark.timeout(30)
def test_three_apis_messages_raw_stream_shifts_the_text_block_after_thinking(
    anthropic_three: anthropic.Anthropic, three_apis_model: str
) -> None:
    with anthropic_three.messages.create(
        model=three_apis_model, max_tokens=64, messages=HI, stream=True
    ) as stream:
        starts = [
            (event.index, event.content_block.type)
            for event in stream
            if event.type == "content_block_start"
        ]
    assert starts == [(0, "thinking"), (1, "text")]


@pytest.fixture(scope="module")
def multi_turn() -> Iterator[tuple[ModuleType, str]]:
    example = load_example("multi_turn")
    with serve_in_thread(example.app) as base_url:
        yield example, base_url


def received_for(multi_turn: tuple[ModuleType, str], model: str) -> dict[str, Any]:
    example, base_url = multi_turn
    request = example.REQUESTS[model]
    extra = {key: value for key, value in request.items() if key not in ("model", "messages")}
    with openai_client(base_url) as client:
        completion = client.chat.completions.create(
            model=request["model"], messages=request["messages"], extra_body=extra
        )
    assert completion.choices[0].message.content
    received: dict[str, Any] = example.received[-1]
    assert received["model"] == model
    return received


def test_multi_turn_minimax_gets_its_reasoning_inline(
    multi_turn: tuple[ModuleType, str],
) -> None:
    received = received_for(multi_turn, "MiniMax-M2")

    tool_turn = received["messages"][1]
    assert tool_turn["content"] == "<think>\nI need the weather tool for Paris.\n</think>\n\n"
    assert "reasoning_content" not in tool_turn
    assert tool_turn["tool_calls"][0]["function"]["name"] == "get_weather"
    prompt = render("minimax_m2", received["messages"])
    assert "]~b]ai\n<think>\nI need the weather tool for Paris.\n</think>\n\n" in prompt


def test_multi_turn_minimax_reasoning_survives_a_server_that_drops_the_field(
    multi_turn: tuple[ModuleType, str],
) -> None:
    example, _ = multi_turn
    received = received_for(multi_turn, "MiniMax-M2")

    def without_field(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in m.items() if k != "reasoning_content"} for m in messages]

    # What the model sees when the engine drops `reasoning_content` (vLLM reads `reasoning`).
    assert "I need the weather tool" not in render(
        "minimax_m2", without_field(example.CONVERSATION)
    )
    assert "I need the weather tool" in render("minimax_m2", without_field(received["messages"]))


def test_multi_turn_qwen3_effort_becomes_the_template_switch(
    multi_turn: tuple[ModuleType, str],
) -> None:
    example, _ = multi_turn
    received = received_for(multi_turn, "Qwen3-8B")

    assert received["chat_template_kwargs"] == {"enable_thinking": False}
    assert received["messages"] == example.CONVERSATION
    prompt = render("qwen3", received["messages"], **received["chat_template_kwargs"])
    assert "<|im_start|>assistant\n<think>\nI need the weather tool for Paris.\n</think>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_multi_turn_script_prints_both_requests(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    example = load_example("multi_turn")
    asyncio.run(example.main())

    printed = capsys.readouterr().out
    assert "--- MiniMax-M2" in printed
    assert "--- Qwen3-8B" in printed
    assert '"enable_thinking": false' in printed
