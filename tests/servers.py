"""Real HTTP servers on 127.0.0.1 for end-to-end tests.

``serve_app(app)`` runs any ASGI app (a starlette app, the forwarder's app, a bare ASGI callable) under
uvicorn in a background thread on a free port (port 0: never a fixed one) and yields its base URL::

    with serve_app(receiver) as base_url:        # "http://127.0.0.1:54321"
        httpx.post(base_url + "/hook", ...)

On exit the server stops taking connections, finishes in-flight requests (bounded by ``shutdown_timeout``)
and the thread is joined. Reusable by any test: receivers, token servers, the forwarder itself. Each
server has its own event loop in its own thread, so sync and async clients in the test both work.
Import it as ``from servers import serve_app`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


@contextlib.contextmanager
def serve_app(
    app: Any, *, lifespan: str = "auto", startup_timeout: float = 10.0, shutdown_timeout: float = 5.0
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:<free port> for the duration of the block; yields the base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=int(shutdown_timeout),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="serve_app", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread, startup_timeout)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout + 1)
        if thread.is_alive():
            server.force_exit = True
            thread.join(2)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server exited during startup (see the captured log)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test server did not start within {timeout} s")
        time.sleep(0.01)
