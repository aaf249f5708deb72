from __future__ import annotations

import itertools
import re
import tracemalloc
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_reasoning.wire.sse import (
    DEFAULT_MAX_EVENT_SIZE,
    SSEEvent,
    SSEParser,
    SSERaw,
    encode_event,
    encode_without_data,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Item = SSEEvent | SSERaw

BOM = b"\xef\xbb\xbf"
VLLM_CHUNK = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"<think>"},"logprobs":null,"finish_reason":null}]}'
)


def parse(chunks: Iterable[bytes], max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> list[Item]:
    parser = SSEParser(max_event_size)
    items: list[Item] = []
    for chunk in chunks:
        items += parser.feed(chunk)
    items += parser.finish()
    return items


def parse_event(stream: bytes) -> SSEEvent:
    """The first item of `stream`, which must be an event."""
    event = parse([stream])[0]
    assert isinstance(event, SSEEvent)
    return event


def split_at(stream: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(bounds)]


def one_byte_at_a_time(stream: bytes) -> list[bytes]:
    return [stream[index : index + 1] for index in range(len(stream))]


def joined_raw(items: Sequence[Item]) -> bytes:
    return b"".join(item.raw for item in items)


def merge_raw_runs(items: Sequence[Item]) -> list[Item]:
    """Adjacent `SSERaw` items as one: how bytes past the cap are cut depends on the chunks."""
    merged: list[Item] = []
    for item in items:
        if isinstance(item, SSERaw) and merged and isinstance(merged[-1], SSERaw):
            merged[-1] = SSERaw(merged[-1].raw + item.raw)
        else:
            merged.append(item)
    return merged


REFERENCE_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")


def reference_parse(stream: bytes, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> list[Item]:
    """The whole stream at once, the way the SSE spec reads it, with the documented extras."""
    items: list[Item] = []
    if stream.startswith(BOM):
        items.append(SSERaw(BOM))
        stream = stream[len(BOM) :]
    event_start = 0
    data_lines: list[bytes] = []
    first_line_ending: bytes | None = None
    for match in REFERENCE_LINE.finditer(stream):
        content, line_ending = match.groups()
        first_line_ending = first_line_ending or line_ending
        if content:
            name, _, value = content.partition(b":")
            if name == b"data":
                data_lines.append(value.removeprefix(b" "))
            continue
        raw = stream[event_start : match.end()]
        if len(raw) > max_event_size:
            break
        data = b"\n".join(data_lines) if data_lines else None
        items.append(SSEEvent(raw, data, first_line_ending))
        event_start = match.end()
        data_lines = []
        first_line_ending = None
    if stream[event_start:]:
        items.append(SSERaw(stream[event_start:]))
    return items


def test_vllm_event_in_one_chunk_is_parsed() -> None:
    chunk = VLLM_CHUNK + b"\n\n"

    assert parse([chunk]) == [SSEEvent(chunk, VLLM_CHUNK[len(b"data: ") :], b"\n")]


def test_sse_starlette_event_with_crlf_is_parsed() -> None:
    chunk = b"data: hello\r\n\r\n"

    assert parse([b": ping\r\n\r\n", chunk])[1] == SSEEvent(chunk, b"hello", b"\r\n")


@pytest.mark.parametrize("chunk", [b"data: a\rb\n\n", b"data: a\rb\r\n\r\n", b"data: a\nb\r\n\r\n"])
def test_chunk_with_an_inner_line_end_is_not_one_data_line(chunk: bytes) -> None:
    parser = SSEParser()
    parser.feed(b": ping\n\n")

    assert parser.feed(chunk) == [SSEEvent(chunk, b"a", chunk[7:8])]


@pytest.mark.parametrize("chunk", [b"data: a\r\nb\n", b"data: a\nb\n"])
def test_chunk_ending_in_lf_without_a_blank_line_is_held(chunk: bytes) -> None:
    parser = SSEParser()
    parser.feed(b": ping\n\n")

    assert parser.feed(chunk) == []


def test_several_events_in_one_chunk_each_keep_their_bytes() -> None:
    chunk = b"data: a\n\ndata: b\n\n: ping\n\n"

    assert parse([chunk]) == [
        SSEEvent(b"data: a\n\n", b"a", b"\n"),
        SSEEvent(b"data: b\n\n", b"b", b"\n"),
        SSEEvent(b": ping\n\n", None, b"\n"),
    ]


def test_event_split_across_chunks_is_returned_when_complete() -> None:
    parser = SSEParser()

    assert parser.feed(b"data: hel") == []
    assert parser.feed(b"lo\n") == []
    assert parser.feed(b"\ndata: next") == [SSEEvent(b"data: hello\n\n", b"hello", b"\n")]


def test_comment_only_block_is_an_event_without_data() -> None:
    ping = b": ping - 2024-05-01 12:00:00.000000+00:00\r\n\r\n"

    assert parse([ping]) == [SSEEvent(ping, None, b"\r\n")]


def test_event_id_and_retry_fields_stay_in_raw() -> None:
    event = b"event: message\nid: 7\nretry: 1500\ndata: x\n\n"

    assert parse([event]) == [SSEEvent(event, b"x", b"\n")]


def test_multiline_data_is_joined_with_lf() -> None:
    event = b"data: first\r\ndata:second\r\ndata\r\n\r\n"

    assert parse([event]) == [SSEEvent(event, b"first\nsecond\n", b"\r\n")]


def test_data_without_colon_is_an_empty_data_line() -> None:
    assert parse([b"data\n\n"]) == [SSEEvent(b"data\n\n", b"", b"\n")]


def test_only_one_space_after_the_colon_is_removed() -> None:
    assert parse([b"data:  two\n\n"]) == [SSEEvent(b"data:  two\n\n", b" two", b"\n")]


@pytest.mark.parametrize("line", [b"database: x", b"data : x", b"Data: x", b"\tdata: x"])
def test_field_not_named_exactly_data_is_not_data(line: bytes) -> None:
    event = b": first\n\n" + line + b"\n\n"

    assert parse([event])[1] == SSEEvent(line + b"\n\n", None, b"\n")


def test_cr_only_line_endings_are_line_ends() -> None:
    stream = b"id: 1\rdata: a\rdata: b\r\rdata: c\r\r"

    assert parse([stream]) == [
        SSEEvent(b"id: 1\rdata: a\rdata: b\r\r", b"a\nb", b"\r"),
        SSEEvent(b"data: c\r\r", b"c", b"\r"),
    ]


def test_crlf_cut_between_chunks_is_one_line_end() -> None:
    parser = SSEParser()

    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\ndata: b\r\n\r\n") == [
        SSEEvent(b"data: a\r\ndata: b\r\n\r\n", b"a\nb", b"\r\n")
    ]


def test_event_ended_by_a_final_cr_waits_for_the_next_byte() -> None:
    parser = SSEParser()

    assert parser.feed(b"data: a\r\n\r") == []
    assert parser.feed(b"\n") == [SSEEvent(b"data: a\r\n\r\n", b"a", b"\r\n")]


def test_event_ended_by_a_bare_cr_is_returned_once_a_different_byte_follows() -> None:
    parser = SSEParser()

    assert parser.feed(b"data: a\r\r") == []
    assert parser.feed(b"data: b") == [SSEEvent(b"data: a\r\r", b"a", b"\r")]


def test_finish_counts_a_held_cr_as_a_line_end() -> None:
    parser = SSEParser()
    parser.feed(b"data: a\r\r")

    assert parser.finish() == [SSEEvent(b"data: a\r\r", b"a", b"\r")]


def test_multibyte_character_cut_between_chunks_survives() -> None:
    event = "data: é漢🙂\n\n".encode()

    for cut in range(1, len(event)):
        assert parse([event[:cut], event[cut:]]) == [SSEEvent(event, "é漢🙂".encode(), b"\n")]


def test_extra_blank_lines_are_events_without_data() -> None:
    assert parse([b"data: a\n\n\n\r\n"]) == [
        SSEEvent(b"data: a\n\n", b"a", b"\n"),
        SSEEvent(b"\n", None, b"\n"),
        SSEEvent(b"\r\n", None, b"\r\n"),
    ]


def test_line_ending_is_that_of_the_first_line() -> None:
    assert parse_event(b"data: a\r\ndata: b\n\n").line_ending == b"\r\n"


def test_finish_returns_an_unterminated_event_as_raw_bytes() -> None:
    parser = SSEParser()

    assert parser.feed(b"data: a\n\ndata: cut off\n") == [SSEEvent(b"data: a\n\n", b"a", b"\n")]
    assert parser.finish() == [SSERaw(b"data: cut off\n")]


def test_finish_after_complete_events_returns_nothing() -> None:
    parser = SSEParser()
    parser.feed(b"data: a\n\n")

    assert parser.finish() == []


def test_finish_twice_returns_nothing_the_second_time() -> None:
    parser = SSEParser()
    parser.feed(b"data: a")
    parser.finish()

    assert parser.finish() == []


def test_feed_after_finish_is_an_error() -> None:
    parser = SSEParser()
    parser.finish()

    with pytest.raises(RuntimeError, match="after finish"):
        parser.feed(b"data: a\n\n")


def test_empty_chunk_returns_nothing() -> None:
    parser = SSEParser()
    parser.feed(b"data: a")

    assert parser.feed(b"") == []
    assert parser.feed(b"\n\n") == [SSEEvent(b"data: a\n\n", b"a", b"\n")]


def test_leading_bom_is_returned_apart_from_the_first_event() -> None:
    assert parse([BOM + b"data: a\n\n"]) == [SSERaw(BOM), SSEEvent(b"data: a\n\n", b"a", b"\n")]


def test_bom_cut_between_chunks_is_recognised() -> None:
    stream = BOM + b"data: a\n\n"

    assert parse([stream[:1], stream[1:2], stream[2:]]) == parse([stream])


def test_bom_later_in_the_stream_is_part_of_the_line() -> None:
    stream = b": first\n\n" + BOM + b"data: a\n\n"

    assert parse([stream])[1] == SSEEvent(BOM + b"data: a\n\n", None, b"\n")


def test_stream_of_only_a_bom_prefix_is_returned_raw() -> None:
    assert parse([BOM[:2]]) == [SSERaw(BOM[:2])]


def test_oversized_incomplete_event_switches_to_passthrough() -> None:
    parser = SSEParser(max_event_size=10)

    assert parser.feed(b"data: a\n\ndata: 0123") == [SSEEvent(b"data: a\n\n", b"a", b"\n")]
    assert parser.feed(b"45") == [SSERaw(b"data: 012345")]
    assert parser.is_passthrough
    assert parser.feed(b"\n\ndata: b\n\n") == [SSERaw(b"\n\ndata: b\n\n")]
    assert parser.finish() == []


def test_event_exactly_at_the_cap_is_parsed() -> None:
    event = b"data: 0123\n\n"

    assert parse([event], max_event_size=len(event)) == [SSEEvent(event, b"0123", b"\n")]


def test_oversized_complete_event_ends_parsing_as_if_fed_in_pieces() -> None:
    stream = b"data: a\n\ndata: 0123456789\n\ndata: b\n\n"

    whole = parse([stream], max_event_size=12)

    assert whole == [SSEEvent(b"data: a\n\n", b"a", b"\n"), SSERaw(stream[9:])]
    assert merge_raw_runs(parse(one_byte_at_a_time(stream), max_event_size=12)) == whole


@pytest.mark.parametrize("line_ending", [b"\n", b"\r\n"])
def test_oversized_event_in_its_own_chunk_ends_parsing(line_ending: bytes) -> None:
    parser = SSEParser(max_event_size=16)
    parser.feed(b"data: a" + line_ending * 2)
    event = b"data: 0123456789" + line_ending * 2

    assert parser.feed(event) == [SSERaw(event)]
    assert parser.is_passthrough


def test_five_megabytes_without_a_terminator_are_not_held() -> None:
    parser = SSEParser()
    chunk_size = 64 * 1024
    total = 0
    tracemalloc.start()
    try:
        for _ in range(80):
            items = parser.feed(b"data: " + b"x" * (chunk_size - 6))
            total += len(joined_raw(items))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total += len(joined_raw(parser.finish()))

    assert total == 80 * chunk_size
    assert parser.is_passthrough
    assert peak < 3 * DEFAULT_MAX_EVENT_SIZE


def test_later_chunks_after_the_cap_are_passed_through_as_they_come() -> None:
    parser = SSEParser(max_event_size=4)
    parser.feed(b"data: long")
    later = b"data: x\n\n"

    assert parser.feed(later) == [SSERaw(later)]
    assert parser.feed(later)[0].raw is later


@pytest.mark.parametrize("max_event_size", [0, -1])
def test_max_event_size_below_one_is_rejected(max_event_size: int) -> None:
    with pytest.raises(ValueError, match="max_event_size"):
        SSEParser(max_event_size)


def test_max_event_size_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="max_event_size"):
        SSEParser(1.5)


def test_many_events_fed_one_byte_at_a_time_match_one_shot() -> None:
    stream = b"".join(b'id: %d\r\ndata: {"n": %d}\r\n\r\n' % (n, n) for n in range(4000))[
        : 100 * 1024
    ]

    items = parse(one_byte_at_a_time(stream))

    assert items == parse([stream])
    assert joined_raw(items) == stream


def test_long_line_fed_one_byte_at_a_time_is_one_event() -> None:
    event = b"data: " + b"x" * (100 * 1024) + b"\n\n"

    assert parse(one_byte_at_a_time(event)) == [SSEEvent(event, event[6:-2], b"\n")]


def test_encode_replaces_a_single_data_line() -> None:
    event = parse_event(b"data: old\n\n")

    assert encode_event(event, b'{"new":1}') == b'data: {"new":1}\n\n'


def test_encode_keeps_other_lines_in_order_around_the_first_data_line() -> None:
    event = parse_event(b": c\r\nevent: e\r\ndata: a\r\nid: 1\r\ndata: b\r\nretry: 5\r\n\r\n")

    assert encode_event(event, b"new") == (
        b": c\r\nevent: e\r\ndata: new\r\nid: 1\r\nretry: 5\r\n\r\n"
    )


def test_encode_uses_the_event_line_ending() -> None:
    event = parse_event(b"data: old\r\r")

    assert encode_event(event, b"new") == b"data: new\r\r"


def test_encode_writes_one_data_line_per_line_of_data() -> None:
    event = parse_event(b"data: old\r\n\r\n")

    assert encode_event(event, b"a\nb\r\nc\rd") == (
        b"data: a\r\ndata: b\r\ndata: c\r\ndata: d\r\n\r\n"
    )


def test_encode_adds_data_before_the_blank_line_of_an_event_without_data() -> None:
    event = parse_event(b"event: ping\n: x\n\n")

    assert encode_event(event, b"d") == b"event: ping\n: x\ndata: d\n\n"


def test_encode_of_data_without_colon_replaces_it() -> None:
    event = parse_event(b"id: 3\ndata\n\n")

    assert encode_event(event, b"d") == b"id: 3\ndata: d\n\n"


LINE_ENDINGS = st.sampled_from([b"\n", b"\r\n", b"\r"])
KNOWN_LINES = st.sampled_from(
    [
        VLLM_CHUNK,
        b"data: [DONE]",
        b"data:x",
        b"data",
        b"data: ",
        b"data:  two spaces",
        "data: é漢🙂 ünïcode".encode(),
        b": ping - 2024-05-01 12:00:00.000000+00:00",
        b":",
        b"event: message",
        b"id: 42",
        b"retry: 1500",
        b"database: not data",
        b"Data: not data",
        BOM + b"data: not data",
    ]
)
ANY_LINE = st.binary(max_size=12).map(lambda line: line.replace(b"\r", b"").replace(b"\n", b""))


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Events with any lines and mixed line ends, a possible BOM and an unterminated tail."""
    events = draw(
        st.lists(
            st.tuples(
                st.lists(st.tuples(st.one_of(KNOWN_LINES, ANY_LINE), LINE_ENDINGS), max_size=4),
                LINE_ENDINGS,
            ),
            max_size=6,
        )
    )
    body = b"".join(
        b"".join(line.replace(b"\r", b"").replace(b"\n", b"") + end for line, end in lines) + blank
        for lines, blank in events
    )
    prefix = draw(st.sampled_from([b"", BOM, BOM[:2]]))
    tail = draw(st.sampled_from([b"", b"data: cut", b"data: x\r", b"\r"]))
    return prefix + body + tail


@st.composite
def styled_streams(draw: st.DrawFn) -> bytes:
    """Streams the way servers write them: one line end throughout (vLLM, sse-starlette)."""
    line_ending = draw(LINE_ENDINGS)
    events = draw(st.lists(st.lists(KNOWN_LINES, min_size=1, max_size=3), max_size=8))
    return b"".join(line_ending.join(lines) + line_ending * 2 for lines in events)


ALPHABET_STREAMS = st.lists(
    st.sampled_from([b"\r", b"\n", b"data", b":", b" ", b"x", b"\xef", b"\xbb\xbf", BOM]),
    max_size=40,
).map(b"".join)

ANY_STREAM = st.one_of(streams(), styled_streams(), ALPHABET_STREAMS)


@given(stream=ANY_STREAM, data=st.data())
def test_any_split_gives_the_one_shot_events(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))

    items = parse(split_at(stream, cuts))

    assert items == parse([stream])
    assert joined_raw(items) == stream


@given(stream=ANY_STREAM)
def test_one_chunk_per_event_gives_the_one_shot_events(stream: bytes) -> None:
    one_shot = parse([stream])

    assert parse([item.raw for item in one_shot]) == one_shot


@given(stream=ANY_STREAM)
def test_one_byte_at_a_time_gives_the_one_shot_events(stream: bytes) -> None:
    assert parse(one_byte_at_a_time(stream)) == parse([stream])


@given(stream=ANY_STREAM)
def test_events_match_a_reading_of_the_spec(stream: bytes) -> None:
    assert parse([stream]) == reference_parse(stream)


@given(stream=ANY_STREAM, max_event_size=st.integers(1, 40), data=st.data())
def test_cap_gives_the_same_events_for_any_split(
    stream: bytes, max_event_size: int, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))

    items = parse(split_at(stream, cuts), max_event_size)

    assert merge_raw_runs(items) == merge_raw_runs(reference_parse(stream, max_event_size))
    assert joined_raw(items) == stream


NEW_DATA = st.binary(max_size=30)


@given(stream=styled_streams(), new_data=NEW_DATA)
def test_encoded_event_parses_back_with_the_new_data(stream: bytes, new_data: bytes) -> None:
    primer = b": start\n\n"
    for event in parse([primer + stream])[1:]:
        assert isinstance(event, SSEEvent)

        reparsed = parse([primer, encode_event(event, new_data)])[1:]

        expected_data = b"\n".join(re.split(rb"\r\n|\r|\n", new_data))
        assert reparsed == [SSEEvent(reparsed[0].raw, expected_data, event.line_ending)]


@given(stream=streams())
def test_encoding_keeps_every_line_that_is_not_data(stream: bytes) -> None:
    def other_lines(raw: bytes) -> list[bytes]:
        lines = re.split(rb"\r\n|\r|\n", raw)
        return [line for line in lines if line and not re.match(rb"data(:|$)", line)]

    primer = b": start\n\n"
    for event in parse([primer + stream])[1:]:
        if isinstance(event, SSEEvent):
            assert other_lines(encode_event(event, b"new")) == other_lines(event.raw)


@pytest.mark.parametrize("chunk", [b"data:", b"data:\n", b"data: x", b"data:\r\n"])
def test_short_chunks_are_not_taken_for_a_whole_event(chunk: bytes) -> None:
    parser = SSEParser()
    assert parser.match_plain_event(chunk) is None
    assert parser.feed(chunk) == []


@given(name=st.binary(max_size=12), data=st.binary(max_size=40))
def test_named_event_in_one_chunk_parses_as_the_line_scanner_does(name: bytes, data: bytes) -> None:
    chunk = b"event: " + name + b"\ndata: " + data + b"\n\n"
    primer = b": start\n\n"
    fast = SSEParser()
    fast.feed(primer)
    byte_by_byte = SSEParser()
    slow = [item for byte in primer + chunk for item in byte_by_byte.feed(bytes([byte]))]
    assert fast.feed(chunk) == slow[1:]


# An event name is text of one line (UTF-8: no lone surrogates).
EVENT_NAMES = st.text(st.characters(codec="utf-8", blacklist_characters="\r\n"), max_size=12)
ONE_LINE_DATA = st.binary(max_size=40).filter(lambda data: b"\r" not in data and b"\n" not in data)


@given(name=EVENT_NAMES, data=ONE_LINE_DATA)
def test_named_event_keeps_its_event_line_when_its_data_is_replaced(name: str, data: bytes) -> None:
    line = b"event: " + name.encode() + b"\n"
    event = SSEEvent(line + b"data: " + data + b"\n\n", data, b"\n")
    new = b'{"a": 1}'
    encoded = encode_event(event, new)
    assert encoded == line + b"data: " + new + b"\n\n"
    assert parse([b": start\n\n" + encoded])[1] == SSEEvent(encoded, new, b"\n")


def test_an_event_without_its_data_keeps_its_id_and_retry_lines() -> None:
    event = parse_event(b"id: 7\r\nevent: x\r\ndata: {}\r\nretry: 10\r\n\r\n")
    assert encode_without_data(event) == b"id: 7\r\nretry: 10\r\n\r\n"


def test_an_event_of_only_data_leaves_nothing() -> None:
    assert encode_without_data(parse_event(b"data: a\ndata: b\n\n")) == b""


@pytest.mark.parametrize("line_ending", [b"\n", b"\r", b"\r\n"])
def test_many_events_in_one_chunk_are_scanned_once(line_ending: bytes) -> None:
    # Linear time: the searches for line ends look at each byte a few times (for LF,
    # for CR), not at the rest of the body again after every line.
    body = (b"data: x" + line_ending + line_ending) * 20_000 + b"data: y" + line_ending
    scanned = 0

    class CountingBytes(bytes):
        def find(self, sub: Any, start: Any = 0, *rest: Any) -> int:
            nonlocal scanned
            found = bytes.find(self, sub, start, *rest)
            scanned += (len(self) if found < 0 else found + 1) - int(start)
            return found

    parser = SSEParser()
    parser.feed(b": start\n\n")
    events = parser.feed(CountingBytes(body))
    assert len(events) == 20_000
    # (The one-event shortcut looks at the chunk once more.)
    assert 0 < scanned < 4 * len(body)
