"""The sans-I/O core: split a model's text, arriving in pieces, into reasoning and content.

``ReasoningSplitter.feed(text)`` returns ``(kind, text)`` segments as soon as they are
certain; ``finish()`` releases what was held back. No I/O, no event loop, no ASGI here.

Rules (DESIGN.md §4; the presets module says what each marker role means):

- The result does not depend on how the text was cut: markers may be split anywhere.
- Only a suffix that could still become a marker waits, so at most ``len(longest marker)
  - 1`` characters are held; a channel header (Harmony) waits until its end, up to its
  format's ``max_header_length``.
- Each reasoning block after the first starts with ``"\\n\\n"``, so joined reasoning reads as
  paragraphs.
- The whitespace right after an opener, a closer that ends reasoning, an answer start and a
  leading marker is dropped; nothing else.
- An opener met at the very start of a reasoning block (a model repeating the opener its
  template pre-filled) is dropped. Later in a block an opener is plain text, since the model
  may be writing about tags.
- In content an opener opens a block; a closer is dropped, alone, unless the format keeps
  stray closers.
- An implicit end (Qwen3's ``<tool_call>``) ends reasoning and stays in content. It starts a
  tool call, so after it no marker is recognised any more: tool arguments may contain marker
  look-alikes. A tool-call start (Mistral's ``[TOOL_CALLS]``) does the same in content only;
  inside reasoning it is text. A channel message with a recipient is a tool call too.

Every state is a set of markers, each with one action (``_Grammar`` compiles a
``TagFormat`` into that table); ``_split`` walks the text from marker to marker, so the
work is linear in the text whatever the markers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from .presets import resolve_tag_format

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .presets import ChannelFormat, TagFormat

Kind: TypeAlias = Literal["reasoning", "content"]
Segment: TypeAlias = "tuple[Kind, str]"

REASONING: Final = "reasoning"
CONTENT: Final = "content"
BLOCK_SEPARATOR: Final = "\n\n"
# What str.lstrip() would keep (re's \s is str.isspace for str patterns).
_NON_WHITESPACE: Final = re.compile(r"\S").search
# A channel name ends at whitespace or at the next control token.
_CHANNEL_NAME: Final = re.compile(r"[^\s<]*").match

# What a marker does. OPEN: into reasoning (the marker's block); CLOSE: into content; DROP:
# removed, state kept; TOOL: into content, kept, no markers after; HEADER: a channel header
# begins (the marker is its first text); ROUTE: the header ended, its channel decides;
# ABORT: not a header after all, released as it was.
_OPEN: Final = 0
_CLOSE: Final = 1
_DROP: Final = 2
_TOOL: Final = 3
_HEADER: Final = 4
_ROUTE: Final = 5
_ABORT: Final = 6
# (what, whether whitespace after it is dropped, the opener that starts a block)
_Action: TypeAlias = "tuple[int, bool, str | None]"
# The key of a reasoning block opened by a channel header rather than by an opener.
_CHANNEL_BLOCK: Final = ""


class _MarkerSet:
    """The markers looked for in one state, with what it takes to find them fast."""

    __slots__ = (
        "_by_first_char",
        "_prefixes",
        "_search",
        "first_chars",
        "markers",
        "max_hold",
        "pair",
        "prefixes",
        "single",
        "trigger",
        "trigger_is_unique",
    )

    def __init__(self, markers: Iterable[str]) -> None:
        ordered = sorted(set(markers))
        self.markers = tuple(ordered)
        by_first_char: dict[str, list[str]] = {}
        for marker in ordered:
            by_first_char.setdefault(marker[0], []).append(marker)
        self._by_first_char = tuple((c, tuple(ms)) for c, ms in by_first_char.items())
        self.single = ordered[0] if len(ordered) == 1 else None
        # Two markers ("<think>" and "</think>" in content): two `in` checks are the fastest
        # test that a token holds neither.
        self.pair = (ordered[0], ordered[1]) if len(ordered) == 2 else None
        self.first_chars = tuple(by_first_char)
        # Text without this character can hold no marker, nor the start of one. With
        # markers of several first characters there is no such shortcut: "" is in every str.
        # With no markers, a noncharacter stands in: finding it only costs the slow path.
        if len(self._by_first_char) == 1:
            self.trigger = self._by_first_char[0][0]
        else:
            self.trigger = "\uffff" if not self._by_first_char else ""
        # The per-token shortcut of ReasoningSplitter.feed: every marker holds the trigger
        # once, so only the text from the last trigger on may begin a marker.
        self.trigger_is_unique = len(self._by_first_char) == 1 and all(
            m.count(self.trigger) == 1 for m in ordered
        )
        self.prefixes = self._prefixes = frozenset(m[:i] for m in ordered for i in range(1, len(m)))
        self.max_hold = max(map(len, ordered), default=1) - 1
        # Several first characters: one regex scan finds the earliest marker, where a
        # str.find per character would rescan the text past the earliest one each time.
        self._search = (
            re.compile("|".join(map(re.escape, sorted(ordered, key=len, reverse=True)))).search
            if len(self._by_first_char) > 1
            else None
        )

    def find(self, text: str, start: int = 0) -> tuple[int, str]:
        """The first marker in ``text[start:]`` and its position, or ``(-1, "")``."""
        if self.single is not None:
            return text.find(self.single, start), self.single
        if self._search is not None:
            match = self._search(text, start)
            return (-1, "") if match is None else (match.start(), match.group())
        for first_char, markers in self._by_first_char:
            i = text.find(first_char, start)
            while i >= 0:
                # No marker is a prefix of another (presets check), so one matches at most.
                for marker in markers:
                    if text.startswith(marker, i):
                        return i, marker
                i = text.find(first_char, i + 1)
        return -1, ""

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

    def none_in(self, text: str) -> bool:
        """Whether ``text`` holds no whole marker."""
        for marker in self.markers:
            if marker in text:
                return False
        return True

    def match(self, text: str, start: int = 0) -> str | None:
        """The marker ``text[start:]`` begins with, if any."""
        for marker in self.markers:
            if text.startswith(marker, start):
                return marker
        return None

    def is_prefix(self, text: str, start: int = 0) -> bool:
        """Whether ``text[start:]`` is the beginning of a marker (and not a whole one)."""
        return len(text) - start <= self.max_hold and text[start:] in self._prefixes


class _State:
    """One state of the splitter: its markers and what each does."""

    __slots__ = ("actions", "markers")

    def __init__(self, actions: dict[str, _Action]) -> None:
        self.actions = actions
        self.markers = _MarkerSet(actions)


class _Grammar:
    """A ``TagFormat`` compiled into the states of the splitter."""

    __slots__ = (
        "at_output_start",
        "channels",
        "content",
        "header",
        "in_content",
        "max_header_length",
        "no_markers",
        "opener_list",
        "openers",
        "reasoning_after",
    )

    def __init__(self, fmt: TagFormat) -> None:
        openers = tuple(dict.fromkeys(start for start, _ in fmt.pairs))
        self.opener_list = openers
        self.openers = _MarkerSet(openers)
        closers_of: dict[str | None, dict[str, None]] = {
            None: dict.fromkeys(end for _, end in fmt.pairs)
        }
        for start, end in fmt.pairs:
            closers_of.setdefault(start, {})[end] = None
        tool_call_starts = (*fmt.implicit_ends, *fmt.tool_call_starts)

        content: dict[str, _Action] = {}
        if fmt.drops_stray_closers:
            content.update(dict.fromkeys(closers_of[None], (_DROP, False, None)))
        content.update(dict.fromkeys(fmt.answer_ends, (_DROP, False, None)))
        content.update(dict.fromkeys(fmt.answer_starts, (_DROP, True, None)))
        content.update(dict.fromkeys(tool_call_starts, (_TOOL, False, None)))
        content.update({o: (_OPEN, True, o) for o in openers if o not in fmt.leading_openers})

        # Markers that act only at the very start of the output, before anything was sent.
        leading: dict[str, _Action] = dict.fromkeys(fmt.leading_drops, (_DROP, True, None))
        leading.update({o: (_OPEN, True, o) for o in fmt.leading_openers})

        def reasoning(ends: Iterable[str], extra: dict[str, _Action]) -> _State:
            actions: dict[str, _Action] = dict.fromkeys(fmt.answer_starts, (_CLOSE, True, None))
            actions.update(dict.fromkeys(ends, (_CLOSE, True, None)))
            actions.update(dict.fromkeys(fmt.implicit_ends, (_TOOL, False, None)))
            actions.update(extra)
            return _State(actions)

        channel_ends: dict[str, _Action] = {}
        self.channels: ChannelFormat | None = fmt.channels
        self.max_header_length = 0
        header: dict[str, _Action] = {}
        if fmt.channels is not None:
            ch = fmt.channels
            self.max_header_length = ch.max_header_length
            content.update(dict.fromkeys(ch.message_ends, (_DROP, False, None)))
            content.update(dict.fromkeys(ch.header_starts, (_HEADER, False, None)))
            leading.update(dict.fromkeys(ch.leading_header_starts, (_HEADER, False, None)))
            channel_ends = dict.fromkeys(ch.reasoning_ends, (_CLOSE, True, None))
            header = dict.fromkeys(ch.message_ends, (_ABORT, False, None))
            header.update(
                {m: (_ABORT, False, None) for m in ch.header_starts if m != ch.channel_marker}
            )
            header[ch.header_end] = (_ROUTE, False, None)

        self.content = _State(content)
        self.at_output_start = _State({**content, **leading})
        # Only its first characters are read outside (the body layer's byte shortcut).
        self.in_content = self.at_output_start.markers
        self.no_markers = _State({})
        # Keyed by the opener that began the block; None: output began inside reasoning;
        # "": a channel header routed the message to reasoning.
        self.reasoning_after: dict[str | None, _State] = {
            opener: reasoning(ends, channel_ends if opener is None else {})
            for opener, ends in closers_of.items()
        }
        self.reasoning_after[_CHANNEL_BLOCK] = reasoning((), channel_ends)
        self.header = _State(header)


# How many formats and constructions are remembered; beyond it, nothing more is cached.
_CONSTRUCTED_MAX: Final = 256


@lru_cache(maxsize=64)
def _compile(fmt: TagFormat) -> _Grammar:
    return _Grammar(fmt)


# id(format) -> (format, grammar): a format object seen before is found without hashing its
# fields (a TagFormat's hash is recomputed on every call). The format is kept, so its id
# cannot be reused while the entry lives.
_BY_IDENTITY: Final[dict[int, tuple[TagFormat, _Grammar]]] = {}


def compile_grammar(fmt: TagFormat) -> _Grammar:
    """The compiled states of ``fmt``, built once per distinct format."""
    entry = _BY_IDENTITY.get(id(fmt))
    if entry is not None and entry[0] is fmt:
        return entry[1]
    grammar = _compile(fmt)
    if len(_BY_IDENTITY) < _CONSTRUCTED_MAX:
        _BY_IDENTITY[id(fmt)] = (fmt, grammar)
    return grammar


# (preset, tags) -> (grammar, the preset's start state): construction with explicit tags
# skips validation and compilation after the first time. Bounded: beyond it, no caching.
_CONSTRUCTED: Final[dict[tuple[object, object], tuple[_Grammar, bool]]] = {}


class ReasoningSplitter:
    """Split streamed model text into reasoning and content.

    ``preset`` names a model family (see ``PRESETS``; the engines' parser names work too);
    ``tags`` replaces its marker pairs; ``starts_in_reasoning`` says the output begins
    inside reasoning with no opener (the chat template pre-filled it). ``None`` takes the
    preset's default.

    >>> s = ReasoningSplitter()
    >>> s.feed("Hi <thi")
    [('content', 'Hi ')]
    >>> s.feed("nk>\\nhmm</think>\\n\\nYes")
    [('reasoning', 'hmm'), ('content', 'Yes')]
    >>> s.finish()
    []
    """

    __slots__ = (
        "_actions",
        "_at_block_start",
        "_at_output_start",
        "_block_is_new",
        "_grammar",
        "_has_reasoning",
        "_header",
        "_held",
        "_is_calm",
        "_kind",
        "_markers",
        "_skip_whitespace",
        "_trigger",
        "saw_marker",
    )

    _actions: dict[str, _Action]
    _at_block_start: bool
    _at_output_start: bool
    _block_is_new: bool
    _grammar: _Grammar
    _has_reasoning: bool
    _header: str | None
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
        # True, False or None, typed `object`: the compiled build checks an annotated type
        # before the check below can name the argument, with a message that does not.
        starts_in_reasoning: object = None,
    ) -> None:
        pairs = None if tags is None else tuple(tags)
        key: tuple[object, object] | None = (preset, pairs)
        try:
            compiled = _CONSTRUCTED.get(key)  # type: ignore[arg-type]
        except TypeError:  # a pair given as a list: unhashable, so never cached
            compiled = None
            key = None
        if compiled is None:
            fmt = resolve_tag_format(preset, None if pairs is None else list(pairs))
            compiled = (compile_grammar(fmt), fmt.starts_in_reasoning)
            if key is not None and len(_CONSTRUCTED) < _CONSTRUCTED_MAX:
                _CONSTRUCTED[key] = compiled
        if starts_in_reasoning is None:
            starts_in_reasoning = compiled[1]
        elif not isinstance(starts_in_reasoning, bool):
            raise TypeError(
                "starts_in_reasoning: expected True, False or None, "
                f"got {type(starts_in_reasoning).__name__}"
            )
        self._start(compiled[0], starts_in_reasoning)

    @classmethod
    def from_format(cls, fmt: TagFormat, *, starts_in_reasoning: bool) -> ReasoningSplitter:
        """A splitter for an already validated format (no checks: the middleware's path)."""
        # Not cls.__new__(cls): a class compiled with mypyc has none. The default build is cached.
        splitter = cls()
        splitter._start(compile_grammar(fmt), starts_in_reasoning)
        return splitter

    def _start(self, grammar: _Grammar, starts_in_reasoning: bool) -> None:
        self._grammar = grammar
        self._held = ""
        self._header = None
        self._has_reasoning = False
        self.saw_marker = False
        if starts_in_reasoning:
            self._at_output_start = False
            self._enter(REASONING, None)
        else:
            self._enter(CONTENT, None)
            self._at_output_start = True
            self._markers = grammar.at_output_start.markers
            self._actions = grammar.at_output_start.actions
            self._trigger = self._markers.trigger

    @property
    def in_reasoning(self) -> bool:
        return self._kind == REASONING

    @property
    def passes_text_through(self) -> bool:
        """In content, holding nothing, skipping nothing: text without markers passes as is."""
        return self._kind == CONTENT and self._is_calm and not self._held

    def passes_whole(self, text: str) -> bool:
        """Whether ``feed(text)`` would give ``text`` back whole, of the kind now open, and
        change nothing: the splitter is calm and ``text`` holds no character of a marker."""
        return self._is_calm and not self._held and bool(text) and self._trigger not in text

    @property
    def has_reasoning(self) -> bool:
        """Whether any reasoning text has been released."""
        return self._has_reasoning

    def feed(self, text: str) -> list[Segment]:
        """Take the next piece of text; return the segments that are now certain."""
        # The common cases skip the general loop, as no state can change in them: a token in
        # which no marker can begin (two checks), or, for markers that share a first
        # character held once by each ("</think>", "<tool_call>"), a token with no whole
        # marker, where only the last such character may begin one.
        if self._is_calm:
            held = self._held
            if held:
                text = held + text
            elif self._trigger not in text:
                return [(self._kind, text)] if text else []
            markers = self._markers
            if markers.trigger_is_unique:
                single = markers.single
                if single is not None:
                    if single not in text:
                        at = text.rfind(self._trigger)
                        if at < len(text) - markers.max_hold or not single.startswith(text[at:]):
                            self._held = ""
                            return [(self._kind, text)]
                        self._held = text[at:]
                        return [(self._kind, text[:at])] if at else []
                else:
                    pair = markers.pair
                    at = text.rfind(self._trigger)
                    if (
                        pair[0] not in text and pair[1] not in text
                        if pair is not None
                        # Markers begin at a trigger and hold it once: with one trigger in
                        # the token, one place may begin a marker.
                        else not text.startswith(markers.markers, at)
                        if text.find(self._trigger, 0, at) < 0
                        else markers.none_in(text)
                    ):
                        if at < len(text) - markers.max_hold or text[at:] not in markers.prefixes:
                            self._held = ""
                            return [(self._kind, text)]
                        self._held = text[at:]
                        return [(self._kind, text[:at])] if at else []
            self._held = ""
        segments = self._split(text)
        self._is_calm = not (
            self._skip_whitespace
            or self._at_block_start
            or self._block_is_new
            or self._at_output_start
            or self._header is not None
        )
        return segments

    def finish(self) -> list[Segment]:
        """Release everything held back: a partial marker, or an open header, is text."""
        segments: list[Segment] = []
        held, self._held = self._held, ""
        if self._header is not None:
            self._header += held
            self._release_header(segments)
        else:
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
            if self._header is not None:
                at = self._feed_header(segments, text, at)
                continue
            if self._skip_whitespace:
                visible = _NON_WHITESPACE(text, at)
                if visible is None:
                    break
                at = visible.start()
                self._skip_whitespace = False
            if self._at_output_start:
                # Leading markers act only here, at the first character of the output.
                start_markers, start_actions = self._markers, self._actions
                marker = start_markers.match(text, at)
                if marker is None and start_markers.is_prefix(text, at):
                    self._held = text[at:]
                    break
                self._at_output_start = False
                state = self._grammar.content
                self._markers, self._actions = state.markers, state.actions
                self._trigger = state.markers.trigger
                if marker is not None:
                    at = self._act(segments, marker, start_actions[marker], at)
                    continue
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
            at = self._act(segments, marker, self._actions[marker], found)
        return segments

    def _act(self, segments: list[Segment], marker: str, action: _Action, found: int) -> int:
        """Do what ``marker``, met at ``found``, does; return where to go on from."""
        what, skip_whitespace, opener = action
        after = found + len(marker)
        if what == _OPEN:
            self.saw_marker = True
            self._enter(REASONING, opener)
        elif what == _CLOSE:
            self.saw_marker = True
            self._enter(CONTENT, None)
            self._skip_whitespace = True
        elif what == _DROP:
            self.saw_marker = True
            self._skip_whitespace = skip_whitespace
        elif what == _TOOL:
            # A tool call began: it stays content, and what follows is its arguments,
            # where marker look-alikes are data (vLLM and SGLang split only once, too).
            self.saw_marker |= self._kind == REASONING
            self._enter(CONTENT, None, tool_call_began=True)
            self._release(segments, marker)
        elif what == _HEADER:
            self._enter_header(marker)
        elif what == _ROUTE:
            self._route_header(segments, marker)
        else:  # _ABORT: not a header; the marker is read again, in content.
            self._release_header(segments)
            return found
        return after

    def _feed_header(self, segments: list[Segment], text: str, at: int) -> int:
        """Read ``text[at:]`` into the open header; return where to go on from."""
        header = self._header or ""
        room = self._grammar.max_header_length - len(header)
        markers = self._markers
        # Only the header's room is searched: a header never grows past it, so a text cut
        # anywhere overflows at the same character, and no text is scanned twice.
        window = text[at : at + room + markers.max_hold + 1]
        found, marker = markers.find(window)
        if 0 <= found <= room:
            self._header = header + window[:found]
            return self._act(segments, marker, self._actions[marker], at + found)
        if len(text) - at <= room:
            held_from = markers.hold_from(text, at)
            self._header = header + text[at:held_from]
            self._held = text[held_from:]
            return len(text)
        self._header = header + text[at : at + room + 1]
        self._release_header(segments)
        return at + room + 1

    def _enter(self, kind: Kind, opener: str | None, *, tool_call_began: bool = False) -> None:
        """The one place the kind changes: into reasoning (after ``opener``) or content."""
        self._kind = kind
        grammar = self._grammar
        if kind == REASONING:
            state = grammar.reasoning_after[opener]
            self._at_block_start = self._block_is_new = self._skip_whitespace = True
        else:
            state = grammar.no_markers if tool_call_began else grammar.content
            self._at_block_start = self._block_is_new = self._skip_whitespace = False
        self._markers, self._actions = state.markers, state.actions
        self._trigger = state.markers.trigger
        self._is_calm = False

    def _enter_header(self, marker: str) -> None:
        self._header = marker
        state = self._grammar.header
        self._markers, self._actions = state.markers, state.actions
        self._trigger = state.markers.trigger
        self._is_calm = False

    def _route_header(self, segments: list[Segment], header_end: str) -> None:
        """A header ended: its recipient or its channel says where the message goes."""
        channels = self._grammar.channels
        header = self._header or ""
        assert channels is not None
        if channels.recipient_marker in header:
            # A tool call: the message goes on exactly as it was written.
            self._header = None
            self._enter(CONTENT, None, tool_call_began=True)
            self._release(segments, header + header_end)
            return
        self._header = None
        self.saw_marker = True
        at = header.find(channels.channel_marker)
        name = ""
        if at >= 0:
            found = _CHANNEL_NAME(header, at + len(channels.channel_marker))
            name = found.group() if found is not None else ""
        if name in channels.reasoning_channels:
            self._enter(REASONING, _CHANNEL_BLOCK)
        else:
            self._enter(CONTENT, None)

    def _release_header(self, segments: list[Segment]) -> None:
        """Not a header after all (broken, too long, or cut off): it is content, as it was."""
        header, self._header = self._header or "", None
        self._enter(CONTENT, None)
        self._release(segments, header)

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
