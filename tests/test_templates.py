"""Byte templates: an event filled in is the serialisation of the event with those values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_reasoning.wire import json as _json
from asgi_reasoning.wire.templates import (
    TEXT_HOLE,
    ByteTemplate,
    number_hole,
    read_text,
    written_text,
)

# Text as servers stream it, lone surrogates and control characters included.
TEXTS = st.text(st.characters(codec="utf-8") | st.sampled_from("\ud83d\x01"))


def chat_chunk(text: Any) -> dict[str, Any]:
    return {"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}], "model": "m"}


def responses_delta(text: Any, number: Any, *, number_first: bool) -> dict[str, Any]:
    if number_first:
        return {"type": "response.output_text.delta", "sequence_number": number, "delta": text}
    return {"delta": text, "item_id": "msg_1", "sequence_number": number, "type": "t"}


@given(text=TEXTS)
def test_a_filled_text_template_is_the_event_serialised(text: str) -> None:
    template = ByteTemplate.cut(b"data: " + _json.dumps(chat_chunk(TEXT_HOLE)) + b"\n\n")
    event = b"data: " + _json.dumps(chat_chunk(text)) + b"\n\n"
    matched = template.match(event)
    assert matched is not None
    token, number = matched
    assert number == -1
    assert read_text(token) == text
    assert template.fill(written_text(token, text), 0) == event


@given(text=TEXTS, number=st.integers(0, 10**12), number_first=st.booleans())
def test_a_numbered_template_reads_and_writes_the_number(
    text: str, number: int, number_first: bool
) -> None:
    holed = responses_delta(TEXT_HOLE, number_hole(0), number_first=number_first)
    template = ByteTemplate.cut(_json.dumps(holed))
    event = _json.dumps(responses_delta(text, number, number_first=number_first))
    assert template.match(event) is not None
    token, read_number = template.match(event)  # type: ignore[misc]
    assert (read_text(token), read_number) == (text, number)
    assert template.fill(written_text(token, text), number) == event


def test_numbers_after_the_first_are_offsets_from_it() -> None:
    events = [
        {"type": "a", "sequence_number": number_hole(0), "delta": TEXT_HOLE},
        {"type": "b", "sequence_number": number_hole(1), "delta": TEXT_HOLE},
    ]
    template = ByteTemplate.cut(b"".join(map(_json.dumps, events)))
    assert template.fill(b'"x"', 41) == (
        b'{"type":"a","sequence_number":41,"delta":"x"}'
        b'{"type":"b","sequence_number":42,"delta":"x"}'
    )


@pytest.mark.parametrize(
    "event",
    [
        b'{"id":"c2","choices":[{"index":0,"delta":{"content":"a"}}],"model":"m"}',  # other id
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}}],"model":"m"} ',
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":1}}],"model":"m"}',
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":"a","x":"b"}}],"model":"m"}',
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":"a\x01"}}],"model":"m"}',
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":"\xff"}}],"model":"m"}',
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":"a\\"}}],"model":"m"}',
        b'{"id":"c1","choices":[{"index":0,"delta":{"content":}}],"model":"m"}',
    ],
)
def test_anything_but_one_valid_string_in_the_hole_is_not_read(event: bytes) -> None:
    template = ByteTemplate.cut(_json.dumps(chat_chunk(TEXT_HOLE)))
    matched = template.match(event)
    assert matched is None or read_text(matched[0]) is None


@pytest.mark.parametrize("number", [b"-1", b"01", b"1.0", b"1e3", b'"1"', b""])
def test_a_number_not_written_as_json_writes_it_is_not_read(number: bytes) -> None:
    template = ByteTemplate.cut(
        _json.dumps({"sequence_number": number_hole(0), "delta": TEXT_HOLE})
    )
    assert template.match(b'{"sequence_number":' + number + b',"delta":"a"}') is None


def test_escaped_text_is_written_as_the_backend_writes_it() -> None:
    token = b'"\\u003cthink\\u003e\\/"'
    text = read_text(token)
    assert text == "<think>/"
    assert written_text(token, text) == b'"<think>/"'
