"""The sans-I/O core: split a model's text, arriving in pieces, into reasoning and content.

``ReasoningSplitter.feed(text)`` returns ``(kind, text)`` segments as soon as they are
certain; ``finish()`` releases what was held back. No I/O, no event loop, no ASGI here.

Rules (DESIGN.md §4):

- The result does not depend on how the text was cut: markers may be split anywhere.
- Only a suffix that could still become a marker waits, so at most ``len(longest marker)
  - 1`` characters are held.
- Each reasoning block after the first starts with ``"\\n\\n"``, so joined reasoning reads as
  paragraphs.
- The whitespace right after an opener and right after a closer is dropped; nothing else.
- An opener met at the very start of a reasoning block (a model repeating the opener its
  template pre-filled) is dropped. Later in a block an opener is plain text, since the model
  may be writing about tags.
- In content, only openers are markers: a closer there is text (content already released
  cannot be taken back).
- An implicit end (Qwen3's ``<tool_call>``) ends reasoning and stays in content. It starts a
  tool call, so after it no marker is recognised any more: tool arguments may contain marker
  look-alikes. A tool-call start (Mistral's ``[TOOL_CALLS]``) does the same in content only;
  inside reasoning it is text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from .presets import resolve_tag_format

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .presets import TagFormat

Kind: TypeAlias = Literal["reasoning", "content"]
Segment: TypeAlias = "tuple[Kind, str]"

REASONING: Final = "reasoning"
CONTENT: Final = "content"
BLOCK_SEPARATOR: Final = "\n\n"
# What str.lstrip() would keep (re's \s is str.isspace for str patterns).
_NON_WHITESPACE: Final = re.compile(r"\S").search


class _MarkerSet:
    """The markers looked for in one state, with what it takes to find them fast."""

    __slots__ = (
        "_by_first_char",
        "_prefixes",
        "first_chars",
        "max_hold",
        "single",
        "trigger",
        "trigger_is_unique",
    )

    def __init__(self, markers: Iterable[str]) -> None:
        ordered = sorted(set(markers))
        by_first_char: dict[str, list[str]] = {}
        for marker in ordered:
            by_first_char.setdefault(marker[0], []).append(marker)
        self._by_first_char = tuple((c, tuple(ms)) for c, ms in by_first_char.items())
        self.single = ordered[0] if len(ordered) == 1 else None
        self.trigger_is_unique = self.single is not None and self.single.count(self.single[0]) == 1
        self.first_chars = tuple(by_first_char)
        # Text without this character can hold no marker, nor the start of one. With
        # markers of several first characters there is no such shortcut: "" is in every str.
        # With no markers, a noncharacter stands in: finding it only costs the slow path.
        if len(self._by_first_char) == 1:
            self.trigger = self._by_first_char[0][0]
        else:
            self.trigger = "\uffff" if not self._by_first_char else ""
        self._prefixes = frozenset(m[:i] for m in ordered for i in range(1, len(m)))
        self.max_hold = max(map(len, ordered), default=1) - 1

    def find(self, text: str, start: int = 0) -> tuple[int, str]:
        """The first marker in ``text[start:]`` and its position, or ``(-1, "")``."""
        if self.single is not None:
            return text.find(self.single, start), self.single
        best, found = -1, ""
        for first_char, markers in self._by_first_char:
            i = text.find(first_char, start)
            while i >= 0 and (best < 0 or i < best):
                # No marker is a prefix of another (_config checks), so one matches at most.
                match = next((m for m in markers if text.startswith(m, i)), None)
                if match is not None:
                    best, found = i, match
                    break
                i = text.find(first_char, i + 1)
        return best, found

    def hold_from(self, text: str, start: int = 0) -> int:
        """Where the suffix of ``text[start:]`` that may still become a marker begins."""
        end = len(text)
        window = max(start, end - self.max_hold)
        held = end
        for first_char, _ in self._by_first_char:
            i = text.find(first_char, window)
            while 0 <= i < held:
                if text[i:] in self._prefixes:
                    held = i
                    break
                i = text.find(first_char, i + 1)
        return held

    def is_prefix(self, text: str, start: int = 0) -> bool:
        """Whether ``text[start:]`` is the beginning of a marker (and not a whole one)."""
        return len(text) - start <= self.max_hold and text[start:] in self._prefixes


class _Grammar:
    """A ``TagFormat`` compiled into the marker sets of each state."""

    __slots__ = (
        "closers_after",
        "in_content",
        "no_markers",
        "opener_list",
        "openers",
        "tool_call_starts",
    )

    def __init__(self, fmt: TagFormat) -> None:
        self.opener_list = tuple(dict.fromkeys(start for start, _ in fmt.pairs))
        self.openers = _MarkerSet(self.opener_list)
        # An implicit end begins a tool call too, wherever it is met.
        self.tool_call_starts = frozenset((*fmt.implicit_ends, *fmt.tool_call_starts))
        self.in_content = _MarkerSet((*self.opener_list, *self.tool_call_starts))
        self.no_markers = _MarkerSet(())
        closers: dict[str | None, set[str]] = {None: {end for _, end in fmt.pairs}}
        for start, end in fmt.pairs:
            closers.setdefault(start, set()).add(end)
        # Keyed by the opener that began the block; None: output began inside reasoning.
        self.closers_after = {
            opener: _MarkerSet(ends | set(fmt.implicit_ends)) for opener, ends in closers.items()
        }


@lru_cache(maxsize=64)
def compile_grammar(fmt: TagFormat) -> _Grammar:
    return _Grammar(fmt)


class ReasoningSplitter:
    """Split streamed model text into reasoning and content.

    ``preset`` names a model family (see ``PRESETS``); ``tags`` replaces its marker pairs;
    ``starts_in_reasoning`` says the output begins inside reasoning with no opener (the chat
    template pre-filled it). ``None`` takes the preset's default.

    >>> s = ReasoningSplitter()
    >>> s.feed("Hi <thi")
    [('content', 'Hi ')]
    >>> s.feed("nk>\\nhmm</think>\\n\\nYes")
    [('reasoning', 'hmm'), ('content', 'Yes')]
    >>> s.finish()
    []
    """

    __slots__ = (
        "_at_block_start",
        "_block_is_new",
        "_grammar",
        "_has_reasoning",
        "_held",
        "_is_calm",
        "_kind",
        "_markers",
        "_skip_whitespace",
        "_trigger",
        "saw_marker",
    )

    _at_block_start: bool
    _block_is_new: bool
    _grammar: _Grammar
    _has_reasoning: bool
    _held: str
    _is_calm: bool
    _kind: Kind
    _markers: _MarkerSet
    _skip_whitespace: bool
    _trigger: str
    saw_marker: bool
    """Whether any marker was met: without one, the text was left exactly as it came."""

    def __init__(
        self,
        preset: str = "think",
        *,
        tags: Iterable[tuple[str, str]] | None = None,
        starts_in_reasoning: bool | None = None,
    ) -> None:
        if starts_in_reasoning is not None and not isinstance(starts_in_reasoning, bool):
            raise TypeError("starts_in_reasoning: expected True, False or None")
        fmt = resolve_tag_format(preset, None if tags is None else list(tags))
        if starts_in_reasoning is None:
            starts_in_reasoning = fmt.starts_in_reasoning
        self._start(compile_grammar(fmt), starts_in_reasoning)

    @classmethod
    def from_format(cls, fmt: TagFormat, *, starts_in_reasoning: bool) -> ReasoningSplitter:
        """A splitter for an already validated format (no checks: the middleware's path)."""
        splitter = cls.__new__(cls)
        splitter._start(compile_grammar(fmt), starts_in_reasoning)
        return splitter

    def _start(self, grammar: _Grammar, starts_in_reasoning: bool) -> None:
        self._grammar = grammar
        self._held = ""
        self._has_reasoning = False
        self.saw_marker = False
        if starts_in_reasoning:
            self._enter(REASONING, None)
        else:
            self._enter(CONTENT, None)

    @property
    def in_reasoning(self) -> bool:
        return self._kind == REASONING

    @property
    def passes_text_through(self) -> bool:
        """In content, holding nothing, skipping nothing: text without markers passes as is."""
        return self._kind == CONTENT and self._is_calm and not self._held

    @property
    def has_reasoning(self) -> bool:
        """Whether any reasoning text has been released."""
        return self._has_reasoning

    def feed(self, text: str) -> list[Segment]:
        """Take the next piece of text; return the segments that are now certain."""
        # The common cases skip the general loop, as no state can change in them: a token in
        # which no marker can begin (two checks), or, for one marker whose first character
        # it holds once ("</think>"), a token with no whole marker, where only the last such
        # character may begin one.
        if self._is_calm:
            held = self._held
            if held:
                text = held + text
            elif self._trigger not in text:
                return [(self._kind, text)] if text else []
            single = self._markers.single
            if single is not None and self._markers.trigger_is_unique and single not in text:
                at = text.rfind(self._trigger)
                if at < len(text) - self._markers.max_hold or not single.startswith(text[at:]):
                    self._held = ""
                    return [(self._kind, text)]
                self._held = text[at:]
                return [(self._kind, text[:at])] if at else []
            self._held = ""
        segments = self._split(text)
        self._is_calm = not (self._skip_whitespace or self._at_block_start or self._block_is_new)
        return segments

    def finish(self) -> list[Segment]:
        """Release everything held back: a partial marker at the end is text."""
        segments: list[Segment] = []
        held, self._held = self._held, ""
        self._release(segments, held)
        return segments

    def _split(self, text: str) -> list[Segment]:
        segments: list[Segment] = []
        if self._held:
            text = self._held + text
            self._held = ""
        # Walk with a position rather than slicing the rest after each marker: a whole
        # response body is then copied once, into the segments, whatever its markers.
        at, end = 0, len(text)
        while at < end:
            if self._skip_whitespace:
                visible = _NON_WHITESPACE(text, at)
                if visible is None:
                    break
                at = visible.start()
                self._skip_whitespace = False
            if self._at_block_start:
                openers = self._grammar.opener_list
                if text.startswith(openers, at):
                    # The model repeated the opener its chat template already wrote.
                    opener = next(m for m in openers if text.startswith(m, at))
                    self.saw_marker = True
                    self._skip_whitespace = True
                    at += len(opener)
                    continue
                if self._grammar.openers.is_prefix(text, at):
                    self._held = text[at:]
                    break
                self._at_block_start = False
            found, marker = self._markers.find(text, at)
            if found < 0:
                held_from = self._markers.hold_from(text, at)
                self._held = text[held_from:]
                self._release(segments, text[at:held_from])
                break
            self._release(segments, text[at:found])
            at = found + len(marker)
            if marker in self._grammar.tool_call_starts:
                # A tool call began: it stays content, and what follows is its arguments,
                # where marker look-alikes are data (vLLM and SGLang split only once, too).
                self.saw_marker |= self._kind == REASONING
                self._enter(CONTENT, None, tool_call_began=True)
                self._release(segments, marker)
                continue
            self.saw_marker = True
            if self._kind == CONTENT:
                self._enter(REASONING, marker)
            else:
                self._enter(CONTENT, None)
                self._skip_whitespace = True
        return segments

    def _enter(self, kind: Kind, opener: str | None, *, tool_call_began: bool = False) -> None:
        """The one place the state changes: into reasoning (after ``opener``) or content."""
        self._kind = kind
        if kind == REASONING:
            self._markers = self._grammar.closers_after[opener]
            self._at_block_start = self._block_is_new = self._skip_whitespace = True
        else:
            grammar = self._grammar
            self._markers = grammar.no_markers if tool_call_began else grammar.in_content
            self._at_block_start = self._block_is_new = self._skip_whitespace = False
        self._trigger = self._markers.trigger
        self._is_calm = False

    def _release(self, segments: list[Segment], text: str) -> None:
        if not text:
            return
        if self._block_is_new and self._kind == REASONING:
            self._block_is_new = False
            if self._has_reasoning:
                text = BLOCK_SEPARATOR + text
            self._has_reasoning = True
        if segments and segments[-1][0] == self._kind:
            segments[-1] = (self._kind, segments[-1][1] + text)
        else:
            segments.append((self._kind, text))


def merge_segments(segments: Iterable[Segment]) -> list[Segment]:
    """Consecutive segments of one kind joined, empty ones dropped."""
    merged: list[Segment] = []
    for kind, text in segments:
        if not text:
            continue
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged
