"""The LiteLLM proxy's FastAPI app, unchanged, wrapped in the middleware.

The proxy reads its model list from the file named by `CONFIG_FILE_PATH` at startup (its
lifespan). A request with the `x-bare: 1` header reaches the same proxy app without the middleware.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final, cast

from asgi_reasoning import ReasoningMiddleware
from tests.integration.scripted_model import BARE_HEADER

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

RAW_BARE_HEADER: Final = (BARE_HEADER[0].encode(), BARE_HEADER[1].encode())

# Imported by name so that the type checker does not walk the whole of LiteLLM.
proxy_app = cast("ASGIApp", importlib.import_module("litellm.proxy.proxy_server").app)
wrapped_proxy_app = ReasoningMiddleware(proxy_app, preset="think")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and RAW_BARE_HEADER in scope["headers"]:
        await proxy_app(scope, receive, send)
    else:
        await wrapped_proxy_app(scope, receive, send)
