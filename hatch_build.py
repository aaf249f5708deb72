"""The optional compiled build: ``ASGI_REASONING_COMPILE=1 pip install .``.

Without the variable this hook does nothing and the wheel is pure Python. With it, the pure
modules (no I/O, no ASGI) are compiled with mypyc from the same source and the extension
modules are added to the wheel beside the ``.py`` files, which Python's import system loads
in preference to them (extension suffixes come first in ``importlib.machinery``'s finders):
the same ``import asgi_reasoning`` either way. Editable installs stay pure, as a compiled
module there would hide edits to its source.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COMPILE_VARIABLE = "ASGI_REASONING_COMPILE"
PACKAGE = "asgi_reasoning"
# The ASGI shell (middleware.py, asgi.py), proxy.py and cli/ do I/O and gain nothing.
COMPILED = (
    "text",
    "wire",
    "apis",
    "bodies.py",
    "policy.py",
    "config.py",
)


def compile_requested() -> bool:
    return os.environ.get(COMPILE_VARIABLE, "") not in ("", "0")


class CompiledBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return ["mypy>=1.11", "setuptools>=65"] if compile_requested() else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable" or not compile_requested():
            return
        self._workdir = tempfile.TemporaryDirectory(prefix="asgi-reasoning-mypyc-")
        workdir = Path(self._workdir.name)
        # A directory without the project's pyproject.toml: mypyc's setuptools step would
        # otherwise read it as setuptools metadata.
        shutil.copytree(
            Path(self.root) / "src" / PACKAGE,
            workdir / PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"),
        )
        subprocess.run(
            [sys.executable, "-m", "mypyc", *(f"{PACKAGE}/{module}" for module in COMPILED)],
            cwd=workdir,
            check=True,
        )
        suffixes = (".so", ".pyd")
        for built in workdir.rglob("*"):
            if built.suffix in suffixes and "build" not in built.relative_to(workdir).parts:
                build_data["force_include"][str(built)] = built.relative_to(workdir).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        workdir = getattr(self, "_workdir", None)
        if workdir is not None:
            workdir.cleanup()
