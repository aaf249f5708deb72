"""Real ASGI servers run as subprocesses on loopback ports, with their stderr kept for asserts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
# Lines a server writes when an application error reaches it.
ERROR_MARKERS: Final = ("Traceback", "ERROR", "Exception in ASGI application", "Error in ASGI")


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(kind: str, target: str, port: int) -> list[str]:
    """The command line that serves `target` ("module:attribute") with one server kind."""
    python = sys.executable
    address = ["--host", "127.0.0.1", "--port", str(port)]
    quiet = ["--log-level", "warning"]
    if kind == "uvicorn-h11":
        return [python, "-m", "uvicorn", target, *address, *quiet, "--no-access-log",
                "--http", "h11", "--loop", "asyncio"]  # fmt: skip
    if kind == "uvicorn-httptools":
        return [python, "-m", "uvicorn", target, *address, *quiet, "--no-access-log",
                "--http", "httptools", "--loop", "uvloop", "--backlog", "2048"]  # fmt: skip
    if kind in ("hypercorn-asyncio", "hypercorn-trio"):
        worker_class = kind.removeprefix("hypercorn-")
        return [python, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}", *quiet,
                "--error-logfile", "-", "--worker-class", worker_class]  # fmt: skip
    if kind == "granian":
        return [python, "-m", "granian", target, *address, *quiet, "--no-access-log",
                "--interface", "asgi"]  # fmt: skip
    raise ValueError(f"unknown server kind {kind!r}")


SERVER_KINDS: Final = (
    "uvicorn-h11",
    "uvicorn-httptools",
    "hypercorn-asyncio",
    "hypercorn-trio",
    "granian",
)


class ServerProcess:
    """One server subprocess: started, polled until it answers, stopped, its log readable."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        *,
        health_path: str = "/_health",
        extra_env: Mapping[str, str] | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self._command = list(command)
        self._health_path = health_path
        self._ready_timeout_s = ready_timeout_s
        self._env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        log_fd, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        os.close(log_fd)
        self.log_path = Path(log_name)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                self._command,
                cwd=REPO_ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own process group, so that teardown also reaches worker processes it spawns.
                start_new_session=True,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._ready_timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during startup:\n{self.log_text()}")
            try:
                response = httpx.get(self.base_url + self._health_path, timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if response.status_code < 500:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} not ready after {self._ready_timeout_s} s:\n{self.log_text()}"
        )

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def close(self) -> None:
        """Stop the server and delete its log."""
        self.stop()
        self.log_path.unlink(missing_ok=True)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_mark(self) -> int:
        """A position in the log; `log_since(mark)` gives what the server wrote after it."""
        return len(self.log_text())

    def log_since(self, mark: int) -> str:
        return self.log_text()[mark:]


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if any(marker in line for marker in ERROR_MARKERS)]
