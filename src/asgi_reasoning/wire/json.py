"""JSON in and out: orjson when the ``[fast]`` extra is installed, the stdlib otherwise.

Both produce the same compact UTF-8 text, so the choice changes speed, not output.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - exercised by the CI job without the extra
    orjson = None  # type: ignore[assignment]

__all__ = ["JSONDecodeError", "dumps", "loads", "string_bytes"]

JSONDecodeError: tuple[type[Exception], ...]


if orjson is not None:
    JSONDecodeError = (orjson.JSONDecodeError,)

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

else:  # pragma: no cover
    JSONDecodeError = (ValueError, RecursionError)
    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def loads(data: bytes) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> bytes:
        return _encoder.encode(value).encode("utf-8")


def string_bytes(text: str) -> bytes:
    """How ``text`` looks inside a JSON string written by a server (escaped where JSON must)."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode()
