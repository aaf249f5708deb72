from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
import pytest

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import serve_in_thread
from asgi_reasoning.cli.demo_model import ANSWER_TEXT, REASONING_TEXT, ScriptedReasoningModel

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

EXAMPLES_DIR: Final = Path(__file__).resolve().parents[1] / "examples"
MODEL_EXAMPLES: Final = ("fastapi_app", "starlette_app", "raw_asgi")
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
    assert shipped == {*MODEL_EXAMPLES, "upstream_proxy"}


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
