"""The client's thinking switch, written as the family's chat-template switch."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_reasoning.effort import (
    SWITCHES,
    Effort,
    custom_switch,
    requested_effort,
    rewrite_effort,
    switch_for,
    template_thinking,
)
from asgi_reasoning.text.presets import PRESETS

from .templates import render

QWEN3 = SWITCHES["qwen3"]
HARMONY = SWITCHES["harmony"]
CALL: dict[str, Any] = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
}
TOOL_LOOP: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": TOOL_LOOP, **fields}


class TestQwen3:
    def test_none_turns_thinking_off_in_the_template(self) -> None:
        rewritten = rewrite_effort("chat_completions", chat(reasoning_effort="none"), QWEN3)
        assert rewritten == chat(
            reasoning_effort="none", chat_template_kwargs={"enable_thinking": False}
        )
        prompt = render("qwen3", rewritten["messages"], **rewritten["chat_template_kwargs"])
        assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")

    def test_an_effort_level_turns_thinking_on(self) -> None:
        rewritten = rewrite_effort("chat_completions", chat(reasoning_effort="high"), QWEN3)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"enable_thinking": True}
        prompt = render("qwen3", rewritten["messages"], **rewritten["chat_template_kwargs"])
        assert prompt.endswith("<|im_start|>assistant\n")

    def test_minimal_is_off_for_an_on_off_template(self) -> None:
        rewritten = rewrite_effort("chat_completions", chat(reasoning_effort="minimal"), QWEN3)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"enable_thinking": False}

    def test_the_clients_own_template_switch_wins(self) -> None:
        request = chat(reasoning_effort="none", chat_template_kwargs={"enable_thinking": True})
        assert rewrite_effort("chat_completions", request, QWEN3) is None

    def test_other_template_kwargs_are_kept(self) -> None:
        request = chat(reasoning_effort="none", chat_template_kwargs={"custom": 1})
        rewritten = rewrite_effort("chat_completions", request, QWEN3)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"custom": 1, "enable_thinking": False}

    def test_no_switch_no_change(self) -> None:
        assert rewrite_effort("chat_completions", chat(), QWEN3) is None

    def test_a_thinking_object_in_chat_is_read(self) -> None:
        rewritten = rewrite_effort("chat_completions", chat(thinking={"type": "disabled"}), QWEN3)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"enable_thinking": False}

    def test_messages_thinking_disabled(self) -> None:
        request = {"model": "m", "messages": [], "thinking": {"type": "disabled"}}
        rewritten = rewrite_effort("messages", request, QWEN3)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"enable_thinking": False}

    def test_responses_reasoning_effort(self) -> None:
        request = {"model": "m", "input": "hi", "reasoning": {"effort": "none"}}
        rewritten = rewrite_effort("responses", request, QWEN3)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"enable_thinking": False}


class TestGptOss:
    def test_effort_reaches_the_harmony_system_line(self) -> None:
        rewritten = rewrite_effort("chat_completions", chat(reasoning_effort="high"), HARMONY)
        assert rewritten is not None
        assert rewritten["reasoning_effort"] == "high"
        assert rewritten["chat_template_kwargs"] == {"reasoning_effort": "high"}
        prompt = render("gpt_oss", rewritten["messages"], **rewritten["chat_template_kwargs"])
        assert prompt.startswith("<|start|>system<|message|>Reasoning: high<|end|>")

    def test_reasoning_cannot_be_turned_off(self) -> None:
        assert rewrite_effort("chat_completions", chat(reasoning_effort="none"), HARMONY) is None

    @pytest.mark.parametrize(("word", "level"), [("minimal", "low"), ("xhigh", "high")])
    def test_words_beyond_its_levels_map_to_the_nearest(self, word: str, level: str) -> None:
        rewritten = rewrite_effort("chat_completions", chat(reasoning_effort=word), HARMONY)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"reasoning_effort": level}

    @pytest.mark.parametrize(
        ("budget", "level"), [(1024, "low"), (8000, "medium"), (32000, "high")]
    )
    def test_a_messages_budget_picks_a_level(self, budget: int, level: str) -> None:
        request = {"messages": [], "thinking": {"type": "enabled", "budget_tokens": budget}}
        rewritten = rewrite_effort("messages", request, HARMONY)
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"reasoning_effort": level}


class TestOtherFamilies:
    def test_deepseek_v3_reads_thinking(self) -> None:
        rewritten = rewrite_effort(
            "chat_completions", chat(reasoning_effort="high"), SWITCHES["deepseek_v3"]
        )
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"thinking": True}

    def test_kimi_k3_takes_a_switch_and_a_level(self) -> None:
        rewritten = rewrite_effort(
            "chat_completions", chat(reasoning_effort="low"), SWITCHES["kimi_k3"]
        )
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"thinking": True, "thinking_effort": "low"}

    def test_minimax_m3_thinking_mode(self) -> None:
        off = rewrite_effort(
            "chat_completions", chat(reasoning_effort="none"), SWITCHES["minimax_m3"]
        )
        assert off is not None
        assert off["chat_template_kwargs"] == {"thinking_mode": "disabled"}

    def test_mistral_chat_already_speaks_its_switch(self) -> None:
        request = chat(reasoning_effort="none")
        assert rewrite_effort("chat_completions", request, SWITCHES["mistral"]) is None

    def test_mistral_messages_thinking_becomes_reasoning_effort(self) -> None:
        request = {"messages": [], "thinking": {"type": "enabled", "budget_tokens": 2048}}
        rewritten = rewrite_effort("messages", request, SWITCHES["mistral"])
        assert rewritten == {**request, "reasoning_effort": "high"}

    def test_a_preset_without_an_entry_is_left_alone(self) -> None:
        assert switch_for("deepseek_r1") is None
        assert switch_for("a_preset_added_later") is None
        assert rewrite_effort("chat_completions", chat(reasoning_effort="none"), None) is None

    def test_a_configured_key(self) -> None:
        rewritten = rewrite_effort(
            "chat_completions", chat(reasoning_effort="none"), custom_switch("use_reasoning")
        )
        assert rewritten is not None
        assert rewritten["chat_template_kwargs"] == {"use_reasoning": False}


class TestReading:
    @pytest.mark.parametrize(
        ("request_body", "effort"),
        [
            ({"reasoning_effort": "NONE"}, Effort(thinking=False)),
            ({"reasoning_effort": "medium"}, Effort(thinking=True, level="medium")),
            ({"reasoning": {"effort": "low"}}, Effort(thinking=True, level="low")),
            ({"reasoning": {"enabled": False}}, Effort(thinking=False)),
            ({"thinking": {"type": "adaptive"}}, Effort(thinking=True)),
            ({"reasoning_effort": 3}, None),
            ({"reasoning_effort": "lots"}, None),
            ({"thinking": "on"}, None),
        ],
    )
    def test_chat_words(self, request_body: dict[str, Any], effort: Effort | None) -> None:
        assert requested_effort("chat_completions", request_body) == effort

    def test_template_thinking_reads_the_familys_switch(self) -> None:
        request = {"chat_template_kwargs": {"thinking_mode": "disabled"}}
        assert template_thinking(request, SWITCHES["minimax_m3"]) is False
        assert template_thinking({"chat_template_kwargs": {"enable_thinking": 0}}, QWEN3) is None
        assert template_thinking({"chat_template_kwargs": {"enable_thinking": True}}, QWEN3)
        assert template_thinking({"reasoning_effort": "none"}, SWITCHES["mistral"]) is False
        assert template_thinking({"chat_template_kwargs": []}, QWEN3) is None
        assert template_thinking({}, None) is None

    def test_template_kwargs_that_are_not_an_object_are_left_alone(self) -> None:
        request = chat(reasoning_effort="none", chat_template_kwargs="x")
        assert rewrite_effort("chat_completions", request, QWEN3) is None


def test_every_entry_names_a_preset_and_cites_a_source() -> None:
    for name, switch in SWITCHES.items():
        assert name in PRESETS
        assert switch.source


_value = st.none() | st.booleans() | st.integers() | st.text(max_size=6)
_request = st.fixed_dictionaries(
    {},
    optional={
        "reasoning_effort": _value | st.sampled_from(["none", "minimal", "low", "high"]),
        "thinking": _value | st.fixed_dictionaries({"type": _value, "budget_tokens": _value}),
        "reasoning": _value | st.fixed_dictionaries({"effort": _value, "enabled": _value}),
        "chat_template_kwargs": _value | st.dictionaries(st.text(max_size=6), _value),
    },
)


@given(
    _request,
    st.sampled_from(sorted(SWITCHES)),
    st.sampled_from(["chat_completions", "responses", "messages"]),
)
def test_any_request_is_translated_without_error_or_mutation(
    request: dict[str, Any], preset: str, api: str
) -> None:
    before = copy.deepcopy(request)
    rewritten = rewrite_effort(api, request, SWITCHES[preset])
    assert request == before
    if rewritten is not None:
        assert rewrite_effort(api, rewritten, SWITCHES[preset]) is None
