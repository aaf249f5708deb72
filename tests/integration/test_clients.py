"""What users see in the clients they read reasoning with, through the middleware on uvicorn:
the `openai` SDK, LangChain's chat models and LiteLLM's client."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Final

import pytest
from openai import OpenAI

from tests.integration.client_view import reasoning_of
from tests.integration.scripted_model import script_for
from tests.integration.servers import REPO_ROOT, ServerProcess

if TYPE_CHECKING:
    from types import ModuleType

INTEGRATION_GROUP: Final = "needs the 'integration' dependency group"
LITELLM_PROMPT: Final = "litellm client — ünïcode"


def test_openai_client_can_ask_for_reasoning_to_be_left_out(uvicorn_server: ServerProcess) -> None:
    prompt = "keep your thoughts to yourself"
    with OpenAI(
        base_url=uvicorn_server.base_url + "/v1", api_key="unused", max_retries=0
    ) as client:
        completion = client.chat.completions.create(
            model="scripted",
            messages=[{"role": "user", "content": prompt}],
            extra_body={"include_reasoning": False},
        )
        chunks = list(
            client.chat.completions.create(
                model="scripted",
                messages=[{"role": "user", "content": prompt}],
                stream=True,
                extra_body={"include_reasoning": False},
            )
        )

    assert reasoning_of(completion.choices[0].message) is None
    assert completion.choices[0].message.content == script_for(prompt).answer
    assert all(reasoning_of(choice.delta) is None for chunk in chunks for choice in chunk.choices)
    assert (
        "".join(choice.delta.content or "" for chunk in chunks for choice in chunk.choices)
        == script_for(prompt).answer
    )


@pytest.fixture(scope="module")
def langchain_deepseek() -> ModuleType:
    module: ModuleType = pytest.importorskip("langchain_deepseek", reason=INTEGRATION_GROUP)
    return module


@pytest.fixture(scope="module")
def langchain_openai() -> ModuleType:
    module: ModuleType = pytest.importorskip("langchain_openai", reason=INTEGRATION_GROUP)
    return module


def test_langchain_deepseek_chat_model_puts_reasoning_in_additional_kwargs(
    uvicorn_server: ServerProcess, langchain_deepseek: ModuleType
) -> None:
    # ChatDeepSeek is LangChain's OpenAI-compatible model that reads `reasoning_content`.
    prompt = "langchain, please"
    model = langchain_deepseek.ChatDeepSeek(
        model="scripted", api_key="unused", base_url=uvicorn_server.base_url + "/v1", max_retries=0
    )

    message = model.invoke(prompt)

    assert message.additional_kwargs["reasoning_content"] == script_for(prompt).reasoning
    assert message.content == script_for(prompt).answer


def test_langchain_deepseek_chat_model_streams_reasoning(
    uvicorn_server: ServerProcess, langchain_deepseek: ModuleType
) -> None:
    prompt = "langchain, stream please"
    model = langchain_deepseek.ChatDeepSeek(
        model="scripted", api_key="unused", base_url=uvicorn_server.base_url + "/v1", max_retries=0
    )

    chunks = list(model.stream(prompt))

    reasoning = "".join(chunk.additional_kwargs.get("reasoning_content", "") for chunk in chunks)
    content = "".join(chunk.content for chunk in chunks)
    assert (reasoning, content) == (script_for(prompt).reasoning, script_for(prompt).answer)


def test_langchain_chat_openai_shows_only_the_answer(
    uvicorn_server: ServerProcess, langchain_openai: ModuleType
) -> None:
    # ChatOpenAI keeps to OpenAI's own fields and drops `reasoning_content`; what its users
    # gain is an answer without the chain of thought in it.
    prompt = "plain ChatOpenAI"
    model = langchain_openai.ChatOpenAI(
        model="scripted", api_key="unused", base_url=uvicorn_server.base_url + "/v1", max_retries=0
    )

    message = model.invoke(prompt)
    streamed = "".join(chunk.content for chunk in model.stream(prompt))

    assert message.content == script_for(prompt).answer
    assert streamed == script_for(prompt).answer


@pytest.fixture(scope="module")
def litellm_view(uvicorn_server: ServerProcess) -> dict[str, Any]:
    """What LiteLLM's client shows for `LITELLM_PROMPT`, streamed and not (in a subprocess)."""
    if find_spec("litellm") is None:
        pytest.skip("litellm is not installed (the 'integration' dependency group)")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.litellm_client_probe",
            uvicorn_server.base_url + "/v1",
            LITELLM_PROMPT,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    view = json.loads(completed.stdout)
    assert isinstance(view, dict)
    return view


def test_litellm_completion_reads_reasoning_content(litellm_view: dict[str, Any]) -> None:
    script = script_for(LITELLM_PROMPT)
    assert (litellm_view["reasoning"], litellm_view["content"]) == (script.reasoning, script.answer)


def test_litellm_completion_streams_reasoning_content(litellm_view: dict[str, Any]) -> None:
    script = script_for(LITELLM_PROMPT)
    assert (litellm_view["streamed_reasoning"], litellm_view["streamed_content"]) == (
        script.reasoning,
        script.answer,
    )
