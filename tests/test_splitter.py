"""ReasoningSplitter: the rules of DESIGN.md §4, by example and as properties."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_reasoning import PRESETS, ReasoningSplitter
from asgi_reasoning.text.presets import resolve_tag_format
from asgi_reasoning.text.splitter import BLOCK_SEPARATOR

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

    from asgi_reasoning.text.presets import TagFormat
    from asgi_reasoning.text.splitter import Kind, Segment


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
    ["a < b and c > d", "<thinking>not ours</thinking>", "x <th", "<", "<think", "</thin"],
)
def test_look_alikes_stay_where_they_were(text: str) -> None:
    assert split(text) == ("", text)


def test_a_leading_closer_is_dropped_alone() -> None:
    assert split("</think>Yes.") == ("", "Yes.")
    s = ReasoningSplitter()
    assert s.feed("</th") == []
    assert s.feed("ink>\nYes") == [("content", "\nYes")]
    assert s.saw_marker


def test_a_stray_closer_later_in_content_is_dropped_alone() -> None:
    assert split("leaked plan</think>\n\nYes.") == ("", "leaked plan\n\nYes.")
    assert split("<think>a</think>b</think> c") == ("a", "b c")


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


def test_an_answer_start_ends_reasoning_and_wrappers_leave_content() -> None:
    text = "<|START_THINKING|>plan<|END_THINKING|><|START_RESPONSE|>Yes.<|END_RESPONSE|>"
    assert split(text, "cohere") == ("plan", "Yes.")
    # Thinking off: the template closed reasoning; the answer's wrapper ends it at once.
    assert split("<|START_TEXT|>Yes.<|END_TEXT|>", "cohere") == ("", "Yes.")


def test_explicit_tags_construction_is_cached() -> None:
    tags = [("<r>", "</r>")]
    first = ReasoningSplitter(tags=tags)
    second = ReasoningSplitter(tags=tags)
    assert first._grammar is second._grammar
    assert run(second, ["<r>x</r>y"]) == [("reasoning", "x"), ("content", "y")]


def test_explicit_tags_given_as_lists_still_work() -> None:
    s = ReasoningSplitter(tags=[["<r>", "</r>"]])  # type: ignore[list-item]
    assert run(s, ["<r>x</r>y"]) == [("reasoning", "x"), ("content", "y")]


# Harmony (gpt-oss). The output follows the generation prompt "<|start|>assistant".

HARMONY_CALL = (
    "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json"
    '<|message|>{"city": "Paris", "note": "<|end|> and <|channel|>final"}'
)


def test_harmony_analysis_is_reasoning_and_final_is_content() -> None:
    text = (
        "<|channel|>analysis<|message|>The user greets.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>Hello!<|return|>"
    )
    assert split(text, "harmony") == ("The user greets.", "Hello!")


def test_harmony_several_analysis_messages_are_blocks() -> None:
    text = (
        "<|channel|>analysis<|message|>First.<|end|>"
        "<|start|>assistant<|channel|>commentary<|message|>Checking.<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Second.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>Done."
    )
    assert split(text, "harmony") == ("First.\n\nSecond.", "Checking.Done.")


def test_harmony_tool_call_stays_content_exactly_as_written() -> None:
    text = "<|channel|>analysis<|message|>Call it.<|end|>" + HARMONY_CALL
    assert split(text, "harmony") == ("Call it.", HARMONY_CALL)


def test_harmony_tool_call_without_reasoning_is_unchanged() -> None:
    text = ' to=functions.get_time<|channel|>commentary json<|message|>{"tz": "UTC"}'
    s = ReasoningSplitter("harmony")
    assert run(s, [text]) == [("content", text)]
    assert not s.saw_marker


def test_harmony_preamble_then_tool_call() -> None:
    text = "<|channel|>commentary<|message|>Let me check.<|end|>" + HARMONY_CALL
    assert split(text, "harmony") == ("", "Let me check." + HARMONY_CALL)


def test_harmony_control_tokens_in_analysis_text_are_text() -> None:
    text = "<|channel|>analysis<|message|>Never write <|call|> or <|channel|>final.<|end|>"
    assert split(text, "harmony") == ("Never write <|call|> or <|channel|>final.", "")


def test_harmony_broken_header_is_released_as_content() -> None:
    text = "<|channel|>??<|end|><|start|>assistant<|channel|>analysis<|message|>Think."
    assert split(text, "harmony") == ("Think.", "<|channel|>??")


def test_harmony_header_cut_off_at_the_end_is_released_unchanged() -> None:
    s = ReasoningSplitter("harmony")
    assert s.feed("<|channel|>analysis<|message|>a<|end|><|start|>assistant to=f") == [
        ("reasoning", "a")
    ]
    assert s.finish() == [("content", "<|start|>assistant to=f")]


def test_harmony_overlong_header_is_content() -> None:
    text = "<|channel|>" + "x" * 300 + "<|message|>tail"
    assert split(text, "harmony") == ("", text)


def test_harmony_stripped_reads_bare_channel_names_at_the_start_only() -> None:
    text = "analysisThe user greets.assistantfinalHello, analysis done."
    assert split(text, "harmony_stripped") == ("The user greets.", "Hello, analysis done.")
    assert split("finalHi.", "harmony_stripped") == ("", "Hi.")
    assert split("An analysis.", "harmony_stripped") == ("", "An analysis.")


# Linear time: the Python-level work (bytecode instructions executed in the splitter)
# for ten times the input is about ten times the work, whatever the preset.


def count_instructions(preset: str, pieces: Sequence[str]) -> int:
    import sys

    from asgi_reasoning.text import splitter as splitter_module

    count = 0
    code_file = splitter_module.__file__

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if frame.f_code.co_filename != code_file:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    s = ReasoningSplitter(preset)
    sys.settrace(tracer)
    try:
        for piece in pieces:
            s.feed(piece)
        s.finish()
    finally:
        sys.settrace(None)
    return count


LINEAR_UNIT = (
    "<think>a < b [x ◁ <|x</think>c <d> [/ <|channel|>final<|message|>e<|end|>"
    "<|START_RESPONSE|>f<|END_RESPONSE|> g </thinking> h<"
)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("streamed", [False, True])
def test_work_grows_linearly_with_the_input(preset: str, streamed: bool) -> None:
    fmt = PRESETS[preset]
    # Every marker but those that begin a tool call (after which nothing is looked for).
    tool_calls = {*fmt.implicit_ends, *fmt.tool_call_starts}
    unit = LINEAR_UNIT + "".join(m for m in fmt.markers() if m not in tool_calls)

    def pieces(repeats: int) -> list[str]:
        text = unit * repeats
        return [text[i : i + 3] for i in range(0, len(text), 3)] if streamed else [text]

    small = count_instructions(preset, pieces(8))
    large = count_instructions(preset, pieces(80))
    assert large <= 11 * small


def test_auto_whole_body_with_many_markers_is_linear() -> None:
    # Issue #10: after each marker, auto rescanned every later "<" (54 kB took 109 s).
    unit = "<think>x</think>" + "a < b " * 20
    small = count_instructions("auto", [unit * 50])
    large = count_instructions("auto", [unit * 500])
    assert large <= 11 * small


# Properties. The reference below reads a TagFormat directly and applies the rules to the
# whole text at once, character by character, with none of the splitter's shortcuts or
# compiled tables; any chunking must agree with it.


def reference_split(text: str, fmt: TagFormat, starts_in_reasoning: bool) -> list[Segment]:
    openers = list(dict.fromkeys(start for start, _ in fmt.pairs))
    all_closers = list(dict.fromkeys(end for _, end in fmt.pairs))
    ch = fmt.channels
    out: list[Segment] = []
    kind = "reasoning" if starts_in_reasoning else "content"
    block_closers: list[str] = all_closers + ([*ch.reasoning_ends] if ch else [])
    at_start = not starts_in_reasoning
    block_start = skip = starts_in_reasoning
    block_has_text = False
    blocks_with_text = 0
    header: str | None = None
    tool_call = False

    def emit(k: Kind, piece: str) -> None:
        nonlocal block_has_text, blocks_with_text
        if k == "reasoning" and not block_has_text:
            block_has_text = True
            blocks_with_text += 1
            if blocks_with_text > 1:
                out.append(("reasoning", "\n\n"))
        out.append((k, piece))

    def first(candidates: Sequence[str], i: int) -> str | None:
        return next((m for m in candidates if text.startswith(m, i)), None)

    def open_block(closers: list[str]) -> None:
        nonlocal kind, block_start, skip, block_has_text, block_closers
        kind, block_start, skip, block_has_text = "reasoning", True, True, False
        block_closers = closers

    i = 0
    while i < len(text):
        if tool_call:
            emit("content", text[i:])
            break
        if header is not None:
            assert ch is not None
            if text.startswith(ch.header_end, i):
                i += len(ch.header_end)
                if ch.recipient_marker in header:
                    emit("content", header + ch.header_end)
                    tool_call = True
                elif (
                    ch.channel_marker in header
                    and channel_name(header, ch.channel_marker) in ch.reasoning_channels
                ):
                    open_block(list(ch.reasoning_ends))
                header = None
                continue
            aborts = [*ch.message_ends, *(m for m in ch.header_starts if m != ch.channel_marker)]
            if first(aborts, i) is not None:
                emit("content", header)
                header = None
                continue
            header += text[i]
            i += 1
            if len(header) > ch.max_header_length:
                emit("content", header)
                header = None
            continue
        if skip and text[i].isspace():
            i += 1
            continue
        skip = False
        if at_start:
            at_start = False
            leading = first([*fmt.leading_drops, *(ch.leading_header_starts if ch else ())], i)
            opener = first(fmt.leading_openers, i)
            if opener is not None:
                i += len(opener)
                open_block([e for s, e in fmt.pairs if s == opener])
                continue
            if leading is not None and ch and leading in ch.leading_header_starts:
                header = leading
                i += len(leading)
                continue
            if leading is not None:
                i += len(leading)
                skip = True
                continue
        if kind == "reasoning" and block_start:
            repeated = first(openers, i)
            if repeated is not None:
                i += len(repeated)
                skip = True
                continue
            block_start = False
        if kind == "reasoning":
            if first(fmt.implicit_ends, i) is not None:
                emit("content", text[i:])
                break
            closer = first([*block_closers, *fmt.answer_starts], i)
            if closer is not None:
                kind, skip = "content", True
                i += len(closer)
                continue
            emit("reasoning", text[i])
            i += 1
            continue
        if first([*fmt.implicit_ends, *fmt.tool_call_starts], i) is not None:
            emit("content", text[i:])
            break
        opener = first([o for o in openers if o not in fmt.leading_openers], i)
        if opener is not None:
            i += len(opener)
            open_block([e for s, e in fmt.pairs if s == opener])
            continue
        starter = first(fmt.answer_starts, i)
        if starter is not None:
            i += len(starter)
            skip = True
            continue
        dropped = first([*fmt.answer_ends, *(all_closers if fmt.drops_stray_closers else [])], i)
        if ch is not None and dropped is None:
            dropped = first(ch.message_ends, i)
            header_start = first(ch.header_starts, i)
            if header_start is not None:
                header = header_start
                i += len(header_start)
                continue
        if dropped is not None:
            i += len(dropped)
            continue
        emit("content", text[i])
        i += 1
    if header is not None:
        emit("content", header)
    return merge(out)


def channel_name(header: str, channel_marker: str) -> str:
    name = header.split(channel_marker, 1)[1]
    for stop in (" ", "\t", "\n", "<"):
        name = name.split(stop, 1)[0]
    return name


def marker_alphabet() -> list[str]:
    markers = {m for fmt in PRESETS.values() for m in fmt.markers()}
    pieces = {m[: len(m) // 2] for m in markers} | {m[len(m) // 2 :] for m in markers}
    words = ["analysis", "final", "commentary", " to=f", "assistant", "json"]
    return sorted(markers | pieces | set(words))


ALPHABET = ["<", "/", ">", "think", "th", "ink", " ", "\n", "a", "é", "🙂", "\t", "\u3000"]
ALPHABET += ["[", "]", "|", "x" * 40, *marker_alphabet()]
texts = st.lists(st.sampled_from(ALPHABET), max_size=30).map("".join)


@st.composite
def chunkings(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(texts)
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


ALL_PRESETS = sorted(PRESETS)


@settings(max_examples=1500)
@given(case=chunkings(), preset=st.sampled_from(ALL_PRESETS), prefilled=st.booleans())
def test_any_chunking_matches_the_reference(
    case: tuple[str, list[str]], preset: str, prefilled: bool
) -> None:
    text, pieces = case
    fmt = resolve_tag_format(preset, None)
    expected = reference_split(text, fmt, prefilled)
    assert run(ReasoningSplitter(preset, starts_in_reasoning=prefilled), pieces) == expected


@settings(max_examples=300)
@given(case=chunkings(), preset=st.sampled_from(ALL_PRESETS))
def test_character_by_character_matches_one_shot(case: tuple[str, list[str]], preset: str) -> None:
    text, _ = case
    one_shot = run(ReasoningSplitter(preset), [text])
    assert run(ReasoningSplitter(preset), list(text)) == one_shot


@settings(max_examples=500)
@given(case=chunkings(), preset=st.sampled_from(ALL_PRESETS), prefilled=st.booleans())
def test_holdback_never_exceeds_the_longest_marker(
    case: tuple[str, list[str]], preset: str, prefilled: bool
) -> None:
    _, pieces = case
    fmt = resolve_tag_format(preset, None)
    bound = max(map(len, fmt.markers())) - 1
    header_bound = fmt.channels.max_header_length if fmt.channels else 0
    s = ReasoningSplitter(preset, starts_in_reasoning=prefilled)
    for piece in pieces:
        s.feed(piece)
        assert len(s._held) <= bound
        assert len(s._header or "") <= header_bound
    s.finish()
    assert s._held == ""
    assert s._header is None


@settings(max_examples=500)
@given(case=chunkings(), preset=st.sampled_from(ALL_PRESETS))
def test_text_without_markers_comes_back_unchanged_however_cut(
    case: tuple[str, list[str]], preset: str
) -> None:
    text, pieces = case
    fmt = resolve_tag_format(preset, None)
    if any(marker in text for marker in fmt.markers()):
        return
    splitter = ReasoningSplitter(preset, starts_in_reasoning=False)
    assert run(splitter, pieces) == merge([("content", text)])
    assert not splitter.saw_marker


@settings(max_examples=500)
@given(case=chunkings(), preset=st.sampled_from(ALL_PRESETS), prefilled=st.booleans())
def test_segments_and_removed_markers_rebuild_the_input(
    case: tuple[str, list[str]], preset: str, prefilled: bool
) -> None:
    """Joined in order, the segments are the input without its markers and the whitespace
    dropped after them (and Harmony's headers): nothing else is lost or added."""
    text, pieces = case
    fmt = resolve_tag_format(preset, None)
    splitter = ReasoningSplitter(preset, starts_in_reasoning=prefilled)
    joined = "".join(t for _, t in run(splitter, pieces))
    joined = joined.replace(BLOCK_SEPARATOR, "")
    assert is_subsequence(joined, text.replace(BLOCK_SEPARATOR, ""))
    if fmt.channels is None:
        # Harmony drops whole headers, not markers only; every other format drops markers.
        stripped = text
        for marker in sorted(fmt.markers(), key=len, reverse=True):
            stripped = stripped.replace(marker, "")
        assert is_subsequence("".join(stripped.split()), "".join(joined.split()))


def is_subsequence(part: str, whole: str) -> bool:
    chars = iter(whole)
    return all(c in chars for c in part)


# Harmony conversations built from messages, so the expected split is known by construction.

harmony_text = ["Plan", " a < b", "\n", "é", "🙂", "{}", "to be"]
content_bodies = st.lists(st.sampled_from(harmony_text), min_size=1, max_size=4).map("".join)
# Inside analysis, control tokens other than <|end|> are text.
analysis_bodies = st.lists(
    st.sampled_from([*harmony_text, "<|call|>", "<|channel|>final", "<|return|>"]),
    min_size=1,
    max_size=4,
).map("".join)
harmony_messages = st.lists(
    st.one_of(
        st.tuples(st.just("analysis"), analysis_bodies),
        st.tuples(st.sampled_from(["commentary", "final"]), content_bodies),
    ),
    max_size=4,
)


@settings(max_examples=300)
@given(
    messages=harmony_messages,
    call=st.one_of(st.none(), analysis_bodies),
    cuts=st.sets(st.integers(0, 400), max_size=20),
)
def test_harmony_messages_go_where_their_channels_say(
    messages: list[tuple[str, str]], call: str | None, cuts: set[int]
) -> None:
    parts = []
    for i, (channel, body) in enumerate(messages):
        start = "" if i == 0 else "<|start|>assistant"
        parts.append(f"{start}<|channel|>{channel}<|message|>{body}<|end|>")
    tool_call = ""
    if call is not None:
        # A tool call, arguments holding control tokens as text, and whatever follows it.
        start = "<|start|>assistant" if messages else ""
        tool_call = f"{start} to=functions.f<|channel|>commentary json<|message|>{call}<|call|>"
    text = "".join(parts) + tool_call
    bounds = [0, *sorted(c for c in cuts if c < len(text)), len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    # The whitespace starting a reasoning block is dropped, as after any opener.
    blocks = [body.lstrip() for channel, body in messages if channel == "analysis"]
    expected_reasoning = BLOCK_SEPARATOR.join(block for block in blocks if block)
    expected_content = "".join(body for channel, body in messages if channel != "analysis")
    segments = run(ReasoningSplitter("harmony"), pieces)
    assert "".join(t for k, t in segments if k == "reasoning") == expected_reasoning
    assert "".join(t for k, t in segments if k == "content") == expected_content + tool_call
