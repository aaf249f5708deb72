"""Figures the integration tests measure, written next to them for the project's notes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def write_report(name: str, lines: Sequence[str]) -> Path:
    """Replace `tests/integration/last_<name>_report.txt` with these lines."""
    path = Path(__file__).with_name(f"last_{name}_report.txt")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
