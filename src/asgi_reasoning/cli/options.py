"""Command-line options: the parser, the `--config` TOML file, and the kwargs they make.

Precedence, highest first: command-line flags, the `--config` file, the defaults. `--model`
entries come before the file's `[models."glob"]` tables, so a flag wins for a model both name
(the middleware takes the first glob that matches).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from asgi_reasoning import PRESETS, __version__
from asgi_reasoning.config import HISTORY_OPTIONS

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
DEFAULT_LOG_LEVEL: Final = "info"
DEFAULT_TIMEOUT: Final = 600.0
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_FORWARDED_ALLOW_IPS: Final = "127.0.0.1"
LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug", "trace")
# ReasoningMiddleware's keyword arguments a flag or a --config file may set.
MIDDLEWARE_KEYS: Final = (
    "preset",
    "tags",
    "starts_in_reasoning",
    "mode",
    "field",
    "paths",
    "request_overrides",
    "max_body_size",
    "responses_reasoning",
    "signature",
    "history",
    "history_field",
    "effort",
)
SERVER_KEYS: Final = ("host", "port", "workers", "log_level")
PROXY_KEYS: Final = ("upstream", "timeout", "connect_timeout", "forwarded_allow_ips")

DESCRIPTION: Final = """\
Move a reasoning model's inline chain of thought (<think>...</think>) out of the answer:
`reasoning_content` in Chat Completions, reasoning items in the Responses API, thinking
blocks in Anthropic Messages, streamed and whole."""

EXAMPLES: Final = """\
examples:
  asgi-reasoning demo
  asgi-reasoning serve myproject.main:app --preset qwen3
  asgi-reasoning proxy --upstream http://127.0.0.1:8080 --preset deepseek-r1
  asgi-reasoning proxy --config examples/gateway.toml

Run `asgi-reasoning COMMAND --help` for a command's options."""

DEMO_EXAMPLES: Final = """\
Starts a scripted reasoning model (no model or GPU needed) behind ReasoningMiddleware on a
loopback port, streams one answer with the openai client and shows the reasoning (dimmed)
apart from the answer.

examples:
  asgi-reasoning demo
  asgi-reasoning demo --mode strip          # drop the reasoning instead
  asgi-reasoning demo --serve --port 8000   # keep serving, for curl or your own client"""

SERVE_EXAMPLES: Final = """\
Imports the ASGI app like uvicorn does, wraps it in ReasoningMiddleware and serves it.

examples:
  asgi-reasoning serve myproject.main:app
  asgi-reasoning serve myproject.main:create_app --factory --preset qwen3 --port 9000
  asgi-reasoning serve app:app --app-dir src --tags "<reasoning>" "</reasoning>"
  asgi-reasoning serve app:app --preset deepseek-r1 --field reasoning --path "/v1/*"
  asgi-reasoning serve app:app --model "qwen3*=qwen3" --model "*=think" --workers 4"""

PROXY_EXAMPLES: Final = """\
A streaming reverse proxy, wrapped in ReasoningMiddleware, for model servers that are not
Python: llama.cpp's server, Ollama, TGI, LM Studio, vLLM without a reasoning parser.
Requests are forwarded as they are; responses stream back as they arrive. Point your
clients at this proxy instead of the upstream.

examples:
  asgi-reasoning proxy --upstream http://127.0.0.1:8080 --preset deepseek-r1
  asgi-reasoning proxy --upstream http://gpu-box:8000 --host 0.0.0.0 --mode strip
  asgi-reasoning proxy --upstream http://127.0.0.1:11434 \\
      --model "*gpt-oss*=harmony" --model "qwen3*=qwen3" --model "*=think"
  asgi-reasoning proxy --config examples/gateway.toml --workers 4"""


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The `asgi-reasoning` parser and its command parsers, by command name."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="asgi-reasoning", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    middleware_options = _middleware_options_parser()

    demo = commands.add_parser(
        "demo",
        parents=[middleware_options],
        help="stream one answer from a built-in scripted reasoning model",
        description=DEMO_EXAMPLES,
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
        type=port_number,
        help=f"with --serve (default: {DEFAULT_PORT}); otherwise a free port is used",
    )
    demo.add_argument(
        "--delay",
        type=seconds,
        default=0.02,
        metavar="SECONDS",
        help="pause between the model's tokens (default: 0.02)",
    )

    serving_options = [middleware_options, _models_options_parser(), _server_options_parser()]
    serve = commands.add_parser(
        "serve",
        parents=serving_options,
        help="serve an ASGI app (MODULE:APP) under uvicorn, wrapped in the middleware",
        description=SERVE_EXAMPLES,
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
        parents=serving_options,
        help="a streaming reverse proxy to an OpenAI-compatible server, wrapped in the middleware",
        description=PROXY_EXAMPLES,
        formatter_class=formatter,
    )
    proxy.add_argument(
        "--upstream",
        metavar="URL",
        help="base URL of the model server, e.g. http://127.0.0.1:8080 (required, here or in "
        "--config); user:password@ in it is sent upstream as Basic auth and never logged",
    )
    proxy.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help=f"longest wait for upstream bytes (default: {DEFAULT_TIMEOUT:g}; a model may "
        "think for minutes)",
    )
    proxy.add_argument(
        "--connect-timeout",
        type=seconds,
        metavar="SECONDS",
        help=f"longest wait for the upstream connection (default: {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    proxy.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated addresses or networks (or *) whose X-Forwarded-* headers are "
        "kept and extended; other clients' are replaced "
        f"(default: $FORWARDED_ALLOW_IPS or {DEFAULT_FORWARDED_ALLOW_IPS})",
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
        "(default: */chat/completions, */v1/responses, */v1/messages)",
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
    group.add_argument(
        "--responses-reasoning",
        choices=("text", "summary", "both"),
        help="where the Responses API gets split reasoning (default: text)",
    )
    group.add_argument(
        "--history",
        choices=HISTORY_OPTIONS,
        help="what the app receives of the reasoning in earlier assistant turns; auto: the "
        "preset's documented rule (default: keep)",
    )
    group.add_argument(
        "--history-field",
        metavar="NAME",
        help="the field --history field writes, the one the server reads "
        "(default: reasoning, as vLLM reads it)",
    )
    group.add_argument(
        "--effort",
        action=argparse.BooleanOptionalAction,
        help="turn the client's reasoning_effort into the preset's chat-template switch "
        "when the client set none (default: off; a key name in --config)",
    )
    return parent


def _models_options_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("per-model settings and configuration file")
    group.add_argument(
        "--model",
        action="append",
        dest="models",
        type=model_entry,
        metavar="GLOB=PRESET",
        help="use PRESET for requests whose model matches GLOB (fnmatch, case-insensitive); "
        "repeat for more, the first match wins",
    )
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="read options from a TOML file: top-level keys are the options here (in "
        'snake_case), [models."glob"] tables per-model settings; flags override the file',
    )
    return parent


def _server_options_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("server options")
    group.add_argument("--host", help=f"(default: {DEFAULT_HOST})")
    group.add_argument("--port", type=port_number, help=f"(default: {DEFAULT_PORT})")
    group.add_argument(
        "--workers",
        type=worker_count,
        metavar="N",
        help="worker processes, as uvicorn's --workers (default: 1, in this process)",
    )
    group.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help=f"uvicorn's log level (default: {DEFAULT_LOG_LEVEL})",
    )
    return parent


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return port


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


def worker_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least one worker, got {text!r}")
    return count


def model_entry(text: str) -> tuple[str, str]:
    """`"qwen3*=qwen3"` -> `("qwen3*", "qwen3")`; split at the last `=` (no preset has one)."""
    glob, separator, preset = text.rpartition("=")
    if not separator or not glob.strip() or not preset.strip():
        raise argparse.ArgumentTypeError(f"expected GLOB=PRESET, got {text!r}")
    return glob.strip(), preset.strip()


class ConfigError(Exception):
    """A `--config` file that cannot be used; the message names the file and the key."""


def apply_config_file(args: argparse.Namespace) -> None:
    """Fill the options the command line left unset from `args.config`, then the defaults.

    Also sets `args.model_settings`, the `models` mapping of flags then file. Raises
    `ConfigError`.
    """
    file_values: dict[str, Any] = {}
    file_models: dict[str, object] = {}
    config_path: Path | None = getattr(args, "config", None)
    if config_path is not None:
        file_values = read_config_file(config_path, command=args.command)
        file_models = file_values.pop("models", {})
    for key, value in file_values.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    settings: dict[str, object] = {}
    for glob, preset in getattr(args, "models", None) or ():
        settings.setdefault(glob, preset)
    for glob, entry in file_models.items():
        settings.setdefault(glob, entry)
    args.model_settings = settings
    _fill_defaults(args)


def _fill_defaults(args: argparse.Namespace) -> None:
    import os

    defaults: dict[str, object] = {
        "host": DEFAULT_HOST,
        "port": DEFAULT_PORT,
        "workers": 1,
        "log_level": DEFAULT_LOG_LEVEL,
    }
    if args.command == "proxy":
        defaults |= {
            "timeout": DEFAULT_TIMEOUT,
            "connect_timeout": DEFAULT_CONNECT_TIMEOUT,
            # uvicorn reads the same variable for its own --forwarded-allow-ips.
            "forwarded_allow_ips": os.environ.get(
                "FORWARDED_ALLOW_IPS", DEFAULT_FORWARDED_ALLOW_IPS
            ),
        }
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)


def read_config_file(path: Path, *, command: str) -> dict[str, Any]:
    """The file's options, checked and converted to what the flags would have given."""
    toml = _toml_module()
    try:
        data: dict[str, Any] = toml.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror})") from None
    except toml.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    allowed = {*MIDDLEWARE_KEYS, *SERVER_KEYS, "models"}
    if command == "proxy":
        allowed |= set(PROXY_KEYS)
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = f"--config {path}: {key}"
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"{where}: unknown option for {command}; known: {known}")
        if key == "models":
            values["models"] = _check_models(value, where)
        elif key in MIDDLEWARE_KEYS:
            values[key] = middleware_value(key, value)
        else:
            values[key] = _check_command_value(key, value, where)
    return values


def _toml_module() -> Any:
    # tomllib is stdlib from Python 3.11; tomli is the same parser for 3.10 (the cli extra).
    name = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    try:
        return importlib.import_module(name)
    except ImportError:
        message = '--config needs tomli on Python 3.10: pip install "asgi-reasoning[cli]"'
        raise ConfigError(message) from None


def _check_models(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: expected tables, [models."glob"]')
    models: dict[str, object] = {}
    for glob, entry in value.items():
        if isinstance(entry, str):
            models[glob] = entry
        elif isinstance(entry, dict):
            if "models" in entry or "paths" in entry:
                raise ConfigError(f"{where}.{glob!r}: models and paths apply to every model")
            models[glob] = {key: middleware_value(key, item) for key, item in entry.items()}
        else:
            raise ConfigError(f"{where}.{glob!r}: expected a preset name or a table")
    return models


def middleware_value(key: str, value: object) -> object:
    """A TOML value as the flag of the same name gives it (`field = "both"`, tag arrays)."""
    if key == "field" and value == "both":
        return ("reasoning_content", "reasoning")
    if key == "field" and isinstance(value, list):
        return tuple(value)
    if key == "tags" and isinstance(value, list):
        return [tuple(pair) if isinstance(pair, list) else pair for pair in value]
    if key == "paths" and isinstance(value, list):
        return tuple(value)
    return value


def _check_command_value(key: str, value: object, where: str) -> object:
    try:
        if key in ("port", "workers", "timeout", "connect_timeout"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise argparse.ArgumentTypeError(f"expected a number, got {value!r}")
            check = {"port": port_number, "workers": worker_count}.get(key, seconds)
            return check(str(value))
        if key == "forwarded_allow_ips" and isinstance(value, list):
            value = ",".join(map(str, value))
        if not isinstance(value, str):
            raise argparse.ArgumentTypeError(f"expected a string, got {value!r}")
        if key == "log_level" and value not in LOG_LEVELS:
            raise argparse.ArgumentTypeError(f"choose one of: {', '.join(LOG_LEVELS)}")
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return value


def middleware_kwargs(args: argparse.Namespace) -> dict[str, object]:
    """ReasoningMiddleware keyword arguments for the options given; defaults are left to it."""
    kwargs: dict[str, object] = {}
    for key in MIDDLEWARE_KEYS:
        value = getattr(args, key, None)
        if value is None or (key in ("tags", "paths") and not value):
            continue
        if key == "tags":
            value = [(start, end) for start, end in value]
        elif key == "paths":
            value = tuple(value)
        elif key == "field" and value == "both":
            value = ("reasoning_content", "reasoning")
        kwargs[key] = value
    model_settings: Mapping[str, object] | None = getattr(args, "model_settings", None)
    if model_settings:
        kwargs["models"] = dict(model_settings)
    return kwargs
