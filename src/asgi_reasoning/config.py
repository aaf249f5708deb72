"""Keyword-argument validation: every check runs once, at construction.

Errors name the argument first (``"preset: unknown preset 'x'; ..."``): a wrong type raises
``TypeError``, a wrong value ``ValueError``. Nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, TypeVar, cast

from .text.presets import TagFormat, resolve_tag_format

Mode: TypeAlias = Literal["separate", "strip", "passthrough"]
ResponsesReasoning: TypeAlias = Literal["text", "summary", "both"]
_Choice = TypeVar("_Choice", bound=str)
StartsInReasoning: TypeAlias = "bool | Callable[[Mapping[str, Any]], bool] | None"

MODES: Final[tuple[Mode, ...]] = ("separate", "strip", "passthrough")
RESPONSES_REASONING: Final[tuple[ResponsesReasoning, ...]] = ("text", "summary", "both")
DEFAULT_PATHS: Final = ("*/chat/completions", "*/v1/responses", "*/v1/messages")
DEFAULT_MAX_BODY_SIZE: Final = 32 * 1024 * 1024
# A message's own keys: writing reasoning into one of them would destroy the answer.
RESERVED_FIELDS: Final = frozenset({"content", "role", "tool_calls", "function_call", "refusal"})


def check_starts_in_reasoning(value: object) -> StartsInReasoning:
    if value is None or isinstance(value, bool) or callable(value):
        return cast("StartsInReasoning", value)
    raise TypeError(
        "starts_in_reasoning: expected True, False, None or a callable(request_json) -> bool, "
        f"got {type(value).__name__}"
    )


@dataclass(frozen=True, slots=True)
class Config:
    """The middleware's validated keyword arguments."""

    tag_format: TagFormat
    starts_in_reasoning: StartsInReasoning
    mode: Mode
    fields: tuple[str, ...]
    paths: tuple[str, ...]
    request_overrides: bool
    max_body_size: int
    responses_reasoning: ResponsesReasoning = "text"
    signature: str = ""


def make_config(
    *,
    preset: object,
    tags: object,
    starts_in_reasoning: object,
    mode: object,
    field: object,
    paths: object,
    request_overrides: object,
    max_body_size: object,
    responses_reasoning: object = "text",
    signature: object = "",
) -> Config:
    """Validate the middleware's keyword arguments."""
    return Config(
        tag_format=resolve_tag_format(preset, tags),
        starts_in_reasoning=check_starts_in_reasoning(starts_in_reasoning),
        mode=_check_mode(mode),
        fields=_check_field(field),
        paths=_check_paths(paths),
        request_overrides=_check_bool("request_overrides", request_overrides),
        max_body_size=_check_max_body_size(max_body_size),
        responses_reasoning=_check_choice(
            "responses_reasoning", responses_reasoning, RESPONSES_REASONING
        ),
        signature=_check_str("signature", signature),
    )


def _check_mode(mode: object) -> Mode:
    return _check_choice("mode", mode, MODES)


def _check_choice(name: str, value: object, choices: tuple[_Choice, ...]) -> _Choice:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {type(value).__name__}")
    for choice in choices:
        if value == choice:
            return choice
    raise ValueError(f"{name}: unknown value {value!r}; choose one of: {', '.join(choices)}")


def _check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {type(value).__name__}")
    return value


def _check_field(field: object) -> tuple[str, ...]:
    names = (field,) if isinstance(field, str) else field
    if not isinstance(names, tuple) or not names:
        raise TypeError("field: expected a field name or a non-empty tuple of names")
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"field: expected non-empty str names, got {name!r}")
        if name in RESERVED_FIELDS:
            raise ValueError(f"field: {name!r} is a message field of its own; use another name")
    return tuple(dict.fromkeys(names))


def _check_paths(paths: object) -> tuple[str, ...]:
    patterns = (paths,) if isinstance(paths, str) else paths
    if not isinstance(patterns, Sequence) or not all(isinstance(p, str) for p in patterns):
        raise TypeError("paths: expected a sequence of fnmatch patterns (str)")
    if not patterns:
        raise ValueError("paths: give at least one pattern, e.g. '*/chat/completions'")
    return tuple(cast("Sequence[str]", patterns))


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return value


def _check_max_body_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_body_size: expected an int number of bytes, got {value!r}")
    if value <= 0:
        raise ValueError(f"max_body_size: must be positive, got {value}")
    return value
