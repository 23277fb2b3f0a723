"""Admin endpoints over HTTP (``HOOKPLAN_TOKEN``): the Read action and the dead-letter store.

``GET /v1/hooks/{name}/events?hours=N`` mirrors ``hookplan read``; ``GET /v1/dead-letters`` and
``POST /v1/dead-letters/redrive`` mirror ``hookplan dlq``, so a remote registry client can offer the
same commands against a running forwarder.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable
from functools import partial

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hookplan.forward import store
from hookplan.forward.tokens import check_admin, error_response

MAX_HOURS = 24
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000


def parse_hours(raw: str | None) -> int:
    """The Read window: a whole number of hours, 1 to 24 (the seed's maximum)."""
    if raw is None or not raw.strip().lstrip("-").isdigit():
        raise ValueError("hours must be a whole number from 1 to 24")
    hours = int(raw)
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be from 1 to 24 (got {hours})")
    return hours


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")
    return int(raw)


def admin_only(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Answer 401/403 unless the request carries the admin token (HOOKPLAN_TOKEN)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        denied = check_admin(request, request.app.state.runtime.settings.tokens)
        return denied if denied is not None else await handler(request)

    return endpoint


@admin_only
async def read_events(request: Request) -> Response:
    runtime = request.app.state.runtime
    name = request.path_params["name"]
    try:
        hours = parse_hours(request.query_params.get("hours"))
    except ValueError as exc:
        return error_response(400, "invalid_parameter", str(exc), "hours")
    try:
        limit = _limit(request)
    except ValueError as exc:
        return error_response(400, "invalid_parameter", str(exc), "limit")
    if name not in runtime.hooks.views:
        return error_response(404, "not_found", f"no hook named '{name}'", "name")
    rows = await runtime.read(store.read_window, name, time.time() - hours * 3600, limit)
    return JSONResponse({"hook": name, "hours": hours, "events": rows})


@admin_only
async def list_dead_letters(request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        limit = _limit(request)
    except ValueError as exc:
        return error_response(400, "invalid_parameter", str(exc), "limit")
    rows = await runtime.read(store.dead_letters, request.query_params.get("hook"), limit)
    return JSONResponse({"dead_letters": rows})


@admin_only
async def redrive_dead_letters(request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return error_response(400, "malformed_json", "the body must be a JSON object")
    if not isinstance(body, dict):
        return error_response(400, "malformed_json", "the body must be a JSON object")
    for key in ("hook", "event_id"):
        if body.get(key) is not None and not isinstance(body[key], str):
            return error_response(400, "invalid_parameter", f"{key} must be a string", key)
    count = await runtime.committer.run(partial(_redrive, body.get("hook"), body.get("event_id")))
    runtime.dispatcher.notify()
    return JSONResponse({"redriven": count})


def _redrive(hook: str | None, event_id: str | None, cur: object) -> int:
    return store.redrive(cur, hook, event_id, time.time())  # type: ignore[arg-type]
