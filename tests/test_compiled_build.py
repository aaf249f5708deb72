"""The compiled build (``ASGI_REASONING_COMPILE=1 pip install .``) really is compiled.

CI sets ``ASGI_REASONING_EXPECT_COMPILED=1`` in the venv where it installed that build, so a
build hook that silently fell back to pure Python fails the run; elsewhere these are skipped.
"""

from __future__ import annotations

import importlib
import os

import pytest

# The modules hatch_build.py compiles (packages by their __init__ and every module in them).
COMPILED_MODULES = (
    "asgi_reasoning.text.splitter",
    "asgi_reasoning.text.presets",
    "asgi_reasoning.wire.sse",
    "asgi_reasoning.wire.json",
    "asgi_reasoning.apis",
    "asgi_reasoning.apis.base",
    "asgi_reasoning.apis.chat_completions",
    "asgi_reasoning.apis.messages",
    "asgi_reasoning.apis.responses",
    "asgi_reasoning.bodies",
    "asgi_reasoning.policy",
    "asgi_reasoning.config",
)

pytestmark = pytest.mark.skipif(
    os.environ.get("ASGI_REASONING_EXPECT_COMPILED") != "1",
    reason="the compiled build is checked where CI installed it",
)


@pytest.mark.parametrize("name", COMPILED_MODULES)
def test_module_is_loaded_from_its_compiled_extension(name: str) -> None:
    module = importlib.import_module(name)

    assert str(module.__file__).endswith((".so", ".pyd")), module.__file__


def test_the_asgi_shell_stays_python_and_imports_the_same_names() -> None:
    import asgi_reasoning
    from asgi_reasoning import middleware

    assert str(middleware.__file__).endswith(".py")
    assert asgi_reasoning.ReasoningMiddleware is middleware.ReasoningMiddleware
