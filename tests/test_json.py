"""The JSON backend: what Python servers write is read, and both backends write the same bytes."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_reasoning.wire import json as wire_json

if TYPE_CHECKING:
    from collections.abc import Callable

orjson = pytest.importorskip("orjson")

LARGEST = sys.float_info.max


@dataclass(frozen=True)
class Backend:
    """Reading and writing JSON one way."""

    loads: Callable[[bytes], Any]
    dumps: Callable[[Any], bytes]


ORJSON = Backend(wire_json.loads, wire_json.dumps)
"""With orjson installed: orjson first, the stdlib for what orjson refuses or misreads."""
STDLIB = Backend(wire_json._loads_stdlib, wire_json._dumps_stdlib)
"""What ``loads`` and ``dumps`` run without orjson. Called, not reached by hiding orjson: a
compiled module keeps the orjson it imported whatever its ``orjson`` attribute says."""


@pytest.fixture(params=[ORJSON, STDLIB], ids=["orjson", "stdlib"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Run the test with orjson installed, and as if it were not."""
    return cast("Backend", request.param)


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * depth + inner + b"}" * depth


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"NaN", None),
        (b"[Infinity,-Infinity]", [LARGEST, -LARGEST]),
        (b"[1e400,-1e400]", [LARGEST, -LARGEST]),
        (b"18446744073709551616", 2**64),
        (b"-9223372036854775809", -(2**63) - 1),
        (b"123456789012345678901234567890", 123456789012345678901234567890),
        (b'"\\ud83d"', "\ud83d"),
        (b'{"logprob":-Infinity}', {"logprob": -LARGEST}),
    ],
)
def test_what_python_servers_write_is_read(backend: Backend, data: bytes, value: object) -> None:
    assert backend.loads(data) == value


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (float("nan"), b"null"),
        (float("inf"), b"null"),
        (2**64, b"18446744073709551616"),
        ("\ud83d", b'"\\ud83d"'),
        (["\ud83d", "\ude00é"], b'["\\ud83d","\\ude00\xc3\xa9"]'),
        (
            [1e-5, 2.5e-5, 1e-6, 1.5e-7, -1e-9, 1e-10, 1e16],
            b"[0.00001,0.000025,1e-6,1.5e-7,-1e-9,1e-10,1e+16]",
        ),
    ],
)
def test_what_is_written_is_strict_json(backend: Backend, value: object, written: bytes) -> None:
    assert backend.dumps(value) == written
    # A strict parser (orjson refuses NaN, Infinity and lone surrogates as UTF-8) reads it
    # whenever its text is valid UTF-8.
    json.loads(written, parse_constant=lambda name: pytest.fail(f"wrote {name}"))


def test_infinity_read_and_written_back_stays_the_largest_double(backend: Backend) -> None:
    written = backend.dumps(backend.loads(b"[-Infinity,1e999]"))
    assert written == b"[-1.7976931348623157e+308,1.7976931348623157e+308]"
    assert orjson.loads(written) == [-LARGEST, LARGEST]
    assert math.exp(orjson.loads(written)[0]) == 0.0


def test_big_integers_survive_a_round_trip(backend: Backend) -> None:
    data = b'{"token_ids":[18446744073709551617,-9223372036854775809,1]}'
    assert backend.dumps(backend.loads(data)) == data


@pytest.mark.parametrize("depth", [1, 254, 255, 999, 1000, 1024])
def test_nesting_up_to_the_limit_is_read_and_written(backend: Backend, depth: int) -> None:
    data = nested(depth, b"NaN")
    assert backend.dumps(backend.loads(data)) == nested(depth, b"null")


def test_nesting_is_read_however_deep_the_callers_stack(backend: Backend) -> None:
    data = nested(990, b"NaN")

    def at_depth(frames: int) -> bytes:
        if frames:
            return at_depth(frames - 1)
        return backend.dumps(backend.loads(data))

    assert at_depth(sys.getrecursionlimit() - 200) == nested(990, b"null")


@pytest.mark.parametrize("data", [nested(1025), b"[" * 100_000 + b"]" * 100_000])
def test_nesting_beyond_the_limit_is_refused(backend: Backend, data: bytes) -> None:
    with pytest.raises(wire_json.JSONDecodeError):
        backend.loads(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[1,]",
        b'{"a"}',
        b"[1 2]",
        b"01",
        b"[1]x",
        b"\xff",
        b'"\x01"',
        b"\xef\xbb\xbf{}",
        '{"a": 1}'.encode("utf-16"),
        b"nan",
        b"+1",
    ],
)
def test_what_is_not_json_is_refused(backend: Backend, data: bytes) -> None:
    with pytest.raises(wire_json.JSONDecodeError):
        backend.loads(data)


def test_the_iterative_parser_refuses_what_the_recursive_one_does() -> None:
    for data in [
        "[1,]",
        '{"a"}',
        "[1 2]",
        "",
        '{"a":1,}',
        "tru",
        "01",
        "[1]x",
        "{1:2}",
        "[",
        '{"a":',
    ]:
        with pytest.raises(ValueError):
            wire_json._loads_iteratively(data)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_both_backends_write_the_same_bytes(value: object) -> None:
    assert wire_json.dumps(value) == STDLIB.dumps(value)


@given(json_values)
def test_both_backends_read_back_what_was_written(value: object) -> None:
    written = wire_json.dumps(value)
    assert wire_json.loads(written) == value
    assert STDLIB.loads(written) == value
    assert wire_json._loads_iteratively(written.decode("utf-8")) == value


@given(json_values)
def test_the_iterative_encoder_writes_what_the_recursive_one_does(value: object) -> None:
    assert wire_json._dumps_iteratively(value).encode("utf-8", "surrogatepass") == json.dumps(
        value, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8", "surrogatepass")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_formatted_as_orjson_formats_them(number: float) -> None:
    assert STDLIB.dumps([number, {"x": number}]) == orjson.dumps([number, {"x": number}])


@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\ud83d\ude00\udfff")))
def test_strings_with_lone_surrogates_round_trip(text: str) -> None:
    written = wire_json.dumps({"content": text})
    assert written == STDLIB.dumps({"content": text})
    written.decode("utf-8")  # valid UTF-8, always
    assert wire_json.loads(written) == {"content": text}


def test_string_bytes_is_how_a_server_escapes_text() -> None:
    assert wire_json.string_bytes('<"\\\n') == b'<\\"\\\\\\n'
