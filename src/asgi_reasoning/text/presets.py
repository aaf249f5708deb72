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

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, cast

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


def resolve_tag_format(preset: object, tags: object) -> TagFormat:
    """The preset's format, with its pairs replaced by ``tags`` when given."""
    if not isinstance(preset, str):
        raise TypeError(f"preset: expected a str, got {type(preset).__name__}")
    fmt = PRESETS.get(normalize_preset_name(preset))
    if fmt is None:
        raise ValueError(f"preset: unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
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


def check_no_marker_is_a_prefix(fmt: TagFormat) -> None:
    # One marker being a prefix of another would make the splitter wait for text that may
    # never come ("<a" vs "<ab>") and make a marker's role depend on what follows it.
    openers = {start for start, _ in fmt.pairs}
    closers = {end for _, end in fmt.pairs}
    roles = [("opener", m) for m in openers] + [("closer", m) for m in closers]
    roles += [("implicit end", m) for m in fmt.implicit_ends]
    roles += [("tool-call start", m) for m in fmt.tool_call_starts]
    for role, marker in roles:
        for other_role, other in roles:
            if marker == other and role != other_role:
                raise ValueError(f"tags: {marker!r} is both an {role} and a {other_role}")
            if marker != other and other.startswith(marker):
                raise ValueError(
                    f"tags: {role} {marker!r} is a prefix of {other_role} {other!r}, "
                    "so neither can be recognised as it streams"
                )
