"""Named model families: their reasoning markers and where their output starts.

Preset names follow the ``--reasoning-parser`` names of vLLM and SGLang, so that a user who
already serves a model with one of them finds the same word here. ``-`` and ``_`` are
interchangeable (``deepseek-r1`` is ``deepseek_r1``).

Intentional divergences:

1. ``auto`` knows every pair below except ``granite``'s, whose markers are plain English
   phrases that ordinary answers may contain.
2. A closer met in content, with no opener before it, is text, not a marker: the splitter
   cannot take back content it has already released. Models whose template pre-fills the
   opener need a preset (or ``starts_in_reasoning=True``) that starts inside reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

THINK: Final = ("<think>", "</think>")


@dataclass(frozen=True, slots=True)
class TagFormat:
    """How one model family marks its reasoning."""

    pairs: tuple[tuple[str, str], ...]
    """(opener, closer) pairs; an opener decides which closers end its block."""

    starts_in_reasoning: bool = False
    """The chat template pre-fills the opener, so output begins inside reasoning."""

    starts_in_reasoning_when_thinking: bool = False
    """A request that turns thinking on explicitly makes the template pre-fill the opener."""

    implicit_ends: tuple[str, ...] = ()
    """Markers that end reasoning and stay in content (a tool call begins)."""

    tool_call_starts: tuple[str, ...] = ()
    """Markers that begin a tool call in content, but are plain text inside reasoning."""

    models: str = ""
    """The models this format fits, for documentation."""


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

_FAMILY_PRESETS: Final[dict[str, TagFormat]] = {
    "think": TagFormat(
        pairs=(THINK,),
        models="any model that writes <think> itself",
    ),
    "deepseek_r1": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        models="DeepSeek-R1 (0528 pre-fills <think>), QwQ-32B, R1 distills",
    ),
    "deepseek_v3": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning_when_thinking=True,
        models='DeepSeek-V3.1/V3.2: thinking only with chat_template_kwargs {"thinking": true}',
    ),
    "qwen3": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning_when_thinking=True,
        implicit_ends=("<tool_call>",),
        models="Qwen3 hybrid (enable_thinking), Qwen3.5+ when enable_thinking is sent",
    ),
    "qwen3_thinking": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<tool_call>",),
        models="Qwen3-*-Thinking-2507, Qwen3.5+ thinking templates (pre-fill <think>)",
    ),
    "glm45": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<tool_call>",),
        models="GLM-4.5/4.6 (write <think>), GLM-4.7, GLM-5 (pre-fill <think>)",
    ),
    "kimi_k2": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        implicit_ends=("<|tool_calls_section_begin|>",),
        models="Kimi-K2-Thinking, Kimi K2.5/K2.6 (pre-fill <think>); not K2-Instruct",
    ),
    "kimi_k3": TagFormat(
        pairs=(("<|open|>think<|sep|>", "<|close|>think<|sep|>"),),
        starts_in_reasoning=True,
        implicit_ends=("<|open|>response<|sep|>", "<|open|>tools<|sep|>"),
        models="Kimi K3 (XTML channels; the template opens the think channel)",
    ),
    "minimax_m2": TagFormat(
        pairs=(THINK,),
        starts_in_reasoning=True,
        models="MiniMax-M2, MiniMax-M2.1 (template pre-fills <think>)",
    ),
    "seed_oss": TagFormat(
        pairs=(("<seed:think>", "</seed:think>"),),
        models="ByteDance Seed-OSS-36B",
    ),
    "mistral": TagFormat(
        pairs=(("[THINK]", "[/THINK]"),),
        tool_call_starts=("[TOOL_CALLS]",),
        models="Magistral Small/Medium 2509+, Ministral 3 reasoning",
    ),
    "kimi": TagFormat(
        pairs=(("◁think▷", "◁/think▷"),),
        models="Kimi-VL-Thinking",
    ),
    "minimax_m3": TagFormat(
        pairs=(("<mm:think>", "</mm:think>"),),
        models="MiniMax-M3",
    ),
    "cohere": TagFormat(
        pairs=(("<|START_THINKING|>", "<|END_THINKING|>"),),
        models="Cohere Command A Reasoning",
    ),
    "gemma4": TagFormat(
        pairs=(("<|channel>thought", "<channel|>"),),
        tool_call_starts=("<|tool_call>",),
        models="Gemma 4 with thinking on",
    ),
    "granite": TagFormat(
        pairs=tuple((opener, closer) for opener in GRANITE_OPENERS for closer in GRANITE_CLOSERS),
        models="IBM Granite 3.2/3.3 with thinking on",
    ),
}

_AUTO_PAIRS: Final = tuple(
    dict.fromkeys(
        OPEN_WEBUI_PAIRS
        + tuple(
            pair for name, fmt in _FAMILY_PRESETS.items() if name != "granite" for pair in fmt.pairs
        )
    )
)

PRESETS: Final[Mapping[str, TagFormat]] = MappingProxyType(
    {
        **_FAMILY_PRESETS,
        "auto": TagFormat(
            pairs=_AUTO_PAIRS,
            models="unknown models: the first opener met decides its closer",
        ),
    }
)


def normalize_preset_name(name: str) -> str:
    """``"DeepSeek-R1"`` -> ``"deepseek_r1"``: the form ``PRESETS`` is keyed by."""
    return name.strip().lower().replace("-", "_")
