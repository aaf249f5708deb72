"""The seam between the body layer and one wire API (Chat Completions, Responses, Messages).

An API shape is one module in ``apis/`` with a ``WireAPI`` subclass and one line in the
registry (``apis/__init__.py``). It works on parsed JSON only: plain dicts in, plain dicts out.
The SSE framing, the JSON backend, byte-level shortcuts and failure handling belong to the body
layer (``bodies.py``), and the ASGI plumbing to ``middleware.py``; neither knows any API.

A rewrite returning ``None`` means "unchanged": the caller forwards the app's own bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..effort import rewrite_effort
from ..history import rewrite_history

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # The pure build needs no mypy_extensions: mypyc reads the source.

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[type], type]:  # type: ignore[misc]
        """``mypy_extensions.mypyc_attr``, which only speaks to mypyc: the class as it was."""
        return lambda cls: cls


if TYPE_CHECKING:
    from ..config import Config
    from ..policy import Policy

Payload = dict[str, Any]
"""One JSON object: a streamed event's data, or a whole response body."""


class UnfilterableError(ValueError):
    """Raised by a rewriter under strip for input it cannot filter: the body layer fails closed."""


# Subclassed by test code too (failure injection), which the compiled build allows only so.
@mypyc_attr(allow_interpreted_subclasses=True)
class StreamRewriter(ABC):
    """Rewrites the events of one streamed response, in order, with the state it needs."""

    @property
    @abstractmethod
    def is_transparent(self) -> bool:
        """True when an event holding none of the trigger bytes would come back unchanged.

        The body layer then forwards such an event without parsing it (``WireAPI.triggers``).
        """

    @abstractmethod
    def rewrite(self, payload: object) -> list[Payload] | None:
        """The events to send instead of this one (``[]`` drops it); ``None``: send it as it was."""

    @abstractmethod
    def flush(self) -> list[Payload]:
        """Events carrying everything still held: before an end sentinel, and at body end."""


@mypyc_attr(allow_interpreted_subclasses=True)
class WireAPI(ABC):
    """What one API shape contributes: its paths, its request reading, its rewriters."""

    name: ClassVar[str]
    """Short name for logs: ``"chat_completions"``, ``"responses"``, ``"messages"``."""

    path_patterns: ClassVar[tuple[str, ...]]
    """``fnmatch`` patterns of the request paths this API serves (its last segments)."""

    end_sentinels: ClassVar[frozenset[bytes]] = frozenset()
    """Non-JSON ``data`` values that end a stream (``[DONE]``); held text is flushed first."""

    always_inspect: ClassVar[tuple[bytes, ...]] = ()
    """Bytes that send an event to the rewriter even while it is transparent."""

    has_event_names: ClassVar[bool] = False
    """Events carry an ``event:`` line equal to their ``type`` (Responses, Messages)."""

    def event_name(self, payload: Mapping[str, Any]) -> str | None:
        """The ``event:`` line for ``payload``, when the API names its events."""
        if not self.has_event_names:
            return None
        name = payload.get("type")
        # A name that could break the framing is not written as an `event:` line.
        if not isinstance(name, str) or "\n" in name or "\r" in name:
            return None
        return name

    def rewrite_request(self, request: Mapping[str, Any], config: Config) -> Payload | None:
        """The request the app gets instead (DESIGN.md §15), or ``None``: forward it as it came.

        History first (``config.history``), then the effort switch (``config.effort``). The
        default reads this API's shapes by ``name``; an API with other shapes overrides it.
        """
        rewritten = rewrite_history(
            self.name, request, config.history, fmt=config.tag_format, field=config.history_field
        )
        if config.effort:
            rewritten = (
                rewrite_effort(self.name, rewritten or request, config.template_switch) or rewritten
            )
        return rewritten

    @abstractmethod
    def thinking_requested(self, request: Mapping[str, Any]) -> bool | None:
        """Whether the request turns the model's thinking on (True), off (False), or neither."""

    @abstractmethod
    def new_stream(self, policy: Policy, request: Mapping[str, Any] | None) -> StreamRewriter:
        """A rewriter for one streamed response to ``request`` (its JSON; ``None``: unread).

        Called before the app runs; keep only what the rewrite needs, the request is then
        released.
        """

    @abstractmethod
    def rewrite_body(self, body: object, policy: Policy) -> Payload | None:
        """A whole (non-streaming) response with reasoning moved; ``None``: unchanged."""

    @abstractmethod
    def error_body(self, message: str) -> Payload:
        """A JSON error body in this API's own shape (strip fails closed with it)."""

    @abstractmethod
    def error_event(self, message: str) -> Payload:
        """A streamed error event in this API's own shape, after which the stream ends."""


def chat_template_thinking(request: Mapping[str, Any]) -> bool | None:
    """What ``chat_template_kwargs`` says of thinking, in the two common spellings.

    vLLM and SGLang pass ``chat_template_kwargs`` to the template: Qwen3 reads
    ``enable_thinking``, DeepSeek V3.1+ reads ``thinking``.
    """
    kwargs = request.get("chat_template_kwargs")
    if not isinstance(kwargs, Mapping):
        return None
    for key in ("enable_thinking", "thinking"):
        value = kwargs.get(key)
        if isinstance(value, bool):
            return value
    return None
