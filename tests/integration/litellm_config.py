"""The LiteLLM proxy's configuration for the tests: one mock model that thinks inline, as a
reasoning model served without a reasoning parser does. No network is used."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

MOCK_MODEL: Final = "mock-reasoner"
MOCK_REASONING: Final = "The user says hi; a greeting back is enough."
MOCK_ANSWER: Final = "Hello! How can I help?"
MASTER_KEY: Final = "sk-integration"


def write_config(path: Path) -> Path:
    """Write the proxy's YAML config (JSON strings are valid YAML scalars) and return its path."""
    mock_response = f"<think>\n{MOCK_REASONING}</think>\n\n{MOCK_ANSWER}"
    path.write_text(
        "model_list:\n"
        f"  - model_name: {MOCK_MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MOCK_MODEL}\n"
        "      api_key: sk-not-used\n"
        f"      mock_response: {json.dumps(mock_response)}\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n",
        encoding="utf-8",
    )
    return path
