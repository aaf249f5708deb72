"""Presets: every family's own output, split as its engines split it, however it is cut.

The samples follow each family's chat template and the cases of the engines' own parser tests
(vLLM ``tests/reasoning/test_*_reasoning_parser.py``, SGLang
``test/srt/test_reasoning_parser.py``): the output as it comes after the generation prompt.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_reasoning import PRESETS, ReasoningMiddleware, ReasoningSplitter
from asgi_reasoning.text.presets import (
    PRESET_ALIASES,
    check_no_marker_is_a_prefix,
    normalize_preset_name,
    resolve_tag_format,
)

from .asgi_helpers import (
    Assembled,
    assemble,
    completion,
    content_stream,
    json_app,
    message_of,
    record,
    sse_app,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Sample:
    preset: str
    output: str
    reasoning: str
    content: str
    starts_in_reasoning: bool | None = None
    """``None``: the preset's own start state, as a user who sets only the preset gets."""


WEATHER_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
HARMONY_CALL = (
    "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json"
    '<|message|>{"city": "Paris"}'
)

SAMPLES = [
    Sample("think", "<think>\nAdd them.\n</think>\n\n2 + 2 = 4.", "Add them.\n", "2 + 2 = 4."),
    Sample("think", "</think>\n\nNo thinking needed.", "", "\n\nNo thinking needed."),
    Sample(
        "deepseek_r1",
        "Okay, 2 + 2.\n</think>\n\nThe answer is 4.",
        "Okay, 2 + 2.\n",
        "The answer is 4.",
    ),
    Sample("deepseek_r1", "<think>\nOkay.\n</think>\n\n4.", "Okay.\n", "4."),
    Sample("deepseek_v3", "The answer is 4.", "", "The answer is 4."),
    Sample("deepseek_v3", "Hmm.</think>4.", "Hmm.", "4.", starts_in_reasoning=True),
    Sample(
        "qwen3",
        "<think>\nThe user wants the weather.\n</think>\n\n" + WEATHER_CALL,
        "The user wants the weather.\n",
        WEATHER_CALL,
    ),
    Sample("qwen3", "<think>\n\n</think>\n\nHello!", "", "Hello!"),
    Sample("qwen3_thinking", "Need a tool.\n" + WEATHER_CALL, "Need a tool.\n", WEATHER_CALL),
    Sample("glm45", "\n<think>Plan.</think>\nAnswer.", "Plan.", "Answer."),
    Sample("glm45", "Plan.</think>" + WEATHER_CALL, "Plan.", WEATHER_CALL),
    Sample(
        "kimi_k2",
        "Plan.</think>Calling.<|tool_calls_section_begin|><|tool_call_begin|>",
        "Plan.",
        "Calling.<|tool_calls_section_begin|><|tool_call_begin|>",
    ),
    Sample(
        "kimi_k2",
        "Plan.<|tool_calls_section_begin|><|tool_call_begin|>",
        "Plan.",
        "<|tool_calls_section_begin|><|tool_call_begin|>",
    ),
    Sample(
        "kimi_k3",
        "Plan.<|close|>think<|sep|><|open|>response<|sep|>Answer."
        "<|close|>response<|sep|><|close|>message<|sep|>",
        "Plan.",
        "Answer.",
    ),
    Sample(
        "kimi_k3",
        "Plan.<|close|>think<|sep|><|open|>tools<|sep|>call<|close|>response<|sep|>",
        "Plan.",
        "<|open|>tools<|sep|>call<|close|>response<|sep|>",
    ),
    Sample("kimi_k3", "<|open|>response<|sep|>Hi.<|close|>response<|sep|>", "", "Hi."),
    Sample("minimax_m2", "Plan.\n</think>\n\nAnswer.", "Plan.\n", "Answer."),
    Sample("minimax_m3", "</mm:think>Hello there.", "", "Hello there."),
    Sample("minimax_m3", "<mm:think>Plan.</mm:think>\n\nAnswer.", "Plan.", "Answer."),
    Sample("minimax_m3", "Plan.</mm:think>Answer.", "Plan.", "Answer.", starts_in_reasoning=True),
    Sample("seed_oss", "<seed:think>Plan.</seed:think>Answer.", "Plan.", "Answer."),
    Sample("mistral", "[THINK]Plan.[/THINK]Answer.", "Plan.", "Answer."),
    Sample(
        "mistral",
        '[THINK]Plan.[/THINK][TOOL_CALLS]get[ARGS]{"a": "[THINK]"}',
        "Plan.",
        '[TOOL_CALLS]get[ARGS]{"a": "[THINK]"}',
    ),
    Sample("kimi", "◁think▷Plan.◁/think▷Answer.", "Plan.", "Answer."),
    Sample(
        "cohere",
        "Plan.<|END_THINKING|><|START_RESPONSE|>Answer.<|END_RESPONSE|>",
        "Plan.",
        "Answer.",
    ),
    Sample("cohere", "Plan.<|END_THINKING|><|START_TEXT|>Answer.<|END_TEXT|>", "Plan.", "Answer."),
    Sample("cohere", "<|START_TEXT|>Answer.<|END_TEXT|>", "", "Answer."),
    Sample(
        "cohere",
        'Plan.<|START_ACTION|>[{"tool_name": "x"}]<|END_ACTION|>',
        "Plan.",
        '<|START_ACTION|>[{"tool_name": "x"}]<|END_ACTION|>',
    ),
    Sample(
        "cohere",
        "<|START_THINKING|> i will call foo<|END_THINKING|><|START_ACTION|>\n[]\n<|END_ACTION|>",
        "i will call foo",
        "<|START_ACTION|>\n[]\n<|END_ACTION|>",
    ),
    Sample("granite_thinking", "<think>reasoning</think>\n\n\nHello", "reasoning", "Hello"),
    Sample("gemma4", "<|channel>thought\nPlan.<channel|>Answer.", "Plan.", "Answer."),
    Sample(
        "granite",
        "Here is my thought process:\nPlan.\nHere is my response:\nAnswer.",
        "Plan.\n",
        "Answer.",
    ),
    Sample(
        "granite",
        "<think>Plan.</think><response>Answer.</response>",
        "Plan.",
        "Answer.",
    ),
    Sample("granite_thinking", "<think>Plan.</think>Answer.", "Plan.", "Answer."),
    Sample(
        "ernie45",
        "Plan.\n</think>\n\n<response>\nAnswer.\n</response>",
        "Plan.\n",
        "Answer.\n",
    ),
    Sample("ernie45", "Plan.\n<response>Answer.</response>", "Plan.\n", "Answer."),
    Sample("olmo3", "Plan.</think>Answer.", "Plan.", "Answer."),
    Sample("olmo3", "<think>Plan.</think>Answer.", "Plan.", "Answer."),
    Sample("nemotron_v3", "Plan.\n</think>\n" + WEATHER_CALL, "Plan.\n", WEATHER_CALL),
    Sample(
        "hunyuan",
        "<think>\nPlan.\n</think>\n<answer>\nAnswer.\n</answer>",
        "Plan.\n",
        "Answer.\n",
    ),
    Sample(
        "apertus",
        "<|inner_prefix|>Plan.<|inner_suffix|>Answer.",
        "Plan.",
        "Answer.",
    ),
    Sample(
        "apriel",
        "Plan.\n[BEGIN FINAL RESPONSE]\nAnswer.\n[END FINAL RESPONSE]",
        "Plan.\n",
        "Answer.\n",
    ),
    Sample(
        "apriel",
        "Here are my reasoning steps:\nPlan.\n[BEGIN FINAL RESPONSE]\nAnswer.",
        "Plan.\n",
        "Answer.",
    ),
    Sample(
        "inkling",
        "<|content_thinking|>Plan.<|end_message|><|message_model|><|content_text|>Answer."
        "<|end_message|><|content_model_end_sampling|>",
        "Plan.",
        "Answer.",
    ),
    Sample(
        "harmony",
        "<|channel|>analysis<|message|>Plan.<|end|><|start|>assistant<|channel|>final"
        "<|message|>Answer.<|return|>",
        "Plan.",
        "Answer.",
    ),
    Sample(
        "harmony",
        "<|channel|>analysis<|message|>Plan.<|end|>" + HARMONY_CALL,
        "Plan.",
        HARMONY_CALL,
    ),
    Sample("harmony", "<|channel|>final<|message|>Hi there.", "", "Hi there."),
    Sample(
        "harmony_stripped",
        "analysisPlan.assistantfinalAnswer.",
        "Plan.",
        "Answer.",
    ),
    Sample("auto", "<|begin_of_thought|>Plan.<|end_of_thought|>Answer.", "Plan.", "Answer."),
    Sample(
        "auto",
        "[THINK]Uses </think> literally.[/THINK]Answer.",
        "Uses </think> literally.",
        "Answer.",
    ),
    Sample(
        "auto",
        "<|channel|>analysis<|message|>Plan.<|end|><|start|>assistant<|channel|>final"
        "<|message|>Answer.",
        "Plan.",
        "Answer.",
    ),
    Sample(
        "auto",
        "<|START_THINKING|>Plan.<|END_THINKING|><|START_RESPONSE|>Answer.<|END_RESPONSE|>",
        "Plan.",
        "Answer.",
    ),
    Sample("auto", "Plain <answer>text</answer>.", "", "Plain <answer>text</answer>."),
]


def split(sample: Sample, pieces: Sequence[str]) -> tuple[str, str]:
    splitter = ReasoningSplitter(sample.preset, starts_in_reasoning=sample.starts_in_reasoning)
    segments = [seg for piece in pieces for seg in splitter.feed(piece)] + splitter.finish()
    reasoning = "".join(text for kind, text in segments if kind == "reasoning")
    content = "".join(text for kind, text in segments if kind == "content")
    return reasoning, content


def sample_id(sample: Sample) -> str:
    return f"{sample.preset}:{sample.output[:24]!r}"


@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_family_output_splits_as_the_engines_split_it(sample: Sample) -> None:
    assert split(sample, [sample.output]) == (sample.reasoning, sample.content)
    assert split(sample, list(sample.output)) == (sample.reasoning, sample.content)


@settings(max_examples=400)
@given(data=st.data(), sample=st.sampled_from(SAMPLES))
def test_family_output_splits_the_same_however_cut(data: st.DataObject, sample: Sample) -> None:
    text = sample.output
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=len(text))))
    pieces = [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]
    assert split(sample, pieces) == (sample.reasoning, sample.content)


def test_every_preset_has_a_sample() -> None:
    assert {sample.preset for sample in SAMPLES} == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_documents_its_models_and_start_state(name: str) -> None:
    fmt = PRESETS[name]
    assert fmt.models
    assert fmt.start_reason
    assert fmt.start_reason.startswith(("inside", "content", "a header")), fmt.start_reason
    assert fmt.start_reason.startswith("inside") == fmt.starts_in_reasoning


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_no_preset_marker_is_a_prefix_of_another(name: str) -> None:
    check_no_marker_is_a_prefix(PRESETS[name])


# --reasoning-parser names: vLLM's registry (vllm/reasoning/__init__.py) and SGLang's
# ReasoningParser.DetectorMap (python/sglang/srt/parser/reasoning_parser.py).
VLLM_PARSERS = [
    "deepseek_r1", "deepseek_v3", "deepseek_v4", "poolside_v1", "cohere_command3",
    "cohere_command4", "ernie45", "gemma4", "glm45", "glm47", "openai_gptoss", "granite",
    "holo2", "hunyuan_a13b", "hy_v3", "kimi_k2", "kimi_k3", "mimo", "minimax_m2",
    "minimax_m2_append_think", "minimax_m3", "mistral", "nemotron_v3", "olmo3", "qwen3",
    "seed_oss", "step3", "step3p5", "inkling", "apertus", "granite_thinking", "nemotron",
]  # fmt: skip
SGLANG_PARSERS = [
    "apertus2509", "deepseek-r1", "deepseek-v3", "deepseek-v4", "glm45", "hunyuan", "gpt-oss",
    "kimi", "kimi_k2", "kimi_k3", "mimo", "poolside_v1", "qwen3", "qwen3-thinking", "minimax",
    "minimax-append-think", "minimax-m3", "step3", "step3p5", "mistral", "nemotron_3",
    "interns1", "gemma4", "inkling", "cohere_command4", "telechat4",
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(VLLM_PARSERS + SGLANG_PARSERS)))
def test_every_engine_parser_name_is_a_preset(name: str) -> None:
    assert resolve_tag_format(name, None) is PRESETS[normalize_preset_name(name)]


def test_aliases_name_existing_presets_and_do_not_shadow_them() -> None:
    assert set(PRESET_ALIASES.values()) <= set(PRESETS)
    assert not set(PRESET_ALIASES) & set(PRESETS)


def test_gpt_oss_names_are_harmony() -> None:
    for name in ("gpt-oss", "gpt_oss", "openai_gptoss", "Harmony"):
        assert resolve_tag_format(name, None) is PRESETS["harmony"]


def test_unknown_preset_lists_the_presets_and_the_engine_names() -> None:
    with pytest.raises(ValueError, match=r"harmony.*openai_gptoss"):
        resolve_tag_format("nope", None)


def test_minimax_m3_starts_in_reasoning_only_when_thinking_is_switched_on() -> None:
    assert not PRESETS["minimax_m3"].starts_in_reasoning
    assert PRESETS["minimax_m3"].starts_in_reasoning_when_thinking


@pytest.mark.parametrize("preset", ["granite", "apriel", "hunyuan", "ernie45", "harmony_stripped"])
def test_auto_leaves_out_markers_that_ordinary_text_may_contain(preset: str) -> None:
    auto_markers = set(PRESETS["auto"].markers())
    plain_words = {
        "granite": "Here is my response:",
        "apriel": "[BEGIN FINAL RESPONSE]",
        "hunyuan": "<answer>",
        "ernie45": "<response>",
        "harmony_stripped": "assistantfinal",
    }
    assert plain_words[preset] in PRESETS[preset].markers()
    assert plain_words[preset] not in auto_markers


# Through the middleware: the same samples, streamed token by token and as a whole body.


def tokens_of(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.anyio
@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
async def test_family_output_streamed_through_the_middleware(sample: Sample) -> None:
    app = ReasoningMiddleware(
        sse_app(content_stream(tokens_of(sample.output))),
        preset=sample.preset,
        starts_in_reasoning=sample.starts_in_reasoning,
    )
    recorder = await record(app)
    assert assemble(recorder.body) == Assembled(sample.reasoning, sample.content)


@pytest.mark.anyio
@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
async def test_family_output_as_a_whole_body_through_the_middleware(sample: Sample) -> None:
    app = ReasoningMiddleware(
        json_app(completion(sample.output)),
        preset=sample.preset,
        starts_in_reasoning=sample.starts_in_reasoning,
    )
    message = message_of((await record(app)).body)
    assert (message.get("reasoning_content") or "", message.get("content") or "") == (
        sample.reasoning,
        sample.content,
    )


def test_a_stray_closer_later_in_content_is_dropped_where_vllm_keeps_it() -> None:
    """Intentional divergence 2 (presets module): vLLM's MiniMax-M3 parser keeps
    ``XXX</mm:think>YYY`` whole; here the closer goes, the same however the stream is cut."""
    sample = Sample("minimax_m3", "XXX</mm:think>YYY", "", "XXXYYY")
    assert split(sample, [sample.output]) == ("", "XXXYYY")
