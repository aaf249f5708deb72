"""Chat Completions whose rewrites raise where a test says: failure handling, tested for real.

The failure is injected at the seam the body layer calls (``WireAPI`` / ``StreamRewriter``),
by a wrapper around the real API, so it happens the same way in the pure and the compiled
build (where patching a compiled function would change nothing) and however the body layer
comes to call the rewriter. ``failures`` counts the exceptions raised, so that a test proves
its failure happened rather than passing on a stream that never failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgi_reasoning import middleware
from asgi_reasoning.apis.base import StreamRewriter, WireAPI
from asgi_reasoning.apis.chat_completions import ChatCompletionsAPI

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pytest

    from asgi_reasoning.apis.base import Payload
    from asgi_reasoning.config import Config
    from asgi_reasoning.policy import Policy


class RewriteFailure(RuntimeError):
    """What a failing rewrite raises: a shape the rewriter did not foresee."""


class FailingChatCompletionsAPI(WireAPI):
    """Chat Completions, except that the rewrites a test names raise ``RewriteFailure``.

    ``fail_on``: the rewrite of a streamed event whose payload it holds true for
    (``carrying(text)``, ``any_event``). ``fail_body``: the rewrite of a whole response body.
    """

    name = ChatCompletionsAPI.name
    path_patterns = ChatCompletionsAPI.path_patterns
    end_sentinels = ChatCompletionsAPI.end_sentinels
    always_inspect = ChatCompletionsAPI.always_inspect
    has_event_names = ChatCompletionsAPI.has_event_names

    def __init__(
        self, *, fail_on: Callable[[object], bool] | None = None, fail_body: bool = False
    ) -> None:
        self._api = ChatCompletionsAPI()
        self._fail_on = fail_on
        self._fail_body = fail_body
        self.failures = 0

    def counted_failure(self) -> RewriteFailure:
        self.failures += 1
        return RewriteFailure("unexpected shape")

    def fails_on(self, payload: object) -> bool:
        return self._fail_on is not None and self._fail_on(payload)

    def event_name(self, payload: Mapping[str, Any]) -> str | None:
        return self._api.event_name(payload)

    def rewrite_request(self, request: Mapping[str, Any], config: Config) -> Payload | None:
        return self._api.rewrite_request(request, config)

    def thinking_requested(self, request: Mapping[str, Any]) -> bool | None:
        return self._api.thinking_requested(request)

    def new_stream(self, policy: Policy, request: Mapping[str, Any] | None) -> StreamRewriter:
        return FailingStreamRewriter(self, self._api.new_stream(policy, request))

    def rewrite_body(self, body: object, policy: Policy) -> Payload | None:
        if self._fail_body:
            raise self.counted_failure()
        return self._api.rewrite_body(body, policy)

    def error_body(self, message: str) -> Payload:
        return self._api.error_body(message)

    def error_event(self, message: str) -> Payload:
        return self._api.error_event(message)


class FailingStreamRewriter(StreamRewriter):
    """The real rewriter of one stream, behind only the methods every rewriter has.

    A shortcut the real rewriter offers the body layer beyond those is not offered here, so
    every event the body layer would ask about reaches ``rewrite``, where the test fails it.
    """

    def __init__(self, api: FailingChatCompletionsAPI, rewriter: StreamRewriter) -> None:
        self._api = api
        self._rewriter = rewriter

    @property
    def is_transparent(self) -> bool:
        return self._rewriter.is_transparent

    def rewrite(self, payload: object) -> list[Payload] | None:
        if self._api.fails_on(payload):
            raise self._api.counted_failure()
        return self._rewriter.rewrite(payload)

    def flush(self) -> list[Payload]:
        return self._rewriter.flush()


def carrying(text: str) -> Callable[[object], bool]:
    """Whether a payload is a chunk whose first delta's ``content`` is ``text``."""

    def is_carrying(payload: object) -> bool:
        try:
            return bool(payload["choices"][0]["delta"]["content"] == text)  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return False

    return is_carrying


def any_event(payload: object) -> bool:
    """Every event: the first one the body layer hands to the rewriter fails."""
    return True


def serve_as(api: WireAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """The middleware reads every request as one for ``api``.

    It looks the API up by path at each request, in ``middleware.py``, which stays Python in
    the compiled build (tests/test_compiled_build.py): no compiled module is patched.
    """
    monkeypatch.setattr(middleware, "api_for_path", lambda path: api)
