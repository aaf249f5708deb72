"""Running an ASGI app under uvicorn: in the foreground, in worker processes, or in a thread."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from asgi_reasoning.cli.options import DEFAULT_HOST

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from asgi_reasoning.asgi import ASGIApp


def serve_forever(
    app: ASGIApp,
    host: str,
    port: int,
    log_level: str,
    *,
    on_listening: Callable[[str], None] | None = None,
    **uvicorn_options: Any,
) -> int:
    """Serve `app` until Ctrl+C; return the exit status (3 when the server did not start)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, **uvicorn_options)
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


def serve_workers(
    factory_import_string: str,
    host: str,
    port: int,
    log_level: str,
    workers: int,
    **uvicorn_options: Any,
) -> int:
    """Serve an app factory in `workers` processes, as `uvicorn --factory --workers N` does."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        factory_import_string,
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        workers=workers,
        **uvicorn_options,
    )
    # As in uvicorn.run, plus listening at once: connections made while the workers start
    # are queued instead of refused.
    listening_socket = config.bind_socket()
    listening_socket.listen(config.backlog)
    try:
        Multiprocess(config, sockets=[listening_socket]).run()
    except KeyboardInterrupt:
        pass
    return 0


@contextlib.contextmanager
def serve_in_thread(
    app: ASGIApp,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    startup_timeout: float = 10.0,
    **uvicorn_options: Any,
) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yield its base URL, then stop it.

    `uvicorn_options` go to `uvicorn.Config` (`http="h11"`, `root_path=...`).
    """
    import uvicorn

    options: dict[str, Any] = {
        "log_config": None,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        **uvicorn_options,
    }
    config = uvicorn.Config(app, host=host, port=port, **options)
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
