"""Bad configuration fails at construction, with a message that names the argument."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_reasoning import PRESETS, ReasoningSplitter
from asgi_reasoning.config import DEFAULT_MAX_BODY_SIZE, make_config
from asgi_reasoning.text.presets import check_no_marker_is_a_prefix, resolve_tag_format

DEFAULTS: dict[str, Any] = {
    "preset": "think",
    "tags": None,
    "starts_in_reasoning": None,
    "mode": "separate",
    "field": "reasoning_content",
    "paths": ("*/chat/completions",),
    "request_overrides": True,
    "max_body_size": DEFAULT_MAX_BODY_SIZE,
}


def config_with(**changes: Any) -> object:
    return make_config(**{**DEFAULTS, **changes})


def test_defaults_are_valid() -> None:
    config = make_config(**DEFAULTS)
    assert config.tag_format == PRESETS["think"]
    assert config.fields == ("reasoning_content",)


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"preset: unknown preset 'qwen9'.*deepseek_r1.*auto"):
        ReasoningSplitter(preset="qwen9")


@pytest.mark.parametrize(
    ("tags", "error", "message"),
    [
        ("<think>", TypeError, "tags: expected a list"),
        ([("<think>",)], TypeError, "tags: expected \\(start, end\\)"),
        ([("<a>", 3)], TypeError, "tags: expected \\(start, end\\)"),
        ([], ValueError, "tags: give at least one"),
        ([("", "</a>")], ValueError, "tags: markers must not be empty"),
        ([("<a>", "<a>")], ValueError, "tags: start and end must differ"),
        ([("<a", "</a>"), ("<ab>", "</ab>")], ValueError, "tags: opener '<a' is a prefix"),
        ([("<a>", "<b>"), ("<b>", "<c>")], ValueError, "tags: '<b>' is both"),
    ],
)
def test_bad_tags_are_rejected(tags: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        resolve_tag_format("think", tags)


def test_same_opener_may_end_with_several_closers() -> None:
    fmt = resolve_tag_format("think", [("<r>", "</r>"), ("<r>", "</reason>")])
    assert fmt.pairs == (("<r>", "</r>"), ("<r>", "</reason>"))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_passes_the_marker_checks(name: str) -> None:
    check_no_marker_is_a_prefix(PRESETS[name])
    assert resolve_tag_format(name, None) is PRESETS[name]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"preset": 3}, TypeError, "preset: expected a str"),
        ({"starts_in_reasoning": "yes"}, TypeError, "starts_in_reasoning:"),
        ({"mode": "hide"}, ValueError, "mode: unknown value 'hide'; choose one of: separate"),
        ({"mode": None}, TypeError, "mode: expected a str"),
        ({"field": "content"}, ValueError, "field: 'content' is a message field"),
        ({"field": ()}, TypeError, "field: expected"),
        ({"field": ["reasoning"]}, TypeError, "field: expected"),
        ({"paths": [1]}, TypeError, "paths: expected"),
        ({"paths": ()}, ValueError, "paths: give at least one"),
        ({"request_overrides": 1}, TypeError, "request_overrides: expected True or False"),
        ({"max_body_size": 0}, ValueError, "max_body_size: must be positive"),
        ({"max_body_size": True}, TypeError, "max_body_size: expected an int"),
        ({"max_body_size": 1.5}, TypeError, "max_body_size: expected an int"),
    ],
)
def test_bad_middleware_arguments_are_rejected(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        config_with(**changes)


def test_field_tuple_writes_both_names() -> None:
    config = make_config(**{**DEFAULTS, "field": ("reasoning_content", "reasoning")})
    assert config.fields == ("reasoning_content", "reasoning")


def test_a_single_path_pattern_may_be_a_string() -> None:
    assert make_config(**{**DEFAULTS, "paths": "/v1/chat/completions"}).paths == (
        "/v1/chat/completions",
    )


def test_starts_in_reasoning_accepts_a_callable() -> None:
    def decide(request: object) -> bool:
        return True

    assert make_config(**{**DEFAULTS, "starts_in_reasoning": decide}).starts_in_reasoning is decide


def test_splitter_rejects_a_non_bool_starts_in_reasoning() -> None:
    with pytest.raises(TypeError, match="starts_in_reasoning"):
        ReasoningSplitter(starts_in_reasoning="yes")
