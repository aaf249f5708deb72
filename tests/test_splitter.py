"""ReasoningSplitter: the rules of DESIGN.md §4, by example and as properties."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_reasoning import PRESETS, ReasoningSplitter
from asgi_reasoning.text.presets import resolve_tag_format

if TYPE_CHECKING:
    from collections.abc import Sequence

    from asgi_reasoning.text.presets import TagFormat
    from asgi_reasoning.text.splitter import Segment


def run(splitter: ReasoningSplitter, pieces: Sequence[str]) -> list[Segment]:
    segments = [seg for piece in pieces for seg in splitter.feed(piece)]
    return merge(segments + splitter.finish())


def merge(segments: Sequence[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for kind, text in segments:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        elif text:
            merged.append((kind, text))
    return merged


def split(
    text: str, preset: str = "think", *, starts_in_reasoning: bool | None = None
) -> tuple[str, str]:
    """(reasoning, content) of ``text`` fed in one piece."""
    segments = run(ReasoningSplitter(preset, starts_in_reasoning=starts_in_reasoning), [text])
    reasoning = "".join(t for k, t in segments if k == "reasoning")
    content = "".join(t for k, t in segments if k == "content")
    return reasoning, content


def test_design_example_holds_back_a_partial_opener() -> None:
    s = ReasoningSplitter(preset="qwen3")
    assert s.feed("Hi <thi") == [("content", "Hi ")]
    assert s.feed("nk>\nhmm</think>\n\nYes") == [("reasoning", "hmm"), ("content", "Yes")]
    assert s.finish() == []


def test_text_without_markers_is_content_unchanged() -> None:
    assert split("  Plain answer.\n\n") == ("", "  Plain answer.\n\n")


def test_reasoning_then_content() -> None:
    assert split("<think>\nLet me see.\n</think>\n\nIt is 4.") == ("Let me see.\n", "It is 4.")


def test_only_whitespace_right_after_markers_is_dropped() -> None:
    assert split("A <think> \n x \n</think> \t\n y \n") == ("x \n", "A y \n")


def test_several_blocks_are_joined_by_a_blank_line() -> None:
    text = "<think>one</think>A<think>two</think>B<think>three</think>C"
    assert split(text) == ("one\n\ntwo\n\nthree", "ABC")


def test_in_a_stream_the_later_block_starts_with_the_separator() -> None:
    s = ReasoningSplitter()
    assert s.feed("<think>one</think>A") == [("reasoning", "one"), ("content", "A")]
    assert s.feed("<think>two") == [("reasoning", "\n\ntwo")]


def test_empty_block_adds_no_separator() -> None:
    assert split("<think></think>A<think>\n\n</think>B<think>x</think>C") == ("x", "ABC")
    assert ReasoningSplitter().feed("<think>\n</think>\n\nAnswer") == [("content", "Answer")]


def test_truncated_reasoning_is_flushed_as_reasoning() -> None:
    s = ReasoningSplitter()
    assert s.feed("<think>still thinking </th") == [("reasoning", "still thinking ")]
    assert s.finish() == [("reasoning", "</th")]


@pytest.mark.parametrize(
    "text",
    ["a < b and c > d", "<thinking>not ours</thinking>", "x <th", "<", "</think> stray", "<think"],
)
def test_look_alikes_stay_where_they_were(text: str) -> None:
    assert split(text) == ("", text)


def test_starting_inside_reasoning() -> None:
    assert split("\nHmm.\n</think>\n\nYes.", starts_in_reasoning=True) == ("Hmm.\n", "Yes.")


def test_repeated_opener_at_block_start_is_dropped() -> None:
    text = "<think>\nHmm.</think>Yes."
    assert split(text, starts_in_reasoning=True) == ("Hmm.", "Yes.")
    s = ReasoningSplitter(starts_in_reasoning=True)
    assert s.feed("\n<th") == []
    assert s.feed("ink>\nHmm") == [("reasoning", "Hmm")]


def test_opener_inside_a_block_is_text() -> None:
    assert split("<think>write <think> tags</think>ok") == ("write <think> tags", "ok")


def test_later_opener_after_starting_inside_reasoning_opens_a_block() -> None:
    text = "a</think>b<think>c</think>d"
    assert split(text, starts_in_reasoning=True) == ("a\n\nc", "bd")


def test_implicit_end_stays_in_content() -> None:
    text = "<think>call a tool\n<tool_call>{}</tool_call>"
    assert split(text, "qwen3") == ("call a tool\n", "<tool_call>{}</tool_call>")


def test_after_a_tool_call_begins_markers_are_data() -> None:
    call = '<tool_call>{"arguments": {"tag": "<think>x</think>"}}</tool_call>'
    assert split(call, "qwen3") == ("", call)
    assert split("<think>plan</think>" + call, "qwen3") == ("plan", call)
    assert split("plan" + call, "qwen3_thinking") == ("plan", call)


def test_mistral_tool_calls_marker_is_text_in_reasoning_and_a_stop_in_content() -> None:
    text = '[THINK]plan [TOOL_CALLS] later[/THINK][TOOL_CALLS]f[ARGS]{"a": "[THINK]x[/THINK]"}'
    assert split(text, "mistral") == (
        "plan [TOOL_CALLS] later",
        '[TOOL_CALLS]f[ARGS]{"a": "[THINK]x[/THINK]"}',
    )


def test_a_tool_call_in_content_is_not_a_marker() -> None:
    s = ReasoningSplitter("qwen3")
    run(s, ["<tool_call>{}</tool_call>"])
    assert not s.saw_marker


def test_starting_inside_reasoning_without_closer_is_all_reasoning() -> None:
    assert split("The answer is 4.", "deepseek_r1") == ("The answer is 4.", "")


def test_auto_first_opener_decides_the_closer() -> None:
    text = "[THINK]uses </think> literally[/THINK]answer"
    assert split(text, "auto") == ("uses </think> literally", "answer")


def test_custom_tags_override_the_preset_pairs() -> None:
    s = ReasoningSplitter(tags=[("<r>", "</r>")])
    assert merge(s.feed("<r>x</r><think>y</think>") + s.finish()) == [
        ("reasoning", "x"),
        ("content", "<think>y</think>"),
    ]


def test_saw_marker_tells_whether_anything_was_recognised() -> None:
    plain, marked = ReasoningSplitter(), ReasoningSplitter()
    run(plain, ["no tags <th"])
    run(marked, ["<think></think>x"])
    assert not plain.saw_marker
    assert marked.saw_marker
    assert not marked.has_reasoning


def test_kind_reports_the_current_state() -> None:
    s = ReasoningSplitter()
    s.feed("<think>x")
    assert s.in_reasoning
    s.feed("</think>y")
    assert not s.in_reasoning


def test_finish_empties_the_splitter() -> None:
    s = ReasoningSplitter()
    s.feed("<think>a</thi")
    assert s.finish() == [("reasoning", "</thi")]
    assert s.finish() == []


PRESET_SAMPLES = {
    "think": ("<think>\nA.\n</think>\n\nB.", False),
    "deepseek_r1": ("A.\n</think>\n\nB.", False),
    "deepseek_v3": ("<think>A.</think>B.", False),
    "qwen3": ("<think>\nA.\n</think>\n\nB.", False),
    "qwen3_thinking": ("A.\n</think>\n\nB.", False),
    "glm45": ("\nA.</think>B.", False),
    "kimi_k2": ("A.</think>B.", False),
    "minimax_m2": ("A.\n</think>\n\nB.", False),
    "kimi_k3": ("A.<|close|>think<|sep|>B.", False),
    "seed_oss": ("<seed:think>A.</seed:think>B.", False),
    "mistral": ("[THINK]A.[/THINK]B.", False),
    "kimi": ("◁think▷A.◁/think▷B.", False),
    "minimax_m3": ("<mm:think>A.</mm:think>B.", False),
    "cohere": ("<|START_THINKING|>A.<|END_THINKING|><|START_RESPONSE|>B.", True),
    "gemma4": ("<|channel>thought\nA.<channel|>B.", False),
    "granite": ("Here is my thought process:\nA.\nHere is my response:\nB.", False),
    "auto": ("<|begin_of_thought|>A.<|end_of_thought|>B.", False),
}


def test_every_preset_has_a_sample() -> None:
    assert set(PRESET_SAMPLES) == set(PRESETS)


@pytest.mark.parametrize("preset", sorted(PRESET_SAMPLES))
def test_preset_splits_its_family_output(preset: str) -> None:
    text, keeps_response_marker = PRESET_SAMPLES[preset]
    reasoning, content = split(text, preset)
    assert reasoning.strip() == "A."
    assert content == ("<|START_RESPONSE|>B." if keeps_response_marker else "B.")


def test_preset_names_accept_hyphens_and_case() -> None:
    assert split("x</think>y", "DeepSeek-R1") == ("x", "y")


def test_tool_call_section_ends_kimi_reasoning() -> None:
    text = "plan<|tool_calls_section_begin|><|tool_call_begin|>"
    assert split(text, "kimi_k2") == ("plan", "<|tool_calls_section_begin|><|tool_call_begin|>")


# Properties. The reference below applies the rules to the whole text at once, character by
# character, with none of the splitter's shortcuts; any chunking must agree with it.


def reference_split(text: str, fmt: TagFormat, starts_in_reasoning: bool) -> list[Segment]:
    openers = [start for start, _ in fmt.pairs]
    closers_of: dict[str | None, list[str]] = {None: [end for _, end in fmt.pairs]}
    for start, end in fmt.pairs:
        closers_of.setdefault(start, []).append(end)
    out: list[Segment] = []
    in_reasoning = starts_in_reasoning
    closers = closers_of[None] + list(fmt.implicit_ends)
    block_start = skip = starts_in_reasoning
    blocks_with_text = 0
    block_has_text = False
    i = 0
    while i < len(text):
        if skip and text[i].isspace():
            i += 1
            continue
        skip = False
        if in_reasoning and block_start:
            repeated = next((o for o in openers if text.startswith(o, i)), None)
            if repeated is not None:
                i += len(repeated)
                skip = True
                continue
            block_start = False
        if in_reasoning:
            closer = next((c for c in closers if text.startswith(c, i)), None)
            if closer is not None:
                in_reasoning = False
                if closer in fmt.implicit_ends:
                    out.append(("content", text[i:]))
                    break
                else:
                    skip = True
                i += len(closer)
                continue
            if not block_has_text:
                block_has_text = True
                blocks_with_text += 1
                if blocks_with_text > 1:
                    out.append(("reasoning", "\n\n"))
            out.append(("reasoning", text[i]))
        else:
            starts = fmt.implicit_ends + fmt.tool_call_starts
            tool_call = next((e for e in starts if text.startswith(e, i)), None)
            if tool_call is not None:
                out.append(("content", text[i:]))
                break
            opener = next((o for o in openers if text.startswith(o, i)), None)
            if opener is not None:
                in_reasoning = block_start = skip = True
                block_has_text = False
                closers = closers_of[opener] + list(fmt.implicit_ends)
                i += len(opener)
                continue
            out.append(("content", text[i]))
        i += 1
    return merge(out)


ALPHABET = ["<", "/", ">", "think", "th", "ink", "<think>", "</think>", " ", "\n", "a", "é", "🙂"]
ALPHABET += ["\t", "\u3000", "\x1c"]
ALPHABET += ["<tool_call>", "[THINK]", "[/THINK]", "[", "]", "T", "<|", "|>", "H", "Here is my"]
ALPHABET += [
    "Here is my thought process:",
    "Here is my response:",
    "<|channel>thought",
    "<channel|>",
]
texts = st.lists(st.sampled_from(ALPHABET), max_size=30).map("".join)


@st.composite
def chunkings(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(texts)
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


PROPERTY_PRESETS = ["think", "deepseek_r1", "qwen3", "auto", "mistral", "granite", "gemma4"]
PROPERTY_PRESETS += ["kimi_k3"]


@settings(max_examples=300)
@given(case=chunkings(), preset=st.sampled_from(PROPERTY_PRESETS), prefilled=st.booleans())
def test_any_chunking_matches_the_reference(
    case: tuple[str, list[str]], preset: str, prefilled: bool
) -> None:
    text, pieces = case
    fmt = resolve_tag_format(preset, None)
    expected = reference_split(text, fmt, prefilled)
    assert run(ReasoningSplitter(preset, starts_in_reasoning=prefilled), pieces) == expected


@settings(max_examples=200)
@given(case=chunkings(), preset=st.sampled_from(PROPERTY_PRESETS))
def test_character_by_character_matches_one_shot(case: tuple[str, list[str]], preset: str) -> None:
    text, _ = case
    one_shot = run(ReasoningSplitter(preset), [text])
    assert run(ReasoningSplitter(preset), list(text)) == one_shot


@settings(max_examples=300)
@given(case=chunkings(), preset=st.sampled_from(PROPERTY_PRESETS), prefilled=st.booleans())
def test_holdback_never_exceeds_the_longest_marker(
    case: tuple[str, list[str]], preset: str, prefilled: bool
) -> None:
    _, pieces = case
    fmt = resolve_tag_format(preset, None)
    markers = [m for pair in fmt.pairs for m in pair] + list(fmt.implicit_ends)
    bound = max(map(len, markers)) - 1
    s = ReasoningSplitter(preset, starts_in_reasoning=prefilled)
    for piece in pieces:
        s.feed(piece)
        assert len(s._held) <= bound
    s.finish()
    assert s._held == ""


@settings(max_examples=300)
@given(case=chunkings(), preset=st.sampled_from(PROPERTY_PRESETS))
def test_text_without_an_opener_comes_back_unchanged_however_cut(
    case: tuple[str, list[str]], preset: str
) -> None:
    text, pieces = case
    fmt = resolve_tag_format(preset, None)
    if any(start in text for start, _ in fmt.pairs):
        return
    splitter = ReasoningSplitter(preset, starts_in_reasoning=False)
    assert run(splitter, pieces) == merge([("content", text)])
