"""A real third-party app wrapped unchanged: the LiteLLM proxy with a mock reasoning model,
read through the middleware with the official `openai` client."""

from __future__ import annotations

import time

import httpx
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.integration.client_view import assemble_sdk_chunks, kinds_switch_once, reasoning_of
from tests.integration.litellm_config import MASTER_KEY, MOCK_ANSWER, MOCK_MODEL, MOCK_REASONING
from tests.integration.scripted_model import BARE_HEADER
from tests.integration.servers import ServerProcess, error_lines


@pytest.fixture
def anyio_backend() -> str:
    # The openai SDK's AsyncStream drops its inner async generators unexhausted after [DONE],
    # which trio reports as a ResourceWarning (an error here); the servers run trio instead.
    return "asyncio"


def test_proxy_without_middleware_sends_think_tags_in_content(
    litellm_server: ServerProcess,
) -> None:
    response = httpx.post(
        litellm_server.base_url + "/v1/chat/completions",
        json={"model": MOCK_MODEL, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {MASTER_KEY}", BARE_HEADER[0]: BARE_HEADER[1]},
        timeout=20.0,
    )

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].startswith("<think>")


def test_openai_client_reads_reasoning_from_the_proxy(litellm_server: ServerProcess) -> None:
    mark = litellm_server.log_mark()
    with OpenAI(
        base_url=litellm_server.base_url + "/v1", api_key=MASTER_KEY, max_retries=0
    ) as client:
        completion = client.chat.completions.create(
            model=MOCK_MODEL, messages=[{"role": "user", "content": "hi"}]
        )

    message = completion.choices[0].message
    assert reasoning_of(message) == MOCK_REASONING
    assert message.content == MOCK_ANSWER
    time.sleep(0.1)
    assert error_lines(litellm_server.log_since(mark)) == []


def test_openai_client_streams_reasoning_from_the_proxy(litellm_server: ServerProcess) -> None:
    mark = litellm_server.log_mark()
    with OpenAI(
        base_url=litellm_server.base_url + "/v1", api_key=MASTER_KEY, max_retries=0
    ) as client:
        chunks = list(
            client.chat.completions.create(
                model=MOCK_MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )

    choice = assemble_sdk_chunks(chunks)[0]
    assert (choice.reasoning, choice.content) == (MOCK_REASONING, MOCK_ANSWER)
    assert kinds_switch_once(choice.kinds_in_order)
    assert choice.reasoning_deltas > 5
    assert choice.finish_reason == "stop"
    time.sleep(0.1)
    assert error_lines(litellm_server.log_since(mark)) == []


@pytest.mark.anyio
async def test_async_openai_client_streams_reasoning_from_the_proxy(
    litellm_server: ServerProcess,
) -> None:
    async with AsyncOpenAI(
        base_url=litellm_server.base_url + "/v1", api_key=MASTER_KEY, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model=MOCK_MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        reasoning = ""
        content = ""
        async for chunk in stream:
            for choice in chunk.choices:
                reasoning += reasoning_of(choice.delta) or ""
                content += choice.delta.content or ""

    assert (reasoning, content) == (MOCK_REASONING, MOCK_ANSWER)
