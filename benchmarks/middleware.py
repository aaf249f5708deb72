"""Benchmark 2: what the middleware adds in-process, per SSE event and per JSON body.

Run: ``python -m benchmarks.middleware``. The same prepared response is sent through the
app bare and wrapped in ``ReasoningMiddleware``, driven with a hand-built scope and a ``send``
that collects messages (no server, no event loop). The added time is compared with one
``orjson`` round trip (``loads`` then ``dumps``) of the same event or body: the least a
rewrite that parses and re-serialises has to pay.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from asgi_reasoning import ReasoningMiddleware
from benchmarks._asgi import (
    ASGIApp,
    call_app,
    completion_body,
    joined_stream_text,
    json_app,
    orjson_round_trips,
    request_body,
    sse_events,
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

BODY_SIZES = {"1 KB": 1_000, "100 KB": 100_000, "10 MB": 10_000_000}


@dataclass(frozen=True)
class Case:
    """One response, timed bare and wrapped."""

    name: str
    description: str
    goal: float
    # What one unit (event or body) costs to parse and re-serialise with orjson.
    units: int
    bare: ASGIApp
    wrapped: ASGIApp
    request: bytes
    payloads: tuple[bytes, ...]
    expected: tuple[str, str]
    streaming: bool


@dataclass(frozen=True)
class CaseResult:
    case: Case
    bare_seconds: float
    wrapped_seconds: float
    round_trip_seconds: float
    output_ok: bool

    @property
    def added_per_unit(self) -> float:
        return (self.wrapped_seconds - self.bare_seconds) / self.case.units

    @property
    def ratio(self) -> float:
        return self.added_per_unit / self.round_trip_seconds


def _sse_case(
    name: str, description: str, goal: float, tokens: Sequence[str], expected: tuple[str, str]
) -> Case:
    events = sse_events(tokens)
    app = streaming_app(events)
    payloads = tuple(event[len(b"data: ") : -2] for event in events[:-1])
    return Case(
        name,
        description,
        goal,
        len(events),
        app,
        ReasoningMiddleware(app),
        request_body(stream=True),
        payloads,
        expected,
        streaming=True,
    )


def _body_text(size: int, reasoning: str, content: str) -> tuple[str, str, str]:
    """Reasoning and answer of about ``size`` bytes in all, as ``<think>`` text."""
    reasoning_size = size * 3 // 4
    answer_size = size - reasoning_size
    body_reasoning = (reasoning * (reasoning_size // len(reasoning) + 1))[:reasoning_size]
    body_answer = (content * (answer_size // len(content) + 1))[:answer_size]
    body_reasoning, body_answer = body_reasoning.strip(), body_answer.strip()
    return (
        f"<think>\n{body_reasoning}\n</think>\n\n{body_answer}",
        body_reasoning + "\n",
        body_answer,
    )


def build_cases(tokens: int = 2000, body_sizes: dict[str, int] | None = None) -> list[Case]:
    streams = {stream.name: stream for stream in build_streams(tokens)}
    atomic = streams["atomic"]
    closer_at = atomic.chunks.index("</think>")
    reasoning_tokens = list(atomic.chunks[:closer_at])
    answer_stream = streams["no-reasoning"]
    plain_answer = [token for token in answer_stream.chunks if "<" not in token]
    cases = [
        _sse_case(
            "SSE, reasoning",
            f"{len(reasoning_tokens)} tokens, all inside `<think>`: every event rewritten",
            1.5,
            reasoning_tokens,
            (atomic.expected_reasoning, ""),
        ),
        _sse_case(
            "SSE, no reasoning",
            f"{len(plain_answer)} plain answer tokens: every event passes unchanged",
            0.3,
            plain_answer,
            ("", "".join(plain_answer)),
        ),
        _sse_case(
            "SSE, mixed",
            f"stream `atomic`: {len(atomic.chunks)} tokens, 3/4 reasoning then the answer",
            1.5,
            list(atomic.chunks),
            (atomic.expected_reasoning, atomic.expected_content),
        ),
    ]
    for label, size in (body_sizes or BODY_SIZES).items():
        text, reasoning, content = _body_text(
            size, atomic.expected_reasoning, atomic.expected_content
        )
        body = completion_body(text)
        app = json_app(body)
        cases.append(
            Case(
                f"JSON, {label}",
                f"one `chat.completion` of {len(body)} bytes with a `<think>` block",
                1.5,
                1,
                app,
                ReasoningMiddleware(app),
                request_body(stream=False),
                (body,),
                (reasoning, content),
                streaming=False,
            )
        )
    return cases


def _check_output(case: Case) -> bool:
    """Whether the wrapped app's response carries the expected reasoning and content."""
    messages = call_app(case.wrapped, case.request)
    if case.streaming:
        return joined_stream_text(messages) == case.expected
    (data,) = [m["body"] for m in messages if m["type"] == "http.response.body"]
    message = orjson.loads(data)["choices"][0]["message"]
    return (message.get("reasoning_content") or "", message.get("content") or "") == case.expected


def run(
    tokens: int = 2000,
    rounds: int = 5,
    budget_seconds: float = 0.05,
    body_sizes: dict[str, int] | None = None,
) -> list[CaseResult]:
    cases = build_cases(tokens, body_sizes)
    calls: dict[tuple[str, str], Callable[[], object]] = {}
    for case in cases:
        calls[(case.name, "bare")] = functools.partial(call_app, case.bare, case.request)
        calls[(case.name, "wrapped")] = functools.partial(call_app, case.wrapped, case.request)
        calls[(case.name, "orjson")] = orjson_round_trips(case.payloads)
    seconds = interleaved_medians(calls, rounds, budget_seconds)
    return [
        CaseResult(
            case,
            seconds[(case.name, "bare")],
            seconds[(case.name, "wrapped")],
            seconds[(case.name, "orjson")] / len(case.payloads),
            _check_output(case),
        )
        for case in cases
    ]


def _micros(seconds: float) -> str:
    micros = seconds * 1e6
    return f"{micros:,.0f}" if micros >= 1000 else f"{micros:.3g}"


def render(results: Sequence[CaseResult]) -> str:
    lines = ["## Middleware overhead, in-process", "", *machine_lines(), ""]
    lines += [f"- `{r.case.name}`: {r.case.description}" for r in results]
    lines += [
        "",
        "Added µs per event (SSE) or per body (JSON), and that as a multiple of one orjson"
        " round trip of the same event or body:",
        "",
    ]
    rows = [
        [
            result.case.name,
            _micros(result.bare_seconds / result.case.units),
            _micros(result.wrapped_seconds / result.case.units),
            _micros(result.added_per_unit),
            _micros(result.round_trip_seconds),
            format_ratio(result.ratio),
            f"≤ {result.case.goal}x",
            "yes" if result.ratio <= result.case.goal else "**no**",
            "yes" if result.output_ok else "**no**",
        ]
        for result in results
    ]
    lines.append(
        markdown_table(
            [
                "case",
                "bare µs/unit",
                "wrapped µs/unit",
                "added µs/unit",
                "orjson round trip µs",
                "ratio",
                "goal",
                "met",
                "output right",
            ],
            rows,
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
