"""The embedded registry: one SQLite file, WAL mode, every change in a transaction.

The same file is shared by the CLI and a running forwarder (which keeps its delivery queue in its own
tables there). Secret values are stored so that the forwarder can deliver; the file is created 0600.
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from hookplan.errors import HookplanError
from hookplan.model import Hook, Spec, fingerprint, join_secrets, split_secrets
from hookplan.registry.base import HookRecord, LockError, RegistryMeta

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hooks (
    name TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    spec TEXT NOT NULL,             -- public form: secrets replaced by fingerprints
    secrets TEXT NOT NULL,          -- {path: value}, for delivery only
    connection_state TEXT NOT NULL,
    state_reason TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS apply_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    since REAL NOT NULL,
    expires REAL                    -- set for leases taken over the control API, NULL for a local process
);
"""


def connect(path: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Open (creating 0600 if needed) a SQLite file in WAL mode, with a clear error when it is not one."""
    if path.is_dir():
        raise HookplanError(f"{path}: is a directory, not a registry file (use --state FILE)")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise HookplanError(f"{path}: cannot create the registry: {exc.strerror}") from None
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
    except sqlite3.DatabaseError as exc:
        raise _open_error(path, exc) from None
    return conn


def _open_error(path: Path, exc: sqlite3.DatabaseError) -> HookplanError:
    """Tell 'this file is something else' apart from 'the disk or file cannot be written'."""
    if isinstance(exc, sqlite3.OperationalError) or "disk" in str(exc) or "readonly" in str(exc):
        return HookplanError(f"{path}: cannot use the registry: {exc} (is the disk full, or the file read-only?)")
    return HookplanError(f"{path}: not a hookplan registry ({exc}); pass --state to use another file")


class SQLiteRegistry:
    """:class:`hookplan.registry.base.Registry` on a SQLite file."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._conn = connect(self.path)
        self._mutex = threading.RLock()  # one transaction at a time on the shared connection
        try:
            with self._tx() as cur:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                cur.execute("INSERT OR IGNORE INTO meta VALUES ('lineage', ?)", (str(uuid.uuid4()),))
                cur.execute("INSERT OR IGNORE INTO meta VALUES ('serial', '0')")
                cur.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint_key', ?)", (_secrets.token_hex(32),))
                rows = dict(cur.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise _open_error(self.path, exc) from None
        self._key = bytes.fromhex(rows["fingerprint_key"])

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._mutex:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback(cur)
                raise HookplanError(f"{self.path}: registry write failed: {exc}") from None
            except BaseException:
                self._rollback(cur)
                raise
            finally:
                cur.close()

    @staticmethod
    def _rollback(cur: sqlite3.Cursor) -> None:
        with suppress(sqlite3.Error):
            cur.execute("ROLLBACK")

    @staticmethod
    def _bump(cur: sqlite3.Cursor) -> None:
        cur.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'serial'")

    # -- reading -------------------------------------------------------------------------------

    def meta(self) -> RegistryMeta:
        with self._mutex:
            rows = dict(self._conn.execute("SELECT key, value FROM meta WHERE key IN ('lineage','serial')"))
        return RegistryMeta(lineage=rows["lineage"], serial=int(rows["serial"]))

    def fingerprint(self, value: str) -> str:
        return fingerprint(self._key, value)

    def public_specs(self, specs: list[Spec]) -> list[Spec]:
        return [split_secrets(spec, self._key)[0] for spec in specs]

    _COLUMNS = "name, spec, connection_state, state_reason, workspace, version, updated_at"

    @staticmethod
    def _record(row: tuple) -> HookRecord:
        name, spec, state, reason, workspace, version, updated_at = row
        return HookRecord(name, json.loads(spec), state, reason, workspace, version, updated_at)

    def list_hooks(self) -> list[HookRecord]:
        with self._mutex:
            rows = self._conn.execute(f"SELECT {self._COLUMNS} FROM hooks ORDER BY name").fetchall()
        return [self._record(row) for row in rows]

    def get_hook(self, name: str) -> HookRecord | None:
        with self._mutex:
            row = self._conn.execute(f"SELECT {self._COLUMNS} FROM hooks WHERE name = ?", (name,)).fetchone()
        return self._record(row) if row else None

    def delivery_hooks(self) -> list[Hook]:
        with self._mutex:
            rows = self._conn.execute("SELECT name, spec, secrets FROM hooks ORDER BY name").fetchall()
        return [Hook(name, join_secrets(json.loads(spec), json.loads(secrets))) for name, spec, secrets in rows]

    def states(self) -> dict[str, tuple[str, str]]:
        """name -> (connection state, reason): a cheap read for the forwarder's reload loop."""
        with self._mutex:
            rows = self._conn.execute("SELECT name, connection_state, state_reason FROM hooks").fetchall()
        return {name: (state, reason) for name, state, reason in rows}

    def data_version(self) -> int:
        """Changes whenever another connection commits: lets a reader skip reloading unchanged data."""
        with self._mutex:
            return self._conn.execute("PRAGMA data_version").fetchone()[0]

    # -- writing -------------------------------------------------------------------------------

    def put_hook(self, hook: Hook, state: str, reason: str, workspace: str) -> HookRecord:
        public, secret_values = split_secrets(hook.spec, self._key)
        now = time.time()
        with self._tx() as cur:
            cur.execute(
                """INSERT INTO hooks (name, workspace, spec, secrets, connection_state, state_reason,
                                      version, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                   ON CONFLICT(name) DO UPDATE SET
                     workspace = excluded.workspace, spec = excluded.spec, secrets = excluded.secrets,
                     connection_state = excluded.connection_state, state_reason = excluded.state_reason,
                     version = hooks.version + 1, updated_at = excluded.updated_at""",
                (
                    hook.name,
                    workspace,
                    json.dumps(public, separators=(",", ":")),
                    json.dumps(secret_values),
                    state,
                    reason,
                    now,
                ),
            )
            self._bump(cur)
            row = cur.execute(f"SELECT {self._COLUMNS} FROM hooks WHERE name = ?", (hook.name,)).fetchone()
        return self._record(row)

    def set_state(self, name: str, state: str, reason: str = "", *, bump_serial: bool = True) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE hooks SET connection_state = ?, state_reason = ?, updated_at = ? WHERE name = ?",
                (state, reason, time.time(), name),
            )
            if bump_serial:
                self._bump(cur)

    def delete_hook(self, name: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM hooks WHERE name = ?", (name,))
            self._bump(cur)

    def set_workspace(self, name: str, workspace: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE hooks SET workspace = ?, version = version + 1, updated_at = ? WHERE name = ?",
                (workspace, time.time(), name),
            )
            self._bump(cur)

    # -- the apply lock ------------------------------------------------------------------------

    @contextmanager
    def lock(self, who: str, timeout: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        host, pid = socket.gethostname(), os.getpid()
        while not self._try_lock(who, host, pid):
            if time.monotonic() >= deadline:
                holder, since = self.lock_holder()
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
                raise LockError(
                    f"the registry {self.path} is locked by {holder} since {stamp}; "
                    "wait for it, raise --lock-timeout, or run 'hookplan force-unlock' if it is gone"
                )
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        try:
            yield
        finally:
            with self._tx() as cur:
                cur.execute("DELETE FROM apply_lock WHERE id = 1 AND host = ? AND pid = ?", (host, pid))

    def _try_lock(self, who: str, host: str, pid: int, expires: float | None = None) -> bool:
        with self._tx() as cur:
            row = cur.execute("SELECT host, pid, expires FROM apply_lock WHERE id = 1").fetchone()
            if row and not _is_stale(*row):
                return False
            cur.execute(
                "INSERT OR REPLACE INTO apply_lock VALUES (1, ?, ?, ?, ?, ?)",
                (f"{who} (pid {pid} on {host})" if pid else who, host, pid, time.time(), expires),
            )
            return True

    def acquire_lease(self, who: str, ttl: float) -> str | None:
        """Take the apply lock for a remote client for ``ttl`` seconds; the lease id, or None when held."""
        lease = "lease:" + _secrets.token_hex(16)
        return lease if self._try_lock(who, lease, 0, time.time() + ttl) else None

    def release_lease(self, lease: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM apply_lock WHERE id = 1 AND host = ?", (lease,))

    def lock_holder(self) -> tuple[str, float]:
        with self._mutex:
            row = self._conn.execute("SELECT holder, since FROM apply_lock WHERE id = 1").fetchone()
        return (row[0], row[1]) if row else ("nobody (released just now)", time.time())

    def force_unlock(self) -> str | None:
        """Remove the lock whoever holds it; returns the holder that was removed."""
        with self._tx() as cur:
            row = cur.execute("SELECT holder FROM apply_lock WHERE id = 1").fetchone()
            cur.execute("DELETE FROM apply_lock")
        return row[0] if row else None

    def close(self) -> None:
        with self._mutex:
            self._conn.close()


def _is_stale(host: str, pid: int, expires: float | None) -> bool:
    """A lock whose lease ran out, or whose holder was a process of this host that has died."""
    if expires is not None:
        return expires < time.time()
    return host == socket.gethostname() and not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
