"""Benchmark 4: memory per concurrent stream, 1,000 streams in flight in one process.

Run: ``python -m benchmarks.memory``. Each stream runs the app bare or wrapped on asyncio; the
app pauses halfway through its reasoning until every stream has got there, and tracemalloc
then reports what is allocated (in flight) and, once all finish, the peak. The middleware's
cost is the wrapped figure minus the bare one. The splitter alone is measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgi_reasoning import ReasoningMiddleware, ReasoningSplitter
from benchmarks._asgi import http_scope, request_body, sse_events
from benchmarks._common import machine_lines, markdown_table
from benchmarks.streams import build_streams

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from benchmarks._asgi import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class MemoryFigures:
    """Bytes allocated for ``streams`` streams at once: while paused, and at the peak."""

    in_flight: int
    peak: int


@dataclass(frozen=True)
class MemoryResults:
    streams: int
    events_before_pause: int
    events: int
    long_request_bytes: int
    bare: MemoryFigures
    wrapped: MemoryFigures
    wrapped_long_request: MemoryFigures
    splitters: MemoryFigures


def _pausing_app(
    events: Sequence[bytes], pause_at: int, gate: asyncio.Event, on_pause: Callable[[], None]
) -> ASGIApp:
    """Stream ``events``; before event ``pause_at``, call ``on_pause`` and wait for ``gate``."""
    bodies = [{"type": "http.response.body", "body": event, "more_body": True} for event in events]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for index, body in enumerate(bodies):
            if index == pause_at:
                on_pause()
                await gate.wait()
            await send(body)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _measure_app(
    wrap: bool, streams: int, events: Sequence[bytes], pause_at: int, request: bytes
) -> MemoryFigures:
    gate = asyncio.Event()
    all_paused = asyncio.Event()
    paused = 0

    def on_pause() -> None:
        nonlocal paused
        paused += 1
        if paused == streams:
            all_paused.set()

    app = _pausing_app(events, pause_at, gate, on_pause)
    asgi_app: ASGIApp = ReasoningMiddleware(app) if wrap else app
    sent_bytes = 0

    async def one_stream() -> None:
        request_messages: list[Message] = [
            {"type": "http.request", "body": request, "more_body": False}
        ]

        async def receive() -> Message:
            return request_messages.pop() if request_messages else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal sent_bytes
            sent_bytes += len(message.get("body", b""))

        await asgi_app(http_scope(request), receive, send)

    gc.collect()
    with _tracing() as baseline:
        tasks = [asyncio.create_task(one_stream()) for _ in range(streams)]
        await all_paused.wait()
        gc.collect()
        in_flight = tracemalloc.get_traced_memory()[0] - baseline
        gate.set()
        await asyncio.gather(*tasks)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    return MemoryFigures(in_flight, peak)


@contextlib.contextmanager
def _tracing() -> Iterator[int]:
    """Trace allocations inside the block; yields the bytes traced at its start.

    A trace already running (``python -X tracemalloc``) has its peak reset and is left on.
    """
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    try:
        yield tracemalloc.get_traced_memory()[0]
    finally:
        if not was_tracing:
            tracemalloc.stop()


def _measure_splitters(streams: int, chunks: Sequence[str]) -> MemoryFigures:
    gc.collect()
    with _tracing() as baseline:
        splitters = []
        for _ in range(streams):
            splitter = ReasoningSplitter("think")
            for chunk in chunks:
                splitter.feed(chunk)
            splitters.append(splitter)
        gc.collect()
        in_flight = tracemalloc.get_traced_memory()[0] - baseline
        peak = tracemalloc.get_traced_memory()[1] - baseline
    del splitters
    return MemoryFigures(in_flight, peak)


def run(streams: int = 1000, tokens: int = 400) -> MemoryResults:
    atomic = next(stream for stream in build_streams(tokens) if stream.name == "atomic")
    events = sse_events(atomic.chunks)
    closer_at = atomic.chunks.index("</think>")
    pause_at = closer_at // 2
    # The splitter is left holding "</th", a partial closer, as the worst case for its state.
    splitter_chunks = [*atomic.chunks[:pause_at], "</th"]
    request = request_body(stream=True)
    long_request = request_body(stream=True, history_chars=50_000)
    # The request bytes are shared by all streams and allocated before the baseline, so the
    # bare app pays nothing for them whatever their size.
    bare = asyncio.run(_measure_app(False, streams, events, pause_at, request))
    wrapped = asyncio.run(_measure_app(True, streams, events, pause_at, request))
    wrapped_long = asyncio.run(_measure_app(True, streams, events, pause_at, long_request))
    splitters = _measure_splitters(streams, splitter_chunks)
    return MemoryResults(
        streams, pause_at, len(events), len(long_request), bare, wrapped, wrapped_long, splitters
    )


def render(results: MemoryResults) -> str:
    n = results.streams

    def per_stream(value: int) -> str:
        return f"{value / n:,.0f}"

    lines = ["## Memory per concurrent stream (tracemalloc)", "", *machine_lines(), ""]
    lines += [
        f"{n} streams in one process on asyncio, each paused after {results.events_before_pause}"
        f" of its {results.events} events (inside the reasoning); bytes per stream.",
        "",
        markdown_table(
            ["what", "in flight, B/stream", "peak, B/stream"],
            [
                [
                    "app alone (bare)",
                    per_stream(results.bare.in_flight),
                    per_stream(results.bare.peak),
                ],
                [
                    "app wrapped",
                    per_stream(results.wrapped.in_flight),
                    per_stream(results.wrapped.peak),
                ],
                [
                    f"added by the middleware, {len(request_body(stream=True)):,} B request",
                    per_stream(results.wrapped.in_flight - results.bare.in_flight),
                    per_stream(results.wrapped.peak - results.bare.peak),
                ],
                [
                    f"added by the middleware, {results.long_request_bytes:,} B request",
                    per_stream(results.wrapped_long_request.in_flight - results.bare.in_flight),
                    per_stream(results.wrapped_long_request.peak - results.bare.peak),
                ],
                [
                    "a `ReasoningSplitter` holding `</th`",
                    per_stream(results.splitters.in_flight),
                    per_stream(results.splitters.peak),
                ],
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streams")
    parser.add_argument("--tokens", type=int, default=400, help="tokens per response")
    args = parser.parse_args(argv)
    print(render(run(args.streams, args.tokens)))


if __name__ == "__main__":
    main()
