"""Move a reasoning model's inline chain of thought into `reasoning_content`."""

from __future__ import annotations

from ._middleware import ReasoningMiddleware as ReasoningMiddleware
from ._presets import PRESETS as PRESETS
from ._presets import TagFormat as TagFormat
from ._splitter import ReasoningSplitter as ReasoningSplitter

__version__ = "0.1.0"

__all__ = ["PRESETS", "ReasoningMiddleware", "ReasoningSplitter", "TagFormat", "__version__"]
