"""Keyword-argument validation: every check runs once, at construction.

Errors name the argument first (``"preset: unknown preset 'x'; ..."``): a wrong type raises
``TypeError``, a wrong value ``ValueError``. Nothing here runs per request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, cast

from ._presets import PRESETS, TagFormat, normalize_preset_name

Mode: TypeAlias = Literal["separate", "strip", "passthrough"]
StartsInReasoning: TypeAlias = "bool | Callable[[Mapping[str, Any]], bool] | None"

MODES: Final[tuple[Mode, ...]] = ("separate", "strip", "passthrough")
DEFAULT_PATHS: Final = ("*/chat/completions",)
DEFAULT_MAX_BODY_SIZE: Final = 32 * 1024 * 1024
# A message's own keys: writing reasoning into one of them would destroy the answer.
RESERVED_FIELDS: Final = frozenset({"content", "role", "tool_calls", "function_call", "refusal"})


def resolve_tag_format(preset: object, tags: object) -> TagFormat:
    """The preset's format, with its pairs replaced by ``tags`` when given."""
    if not isinstance(preset, str):
        raise TypeError(f"preset: expected a str, got {type(preset).__name__}")
    fmt = PRESETS.get(normalize_preset_name(preset))
    if fmt is None:
        raise ValueError(f"preset: unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    if tags is not None:
        fmt = dataclasses.replace(fmt, pairs=_check_tags(tags))
        check_no_marker_is_a_prefix(fmt)
    # A preset's own markers are checked by the test suite, not on every construction.
    return fmt


def _check_tags(tags: object) -> tuple[tuple[str, str], ...]:
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Sequence):
        raise TypeError("tags: expected a list of (start, end) string pairs")
    pairs: list[tuple[str, str]] = []
    for pair in tags:
        if (
            isinstance(pair, (str, bytes))
            or not isinstance(pair, Sequence)
            or len(pair) != 2
            or not all(isinstance(marker, str) for marker in pair)
        ):
            raise TypeError(f"tags: expected (start, end) string pairs, got {pair!r}")
        start, end = cast("tuple[str, str]", tuple(pair))
        if not start or not end:
            raise ValueError(f"tags: markers must not be empty, got {(start, end)!r}")
        if start == end:
            raise ValueError(f"tags: start and end must differ, got {(start, end)!r}")
        pairs.append((start, end))
    if not pairs:
        raise ValueError("tags: give at least one (start, end) pair, or leave tags=None")
    return tuple(dict.fromkeys(pairs))


def check_no_marker_is_a_prefix(fmt: TagFormat) -> None:
    # One marker being a prefix of another would make the splitter wait for text that may
    # never come ("<a" vs "<ab>") and make a marker's role depend on what follows it.
    openers = {start for start, _ in fmt.pairs}
    closers = {end for _, end in fmt.pairs}
    roles = [("opener", m) for m in openers] + [("closer", m) for m in closers]
    roles += [("implicit end", m) for m in fmt.implicit_ends]
    roles += [("tool-call start", m) for m in fmt.tool_call_starts]
    for role, marker in roles:
        for other_role, other in roles:
            if marker == other and role != other_role:
                raise ValueError(f"tags: {marker!r} is both an {role} and a {other_role}")
            if marker != other and other.startswith(marker):
                raise ValueError(
                    f"tags: {role} {marker!r} is a prefix of {other_role} {other!r}, "
                    "so neither can be recognised as it streams"
                )


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
    )


def _check_mode(mode: object) -> Mode:
    if not isinstance(mode, str):
        raise TypeError(f"mode: expected a str, got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode: unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return mode


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
