"""The `serve` and `proxy` commands: build the wrapped app, then serve it under uvicorn."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from asgi_reasoning.cli import server
from asgi_reasoning.cli.apps import (
    FACTORY_IMPORT_STRING,
    SPEC_ENVIRONMENT_VARIABLE,
    AppSpecError,
    build_app,
    kwargs_to_json,
)
from asgi_reasoning.cli.options import middleware_kwargs

if TYPE_CHECKING:
    import argparse

    from asgi_reasoning.asgi import ASGIApp


def run_serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Serve MODULE:APP wrapped in the middleware; return the exit status."""
    spec = {
        "command": "serve",
        "app": args.app,
        "factory": args.factory,
        "app_dir": os.path.abspath(args.app_dir),
        "middleware": kwargs_to_json(middleware_kwargs(args)),
    }
    app = _built_app(parser, spec)
    note(f"serving {args.app} wrapped in ReasoningMiddleware({kwargs_text(args)})")
    return _serve(spec, app, args)


def run_proxy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Serve the reasoning proxy in front of `--upstream`; return the exit status."""
    from asgi_reasoning.proxy import parse_upstream

    if args.upstream is None:
        parser.error("the following arguments are required: --upstream (or upstream in --config)")
    spec = {
        "command": "proxy",
        "upstream": args.upstream,
        "timeout": args.timeout,
        "connect_timeout": args.connect_timeout,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "middleware": kwargs_to_json(middleware_kwargs(args)),
    }
    app = _built_app(parser, spec)
    shown = parse_upstream(args.upstream).display
    note(f"proxying to {shown} through ReasoningMiddleware({kwargs_text(args)})")
    # The proxy sets X-Forwarded-* itself from the peer it sees, trusting only
    # --forwarded-allow-ips; uvicorn's own resolution of them would hide that peer.
    return _serve(spec, app, args, proxy_headers=False)


def _built_app(parser: argparse.ArgumentParser, spec: dict[str, Any]) -> ASGIApp:
    try:
        return build_app(spec)
    except (AppSpecError, TypeError, ValueError) as exc:
        parser.error(str(exc))


def _serve(
    spec: dict[str, Any], app: ASGIApp, args: argparse.Namespace, **uvicorn_options: Any
) -> int:
    if args.workers > 1:
        # Each worker rebuilds the app from the spec; the app built here only checked it.
        os.environ[SPEC_ENVIRONMENT_VARIABLE] = json.dumps(spec)
        return server.serve_workers(
            FACTORY_IMPORT_STRING,
            args.host,
            args.port,
            args.log_level,
            args.workers,
            **uvicorn_options,
        )
    return server.serve_forever(app, args.host, args.port, args.log_level, **uvicorn_options)


def note(text: str) -> None:
    sys.stderr.write(f"asgi-reasoning: {text}\n")


def kwargs_text(args: argparse.Namespace) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in middleware_kwargs(args).items())
