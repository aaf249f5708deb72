"""The `asgi-reasoning` command (also `python -m asgi_reasoning`): demo, serve and proxy.

The package itself has no runtime dependencies; the command needs uvicorn, httpx and openai
(`pip install "asgi-reasoning[cli]"`) and imports them only when a command runs. The core
package never imports this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from asgi_reasoning.cli.options import ConfigError, apply_config_file, build_parser
from asgi_reasoning.cli.server import serve_in_thread as serve_in_thread

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from asgi_reasoning.asgi import ASGIApp

__all__ = ["main", "serve_in_thread"]

_COMMAND_DEPENDENCIES: Final = {
    "demo": ("uvicorn", "openai"),
    "serve": ("uvicorn",),
    "proxy": ("uvicorn", "httpx"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for wrong options)."""
    parser, command_parsers = build_parser()
    args = parser.parse_args(argv)
    command_parser = command_parsers[args.command]
    missing = [name for name in _COMMAND_DEPENDENCIES[args.command] if not _can_import(name)]
    if missing:
        command_parser.exit(
            2,
            f"asgi-reasoning {args.command} needs {', '.join(missing)}: "
            'pip install "asgi-reasoning[cli]"\n',
        )
    if args.command == "demo":
        from asgi_reasoning.cli.demo import run_demo

        return run_demo(lambda app: _wrap(app, command_parser, args), args)
    try:
        apply_config_file(args)
    except ConfigError as exc:
        command_parser.error(str(exc))
    from asgi_reasoning.cli.commands import run_proxy, run_serve

    if args.command == "serve":
        return run_serve(command_parser, args)
    return run_proxy(command_parser, args)


def _wrap(app: ASGIApp, parser: argparse.ArgumentParser, args: argparse.Namespace) -> ASGIApp:
    from asgi_reasoning import ReasoningMiddleware
    from asgi_reasoning.cli.options import middleware_kwargs

    try:
        return ReasoningMiddleware(app, **middleware_kwargs(args))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))


def _can_import(module_name: str) -> bool:
    try:
        __import__(module_name)
    except ImportError:
        return False
    return True
