"""Reasoning in earlier turns, moved to where each family's chat template reads it."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_reasoning.history import (
    HISTORY_RULES,
    RECOMMENDED_HISTORY,
    HistoryRule,
    recommended_history,
    rewrite_chat_history,
    rewrite_history,
    rewrite_messages_history,
    rewrite_responses_history,
)
from asgi_reasoning.text.presets import PRESETS

from .templates import render

QWEN3 = PRESETS["qwen3"]
MINIMAX_M2 = PRESETS["minimax_m2"]
HARMONY = PRESETS["harmony"]
THINK = PRESETS["think"]

WEATHER_CALL: dict[str, Any] = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
}
TIME_CALL: dict[str, Any] = {
    "id": "call_2",
    "type": "function",
    "function": {"name": "get_time", "arguments": {"city": "Paris"}},
}


def agent_conversation(field: str) -> list[dict[str, Any]]:
    """Two user turns: a finished answer, then a tool loop still running."""
    return [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! Ask me about the weather.", field: "Greet."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "", field: "Weather first.", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "", field: "Now the time.", "tool_calls": [TIME_CALL]},
        {"role": "tool", "tool_call_id": "call_2", "content": "10:00"},
    ]


def chat(messages: list[Any]) -> dict[str, Any]:
    return {"model": "m", "messages": messages}


class TestQwen3Template:
    def test_reasoning_under_a_name_the_template_does_not_read_is_lost(self) -> None:
        prompt = render("qwen3", agent_conversation("reasoning"))
        assert "Weather first." not in prompt

    def test_field_gives_the_template_the_tool_loop_reasoning(self) -> None:
        request = chat(agent_conversation("reasoning"))
        rewritten = rewrite_chat_history(request, "field", fmt=QWEN3, field="reasoning_content")
        assert rewritten is not None
        prompt = render("qwen3", rewritten["messages"])
        assert "<think>\nWeather first.\n</think>\n\n<tool_call>" in prompt
        assert "<think>\nNow the time.\n</think>\n\n<tool_call>" in prompt
        # The template itself drops reasoning before the last user query.
        assert "Greet." not in prompt

    def test_inline_is_read_by_the_template_too(self) -> None:
        rewritten = rewrite_chat_history(chat(agent_conversation("reasoning")), "inline", fmt=QWEN3)
        assert rewritten is not None
        prompt = render("qwen3", rewritten["messages"])
        assert "<think>\nWeather first.\n</think>\n\n" in prompt

    def test_field_moves_reasoning_a_client_echoed_inline(self) -> None:
        messages = [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "<think>\nCall the tool.\n</think>\n\n",
                "tool_calls": [WEATHER_CALL],
            },
            {"role": "tool", "content": "sunny"},
        ]
        rewritten = rewrite_chat_history(chat(messages), "field", fmt=QWEN3, field="reasoning")
        assert rewritten is not None
        assert rewritten["messages"][1] == {
            "role": "assistant",
            "content": "",
            "tool_calls": [WEATHER_CALL],
            "reasoning": "Call the tool.",
        }


class TestMiniMaxM2Template:
    def test_reasoning_in_the_vllm_field_never_reaches_the_template(self) -> None:
        prompt = render("minimax_m2", agent_conversation("reasoning"))
        assert "Weather first." not in prompt

    def test_inline_puts_the_think_block_back_where_the_template_reads_it(self) -> None:
        rewritten = rewrite_chat_history(
            chat(agent_conversation("reasoning")), "inline", fmt=MINIMAX_M2
        )
        assert rewritten is not None
        tool_turn = rewritten["messages"][4]
        assert tool_turn["content"] == "<think>\nWeather first.\n</think>\n\n"
        assert "reasoning" not in tool_turn
        prompt = render("minimax_m2", rewritten["messages"])
        assert "]~b]ai\n<think>\nWeather first.\n</think>\n\n" in prompt
        assert "<think>\nNow the time.\n</think>\n\n" in prompt

    def test_inline_keeps_the_answer_after_the_block(self) -> None:
        rewritten = rewrite_chat_history(
            chat(agent_conversation("reasoning_content")), "inline", fmt=MINIMAX_M2
        )
        assert rewritten is not None
        assert rewritten["messages"][2]["content"] == (
            "<think>\nGreet.\n</think>\n\nHello! Ask me about the weather."
        )

    def test_inline_leaves_a_block_the_client_already_kept(self) -> None:
        message = {
            "role": "assistant",
            "content": "<think>\nGreet.\n</think>\n\nHello!",
            "reasoning_content": "Greet.",
        }
        rewritten = rewrite_chat_history(chat([message]), "inline", fmt=MINIMAX_M2)
        assert rewritten is not None
        assert rewritten["messages"] == [
            {"role": "assistant", "content": "<think>\nGreet.\n</think>\n\nHello!"}
        ]

    def test_inline_puts_a_text_part_first_in_list_content(self) -> None:
        message = {
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello!"}],
            "reasoning_content": "Greet.",
        }
        rewritten = rewrite_chat_history(chat([message]), "inline", fmt=MINIMAX_M2)
        assert rewritten is not None
        content = rewritten["messages"][0]["content"]
        assert content[0] == {"type": "text", "text": "<think>\nGreet.\n</think>\n\n"}
        prompt = render("minimax_m2", [{"role": "user", "content": "hi"}, rewritten["messages"][0]])
        assert "<think>\nGreet.\n</think>\n\nHello!" in prompt

    def test_null_content_becomes_the_block(self) -> None:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "reasoning": "Plan.",
            "tool_calls": [],
        }
        rewritten = rewrite_chat_history(chat([message]), "inline", fmt=MINIMAX_M2)
        assert rewritten is not None
        assert rewritten["messages"][0]["content"] == "<think>\nPlan.\n</think>\n\n"


class TestGptOssTemplate:
    def test_harmony_keeps_analysis_of_the_running_tool_loop_only(self) -> None:
        request = chat(agent_conversation("reasoning_content")[1:])
        rewritten = rewrite_chat_history(request, "harmony", fmt=HARMONY, field="thinking")
        assert rewritten is not None
        messages = rewritten["messages"]
        assert "thinking" not in messages[1] and "reasoning_content" not in messages[1]
        assert messages[3]["thinking"] == "Weather first."
        prompt = render("gpt_oss", messages)
        analysis = "<|start|>assistant<|channel|>analysis<|message|>"
        assert f"{analysis}Weather first.<|end|>" in prompt
        assert f"{analysis}Now the time.<|end|>" in prompt
        assert "Greet." not in prompt

    def test_without_the_rewrite_the_template_sees_no_analysis(self) -> None:
        prompt = render("gpt_oss", agent_conversation("reasoning_content")[1:])
        assert "analysis" not in prompt

    def test_a_final_answer_after_the_tool_loop_drops_its_analysis(self) -> None:
        messages = [
            *agent_conversation("reasoning")[1:],
            {"role": "assistant", "content": "Sunny, 10:00.", "reasoning": "Summarise."},
            {"role": "user", "content": "Thanks"},
        ]
        rewritten = rewrite_chat_history(chat(messages), "harmony", fmt=HARMONY)
        assert rewritten is not None
        assert not any(
            key in message
            for message in rewritten["messages"]
            for key in ("reasoning", "reasoning_content", "thinking")
        )
        prompt = render("gpt_oss", rewritten["messages"])
        assert "analysis" not in prompt

    def test_harmony_moves_kept_analysis_to_the_field_vllm_reads(self) -> None:
        request = chat(agent_conversation("reasoning_content")[1:])
        rewritten = rewrite_chat_history(request, "harmony", fmt=HARMONY)
        assert rewritten is not None
        assert rewritten["messages"][3]["reasoning"] == "Weather first."


class TestChatRules:
    @pytest.mark.parametrize("rule", HISTORY_RULES)
    def test_a_conversation_without_reasoning_is_unchanged(self, rule: HistoryRule) -> None:
        messages = [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello", "tool_calls": [WEATHER_CALL]},
            {"role": "tool", "content": "sunny"},
        ]
        assert rewrite_chat_history(chat(messages), rule, fmt=QWEN3) is None

    def test_keep_changes_nothing(self) -> None:
        request = chat(agent_conversation("reasoning_content"))
        assert rewrite_chat_history(request, "keep", fmt=QWEN3) is None

    def test_strip_drops_fields_and_inline_blocks(self) -> None:
        messages = [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "<think>\nhm\n</think>\n\nHello", "reasoning": "x"},
            {"role": "user", "content": "Again"},
        ]
        rewritten = rewrite_chat_history(chat(messages), "strip", fmt=PRESETS["deepseek_r1"])
        assert rewritten is not None
        assert rewritten["messages"][1] == {"role": "assistant", "content": "Hello"}

    def test_field_keeps_the_first_non_empty_reasoning_alone(self) -> None:
        message = {"role": "assistant", "content": "A", "reasoning_content": "", "reasoning": "R"}
        rewritten = rewrite_chat_history(chat([message]), "field", fmt=QWEN3, field="thinking")
        assert rewritten is not None
        assert rewritten["messages"] == [{"role": "assistant", "content": "A", "thinking": "R"}]

    def test_field_already_in_place_is_unchanged(self) -> None:
        message = {"role": "assistant", "content": "A", "reasoning": "R"}
        assert rewrite_chat_history(chat([message]), "field", fmt=QWEN3) is None

    def test_user_and_tool_messages_are_never_touched(self) -> None:
        messages = [
            {"role": "user", "content": "<think>mine</think>", "reasoning_content": "x"},
            {"role": "tool", "content": "<think>data</think>", "reasoning": "y"},
        ]
        for rule in HISTORY_RULES:
            assert rewrite_chat_history(chat(messages), rule, fmt=QWEN3) is None

    def test_the_request_is_not_mutated_and_untouched_messages_are_shared(self) -> None:
        request = chat(agent_conversation("reasoning_content"))
        before = copy.deepcopy(request)
        rewritten = rewrite_chat_history(request, "inline", fmt=MINIMAX_M2)
        assert request == before
        assert rewritten is not None
        assert rewritten["messages"][1] is request["messages"][1]
        assert rewritten["model"] == "m"

    @pytest.mark.parametrize(
        "messages",
        [None, "text", 3, {"role": "assistant"}, [None, 1, "x", [], {"role": 5}]],
    )
    def test_odd_shapes_are_left_alone(self, messages: object) -> None:
        for rule in HISTORY_RULES:
            assert rewrite_chat_history({"messages": messages}, rule, fmt=QWEN3) is None

    def test_reasoning_as_parts_is_read(self) -> None:
        message = {
            "role": "assistant",
            "content": "A",
            "reasoning": [{"type": "text", "text": "R1"}, {"type": "text", "text": "R2"}],
        }
        rewritten = rewrite_chat_history(chat([message]), "field", fmt=QWEN3)
        assert rewritten is not None
        assert rewritten["messages"][0]["reasoning"] == "R1R2"


class TestResponsesInput:
    REASONING: ClassVar[dict[str, Any]] = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "Weather first."}],
    }
    CALL: ClassVar[dict[str, Any]] = {
        "type": "function_call",
        "call_id": "c1",
        "name": "get_weather",
        "arguments": "{}",
    }
    OUTPUT: ClassVar[dict[str, Any]] = {
        "type": "function_call_output",
        "call_id": "c1",
        "output": "sunny",
    }
    ANSWER: ClassVar[dict[str, Any]] = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Sunny."}],
    }

    def request(self, *items: object) -> dict[str, Any]:
        return {"model": "m", "input": [{"role": "user", "content": "Weather?"}, *items]}

    def test_strip_drops_reasoning_items(self) -> None:
        request = self.request(self.REASONING, self.CALL, self.OUTPUT)
        rewritten = rewrite_responses_history(request, "strip", fmt=THINK)
        assert rewritten is not None
        assert rewritten["input"] == [request["input"][0], self.CALL, self.OUTPUT]

    def test_inline_prepends_to_the_answer_it_came_before(self) -> None:
        request = self.request(self.REASONING, self.ANSWER)
        rewritten = rewrite_responses_history(request, "inline", fmt=MINIMAX_M2)
        assert rewritten is not None
        assert rewritten["input"][1:] == [
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "<think>\nWeather first.\n</think>\n\nSunny."}
                ],
            }
        ]

    def test_inline_before_a_tool_call_becomes_an_assistant_message(self) -> None:
        rewritten = rewrite_responses_history(
            self.request(self.REASONING, self.CALL), "inline", fmt=MINIMAX_M2
        )
        assert rewritten is not None
        assert rewritten["input"][1] == {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "<think>\nWeather first.\n</think>\n\n"}],
        }
        assert rewritten["input"][2] == self.CALL

    def test_inline_reads_a_summary_when_there_is_no_raw_text(self) -> None:
        item = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "S"}]}
        rewritten = rewrite_responses_history(self.request(item, self.ANSWER), "inline", fmt=THINK)
        assert rewritten is not None
        assert rewritten["input"][1]["content"][0]["text"] == "<think>\nS\n</think>\n\nSunny."

    def test_an_encrypted_only_item_is_not_inlined(self) -> None:
        item = {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"}
        assert rewrite_responses_history(self.request(item), "inline", fmt=THINK) is None

    def test_harmony_keeps_reasoning_after_the_last_answer(self) -> None:
        request = self.request(
            self.REASONING, self.ANSWER, {"role": "user", "content": "And now?"},
            self.REASONING, self.CALL, self.OUTPUT,
        )  # fmt: skip
        rewritten = rewrite_responses_history(request, "harmony", fmt=HARMONY)
        assert rewritten is not None
        assert [item.get("type") for item in rewritten["input"]] == [
            None, "message", None, "reasoning", "function_call", "function_call_output",
        ]  # fmt: skip

    def test_field_changes_nothing(self) -> None:
        request = self.request(self.REASONING, self.ANSWER)
        assert rewrite_responses_history(request, "field", fmt=THINK) is None

    def test_a_string_input_is_left_alone(self) -> None:
        for rule in HISTORY_RULES:
            assert rewrite_responses_history({"input": "hi"}, rule, fmt=THINK) is None


class TestMessagesHistory:
    THINKING: ClassVar[dict[str, Any]] = {
        "type": "thinking",
        "thinking": "Weather first.",
        "signature": "sig",
    }
    REDACTED: ClassVar[dict[str, Any]] = {"type": "redacted_thinking", "data": "opaque"}
    TOOL_USE: ClassVar[dict[str, Any]] = {
        "type": "tool_use",
        "id": "t1",
        "name": "get_weather",
        "input": {},
    }

    def request(self, *messages: object) -> dict[str, Any]:
        return {"model": "m", "max_tokens": 10, "messages": [*messages]}

    def test_strip_drops_thinking_and_redacted_blocks(self) -> None:
        assistant = {"role": "assistant", "content": [self.THINKING, self.REDACTED, self.TOOL_USE]}
        rewritten = rewrite_messages_history(self.request(assistant), "strip", fmt=THINK)
        assert rewritten is not None
        assert rewritten["messages"][0]["content"] == [self.TOOL_USE]

    def test_inline_joins_the_following_text_block(self) -> None:
        assistant = {
            "role": "assistant",
            "content": [self.THINKING, {"type": "text", "text": "Let me check."}, self.TOOL_USE],
        }
        rewritten = rewrite_messages_history(self.request(assistant), "inline", fmt=MINIMAX_M2)
        assert rewritten is not None
        assert rewritten["messages"][0]["content"] == [
            {"type": "text", "text": "<think>\nWeather first.\n</think>\n\nLet me check."},
            self.TOOL_USE,
        ]

    def test_inline_before_a_tool_use_becomes_a_text_block(self) -> None:
        assistant = {"role": "assistant", "content": [self.THINKING, self.TOOL_USE]}
        rewritten = rewrite_messages_history(self.request(assistant), "inline", fmt=MINIMAX_M2)
        assert rewritten is not None
        assert rewritten["messages"][0]["content"] == [
            {"type": "text", "text": "<think>\nWeather first.\n</think>\n\n"},
            self.TOOL_USE,
        ]

    def test_harmony_keeps_thinking_of_the_tool_loop(self) -> None:
        final = {"role": "assistant", "content": [self.THINKING, {"type": "text", "text": "Hi"}]}
        calling = {"role": "assistant", "content": [self.THINKING, self.TOOL_USE]}
        result = {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}],
        }
        request = self.request(
            {"role": "user", "content": "Hi"}, final, {"role": "user", "content": "Weather?"},
            calling, result,
        )  # fmt: skip
        rewritten = rewrite_messages_history(request, "harmony", fmt=HARMONY)
        assert rewritten is not None
        assert rewritten["messages"][1]["content"] == [{"type": "text", "text": "Hi"}]
        assert rewritten["messages"][3] is calling

    def test_string_content_is_left_alone(self) -> None:
        request = self.request({"role": "assistant", "content": "<think>x</think>y"})
        for rule in HISTORY_RULES:
            assert rewrite_messages_history(request, rule, fmt=THINK) is None


def test_dispatch_by_api_name() -> None:
    request = chat(agent_conversation("reasoning_content"))
    assert rewrite_history("chat_completions", request, "strip", fmt=THINK) is not None
    assert rewrite_history("embeddings", request, "strip", fmt=THINK) is None
    assert rewrite_history("chat_completions", request, "keep", fmt=THINK) is None


def test_every_recommendation_names_a_preset_and_unknown_ones_keep() -> None:
    assert set(RECOMMENDED_HISTORY) <= set(PRESETS)
    assert recommended_history("minimax_m2") == "inline"
    assert recommended_history("harmony") == "harmony"
    assert recommended_history("a_preset_added_later") == "keep"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["assistant", "user", "tool"])},
    optional={
        "content": st.none() | st.text(alphabet="ab<>/think \n", max_size=30) | _json,
        "reasoning_content": st.text(max_size=10) | _json,
        "reasoning": st.text(max_size=10) | _json,
        "tool_calls": st.just([WEATHER_CALL]),
    },
)
_history = st.lists(_message | _json, max_size=6)


@given(_history, st.sampled_from(HISTORY_RULES))
def test_any_history_is_rewritten_without_error_and_without_mutation(
    messages: list[Any], rule: HistoryRule
) -> None:
    request = {"messages": messages}
    before = copy.deepcopy(request)
    rewrite_chat_history(request, rule, fmt=MINIMAX_M2)
    assert request == before


@given(_history, st.sampled_from(HISTORY_RULES))
def test_a_rule_applied_to_its_own_output_changes_nothing(
    messages: list[Any], rule: HistoryRule
) -> None:
    once = rewrite_chat_history({"messages": messages}, rule, fmt=MINIMAX_M2)
    if once is not None:
        assert rewrite_chat_history(once, rule, fmt=MINIMAX_M2) is None
