"""The control API under ``/v1``: the running forwarder as the registry that ``--remote`` plans and applies against.

Plain Starlette handlers over the same :class:`SQLiteRegistry` the forwarder delivers from. Writes answer
after the first persisted step of the state walk (CREATING / UPDATING / DELETING) and carry the rest out
in the background, so a client polls the hook until it settles. Secrets are write-only: bodies take
values, responses carry only fingerprints. Every hook has a version (its ETag); ``If-Match`` guards
updates and deletes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hookplan.apply.walk import Authorizer, begin, default_authorizer, finish
from hookplan.forward.tokens import Tokens, check_admin, error_response
from hookplan.model import DEFAULT_WORKSPACE, Hook
from hookplan.plan.model import CREATE, DELETE, UPDATE
from hookplan.registry.base import HookRecord
from hookplan.registry.sqlite import SQLiteRegistry

LEASE_SECONDS = 600.0
SETTLED = frozenset({"AUTHORIZED", "DEAUTHORIZED"})
MAX_BODY = 1024 * 1024

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Control:
    registry: SQLiteRegistry
    tokens: Tokens
    authorizer: Authorizer = default_authorizer


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def control_routes(control: Control) -> list[Route]:
    def guarded(handler: Callable[[Control, Request], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            refused = check_admin(request, control.tokens)
            if refused is not None:
                return refused
            try:
                return await handler(control, request)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.field)

        return endpoint

    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/v1/registry", guarded(get_registry), methods=["GET"]),
        Route("/v1/fingerprints", guarded(post_fingerprints), methods=["POST"]),
        Route("/v1/lock", guarded(post_lock), methods=["POST"]),
        Route("/v1/lock", guarded(force_unlock), methods=["DELETE"]),
        Route("/v1/lock/{lease}", guarded(delete_lock), methods=["DELETE"]),
        Route("/v1/hooks", guarded(list_hooks), methods=["GET"]),
        Route("/v1/hooks", guarded(create_hook), methods=["POST"]),
        Route("/v1/hooks/{name}", guarded(get_hook), methods=["GET"]),
        Route("/v1/hooks/{name}", guarded(update_hook), methods=["PUT"]),
        Route("/v1/hooks/{name}", guarded(delete_hook), methods=["DELETE"]),
        Route("/v1/hooks/{name}/workspace", guarded(set_workspace), methods=["PUT"]),
    ]


async def openapi(request: Request) -> Response:
    """The API description (schemas/openapi.yaml), as JSON, unauthenticated like any public spec."""
    return JSONResponse(_openapi_document())


@cache
def _openapi_document() -> dict[str, Any]:
    from importlib import resources

    import yaml

    return yaml.safe_load(resources.files("hookplan").joinpath("schemas/openapi.yaml").read_text())


# -- registry-wide ------------------------------------------------------------------------------


async def get_registry(control: Control, request: Request) -> Response:
    meta = await run_in_threadpool(control.registry.meta)
    return JSONResponse({"lineage": meta.lineage, "serial": meta.serial})


async def post_fingerprints(control: Control, request: Request) -> Response:
    body = await _json_body(request)
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or len(values) > 100_000:
        raise ApiError(400, "invalid", 'send {"values": [string, ...]}', "values")
    return JSONResponse({"fingerprints": [control.registry.fingerprint(v) for v in values]})


async def post_lock(control: Control, request: Request) -> Response:
    body = await _json_body(request)
    who = body.get("holder") if isinstance(body, dict) else None
    if not isinstance(who, str) or not who or len(who) > 200:
        raise ApiError(400, "invalid", 'send {"holder": "who is applying"}', "holder")
    lease = await run_in_threadpool(control.registry.acquire_lease, who, LEASE_SECONDS)
    if lease is None:
        holder, since = await run_in_threadpool(control.registry.lock_holder)
        return JSONResponse(
            {
                "error": {"code": "locked", "message": f"locked by {holder}", "field": None},
                "holder": holder,
                "since": since,
            },
            status_code=409,
        )
    return JSONResponse({"lease": lease, "expires_in": LEASE_SECONDS}, status_code=201)


async def force_unlock(control: Control, request: Request) -> Response:
    """``hookplan force-unlock --remote``: remove whatever lock is held (its holder is reported)."""
    holder = await run_in_threadpool(control.registry.force_unlock)
    return JSONResponse({"removed": holder})


async def delete_lock(control: Control, request: Request) -> Response:
    await run_in_threadpool(control.registry.release_lease, request.path_params["lease"])
    return Response(status_code=204)


# -- hooks --------------------------------------------------------------------------------------


def hook_json(record: HookRecord) -> dict[str, Any]:
    """A hook as the API shows it: public spec (fingerprints for secrets), states, version."""
    return record.to_json()


def _hook_response(record: HookRecord, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(hook_json(record), status_code=status, headers={"ETag": f'"{record.version}"', **headers})


async def list_hooks(control: Control, request: Request) -> Response:
    meta = await run_in_threadpool(control.registry.meta)
    records = await run_in_threadpool(control.registry.list_hooks)
    return JSONResponse({"lineage": meta.lineage, "serial": meta.serial, "hooks": [hook_json(r) for r in records]})


async def get_hook(control: Control, request: Request) -> Response:
    """``?wait=SECONDS`` long-polls until the hook settles (AUTHORIZED / DEAUTHORIZED) or is gone."""
    name = request.path_params["name"]
    deadline = time.monotonic() + _wait_seconds(request)
    record = await run_in_threadpool(control.registry.get_hook, name)
    while record is not None and record.connection_state not in SETTLED and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        record = await run_in_threadpool(control.registry.get_hook, name)
    if record is None:
        raise ApiError(404, "not_found", f"no hook named '{name}'", "name")
    return _hook_response(record)


def _wait_seconds(request: Request) -> float:
    try:
        return min(max(float(request.query_params.get("wait", "0")), 0.0), 30.0)
    except ValueError:
        raise ApiError(400, "invalid", "wait must be a number of seconds (at most 30)", "wait") from None


async def create_hook(control: Control, request: Request) -> Response:
    hook, workspace = _hook_from_body(await _json_body(request), None)
    if await run_in_threadpool(control.registry.get_hook, hook.name):
        raise ApiError(
            409,
            "exists",
            f"hook '{hook.name}' already exists; PUT /v1/hooks/{hook.name} to change it",
            "name",
        )
    return await _walk(control, CREATE, hook, workspace, 201, Location=f"/v1/hooks/{hook.name}")


async def update_hook(control: Control, request: Request) -> Response:
    name = request.path_params["name"]
    current = await _existing(control, name)
    _check_if_match(request, current)
    hook, workspace = _hook_from_body(await _json_body(request), name)
    return await _walk(control, UPDATE, hook, workspace or current.workspace, 200)


async def delete_hook(control: Control, request: Request) -> Response:
    current = await _existing(control, request.path_params["name"])
    _check_if_match(request, current)
    return await _walk(control, DELETE, None, current.workspace, 202, name=current.name)


async def set_workspace(control: Control, request: Request) -> Response:
    current = await _existing(control, request.path_params["name"])
    _check_if_match(request, current)
    body = await _json_body(request)
    workspace = body.get("workspace") if isinstance(body, dict) else None
    if not isinstance(workspace, str) or not workspace:
        raise ApiError(400, "invalid", 'send {"workspace": "name"}', "workspace")
    await run_in_threadpool(control.registry.set_workspace, current.name, workspace)
    return _hook_response(await _existing(control, current.name))


async def _walk(
    control: Control,
    action: str,
    hook: Hook | None,
    workspace: str,
    status: int,
    name: str | None = None,
    **headers: str,
) -> Response:
    """Persist the first step now; run the rest of the walk after the response is sent."""
    name = name or hook.name  # type: ignore[union-attr]
    await run_in_threadpool(begin, control.registry, action, name, hook, workspace)
    record = await _existing(control, name)
    task = BackgroundTask(finish, control.registry, action, name, hook, workspace, control.authorizer)
    response = _hook_response(record, status, **headers)
    response.background = task
    return response


async def _existing(control: Control, name: str) -> HookRecord:
    record = await run_in_threadpool(control.registry.get_hook, name)
    if record is None:
        raise ApiError(404, "not_found", f"no hook named '{name}'", "name")
    return record


def _check_if_match(request: Request, current: HookRecord) -> None:
    wanted = request.headers.get("if-match")
    if wanted is None or wanted.strip() == "*":
        return
    if wanted.strip().strip('"') != str(current.version):
        raise ApiError(
            412,
            "precondition_failed",
            f"hook '{current.name}' changed since you read it (version {current.version}); read it again",
        )


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is over {MAX_BODY} bytes")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not JSON: {exc}") from None


def _hook_from_body(body: Any, path_name: str | None) -> tuple[Hook, str]:
    """``{"name", "spec", "workspace"}`` -> a validated Hook in canonical form, and its workspace."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid", 'send a JSON object {"name", "spec", "workspace"}')
    name = body.get("name", path_name)
    if path_name is not None and name != path_name:
        raise ApiError(
            400,
            "name_immutable",
            f"a hook's name cannot be changed ('{path_name}' -> '{name}'); delete it and create a new one",
            "name",
        )
    spec, workspace = body.get("spec"), body.get("workspace", DEFAULT_WORKSPACE)
    if not isinstance(workspace, str) or not workspace:
        raise ApiError(400, "invalid", "workspace must be a non-empty string", "workspace")
    _validate(name, spec)
    return Hook(name, spec), workspace


def _validate(name: Any, spec: Any) -> None:
    """The same JSON Schema as the hooks file, plus the canonical-form shape the registry stores."""
    if not isinstance(spec, dict):
        raise ApiError(400, "invalid", "spec must be an object (a hook in canonical form)", "spec")
    document = {"version": 1, "hooks": [{"name": name, **spec}]}
    error = next(iter(sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        field = ".".join(str(p) for p in list(error.absolute_path)[2:]) or None
        raise ApiError(400, "invalid", _safe_message(error, field), field)


def _safe_message(error: Any, field: str | None) -> str:
    """jsonschema's message without the offending value: it may be a secret."""
    instance = error.instance
    if isinstance(instance, dict | list):
        if error.validator in ("required", "additionalProperties"):
            return error.message[:300]
        return f"{field or 'spec'} does not match the hook schema ({error.validator})"
    return error.message.replace(repr(instance), "the value")[:300]


@cache
def _validator() -> Any:
    import jsonschema

    from hookplan.config import load_schema

    return jsonschema.Draft202012Validator(load_schema())
