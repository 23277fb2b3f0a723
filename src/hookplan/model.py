"""The hook model shared by every stage: config -> plan -> apply -> registry <- forward.

A hook is a name plus a *spec*: a plain JSON-like dict in canonical form (every default filled in,
keys in a fixed shape), so two specs are equal exactly when the hooks behave the same. Secret values
live inside the spec only in memory; anything persisted or printed goes through :func:`split_secrets`,
which swaps each secret for its keyed fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = (
    "REGISTRATION",
    "WEB_REGISTRATION",
    "AUTHENTICATION",
    "DEREGISTRATION",
    "OFFLINE_ACCESS",
    "ADMIN",
    "SMART_KEY",
    "MAGIC_LINK",
    "ALL",
)
AUTH_TYPES = ("NONE", "BASIC", "OAUTH_CLIENT_CREDENTIALS", "API_KEY")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
CONNECTION_STATES = (
    "CREATING",
    "UPDATING",
    "DELETING",
    "AUTHORIZING",
    "AUTHORIZED",
    "DEAUTHORIZING",
    "DEAUTHORIZED",
)
DEFAULT_RATE_LIMIT = 300  # EventBridge API destinations' default invocations per second
DEFAULT_WORKSPACE = "default"
SENSITIVE = "(sensitive value)"

# Secret fields of the auth block, by auth type (DESIGN §3).
AUTH_SECRET_FIELDS = ("password", "client_secret", "key_value")

Spec = dict[str, Any]
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Hook:
    """One hook as declared (or as rebuilt from the registry with its secrets)."""

    name: str
    spec: Spec
    # Where each spec path came from in the hooks file: path -> (line, column), for messages.
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def destination_state(self) -> str:
        return "ACTIVE" if self.spec.get("enabled", True) else "INACTIVE"


def secret_paths(spec: Spec) -> Iterator[Path]:
    """Every path in ``spec`` whose value is a secret (DESIGN §3)."""
    auth = spec.get("auth") or {}
    for name in AUTH_SECRET_FIELDS:
        if auth.get(name) is not None:
            yield ("auth", name)
    for kind in ("header", "query_string"):
        for i, param in enumerate((auth.get("oauth_http_parameters") or {}).get(kind, [])):
            if param.get("secret"):
                yield ("auth", "oauth_http_parameters", kind, i, "value")
        for i, param in enumerate((spec.get("invocation_http_parameters") or {}).get(kind, [])):
            if param.get("secret"):
                yield ("invocation_http_parameters", kind, i, "value")
    if spec.get("signing_secret") is not None:
        yield ("signing_secret",)


def get_path(spec: Any, path: Path) -> Any:
    for part in path:
        spec = spec[part]
    return spec


def find_path(data: Any, path: Path, default: Any = None) -> Any:
    """Like :func:`get_path`, but ``default`` where the path does not exist (user data may be any shape)."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return default
    return data


def set_path(spec: Any, path: Path, value: Any) -> None:
    for part in path[:-1]:
        spec = spec[part]
    spec[path[-1]] = value


def copy_spec(spec: Spec) -> Spec:
    """A deep copy of a JSON-like spec (much faster than copy.deepcopy for this shape)."""
    if isinstance(spec, dict):
        return {k: copy_spec(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [copy_spec(v) for v in spec]
    return spec


def fingerprint(key: bytes, value: str) -> str:
    """Keyed fingerprint of a secret: comparable across runs, useless for guessing without the key."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest[:32]}"


def split_secrets(spec: Spec, key: bytes) -> tuple[Spec, dict[str, str]]:
    """Return (public spec with fingerprints in place of secrets, {path: secret value})."""
    public = copy_spec(spec)
    secrets: dict[str, str] = {}
    for path in secret_paths(spec):
        value = get_path(spec, path)
        secrets[path_str(path)] = value
        set_path(public, path, fingerprint(key, value))
    return public, secrets


def join_secrets(public: Spec, secrets: dict[str, str]) -> Spec:
    """Rebuild a full spec from its public form and stored secret values (for delivery)."""
    spec = copy_spec(public)
    for path in secret_paths(public):
        value = secrets.get(path_str(path))
        if value is not None:
            set_path(spec, path, value)
    return spec


def redact(spec: Spec, mark: Callable[[Path], Any] = lambda _path: SENSITIVE) -> Spec:
    """A copy of ``spec`` with every secret replaced (by default with ``(sensitive value)``)."""
    shown = copy_spec(spec)
    for path in secret_paths(spec):
        set_path(shown, path, mark(path))
    return shown


def path_str(path: Path) -> str:
    """``("auth", "header", 0, "value")`` -> ``auth.header[0].value``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# Fields the registry cannot change in place: a change to one forces replacement (delete then create).
# The name is the identity itself; the auth type decides which credentials exist at all.
FORCES_REPLACEMENT: frozenset[Path] = frozenset({("auth", "type")})
