"""Keyword-argument validation: every check runs once, at construction.

Errors name the argument first (``"preset: unknown preset 'x'; ..."``): a wrong type raises
``TypeError``, a wrong value ``ValueError``; inside ``models`` the entry is named too
(``"models[qwen3*].history: unknown value ..."``). Nothing here runs per request but
``Config.for_model``, one precompiled match per ``models`` entry.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, TypeVar, cast

from .effort import EffortSwitch, custom_switch, switch_for
from .history import DEFAULT_HISTORY_FIELD, HISTORY_RULES, HistoryRule, recommended_history
from .text.presets import TagFormat, normalize_preset_name, resolve_tag_format

Mode: TypeAlias = Literal["separate", "strip", "passthrough"]
ResponsesReasoning: TypeAlias = Literal["text", "summary", "both"]
_Choice = TypeVar("_Choice", bound=str)
StartsInReasoning: TypeAlias = "bool | Callable[[Mapping[str, Any]], bool] | None"
HistoryOption: TypeAlias = Literal["keep", "field", "inline", "strip", "harmony", "auto"]
EffortOption: TypeAlias = "bool | str | None"
ModelSettings: TypeAlias = "Mapping[str, str | Mapping[str, Any]]"

MODES: Final[tuple[Mode, ...]] = ("separate", "strip", "passthrough")
RESPONSES_REASONING: Final[tuple[ResponsesReasoning, ...]] = ("text", "summary", "both")
DEFAULT_PATHS: Final = ("*/chat/completions", "*/v1/responses", "*/v1/messages")
DEFAULT_MAX_BODY_SIZE: Final = 32 * 1024 * 1024
# A message's own keys: writing reasoning into one of them would destroy the answer.
RESERVED_FIELDS: Final = frozenset({"content", "role", "tool_calls", "function_call", "refusal"})
HISTORY_OPTIONS: Final[tuple[HistoryOption, ...]] = (*HISTORY_RULES, "auto")
# What a `models` entry may set: everything decided per request. The paths and the body
# limit are decided before the request's model is known.
PER_MODEL_OPTIONS: Final = (
    "preset",
    "tags",
    "starts_in_reasoning",
    "mode",
    "field",
    "request_overrides",
    "responses_reasoning",
    "signature",
    "history",
    "history_field",
    "effort",
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
    responses_reasoning: ResponsesReasoning = "summary"
    signature: str = ""
    preset: str = "think"
    """The preset's normalised name: the key of the history and effort tables."""
    history: HistoryRule = "keep"
    """The rule for earlier turns' reasoning, ``"auto"`` already resolved."""
    history_field: str = DEFAULT_HISTORY_FIELD
    effort: bool = False
    """Translate the client's effort switch into ``template_switch``."""
    template_switch: EffortSwitch | None = None
    """The family's chat-template switch (read for the start state even with effort off)."""
    models: tuple[ModelRoute, ...] = ()

    @property
    def rewrites_requests(self) -> bool:
        """Some request, for some model, may reach the app changed."""
        return (
            self.history != "keep"
            or (self.effort and self.template_switch is not None)
            or any(route.config.rewrites_requests for route in self.models)
        )

    def for_model(self, model: object) -> Config:
        """The settings for a request naming ``model``: its first matching entry, or these."""
        if not self.models or not isinstance(model, str):
            return self
        name = model.lower()
        for route in self.models:
            if route.pattern.match(name):
                return route.config
        return self


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """One ``models`` entry: its glob, compiled, and the settings it resolves to."""

    glob: str
    pattern: re.Pattern[str]
    config: Config


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
    responses_reasoning: object = "summary",
    signature: object = "",
    history: object = "keep",
    history_field: object = DEFAULT_HISTORY_FIELD,
    effort: object = False,
    models: object = None,
) -> Config:
    """Validate the middleware's keyword arguments.

    ``models`` entries are resolved here, each into a whole ``Config``: an entry's keys
    override the top-level ones, and an entry that names a ``preset`` without ``tags``
    gets that preset's own markers (top-level ``tags`` belong to the top-level preset).
    ``history="auto"`` and ``effort=True`` resolve against the entry's preset.
    """
    options: dict[str, object] = {
        "preset": preset,
        "tags": tags,
        "starts_in_reasoning": starts_in_reasoning,
        "mode": mode,
        "field": field,
        "request_overrides": request_overrides,
        "responses_reasoning": responses_reasoning,
        "signature": signature,
        "history": history,
        "history_field": history_field,
        "effort": effort,
    }
    checked_paths = _check_paths(paths)
    checked_max_body_size = _check_max_body_size(max_body_size)
    top = _make_one(options, checked_paths, checked_max_body_size)
    routes = tuple(
        ModelRoute(
            glob=glob,
            pattern=re.compile(fnmatch.translate(glob.lower())),
            config=_make_entry(glob, entry, options, checked_paths, checked_max_body_size),
        )
        for glob, entry in _check_models(models)
    )
    return Config(**{**_fields(top), "models": routes})


def _make_one(options: Mapping[str, object], paths: tuple[str, ...], max_body_size: int) -> Config:
    preset = options["preset"]
    tag_format = resolve_tag_format(preset, options["tags"])
    preset_name = normalize_preset_name(cast("str", preset))
    return Config(
        tag_format=tag_format,
        starts_in_reasoning=check_starts_in_reasoning(options["starts_in_reasoning"]),
        mode=_check_mode(options["mode"]),
        fields=_check_field(options["field"]),
        paths=paths,
        request_overrides=_check_bool("request_overrides", options["request_overrides"]),
        max_body_size=max_body_size,
        responses_reasoning=_check_choice(
            "responses_reasoning", options["responses_reasoning"], RESPONSES_REASONING
        ),
        signature=_check_str("signature", options["signature"]),
        preset=preset_name,
        history=_check_history(options["history"], preset_name),
        history_field=_check_history_field(options["history_field"]),
        effort=options["effort"] not in (False, None),
        template_switch=_check_effort(options["effort"], preset_name),
    )


def _fields(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in Config.__dataclass_fields__}


def _check_models(models: object) -> list[tuple[str, object]]:
    if models is None:
        return []
    if not isinstance(models, Mapping):
        raise TypeError(
            "models: expected a mapping of model globs to a preset name or a mapping of "
            f"options, got {type(models).__name__}"
        )
    entries: list[tuple[str, object]] = []
    for glob, entry in models.items():
        if not isinstance(glob, str) or not glob:
            raise TypeError(f"models: expected non-empty str globs, got {glob!r}")
        entries.append((glob, entry))
    return entries


def _make_entry(
    glob: str,
    entry: object,
    top: Mapping[str, object],
    paths: tuple[str, ...],
    max_body_size: int,
) -> Config:
    if isinstance(entry, str):
        entry = {"preset": entry}
    if not isinstance(entry, Mapping):
        raise TypeError(
            f"models[{glob}]: expected a preset name or a mapping of options, "
            f"got {type(entry).__name__}"
        )
    for key in entry:
        if key not in PER_MODEL_OPTIONS:
            raise ValueError(
                f"models[{glob}].{key}: not a per-model option; choose from: "
                + ", ".join(PER_MODEL_OPTIONS)
            )
    options = {**top, **entry}
    if "preset" in entry and "tags" not in entry:
        options["tags"] = None
    try:
        return _make_one(options, paths, max_body_size)
    except (TypeError, ValueError) as error:
        raise type(error)(f"models[{glob}].{error}") from None


def _check_history(value: object, preset: str) -> HistoryRule:
    choice = _check_choice("history", value, HISTORY_OPTIONS)
    return recommended_history(preset) if choice == "auto" else choice


def _check_history_field(value: object) -> str:
    name = _check_str("history_field", value)
    if not name:
        raise ValueError("history_field: must not be empty")
    if name in RESERVED_FIELDS:
        raise ValueError(f"history_field: {name!r} is a message field of its own")
    return name


def _check_effort(value: object, preset: str) -> EffortSwitch | None:
    """The switch to write (``effort`` on) or read (off): the family's, or a named key."""
    if isinstance(value, str):
        if not value or value in RESERVED_FIELDS:
            raise ValueError(f"effort: expected a chat_template_kwargs key, got {value!r}")
        return custom_switch(value)
    if value is None or isinstance(value, bool):
        return switch_for(preset)
    raise TypeError(
        "effort: expected True (the preset's switch), False, or a chat_template_kwargs "
        f"key, got {type(value).__name__}"
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
