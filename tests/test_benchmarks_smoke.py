"""Each benchmark runs end to end on tiny sizes, and the splitters it compares agree.

No timing is asserted: these only keep the benchmark scripts working. Peers that are not
installed (see benchmarks/install.sh) are skipped; our splitter and the ceiling always run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

# The benchmarks compare against an orjson round trip: they need the [fast] extra.
pytest.importorskip("orjson")

from benchmarks import e2e, memory, messages_events, middleware, responses_events, splitter
from benchmarks.peers import PEER_FACTORIES, available_splitters, split_with_find
from benchmarks.streams import build_streams

if TYPE_CHECKING:
    from types import ModuleType

TINY_TOKENS = 60
# Streams where every marker arrives whole, so a find loop without holdback splits right.
WHOLE_MARKER_STREAMS = ("atomic", "no-reasoning", "starts-inside", "multi-block", "whole-body")


def _without_whitespace(text: str) -> str:
    return "".join(text.split())


def test_our_splitter_gives_every_stream_its_expected_split() -> None:
    results = splitter.run(tokens=TINY_TOKENS, rounds=1, budget_seconds=0.0001)

    for stream in results.streams:
        assert results.verdicts[(stream.name, splitter.OURS)].grade == "exact", stream.name


def test_ceiling_agrees_with_our_splitter_where_markers_arrive_whole() -> None:
    ours = next(s for s in available_splitters()[0] if s.name == splitter.OURS)
    for stream in build_streams(TINY_TOKENS):
        if stream.name not in WHOLE_MARKER_STREAMS:
            continue
        pieces = split_with_find(stream.chunks, stream.starts_in_reasoning)
        trace = ours.trace(stream.chunks, stream.starts_in_reasoning)

        for index, kind in enumerate(("reasoning", "content")):
            ceiling_text = "".join(text for k, text in pieces if k == kind)
            our_text = "".join(step[index] for step in trace)
            assert _without_whitespace(ceiling_text) == _without_whitespace(our_text)


def test_splitter_report_covers_every_stream_and_splitter() -> None:
    results = splitter.run(tokens=TINY_TOKENS, rounds=1, budget_seconds=0.0001)

    report = splitter.render(results)

    for stream in results.streams:
        assert f"| {stream.name} |" in report
    for each in results.splitters:
        assert each.name in report


@pytest.mark.parametrize("peer_name", sorted(PEER_FACTORIES))
def test_installed_peer_runs_every_stream(peer_name: str) -> None:
    try:
        peer = PEER_FACTORIES[peer_name]()
    except ImportError:
        pytest.skip(f"{peer_name} is not installed (benchmarks/install.sh)")
    for stream in build_streams(TINY_TOKENS):
        trace = peer.trace(stream.chunks, stream.starts_in_reasoning)
        peer.run(stream.chunks, stream.starts_in_reasoning)

        assert len(trace) == len(stream.chunks) + 1
        if stream.expected_content:
            assert "".join(step[1] for step in trace), stream.name


def test_middleware_benchmark_output_is_rewritten_right() -> None:
    results = middleware.run(
        tokens=TINY_TOKENS, rounds=1, budget_seconds=0.0001, body_sizes={"1 KB": 1_000}
    )

    assert [r.case.name for r in results if not r.output_ok] == []
    assert "SSE, reasoning" in middleware.render(results)


@pytest.mark.parametrize("benchmark", [responses_events, messages_events])
def test_per_event_benchmarks_of_responses_and_messages_read_their_output_right(
    benchmark: ModuleType,
) -> None:
    results = benchmark.run(tokens=TINY_TOKENS, rounds=1, budget_seconds=0.0001)

    assert [r.case.name for r in results if not r.output_ok] == []


def test_memory_benchmark_sees_every_stream_in_flight() -> None:
    results = memory.run(streams=20, tokens=TINY_TOKENS)

    assert results.wrapped.in_flight > 0
    assert results.bare.in_flight > 0
    assert "added by the middleware, " in memory.render(results)


def test_end_to_end_benchmark_streams_through_both_servers() -> None:
    results = e2e.run(tokens=TINY_TOKENS, requests=1, concurrency=2, passes=1)

    bare, wrapped = results.sequential["bare"][0], results.sequential["wrapped"][0]
    assert bare.reasoning_chars == 0
    assert wrapped.reasoning_chars > 0
    assert wrapped.content_chars < bare.content_chars
    assert "time to first token" in e2e.render(results)


def test_api_events_benchmark_covers_every_api_with_right_output() -> None:
    pytest.importorskip("pydantic")
    from benchmarks import api_events

    results = api_events.run(tokens=TINY_TOKENS, rounds=1, budget_seconds=0.0001)

    assert {(r.api, r.case) for r in results} == {
        (api, case)
        for api in ("Chat", "Responses", "Messages")
        for case in ("rewritten", "unchanged")
    }
    assert [(r.api, r.case) for r in results if not r.output_ok] == []
    assert "| Messages | unchanged |" in api_events.render(results)


def test_raw_end_to_end_benchmark_reads_the_same_body_size_bare_and_wrapped() -> None:
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    from benchmarks import e2e_raw

    timings = e2e_raw.run(tokens=20, rounds=1)

    assert {(t.app, t.pacing) for t in timings} == {
        (app, pacing) for app in ("bare_app", "wrapped_app") for pacing in ("flat out", "paced")
    }
    assert all(t.body_bytes > 0 and t.server_seconds > 0 for t in timings)
    assert "| paced |" in e2e_raw.render(timings, tokens=20)


def test_json_body_benchmark_covers_every_api_with_right_output() -> None:
    from benchmarks import json_body

    results = json_body.run(rounds=1, budget_seconds=0.0001)

    assert {(r.api, r.case) for r in results} == {
        (api, case)
        for api in ("Chat", "Responses", "Messages")
        for case in ("rewritten", "unchanged")
    }
    assert [(r.api, r.case) for r in results if not r.output_ok] == []
    assert all(900 <= r.body_bytes <= 1_200 for r in results)
    assert "| Responses | rewritten |" in json_body.render(results)
