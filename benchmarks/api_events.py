"""Benchmark: the added cost per text-delta event of every wire API, against the server's own.

Run: ``python -m benchmarks.api_events``. For each API (Chat ``chat.completion.chunk``,
Responses ``response.output_text.delta``, Messages ``content_block_delta``) a stream prepared
in advance goes through an app bare and wrapped in ``ReasoningMiddleware``, in-process (a
hand-built scope, a collecting ``send``, no event loop), so the timing is the middleware's
send path alone. The added time per delta event is

    (wrapped(N deltas) - bare(N deltas) - (wrapped(prelude) - bare(prelude))) / N

where the prelude is the same stream without the measured deltas: the per-request work and
the stream's other events are taken off. Two references are timed in the same run:

- one ``orjson`` round trip (``loads`` then ``dumps``) of the same event's data;
- the server's own per-event work as vLLM does it: building a pydantic chunk model and
  ``model_dump_json(exclude_unset=True)`` (vLLM ``entrypoints/openai/serving_chat.py``).

Cases: ``rewritten`` (every delta inside ``<think>``: each becomes a reasoning event) and
``unchanged`` (a plain answer: each delta goes out as the app's bytes).
"""

from __future__ import annotations

import argparse
import functools
import gc
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pydantic

from asgi_reasoning import ReasoningMiddleware
from benchmarks import messages_events, responses_events
from benchmarks._asgi import (
    caller,
    orjson_round_trip,
    request_body,
    sse_events,
    streaming_app,
)
from benchmarks._common import (
    build_name,
    machine_lines,
    markdown_table,
    median,
    repeats_for,
    time_call,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from benchmarks._asgi import ASGIApp, Message


class _DeltaMessage(pydantic.BaseModel):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None


class _StreamChoice(pydantic.BaseModel):
    index: int
    delta: _DeltaMessage
    logprobs: None = None
    finish_reason: str | None = None


class _ChatChunk(pydantic.BaseModel):
    """The shape of vLLM's ``ChatCompletionStreamResponse``, reduced to what a chunk carries."""

    id: str
    object: str = "chat.completion.chunk"
    created: int
    model: str
    choices: list[_StreamChoice]


def pydantic_chunk(text: str) -> bytes:
    """One chunk as a Python server builds and serialises it per token."""
    chunk = _ChatChunk(
        id="chatcmpl-bench",
        created=1_700_000_000,
        model="Qwen/Qwen3-8B",
        choices=[_StreamChoice(index=0, delta=_DeltaMessage(content=text))],
    )
    return chunk.model_dump_json(exclude_unset=True).encode()


@dataclass(frozen=True)
class _API:
    name: str
    path: str
    request: bytes
    # The stream's events for these tokens, and the data of one of its delta events.
    events: Callable[[Sequence[str]], list[bytes]]


def _messages_events(tokens: Sequence[str]) -> list[bytes]:
    return messages_events.message_events(tokens)[0]


APIS = (
    _API("Chat", "/v1/chat/completions", request_body(stream=True), sse_events),
    _API(
        "Responses", "/v1/responses", request_body(stream=True), responses_events.responses_stream
    ),
    _API("Messages", "/v1/messages", messages_events.REQUEST, _messages_events),
)


def _caller(app: ASGIApp, api: _API) -> Callable[[], list[Message]]:
    return caller(app, api.path, api.request)


def _body(messages: Sequence[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


@dataclass(frozen=True)
class Result:
    api: str
    case: str
    events: int
    added_per_event: float
    round_trip: float
    pydantic_chunk: float
    # Rewritten: the reasoning reached the client in a reasoning field; unchanged: same bytes.
    output_ok: bool

    @property
    def vs_round_trip(self) -> float:
        return self.added_per_event / self.round_trip

    @property
    def vs_pydantic(self) -> float:
        return self.added_per_event / self.pydantic_chunk


def _tokens(count: int) -> list[str]:
    words = ("The", " proof", " goes", " by", " induction", " on", " n", ".")
    return [words[i % len(words)] for i in range(count)]


def _timed(function: Callable[[], object], rounds: int, budget_seconds: float) -> float:
    repeats = repeats_for(function, budget_seconds)
    times = []
    for _ in range(rounds):
        gc.collect()
        times.append(time_call(function, repeats))
    return median(times)


def run(tokens: int = 2000, rounds: int = 5, budget_seconds: float = 0.05) -> list[Result]:
    """Every API and case, each timed ``rounds`` times; medians."""
    words = _tokens(tokens)
    results = []
    for api in APIS:
        for case, deltas, prelude in (
            ("rewritten", ["<think>", *words], ["<think>"]),
            ("unchanged", words, []),
        ):
            full, short = api.events(deltas), api.events(prelude)
            added = []
            for events in (full, short):
                bare = streaming_app(events)
                wrapped = ReasoningMiddleware(bare)
                added.append(
                    _timed(_caller(wrapped, api), rounds, budget_seconds)
                    - _timed(_caller(bare, api), rounds, budget_seconds)
                )
            output = _body(_caller(ReasoningMiddleware(streaming_app(full)), api)())
            output_ok = (
                b"reasoning" in output or b"thinking" in output
                if case == "rewritten"
                else output == b"".join(full)
            )
            sample = next(e for e in full if words[1].encode() in e)
            data = sample.split(b"data: ", 1)[1].split(b"\n", 1)[0]
            results.append(
                Result(
                    api=api.name,
                    case=case,
                    events=len(words),
                    added_per_event=max(added[0] - added[1], 0.0) / len(words),
                    round_trip=_timed(functools.partial(orjson_round_trip, data), rounds, 0.01),
                    pydantic_chunk=_timed(lambda: pydantic_chunk(words[1]), rounds, 0.01),
                    output_ok=output_ok,
                )
            )
    return results


def render(results: Sequence[Result]) -> str:
    rows = [
        [
            r.api,
            r.case,
            f"{r.added_per_event * 1e6:.2f} µs",
            f"{r.round_trip * 1e6:.2f} µs",
            f"{r.vs_round_trip:.2f}x",
            f"{r.pydantic_chunk * 1e6:.2f} µs",
            f"{r.vs_pydantic:.0%}",
            "yes" if r.output_ok else "NO",
        ]
        for r in results
    ]
    build = build_name()
    header = [
        "API",
        "case",
        "added / event",
        "orjson round trip",
        "÷ round trip",
        "pydantic chunk",
        "÷ pydantic",
        "output right",
    ]
    return "\n".join([f"Build: {build}", "", *machine_lines(), "", markdown_table(header, rows)])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args(argv)
    print(render(run(tokens=arguments.tokens, rounds=arguments.rounds)))


if __name__ == "__main__":
    main()
