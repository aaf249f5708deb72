"""One adapter per splitter under test, so the harness drives them all the same way.

Each adapter has two entry points over the same chunks:

- ``run`` feeds every chunk through the splitter's fastest streaming call and throws the
  results away: the timed path, with no extra work on top of what the splitter itself does.
- ``trace`` records what each call released, as ``(reasoning, content)`` per chunk and one
  more pair for the end of the stream: used to check the split and measure holdback.

Peers are optional (see benchmarks/install.sh); ``available_splitters()`` lists those that
import. Facts about each peer, read from its source:

- ``thinkstrip``: one ``<think>`` pair, ``feed(token) -> visible text``; reasoning is kept only
  with ``capture=True`` (used here, so it does the same job) and read from ``think_content``.
  It has no way to start inside reasoning, so the adapter feeds it the pre-filled ``<think>``
  first, as a user of it would.
- ``think-scrubber``: drops reasoning (``<think>``, ``<thinking>``, ``<reasoning>``, ...,
  case-insensitive, only at a line start); only its content can be compared. Same pre-filled
  opener for streams that start inside reasoning.
- SGLang's reasoning parser, as vendored in ``llm-router-utils``: its generic
  ``BaseReasoningFormatDetector("<think>", "</think>")``, the least work of its detectors
  (Qwen3's adds a ``<tool_call>`` search), with ``force_reasoning`` for streams that start
  inside reasoning; ``parse_streaming_increment`` then ``finish``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.streams import CLOSER, OPENER

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Trace = list[tuple[str, str]]


@dataclass(frozen=True)
class Splitter:
    """A splitter under test, driven through its own API."""

    name: str
    version: str
    run: Callable[[Sequence[str], bool], None]
    trace: Callable[[Sequence[str], bool], Trace]
    # False for a splitter that drops reasoning instead of returning it.
    keeps_reasoning: bool = True
    # True for the ceiling: not a splitter anyone can use, the least work there is.
    is_ceiling: bool = False


def _package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "source"


def _ours() -> Splitter:
    from asgi_reasoning import ReasoningSplitter

    def run(chunks: Sequence[str], starts_in_reasoning: bool) -> None:
        splitter = ReasoningSplitter("think", starts_in_reasoning=starts_in_reasoning)
        feed = splitter.feed
        for chunk in chunks:
            feed(chunk)
        splitter.finish()

    def trace(chunks: Sequence[str], starts_in_reasoning: bool) -> Trace:
        splitter = ReasoningSplitter("think", starts_in_reasoning=starts_in_reasoning)
        steps = [splitter.feed(chunk) for chunk in chunks]
        steps.append(splitter.finish())
        return [
            (
                "".join(text for kind, text in segments if kind == "reasoning"),
                "".join(text for kind, text in segments if kind == "content"),
            )
            for segments in steps
        ]

    return Splitter("asgi-reasoning", _package_version("asgi-reasoning"), run, trace)


def split_with_find(chunks: Sequence[str], starts_in_reasoning: bool) -> list[tuple[str, str]]:
    """The ceiling: ``str.find`` for the one marker that matters now, nothing else.

    No holdback (a marker cut across chunks is missed), no whitespace rule, no state beyond
    the current kind: the least work any streaming splitter has to do per chunk.
    """
    pieces: list[tuple[str, str]] = []
    append = pieces.append
    kind, marker = ("reasoning", CLOSER) if starts_in_reasoning else ("content", OPENER)
    for chunk in chunks:
        found = chunk.find(marker)
        if found < 0:
            append((kind, chunk))
            continue
        position = 0
        while found >= 0:
            if found > position:
                append((kind, chunk[position:found]))
            position = found + len(marker)
            kind, marker = ("content", OPENER) if kind == "reasoning" else ("reasoning", CLOSER)
            found = chunk.find(marker, position)
        if position < len(chunk):
            append((kind, chunk[position:]))
    return pieces


def _ceiling() -> Splitter:
    def run(chunks: Sequence[str], starts_in_reasoning: bool) -> None:
        split_with_find(chunks, starts_in_reasoning)

    def trace(chunks: Sequence[str], starts_in_reasoning: bool) -> Trace:
        # The same loop one chunk at a time, carrying the kind across chunks.
        in_reasoning = starts_in_reasoning
        steps: Trace = []
        for chunk in chunks:
            pieces = split_with_find([chunk], in_reasoning)
            if chunk.count(OPENER) + chunk.count(CLOSER):
                in_reasoning = _kind_after(chunk, in_reasoning)
            steps.append(
                (
                    "".join(text for kind, text in pieces if kind == "reasoning"),
                    "".join(text for kind, text in pieces if kind == "content"),
                )
            )
        steps.append(("", ""))
        return steps

    return Splitter("str.find ceiling", "-", run, trace, is_ceiling=True)


def _kind_after(chunk: str, in_reasoning: bool) -> bool:
    position = 0
    while True:
        marker = CLOSER if in_reasoning else OPENER
        found = chunk.find(marker, position)
        if found < 0:
            return in_reasoning
        in_reasoning = not in_reasoning
        position = found + len(marker)


def _thinkstrip() -> Splitter:
    thinkstrip: Any = importlib.import_module("thinkstrip")

    def run(chunks: Sequence[str], starts_in_reasoning: bool) -> None:
        stripper = thinkstrip.ThinkStrip(capture=True)
        feed = stripper.feed
        if starts_in_reasoning:
            feed(OPENER)
        for chunk in chunks:
            feed(chunk)
        stripper.flush()

    def trace(chunks: Sequence[str], starts_in_reasoning: bool) -> Trace:
        stripper = thinkstrip.ThinkStrip(capture=True)
        if starts_in_reasoning:
            stripper.feed(OPENER)
        steps: Trace = []
        reasoning_so_far = 0
        for chunk in [*chunks, None]:
            content = stripper.flush() if chunk is None else stripper.feed(chunk)
            reasoning: str = stripper.think_content
            steps.append((reasoning[reasoning_so_far:], content))
            reasoning_so_far = len(reasoning)
        return steps

    return Splitter("thinkstrip", _package_version("thinkstrip"), run, trace)


def _think_scrubber() -> Splitter:
    think_scrubber: Any = importlib.import_module("think_scrubber")

    def run(chunks: Sequence[str], starts_in_reasoning: bool) -> None:
        scrubber = think_scrubber.StreamingThinkScrubber()
        feed = scrubber.feed
        if starts_in_reasoning:
            feed(OPENER)
        for chunk in chunks:
            feed(chunk)
        scrubber.flush()

    def trace(chunks: Sequence[str], starts_in_reasoning: bool) -> Trace:
        scrubber = think_scrubber.StreamingThinkScrubber()
        if starts_in_reasoning:
            scrubber.feed(OPENER)
        steps: Trace = [("", scrubber.feed(chunk)) for chunk in chunks]
        steps.append(("", scrubber.flush()))
        return steps

    return Splitter(
        "think-scrubber", _package_version("think-scrubber"), run, trace, keeps_reasoning=False
    )


def _import_sglang_reasoning_parser() -> Any:
    """Import the vendored SGLang module without the heavy packages it names but never runs.

    ``reasoning_parser`` imports ``transformers.PreTrainedTokenizerBase`` for a type hint only.
    When transformers is not installed, a placeholder module stands in for that one import and
    is removed again right after, so nothing else in the process sees it.
    """
    module_name = "llm_router_utils.sglang.srt.parser.reasoning_parser"
    try:
        importlib.import_module("transformers")
    except ImportError:
        placeholder = types.ModuleType("transformers")
        placeholder.PreTrainedTokenizerBase = object  # type: ignore[attr-defined]
        sys.modules["transformers"] = placeholder
        try:
            return importlib.import_module(module_name)
        finally:
            del sys.modules["transformers"]
    return importlib.import_module(module_name)


def _sglang() -> Splitter:
    parser_module = _import_sglang_reasoning_parser()
    detector_class = parser_module.BaseReasoningFormatDetector

    def run(chunks: Sequence[str], starts_in_reasoning: bool) -> None:
        detector = detector_class(OPENER, CLOSER, force_reasoning=starts_in_reasoning)
        parse = detector.parse_streaming_increment
        for chunk in chunks:
            parse(chunk)
        detector.finish()

    def trace(chunks: Sequence[str], starts_in_reasoning: bool) -> Trace:
        detector = detector_class(OPENER, CLOSER, force_reasoning=starts_in_reasoning)
        results = [detector.parse_streaming_increment(chunk) for chunk in chunks]
        results.append(detector.finish())
        return [(result.reasoning_text, result.normal_text) for result in results]

    return Splitter("sglang (llm-router-utils)", _package_version("llm-router-utils"), run, trace)


PEER_FACTORIES: dict[str, Callable[[], Splitter]] = {
    "thinkstrip": _thinkstrip,
    "think-scrubber": _think_scrubber,
    "sglang": _sglang,
}


def available_splitters() -> tuple[list[Splitter], list[str]]:
    """Our splitter, the ceiling, and every installed peer; plus the names of missing peers."""
    splitters = [_ours(), _ceiling()]
    missing: list[str] = []
    for name, factory in PEER_FACTORIES.items():
        peer = _load(factory)
        if peer is None:
            missing.append(name)
        else:
            splitters.append(peer)
    return splitters, missing


def _load(factory: Callable[[], Splitter]) -> Splitter | None:
    try:
        return factory()
    except ImportError:
        return None
