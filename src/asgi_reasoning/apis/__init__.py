"""The wire APIs, one module each behind ``base.WireAPI``; the registry that picks one by path."""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Final

from .chat_completions import ChatCompletionsAPI
from .messages import MessagesAPI
from .responses import ResponsesAPI

if TYPE_CHECKING:
    from .base import WireAPI

API_SHAPES: Final[tuple[WireAPI, ...]] = (ChatCompletionsAPI(), MessagesAPI(), ResponsesAPI())

_PATTERNS: Final = tuple(
    (re.compile("|".join(map(fnmatch.translate, api.path_patterns))), api) for api in API_SHAPES
)


def api_for_path(path: str) -> WireAPI | None:
    """The API whose paths match ``path`` (told by its last segments), or ``None``."""
    for pattern, api in _PATTERNS:
        if pattern.match(path):
            return api
    return None
