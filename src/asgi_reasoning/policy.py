"""What one request asks for: the mode, and whether the model's output starts in reasoning.

Decided once per request from the configuration and the request's JSON body (DESIGN.md §5).
The request body is only read, never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .effort import template_thinking

if TYPE_CHECKING:
    from .config import Config, Mode, ResponsesReasoning
    from .text.presets import TagFormat

logger = logging.getLogger("asgi_reasoning")


@dataclass(frozen=True, slots=True)
class Policy:
    """How the responses to one request are rewritten."""

    tag_format: TagFormat
    starts_in_reasoning: bool
    mode: Mode
    fields: tuple[str, ...]
    responses_reasoning: ResponsesReasoning = "summary"
    signature: str = ""


def decide_policy(config: Config, request: object, *, thinking: bool | None = None) -> Policy:
    """The policy for a request whose JSON body is ``request`` (``None`` when unread).

    ``config`` is the settings for the request's model (``Config.for_model``); ``request``
    is the body as the app receives it, after any request-side rewrite.

    ``thinking`` is what the request says of the model's thinking, as its API reads it
    (``WireAPI.thinking_requested``): on, off, or ``None`` for neither.
    """
    body: Mapping[str, Any] = request if isinstance(request, Mapping) else {}
    requested = _requested_mode(body) if config.request_overrides else None
    # DESIGN.md §17: the operator's strip is a floor. A request may ask for more privacy
    # (strip), never for less: under strip no switch brings reasoning back.
    mode = "strip" if config.mode == "strip" else requested or config.mode
    return Policy(
        tag_format=config.tag_format,
        starts_in_reasoning=_starts_in_reasoning(config, body, thinking),
        mode=mode,
        fields=config.fields,
        responses_reasoning=config.responses_reasoning,
        signature=config.signature,
    )


def _starts_in_reasoning(config: Config, body: Mapping[str, Any], thinking: bool | None) -> bool:
    family = template_thinking(body, config.template_switch)
    if thinking is False or family is False:
        # DESIGN.md §15: the template closed (or never opened) the reasoning block, so the
        # output starts in content whatever was configured, starts_in_reasoning=True too.
        return False
    choice = config.starts_in_reasoning
    if isinstance(choice, bool):
        return choice
    if choice is not None:
        try:
            return bool(choice(body))
        except Exception:
            logger.exception("starts_in_reasoning callable failed; using the preset's default")
            return config.tag_format.starts_in_reasoning
    fmt = config.tag_format
    if thinking is True or family is True:
        return fmt.starts_in_reasoning or fmt.starts_in_reasoning_when_thinking
    return fmt.starts_in_reasoning


def _requested_mode(body: Mapping[str, Any]) -> Mode | None:
    """The mode the client's switches ask for; when they conflict, strip wins, then off.

    ``reasoning_format``: Groq's ``"hidden"`` drops reasoning (strip) and ``"raw"`` leaves it
    in the text (passthrough); vLLM's and SGLang's ``"none"`` is passthrough too; any other
    name (``"parsed"``, ``"deepseek"``, ...) asks for it apart (separate).
    """
    reasoning = body.get("reasoning")
    reasoning_format = body.get("reasoning_format")
    if (
        body.get("include_reasoning") is False
        or (isinstance(reasoning, Mapping) and reasoning.get("exclude") is True)
        or reasoning_format == "hidden"
    ):
        return "strip"
    separate = body.get("separate_reasoning")
    if reasoning_format in ("none", "raw") or separate is False:
        return "passthrough"
    if separate is True or isinstance(reasoning_format, str):
        return "separate"
    return None
