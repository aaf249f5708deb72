"""Benchmark: what the middleware adds per Anthropic Messages ``content_block_delta`` event.

Run: ``python -m benchmarks.messages_events``. A ``/v1/messages`` stream prepared in advance
(``event:`` and ``data:`` lines, one event per body message, as llama.cpp and vLLM send it)
goes through the app bare and wrapped in ``ReasoningMiddleware``, in-process as in
``benchmarks/middleware.py``. The added time per event is compared with one ``orjson``
round trip (``loads`` then ``dumps``) of the same event's data.

- ``Messages, reasoning``: every delta is inside ``<think>``: each becomes a ``thinking_delta``.
- ``Messages, answer after thinking``: the answer's deltas once a thinking block was inserted:
  each is unchanged but for its ``index``, so each is parsed and re-serialised.
- ``Messages, no reasoning``: a plain answer: each delta goes out as the app's bytes, unparsed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from asgi_reasoning import ReasoningMiddleware
from benchmarks._asgi import (
    ASGIApp,
    Message,
    caller,
    orjson_round_trips,
    streaming_app,
)
from benchmarks._common import (
    format_ratio,
    interleaved_medians,
    machine_lines,
    markdown_table,
)
from benchmarks.streams import build_streams

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

MESSAGES_PATH: Final = "/v1/messages"
REQUEST: Final = orjson.dumps(
    {
        "model": "Qwen/Qwen3-8B",
        "max_tokens": 4096,
        "stream": True,
        "messages": [{"role": "user", "content": "Explain the proof step by step."}],
    }
)


def _event(payload: dict[str, Any]) -> bytes:
    name = str(payload["type"]).encode()
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _delta(text: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }


def message_events(tokens: Sequence[str]) -> tuple[list[bytes], list[bytes]]:
    """The SSE events of a one-text-block message of ``tokens``; the deltas' data alone."""
    message: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "Qwen/Qwen3-8B",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 40, "output_tokens": 0},
    }
    deltas = [_delta(token) for token in tokens]
    events = [
        _event({"type": "message_start", "message": message}),
        _event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        ),
        *map(_event, deltas),
        _event({"type": "content_block_stop", "index": 0}),
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(tokens)},
            }
        ),
        _event({"type": "message_stop"}),
    ]
    return events, [orjson.dumps(delta) for delta in deltas]


def client_text(messages: Sequence[Message]) -> tuple[str, str]:
    """The thinking and the answer text a client assembles from the response."""
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    thinking, answer = [], []
    for event in body.split(b"\n\n"):
        for line in event.split(b"\n"):
            if line.startswith(b"data: "):
                delta = orjson.loads(line[6:]).get("delta", {})
                thinking.append(delta.get("thinking", ""))
                answer.append(delta.get("text", ""))
    return "".join(thinking), "".join(answer)


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    bare: ASGIApp
    wrapped: ASGIApp
    deltas: tuple[bytes, ...]
    # The same message without the deltas measured, bare and wrapped: its cost is taken off.
    baseline: tuple[ASGIApp, ASGIApp] | None
    expected: tuple[str, str]


@dataclass(frozen=True)
class CaseResult:
    case: Case
    added_per_event: float
    round_trip: float
    output_ok: bool

    @property
    def ratio(self) -> float:
        return self.added_per_event / self.round_trip


def build_cases(tokens: int = 2000) -> list[Case]:
    atomic = {stream.name: stream for stream in build_streams(tokens)}["atomic"]
    closer_at = atomic.chunks.index("</think>")
    reasoning = list(atomic.chunks[:closer_at])
    answer = [token for token in atomic.chunks[closer_at + 1 :] if "<" not in token]
    plain = [
        t for t in {s.name: s for s in build_streams(tokens)}["no-reasoning"].chunks if "<" not in t
    ]
    # "Answer after thinking" is timed as (a short thought + the answer) minus the short
    # thought alone, so that only the answer's deltas are counted.
    short_thought = ["<think>", "A short thought.", "</think>"]
    cases = []
    for name, description, body_tokens, baseline_tokens, expected in (
        (
            "Messages, reasoning",
            f"{len(reasoning)} deltas inside `<think>`: each becomes a thinking_delta",
            reasoning,
            None,
            (atomic.expected_reasoning, ""),
        ),
        (
            "Messages, answer after thinking",
            f"{len(answer)} answer deltas after an inserted thinking block: index moved",
            [*short_thought, *answer],
            short_thought,
            ("A short thought.", "".join(answer).lstrip()),
        ),
        (
            "Messages, no reasoning",
            f"{len(plain)} plain answer deltas: each passes as the app's bytes",
            plain,
            None,
            ("", "".join(plain)),
        ),
    ):
        events, deltas = message_events(body_tokens)
        app = streaming_app(events)
        baseline = None
        if baseline_tokens is not None:
            baseline_app = streaming_app(message_events(baseline_tokens)[0])
            baseline = (baseline_app, ReasoningMiddleware(baseline_app))
            deltas = deltas[len(baseline_tokens) :]
        cases.append(
            Case(
                name, description, app, ReasoningMiddleware(app), tuple(deltas), baseline, expected
            )
        )
    return cases


def run(tokens: int = 2000, rounds: int = 5, budget_seconds: float = 0.05) -> list[CaseResult]:
    cases = build_cases(tokens)
    calls: dict[tuple[str, str], Callable[[], object]] = {}
    for case in cases:
        calls[(case.name, "bare")] = caller(case.bare, MESSAGES_PATH, REQUEST)
        calls[(case.name, "wrapped")] = caller(case.wrapped, MESSAGES_PATH, REQUEST)
        if case.baseline is not None:
            calls[(case.name, "baseline bare")] = caller(case.baseline[0], MESSAGES_PATH, REQUEST)
            calls[(case.name, "baseline")] = caller(case.baseline[1], MESSAGES_PATH, REQUEST)
        calls[(case.name, "orjson")] = orjson_round_trips(case.deltas)
    seconds = interleaved_medians(calls, rounds, budget_seconds)
    results = []
    for case in cases:
        added = seconds[(case.name, "wrapped")] - seconds[(case.name, "bare")]
        if case.baseline is not None:
            added -= seconds[(case.name, "baseline")] - seconds[(case.name, "baseline bare")]
        results.append(
            CaseResult(
                case,
                added / len(case.deltas),
                seconds[(case.name, "orjson")] / len(case.deltas),
                client_text(caller(case.wrapped, MESSAGES_PATH, REQUEST)()) == case.expected,
            )
        )
    return results


def _micros(seconds: float) -> str:
    return f"{seconds * 1e6:.3g}"


def render(results: Sequence[CaseResult]) -> str:
    lines = ["## Messages events, in-process", "", *machine_lines(), ""]
    lines += [f"- `{r.case.name}`: {r.case.description}" for r in results]
    lines += [
        "",
        "Added µs per `content_block_delta` event, and that as a multiple of one orjson round"
        " trip of the event's data:",
        "",
    ]
    rows = [
        [
            r.case.name,
            _micros(r.added_per_event),
            _micros(r.round_trip),
            format_ratio(r.ratio),
            "yes" if r.output_ok else "**no**",
        ]
        for r in results
    ]
    lines.append(
        markdown_table(
            ["case", "added µs/event", "orjson round trip µs", "ratio", "output right"], rows
        )
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens per streamed response")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per measurement")
    args = parser.parse_args(argv)
    print(render(run(args.tokens, args.rounds, args.budget)))


if __name__ == "__main__":
    main()
