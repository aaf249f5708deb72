"""The scripted model app served by the real servers: with the middleware, or bare on request.

A request with the header `x-bare: 1` goes to an identical app without the middleware, so
each test can compare both in one server process, under the same load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from asgi_reasoning import ReasoningMiddleware
from tests.integration.scripted_model import BARE_HEADER, bare_app, create_app

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

RAW_BARE_HEADER: Final = (BARE_HEADER[0].encode(), BARE_HEADER[1].encode())

wrapped_app = create_app()
wrapped_app.add_middleware(ReasoningMiddleware, preset="think")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and RAW_BARE_HEADER in scope["headers"]:
        await bare_app(scope, receive, send)
    else:
        await wrapped_app(scope, receive, send)
