"""ReasoningMiddleware in front of a model server that is not Python: llama.cpp's server,
Ollama, TGI, LM Studio, vLLM started without a reasoning parser.

Run it:  UPSTREAM=http://127.0.0.1:8080 python examples/upstream_proxy.py
Then point your OpenAI client at http://127.0.0.1:8000/v1 instead of the upstream.
The command line does the same: asgi-reasoning proxy --upstream http://127.0.0.1:8080
"""

from __future__ import annotations

import os

import uvicorn

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.proxy import make_proxy_app

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:8080")

app = ReasoningMiddleware(make_proxy_app(UPSTREAM), preset="think")  # <- the one line

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
