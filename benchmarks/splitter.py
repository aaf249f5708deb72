"""Benchmark 1: splitter throughput, correctness and holdback, against its peers.

Run: ``python -m benchmarks.splitter`` (``--help`` for sizes). Every splitter gets the same
chunks of every stream in benchmarks/streams.py; rounds interleave the splitters and the
median of the rounds is reported.
"""

from __future__ import annotations

import argparse
import gc
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks._common import (
    format_ratio,
    machine_lines,
    markdown_table,
    median,
    repeats_for,
    time_call,
)
from benchmarks.peers import Splitter, Trace, available_splitters
from benchmarks.streams import build_streams

if TYPE_CHECKING:
    from collections.abc import Sequence

    from benchmarks.streams import Stream

OURS = "asgi-reasoning"


@dataclass(frozen=True)
class Verdict:
    """How a splitter's output compares with the split a stream expects."""

    grade: str
    # The most output characters (whitespace aside) it had received but not yet released.
    held: int | None


@dataclass(frozen=True)
class SplitterResults:
    streams: list[Stream]
    splitters: list[Splitter]
    missing_peers: list[str]
    # (stream name, splitter name) -> seconds to split the whole stream, median of rounds.
    seconds: dict[tuple[str, str], float]
    verdicts: dict[tuple[str, str], Verdict]


def _without_whitespace(text: str) -> str:
    return "".join(text.split())


def judge(splitter: Splitter, stream: Stream, trace: Trace) -> Verdict:
    """Grade ``trace`` against the stream's expected split; measure what it held back.

    ``exact``: both texts equal. ``whitespace``: equal once whitespace is ignored (peers follow
    other whitespace conventions at markers). Otherwise which side is wrong.
    """
    reasoning = "".join(step[0] for step in trace)
    content = "".join(step[1] for step in trace)
    reasoning_ok = not splitter.keeps_reasoning or reasoning == stream.expected_reasoning
    content_ok = content == stream.expected_content
    if reasoning_ok and content_ok:
        return Verdict("exact", _held(splitter, stream, trace))
    loose_reasoning_ok = not splitter.keeps_reasoning or _without_whitespace(
        reasoning
    ) == _without_whitespace(stream.expected_reasoning)
    loose_content_ok = _without_whitespace(content) == _without_whitespace(stream.expected_content)
    if loose_reasoning_ok and loose_content_ok:
        return Verdict("whitespace", _held(splitter, stream, trace))
    wrong = [
        side
        for side, ok in (("reasoning", loose_reasoning_ok), ("content", loose_content_ok))
        if not ok
    ]
    return Verdict("wrong " + "+".join(wrong), None)


def _held(splitter: Splitter, stream: Stream, trace: Trace) -> int:
    """The largest count of non-space output characters received but not yet released.

    Whitespace is left out of both sides, so a peer's other whitespace convention does not
    count as holding back.
    """
    counted = {"reasoning", "content"} if splitter.keeps_reasoning else {"content"}
    text = stream.text
    released = 0
    position = 0
    receivable = 0
    most_held = 0
    for chunk, (reasoning, content) in zip(stream.chunks, trace, strict=False):
        for offset in range(position, position + len(chunk)):
            if stream.char_kinds[offset] in counted and not text[offset].isspace():
                receivable += 1
        position += len(chunk)
        released += len(_without_whitespace(content))
        if splitter.keeps_reasoning:
            released += len(_without_whitespace(reasoning))
        most_held = max(most_held, receivable - released)
    return most_held


def run(tokens: int = 2000, rounds: int = 5, budget_seconds: float = 0.02) -> SplitterResults:
    """Time and check every available splitter on every stream."""
    streams = build_streams(tokens)
    splitters, missing = available_splitters()
    verdicts = {
        (stream.name, splitter.name): judge(
            splitter, stream, splitter.trace(stream.chunks, stream.starts_in_reasoning)
        )
        for stream in streams
        for splitter in splitters
    }
    calls = {
        (stream.name, splitter.name): (
            lambda run=splitter.run, stream=stream: run(stream.chunks, stream.starts_in_reasoning)
        )
        for stream in streams
        for splitter in splitters
    }
    repeats = {key: repeats_for(call, budget_seconds) for key, call in calls.items()}
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in calls}
    for round_index in range(rounds):
        gc.collect()
        for stream in streams:
            # Rotate the order each round, so no splitter always runs first on a warm cache.
            shift = round_index % len(splitters)
            for splitter in splitters[shift:] + splitters[:shift]:
                key = (stream.name, splitter.name)
                samples[key].append(time_call(calls[key], repeats[key]))
    seconds = {key: median(values) for key, values in samples.items()}
    return SplitterResults(streams, splitters, missing, seconds, verdicts)


def _peers(results: SplitterResults) -> list[Splitter]:
    return [s for s in results.splitters if s.name != OURS and not s.is_ceiling]


def goals(results: SplitterResults) -> dict[str, tuple[float | None, float]]:
    """Per stream: our speed over the fastest peer's (goal ≥ 2) and over the ceiling's (≥ 0.5)."""
    ceiling = next(s for s in results.splitters if s.is_ceiling)
    out: dict[str, tuple[float | None, float]] = {}
    for stream in results.streams:
        ours = results.seconds[(stream.name, OURS)]
        peer_times = [results.seconds[(stream.name, peer.name)] for peer in _peers(results)]
        over_peer = min(peer_times) / ours if peer_times else None
        out[stream.name] = (over_peer, results.seconds[(stream.name, ceiling.name)] / ours)
    return out


def render(results: SplitterResults) -> str:
    names = [splitter.name for splitter in results.splitters]
    lines = ["## Splitter throughput", "", *machine_lines(), ""]
    if results.missing_peers:
        lines += [f"Peers not installed (skipped): {', '.join(results.missing_peers)}.", ""]
    lines += ["Streams:", ""]
    lines += [
        f"- `{stream.name}`: {stream.description} ({_count(len(stream.chunks), 'chunk')}, "
        f"{len(stream.text.encode())} bytes)"
        for stream in results.streams
    ]
    lines += ["", "µs per chunk (lower is better):", ""]
    lines.append(
        markdown_table(
            ["stream", *names],
            (
                [
                    stream.name,
                    *(
                        f"{results.seconds[(stream.name, name)] / len(stream.chunks) * 1e6:.3g}"
                        for name in names
                    ),
                ]
                for stream in results.streams
            ),
        )
    )
    lines += ["", "MB/s (higher is better):", ""]
    lines.append(
        markdown_table(
            ["stream", *names],
            (
                [
                    stream.name,
                    *(
                        f"{_megabytes(stream) / results.seconds[(stream.name, name)]:.1f}"
                        for name in names
                    ),
                ]
                for stream in results.streams
            ),
        )
    )
    lines += [
        "",
        "Goals: ours ≥ 2x the fastest peer, ≥ 0.5x the `str.find` ceiling (speed ratios):",
        "",
    ]
    lines.append(
        markdown_table(
            ["stream", "ours vs fastest peer", "ours vs ceiling", "met"],
            (
                [
                    name,
                    "-" if over_peer is None else format_ratio(over_peer),
                    format_ratio(over_ceiling),
                    "yes"
                    if (over_peer is None or over_peer >= 2) and over_ceiling >= 0.5
                    else "**no**",
                ]
                for name, (over_peer, over_ceiling) in goals(results).items()
            ),
        )
    )
    lines += [
        "",
        "Correctness against DESIGN.md §4 (`exact`; `whitespace`: right text, other whitespace"
        " at markers; `wrong …`: text on the wrong side or lost) and the most non-space"
        " characters held back at once (in brackets; `-` where the split is wrong):",
        "",
    ]
    lines.append(
        markdown_table(
            ["stream", *names],
            (
                [
                    stream.name,
                    *(
                        _verdict_cell(results.verdicts[(stream.name, splitter.name)])
                        for splitter in results.splitters
                    ),
                ]
                for stream in results.streams
            ),
        )
    )
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _megabytes(stream: Stream) -> float:
    return len(stream.text.encode()) / 1e6


def _verdict_cell(verdict: Verdict) -> str:
    held = "-" if verdict.held is None else str(verdict.held)
    return f"{verdict.grade} [{held}]"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens per stream")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--budget", type=float, default=0.02, help="seconds per measurement")
    args = parser.parse_args(argv)
    print(render(run(args.tokens, args.rounds, args.budget)))


if __name__ == "__main__":
    main()
