"""Move a reasoning model's inline chain of thought to where the client's API puts reasoning.

Chat Completions ``reasoning_content``, Responses ``reasoning`` items, Messages ``thinking``
blocks. The public surface is ``__all__`` here and the ``asgi_reasoning.proxy`` module.
"""

from __future__ import annotations

from .middleware import ReasoningMiddleware as ReasoningMiddleware
from .text.presets import PRESETS as PRESETS
from .text.presets import TagFormat as TagFormat
from .text.splitter import ReasoningSplitter as ReasoningSplitter

__version__ = "0.1.0"

__all__ = ["PRESETS", "ReasoningMiddleware", "ReasoningSplitter", "TagFormat", "__version__"]
