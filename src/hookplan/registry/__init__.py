"""Registries: where the current hooks live. ``open_registry`` picks one from the CLI's options."""

from __future__ import annotations

from pathlib import Path

from hookplan.registry.base import HookRecord, LockError, Registry, RegistryMeta
from hookplan.registry.sqlite import SQLiteRegistry

DEFAULT_STATE_FILE = "hookplan.db"

__all__ = [
    "DEFAULT_STATE_FILE",
    "HookRecord",
    "LockError",
    "Registry",
    "RegistryMeta",
    "SQLiteRegistry",
    "default_state_path",
    "open_registry",
]


def default_state_path(hooks_file: str | Path | None) -> Path:
    """``hookplan.db`` beside the hooks file (or in the current directory without one)."""
    base = Path(hooks_file).resolve().parent if hooks_file else Path.cwd()
    return base / DEFAULT_STATE_FILE


def open_registry(
    state: str | Path | None,
    hooks_file: str | Path | None = None,
    *,
    remote: str | None = None,
    token: str | None = None,
    wait_timeout: float = 120.0,
) -> Registry:
    """The SQLite file (``state``, else beside the hooks file), or a forwarder's control API at ``remote``."""
    if remote:
        from hookplan.registry.remote import RemoteRegistry

        return RemoteRegistry(remote, token, wait_timeout=wait_timeout)
    return SQLiteRegistry(Path(state) if state else default_state_path(hooks_file))
