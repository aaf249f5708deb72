"""Recorded model outputs from the ``canitoolcall`` fixture set, as small typed values.

``canitoolcall`` ships one JSON Lines file per topic under ``_data/fixtures/<family>/`` and a
``family.json`` per family; its ``_data/spec/README.md`` defines the fields. Only the fields that
matter to a reasoning splitter are kept here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.abc import Traversable

FIXTURE_PACKAGE = "canitoolcall"


@dataclass(frozen=True, slots=True)
class RecordedOutput:
    """One raw completion and the message fields a correct parser recovers from it."""

    fixture_id: str
    family: str
    model: str
    """``models[0]``: the reference model whose template and format the output follows."""
    raw_output: str
    """The exact completion: after the generation prompt, before the stop token."""
    generation_prompt: str
    """The fixture's own ``generation_prompt``, else its model's default from ``family.json``."""
    thinking: bool | None
    """Whether the request enabled thinking; ``None`` is the template default."""
    is_malformed: bool
    """The fixture has ``expected_error`` (truncated or malformed output), not ``expected``."""
    expected_content: str | None
    expected_reasoning: str | None
    expected_tool_call_count: int


def _fixtures_root() -> Traversable:
    return files(FIXTURE_PACKAGE).joinpath("_data").joinpath("fixtures")


def _default_generation_prompts(family_dir: Traversable) -> dict[str, str]:
    family: dict[str, Any] = json.loads(family_dir.joinpath("family.json").read_text("utf-8"))
    return {
        str(model["repo"]): str(model.get("default_generation_prompt", ""))
        for model in family.get("reference_models", [])
    }


def _parse_fixture(record: dict[str, Any], default_prompts: dict[str, str]) -> RecordedOutput:
    model = str(record["models"][0])
    prompt = record.get("generation_prompt")
    expected: dict[str, Any] | None = record.get("expected")
    thinking = record.get("thinking")
    return RecordedOutput(
        fixture_id=str(record["id"]),
        family=str(record["family"]),
        model=model,
        raw_output=str(record["raw_output"]),
        generation_prompt=str(prompt) if prompt is not None else default_prompts.get(model, ""),
        thinking=bool(thinking) if thinking is not None else None,
        is_malformed=expected is None,
        expected_content=_optional_text(expected, "content"),
        expected_reasoning=_optional_text(expected, "reasoning_content"),
        expected_tool_call_count=len((expected or {}).get("tool_calls") or []),
    )


def _optional_text(expected: dict[str, Any] | None, key: str) -> str | None:
    value = (expected or {}).get(key)
    return str(value) if value is not None else None


@cache
def load_recorded_outputs() -> tuple[RecordedOutput, ...]:
    """Every fixture of every family, in a stable order (family, file, line)."""
    outputs: list[RecordedOutput] = []
    family_dirs = sorted(
        (entry for entry in _fixtures_root().iterdir() if entry.is_dir()),
        key=lambda entry: entry.name,
    )
    for family_dir in family_dirs:
        default_prompts = _default_generation_prompts(family_dir)
        jsonl_files = sorted(
            (entry for entry in family_dir.iterdir() if entry.name.endswith(".jsonl")),
            key=lambda entry: entry.name,
        )
        for jsonl_file in jsonl_files:
            # JSON Lines ends records at "\n" only; str.splitlines() would also cut at U+2028,
            # which a JSON string may hold unescaped.
            outputs.extend(
                _parse_fixture(json.loads(line), default_prompts)
                for line in jsonl_file.read_text("utf-8").split("\n")
                if line.strip()
            )
    return tuple(outputs)
