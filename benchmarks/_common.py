"""What every benchmark shares: timing, the machine description, Markdown tables, a server."""

from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence

    Key = TypeVar("Key", bound=Hashable)

REPOSITORY = Path(__file__).resolve().parent.parent

PACKAGES = (
    "asgi-reasoning",
    "orjson",
    "starlette",
    "uvicorn",
    "httptools",
    "uvloop",
    "openai",
    "httpx",
    "thinkstrip",
    "think-scrubber",
    "llm-router-utils",
)


def time_call(function: Callable[[], object], repeats: int) -> float:
    """Seconds per call of ``function``, over ``repeats`` calls with the collector paused.

    Callers run ``gc.collect()`` once per round: collecting before every measurement costs
    more than the measurements themselves in a process with a large heap.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(repeats):
            function()
        elapsed = time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()
    return elapsed / repeats


def repeats_for(function: Callable[[], object], budget_seconds: float) -> int:
    """How many calls of ``function`` fill about ``budget_seconds`` (one call measured)."""
    one_call = max(time_call(function, 1), 1e-7)
    return max(1, min(100_000, round(budget_seconds / one_call)))


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def interleaved_medians(
    calls: Mapping[Key, Callable[[], object]], rounds: int, budget_seconds: float
) -> dict[Key, float]:
    """The median time of each call over ``rounds`` rounds that run every call once.

    Each call is repeated enough to fill ``budget_seconds`` per sample. The order reverses
    every other round, so no call always runs first (or right after the same neighbour), and
    the calls compared with each other run close together in time, under the same load.
    """
    repeats = {key: repeats_for(call, budget_seconds) for key, call in calls.items()}
    samples: dict[Key, list[float]] = {key: [] for key in calls}
    keys = list(calls)
    for round_index in range(rounds):
        gc.collect()
        for key in keys[::-1] if round_index % 2 else keys:
            samples[key].append(time_call(calls[key], repeats[key]))
    return {key: median(values) for key, values in samples.items()}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_lines() -> list[str]:
    """The machine, Python and package versions, as Markdown list items."""
    usable_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    versions = ", ".join(
        f"{name} {version}" for name in PACKAGES if (version := package_version(name)) is not None
    )
    return [
        f"- CPU: {cpu_model()}; cores usable (`nproc`): {usable_cores or os.cpu_count()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"- Packages: {versions}",
        # Other work on the machine slows every contender; the ratios suffer less than times.
        "- Load average at the end of the run, this benchmark included (1, 5, 15 min): "
        + load_average(),
    ]


def load_average() -> str:
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def format_ratio(value: float) -> str:
    return f"{value:.2f}x"


def build_name() -> str:
    """Which build of the package is imported: the mypyc-compiled one or pure Python."""
    import asgi_reasoning.bodies

    is_compiled = str(asgi_reasoning.bodies.__file__).endswith((".so", ".pyd"))
    return "compiled (mypyc)" if is_compiled else "pure Python"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def uvicorn_server(app: str) -> Iterator[str]:
    """uvicorn (uvloop, httptools) serving ``app`` (``module:name``) in a process of its own.

    On a free loopback port; yields its base URL once it accepts connections.
    """
    port = _free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", app),
        *("--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--lifespan", "off", "--log-level", "warning"),
    ]
    # The repository on the path for `benchmarks`, not `src`: the installed build is measured.
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    server = subprocess.Popen(command, cwd=REPOSITORY, env=environment)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"uvicorn for {app} exited with {server.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn for {app} did not start in 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
