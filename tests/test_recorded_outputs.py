"""Real model outputs, as recorded by the ``canitoolcall`` project, through ``ReasoningSplitter``.

Each fixture is a raw completion (the text after the chat template's generation prompt) and the
``content``, ``reasoning_content`` and tool calls a correct server returns for it. A marker
splitter does only the reasoning part of that job, so per fixture:

* The output is split with the preset a user of that model picks, starting inside reasoning
  exactly when the generation prompt ends with an unclosed opener (Qwen3-Thinking-2507 and
  Qwen3.5+ ``<think>\\n``, DeepSeek V3.2+ and GLM-4.7+ ``<think>``, Kimi K2.6 ``<think>``; also
  the model's default prompt from ``family.json`` when the fixture records none).
* Reasoning: the joined reasoning equals ``expected.reasoning_content`` (``None`` and ``""``
  alike). Qwen3 and Gemma 4 templates write a newline before the closer (``text.\\n</think>``)
  that the fixtures leave out (the Qwen3 ``family.json`` notes say so: it is template layout); the
  splitter drops whitespace only *after* a marker, so for those two families both sides are
  compared after ``strip()``. DeepSeek, GLM, Kimi and Mistral are compared exactly.
* Content: tool calls are not parsed, so their markup stays in content. From the first tool-call
  opener on, content must be the raw output's tail, verbatim: no part of a call went to
  reasoning or was altered. The content before that opener must start the expected content
  exactly, and whatever the expected content has beyond it (text after a call) must lie in that
  tail. Two whitespace runs are forgiven: the separator before a call (``text\\n<tool_call>``,
  DeepSeek's ``text\\n\\n`` before DSML), which the tool parser removes, and GLM-4.5's newline
  before its ``<think>``, which is content when the output does not start inside reasoning.
* Kimi K3 wraps the answer in
  ``<|open|>response<|sep|>`` … ``<|close|>response<|sep|>``; those wrappers are removed from
  content before comparing, as a K3 tool parser does.
* An output with no reasoning and no marker (thinking off, instruct and coder models) comes back
  as content, unchanged but for answer wrappers (Kimi K3 with thinking off ends its answer
  with ``<|close|>response<|sep|>``).
* A truncated or malformed output (``expected_error``) loses nothing: the segments joined in
  order equal the raw output minus its reasoning markers and the whitespace right after them.

* gpt-oss writes Harmony channels and is split with the ``harmony`` preset: its tool calls
  (a message with a recipient) reach content exactly as written, from their header on, so
  ``<|start|>``, `` to=`` and ``<|channel|>`` count as tool-call openers. A malformed Harmony
  output loses no message text: every message body of the raw output is found in the split.

Every output is fed in one piece and again in seeded random pieces of 1 to 4 characters (token
ids cannot be replayed without the models' tokenizers). Llama fixtures have no reasoning and are
not used.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import pytest

pytest.importorskip("canitoolcall")

from asgi_reasoning import ReasoningSplitter

from .recorded import RecordedOutput, load_recorded_outputs

THINK = ("<think>", "</think>")
MISTRAL_THINK = ("[THINK]", "[/THINK]")
GEMMA4_THOUGHT = ("<|channel>thought", "<channel|>")
KIMI_K3_THINK = ("<|open|>think<|sep|>", "<|close|>think<|sep|>")


@dataclass(frozen=True, slots=True)
class ModelSetup:
    """How a user of one model configures the splitter, and how to read that model's output."""

    preset: str | None
    """``None``: no preset fits, ``pair`` is passed as ``tags``."""
    pair: tuple[str, str]
    tool_call_openers: tuple[str, ...]
    trims_reasoning: bool = False
    """The fixtures' expected reasoning omits the newline the template writes before the closer."""
    preset_default_fits: bool = True
    """The preset's own starting state matches the model's default (thinking-on) prompt."""
    content_markup: tuple[str, ...] = ()
    """Format wrappers around the answer that a tool parser removes from content."""


# DeepSeek's special tokens use U+FF5C FULLWIDTH VERTICAL LINE and U+2581 LOWER ONE EIGHTH BLOCK.
DEEPSEEK_TOOL_CALLS_BEGIN = "<\uff5ctool\u2581calls\u2581begin\uff5c>"
DEEPSEEK_DSML_PREFIX = "<\uff5cDSML\uff5c"

DEEPSEEK = ModelSetup(
    "deepseek_v3",
    THINK,
    (DEEPSEEK_TOOL_CALLS_BEGIN, DEEPSEEK_DSML_PREFIX),
    # V3.1+ think only when the request sends chat_template_kwargs {"thinking": true}.
    preset_default_fits=False,
)
QWEN3 = ModelSetup("qwen3", THINK, ("<tool_call>",), trims_reasoning=True)
QWEN3_THINKING = ModelSetup("qwen3_thinking", THINK, ("<tool_call>",), trims_reasoning=True)
GLM = ModelSetup("glm45", THINK, ("<tool_call>",))
KIMI_K2_THINKING = ModelSetup("kimi_k2", THINK, ("<|tool_calls_section_begin|>",))
# Kimi-K2-Instruct never reasons; kimi_k2 assumes a pre-filled <think>, so it needs
# starts_in_reasoning=False.
KIMI_K2_INSTRUCT = ModelSetup(
    "kimi_k2", THINK, ("<|tool_calls_section_begin|>",), preset_default_fits=False
)
KIMI_K3 = ModelSetup(
    "kimi_k3",
    KIMI_K3_THINK,
    ("<|open|>tools<|sep|>",),
    content_markup=(
        "<|open|>response<|sep|>",
        "<|close|>response<|sep|>",
        "<|close|>message<|sep|>",
    ),
)
MISTRAL = ModelSetup("mistral", MISTRAL_THINK, ("[TOOL_CALLS]",))
# Harmony has no marker pair; ``pair`` holds the tokens that mark any Harmony output.
HARMONY = ModelSetup(
    "harmony", ("<|channel|>", "<|message|>"), ("<|start|>", " to=", "<|channel|>")
)
# Magistral-Small-2506 (tokenizer v11) reasons inside plain-text <think> tags.
MAGISTRAL_2506 = ModelSetup("think", THINK, ("[TOOL_CALLS]",))
GEMMA4 = ModelSetup("gemma4", GEMMA4_THOUGHT, ("<|tool_call>",), trims_reasoning=True)

MODEL_SETUPS: dict[str, ModelSetup] = {
    "deepseek-ai/DeepSeek-V3-0324": DEEPSEEK,
    "deepseek-ai/DeepSeek-V3.1": DEEPSEEK,
    "deepseek-ai/DeepSeek-V3.2": DEEPSEEK,
    "deepseek-ai/DeepSeek-V4-Flash": DEEPSEEK,
    "deepseek-ai/DeepSeek-V4.1-Flash": DEEPSEEK,
    "Qwen/Qwen3-0.6B": QWEN3,
    "Qwen/Qwen3-4B-Instruct-2507": QWEN3,
    "Qwen/Qwen3-4B-Thinking-2507": QWEN3_THINKING,
    "Qwen/Qwen3-Coder-30B-A3B-Instruct": QWEN3,
    "Qwen/Qwen3-Coder-Next": QWEN3,
    "Qwen/Qwen3.5-9B": QWEN3_THINKING,
    "Qwen/Qwen3.6-35B-A3B": QWEN3_THINKING,
    "Qwen/Qwen3.8-27B": QWEN3_THINKING,
    "zai-org/GLM-4.5": GLM,
    "zai-org/GLM-4.7": GLM,
    "zai-org/GLM-5.3": GLM,
    "moonshotai/Kimi-K2.6": KIMI_K2_THINKING,
    "moonshotai/Kimi-K2-Instruct-0905": KIMI_K2_INSTRUCT,
    "moonshotai/Kimi-K3": KIMI_K3,
    "mistralai/Magistral-Small-2509": MISTRAL,
    "mistralai/Ministral-3-14B-Reasoning-2512": MISTRAL,
    "mistralai/Mistral-Small-4-119B-2603": MISTRAL,
    "mistralai/Mistral-Medium-3.5-128B": MISTRAL,
    "mistralai/Magistral-Small-2506": MAGISTRAL_2506,
    "mistralai/Ministral-3-14B-Instruct-2512": MISTRAL,
    "mistralai/Devstral-Small-2507": MISTRAL,
    "mistralai/Mistral-Small-3.2-24B-Instruct-2506": MISTRAL,
    "mistralai/Mistral-7B-Instruct-v0.3": MISTRAL,
    "google/gemma-4-31B-it": GEMMA4,
    "openai/gpt-oss-20b": HARMONY,
    "openai/gpt-oss-120b": HARMONY,
}

FAMILIES_WITHOUT_REASONING = frozenset({"llama"})
# The text of each Harmony message: from its <|message|> to the next control token.
HARMONY_BODIES = re.compile(r"<\|message\|>(.*?)(?=<\||$)", re.DOTALL)
RANDOM_PIECE_SEEDS = (1, 2, 3)


def starts_in_reasoning(output: RecordedOutput, setup: ModelSetup) -> bool:
    """The generation prompt ends with an opener it leaves open: output begins in reasoning."""
    return output.generation_prompt.rstrip().endswith(setup.pair[0])


def has_reasoning_marker(output: RecordedOutput, setup: ModelSetup) -> bool:
    return any(marker in output.raw_output for marker in setup.pair)


def cut_into_pieces(text: str, seed: int) -> list[str]:
    """Token-sized pieces of 1 to 4 characters, the same for a seed on every run."""
    rng = random.Random(seed)
    pieces: list[str] = []
    position = 0
    while position < len(text):
        size = rng.randint(1, 4)
        pieces.append(text[position : position + size])
        position += size
    return pieces


def chunkings(output: RecordedOutput) -> list[tuple[str, list[str]]]:
    named = [("one piece", [output.raw_output])]
    named += [
        (f"random pieces, seed {seed}", cut_into_pieces(output.raw_output, seed))
        for seed in RANDOM_PIECE_SEEDS
    ]
    return named


@dataclass(frozen=True, slots=True)
class SplitText:
    reasoning: str
    content: str
    in_order: str
    """Every segment's text joined in order, whatever its kind."""


def split(setup: ModelSetup, pieces: list[str], starts_inside: bool | None) -> SplitText:
    if setup.preset is None:
        splitter = ReasoningSplitter(tags=[setup.pair], starts_in_reasoning=starts_inside)
    else:
        splitter = ReasoningSplitter(setup.preset, starts_in_reasoning=starts_inside)
    segments: list[tuple[str, str]] = []
    for piece in pieces:
        segments.extend(splitter.feed(piece))
    segments.extend(splitter.finish())
    kinds = {kind for kind, _ in segments}
    assert kinds <= {"reasoning", "content"}, kinds
    return SplitText(
        reasoning="".join(text for kind, text in segments if kind == "reasoning"),
        content="".join(text for kind, text in segments if kind == "content"),
        in_order="".join(text for _, text in segments),
    )


def assert_reasoning_matches(output: RecordedOutput, setup: ModelSetup, got: str) -> None:
    expected = output.expected_reasoning or ""
    if setup.trims_reasoning:
        assert got.strip() == expected.strip()
    else:
        assert got == expected


def remove_content_markup(text: str, setup: ModelSetup) -> str:
    for markup in setup.content_markup:
        text = text.replace(markup, "")
    return text


def assert_content_matches(output: RecordedOutput, setup: ModelSetup, got: str) -> None:
    opener_positions = [got.find(opener) for opener in setup.tool_call_openers]
    first_call = min((position for position in opener_positions if position >= 0), default=-1)
    head, tail = (got, "") if first_call < 0 else (got[:first_call], got[first_call:])
    if output.expected_tool_call_count:
        assert tail, f"no tool-call markup reached content: {got!r}"
    assert output.raw_output.endswith(tail), f"tool-call markup altered: {tail!r}"
    if tail:
        # The separator a template writes before a call is markup; the tool parser drops it.
        head = head.rstrip()
    head = remove_content_markup(head, setup)
    raw_without_leading_space = output.raw_output.lstrip()
    leading_space = output.raw_output[: len(output.raw_output) - len(raw_without_leading_space)]
    if raw_without_leading_space.startswith(setup.pair[0]) and head.startswith(leading_space):
        # GLM-4.5 writes "\n<think>": before any opener, that newline is content.
        head = head[len(leading_space) :]
    expected = output.expected_content or ""
    assert expected.startswith(head), f"content {head!r}, expected {expected!r}"
    text_after_call = expected[len(head) :].strip()
    assert text_after_call in remove_content_markup(tail, setup)


def remove_reasoning_markers(text: str, setup: ModelSetup) -> str:
    """The text with each marker and the whitespace run right after it removed, and the
    answer wrappers before the first tool call (after it, everything is the call's)."""
    positions = [text.find(opener) for opener in setup.tool_call_openers]
    first_call = min((position for position in positions if position >= 0), default=len(text))
    head, tail = text[:first_call], text[first_call:]
    markers = "|".join(re.escape(marker) for marker in setup.pair)
    return re.sub(f"(?:{markers})[ \t\r\n]*", "", remove_content_markup(head, setup)) + tail


class Selection:
    """The fixtures each test runs on, decided once at collection."""

    def __init__(self) -> None:
        self.with_reasoning: list[object] = []
        self.with_preset_default: list[object] = []
        self.without_reasoning: list[object] = []
        self.malformed: list[object] = []
        self.setups_with_reasoning: set[ModelSetup] = set()
        self.unmapped_models: set[str] = set()
        for output in load_recorded_outputs():
            self.add(output)

    def add(self, output: RecordedOutput) -> None:
        if output.family in FAMILIES_WITHOUT_REASONING:
            return
        setup = MODEL_SETUPS.get(output.model)
        if setup is None:
            self.unmapped_models.add(output.model)
            return
        marks: list[pytest.MarkDecorator] = []
        param = pytest.param(output, id=output.fixture_id, marks=marks)
        if output.is_malformed:
            self.malformed.append(param)
        elif (
            output.expected_reasoning
            or has_reasoning_marker(output, setup)
            or starts_in_reasoning(output, setup)
        ):
            self.with_reasoning.append(param)
            self.setups_with_reasoning.add(setup)
            if setup.preset_default_fits and output.thinking is not False:
                self.with_preset_default.append(param)
        else:
            self.without_reasoning.append(param)


SELECTION = Selection()


@pytest.mark.parametrize("output", SELECTION.with_reasoning)
def test_recorded_reasoning_and_content_match_expectation(output: RecordedOutput) -> None:
    setup = MODEL_SETUPS[output.model]
    starts_inside = starts_in_reasoning(output, setup)
    for chunking, pieces in chunkings(output):
        result = split(setup, pieces, starts_inside)
        try:
            assert_reasoning_matches(output, setup, result.reasoning)
            assert_content_matches(output, setup, result.content)
        except AssertionError as error:
            raise AssertionError(f"{chunking}: {result}") from error


@pytest.mark.parametrize("output", SELECTION.with_preset_default)
def test_preset_alone_fits_model_default_output(output: RecordedOutput) -> None:
    """A user who sets only the preset gets the split right for the model's default prompt."""
    setup = MODEL_SETUPS[output.model]
    for chunking, pieces in chunkings(output)[:2]:
        result = split(setup, pieces, None)
        try:
            assert_reasoning_matches(output, setup, result.reasoning)
            assert_content_matches(output, setup, result.content)
        except AssertionError as error:
            raise AssertionError(f"{chunking}: {result}") from error


@pytest.mark.parametrize("output", SELECTION.without_reasoning)
def test_recorded_output_without_reasoning_passes_through(output: RecordedOutput) -> None:
    setup = MODEL_SETUPS[output.model]
    for chunking, pieces in chunkings(output):
        result = split(setup, pieces, starts_in_reasoning(output, setup))
        expected = remove_reasoning_markers(output.raw_output, setup)
        assert (result.reasoning, result.content) == ("", expected), chunking


@pytest.mark.parametrize("output", SELECTION.malformed)
def test_truncated_or_malformed_output_loses_nothing(output: RecordedOutput) -> None:
    setup = MODEL_SETUPS[output.model]
    if setup is HARMONY:
        one_piece = split(setup, [output.raw_output], False)
        for chunking, pieces in chunkings(output):
            result = split(setup, pieces, False)
            assert result == one_piece, chunking
            for body in HARMONY_BODIES.findall(output.raw_output):
                assert body in result.in_order, (chunking, body)
        return
    expected_text = remove_reasoning_markers(output.raw_output, setup)
    for chunking, pieces in chunkings(output):
        result = split(setup, pieces, starts_in_reasoning(output, setup))
        assert result.in_order == expected_text, chunking


def test_every_recorded_model_has_a_setup() -> None:
    assert SELECTION.unmapped_models == set()


def test_recorded_fixtures_cover_every_reasoning_setup() -> None:
    assert SELECTION.setups_with_reasoning == {
        DEEPSEEK,
        QWEN3,
        QWEN3_THINKING,
        GLM,
        KIMI_K2_THINKING,
        KIMI_K3,
        MISTRAL,
        MAGISTRAL_2506,
        GEMMA4,
        HARMONY,
    }
