"""A valid hook as written -> its canonical spec (docs/ARCHITECTURE.md, "The hook model").

Plans compare specs with ``==``, so every default is filled in and every optional list is present:
a hook that leaves ``enabled`` out and one that writes ``enabled: true`` must not differ.
"""

from __future__ import annotations

from typing import Any

from hookplan.model import DEFAULT_RATE_LIMIT, Spec

# The fields each auth type keeps, in canonical order.
_AUTH_FIELDS = {
    "NONE": (),
    "BASIC": ("username", "password"),
    "API_KEY": ("key_name", "key_value"),
    "OAUTH_CLIENT_CREDENTIALS": ("authorization_endpoint", "client_id", "client_secret"),
}


def canonical_spec(hook: dict[str, Any]) -> Spec:
    """The spec of one schema-valid hook (references already resolved); ``name`` is not part of it."""
    spec: Spec = {
        "event_type": hook["event_type"],
        "endpoint": hook["endpoint"],
        "http_method": hook["http_method"],
        "enabled": hook.get("enabled", True),
        "auth": canonical_auth(hook["auth"]),
        "invocation_http_parameters": canonical_parameters(hook.get("invocation_http_parameters")),
        "rate_limit_per_second": int(hook.get("rate_limit_per_second", DEFAULT_RATE_LIMIT)),
    }
    if "signing_secret" in hook:
        spec["signing_secret"] = hook["signing_secret"]
    return spec


def canonical_auth(auth: dict[str, Any]) -> dict[str, Any]:
    kind = auth["type"]
    out: dict[str, Any] = {"type": kind}
    for name in _AUTH_FIELDS[kind]:
        out[name] = auth[name]
    if kind == "OAUTH_CLIENT_CREDENTIALS":
        out["http_method"] = auth.get("http_method", "POST")
        out["oauth_http_parameters"] = canonical_parameters(auth.get("oauth_http_parameters"))
    return out


def canonical_parameters(params: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    params = params or {}
    return {kind: [_parameter(p) for p in params.get(kind, [])] for kind in ("header", "query_string")}


def _parameter(p: dict[str, Any]) -> dict[str, Any]:
    return {"key": p["key"], "value": p["value"], "secret": p.get("secret", False)}
