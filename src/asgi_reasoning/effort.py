"""The client's thinking switch, turned into the one the model's chat template reads.

Clients say how hard to think in their API's own words: Chat ``reasoning_effort`` (or a
top-level ``thinking: {"type": …}`` as the DeepSeek, Kimi and GLM APIs take it, or
OpenRouter's ``reasoning.effort``), Responses ``reasoning.effort``, Messages ``thinking:
{"type": "enabled" | "disabled", "budget_tokens": N}``. No chat template reads those; each
family reads its own ``chat_template_kwargs`` key. ``rewrite_effort`` writes the family's
key, and only when the client set none of the template switches itself.

The client's words are read as an ``Effort``: off, or on at a level (``"low"``, ``"medium"``,
``"high"``, or ``None`` when no level was said). Decisions:

- ``"none"`` and a disabled ``thinking`` are off.
- ``"minimal"`` is off for a family whose template only has on/off (a minimal budget is
  nearer no thinking than a full one), and the lowest level where the template takes levels.
- ``"xhigh"`` / ``"max"`` are the highest level the template takes.
- Messages ``budget_tokens`` picks a level: under 4096 low, under 16384 medium, else high.

``SWITCHES`` has one entry per preset, each citing its source. A preset without an entry
(an unknown template, or one whose thinking cannot be switched: DeepSeek-R1, MiniMax-M2,
Qwen3-Thinking-2507) is left alone: a switch the template ignores would make the response
side expect content while the model still thinks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

Level: TypeAlias = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class Effort:
    """What the client asked of the model's thinking."""

    thinking: bool
    level: Level | None = None
    is_minimal: bool = False
    """``"minimal"``: off for an on/off template, the lowest level for a levelled one."""


@dataclass(frozen=True, slots=True)
class EffortSwitch:
    """How one family's chat template is told whether (and how hard) to think."""

    source: str
    """Where the switch is documented."""

    key: str | None = None
    """The ``chat_template_kwargs`` key that turns thinking on or off."""

    on: object = True
    """The value of ``key`` for thinking on; ``None``: on is the default, left unsaid."""

    off: object = False
    """The value of ``key`` for thinking off; ``None``: thinking cannot be turned off."""

    level_key: str | None = None
    """A ``chat_template_kwargs`` key that takes the level (gpt-oss, Kimi K3)."""

    levels: Mapping[str, str] = field(default_factory=dict)
    """Level -> the template's word for it; a missing level is not written."""

    top_level: bool = False
    """``key`` is a field of the request itself, not of ``chat_template_kwargs``."""

    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in (self.key, self.level_key) if k is not None)


# Keys a client may already have set in chat_template_kwargs: any of them means the client
# chose the template's state itself, and the request is left as it is.
TEMPLATE_SWITCH_KEYS: Final = frozenset(
    {
        "enable_thinking",
        "thinking",
        "thinking_mode",
        "reasoning_effort",
        "thinking_budget",
        "thinking_effort",
    }
)

_HARMONY_LEVELS: Final = {"low": "low", "medium": "medium", "high": "high"}

SWITCHES: Final[Mapping[str, EffortSwitch]] = {
    "qwen3": EffortSwitch(
        source="Qwen3 model card, 'Switching Between Thinking and Non-Thinking Mode'; the "
        "template writes an empty <think></think> when enable_thinking is false",
        key="enable_thinking",
    ),
    "deepseek_v3": EffortSwitch(
        source="DeepSeek-V3.1 model card and chat template ('thinking', default false); "
        "vLLM reasoning docs (deepseek_v3 parser); SGLang reasoning_default explicit_thinking",
        key="thinking",
    ),
    "glm45": EffortSwitch(
        source="GLM-4.5/4.6 chat template (enable_thinking false appends /nothink and an "
        "empty <think></think>); SGLang Glm45Detector reasoning_default enable_thinking",
        key="enable_thinking",
    ),
    "kimi_k2": EffortSwitch(
        source="SGLang KimiK2Detector reasoning_default 'thinking' (Kimi K2.5+ templates read "
        "chat_template_kwargs thinking; K2-Thinking's ignores it and writes <think> itself)",
        key="thinking",
    ),
    "kimi_k3": EffortSwitch(
        source="Kimi K3 chat template: thinking (default true) and thinking_effort in "
        "low/medium/high/max",
        key="thinking",
        level_key="thinking_effort",
        levels={"low": "low", "medium": "medium", "high": "high"},
    ),
    "minimax_m3": EffortSwitch(
        # On is M3's default (adaptive); "enabled" pre-fills <mm:think> (SGLang serving_chat
        # _get_reasoning_from_request), which the preset knows as a thinking switch.
        source="MiniMax-M3 chat template thinking_mode (SGLang serving_chat, minimax-m3)",
        key="thinking_mode",
        on="enabled",
        off="disabled",
    ),
    "gemma4": EffortSwitch(
        source="Gemma 4 chat template enable_thinking (off by default); SGLang Gemma4Detector "
        "reasoning_default explicit_enable_thinking",
        key="enable_thinking",
    ),
    "granite": EffortSwitch(
        source="vLLM reasoning docs: Granite 3.2 thinks only with chat_template_kwargs "
        "thinking=True",
        key="thinking",
    ),
    "nemotron_v3": EffortSwitch(
        source="NVIDIA Nemotron 3 chat template enable_thinking (default true); SGLang "
        "Nemotron3Detector reasoning_default enable_thinking",
        key="enable_thinking",
    ),
    "mistral": EffortSwitch(
        # Magistral / Mistral Small 4 read the request's own reasoning_effort; a Chat
        # request that has one already says it, so only the other APIs are translated.
        source="SGLang MistralDetector: reasoning only with reasoning_effort 'high', none "
        "with 'none' (Mistral-Small-4-119B-2603)",
        key="reasoning_effort",
        on="high",
        off="none",
        top_level=True,
    ),
    "harmony": EffortSwitch(
        # gpt-oss always reasons; Harmony's "Reasoning: low|medium|high" system line is the
        # only knob (the chat template's reasoning_effort variable, default medium).
        source="gpt-oss chat template reasoning_effort (openai/harmony 'Reasoning effort')",
        off=None,
        level_key="reasoning_effort",
        levels=_HARMONY_LEVELS,
    ),
}


def switch_for(preset: str) -> EffortSwitch | None:
    """The preset's entry (normalised name), or ``None``: no translation."""
    return SWITCHES.get(preset)


def custom_switch(key: str) -> EffortSwitch:
    """A boolean ``chat_template_kwargs`` switch named by the operator (``effort="key"``)."""
    return EffortSwitch(source="configured", key=key)


def requested_effort(api: str, request: Mapping[str, Any]) -> Effort | None:
    """What the client's own switch says, in the words of the API named ``api``."""
    if api == "chat_completions":
        return (
            _from_effort_word(request.get("reasoning_effort"))
            or _from_thinking_object(request.get("thinking"))
            or _from_reasoning_object(request.get("reasoning"))
        )
    if api == "responses":
        return _from_reasoning_object(request.get("reasoning"))
    if api == "messages":
        return _from_thinking_object(request.get("thinking"))
    return None


def rewrite_effort(
    api: str, request: Mapping[str, Any], switch: EffortSwitch | None
) -> dict[str, Any] | None:
    """The request with the family's template switch set from the client's, or ``None``.

    ``None`` also when the client already set a template switch, when it said nothing, or
    when the family cannot do what it asked.
    """
    if switch is None:
        return None
    if switch.top_level and api == "chat_completions" and switch.key in request:
        return None
    effort = requested_effort(api, request)
    kwargs = request.get("chat_template_kwargs")
    if effort is None or (kwargs is not None and not isinstance(kwargs, Mapping)):
        return None
    existing: Mapping[str, Any] = kwargs if isinstance(kwargs, Mapping) else {}
    if any(key in existing for key in TEMPLATE_SWITCH_KEYS):
        return None
    writes = _template_values(effort, switch)
    if not writes:
        return None
    if switch.top_level:
        if switch.key in request:
            return None
        return {**request, **writes}
    return {**request, "chat_template_kwargs": {**existing, **writes}}


def template_thinking(request: Mapping[str, Any], switch: EffortSwitch | None) -> bool | None:
    """Whether the request's template switch (as ``switch`` reads it) turns thinking off.

    ``False`` when it is set to the family's off value; ``True`` when set to its on value;
    ``None`` otherwise. This is the model's state, not a client preference.
    """
    if switch is None or switch.key is None:
        return None
    if switch.top_level:
        value = request.get(switch.key)
    else:
        kwargs = request.get("chat_template_kwargs")
        value = kwargs.get(switch.key) if isinstance(kwargs, Mapping) else None
    if value is None:
        return None
    if switch.off is not None and _same(value, switch.off):
        return False
    if switch.on is not None and _same(value, switch.on):
        return True
    return None


def _same(value: object, expected: object) -> bool:
    # True == 1 in Python; a template switch is compared by type too.
    return type(value) is type(expected) and value == expected


def _template_values(effort: Effort, switch: EffortSwitch) -> dict[str, object]:
    writes: dict[str, object] = {}
    if effort.is_minimal and switch.level_key is None and switch.off is not None:
        effort = Effort(thinking=False)
    if not effort.thinking:
        if switch.off is None or switch.key is None:
            return {}
        writes[switch.key] = switch.off
        return writes
    if switch.key is not None and switch.on is not None:
        writes[switch.key] = switch.on
    if switch.level_key is not None and effort.level is not None:
        word = switch.levels.get(effort.level)
        if word is not None:
            writes[switch.level_key] = word
    return writes


_EFFORT_WORDS: Final[Mapping[str, Effort]] = {
    "none": Effort(thinking=False),
    "minimal": Effort(thinking=True, level="low", is_minimal=True),
    "low": Effort(thinking=True, level="low"),
    "medium": Effort(thinking=True, level="medium"),
    "high": Effort(thinking=True, level="high"),
    "xhigh": Effort(thinking=True, level="high"),
    "max": Effort(thinking=True, level="high"),
}


def _from_effort_word(value: object) -> Effort | None:
    if not isinstance(value, str):
        return None
    return _EFFORT_WORDS.get(value.strip().lower())


def _from_reasoning_object(value: object) -> Effort | None:
    if not isinstance(value, Mapping):
        return None
    if value.get("enabled") is False:
        return Effort(thinking=False)
    return _from_effort_word(value.get("effort"))


def _from_thinking_object(value: object) -> Effort | None:
    # Anthropic Messages; also the DeepSeek, Moonshot and Z.ai Chat APIs' thinking object.
    if not isinstance(value, Mapping):
        return None
    kind = value.get("type")
    if kind == "disabled":
        return Effort(thinking=False)
    if kind not in ("enabled", "adaptive"):
        return None
    budget = value.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int):
        return Effort(thinking=True)
    if budget < 4096:
        return Effort(thinking=True, level="low")
    return Effort(thinking=True, level="medium" if budget < 16384 else "high")
