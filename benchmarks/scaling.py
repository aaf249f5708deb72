"""Time grows linearly with the input: body size from 10 kB to 10 MB, choices from 1 to 10,000.

Everything runs through the body layer (``SSEBodyRewriter`` driving the Chat Completions
rewriter), as the middleware runs it, without an event loop. Shapes that once grew faster
than the input (DESIGN.md §12, issue #10) are measured:

- ``one message``: the whole body of small events in one ``http.response.body`` message
  (LF framing; the parser once searched the rest of the body for a CR after every line);
- ``CR framing``: the same with bare-CR line ends;
- ``per event``: one event per body message, as vLLM sends them;
- ``choices``: a stream of ``n`` choices, each index in its own chunks (each event once cost
  time in every choice seen so far). Past ``MAX_CHOICES`` (1,000) indices a choice passes
  through without state, so the 10,000 row is the cheapest per choice.

The table shows, per row, the time per byte (or per choice) divided by that of the smallest
size: about 1 everywhere means linear; a quadratic cost would grow ten times per row.
Absolute times depend on the machine and are not the point.

    python -m benchmarks.scaling [--max-bytes 10000000] [--max-choices 10000]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from functools import partial
from typing import TYPE_CHECKING

from asgi_reasoning.apis.chat_completions import ChatCompletionsAPI
from asgi_reasoning.bodies import SSEBodyRewriter
from asgi_reasoning.policy import Policy
from asgi_reasoning.text.presets import resolve_tag_format

from ._common import markdown_table

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

CHAT = ChatCompletionsAPI()
POLICY = Policy(resolve_tag_format("think", None), False, "separate", ("reasoning_content",))
TOKENS = ("<think>", " let", " me", " think", "</think>", " The", " answer", " is", " 4.")


def event(text: str, index: int = 0, line_ending: str = "\n") -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": index, "delta": {"content": text}, "finish_reason": None}],
    }
    data = json.dumps(chunk, separators=(",", ":"), ensure_ascii=False)
    return f"data: {data}{line_ending}{line_ending}".encode()


def events_of_size(size: int, line_ending: str = "\n") -> list[bytes]:
    events: list[bytes] = []
    total = 0
    while total < size:
        for token in TOKENS:
            events.append(event(token, line_ending=line_ending))
            total += len(events[-1])
    return events


def rewrite(messages: Sequence[bytes]) -> int:
    """Bytes out for ``messages`` sent as body messages of one stream."""
    stream = SSEBodyRewriter(CHAT, POLICY, CHAT.new_stream(POLICY, {}))
    sent = sum(len(stream.feed(message)) for message in messages)
    return sent + len(stream.finish())


def seconds(function: Callable[[], object], rounds: int = 3) -> float:
    """The best of ``rounds`` runs: the least disturbed by the rest of the machine."""
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def sizes_up_to(largest: int, smallest: int = 10_000) -> list[int]:
    sizes = [smallest]
    while sizes[-1] * 10 <= largest:
        sizes.append(sizes[-1] * 10)
    return sizes


def size_rows(max_bytes: int) -> list[list[str]]:
    shapes: dict[str, Callable[[int], list[bytes]]] = {
        "one message": lambda size: [b"".join(events_of_size(size))],
        "CR framing": lambda size: [b"".join(events_of_size(size, "\r"))],
        "per event": events_of_size,
    }
    rows = []
    for name, build in shapes.items():
        base: float | None = None
        for size in sizes_up_to(max_bytes):
            messages = build(size)
            actual = sum(map(len, messages))
            per_byte = seconds(partial(rewrite, messages)) / actual
            base = base or per_byte
            rows.append(
                [name, f"{actual:,} B", f"{per_byte * 1e9:.1f} ns/B", f"{per_byte / base:.2f}"]
            )
    return rows


def choice_rows(max_choices: int) -> list[list[str]]:
    rows = []
    base: float | None = None
    count = 1
    while count <= max_choices:
        # Each choice thinks and answers; events of all choices interleave.
        messages = [
            event(token, index)
            for token in ("<think>", "hm", "</think>", "ok")
            for index in range(count)
        ]
        per_choice = seconds(partial(rewrite, messages)) / count
        base = base or per_choice
        rows.append(
            [
                "choices",
                f"{count:,}",
                f"{per_choice * 1e6:.1f} µs/choice",
                f"{per_choice / base:.2f}",
            ]
        )
        count *= 10
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--max-bytes", type=int, default=10_000_000)
    parser.add_argument("--max-choices", type=int, default=10_000)
    args = parser.parse_args(argv)
    rows = size_rows(args.max_bytes) + choice_rows(args.max_choices)
    header = ["shape", "input", "time per unit", "ratio to the smallest"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
