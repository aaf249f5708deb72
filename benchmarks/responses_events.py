"""Benchmark: what the middleware adds in-process per Responses ``output_text.delta`` event.

Run: ``python -m benchmarks.responses_events``. A vLLM-shaped ``/v1/responses`` stream (typed
events, ``event:`` lines, sorted keys, ``sequence_number``) is sent through the app bare and
wrapped in ``ReasoningMiddleware``, driven with a hand-built scope and a collecting ``send``
(no server, no event loop), as ``benchmarks.middleware`` does for Chat Completions. The added
time, spread over the stream's ``output_text.delta`` events, is compared with one ``orjson``
round trip (``loads`` then ``dumps``) of such an event.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from asgi_reasoning import ReasoningMiddleware
from benchmarks._asgi import (
    ASGIApp,
    http_scope,
    orjson_round_trip,
    request_body,
    run_to_completion,
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

    from asgi_reasoning.asgi import Message

RESPONSES_PATH = "/v1/responses"
MESSAGE_ID = "msg_bench"


def _event(event_type: str, number: int, **fields: Any) -> bytes:
    payload = dict(sorted({"type": event_type, "sequence_number": number, **fields}.items()))
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def responses_stream(tokens: Sequence[str]) -> list[bytes]:
    """The events vLLM sends for one message item whose text arrives as ``tokens``."""
    response = {"id": "resp_bench", "object": "response", "status": "in_progress", "output": []}
    message = {"id": MESSAGE_ID, "type": "message", "role": "assistant", "status": "in_progress"}
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    where = {"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": response}),
        ("response.in_progress", {"response": response}),
        ("response.output_item.added", {"output_index": 0, "item": {**message, "content": []}}),
        ("response.content_part.added", {**where, "part": part}),
    ]
    events += [
        ("response.output_text.delta", {**where, "delta": t, "logprobs": []}) for t in tokens
    ]
    text = "".join(tokens)
    done_part = {**part, "text": text}
    done_message = {**message, "status": "completed", "content": [done_part]}
    events += [
        ("response.output_text.done", {**where, "text": text, "logprobs": []}),
        ("response.content_part.done", {**where, "part": done_part}),
        ("response.output_item.done", {"output_index": 0, "item": done_message}),
        (
            "response.completed",
            {"response": {**response, "status": "completed", "output": [done_message]}},
        ),
    ]
    return [_event(name, number, **fields) for number, (name, fields) in enumerate(events)]


def _call(app: ASGIApp, request: bytes) -> list[Message]:
    sent: list[Message] = []
    scope = {**http_scope(request), "path": RESPONSES_PATH, "raw_path": RESPONSES_PATH.encode()}
    request_messages: list[Message] = [{"type": "http.request", "body": request}]

    async def receive() -> Message:
        return request_messages.pop(0) if request_messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    run_to_completion(app(scope, receive, send))
    return sent


def _texts(messages: Sequence[Message]) -> tuple[str, str]:
    """The reasoning and answer text the client received."""
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    reasoning, answer = [], []
    for raw in body.split(b"\n\n"):
        for line in raw.split(b"\n"):
            if line.startswith(b"data: "):
                event = orjson.loads(line[6:])
                # The middleware's default parts are summaries (responses_reasoning).
                if event["type"] == "response.reasoning_summary_text.delta":
                    reasoning.append(event["delta"])
                elif event["type"] == "response.output_text.delta":
                    answer.append(event["delta"])
    return "".join(reasoning), "".join(answer)


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    deltas: int
    bare: ASGIApp
    wrapped: ASGIApp
    delta_payload: bytes
    expected: tuple[str, str]


@dataclass(frozen=True)
class CaseResult:
    case: Case
    bare_seconds: float
    wrapped_seconds: float
    round_trip_seconds: float
    output_ok: bool

    @property
    def added_per_delta(self) -> float:
        return (self.wrapped_seconds - self.bare_seconds) / self.case.deltas

    @property
    def ratio(self) -> float:
        return self.added_per_delta / self.round_trip_seconds


def _case(name: str, description: str, tokens: Sequence[str], expected: tuple[str, str]) -> Case:
    events = responses_stream(tokens)
    app = streaming_app(events)
    delta_event = next(e for e in events if b"output_text.delta" in e)
    return Case(
        name,
        description,
        len(tokens),
        app,
        ReasoningMiddleware(app),
        delta_event.split(b"\ndata: ", 1)[1].rstrip(b"\n"),
        expected,
    )


def build_cases(tokens: int = 2000) -> list[Case]:
    streams = {stream.name: stream for stream in build_streams(tokens)}
    atomic = streams["atomic"]
    closer_at = atomic.chunks.index("</think>")
    reasoning_tokens = list(atomic.chunks[:closer_at])
    plain = [t for t in streams["no-reasoning"].chunks if "<" not in t]
    return [
        _case(
            "Responses, reasoning",
            f"{len(reasoning_tokens)} deltas inside `<think>`: each becomes a reasoning event",
            reasoning_tokens,
            (atomic.expected_reasoning, ""),
        ),
        _case(
            "Responses, no reasoning",
            f"{len(plain)} plain answer deltas: each goes out unchanged",
            plain,
            ("", "".join(plain)),
        ),
        _case(
            "Responses, mixed",
            f"stream `atomic`: {len(atomic.chunks)} deltas, 3/4 reasoning then the answer",
            list(atomic.chunks),
            (atomic.expected_reasoning, atomic.expected_content),
        ),
    ]


def run(tokens: int = 2000, rounds: int = 5, budget_seconds: float = 0.05) -> list[CaseResult]:
    cases = build_cases(tokens)
    request = request_body(stream=True)
    calls: dict[tuple[str, str], Callable[[], object]] = {}
    for case in cases:
        calls[(case.name, "bare")] = functools.partial(_call, case.bare, request)
        calls[(case.name, "wrapped")] = functools.partial(_call, case.wrapped, request)
        calls[(case.name, "orjson")] = functools.partial(orjson_round_trip, case.delta_payload)
    seconds = interleaved_medians(calls, rounds, budget_seconds)
    return [
        CaseResult(
            case,
            seconds[(case.name, "bare")],
            seconds[(case.name, "wrapped")],
            seconds[(case.name, "orjson")],
            _texts(_call(case.wrapped, request)) == case.expected,
        )
        for case in cases
    ]


def render(results: Sequence[CaseResult]) -> str:
    lines = ["## Responses API overhead, in-process", "", *machine_lines(), ""]
    lines += [f"- `{r.case.name}`: {r.case.description}" for r in results]
    lines += [
        "",
        "Added µs per `response.output_text.delta` event, and that as a multiple of one orjson"
        " round trip of such an event:",
        "",
    ]
    rows = [
        [
            r.case.name,
            f"{r.added_per_delta * 1e6:.3g}",
            f"{r.round_trip_seconds * 1e6:.3g}",
            format_ratio(r.ratio),
            "yes" if r.output_ok else "**no**",
        ]
        for r in results
    ]
    header = ["case", "added µs/delta", "orjson round trip µs", "ratio", "output right"]
    lines.append(markdown_table(header, rows))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=2000, help="deltas per streamed response")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per measurement")
    args = parser.parse_args(argv)
    print(render(run(args.tokens, args.rounds, args.budget)))


if __name__ == "__main__":
    main()
