"""The `asgi-reasoning` command (also `python -m asgi_reasoning`): demo, serve and proxy.

The package itself has no runtime dependencies; the command needs uvicorn, httpx and openai
(`pip install "asgi-reasoning[cli]"`) and imports them only when a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Final, Literal, TextIO

from asgi_reasoning import PRESETS, __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from asgi_reasoning.asgi import ASGIApp

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
_COMMAND_DEPENDENCIES: Final = {
    "demo": ("uvicorn", "openai"),
    "serve": ("uvicorn",),
    "proxy": ("uvicorn", "httpx"),
}
_DIM: Final = "\x1b[2m"
_BOLD: Final = "\x1b[1m"
_RESET: Final = "\x1b[0m"

_DESCRIPTION: Final = """\
Move a reasoning model's inline chain of thought (<think>...</think>) out of `content`
and into `reasoning_content`, in OpenAI chat-completion responses and streams."""

_EXAMPLES: Final = """\
examples:
  asgi-reasoning demo
  asgi-reasoning serve myproject.main:app --preset qwen3
  asgi-reasoning proxy --upstream http://127.0.0.1:8080 --preset deepseek-r1

Run `asgi-reasoning COMMAND --help` for a command's options."""

_DEMO_EXAMPLES: Final = """\
Starts a scripted reasoning model (no model or GPU needed) behind ReasoningMiddleware on a
loopback port, streams one answer with the openai client and shows the reasoning (dimmed)
apart from the answer.

examples:
  asgi-reasoning demo
  asgi-reasoning demo --mode strip          # drop the reasoning instead
  asgi-reasoning demo --serve --port 8000   # keep serving, for curl or your own client"""

_SERVE_EXAMPLES: Final = """\
Imports the ASGI app like uvicorn does, wraps it in ReasoningMiddleware and serves it.

examples:
  asgi-reasoning serve myproject.main:app
  asgi-reasoning serve myproject.main:create_app --factory --preset qwen3 --port 9000
  asgi-reasoning serve app:app --app-dir src --tags "<reasoning>" "</reasoning>"
  asgi-reasoning serve app:app --preset deepseek-r1 --field reasoning --path "/v1/*\""""

_PROXY_EXAMPLES: Final = """\
A streaming reverse proxy, wrapped in ReasoningMiddleware, for model servers that are not
Python: llama.cpp's server, Ollama, TGI, LM Studio, vLLM without a reasoning parser.
Requests are forwarded as they are; responses stream back as they arrive. Point your
clients at this proxy instead of the upstream.

examples:
  asgi-reasoning proxy --upstream http://127.0.0.1:8080 --preset deepseek-r1
  asgi-reasoning proxy --upstream http://127.0.0.1:11434 --preset qwen3 --port 11435
  asgi-reasoning proxy --upstream http://gpu-box:8000 --host 0.0.0.0 --mode strip"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for wrong options)."""
    parser, command_parsers = _build_parser()
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
        return _run_demo(command_parser, args)
    if args.command == "serve":
        return _run_serve(command_parser, args)
    return _run_proxy(command_parser, args)


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="asgi-reasoning", description=_DESCRIPTION, epilog=_EXAMPLES, formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    middleware_options = _middleware_options_parser()

    demo = commands.add_parser(
        "demo",
        parents=[middleware_options],
        help="stream one answer from a built-in scripted reasoning model",
        description=_DEMO_EXAMPLES,
        formatter_class=formatter,
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep the demo server running for curl or other clients instead",
    )
    demo.add_argument(
        "--host", default=DEFAULT_HOST, help=f"with --serve (default: {DEFAULT_HOST})"
    )
    demo.add_argument(
        "--port",
        type=_port,
        help=f"with --serve (default: {DEFAULT_PORT}); otherwise a free port is used",
    )
    demo.add_argument(
        "--delay",
        type=_seconds,
        default=0.02,
        metavar="SECONDS",
        help="pause between the model's tokens (default: 0.02)",
    )

    serve = commands.add_parser(
        "serve",
        parents=[middleware_options, _server_options_parser()],
        help="serve an ASGI app (MODULE:APP) under uvicorn, wrapped in the middleware",
        description=_SERVE_EXAMPLES,
        formatter_class=formatter,
    )
    serve.add_argument("app", metavar="MODULE:APP", help="import string of the app, as for uvicorn")
    serve.add_argument(
        "--factory",
        action="store_true",
        help="MODULE:APP is a function without arguments that returns the app",
    )
    serve.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="directory put first on sys.path before importing (default: .)",
    )

    proxy = commands.add_parser(
        "proxy",
        parents=[middleware_options, _server_options_parser()],
        help="a streaming reverse proxy to an OpenAI-compatible server, wrapped in the middleware",
        description=_PROXY_EXAMPLES,
        formatter_class=formatter,
    )
    proxy.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="base URL of the model server, e.g. http://127.0.0.1:8080",
    )
    proxy.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="longest wait for upstream bytes (default: 600; a model may think for minutes)",
    )
    proxy.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="longest wait for the upstream connection (default: 10)",
    )
    return parser, {"demo": demo, "serve": serve, "proxy": proxy}


def _middleware_options_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "middleware options", "Each one is the ReasoningMiddleware argument of the same name."
    )
    group.add_argument(
        "--preset",
        metavar="NAME",
        help=f"model family whose markers to use: {', '.join(PRESETS)} "
        "(- or _ alike; default: think)",
    )
    group.add_argument(
        "--tags",
        nargs=2,
        action="append",
        metavar=("START", "END"),
        help="a marker pair, overriding the preset's pairs; repeat for more pairs",
    )
    group.add_argument(
        "--starts-in-reasoning",
        action=argparse.BooleanOptionalAction,
        help="the output begins inside reasoning, without an opening marker "
        "(default: the preset decides, per request)",
    )
    group.add_argument(
        "--mode",
        choices=("separate", "strip", "passthrough"),
        help="move the reasoning to the field, drop it, or change nothing (default: separate)",
    )
    group.add_argument(
        "--field",
        choices=("reasoning_content", "reasoning", "both"),
        help="field that receives the reasoning (default: reasoning_content)",
    )
    group.add_argument(
        "--path",
        action="append",
        dest="paths",
        metavar="PATTERN",
        help="fnmatch pattern of request paths to rewrite; repeat for more "
        "(default: */chat/completions)",
    )
    group.add_argument(
        "--request-overrides",
        action=argparse.BooleanOptionalAction,
        help="honour per-request switches such as include_reasoning (default: on)",
    )
    group.add_argument(
        "--max-body-size",
        type=int,
        metavar="BYTES",
        help="largest body read or buffered; larger exchanges pass through (default: 32 MiB)",
    )
    return parent


def _server_options_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("server options")
    group.add_argument("--host", default=DEFAULT_HOST, help=f"(default: {DEFAULT_HOST})")
    group.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"(default: {DEFAULT_PORT})"
    )
    group.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        default="info",
        help="uvicorn's log level (default: info)",
    )
    return parent


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return seconds


def _can_import(module_name: str) -> bool:
    try:
        __import__(module_name)
    except ImportError:
        return False
    return True


def middleware_kwargs(args: argparse.Namespace) -> dict[str, object]:
    """ReasoningMiddleware keyword arguments for the options given; defaults are left to it."""
    kwargs: dict[str, object] = {}
    if args.preset is not None:
        kwargs["preset"] = args.preset
    if args.tags:
        kwargs["tags"] = [(start, end) for start, end in args.tags]
    if args.starts_in_reasoning is not None:
        kwargs["starts_in_reasoning"] = args.starts_in_reasoning
    if args.mode is not None:
        kwargs["mode"] = args.mode
    if args.field == "both":
        kwargs["field"] = ("reasoning_content", "reasoning")
    elif args.field is not None:
        kwargs["field"] = args.field
    if args.paths:
        kwargs["paths"] = tuple(args.paths)
    if args.request_overrides is not None:
        kwargs["request_overrides"] = args.request_overrides
    if args.max_body_size is not None:
        kwargs["max_body_size"] = args.max_body_size
    return kwargs


def _wrap(app: ASGIApp, parser: argparse.ArgumentParser, args: argparse.Namespace) -> ASGIApp:
    from asgi_reasoning import ReasoningMiddleware

    try:
        return ReasoningMiddleware(app, **middleware_kwargs(args))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))


def _run_serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from uvicorn.importer import ImportFromStringError, import_from_string

    sys.path.insert(0, os.path.abspath(args.app_dir))
    try:
        app = import_from_string(args.app)
    except ImportFromStringError as exc:
        parser.error(str(exc))
    if args.factory:
        if not callable(app):
            parser.error(f"--factory: {args.app} is not callable")
        app = app()
    if not callable(app):
        parser.error(f"{args.app} is not an ASGI app (not callable)")
    wrapped = _wrap(app, parser, args)
    _note(f"serving {args.app} wrapped in ReasoningMiddleware({_kwargs_text(args)})")
    return _serve_forever(wrapped, args.host, args.port, args.log_level)


def _run_proxy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from asgi_reasoning.proxy import make_proxy_app

    try:
        proxy_app = make_proxy_app(
            args.upstream, timeout=args.timeout, connect_timeout=args.connect_timeout
        )
    except ValueError as exc:
        parser.error(str(exc))
    wrapped = _wrap(proxy_app, parser, args)
    _note(f"proxying to {proxy_app.upstream} through ReasoningMiddleware({_kwargs_text(args)})")
    return _serve_forever(wrapped, args.host, args.port, args.log_level)


def _run_demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from asgi_reasoning.cli.demo_model import ScriptedReasoningModel

    app = _wrap(ScriptedReasoningModel(token_delay=args.delay), parser, args)
    if args.serve:
        port = DEFAULT_PORT if args.port is None else args.port
        return _serve_forever(app, args.host, port, "info", on_listening=_print_demo_usage)
    with serve_in_thread(app) as base_url:
        try:
            return _stream_demo_answer(base_url, args)
        except BrokenPipeError:
            # The reader went away (`| head`): silence the flush at exit, as the Python docs advise.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1


def _note(text: str) -> None:
    sys.stderr.write(f"asgi-reasoning: {text}\n")


def _kwargs_text(args: argparse.Namespace) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in middleware_kwargs(args).items())


def _serve_forever(
    app: ASGIApp,
    host: str,
    port: int,
    log_level: str,
    *,
    on_listening: Callable[[str], None] | None = None,
) -> int:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    # Bound here, not by uvicorn, so that the real port (port 0 picks one) is known before
    # it is announced; listening at once queues early connections instead of refusing them.
    listening_socket = config.bind_socket()
    listening_socket.listen(config.backlog)
    if on_listening is not None:
        bound_port = listening_socket.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        on_listening(f"http://{url_host}:{bound_port}")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[listening_socket])
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl+C it handled, once it has shut down cleanly.
        pass
    return 0 if server.started else 3


@contextlib.contextmanager
def serve_in_thread(
    app: ASGIApp, *, host: str = DEFAULT_HOST, port: int = 0, startup_timeout: float = 10.0
) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yield its base URL, then stop it."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="asgi-reasoning-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {host}:{port} did not start")
            time.sleep(0.01)
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join()


def _print_demo_usage(base_url: str) -> None:
    from asgi_reasoning.cli.demo_model import DEMO_MODEL_NAME

    request = (
        f'{{"model": "{DEMO_MODEL_NAME}", "stream": true, '
        '"messages": [{"role": "user", "content": "Hi"}]}'
    )
    sys.stdout.write(
        f"A scripted reasoning model behind ReasoningMiddleware: {base_url}/v1\n"
        "Try it:\n"
        f"  curl -N {base_url}/v1/chat/completions -H 'content-type: application/json' \\\n"
        f"    -d '{request}'\n"
        f'  or the openai client: OpenAI(base_url="{base_url}/v1", api_key="unused")\n'
        "Press Ctrl+C to stop.\n"
    )
    sys.stdout.flush()


def _stream_demo_answer(base_url: str, args: argparse.Namespace) -> int:
    import openai

    from asgi_reasoning.cli.demo_model import DEMO_MODEL_NAME, DEMO_PROMPT

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    field = "reasoning" if args.field == "reasoning" else "reasoning_content"
    transcript = Transcript(sys.stdout, field=field, use_color=_use_color(sys.stdout))
    transcript.write_intro(f"{base_url}/v1", DEMO_PROMPT)
    with client.chat.completions.create(
        model=DEMO_MODEL_NAME,
        messages=[{"role": "user", "content": DEMO_PROMPT}],
        stream=True,
    ) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                transcript.write("reasoning", _reasoning_text(choice.delta))
                transcript.write("answer", choice.delta.content or "")
    transcript.close()
    return 0


def _reasoning_text(delta: object) -> str:
    # The openai client keeps fields it does not know (reasoning_content) as extra attributes.
    for name in ("reasoning_content", "reasoning"):
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _use_color(stream: TextIO) -> bool:
    # https://no-color.org; a dumb terminal shows escape codes as garbage.
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


class Transcript:
    """Writes streamed reasoning and answer text as it arrives, each under its own heading."""

    def __init__(self, out: TextIO, *, field: str, use_color: bool) -> None:
        self._out = out
        self._field = field
        self._use_color = use_color
        self._current_kind: Literal["reasoning", "answer"] | None = None

    def write_intro(self, endpoint: str, prompt: str) -> None:
        self._out.write(f"Scripted reasoning model behind ReasoningMiddleware at {endpoint}\n")
        self._out.write(f"> {prompt}\n")
        self._out.flush()

    def write(self, kind: Literal["reasoning", "answer"], text: str) -> None:
        if not text:
            return
        if kind != self._current_kind:
            # A blank line before each heading; the text before it has no newline of its own.
            separator = "\n" if self._current_kind is None else "\n\n"
            self._current_kind = kind
            heading = (
                f"Reasoning (from `{self._field}`):"
                if kind == "reasoning"
                else "Answer (from `content`):"
            )
            self._out.write(f"{separator}{self._styled(heading, _BOLD)}\n")
        self._out.write(self._styled(text, _DIM) if kind == "reasoning" else text)
        self._out.flush()

    def close(self) -> None:
        self._out.write("\n")
        self._out.flush()

    def _styled(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self._use_color else text
