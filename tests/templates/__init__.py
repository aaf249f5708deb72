"""Chat-template excerpts, rendered with jinja2 the way transformers renders them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = Path(__file__).parent


def _raise_exception(message: str) -> NoReturn:
    raise ValueError(message)


def _tojson(value: Any, ensure_ascii: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii)


def render(name: str, messages: list[Any], **kwargs: Any) -> str:
    """The prompt ``tests/templates/<name>.jinja`` makes of ``messages``.

    Like transformers' ``apply_chat_template``: a sandboxed environment with ``trim_blocks``
    and ``lstrip_blocks``, ``raise_exception`` and a ``tojson`` filter; ``kwargs`` are the
    ``chat_template_kwargs``.
    """
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    template = env.from_string((TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8"))
    return template.render(messages=messages, add_generation_prompt=True, **kwargs)
