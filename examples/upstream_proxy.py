"""ReasoningMiddleware in front of a model server that is not Python: llama.cpp's server,
Ollama, TGI, LM Studio, vLLM started without a reasoning parser.

Run it:  UPSTREAM=http://127.0.0.1:8080 python examples/upstream_proxy.py
Then point your client at http://127.0.0.1:8000 instead of the upstream:

- OpenAI clients: base URL http://127.0.0.1:8000/v1, for `/v1/chat/completions` and, where
  the upstream serves it, `/v1/responses` (Codex CLI, the Agents SDK, the Vercel AI SDK).
- Anthropic clients: base URL http://127.0.0.1:8000, for `/v1/messages`. Claude Code:
  ANTHROPIC_BASE_URL=http://127.0.0.1:8000 ANTHROPIC_AUTH_TOKEN=local claude

The command line does the same: asgi-reasoning proxy --upstream http://127.0.0.1:8080

`make_reasoning_proxy` normalises each request's path before the middleware matches it
(so `/v1/chat/./completions` is rewritten like `/v1/chat/completions`), then forwards it to
the upstream, streaming the answer back.
"""

from __future__ import annotations

import os

import uvicorn

from asgi_reasoning.proxy import make_reasoning_proxy

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:8080")

app = make_reasoning_proxy(UPSTREAM, preset="think")  # <- the one line

if __name__ == "__main__":
    # The proxy sets X-Forwarded-* itself; uvicorn's own handling of them would hide the peer.
    uvicorn.run(app, host="127.0.0.1", port=8000, proxy_headers=False)
