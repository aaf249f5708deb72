"""The seam between the body layer and one wire API (Chat Completions, Responses, Messages).

An API shape is one module in ``apis/`` with a ``WireAPI`` subclass and one line in the
registry (``apis/__init__.py``). It works on parsed JSON only: plain dicts in, plain dicts out.
The SSE framing, the JSON backend, byte-level shortcuts and failure handling belong to the body
layer (``bodies.py``), and the ASGI plumbing to ``middleware.py``; neither knows any API.

A rewrite returning ``None`` means "unchanged": the caller forwards the app's own bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple, TypeAlias

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


class TextDeltaShape(NamedTuple):
    """Where an API's ordinary text-delta event keeps what changes from one token to the next."""

    key: Hashable
    """Passed back to ``rewrite_text_delta``: which choice, item or block the event is of."""
    text: tuple[str | int, ...]
    """The keys and list indices leading from the event to its text (a string)."""
    number: tuple[str | int, ...] | None = None
    """The same for the event's sequence number, when the stream numbers its events."""


FastDelta: TypeAlias = "tuple[Hashable | None, int]"
"""What ``rewrite_text_delta`` made of a text delta: the key of the events to send instead
(``None``: the event goes out as it came), which ``text_delta_events`` makes from the learned
event, and the sequence number of the first of those events (``number_hole(0)``)."""

UNCHANGED: Final[FastDelta] = (None, 0)


# Subclassed by test code too (failure injection), which the compiled build allows only so.
@mypyc_attr(allow_interpreted_subclasses=True)
class StreamRewriter(ABC):
    """Rewrites the events of one streamed response, in order, with the state it needs.

    A rewriter may also offer the byte-level fast path for text deltas (``bodies.py``): it
    names the shape of its ordinary text delta (``text_delta_shape``); the body layer then
    recognises later events of that shape by their bytes (``wire/templates.py``) and hands
    over their text alone (``rewrite_text_delta``), writing the events it answers with from
    templates made once (``text_delta_events``). The fast path must give the same bytes and
    leave the same state as ``rewrite`` would, which the differential tests check.
    """

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

    def text_delta_shape(self, payload: Payload) -> TextDeltaShape | None:
        """Where ``payload``, just rewritten, keeps its text, if it is an ordinary text delta.

        ``None`` (the default): it is not, or this rewriter has no fast path.
        """
        return None

    def rewrite_text_delta(
        self, payload: Payload, key: Hashable, text: str, number: int
    ) -> FastDelta | None:
        """Rewrite an event of a learned shape (``key``) carrying ``text`` and ``number``.

        ``payload`` is the learned event with holes (as for ``text_delta_events``): only its
        other values may be read. ``number`` is the event's sequence number (-1 without one).
        ``None``: not here, and nothing changed; the body layer parses the event and calls
        ``rewrite``.
        """
        return None

    def text_delta_events(self, payload: Payload, events: Hashable) -> list[Payload]:
        """The events that a ``FastDelta``'s key stands for, with holes for their values.

        ``payload`` is the learned event with ``TEXT_HOLE`` for its text and
        ``number_hole(0)`` for its number; the events returned hold ``TEXT_HOLE`` where the
        text goes and ``number_hole(k)`` where the k-th sequence number from the
        ``FastDelta``'s number goes (``wire/templates.py``).
        """
        raise NotImplementedError


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

    body_inspect: ClassVar[tuple[bytes, ...]] = (b"reasoning", b"thinking")
    """Bytes in a whole body that may name native reasoning, which ``rewrite_body`` reads.

    A body holding none of them nor a marker byte is not parsed when the output does not
    start in reasoning (``bodies.may_change_json_body``). The default covers the fields and
    types of every API here (``reasoning_content``, ``reasoning``, ``thinking`` blocks...).
    """

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

        The middleware calls it once the response starts as a stream, with what
        ``stream_request`` kept of the request rather than the request itself.
        """

    def stream_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """What of ``request`` ``new_stream`` may read, kept while the app runs.

        The whole request (a conversation) is released before the app runs, and a whole JSON
        response needs no stream rewriter, so one is made only when a stream starts. The
        default keeps the top-level numbers, booleans and nulls (``n``, ``stream``, ...),
        which is all this package's APIs read; an API whose stream needs more overrides it.
        """
        return {
            key: value
            for key, value in request.items()
            if value is None or isinstance(value, (bool, int, float))
        }

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
