"""Benchmark: the added cost of one whole 1 KB JSON response, per wire API, against orjson.

Run: ``python -m benchmarks.json_body``. For each API (a Chat ``chat.completion``, a Responses
``response``, a Messages ``message``) a non-streaming request (about 1 KB) and a response of
about 1 KB go through an app bare and wrapped in ``ReasoningMiddleware``, in-process (a
hand-built scope, a collecting ``send``, no event loop). The added time per request is

    wrapped(request) - bare(request)

which holds everything the middleware does for one exchange: reading and parsing the request,
deciding the policy, holding the start, parsing and rewriting the body, the new headers. It is
compared with one ``orjson`` round trip (``loads`` then ``dumps``) of the same response body,
timed in the same run.

Cases: ``rewritten`` (the text holds a ``<think>`` block: the body is rebuilt with the
reasoning apart) and ``unchanged`` (a plain answer: the app's own bytes go out).
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from asgi_reasoning import ReasoningMiddleware
from benchmarks._asgi import (
    MODEL,
    caller,
    json_app,
    orjson_round_trip,
    request_body,
)
from benchmarks._common import (
    build_name,
    format_ratio,
    interleaved_medians,
    machine_lines,
    markdown_table,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from benchmarks._asgi import ASGIApp, Message

BODY_SIZE = 1_000
# What the 1 KB is made of: reasoning, then the answer (rewritten); the answer alone otherwise.
# The answer holds a non-ASCII character and line breaks, as model output usually does:
# Python then stores the text as UCS-2, and the JSON holds escapes.
REASONING_WORDS = "First compare each pair of neighbours; every one is in order. "
ANSWER_WORDS = "Yes: each number is ≥ the one before it.\n"


def _repeat_to(words: str, size: int) -> str:
    return (words * (size // len(words) + 1))[:size].strip()


def _chat_body(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-b7d4c2a1e9f04c3d8a6b5e2f1d0c9b8a",
        "object": "chat.completion",
        "created": 1_732_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "tool_calls": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 60, "completion_tokens": 250, "total_tokens": 310},
    }


def _responses_body(text: str) -> dict[str, Any]:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "object": "response",
        "created_at": 1_732_000_000,
        "status": "completed",
        "model": MODEL,
        "output": [
            {
                "type": "message",
                "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 60, "output_tokens": 250, "total_tokens": 310},
    }


def _messages_body(text: str) -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 60, "output_tokens": 250},
    }


def _responses_request() -> bytes:
    return orjson.dumps(
        {
            "model": MODEL,
            "instructions": "You are a careful assistant. " * 30,
            "input": "Is this list sorted: [1, 2, 2, 5, 9]?",
            "max_output_tokens": 2000,
            "stream": False,
        }
    )


def _messages_request() -> bytes:
    return orjson.dumps(
        {
            "model": MODEL,
            "system": "You are a careful assistant. " * 30,
            "messages": [{"role": "user", "content": "Is this list sorted: [1, 2, 2, 5, 9]?"}],
            "max_tokens": 2000,
            "stream": False,
        }
    )


@dataclass(frozen=True)
class _API:
    name: str
    path: str
    request: bytes
    body: Callable[[str], dict[str, Any]]


APIS = (
    _API("Chat", "/v1/chat/completions", request_body(stream=False), _chat_body),
    _API("Responses", "/v1/responses", _responses_request(), _responses_body),
    _API("Messages", "/v1/messages", _messages_request(), _messages_body),
)


def response_text(case: str, size: int = BODY_SIZE) -> str:
    """The model's text for ``case``, sized so that the whole body is about ``size`` bytes."""
    # The rest of each body (ids, usage) is about 300 bytes.
    text_size = max(size - 300, 40)
    if case == "unchanged":
        return _repeat_to(ANSWER_WORDS, text_size)
    reasoning = _repeat_to(REASONING_WORDS, text_size * 3 // 4)
    answer = _repeat_to(ANSWER_WORDS, text_size - len(reasoning))
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def _caller(app: ASGIApp, api: _API) -> Callable[[], list[Message]]:
    return caller(app, api.path, api.request)


@dataclass(frozen=True)
class Result:
    api: str
    case: str
    body_bytes: int
    added: float
    round_trip: float
    # Rewritten: the reasoning left the text; unchanged: the app's own bytes went out.
    output_ok: bool

    @property
    def vs_round_trip(self) -> float:
        return self.added / self.round_trip


def _output_ok(messages: Sequence[Message], case: str, body: bytes) -> bool:
    (start,) = [m for m in messages if m["type"] == "http.response.start"]
    (out,) = [m["body"] for m in messages if m["type"] == "http.response.body"]
    declared: bytes | None = dict(start["headers"]).get(b"content-length")
    if declared != str(len(out)).encode():
        return False
    if case == "unchanged":
        return bool(out == body)
    return b"<think>" not in out and REASONING_WORDS.split(";")[0].encode() in out


def run(rounds: int = 5, budget_seconds: float = 0.05, size: int = BODY_SIZE) -> list[Result]:
    """Every API and case, timed in ``rounds`` interleaved rounds; medians."""
    calls: dict[tuple[str, str, str], Callable[[], object]] = {}
    bodies: dict[tuple[str, str], bytes] = {}
    for api in APIS:
        for case in ("rewritten", "unchanged"):
            body = orjson.dumps(api.body(response_text(case, size)))
            bodies[(api.name, case)] = body
            bare = json_app(body)
            calls[(api.name, case, "bare")] = _caller(bare, api)
            calls[(api.name, case, "wrapped")] = _caller(ReasoningMiddleware(bare), api)
            calls[(api.name, case, "orjson")] = functools.partial(orjson_round_trip, body)
    seconds = interleaved_medians(calls, rounds, budget_seconds)
    results = []
    for api in APIS:
        for case in ("rewritten", "unchanged"):
            body = bodies[(api.name, case)]
            wrapped = ReasoningMiddleware(json_app(body))
            results.append(
                Result(
                    api=api.name,
                    case=case,
                    body_bytes=len(body),
                    added=max(
                        seconds[(api.name, case, "wrapped")] - seconds[(api.name, case, "bare")],
                        0.0,
                    ),
                    round_trip=seconds[(api.name, case, "orjson")],
                    output_ok=_output_ok(_caller(wrapped, api)(), case, body),
                )
            )
    return results


def render(results: Sequence[Result]) -> str:
    rows = [
        [
            r.api,
            r.case,
            f"{r.body_bytes:,}",
            f"{r.added * 1e6:.2f} µs",
            f"{r.round_trip * 1e6:.2f} µs",
            format_ratio(r.vs_round_trip),
            "yes" if r.output_ok else "NO",
        ]
        for r in results
    ]
    build = build_name()
    header = [
        "API",
        "case",
        "body bytes",
        "added / request",
        "orjson round trip",
        "÷ round trip",
        "output right",
    ]
    return "\n".join([f"Build: {build}", "", *machine_lines(), "", markdown_table(header, rows)])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per measurement")
    parser.add_argument("--size", type=int, default=BODY_SIZE, help="response body bytes")
    arguments = parser.parse_args(argv)
    print(
        render(run(rounds=arguments.rounds, budget_seconds=arguments.budget, size=arguments.size))
    )


if __name__ == "__main__":
    main()
