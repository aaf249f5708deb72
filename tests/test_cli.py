from __future__ import annotations

import contextlib
import io
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
import openai
import pytest

from asgi_reasoning import ReasoningMiddleware
from asgi_reasoning.cli import main
from asgi_reasoning.cli.demo import Transcript
from asgi_reasoning.cli.demo_model import ANSWER_TEXT, REASONING_TEXT
from tests.test_proxy import running_upstream

if TYPE_CHECKING:
    from collections.abc import Iterator

    from openai.types.chat import ChatCompletionMessageParam

    from asgi_reasoning.asgi import ASGIApp

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
START_LIMIT_S: Final = 20.0
REASONING_HEADING: Final = "Reasoning (from `reasoning_content`):\n"
ANSWER_HEADING: Final = "Answer (from `content`):\n"
HI: Final[list[ChatCompletionMessageParam]] = [{"role": "user", "content": "Hi"}]
RAW_OUTPUT: Final = f"<think>\n{REASONING_TEXT}</think>\n\n{ANSWER_TEXT}"
SEPARATED: Final = {"reasoning_content": REASONING_TEXT, "content": ANSWER_TEXT}


@pytest.fixture(autouse=True)
def restore_import_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # `serve` puts --app-dir on sys.path, as uvicorn does; keep that out of other tests.
    monkeypatch.setattr(sys, "path", list(sys.path))


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        assert isinstance(exit_.code, int)
        return exit_.code


@contextlib.contextmanager
def cli_server(*args: str) -> Iterator[str]:
    """Run `python -m asgi_reasoning ARGS --port 0`; yield its URL; stop it with Ctrl+C."""
    command = [sys.executable, "-m", "asgi_reasoning", *args, "--port", "0"]
    stderr_lines: list[str] = []
    announced: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:

        def read_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                stderr_lines.append(line)
                if match := re.search(r"Uvicorn running on (http://\S+)", line):
                    announced.put(match.group(1))

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            try:
                base_url = announced.get(timeout=START_LIMIT_S)
            except queue.Empty:
                pytest.fail(f"{command} did not start:\n{''.join(stderr_lines)}")
            yield base_url
        finally:
            process.send_signal(signal.SIGINT)
            exit_code = process.wait(timeout=START_LIMIT_S)
            reader.join(timeout=START_LIMIT_S)
    assert exit_code == 0, "".join(stderr_lines)
    assert "Traceback" not in "".join(stderr_lines)


def openai_client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=10)


def read_stream(client: openai.OpenAI, model: str) -> tuple[str, str]:
    reasoning, content = [], []
    for chunk in client.chat.completions.create(model=model, messages=HI, stream=True):
        for choice in chunk.choices:
            reasoning_piece = getattr(choice.delta, "reasoning_content", None) or ""
            content_piece = choice.delta.content or ""
            assert not (reasoning_piece and content_piece)
            reasoning.append(reasoning_piece)
            content.append(content_piece)
    return "".join(reasoning), "".join(content)


def read_completion(client: openai.OpenAI, model: str) -> tuple[str, str]:
    message: Any = client.chat.completions.create(model=model, messages=HI).choices[0].message
    return message.reasoning_content, message.content


@pytest.fixture
def app_module(tmp_path: Path) -> Iterator[str]:
    """An importable module, in a fresh --app-dir, that serves the scripted model."""
    (tmp_path / "scripted_app.py").write_text(
        "from asgi_reasoning.cli.demo_model import ScriptedReasoningModel\n"
        "app = ScriptedReasoningModel(token_delay=0)\n"
        "def create_app():\n"
        "    return ScriptedReasoningModel(token_delay=0)\n"
    )
    yield str(tmp_path)
    sys.modules.pop("scripted_app", None)


@pytest.fixture
def served_apps(monkeypatch: pytest.MonkeyPatch) -> list[ASGIApp]:
    """Apps that `serve` or `proxy` would have run; nothing is served."""
    apps: list[ASGIApp] = []

    def record(app: ASGIApp, *args: object, **kwargs: object) -> int:
        apps.append(app)
        return 0

    monkeypatch.setattr("asgi_reasoning.cli.server.serve_forever", record)
    return apps


async def post_completion(app: ASGIApp, **fields: object) -> dict[str, Any]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cli") as client:
        request = {"model": "m", "messages": HI, **fields}
        response = await client.post("/v1/chat/completions", json=request)
    message: dict[str, Any] = response.json()["choices"][0]["message"]
    return message


def test_demo_prints_reasoning_and_answer_apart_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_main(["demo", "--delay", "0"]) == 0

    out = capsys.readouterr().out
    assert f"{REASONING_HEADING}{REASONING_TEXT}\n\n{ANSWER_HEADING}{ANSWER_TEXT}\n" in out
    assert "<think>" not in out
    assert "\x1b[" not in out


def test_demo_in_strip_mode_shows_only_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["demo", "--delay", "0", "--mode", "strip"]) == 0

    out = capsys.readouterr().out
    assert f"{ANSWER_HEADING}{ANSWER_TEXT}\n" in out
    assert REASONING_HEADING not in out
    assert "spell it out" not in out


def test_demo_with_field_reasoning_reads_that_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["demo", "--delay", "0", "--field", "reasoning"]) == 0

    assert f"Reasoning (from `reasoning`):\n{REASONING_TEXT}\n" in capsys.readouterr().out


def test_transcript_dims_reasoning_on_a_terminal() -> None:
    out = io.StringIO()
    transcript = Transcript(out, field="reasoning_content", use_color=True)
    transcript.write("reasoning", "hmm")
    transcript.write("answer", "Yes")

    assert "\x1b[2mhmm\x1b[0m" in out.getvalue()
    assert out.getvalue().endswith("\x1b[0m\nYes")


def test_python_dash_m_runs_the_demo() -> None:
    command = [sys.executable, "-m", "asgi_reasoning", "demo", "--delay", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert REASONING_HEADING + REASONING_TEXT in result.stdout
    assert ANSWER_HEADING + ANSWER_TEXT in result.stdout


def test_serve_wraps_an_example_app_read_with_the_openai_client() -> None:
    with cli_server("serve", "starlette_app:app", "--app-dir", "examples") as base_url:
        client = openai_client(base_url)
        streamed = read_stream(client, "tiny-reasoner")
        completed = read_completion(client, "tiny-reasoner")

    expected = ("The user says hello. Be friendly.", "Hello! How can I help?")
    assert streamed == expected
    assert completed == expected


def test_proxy_in_front_of_a_stdlib_server_read_with_the_openai_client() -> None:
    with running_upstream() as upstream, cli_server("proxy", "--upstream", upstream.url) as url:
        client = openai_client(url)
        streamed = read_stream(client, "scripted")
        completed = read_completion(client, "scripted")

    assert streamed == (REASONING_TEXT, ANSWER_TEXT)
    assert completed == (REASONING_TEXT, ANSWER_TEXT)


def test_serve_factory_calls_the_factory(app_module: str, served_apps: list[ASGIApp]) -> None:
    argv = ["serve", "scripted_app:create_app", "--factory", "--app-dir", app_module]
    assert run_main(argv) == 0

    [app] = served_apps
    assert isinstance(app, ReasoningMiddleware)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("options", "expected_message"),
    [
        ([], SEPARATED),
        (["--mode", "strip"], {"content": ANSWER_TEXT}),
        (
            ["--mode", "passthrough"],
            {"content": RAW_OUTPUT},
        ),
        (["--field", "reasoning"], {"reasoning": REASONING_TEXT, "content": ANSWER_TEXT}),
        (
            ["--field", "both"],
            {
                "reasoning_content": REASONING_TEXT,
                "reasoning": REASONING_TEXT,
                "content": ANSWER_TEXT,
            },
        ),
        (["--path", "/v2/*"], {"content": RAW_OUTPUT}),
        (
            ["--path", "/v2/*", "--path", "/v1/chat/*"],
            SEPARATED,
        ),
        (
            ["--tags", "<reasoning>", "</reasoning>"],
            {"content": RAW_OUTPUT},
        ),
        (
            ["--tags", "<reasoning>", "</reasoning>", "--tags", "<th", "</th"],
            {"reasoning_content": f"ink>\n{REASONING_TEXT}", "content": f"ink>\n\n{ANSWER_TEXT}"},
        ),
    ],
)
async def test_serve_options_reach_the_middleware(
    app_module: str,
    served_apps: list[ASGIApp],
    options: list[str],
    expected_message: dict[str, str],
) -> None:
    assert run_main(["serve", "scripted_app:app", "--app-dir", app_module, *options]) == 0

    message = await post_completion(served_apps[0])
    assert {key: message.get(key) for key in expected_message} == expected_message
    assert set(message) - set(expected_message) <= {"role", "tool_calls"}


@pytest.mark.anyio
async def test_no_request_overrides_ignores_the_client_switches(
    app_module: str, served_apps: list[ASGIApp]
) -> None:
    argv = ["serve", "scripted_app:app", "--app-dir", app_module]
    assert run_main([*argv, "--no-request-overrides"]) == 0
    assert run_main(argv) == 0
    without_overrides, with_overrides = served_apps

    assert "reasoning_content" in await post_completion(without_overrides, include_reasoning=False)
    assert "reasoning_content" not in await post_completion(with_overrides, include_reasoning=False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required"),
        (["demo", "--preset", "nope"], "unknown preset 'nope'"),
        (["demo", "--tags", "<a>", "<a>"], "tags"),
        (["demo", "--mode", "loud"], "invalid choice: 'loud'"),
        (["demo", "--field", "content"], "invalid choice: 'content'"),
        (["demo", "--max-body-size", "0"], "max_body_size"),
        (["demo", "--delay", "soon"], "not a number of seconds"),
        (["serve"], "MODULE:APP"),
        (["serve", "no_such_module_anywhere:app"], "no_such_module_anywhere"),
        (["serve", "just_a_module"], "<module>:<attribute>"),
        (["serve", "json:dumps", "--port", "70000"], "not a port number"),
        (["serve", "json:__doc__"], "not an ASGI app"),
        (["serve", "json:__doc__", "--factory"], "not callable"),
        (["proxy"], "--upstream"),
        (["proxy", "--upstream", "ftp://127.0.0.1"], "upstream"),
        (["proxy", "--upstream", "http://127.0.0.1:8080", "--timeout", "0"], "timeout"),
        (["proxy", "--upstream", "http://127.0.0.1:8080", "--preset", "nope"], "unknown preset"),
    ],
)
def test_wrong_options_exit_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(argv) == 2

    err = capsys.readouterr().err
    assert message in err
    assert "usage: asgi-reasoning" in err


@pytest.mark.parametrize("command", ["demo", "serve", "proxy"])
def test_missing_cli_dependencies_exit_2_naming_the_extra(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    argv = {"demo": ["demo"], "serve": ["serve", "x:app"], "proxy": ["proxy", "--upstream", "x"]}

    assert run_main(argv[command]) == 2
    assert 'pip install "asgi-reasoning[cli]"' in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["demo"], ["serve"], ["proxy"]])
def test_help_shows_examples(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main([*argv, "--help"]) == 0

    out = capsys.readouterr().out
    assert "examples:\n  asgi-reasoning" in out
    assert "usage: asgi-reasoning" in out


def test_help_lists_every_middleware_option(capsys: pytest.CaptureFixture[str]) -> None:
    run_main(["serve", "--help"])

    out = capsys.readouterr().out
    for option in ("--preset", "--tags START END", "--starts-in-reasoning", "--mode", "--field"):
        assert option in out
    for option in ("--path", "--request-overrides", "--max-body-size", "--factory", "--host"):
        assert option in out


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    from asgi_reasoning import __version__

    assert run_main(["--version"]) == 0
    assert capsys.readouterr().out == f"asgi-reasoning {__version__}\n"
