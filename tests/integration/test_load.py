"""Load: 500 concurrent streams through uvicorn, each with its own text, bare and wrapped.

Every event carries the app's CLOCK_MONOTONIC reading from when it was built; the client
subtracts it from its own reading on arrival. The same measurement without the middleware,
in the same server process and run, gives the latency the middleware adds per event.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import anyio
import pytest

from tests.integration.client_view import assemble_chunks
from tests.integration.light_client import stream_lines
from tests.integration.report import write_report
from tests.integration.scripted_model import BARE_HEADER, brief_script_for, chat_request
from tests.integration.servers import ServerProcess, error_lines

if TYPE_CHECKING:
    from collections.abc import Sequence

CONCURRENT_STREAMS: Final = 500
SEQUENTIAL_STREAMS: Final = 40
EVENT_DELAY_MS: Final = 5
LOAD_TIMEOUT_S: Final = 120.0


@pytest.fixture
def anyio_backend() -> str:
    # One backend is enough to load the server; the client's loop is not what is measured.
    return "asyncio"


@dataclass(slots=True)
class StreamResult:
    prompt: str
    reasoning: str = ""
    content: str = ""
    latencies_ns: list[int] = field(default_factory=list)
    is_done: bool = False
    error: str | None = None


async def run_stream(server: ServerProcess, prompt: str, *, bare: bool) -> StreamResult:
    result = StreamResult(prompt=prompt)
    request = chat_request(
        prompt, model="brief", stream=True, x_timing=True, x_delay_ms=EVENT_DELAY_MS
    )
    chunks = []
    try:
        lines = stream_lines(
            "127.0.0.1",
            server.port,
            "/v1/chat/completions",
            request,
            headers=[BARE_HEADER] if bare else [],
        )
        async for arrival_ns, line in lines:
            if line.startswith("data: {"):
                value = json.loads(line[6:])
                chunks.append(value)
                if "x_sent_ns" in value:
                    result.latencies_ns.append(arrival_ns - value["x_sent_ns"])
            elif line == "data: [DONE]":
                result.is_done = True
    except (OSError, ConnectionError) as error:
        result.error = repr(error)
        return result
    if not bare:
        choice = assemble_chunks(chunks)[0]
        result.reasoning, result.content = choice.reasoning, choice.content
    return result


async def run_concurrently(
    server: ServerProcess, prompts: Sequence[str]
) -> dict[str, list[StreamResult]]:
    """A bare and a wrapped stream for every prompt, all at once, started alternately.

    Both kinds share the same queues for the whole run, so their latencies compare fairly.
    """
    results: dict[str, list[StreamResult]] = {"bare": [], "wrapped": []}

    async def one(prompt: str, variant: str) -> None:
        results[variant].append(await run_stream(server, prompt, bare=variant == "bare"))

    with anyio.fail_after(LOAD_TIMEOUT_S):
        async with anyio.create_task_group() as task_group:
            for prompt in prompts:
                task_group.start_soon(one, prompt, "wrapped")
                task_group.start_soon(one, f"bare {prompt}", "bare")
    return results


async def run_sequentially(
    server: ServerProcess, prompts: Sequence[str]
) -> dict[str, list[StreamResult]]:
    """Bare and wrapped streams taking turns, one at a time: the cost without queueing."""
    results: dict[str, list[StreamResult]] = {"bare": [], "wrapped": []}
    for prompt in prompts:
        results["bare"].append(await run_stream(server, prompt, bare=True))
        results["wrapped"].append(await run_stream(server, prompt, bare=False))
    return results


def percentiles_us(results: Sequence[StreamResult]) -> tuple[float, float]:
    latencies = sorted(latency for result in results for latency in result.latencies_ns)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] / 1000, cuts[98] / 1000


@pytest.mark.slow
@pytest.mark.anyio
async def test_five_hundred_concurrent_streams_each_get_their_own_text(
    uvicorn_server: ServerProcess,
) -> None:
    mark = uvicorn_server.log_mark()
    run_id = time.monotonic_ns()
    prompts = [f"client-{number:03d}-{run_id}" for number in range(CONCURRENT_STREAMS)]
    # Warm the server's code paths so that the measured run does not pay for first use.
    await run_concurrently(uvicorn_server, prompts[:20])

    started = time.monotonic()
    concurrent = await run_concurrently(uvicorn_server, prompts)
    concurrent_s = time.monotonic() - started
    sequential = await run_sequentially(uvicorn_server, prompts[:SEQUENTIAL_STREAMS])

    for result in [*concurrent["bare"], *concurrent["wrapped"], *sequential["wrapped"]]:
        assert (result.is_done, result.error) == (True, None), result
    assert sorted(result.prompt for result in concurrent["wrapped"]) == sorted(prompts)
    for result in concurrent["wrapped"]:
        script = brief_script_for(result.prompt)
        assert (result.reasoning, result.content) == (script.reasoning, script.answer)
    assert error_lines(uvicorn_server.log_since(mark)) == []

    figures = {
        "concurrent_bare": percentiles_us(concurrent["bare"]),
        "concurrent_wrapped": percentiles_us(concurrent["wrapped"]),
        "sequential_bare": percentiles_us(sequential["bare"]),
        "sequential_wrapped": percentiles_us(sequential["wrapped"]),
    }
    lines = [
        f"{CONCURRENT_STREAMS} wrapped and {CONCURRENT_STREAMS} bare streams at once through "
        f"uvicorn (httptools), {EVENT_DELAY_MS} ms between events, in {concurrent_s:.2f} s; then "
        f"{SEQUENTIAL_STREAMS} of each, one at a time. Client and server share 2 cores.",
        "per-event latency, app yield -> client receive (microseconds):",
    ]
    for name, (p50, p99) in figures.items():
        lines.append(f"  {name:<20} p50 {p50:9.0f}   p99 {p99:9.0f}")
    for setting in ("concurrent", "sequential"):
        bare_p50, bare_p99 = figures[f"{setting}_bare"]
        wrapped_p50, wrapped_p99 = figures[f"{setting}_wrapped"]
        added_p50, added_p99 = wrapped_p50 - bare_p50, wrapped_p99 - bare_p99
        lines.append(f"  added, {setting:<13} p50 {added_p50:+9.0f}   p99 {added_p99:+9.0f}")
    write_report("load", lines)
