"""Shared for the regression tests: one exchange through the middleware, recorded."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from asgi_reasoning import ReasoningMiddleware
from tests.asgi_helpers import (
    SSE_HEADERS,
    Recorder,
    ScriptedReceive,
    record,
    request_messages,
    response_app,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tests.asgi_helpers import Headers


def request_with(**switches: Any) -> ScriptedReceive:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **switches}
    return ScriptedReceive(request_messages(json.dumps(request).encode()))


async def stream_through(
    parts: Sequence[bytes],
    *,
    headers: Headers | None = None,
    request: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Recorder:
    """``parts`` as body messages of an SSE response, through the middleware."""
    app = response_app([*parts, b""], headers=list(headers or SSE_HEADERS), content_length=False)
    return await record(ReasoningMiddleware(app, **kwargs), receive=request_with(**(request or {})))


async def body_through(
    body: bytes,
    *,
    headers: Headers | None = None,
    request: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Recorder:
    """``body`` as a whole JSON response, through the middleware."""
    app = response_app([body], headers=headers)
    return await record(ReasoningMiddleware(app, **kwargs), receive=request_with(**(request or {})))
