"""The ASGI app: routes only; every handler reads the :class:`Runtime` from ``app.state``.

Issue 4's control API (``/v1/hooks`` list/get/create/update/delete) plugs in through
``extra_routes``: ``forward/control.py`` provides ``control_routes(Control) -> list[Route]`` and
:func:`hookplan.forward.server.plugin_routes` passes them here. Its handlers reuse
:func:`hookplan.forward.tokens.check_admin` and ``error_response``. Keep ``/v1/hooks/{name}/events``
(defined here) ahead of any catch-all ``/v1/hooks/{name}`` route.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from hookplan import __version__
from hookplan.forward import admin, store
from hookplan.forward.ingest import ingest
from hookplan.forward.runtime import Runtime
from hookplan.forward.tokens import error_response


async def healthz(request: Request) -> Response:
    """200 when taking and delivering events; 503 while draining or when a part has stopped."""
    runtime: Runtime = request.app.state.runtime
    problems = runtime.problems()
    status = "draining" if runtime.draining else ("failing" if problems else "ok")
    body = {
        "status": status,
        "version": __version__,
        "uptime_seconds": round(time.time() - runtime.started_at),
        "hooks": len(runtime.hooks.views),
        "problems": problems,
    }
    return JSONResponse(body, status_code=200 if status == "ok" else 503)


async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    depths = await runtime.read(store.depths)
    states = [(v.name, v.state, v.hook.destination_state) for v in runtime.hooks.views.values()]
    text = runtime.metrics.render(depths, states, runtime.dispatcher.concurrency())  # type: ignore[arg-type]
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal", "internal error; see the forwarder's log")


def create_app(runtime: Runtime, *, extra_routes: Sequence[BaseRoute] = (), manage: bool = True) -> Starlette:
    """The forwarder's app; with ``manage`` its lifespan starts and stops ``runtime``."""
    routes: list[BaseRoute] = [
        Route("/v1/events", ingest, methods=["POST"]),
        Route("/v1/hooks/{name}/events", admin.read_events, methods=["GET"]),
        Route("/v1/dead-letters", admin.list_dead_letters, methods=["GET"]),
        Route("/v1/dead-letters/redrive", admin.redrive_dead_letters, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *extra_routes,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage:
            await runtime.start()
        try:
            yield
        finally:
            if manage:
                await runtime.stop()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.runtime = runtime
    return app
