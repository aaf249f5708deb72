"""Benchmark 3: end to end over loopback, uvicorn serving the app bare and wrapped.

Run: ``python -m benchmarks.e2e``. Two uvicorn processes (httptools, uvloop) serve
benchmarks/e2e_app.py, one bare and one wrapped; this process is the client, the ``openai``
SDK streaming a response of ``--tokens`` tokens. Requests alternate between the two servers;
medians are reported. Then ``--concurrency`` clients stream at once, for requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import openai

from benchmarks._common import format_ratio, machine_lines, markdown_table, median, uvicorn_server

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

VARIANTS = ("bare", "wrapped")


@dataclass(frozen=True)
class StreamTiming:
    first_token_seconds: float
    total_seconds: float
    reasoning_chars: int
    content_chars: int


@dataclass(frozen=True)
class EndToEndResults:
    tokens: int
    # variant -> timings of the sequential requests
    sequential: dict[str, list[StreamTiming]]
    concurrency: int
    # variant -> requests per second in each concurrent pass
    requests_per_second: dict[str, list[float]]


@contextlib.contextmanager
def serve(app: str) -> Iterator[str]:
    """uvicorn serving ``benchmarks.e2e_app:<app>`` on a free loopback port; the API base URL."""
    with uvicorn_server(f"benchmarks.e2e_app:{app}") as base_url:
        yield base_url + "/v1"


async def stream_once(client: openai.AsyncOpenAI, tokens: int) -> StreamTiming:
    """One streamed chat completion; time to the first text (reasoning or content) and total."""
    start = time.perf_counter()
    first_token = 0.0
    reasoning_chars = content_chars = 0
    stream = await client.chat.completions.create(
        model="Qwen/Qwen3-8B",
        messages=[{"role": "user", "content": "Is this list sorted: [1, 2, 2, 5, 9]?"}],
        stream=True,
        max_tokens=tokens,
    )
    async for chunk in stream:
        for choice in chunk.choices:
            reasoning = getattr(choice.delta, "reasoning_content", None) or ""
            content = choice.delta.content or ""
            if not first_token and (reasoning or content):
                first_token = time.perf_counter() - start
            reasoning_chars += len(reasoning)
            content_chars += len(content)
    return StreamTiming(first_token, time.perf_counter() - start, reasoning_chars, content_chars)


async def _client_run(
    urls: dict[str, str], tokens: int, requests: int, concurrency: int, passes: int, gap: float
) -> EndToEndResults:
    clients = {
        variant: openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
        for variant, url in urls.items()
    }
    sequential: dict[str, list[StreamTiming]] = {variant: [] for variant in VARIANTS}
    requests_per_second: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    try:
        for variant in VARIANTS:
            await stream_once(clients[variant], tokens)  # warm-up: connection, caches
        for index in range(requests):
            order = VARIANTS if index % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                # Let both servers go idle, so each request meets a server with nothing to do.
                await asyncio.sleep(gap)
                sequential[variant].append(await stream_once(clients[variant], tokens))
        for index in range(passes):
            order = VARIANTS if index % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                client = clients[variant]
                start = time.perf_counter()
                await asyncio.gather(*(stream_once(client, tokens) for _ in range(concurrency)))
                requests_per_second[variant].append(concurrency / (time.perf_counter() - start))
    finally:
        for client in clients.values():
            await client.close()
    return EndToEndResults(tokens, sequential, concurrency, requests_per_second)


def run(
    tokens: int = 2000,
    requests: int = 30,
    concurrency: int = 50,
    passes: int = 3,
    gap: float = 0.02,
) -> EndToEndResults:
    with serve("bare_app") as bare_url, serve("wrapped_app") as wrapped_url:
        return asyncio.run(
            _client_run(
                {"bare": bare_url, "wrapped": wrapped_url},
                tokens,
                requests,
                concurrency,
                passes,
                gap,
            )
        )


def render(results: EndToEndResults) -> str:
    bare, wrapped = results.sequential["bare"], results.sequential["wrapped"]

    def ms(values: Sequence[float]) -> str:
        return f"{median(values) * 1e3:.2f}"

    total_ratio = median(t.total_seconds for t in wrapped) / median(t.total_seconds for t in bare)
    first_ratio = median(t.first_token_seconds for t in wrapped) / median(
        t.first_token_seconds for t in bare
    )
    rps_bare = median(results.requests_per_second["bare"])
    rps_wrapped = median(results.requests_per_second["wrapped"])
    lines = ["## End to end (uvicorn on loopback, openai client)", "", *machine_lines(), ""]
    lines += [
        f"One streamed response of {results.tokens} tokens, sent as fast as uvicorn takes it;"
        f" {len(bare)} requests to each server, alternating, each after the servers sat idle;"
        " medians.",
        "",
        markdown_table(
            ["measure", "bare", "wrapped", "wrapped / bare", "goal", "met"],
            [
                [
                    "total time, ms",
                    ms([t.total_seconds for t in bare]),
                    ms([t.total_seconds for t in wrapped]),
                    format_ratio(total_ratio),
                    "≤ 1.05x",
                    "yes" if total_ratio <= 1.05 else "**no**",
                ],
                [
                    "time to first token, ms",
                    ms([t.first_token_seconds for t in bare]),
                    ms([t.first_token_seconds for t in wrapped]),
                    format_ratio(first_ratio),
                    "≤ 1.05x",
                    "yes" if first_ratio <= 1.05 else "**no**",
                ],
                [
                    f"requests/s, {results.concurrency} concurrent streams",
                    f"{rps_bare:.1f}",
                    f"{rps_wrapped:.1f}",
                    format_ratio(rps_wrapped / rps_bare),
                    "-",
                    "-",
                ],
            ],
        ),
        "",
        f"Reasoning characters the client saw per response: bare {bare[0].reasoning_chars},"
        f" wrapped {wrapped[0].reasoning_chars}; content characters: bare"
        f" {bare[0].content_chars}, wrapped {wrapped[0].content_chars}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens per response")
    parser.add_argument("--requests", type=int, default=30, help="sequential requests per server")
    parser.add_argument("--gap", type=float, default=0.02, help="seconds idle before a request")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent streams")
    parser.add_argument("--passes", type=int, default=3, help="concurrent passes per server")
    args = parser.parse_args(argv)
    print(render(run(args.tokens, args.requests, args.concurrency, args.passes, args.gap)))


if __name__ == "__main__":
    main()
