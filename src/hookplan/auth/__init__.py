"""The four auth types as ``httpx.Auth`` classes, and authorizing an OAuth hook (DESIGN §3, §5, §7).

Used by apply (``authorize``: one real token request per OAuth hook) and by the forwarder
(``build_auth`` once per hook and spec, kept for the token cache; works with ``Client`` and ``AsyncClient``).
SSRF checks live in :mod:`hookplan.auth.ssrf`.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

from hookplan.auth._api_key import ApiKey
from hookplan.auth._basic import Basic
from hookplan.auth._none import NoAuth
from hookplan.auth._oauth import OAuthClientCredentials, TokenError, TokenResult, is_token_request
from hookplan.errors import HookplanError


def build_auth(spec: dict[str, Any], *, on_token_result: TokenResult | None = None) -> httpx.Auth:
    """The auth of a canonical hook spec; ``on_token_result(ok, reason)`` observes OAuth token fetches."""
    auth = spec.get("auth") or {"type": "NONE"}
    kind = auth.get("type")
    if kind == "NONE":
        return NoAuth()
    if kind == "BASIC":
        return Basic(auth["username"], auth["password"])
    if kind == "API_KEY":
        return ApiKey(auth["key_name"], auth["key_value"])
    if kind == "OAUTH_CLIENT_CREDENTIALS":
        return OAuthClientCredentials.from_spec(auth, on_token_result=on_token_result)
    raise HookplanError(f"unknown auth type {kind!r}")


def authorize(spec: dict[str, Any], *, timeout: float = 5.0, client: httpx.Client | None = None) -> None:
    """Authorize a hook: one real token request for OAuth (DESIGN §5); nothing to do for other types.

    Raises :class:`TokenError` with a one-line reason (no secret values) when the endpoint refuses.
    """
    auth = build_auth(spec)
    if not isinstance(auth, OAuthClientCredentials):
        return
    if client is not None:
        auth.fetch_token(client, timeout)
        return
    with httpx.Client(verify=tls_context()) as own:
        auth.fetch_token(own, timeout)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), built once per process:
    building it loads the CA bundle, ~20 ms of CPU that would otherwise be paid per authorized hook."""
    return httpx.create_ssl_context()


__all__ = [
    "ApiKey",
    "Basic",
    "NoAuth",
    "OAuthClientCredentials",
    "TokenError",
    "TokenResult",
    "authorize",
    "build_auth",
    "is_token_request",
    "tls_context",
]
