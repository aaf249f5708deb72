"""JSON in and out: orjson when the ``[fast]`` extra is installed, the stdlib otherwise.

Both backends read the same inputs to the same values and write the same values to the same
bytes (compact, UTF-8, key order kept, numbers formatted as orjson formats them), so the
choice changes speed, not output. orjson is tried first; what it refuses or would read
wrongly goes to the stdlib parser, which reads everything Python's own ``json`` module writes.

Intentional divergences from a strict RFC 8259 parser, so that bodies written by Python
servers (``json.dumps`` defaults) are understood rather than passed through unread:

1. ``NaN``, ``Infinity`` and ``-Infinity`` are accepted. ``NaN`` is read as ``None`` and
   written back as ``null``: JSON has no number for "not a number", and ``null`` is what
   ``JSON.stringify`` and orjson write for it. ``±Infinity``, and a number too large for a
   double (``1e400``), are read as ``±1.7976931348623157e308``, the largest finite double:
   a strict client (JavaScript, Go, Rust, orjson) parses it, it stays a number of the
   right sign that compares above (or below) every other one, and ``exp()`` of a
   ``-Infinity`` log-probability written so is still ``0.0``. A body that comes back
   unchanged is forwarded as the app's own bytes, these tokens included.
2. Integers of any size are kept exact (orjson would read one beyond 64 bits as a float).
3. A lone UTF-16 surrogate escape (``"\\ud83d"``, which Python writes for a string cut
   inside an emoji) is accepted, and written back as the same ``\\uXXXX`` escape, since it
   has no UTF-8 form.
4. Nesting is accepted up to ``MAX_DEPTH`` levels (1,024, orjson's own limit; Python's
   encoder cannot write deeper than its recursion limit of 1,000), whatever the depth of
   the caller's stack: past the stdlib parser's recursion limit, an iterative one reads it.
"""

from __future__ import annotations

import json
import re
import sys
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

try:
    import orjson
except ImportError:  # pragma: no cover - exercised by the CI job without the extra
    orjson = None  # type: ignore[assignment]

__all__ = ["MAX_DEPTH", "JSONDecodeError", "dumps", "loads", "string_bytes"]

MAX_DEPTH: Final = 1024
LARGEST_FLOAT: Final = sys.float_info.max

JSONDecodeError: Final[tuple[type[Exception], ...]] = (ValueError, RecursionError)
"""What ``loads`` raises for bytes it cannot read (orjson's error is a ``ValueError``)."""

# The parsed value of each non-finite constant Python writes (divergence 1).
_CONSTANTS: Final[dict[str, float | None]] = {
    "NaN": None,
    "Infinity": LARGEST_FLOAT,
    "-Infinity": -LARGEST_FLOAT,
}

# orjson reads an integer outside the 64-bit range as a float, silently. Such an integer
# has at least 19 digits (-9223372036854775809); so few other JSON values do (a double's
# repr has at most 17) that the stdlib reading every body with such a run costs little.
_DIGITS_AS_ZEROS: Final = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGIT_RUN: Final = b"0" * 19

_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS: Final[dict[str, Any]] = {"true": True, "false": False, "null": None, **_CONSTANTS}
_LITERAL: Final = re.compile(r"true|false|null|NaN|Infinity|-Infinity")

# In stdlib output: a string (skipped), a non-finite constant, or a float whose repr
# differs from orjson's (`1e-05`, `1.5e-07`: orjson writes `0.00001`, `1.5e-7`).
_STDLIB_ONLY_TOKEN: Final = re.compile(
    r'"[^"\\]*(?:\\.[^"\\]*)*"|-?Infinity|NaN|(-?)([0-9])(?:\.([0-9]+))?e-0([0-9])'
)
_SURROGATE: Final = re.compile("[\\ud800-\\udfff]")  # escapes: mypyc rejects surrogate literals


def _read_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return LARGEST_FLOAT if value > 0 else -LARGEST_FLOAT
    return value


def _read_constant(name: str) -> float | None:
    return _CONSTANTS[name]


_DECODER: Final = json.JSONDecoder(parse_float=_read_float, parse_constant=_read_constant)
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def loads(data: bytes) -> Any:
    """The value of a JSON document given as UTF-8 bytes; ``JSONDecodeError`` if it is none."""
    if orjson is not None and data.translate(_DIGITS_AS_ZEROS).find(_LONG_DIGIT_RUN) < 0:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return _loads_stdlib(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON for ``value``, the same bytes whichever backend writes it."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            # A big integer, a lone surrogate, or nesting beyond orjson's 254 levels.
            pass
    return _dumps_stdlib(value)


def string_bytes(text: str) -> bytes:
    """How ``text`` looks inside a JSON string written by a server (escaped where JSON must)."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode()


def _loads_stdlib(data: bytes) -> Any:
    # Decoded here, strictly: json.loads(bytes) would also guess UTF-16 and UTF-32.
    text = data.decode("utf-8")
    try:
        return _DECODER.decode(text)
    except RecursionError:
        return _loads_iteratively(text)


def _dumps_stdlib(value: Any) -> bytes:
    try:
        text = _ENCODER.encode(value)
    except RecursionError:
        text = _dumps_iteratively(value)
    if "e-0" in text or "NaN" in text or "Infinity" in text:
        text = _STDLIB_ONLY_TOKEN.sub(_as_orjson_writes, text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Only inside strings can a surrogate be, where its escape means the same.
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def _as_orjson_writes(match: re.Match[str]) -> str:
    token = match.group()
    if token[0] == '"':
        return token
    if token[-1] in "Nny":
        # NaN, Infinity, -Infinity: orjson writes every non-finite float as null.
        return "null"
    sign, first, rest, exponent = match.groups()
    if exponent == "5":
        # orjson writes decimals down to 1e-5 and exponents below.
        return f"{sign}0.0000{first}{rest or ''}"
    fraction = f".{rest}" if rest else ""
    return f"{sign}{first}{fraction}e-{exponent}"


def _loads_iteratively(text: str) -> Any:
    """``text`` parsed with an explicit stack, for nesting the recursive parser cannot take."""
    stack: list[dict[str, Any] | list[Any]] = []
    keys: list[str] = []
    position = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    while True:
        opener = text[position : position + 1]
        value: Any
        if opener in ("{", "["):
            if len(stack) >= MAX_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
            closer = "}" if opener == "{" else "]"
            position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
            if text.startswith(closer, position):
                value = {} if opener == "{" else []
                position += 1
            else:
                if opener == "{":
                    stack.append({})
                    key, position = _read_key(text, position)
                    keys.append(key)
                else:
                    stack.append([])
                    keys.append("")
                continue
        elif opener == '"':
            value, position = scanstring(text, position + 1)
        else:
            value, position = _read_scalar(text, position)
        # Put the value in its container; close every container that ends here.
        while True:
            position = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]
            if not stack:
                if position != len(text):
                    raise ValueError(f"extra data at character {position}")
                return value
            container = stack[-1]
            if isinstance(container, dict):
                container[keys[-1]] = value
            else:
                container.append(value)
            separator = text[position : position + 1]
            if separator == ",":
                position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
                if isinstance(container, dict):
                    keys[-1], position = _read_key(text, position)
                break
            if separator != ("}" if isinstance(container, dict) else "]"):
                raise ValueError(f"expected ',' or a closing bracket at character {position}")
            position += 1
            value = stack.pop()
            keys.pop()


def _read_key(text: str, position: int) -> tuple[str, int]:
    if not text.startswith('"', position):
        raise ValueError(f"expected a key at character {position}")
    key, position = scanstring(text, position + 1)
    position = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]
    if not text.startswith(":", position):
        raise ValueError(f"expected ':' at character {position}")
    return key, _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]


def _read_scalar(text: str, position: int) -> tuple[Any, int]:
    # Literals first: "-Infinity" also starts like a number.
    literal = _LITERAL.match(text, position)
    if literal is not None:
        return _LITERALS[literal.group()], literal.end()
    number = _NUMBER.match(text, position)
    if number is None:
        raise ValueError(f"expected a value at character {position}")
    token = number.group()
    if number.group(1) or number.group(2):
        return _read_float(token), number.end()
    return int(token), number.end()


def _dumps_iteratively(value: Any) -> str:
    """``value`` written with an explicit stack, for nesting the recursive encoder cannot take."""
    parts: list[str] = []
    # Per open container: its remaining items, its closer, and whether it is an object.
    stack: list[tuple[Iterator[Any], str, bool]] = []
    item = value
    while True:
        if isinstance(item, dict):
            parts.append("{")
            stack.append((iter(item.items()), "}", True))
        elif isinstance(item, (list, tuple)):
            parts.append("[")
            stack.append((iter(item), "]", False))
        else:
            parts.append(_ENCODER.encode(item))
        while stack:
            items, closer, is_object = stack[-1]
            following: Any = next(items, _END)
            if following is _END:
                parts.append(closer)
                stack.pop()
                continue
            if parts[-1] not in ("{", "["):
                parts.append(",")
            if is_object:
                key, item = following
                parts.append(_ENCODER.encode(str(key)) + ":")
            else:
                item = following
            break
        else:
            return "".join(parts)


_END: Final = object()
