"""Bearer tokens and JSON errors shared by every endpoint (and by issue 4's control API).

Ingest takes ``HOOKPLAN_INGEST_TOKEN``; admin endpoints (read, dead letters, the control API) take
``HOOKPLAN_TOKEN``. Compared in constant time. The two are kept apart: presenting the ingest token
to an admin endpoint is a 403, so a leaked producer credential cannot read or redrive.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse


@dataclass(frozen=True)
class Tokens:
    ingest: str | None
    admin: str | None


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    """The one error shape of the API: ``{"error": {"code", "message", "field"}}``."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _same(given: str | None, expected: str | None) -> bool:
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def check_ingest(request: Request, tokens: Tokens) -> JSONResponse | None:
    """None when the request may ingest (no token configured: loopback only, checked at start-up)."""
    if tokens.ingest is None:
        return None
    if _same(bearer(request), tokens.ingest):
        return None
    return error_response(401, "unauthorized", "a valid ingest token is required (Authorization: Bearer …)")


def check_admin(request: Request, tokens: Tokens) -> JSONResponse | None:
    """None when the request carries the admin token; 401 without it, 403 for the ingest token."""
    given = bearer(request)
    if tokens.admin is None:
        return error_response(
            401, "admin_disabled", "admin endpoints are off: start the forwarder with HOOKPLAN_TOKEN set"
        )
    if _same(given, tokens.admin):
        return None
    if _same(given, tokens.ingest):
        return error_response(403, "forbidden", "the ingest token cannot use admin endpoints")
    return error_response(401, "unauthorized", "a valid admin token is required (HOOKPLAN_TOKEN)")
