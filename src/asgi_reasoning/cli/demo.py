"""The `demo` command: a scripted reasoning model behind the middleware, read with openai."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Final, Literal, TextIO

from asgi_reasoning.cli import server
from asgi_reasoning.cli.options import DEFAULT_PORT

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from asgi_reasoning.asgi import ASGIApp

_DIM: Final = "\x1b[2m"
_BOLD: Final = "\x1b[1m"
_RESET: Final = "\x1b[0m"


def run_demo(app_wrapper: Callable[[ASGIApp], ASGIApp], args: argparse.Namespace) -> int:
    """Stream one scripted answer (or, with `--serve`, keep serving); return the exit status."""
    from asgi_reasoning.cli.demo_model import ScriptedReasoningModel

    app = app_wrapper(ScriptedReasoningModel(token_delay=args.delay))
    if args.serve:
        port = DEFAULT_PORT if args.port is None else args.port
        return server.serve_forever(app, args.host, port, "info", on_listening=_print_demo_usage)
    with server.serve_in_thread(app) as base_url:
        try:
            return _stream_demo_answer(base_url, args)
        except BrokenPipeError:
            # The reader went away (`| head`): silence the flush at exit, as the Python docs advise.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1


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
