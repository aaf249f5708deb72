"""Named model families: their reasoning markers and where their output starts.

Preset names follow the ``--reasoning-parser`` names of vLLM and SGLang, so that a user who
already serves a model with one of them finds the same word here; every engine name is
accepted (``PRESET_ALIASES``). ``-`` and ``_`` are interchangeable and case is ignored
(``DeepSeek-R1`` is ``deepseek_r1``).

A format is data, read by one state machine (``splitter.py``):

- ``pairs``: an opener starts reasoning, its closers end it (both dropped).
- ``implicit_ends``: end reasoning and stay in content; a tool call begins, so nothing after
  them is a marker (Qwen3's ``<tool_call>``, Cohere's ``<|START_ACTION|>``).
- ``tool_call_starts``: the same, but only in content; inside reasoning they are text.
- ``answer_starts`` / ``answer_ends``: wrappers around the answer, dropped in content; an
  answer start met in reasoning also ends it (Cohere's ``<|START_RESPONSE|>``, Hunyuan's
  ``<answer>``, Kimi K3's ``<|open|>response<|sep|>``).
- ``leading_openers`` / ``leading_drops``: markers recognised only at the very start of the
  output (``harmony_stripped``'s bare channel names).
- ``channels``: a channel protocol (gpt-oss Harmony), where a header before each message
  says where the message goes.

Intentional divergences:

1. ``auto`` knows every pair and every special-token wrapper below, and Harmony's channels
   except its bare `` to=`` header start. It does not know ``granite``'s and ``apriel``'s
   plain-English phrases, ``hunyuan``'s ``<answer>`` and ``ernie45``'s / Granite 3.3's
   ``<response>`` wrappers (ordinary answers and XML may contain them), nor
   ``harmony_stripped``'s bare channel names.
2. A closer met in content (with no opener before it) is dropped, not kept as text. At the
   very start of the output this is what vLLM and SGLang do (MiniMax-M3 begins every answer
   without thinking with a bare ``</mm:think>``; vLLM's ``test_minimax_m3_reasoning_parser``
   drops it), and nothing has been sent yet. Later in content vLLM keeps a stray closer as
   text (``First</think>Middle</think>Last`` gives content ``Middle</think>Last``); here it
   is dropped too, because "the start of the output" is not certain in a stream: the body
   layer forwards events without marker characters unseen by the splitter, so only a rule
   that is the same everywhere in content gives the same answer however the stream is cut.
   A stray closer is a leak of the markup in any case. Only the closer goes: the text before
   it stays content (content already sent is never taken back) and so does the whitespace
   after it, as both engines keep the text after a leading closer as it is. ``granite``,
   ``apriel`` and ``harmony_stripped`` keep their closers as text, since those are English
   phrases an answer may use. (Leading markers, below, are read at the first text the
   splitter sees, with the same caveat; they only exist in Harmony's two presets.)
3. Start states are decided per family from its chat template, not copied from an engine
   (vLLM and SGLang disagree for several). A preset starts inside reasoning when its
   template pre-fills the opener, or when every answer of the family begins with a marker
   that ends reasoning (Cohere, Kimi K3): an answer without thinking then loses nothing.
   Where the model writes the opener itself, starting inside is also harmless (an opener
   at the start of a block is dropped), so it is chosen whenever a family's thinking mode
   may pre-fill; the request's ``enable_thinking`` / ``thinking`` false still starts in
   content.
4. Harmony (``harmony``): ``analysis`` messages are reasoning; ``final`` and ``commentary``
   messages without a recipient are content, their headers and control tokens dropped. A
   message with a recipient (`` to=functions.x``, a tool call) goes to content exactly as it
   was written, header included, and nothing after it is a marker, as after any tool call.
   A header is held until its ``<|message|>`` (at most ``max_header_length`` characters,
   beyond which it is released as content): the one place more than a marker's length is
   held. A header broken by ``<|start|>`` or an end token, or still open at the end, is
   released as content, unchanged.
5. ``harmony_stripped`` is best effort, for servers that drop special tokens from gpt-oss
   output (``analysisThe user asks…assistantfinalIt is 4.``): an output that begins with
   ``analysis`` is reasoning up to ``assistantfinal``; a leading ``final`` is dropped;
   ``assistantcommentary`` (a preamble or a tool call) ends reasoning and stays in content.
   Reasoning that happens to contain ``assistantfinal`` is cut there. Opt in only for such
   servers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, cast

if TYPE_CHECKING:
    from collections.abc import Mapping

THINK: Final = ("<think>", "</think>")


@dataclass(frozen=True, slots=True)
class ChannelFormat:
    """A channel protocol: a header before each message names where the message goes."""

    header_starts: tuple[str, ...]
    """Markers that begin a header, in content (kept in the header's text)."""

    header_end: str
    """The marker that ends a header; the message body follows it."""

    message_ends: tuple[str, ...]
    """Markers that end a message: dropped in content, text inside a tool call."""

    reasoning_ends: tuple[str, ...]
    """Markers that end a reasoning message (others are text in reasoning)."""

    channel_marker: str
    """What precedes the channel name in a header."""

    recipient_marker: str
    """A header holding this names a recipient: the message is a tool call."""

    reasoning_channels: tuple[str, ...]
    """Channel names whose messages are reasoning; every other message is content."""

    leading_header_starts: tuple[str, ...] = ()
    """Markers that begin a header only at the very start of the output (the template
    wrote the header's first part)."""

    max_header_length: int = 256
    """A header longer than this is not one: it is released as content."""


@dataclass(frozen=True, slots=True)
class TagFormat:
    """How one model family marks its reasoning (see the module docstring)."""

    pairs: tuple[tuple[str, str], ...]
    """(opener, closer) pairs; an opener decides which closers end its block."""

    starts_in_reasoning: bool = False
    """The chat template pre-fills the opener, so output begins inside reasoning."""

    starts_in_reasoning_when_thinking: bool = False
    """A request that turns thinking on explicitly makes the template pre-fill the opener
    (the family's own switch, as ``effort.SWITCHES`` reads it: ``enable_thinking``,
    ``thinking``, MiniMax-M3's ``thinking_mode: "enabled"``)."""

    implicit_ends: tuple[str, ...] = ()
    """Markers that end reasoning and stay in content (a tool call begins)."""

    tool_call_starts: tuple[str, ...] = ()
    """Markers that begin a tool call in content, but are plain text inside reasoning."""

    answer_starts: tuple[str, ...] = ()
    """Markers that open the answer: dropped, and they end reasoning when met in it."""

    answer_ends: tuple[str, ...] = ()
    """Markers that close the answer: dropped in content, text in reasoning."""

    leading_openers: tuple[str, ...] = ()
    """Openers of ``pairs`` recognised only at the very start of the output (and at the
    start of a reasoning block, as a repeat), never later in content."""

    leading_drops: tuple[str, ...] = ()
    """Markers dropped only at the very start of the output."""

    drops_stray_closers: bool = True
    """A closer met later in content is dropped (at the very start it always is)."""

    channels: ChannelFormat | None = None
    """A channel protocol (Harmony), read besides the markers above."""

    models: str = ""
    """The models this format fits, for documentation."""

    start_reason: str = ""
    """Why the preset starts where it does, for documentation."""

    def markers(self) -> tuple[str, ...]:
        """Every marker of the format, each once."""
        found = [m for pair in self.pairs for m in pair]
        found += [*self.implicit_ends, *self.tool_call_starts, *self.answer_starts]
        found += [*self.answer_ends, *self.leading_openers, *self.leading_drops]
        if self.channels is not None:
            ch = self.channels
            found += [*ch.header_starts, ch.header_end, *ch.message_ends, *ch.reasoning_ends]
            found += ch.leading_header_starts
        return tuple(dict.fromkeys(found))


OPEN_WEBUI_PAIRS: Final = (
    THINK,
    ("<thinking>", "</thinking>"),
    ("<reason>", "</reason>"),
    ("<reasoning>", "</reasoning>"),
    ("<thought>", "</thought>"),
    ("<Thought>", "</Thought>"),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
    ("◁think▷", "◁/think▷"),
)

GRANITE_OPENERS: Final = ("Here is my thought process:", "Here's my thought process:")
GRANITE_CLOSERS: Final = ("Here is my response:", "Here's my response:")

# OpenAI harmony format (github.com/openai/harmony, docs "Harmony response format"): a
# message is <|start|>{role}[ to={recipient}]<|channel|>{channel}[ <|constrain|>{type}]
# <|message|>{text} ending in <|end|>, <|return|> (the turn's last) or <|call|> (a tool
# call). The generation prompt ends with "<|start|>assistant", so output starts with the
# rest of a header: "<|channel|>…" or " to=functions.x<|channel|>…".
HARMONY_CHANNELS: Final = ChannelFormat(
    header_starts=("<|start|>", "<|channel|>"),
    header_end="<|message|>",
    message_ends=("<|end|>", "<|return|>", "<|call|>"),
    # vLLM and SGLang read "<|call|>" or "<|channel|>" written inside analysis as text.
    reasoning_ends=("<|end|>",),
    channel_marker="<|channel|>",
    recipient_marker="to=",
    reasoning_channels=("analysis",),
    leading_header_starts=(" to=",),
)

KIMI_K3_THINK: Final = ("<|open|>think<|sep|>", "<|close|>think<|sep|>")
COHERE_THINK: Final = ("<|START_THINKING|>", "<|END_THINKING|>")

_FAMILY_PRESETS: Final[dict[str, TagFormat]] = {
    "think": TagFormat(
        pairs=(THINK,),
        models="any model that writes <think> itself",
        start_reason="content: nothing is assumed of the template",
    ),
    "deepseek_r1": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        models="DeepSeek-R1 (0528 pre-fills <think>), QwQ-32B, R1 distills, Step-3/3.5, Holo2",
        start_reason="inside: the templates end the prompt with <think>\\n",
    ),
    "deepseek_v3": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning_when_thinking=True,
        models='DeepSeek-V3.1/V3.2/V4: thinking only with chat_template_kwargs {"thinking": true}',
        start_reason="content; inside when the request turns thinking on (template pre-fills)",
    ),
    "qwen3": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning_when_thinking=True,
        implicit_ends=("<tool_call>",),
        models="Qwen3 hybrid, Qwen3.5+ (enable_thinking), InternS1, MiMo, Poolside v1, "
        "TeleChat4, EXAONE 4",
        start_reason="content: Qwen3 writes <think> itself; inside when enable_thinking is "
        "sent (Qwen3.5+ templates pre-fill it)",
    ),
    "qwen3_thinking": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<tool_call>",),
        models="Qwen3-*-Thinking-2507, Qwen3.5+ thinking templates (pre-fill <think>)",
        start_reason="inside: the template pre-fills <think>\\n",
    ),
    "glm45": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<tool_call>",),
        models="GLM-4.5/4.6 (write <think>), GLM-4.7, GLM-5 (pre-fill <think>)",
        start_reason="inside: GLM-4.7+ pre-fill <think>; GLM-4.5's own <think> is dropped "
        "at the block start (SGLang starts in content)",
    ),
    "kimi_k2": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<|tool_calls_section_begin|>",),
        models="Kimi-K2-Thinking, Kimi K2.5/K2.6 (pre-fill <think>); not K2-Instruct",
        start_reason="inside: the thinking templates pre-fill <think> (SGLang starts in content)",
    ),
    "kimi_k3": TagFormat(
        pairs=(KIMI_K3_THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<|open|>tools<|sep|>",),
        answer_starts=("<|open|>response<|sep|>",),
        answer_ends=("<|close|>response<|sep|>", "<|close|>message<|sep|>"),
        models="Kimi K3 (XTML channels)",
        start_reason="inside: the template opens the think channel, and every answer opens "
        "the response channel, which ends reasoning",
    ),
    "minimax_m2": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        models="MiniMax-M2, MiniMax-M2.1 (template pre-fills <think>)",
        start_reason="inside: the template pre-fills <think>",
    ),
    "minimax_m3": TagFormat(
        pairs=(("<mm:think>", "</mm:think>"),),
        starts_in_reasoning_when_thinking=True,
        models="MiniMax-M3 (an answer without thinking starts with a bare </mm:think>)",
        start_reason='content; inside with chat_template_kwargs {"thinking_mode": "enabled"}, '
        "where the template pre-fills <mm:think>",
    ),
    "seed_oss": TagFormat(
        pairs=(("<seed:think>", "</seed:think>"),),
        models="ByteDance Seed-OSS-36B",
        start_reason="content: the model writes <seed:think> itself (vLLM starts inside)",
    ),
    "mistral": TagFormat(
        pairs=(("[THINK]", "[/THINK]"),),
        tool_call_starts=("[TOOL_CALLS]",),
        models="Magistral Small/Medium 2509+, Ministral 3 reasoning, Mistral Small 4",
        start_reason="content: the model writes [THINK] itself, only when asked to reason "
        "(vLLM starts inside)",
    ),
    "kimi": TagFormat(
        pairs=(("◁think▷", "◁/think▷"),),
        models="Kimi-VL-Thinking",
        start_reason="content: the model writes ◁think▷ itself",
    ),
    "cohere": TagFormat(
        pairs=(COHERE_THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<|START_ACTION|>",),
        answer_starts=("<|START_RESPONSE|>", "<|START_TEXT|>"),
        answer_ends=("<|END_RESPONSE|>", "<|END_TEXT|>"),
        models="Cohere Command A Reasoning (<|START_RESPONSE|>), Command 4 (<|START_TEXT|>)",
        start_reason="inside: with reasoning on the template pre-fills <|START_THINKING|>; "
        "every answer opens with a response/text or action block, which ends reasoning",
    ),
    "gemma4": TagFormat(
        pairs=(("<|channel>thought", "<channel|>"),),
        tool_call_starts=("<|tool_call>",),
        models="Gemma 4 with thinking on",
        start_reason="content: the model opens the thought channel itself",
    ),
    "granite": TagFormat(
        pairs=(
            *((opener, closer) for opener in GRANITE_OPENERS for closer in GRANITE_CLOSERS),
            THINK,
        ),
        answer_starts=("<response>",),
        answer_ends=("</response>",),
        drops_stray_closers=False,
        models="IBM Granite 3.2 (plain-text phrases), Granite 3.3 (<think>…</think>"
        "<response>…</response>), with thinking on",
        start_reason="content: the model writes its opener itself",
    ),
    "granite_thinking": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning_when_thinking=True,
        implicit_ends=("<tool_call>",),
        models="IBM Granite 4 thinking models",
        start_reason="content; inside when the request turns thinking on",
    ),
    "ernie45": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<tool_call>",),
        answer_starts=("<response>",),
        answer_ends=("</response>",),
        models="ERNIE-4.5-21B-A3B-Thinking (</think> then <response>…</response>)",
        start_reason="inside: the thinking model's output often lacks <think> (as in vLLM); "
        "its own <think> is dropped at the block start",
    ),
    "olmo3": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        models="OLMo 3 Think",
        start_reason="inside: the Think template pre-fills <think>",
    ),
    "nemotron_v3": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<tool_call>",),
        models="NVIDIA Nemotron 3 (Nano, Super), Llama-Nemotron reasoning",
        start_reason="inside: with thinking on (the default) the template pre-fills <think>; "
        'enable_thinking false writes "<think></think>" into the prompt',
    ),
    "hunyuan": TagFormat(
        pairs=(THINK,),
        implicit_ends=("<tool_calls>",),
        answer_starts=("<answer>",),
        answer_ends=("</answer>",),
        models="Tencent Hunyuan-A13B (<think>…</think><answer>…</answer>)",
        start_reason="content: the model writes <think> itself",
    ),
    "apertus": TagFormat(
        pairs=(("<|inner_prefix|>", "<|inner_suffix|>"),),
        tool_call_starts=("<|tools_prefix|>",),
        models="Swiss AI Apertus 2509",
        start_reason="content: the model opens its inner block itself",
    ),
    "apriel": TagFormat(
        pairs=(("Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]"),),
        starts_in_reasoning=True,
        answer_ends=("[END FINAL RESPONSE]",),
        leading_openers=("Here are my reasoning steps:",),
        drops_stray_closers=False,
        models="ServiceNow Apriel 1.5/1.6 Thinker",
        start_reason='inside: the template ends the prompt with "Here are my reasoning '
        'steps:\\n"; thinking off writes the final-response marker into the prompt too',
    ),
    "inkling": TagFormat(
        pairs=(("<|content_thinking|>", "<|end_message|>"),),
        implicit_ends=("<|content_invoke_tool_json|>", "<|content_invoke_tool_text|>"),
        answer_starts=("<|content_text|>",),
        answer_ends=("<|message_model|>", "<|content_model_end_sampling|>"),
        models="Inkling typed content blocks (<|message_model|><|content_thinking|>…)",
        start_reason="content: every block names its type, thinking included",
    ),
    "harmony": TagFormat(
        pairs=(),
        channels=HARMONY_CHANNELS,
        models="OpenAI gpt-oss-20b/120b and fine-tunes (Harmony channels, special tokens kept)",
        start_reason="a header: the prompt ends with <|start|>assistant",
    ),
    "harmony_stripped": TagFormat(
        pairs=(("analysis", "assistantfinal"),),
        implicit_ends=("assistantcommentary",),
        leading_openers=("analysis",),
        leading_drops=("final",),
        drops_stray_closers=False,
        models="gpt-oss behind a server that removed its special tokens (best effort)",
        start_reason="content: a leading analysis channel name opens reasoning",
    ),
}

_NOT_IN_AUTO: Final = frozenset({"granite", "apriel", "harmony_stripped"})
_AUTO_WRAPPER_FAMILIES: Final = ("kimi_k3", "cohere")


def _auto_format() -> TagFormat:
    families = [fmt for name, fmt in _FAMILY_PRESETS.items() if name not in _NOT_IN_AUTO]
    pairs = dict.fromkeys(OPEN_WEBUI_PAIRS + tuple(p for fmt in families for p in fmt.pairs))
    wrappers = [_FAMILY_PRESETS[name] for name in _AUTO_WRAPPER_FAMILIES]
    channels = dataclasses.replace(HARMONY_CHANNELS, leading_header_starts=())
    return TagFormat(
        pairs=tuple(pairs),
        answer_starts=tuple(m for fmt in wrappers for m in fmt.answer_starts),
        answer_ends=tuple(m for fmt in wrappers for m in fmt.answer_ends),
        channels=channels,
        models="unknown models: the first opener met decides its closer",
        start_reason="content: nothing is assumed of the template",
    )


PRESETS: Final[Mapping[str, TagFormat]] = MappingProxyType(
    {**_FAMILY_PRESETS, "auto": _auto_format()}
)

# The engines' own names for these presets: vLLM ``--reasoning-parser`` (vllm/reasoning/
# __init__.py), SGLang ``--reasoning-parser`` (python/sglang/srt/parser/reasoning_parser.py
# ``DetectorMap``), in normalised form.
PRESET_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "qwq": "deepseek_r1",
        "step3": "deepseek_r1",
        "step3p5": "deepseek_r1",
        "holo2": "deepseek_r1",
        "deepseek_v31": "deepseek_v3",
        "deepseek_v4": "deepseek_v3",
        "interns1": "qwen3",
        "mimo": "qwen3",
        "poolside_v1": "qwen3",
        "telechat4": "qwen3",
        "exaone4": "qwen3",
        "glm47": "glm45",
        "hy_v3": "think",
        "minimax": "minimax_m2",
        "minimax_m2_append_think": "minimax_m2",
        "minimax_append_think": "minimax_m2",
        "cohere_command3": "cohere",
        "cohere_command4": "cohere",
        "command4": "cohere",
        "command_a": "cohere",
        "nemotron": "nemotron_v3",
        "nemotron_3": "nemotron_v3",
        "hunyuan_a13b": "hunyuan",
        "apertus2509": "apertus",
        "gpt_oss": "harmony",
        "openai_gptoss": "harmony",
        "gptoss": "harmony",
    }
)


def normalize_preset_name(name: str) -> str:
    """``"DeepSeek-R1"`` -> ``"deepseek_r1"``: the form ``PRESETS`` is keyed by."""
    name = name.strip().lower().replace("-", "_")
    return PRESET_ALIASES.get(name, name)


def resolve_tag_format(preset: object, tags: object) -> TagFormat:
    """The preset's format, with its pairs replaced by ``tags`` when given."""
    if not isinstance(preset, str):
        raise TypeError(f"preset: expected a str, got {type(preset).__name__}")
    fmt = PRESETS.get(normalize_preset_name(preset))
    if fmt is None:
        raise ValueError(
            f"preset: unknown preset {preset!r}; choose one of: {', '.join(PRESETS)} "
            f"(or an engine's name: {', '.join(PRESET_ALIASES)})"
        )
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


def _roles(fmt: TagFormat) -> list[tuple[str, str]]:
    roles = [("opener", start) for start in dict.fromkeys(s for s, _ in fmt.pairs)]
    roles += [("closer", end) for end in dict.fromkeys(e for _, e in fmt.pairs)]
    roles += [("implicit end", m) for m in fmt.implicit_ends]
    roles += [("tool-call start", m) for m in fmt.tool_call_starts]
    roles += [("answer start", m) for m in fmt.answer_starts]
    roles += [("answer end", m) for m in fmt.answer_ends]
    roles += [("leading drop", m) for m in fmt.leading_drops]
    roles += [("leading opener", m) for m in fmt.leading_openers if m not in dict(fmt.pairs)]
    if fmt.channels is not None:
        ch = fmt.channels
        roles += [("header start", m) for m in ch.header_starts]
        roles += [("header start", m) for m in ch.leading_header_starts]
        roles += [("header end", ch.header_end)]
        ends = dict.fromkeys((*ch.message_ends, *ch.reasoning_ends))
        roles += [("message end", m) for m in ends]
    return roles


def check_no_marker_is_a_prefix(fmt: TagFormat) -> None:
    # One marker being a prefix of another would make the splitter wait for text that may
    # never come ("<a" vs "<ab>") and make a marker's role depend on what follows it.
    roles = _roles(fmt)
    for role, marker in roles:
        for other_role, other in roles:
            if marker == other and role != other_role:
                raise ValueError(f"tags: {marker!r} is both an {role} and a {other_role}")
            if marker != other and other.startswith(marker):
                raise ValueError(
                    f"tags: {role} {marker!r} is a prefix of {other_role} {other!r}, "
                    "so neither can be recognised as it streams"
                )
