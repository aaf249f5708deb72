"""The text streams the splitter benchmark feeds, each with its expected split.

Every stream is built from labelled pieces (reasoning text, content text, a marker, the
whitespace the rules drop), so the expected reasoning and content come from how the text was
made, not from any splitter. The rules are those of DESIGN.md §4 for the ``<think>`` /
``</think>`` pair: the whitespace run right after a marker is dropped, later reasoning blocks
start with ``"\\n\\n"``, a truncated block and a partial marker at the very end stay in the kind
they were in, and text that only looks like a marker stays where it was.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

OPENER: Final = "<think>"
CLOSER: Final = "</think>"
BLOCK_SEPARATOR: Final = "\n\n"

Label = Literal["reasoning", "content", "marker", "dropped"]

REASONING_WORDS: Final = tuple(
    " " + word
    for word in (
        "the user wants to know whether a list is sorted Let me check each pair of elements first"
        " then count Hmm wait that does not look right so maybe I should consider edge cases"
        " empty input and one item Actually it works because every step keeps order value —"
        " x y compare i j index loop return True False"
    ).split()
)
CONTENT_WORDS: Final = (
    *(
        " " + word
        for word in (
            "The list is sorted when each element is at most the next one Here is a short"
            " function that checks it in linear time and returns early on the first pair out of"
            " order empty lists count as sorted too — done"
        ).split()
    ),
    *(" `", "all", "(", "a", " <=", " b", ")", "`", " **", "Note", "**"),
)
PUNCTUATION: Final = (",", ".", ":", "?", "\n\n", "\n")
# Text that looks like the start of a marker and is not one (DESIGN.md §4.6).
LOOKALIKES: Final = (
    " a < b",
    " <th>Name</th>",
    " </thin",
    " <thinking>",
    " </thinking>",
    " <t",
    " <think about it>",
    " x<y",
    " <<",
    " </",
    " <th",
)


@dataclass
class _Builder:
    """Collects a stream as tokens, each labelled with what the splitter should do with it."""

    tokens: list[str] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    reasoning_blocks: list[str] = field(default_factory=list)
    content_parts: list[str] = field(default_factory=list)
    marker_tokens: set[int] = field(default_factory=set)

    def add(self, token: str, label: Label) -> None:
        if label == "marker":
            self.marker_tokens.add(len(self.tokens))
        self.tokens.append(token)
        self.labels.append(label)

    def open_block(self, dropped_whitespace: str = "\n") -> None:
        self.add(OPENER, "marker")
        if dropped_whitespace:
            self.add(dropped_whitespace, "dropped")
        self.reasoning_blocks.append("")

    def start_inside(self) -> None:
        self.reasoning_blocks.append("")

    def close_block(self, dropped_whitespace: str = "\n\n") -> None:
        self.add(CLOSER, "marker")
        if dropped_whitespace:
            self.add(dropped_whitespace, "dropped")

    def reasoning(self, tokens: Sequence[str]) -> None:
        for token in tokens:
            self.add(token, "reasoning")
        self.reasoning_blocks[-1] += "".join(tokens)

    def content(self, tokens: Sequence[str]) -> None:
        for token in tokens:
            self.add(token, "content")
        self.content_parts.append("".join(tokens))


@dataclass(frozen=True)
class Stream:
    """One stream: its chunks, how it starts, and the split DESIGN.md §4 expects."""

    name: str
    description: str
    chunks: tuple[str, ...]
    starts_in_reasoning: bool
    expected_reasoning: str
    expected_content: str
    # For each character of the joined text: the kind it ends up in, or None for a marker
    # or dropped whitespace. Used to tell how much a splitter holds back.
    char_kinds: tuple[Literal["reasoning", "content"] | None, ...]

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def _words(rng: random.Random, vocabulary: Sequence[str], count: int) -> list[str]:
    """About ``count`` tokens of prose: words with punctuation and paragraph breaks."""
    tokens: list[str] = []
    while len(tokens) < count:
        tokens.append(rng.choice(vocabulary))
        if rng.random() < 0.12:
            tokens.append(rng.choice(PUNCTUATION))
    # End on a word, so the whitespace before a closer is a single known "\n"; start on one
    # without a leading space, since whitespace right after a marker is dropped.
    while tokens and tokens[-1].isspace():
        tokens.pop()
    tokens[0] = tokens[0].lstrip()
    return tokens


def _with_lookalikes(rng: random.Random, tokens: list[str], every: int) -> list[str]:
    out: list[str] = []
    for index, token in enumerate(tokens):
        out.append(token)
        if index % every == every - 1:
            out.append(rng.choice(LOOKALIKES))
    return out


def _finish(
    name: str,
    description: str,
    builder: _Builder,
    chunking: Literal["atomic", "split-markers", "glued", "whole"],
    rng: random.Random,
    starts_in_reasoning: bool = False,
    trailing_reasoning: str = "",
) -> Stream:
    chunks: list[str]
    if chunking == "atomic":
        chunks = list(builder.tokens)
    elif chunking == "split-markers":
        chunks = []
        for index, token in enumerate(builder.tokens):
            if index in builder.marker_tokens:
                chunks.extend(token)
            else:
                chunks.append(token)
    elif chunking == "glued":
        text = "".join(builder.tokens)
        chunks = []
        position = 0
        while position < len(text):
            size = rng.randint(1, 8)
            chunks.append(text[position : position + size])
            position += size
    else:
        chunks = ["".join(builder.tokens)]
    char_kinds: list[Literal["reasoning", "content"] | None] = []
    for token, label in zip(builder.tokens, builder.labels, strict=True):
        kind: Literal["reasoning", "content"] | None
        kind = label if label in ("reasoning", "content") else None
        char_kinds.extend([kind] * len(token))
    reasoning = BLOCK_SEPARATOR.join(builder.reasoning_blocks) + trailing_reasoning
    return Stream(
        name=name,
        description=description,
        chunks=tuple(chunks),
        starts_in_reasoning=starts_in_reasoning,
        expected_reasoning=reasoning,
        expected_content="".join(builder.content_parts),
        char_kinds=tuple(char_kinds),
    )


def _one_block(rng: random.Random, tokens: int) -> _Builder:
    """``<think>\\n`` reasoning ``\\n</think>\\n\\n`` answer: how Qwen3 and DeepSeek-R1 write."""
    builder = _Builder()
    builder.open_block("\n")
    builder.reasoning([*_words(rng, REASONING_WORDS, tokens * 3 // 4), "\n"])
    builder.close_block("\n\n")
    builder.content(_words(rng, CONTENT_WORDS, tokens // 4))
    return builder


def build_streams(tokens: int = 2000, seed: int = 6) -> list[Stream]:
    """Every benchmark stream, each about ``tokens`` tokens long."""
    streams: list[Stream] = []

    rng = random.Random(seed)
    streams.append(
        _finish(
            "atomic",
            "one block; each marker arrives as its own chunk (a special token)",
            _one_block(random.Random(seed), tokens),
            "atomic",
            rng,
        )
    )
    streams.append(
        _finish(
            "split-markers",
            "the same text; each marker arrives one character per chunk",
            _one_block(random.Random(seed), tokens),
            "split-markers",
            rng,
        )
    )
    streams.append(
        _finish(
            "glued",
            "the same text cut every 1-8 characters: markers glued to text at random offsets",
            _one_block(random.Random(seed), tokens),
            "glued",
            rng,
        )
    )

    builder = _Builder()
    builder.content(_with_lookalikes(rng, _words(rng, CONTENT_WORDS, tokens * 4 // 5), 4))
    builder.content([" </thin"])
    streams.append(
        _finish(
            "no-reasoning",
            "no marker at all; text full of `<`, `<th>`, `<thinking>`, ending in `</thin`",
            builder,
            "atomic",
            rng,
        )
    )

    builder = _Builder()
    builder.start_inside()
    builder.reasoning([*_words(rng, REASONING_WORDS, tokens * 3 // 4), "\n"])
    builder.close_block("\n\n")
    builder.content(_words(rng, CONTENT_WORDS, tokens // 4))
    streams.append(
        _finish(
            "starts-inside",
            "no opener: the template pre-filled `<think>` (DeepSeek-R1, QwQ)",
            builder,
            "atomic",
            rng,
            starts_in_reasoning=True,
        )
    )

    builder = _Builder()
    block_count = 4
    for block in range(block_count):
        builder.open_block("\n")
        builder.reasoning([*_words(rng, REASONING_WORDS, tokens // (2 * block_count)), "\n"])
        builder.close_block("\n\n")
        answer = _words(rng, CONTENT_WORDS, tokens // (2 * block_count))
        builder.content([*answer, "\n\n"] if block < block_count - 1 else answer)
    streams.append(
        _finish(
            "multi-block",
            "four reasoning blocks, each followed by an answer part",
            builder,
            "atomic",
            rng,
        )
    )

    builder = _Builder()
    builder.open_block("\n")
    builder.reasoning(_words(rng, REASONING_WORDS, tokens))
    truncated_marker = CLOSER[:5]
    builder.add(truncated_marker, "reasoning")
    streams.append(
        _finish(
            "truncated",
            "the stream ends inside reasoning, in the middle of `</think>`",
            builder,
            "atomic",
            rng,
            trailing_reasoning=truncated_marker,
        )
    )

    streams.append(
        _finish(
            "whole-body",
            "the text of `atomic` as one chunk (a non-streaming response)",
            _one_block(random.Random(seed), tokens),
            "whole",
            rng,
        )
    )

    for stream in streams:
        _check(stream)
    return streams


def _check(stream: Stream) -> None:
    """Guard the corpus itself: lookalikes must never form a real marker by accident."""
    text = stream.text
    if stream.name == "no-reasoning":
        assert OPENER not in text and CLOSER not in text, stream.name
    expected_length = len(stream.expected_reasoning) + len(stream.expected_content)
    separators = len(BLOCK_SEPARATOR) * (text.count(OPENER) - 1 if text.count(OPENER) else 0)
    assert sum(kind is not None for kind in stream.char_kinds) + separators == expected_length
