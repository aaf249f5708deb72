"""Move a reasoning model's inline chain of thought into `reasoning_content`."""

from __future__ import annotations

__version__ = "0.1.0"
