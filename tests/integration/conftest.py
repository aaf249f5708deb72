from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Final

import pytest

from tests.integration.litellm_config import write_config
from tests.integration.scripted_model import TRACEMALLOC_ENV
from tests.integration.servers import (
    READY_TIMEOUT_S,
    SERVER_KINDS,
    ServerProcess,
    free_loopback_port,
    server_command,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

UPSTREAM_TARGET: Final = "tests.integration.upstream_app:app"
LITELLM_TARGET: Final = "tests.integration.litellm_app:app"
LITELLM_READY_TIMEOUT_S: Final = 90.0


def started_server(
    name: str,
    kind: str,
    target: str,
    *,
    extra_env: dict[str, str] | None = None,
    health_path: str = "/_health",
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> ServerProcess:
    port = free_loopback_port()
    server = ServerProcess(
        name,
        server_command(kind, target, port),
        port,
        extra_env=extra_env,
        health_path=health_path,
        ready_timeout_s=ready_timeout_s,
    )
    server.start()
    return server


@pytest.fixture(scope="session", params=SERVER_KINDS)
def upstream_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """The scripted model app with the middleware, on each real server in turn."""
    kind = str(request.param)
    server = started_server(kind, kind, UPSTREAM_TARGET)
    yield server
    server.close()


@pytest.fixture(scope="session")
def uvicorn_server() -> Iterator[ServerProcess]:
    """The scripted model app on uvicorn (httptools, uvloop): the usual production setup."""
    server = started_server("uvicorn", "uvicorn-httptools", UPSTREAM_TARGET)
    yield server
    server.close()


@pytest.fixture(scope="session")
def traced_uvicorn_server() -> Iterator[ServerProcess]:
    """The same, with tracemalloc running in the server so tests can read its memory."""
    server = started_server(
        "uvicorn-traced",
        "uvicorn-httptools",
        UPSTREAM_TARGET,
        extra_env={TRACEMALLOC_ENV: "1"},
    )
    yield server
    server.close()


@pytest.fixture(scope="session")
def litellm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The LiteLLM proxy's own FastAPI app, wrapped unchanged, with a mock reasoning model."""
    if find_spec("litellm") is None:
        pytest.skip("litellm[proxy] is not installed (the 'integration' dependency group)")
    server = started_server(
        "litellm-proxy",
        "uvicorn-httptools",
        LITELLM_TARGET,
        extra_env={
            "CONFIG_FILE_PATH": str(
                write_config(tmp_path_factory.mktemp("litellm") / "config.yaml")
            ),
            # No network: the bundled model cost map instead of fetching the current one.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        },
        health_path="/health/liveliness",
        ready_timeout_s=LITELLM_READY_TIMEOUT_S,
    )
    yield server
    server.close()
