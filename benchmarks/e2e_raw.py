"""Benchmark: end to end with a raw SSE client, bare server against the same one wrapped.

Run: ``python -m benchmarks.e2e_raw``. uvicorn (uvloop, httptools) serves, in a process of
its own, a scripted Chat Completions app streaming a reasoning response of ``--tokens``
tokens, bare or wrapped in ``ReasoningMiddleware``; the client reads the body with httpx as
bytes (no SDK parsing, whose own cost per event would hide the middleware's). Two pacings:

- ``flat out``: every event sent as soon as the server takes it;
- ``paced``: 5 ms between tokens, as a model generates them: the middleware's work then runs
  cache-cold after each idle gap.

Server-side timing: the app measures, in the server process, the time from the request to
its last body message (the middleware's work included when wrapped), and the CPU time the
server process used meanwhile, and answers them on ``GET /timing``. Paced, the wall-clock
times mostly measure the event loop's timers (uvloop rounds them to milliseconds); the CPU
time is the work. The client-side time is the whole request, first byte sent to last read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import httpx
import orjson

from asgi_reasoning import ReasoningMiddleware
from benchmarks._asgi import request_body, sse_events
from benchmarks._common import machine_lines, markdown_table, median, uvicorn_server
from benchmarks.streams import build_streams

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from benchmarks._asgi import Message, Receive, Scope, Send

PACED_GAP_SECONDS: Final = 0.005
_events_by_count: dict[int, list[Message]] = {}
# Per request: wall-clock seconds, and the server process's CPU seconds in that time.
_server_times: list[tuple[float, float]] = []


def _events(count: int) -> list[Message]:
    if count not in _events_by_count:
        atomic = next(s for s in build_streams(count) if s.name == "atomic")
        _events_by_count[count] = [
            {"type": "http.response.body", "body": event, "more_body": True}
            for event in sse_events(atomic.chunks)
        ]
    return _events_by_count[count]


async def scripted_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Streams ``max_tokens`` tokens; ``"pace": true`` in the request waits 5 ms between them."""
    if scope["type"] != "http":
        return
    body, more_body = b"", True
    while more_body:
        message = await receive()
        body += message.get("body", b"")
        more_body = message.get("more_body", False)
    request = orjson.loads(body) if body else {}
    gap = PACED_GAP_SECONDS if request.get("pace") else 0.0
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
        }
    )
    for event in _events(int(request.get("max_tokens") or 2000)):
        if gap:
            await asyncio.sleep(gap)
        await send(event)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _timed(app: object) -> object:
    """``app`` behind ``GET /timing``, which answers (and forgets) the server-side times."""

    async def timed_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/timing":
            body = orjson.dumps(_server_times)
            _server_times.clear()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        start, cpu_start = time.perf_counter(), time.process_time()
        await app(scope, receive, send)  # type: ignore[operator]
        _server_times.append((time.perf_counter() - start, time.process_time() - cpu_start))

    return timed_app


bare_app = _timed(scripted_app)
wrapped_app = _timed(ReasoningMiddleware(scripted_app))


@contextlib.contextmanager
def serve(app: str) -> Iterator[str]:
    """uvicorn serving ``benchmarks.e2e_raw:<app>`` on a free loopback port; its base URL."""
    with uvicorn_server(f"benchmarks.e2e_raw:{app}") as base_url:
        yield base_url


@dataclass(frozen=True)
class Timing:
    app: str
    pacing: str
    client_seconds: float
    server_seconds: float
    server_cpu_seconds: float
    body_bytes: int


def _measure(base_url: str, app: str, pacing: str, tokens: int, rounds: int) -> Timing:
    request = orjson.loads(request_body(stream=True, max_tokens=tokens))
    request["pace"] = pacing == "paced"
    content = orjson.dumps(request)
    client_times, size = [], 0
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for round_number in range(rounds + 1):
            start = time.perf_counter()
            with client.stream("POST", "/v1/chat/completions", content=content) as response:
                size = sum(len(piece) for piece in response.iter_raw())
            if round_number:  # the first request warms the server up
                client_times.append(time.perf_counter() - start)
        server_times = client.get("/timing").json()[1:]
    return Timing(
        app,
        pacing,
        median(client_times),
        median(wall for wall, _ in server_times),
        median(cpu for _, cpu in server_times),
        size,
    )


def run(tokens: int = 2000, rounds: int = 5) -> list[Timing]:
    timings: list[Timing] = []
    for app in ("bare_app", "wrapped_app"):
        with serve(app) as base_url:
            timings.extend(
                _measure(base_url, app, pacing, tokens, rounds) for pacing in ("flat out", "paced")
            )
    return timings


def render(timings: Sequence[Timing], tokens: int) -> str:
    by_key = {(t.app, t.pacing): t for t in timings}
    rows = []
    for pacing in ("flat out", "paced"):
        bare, wrapped = by_key[("bare_app", pacing)], by_key[("wrapped_app", pacing)]
        rows.append(
            [
                pacing,
                f"{bare.client_seconds * 1e3:.1f} ms",
                f"{wrapped.client_seconds * 1e3:.1f} ms",
                f"{wrapped.client_seconds / bare.client_seconds:.3f}x",
                f"{bare.server_seconds * 1e3:.1f} ms",
                f"{wrapped.server_seconds * 1e3:.1f} ms",
                f"{wrapped.server_seconds / bare.server_seconds:.3f}x",
                f"{bare.server_cpu_seconds * 1e3:.1f} ms",
                f"{wrapped.server_cpu_seconds * 1e3:.1f} ms",
                f"{wrapped.server_cpu_seconds / bare.server_cpu_seconds:.3f}x",
                f"{(wrapped.server_cpu_seconds - bare.server_cpu_seconds) / tokens * 1e6:.1f} µs",
            ]
        )
    header = [
        "pacing",
        "client, bare",
        "client, wrapped",
        "÷ bare",
        "server, bare",
        "server, wrapped",
        "÷ bare",
        "server CPU, bare",
        "server CPU, wrapped",
        "÷ bare",
        "added CPU / event",
    ]
    return "\n".join([*machine_lines(), "", markdown_table(header, rows)])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args(argv)
    print(render(run(arguments.tokens, arguments.rounds), arguments.tokens))


if __name__ == "__main__":
    main()
