"""The apps `serve` and `proxy` run, built from a JSON-able spec.

One spec builds the app in this process, or, with `--workers N`, in each uvicorn worker:
uvicorn's workers import an app by name, so the parent puts the spec in the environment
(`SPEC_ENVIRONMENT_VARIABLE`, inherited by the workers it spawns) and each worker calls
`app_from_environment`, a factory (`uvicorn --factory`).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asgi_reasoning.asgi import ASGIApp

SPEC_ENVIRONMENT_VARIABLE: Final = "ASGI_REASONING_APP_SPEC"
FACTORY_IMPORT_STRING: Final = "asgi_reasoning.cli.apps:app_from_environment"


class AppSpecError(Exception):
    """The spec names an app that cannot be built; the message says why."""


def build_app(spec: Mapping[str, Any]) -> ASGIApp:
    """The app a spec describes: `{"command": "proxy" | "serve", ..., "middleware": {...}}`.

    Raises `AppSpecError` for an app that cannot be imported, and the middleware's (or the
    proxy's) `TypeError` / `ValueError`, which name the argument, for a wrong option.
    """
    middleware_kwargs = kwargs_from_json(spec.get("middleware", {}))
    if spec["command"] == "proxy":
        from asgi_reasoning.proxy import make_reasoning_proxy

        return make_reasoning_proxy(
            spec["upstream"],
            timeout=spec["timeout"],
            connect_timeout=spec["connect_timeout"],
            forwarded_allow_ips=spec["forwarded_allow_ips"],
            **middleware_kwargs,
        )
    from asgi_reasoning import ReasoningMiddleware

    return ReasoningMiddleware(_import_app(spec), **middleware_kwargs)


def _import_app(spec: Mapping[str, Any]) -> ASGIApp:
    from uvicorn.importer import ImportFromStringError, import_from_string

    app_dir = os.path.abspath(spec.get("app_dir", "."))
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        app = import_from_string(spec["app"])
    except ImportFromStringError as exc:
        raise AppSpecError(str(exc)) from None
    if spec.get("factory"):
        if not callable(app):
            raise AppSpecError(f"--factory: {spec['app']} is not callable")
        app = app()
    if not callable(app):
        raise AppSpecError(f"{spec['app']} is not an ASGI app (not callable)")
    imported: ASGIApp = app
    return imported


def kwargs_to_json(kwargs: Mapping[str, object]) -> dict[str, object]:
    """Middleware kwargs as JSON-able values (tuples become lists)."""
    loaded: dict[str, object] = json.loads(json.dumps(kwargs))
    return loaded


def kwargs_from_json(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Undo `kwargs_to_json`: `field` and `paths` tuples, `tags` pairs, in `models` entries too."""
    restored: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in ("field", "paths") and isinstance(value, list):
            value = tuple(value)
        elif key == "tags" and isinstance(value, list):
            value = [tuple(pair) if isinstance(pair, list) else pair for pair in value]
        elif key == "models" and isinstance(value, dict):
            value = {
                glob: kwargs_from_json(entry) if isinstance(entry, dict) else entry
                for glob, entry in value.items()
            }
        restored[key] = value
    return restored


def app_from_environment() -> ASGIApp:
    """The uvicorn factory each `--workers` process calls."""
    return build_app(json.loads(os.environ[SPEC_ENVIRONMENT_VARIABLE]))
