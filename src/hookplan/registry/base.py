"""The registry interface: where the current hooks live, and what plans are made against.

Kept deliberately narrow so that SQLite (embedded default), PostgreSQL (scale-out) and the remote
control API can each implement it. Everything that crosses it is in *public* form: secrets appear
only as keyed fingerprints, except through :meth:`Registry.delivery_hooks`, which the forwarder and
the authorization step use.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from hookplan.model import Hook, Spec


@dataclass(frozen=True)
class RegistryMeta:
    lineage: str  # uuid, set once when the registry is created
    serial: int  # incremented on every change made by apply/destroy/import


@dataclass(frozen=True)
class HookRecord:
    """A hook as the registry holds it: public spec plus its states."""

    name: str
    spec: Spec  # public form: secrets are fingerprints
    connection_state: str
    state_reason: str
    workspace: str
    version: int
    updated_at: float

    @property
    def destination_state(self) -> str:
        return "ACTIVE" if self.spec.get("enabled", True) else "INACTIVE"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "event_type": self.spec.get("event_type"),
            "endpoint": self.spec.get("endpoint"),
            "auth_type": (self.spec.get("auth") or {}).get("type"),
            "http_method": self.spec.get("http_method"),
            "connection_state": self.connection_state,
            "destination_state": self.destination_state,
            "state_reason": self.state_reason,
            "workspace": self.workspace,
            "version": self.version,
            "updated_at": self.updated_at,
            "spec": self.spec,
        }


class LockError(Exception):
    """Another apply holds the registry lock."""


class Registry(Protocol):
    def meta(self) -> RegistryMeta: ...

    def fingerprint(self, value: str) -> str:
        """The registry's keyed fingerprint of a secret value."""
        ...

    def public_specs(self, specs: list[Spec]) -> list[Spec]:
        """Each spec with its secrets replaced by this registry's fingerprints (one batch: a remote
        registry answers it in one call)."""
        ...

    def list_hooks(self) -> list[HookRecord]: ...

    def get_hook(self, name: str) -> HookRecord | None: ...

    def put_hook(self, hook: Hook, state: str, reason: str, workspace: str) -> HookRecord:
        """Create or replace ``hook`` (full spec, secrets included) in ``state``."""
        ...

    def set_state(self, name: str, state: str, reason: str = "", *, bump_serial: bool = True) -> None:
        """Record a connection-state step; runtime changes (the forwarder) don't bump the serial."""
        ...

    def delete_hook(self, name: str) -> None: ...

    def set_workspace(self, name: str, workspace: str) -> None: ...

    def delivery_hooks(self) -> list[Hook]:
        """Every hook with its secrets, for delivery and authorization. Never printed."""
        ...

    def lock(self, who: str, timeout: float) -> AbstractContextManager[None]:
        """Hold the one-apply-at-a-time lock, waiting up to ``timeout`` seconds; else LockError."""
        ...

    def force_unlock(self) -> str | None:
        """Remove the lock whoever holds it; returns the holder that was removed."""
        ...

    def close(self) -> None: ...
