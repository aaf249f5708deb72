"""Whole bodies through the rewriters: what a client reads, however the bytes were cut."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_reasoning import ReasoningSplitter
from asgi_reasoning.apis.chat_completions import ChatCompletionsAPI
from asgi_reasoning.bodies import SSEBodyRewriter
from asgi_reasoning.bodies import rewrite_json_body as rewrite_body
from asgi_reasoning.policy import Policy
from asgi_reasoning.text.presets import resolve_tag_format

THINK = resolve_tag_format("think", None)
CHAT = ChatCompletionsAPI()


def policy(*, starts_in_reasoning: bool = False, mode: str = "separate") -> Policy:
    return Policy(THINK, starts_in_reasoning, mode, ("reasoning_content",))  # type: ignore[arg-type]


def chat_stream(policy: Policy) -> SSEBodyRewriter:
    return SSEBodyRewriter(CHAT, policy, CHAT.new_stream(policy, {}))


def rewrite_json_body(body: bytes, policy: Policy) -> bytes | None:
    return rewrite_body(body, CHAT, policy)


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def sse_body(pieces: list[str], line_end: bytes = b"\n") -> bytes:
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces]
    events.append(chunk({}, "stop"))
    blank = line_end + line_end
    out = b"".join(b"data: " + json.dumps(e).encode() + blank for e in events)
    return out + b": keep-alive" + blank + b"data: [DONE]" + blank


def rewrite_in_pieces(body: bytes, cuts: list[int], rewriter: SSEBodyRewriter) -> bytes:
    bounds = [0, *sorted(cuts), len(body)]
    out = b"".join(rewriter.feed(body[a:b]) for a, b in itertools.pairwise(bounds))
    return out + rewriter.finish()


def read_stream(body: bytes) -> tuple[str, str]:
    """(reasoning, content) as a client reads them, checking each delta on the way."""
    reasoning, content = [], []
    for line in body.replace(b"\r\n", b"\n").split(b"\n"):
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        for choice in json.loads(line[6:])["choices"]:
            delta = choice["delta"]
            thought, said = delta.get("reasoning_content"), delta.get("content")
            assert not (thought and said), f"a delta carries both kinds: {delta}"
            reasoning.append(thought or "")
            content.append(said or "")
    return "".join(reasoning), "".join(content)


def split_whole(text: str, starts_in_reasoning: bool = False) -> tuple[str, str]:
    s = ReasoningSplitter(starts_in_reasoning=starts_in_reasoning)
    segments = s.feed(text) + s.finish()
    return (
        "".join(t for k, t in segments if k == "reasoning"),
        "".join(t for k, t in segments if k == "content"),
    )


TOKENS = ["<think>", "</think>", "<th", "ink>", "</", "hmm", " ", "\n", "é", "🙂", "x < y", "ok"]
streams = st.lists(st.lists(st.sampled_from(TOKENS), max_size=3).map("".join), max_size=12)


@settings(max_examples=200)
@given(
    pieces=streams,
    cuts=st.lists(st.integers(0, 4000), max_size=15),
    line_end=st.sampled_from([b"\n", b"\r\n"]),
    prefilled=st.booleans(),
)
def test_any_byte_split_gives_the_client_the_same_text(
    pieces: list[str], cuts: list[int], line_end: bytes, prefilled: bool
) -> None:
    body = sse_body(pieces, line_end)
    cuts = [c for c in cuts if c <= len(body)]
    out = rewrite_in_pieces(body, cuts, chat_stream(policy(starts_in_reasoning=prefilled)))
    assert read_stream(out) == split_whole("".join(pieces), prefilled)


@settings(max_examples=200)
@given(
    pieces=st.lists(st.sampled_from(["a", "b c", "<", "x < y", "<b>", "\n", "é"]), max_size=12),
    cuts=st.lists(st.integers(0, 3000), max_size=15),
)
def test_a_stream_without_markers_is_returned_byte_for_byte(
    pieces: list[str], cuts: list[int]
) -> None:
    # No piece ends in a possible opener prefix ("<" alone may; see DESIGN.md §4.8), so
    # exclude those cases from the byte-identity claim and check only the text for them.
    body = sse_body(pieces)
    out = rewrite_in_pieces(body, [c for c in cuts if c <= len(body)], chat_stream(policy()))
    if any(piece.endswith("<") for piece in pieces):
        assert read_stream(out) == ("", "".join(pieces))
    else:
        assert out == body


def test_strip_mode_sends_no_character_of_reasoning() -> None:
    body = sse_body(["<think>", "secret", " plan", "</think>", "answer"])
    out = rewrite_in_pieces(body, [], chat_stream(policy(mode="strip")))
    assert b"secret" not in out and b"plan" not in out
    assert read_stream(out) == ("", "answer")


def test_go_style_escaped_markers_are_recognised() -> None:
    body = sse_body(["<think>a</think>b"]).replace(b"<", b"\\u003c").replace(b">", b"\\u003e")
    out = rewrite_in_pieces(body, [], chat_stream(policy()))
    assert read_stream(out) == ("a", "b")


def test_truncated_stream_flushes_held_reasoning_at_body_end() -> None:
    body = b"data: " + json.dumps(chunk({"content": "<think>unfinished </th"})).encode() + b"\n\n"
    out = rewrite_in_pieces(body, [], chat_stream(policy()))
    assert read_stream(out) == ("unfinished </th", "")


def completion(content: str | None, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "tool_calls": []},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


def test_json_body_gets_reasoning_content_and_keeps_key_order() -> None:
    body = json.dumps(completion("<think>\nhmm\n</think>\n\nYes")).encode()
    out = json.loads(rewrite_json_body(body, policy()) or b"")
    assert list(out) == ["id", "object", "created", "model", "choices", "usage"]
    message = out["choices"][0]["message"]
    assert list(message) == ["role", "content", "reasoning_content", "tool_calls"]
    assert message["content"] == "Yes"
    assert message["reasoning_content"] == "hmm\n"


def test_json_body_without_markers_is_left_alone() -> None:
    body = json.dumps(completion("a < b")).encode()
    assert rewrite_json_body(body, policy()) is None


def test_json_reasoning_only_sets_content_to_null() -> None:
    body = json.dumps(completion("<think>cut short", "length")).encode()
    message = json.loads(rewrite_json_body(body, policy()) or b"")["choices"][0]["message"]
    assert message["content"] is None
    assert message["reasoning_content"] == "cut short"


def test_answer_without_thinking_stays_content_when_assumed_to_start_in_reasoning() -> None:
    body = json.dumps(completion("Just the answer.")).encode()
    assert rewrite_json_body(body, policy(starts_in_reasoning=True)) is None
    truncated = json.dumps(completion("Still thinking", "length")).encode()
    message = json.loads(rewrite_json_body(truncated, policy(starts_in_reasoning=True)) or b"")
    assert message["choices"][0]["message"]["reasoning_content"] == "Still thinking"


def test_empty_reasoning_removes_markers_and_adds_no_key() -> None:
    body = json.dumps(completion("<think>\n\n</think>\n\nYes")).encode()
    message = json.loads(rewrite_json_body(body, policy()) or b"")["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Yes", "tool_calls": []}


def test_not_a_chat_completion_is_left_alone() -> None:
    assert rewrite_json_body(b'{"object": "list", "data": []}', policy()) is None
    assert rewrite_json_body(b"{not json", policy()) is None
