"""Call a server with LiteLLM's client and write what its user sees to stdout, as JSON.

Run as `python -m tests.integration.litellm_client_probe BASE_URL PROMPT`. It runs in a
process of its own because LiteLLM keeps logging threads, an event loop and sockets open
until the interpreter exits, which the test process would report as leaked resources.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any


def reasoning_of(value: object) -> str | None:
    reasoning = getattr(value, "reasoning_content", None)
    return reasoning if isinstance(reasoning, str) else None


def probe(base_url: str, prompt: str) -> dict[str, Any]:
    # No network: the bundled model cost map instead of fetching the current one at import.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    litellm = importlib.import_module("litellm")
    request = {
        "model": "openai/scripted",
        "api_base": base_url,
        "api_key": "unused",
        "messages": [{"role": "user", "content": prompt}],
    }

    message = litellm.completion(**request).choices[0].message
    streamed_reasoning = ""
    streamed_content = ""
    for chunk in litellm.completion(**request, stream=True):
        delta = chunk.choices[0].delta
        streamed_reasoning += reasoning_of(delta) or ""
        streamed_content += delta.content or ""

    return {
        "reasoning": reasoning_of(message),
        "content": message.content,
        "streamed_reasoning": streamed_reasoning,
        "streamed_content": streamed_content,
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(probe(sys.argv[1], sys.argv[2])) + "\n")
