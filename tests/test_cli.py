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
from asgi_reasoning.cli.apps import build_app, kwargs_from_json, kwargs_to_json
from asgi_reasoning.cli.demo import Transcript
from asgi_reasoning.cli.demo_model import ANSWER_TEXT, REASONING_TEXT
from asgi_reasoning.cli.options import apply_config_file, build_parser, middleware_kwargs
from tests.test_proxy import running_upstream

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from openai.types.chat import ChatCompletionMessageParam

    from asgi_reasoning.asgi import ASGIApp

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
GATEWAY_EXAMPLE: Final = REPO_ROOT / "examples" / "gateway.toml"
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


def parsed(argv: list[str]) -> argparse.Namespace:
    """The options `main` would act on: flags, then the --config file, then defaults."""
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    apply_config_file(args)
    return args


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "proxy.toml"
    path.write_text(text)
    return str(path)


def test_model_flags_become_models_in_their_order() -> None:
    models_flags = ["--model", "Qwen3*=qwen3", "--model", "*gpt-oss*=harmony", "--model", "*=think"]
    args = parsed(["proxy", "--upstream", "http://h:1", *models_flags])

    models = middleware_kwargs(args)["models"]
    assert isinstance(models, dict)
    assert list(models.items()) == [("Qwen3*", "qwen3"), ("*gpt-oss*", "harmony"), ("*", "think")]


def test_a_glob_may_hold_an_equals_sign() -> None:
    args = parsed(["serve", "m:app", "--model", "org/name=v2=deepseek_r1"])

    assert middleware_kwargs(args)["models"] == {"org/name=v2": "deepseek_r1"}


def test_the_gateway_example_sets_a_preset_per_family() -> None:
    args = parsed(["proxy", "--config", str(GATEWAY_EXAMPLE)])

    kwargs = middleware_kwargs(args)
    assert kwargs["models"] == {
        "*gpt-oss*": {"preset": "harmony", "history": "harmony"},
        "qwen3*": {"preset": "qwen3"},
        "minimax-m2*": {"preset": "minimax_m2", "history": "inline"},
        "deepseek-r1*": {"preset": "deepseek_r1"},
        "*": {"preset": "think"},
    }
    assert (kwargs["mode"], kwargs["field"]) == ("separate", "reasoning_content")
    assert (args.upstream, args.host, args.port, args.workers) == (
        "http://127.0.0.1:11434", "127.0.0.1", 8000, 1,
    )  # fmt: skip


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        'upstream = "http://file:1"\nmode = "strip"\nfield = "both"\nport = 9001\n'
        'timeout = 5\nforwarded_allow_ips = ["10.0.0.0/8", "127.0.0.1"]\n'
        '[models."qwen3*"]\npreset = "qwen3"\n[models."*"]\npreset = "think"\n',
    )
    flags = ["--mode", "separate", "--upstream", "http://a:2"]
    models_flags = ["--model", "qwen3*=deepseek_r1", "--model", "glm*=glm45"]
    args = parsed(["proxy", "--config", config, *flags, *models_flags])

    kwargs = middleware_kwargs(args)
    assert kwargs["mode"] == "separate"
    assert kwargs["field"] == ("reasoning_content", "reasoning")
    assert list(kwargs["models"].items()) == [  # type: ignore[attr-defined]
        ("qwen3*", "deepseek_r1"), ("glm*", "glm45"), ("*", {"preset": "think"}),
    ]  # fmt: skip
    assert (args.upstream, args.port, args.timeout) == ("http://a:2", 9001, 5.0)
    assert args.forwarded_allow_ips == "10.0.0.0/8,127.0.0.1"


def test_options_survive_the_trip_to_a_worker_process(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        'field = ["reasoning", "reasoning_content"]\ntags = [["<r>", "</r>"]]\n'
        'paths = ["/v1/*"]\n[models."a*"]\nfield = "both"\n',
    )
    kwargs = middleware_kwargs(parsed(["serve", "m:app", "--config", config]))

    assert kwargs_from_json(kwargs_to_json(kwargs)) == kwargs
    assert kwargs["tags"] == [("<r>", "</r>")]
    assert kwargs["models"] == {"a*": {"field": ("reasoning_content", "reasoning")}}


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("nope = 1\n", "nope: unknown option for proxy"),
        ("mode = \n", "not valid TOML"),
        ('port = "80"\n', "port: expected a number"),
        ("port = 70000\n", "port: not a port number"),
        ("workers = 0\n", "workers: at least one worker"),
        ('log_level = "loud"\n', "log_level: choose one of"),
        ("models = 3\n", "models: expected tables"),
        ('[models."a*"]\npaths = ["/x"]\n', "models and paths apply to every model"),
        ('models = {"a*" = 3}\n', "expected a preset name or a table"),
    ],
)
def test_a_bad_config_file_exits_2_naming_the_key(
    tmp_path: Path, config_text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, config_text)

    assert run_main(["proxy", "--upstream", "http://h:1", "--config", config]) == 2
    err = capsys.readouterr().err
    assert f"--config {config}: " in err
    assert message in err


def test_a_missing_config_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["proxy", "--config", "/no/such/file.toml"]) == 2
    assert "--config /no/such/file.toml: cannot read it" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "qwen3"], "--model: expected GLOB=PRESET, got 'qwen3'"),
        (["--model", "=qwen3"], "--model: expected GLOB=PRESET"),
        (["--model", "qwen3*="], "--model: expected GLOB=PRESET"),
        (["--workers", "0"], "--workers: at least one worker"),
        (["--workers", "many"], "--workers: not a number of workers"),
        (["--forwarded-allow-ips", "10.0.0.300"], "forwarded_allow_ips: not an IP address"),
    ],
)
def test_bad_proxy_flags_exit_2_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["proxy", "--upstream", "http://h:1", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("upstream", "reason"),
    [
        ("http://h:99999", "port 99999 is not in 1..65535"),
        ("http://h:0", "port 0 is not in 1..65535"),
        ("http://user:hunter2@h:99999", "http://***@h:99999"),
        ("http://h/v1?key=1", "a query or fragment cannot be used"),
        ("unix:///tmp/s", "expected an http:// or https:// URL"),
    ],
)
def test_a_bad_upstream_exits_2_with_the_reason(
    upstream: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["proxy", "--upstream", upstream]) == 2

    err = capsys.readouterr().err
    assert "upstream: " in err
    assert reason in err
    assert "hunter2" not in err


def test_the_upstream_may_come_from_the_config_file_only(
    tmp_path: Path, served_apps: list[ASGIApp], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, 'upstream = "http://user:hunter2@127.0.0.1:9/base"\n')

    assert run_main(["proxy", "--config", config]) == 0
    err = capsys.readouterr().err
    assert "proxying to http://***@127.0.0.1:9/base" in err
    assert "hunter2" not in err
    assert len(served_apps) == 1


def test_proxy_without_an_upstream_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["proxy", "--mode", "strip"]) == 2
    assert "--upstream" in capsys.readouterr().err


def test_workers_serve_the_same_app_in_several_processes() -> None:
    with (
        running_upstream() as upstream,
        cli_server("proxy", "--upstream", upstream.url, "--workers", "2") as url,
    ):
        client = openai_client(url)
        results = {read_completion(client, "scripted") for _ in range(4)}

    assert results == {(REASONING_TEXT, ANSWER_TEXT)}


def test_serve_with_workers_imports_the_app_in_each_worker() -> None:
    argv = ["serve", "starlette_app:app", "--app-dir", "examples", "--workers", "2"]
    with cli_server(*argv) as base_url:
        client = openai_client(base_url)
        streamed = read_stream(client, "tiny-reasoner")

    assert streamed == ("The user says hello. Be friendly.", "Hello! How can I help?")


def test_build_app_reports_an_unimportable_app() -> None:
    from asgi_reasoning.cli.apps import AppSpecError

    with pytest.raises(AppSpecError, match="no_such_module_here"):
        build_app({"command": "serve", "app": "no_such_module_here:app", "middleware": {}})


def test_proxy_routes_each_model_to_its_preset_end_to_end(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        '[models."scripted"]\npreset = "think"\n[models."*"]\npreset = "think"\nmode = "strip"\n',
    )
    with (
        running_upstream() as upstream,
        cli_server("proxy", "--upstream", upstream.url, "--config", config) as url,
    ):
        client = openai_client(url)
        scripted = read_completion(client, "scripted")
        other = client.chat.completions.create(model="other", messages=HI).choices[0].message

    assert scripted == (REASONING_TEXT, ANSWER_TEXT)
    assert other.content == ANSWER_TEXT
    assert getattr(other, "reasoning_content", None) is None


def test_the_core_package_never_imports_the_command_line() -> None:
    code = (
        "import sys, asgi_reasoning, asgi_reasoning.proxy\n"
        "assert not [m for m in sys.modules if m.startswith('asgi_reasoning.cli')], sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr


def test_the_gateway_example_is_accepted_by_the_middleware(served_apps: list[ASGIApp]) -> None:
    assert run_main(["proxy", "--config", str(GATEWAY_EXAMPLE)]) == 0
    assert len(served_apps) == 1


def test_model_flags_pick_the_preset_per_request_end_to_end() -> None:
    flags = ["--model", "scripted=think", "--model", "*=mistral"]
    with (
        running_upstream() as upstream,
        cli_server("proxy", "--upstream", upstream.url, *flags) as url,
    ):
        client = openai_client(url)
        scripted = read_stream(client, "scripted")
        other = read_stream(client, "Other-Model")

    assert scripted == (REASONING_TEXT, ANSWER_TEXT)
    assert other == ("", RAW_OUTPUT)


def test_request_side_flags_reach_the_middleware_kwargs() -> None:
    flags = ["--history", "field", "--history-field", "reasoning", "--effort"]
    kwargs = middleware_kwargs(parsed(["serve", "m:app", *flags]))

    assert (kwargs["history"], kwargs["history_field"], kwargs["effort"]) == (
        "field", "reasoning", True,
    )  # fmt: skip


RECORDING_APP: Final = """\
received = []


async def app(scope, receive, send):
    message = await receive()
    received.append(message.get("body", b""))
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


@pytest.mark.anyio
async def test_history_flag_rewrites_the_request_the_app_receives(
    tmp_path: Path, served_apps: list[ASGIApp]
) -> None:
    (tmp_path / "recording_app.py").write_text(RECORDING_APP)
    argv = ["serve", "recording_app:app", "--app-dir", str(tmp_path), "--history", "strip"]
    assert run_main(argv) == 0
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "reasoning_content": "greet"},
        {"role": "user", "content": "Bye"},
    ]
    transport = httpx.ASGITransport(served_apps[0])
    async with httpx.AsyncClient(transport=transport, base_url="http://cli") as client:
        await client.post("/v1/chat/completions", json={"model": "m", "messages": history})

    [body] = sys.modules.pop("recording_app").received
    assert b"greet" not in body
    assert b"Hello" in body
