"""The durable delivery queue and log: the forwarder's own tables in the registry's SQLite file.

``fwd_events`` holds each envelope once (deduplicated by its ``id``); ``fwd_deliveries`` one row per
(event, hook) with the delivery's state: ``pending`` (never tried), ``retrying``, ``delivered``,
``dead`` (dead-lettered) or ``skipped``. Only rows in ``pending``/``retrying`` are in the queue, and a
partial index keeps just those, so a queue of 100,000 stays cheap to poll and never sits in memory.

The write functions here take a cursor: they run inside the group committer's transactions
(:mod:`hookplan.forward.commit`), or the CLI's own for a redrive.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hookplan.forward.envelope import Envelope
from hookplan.registry.sqlite import connect

ACTIVE_STATES = ("pending", "retrying")
FINAL_STATES = ("delivered", "dead", "skipped")
LOG_RETENTION = 24 * 3600.0  # the Read window; finished deliveries are pruned after it
DEAD_RETENTION = 14 * 24 * 3600.0  # dead letters stay listable/redrivable longer (SQS-style)

SCHEMA = """
CREATE TABLE IF NOT EXISTS fwd_events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    time TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS fwd_events_received ON fwd_events (received_at);
CREATE TABLE IF NOT EXISTS fwd_deliveries (
    event_seq INTEGER NOT NULL,
    hook TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_status INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    latency_ms REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (event_seq, hook)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fwd_deliveries_hook ON fwd_deliveries (hook, event_seq);
CREATE INDEX IF NOT EXISTS fwd_deliveries_due ON fwd_deliveries (hook, next_attempt_at)
    WHERE state IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS fwd_deliveries_dead ON fwd_deliveries (hook, event_seq) WHERE state = 'dead';
"""


def open_queue(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection to the registry file with the forwarder's tables in place."""
    conn = connect(path, synchronous=synchronous)
    conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
    return conn


# -- writes (each takes a cursor inside the committer's transaction) ---------------------------


Route = tuple[str, str, str]  # (hook, initial state, reason)


def insert_events(cur: sqlite3.Cursor, items: list[tuple[Envelope, list[Route]]], now: float) -> list[bool]:
    """Store new envelopes and their deliveries; ``False`` for an id seen before (not delivered again)."""
    fresh: list[bool] = []
    for env, routes in items:
        cur.execute(
            "INSERT OR IGNORE INTO fwd_events (id, name, time, body, received_at) VALUES (?, ?, ?, ?, ?)",
            (env.id, env.name, env.time, env.body, now),
        )
        if cur.rowcount == 0:
            fresh.append(False)
            continue
        seq = cur.lastrowid
        cur.executemany(
            """INSERT INTO fwd_deliveries (event_seq, hook, state, next_attempt_at, last_error,
                                           created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [(seq, hook, state, now, reason, now, now) for hook, state, reason in routes],
        )
        fresh.append(True)
    return fresh


@dataclass(slots=True)
class Outcome:
    """The result of one attempt (or a decision without one), as the queue records it."""

    event_seq: int
    hook: str
    state: str
    attempts: int
    next_attempt_at: float
    last_status: int | None
    last_error: str
    latency_ms: float | None


def record_outcomes(cur: sqlite3.Cursor, outcomes: list[Outcome], now: float) -> None:
    cur.executemany(
        """UPDATE fwd_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_status = ?,
                  last_error = ?, latency_ms = ?, updated_at = ? WHERE event_seq = ? AND hook = ?""",
        [
            (
                o.state,
                o.attempts,
                o.next_attempt_at,
                o.last_status,
                o.last_error,
                o.latency_ms,
                now,
                o.event_seq,
                o.hook,
            )
            for o in outcomes
        ],
    )


def redrive(cur: sqlite3.Cursor, hook: str | None, event_id: str | None, now: float) -> int:
    """Put dead letters back in the queue (attempts restart); returns how many."""
    sql = "UPDATE fwd_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, created_at = ?, "
    sql += "updated_at = ? WHERE state = 'dead'"
    args: list[Any] = [now, now, now]
    if hook is not None:
        sql += " AND hook = ?"
        args.append(hook)
    if event_id is not None:
        sql += " AND event_seq = (SELECT seq FROM fwd_events WHERE id = ?)"
        args.append(event_id)
    return cur.execute(sql, args).rowcount


def settle_hook(cur: sqlite3.Cursor, hook: str, state: str, reason: str, now: float, before: float) -> int:
    """Finish a hook's queued deliveries created before ``before`` (skip or dead-letter them)."""
    return cur.execute(
        """UPDATE fwd_deliveries SET state = ?, last_error = ?, updated_at = ?
           WHERE hook = ? AND state IN ('pending', 'retrying') AND created_at < ?""",
        (state, reason, now, hook, before),
    ).rowcount


def prune(cur: sqlite3.Cursor, now: float, retention: float = LOG_RETENTION, chunk: int = 5000) -> int:
    """Drop finished deliveries past the log window and events nothing refers to; bounded per call."""
    cutoff = now - retention
    removed = cur.execute(
        """DELETE FROM fwd_deliveries WHERE (event_seq, hook) IN (SELECT event_seq, hook
             FROM fwd_deliveries WHERE event_seq < ? AND (state IN ('delivered', 'skipped')
                   OR (state = 'dead' AND updated_at < ?)) LIMIT ?)""",
        (_seq_before(cur, cutoff), now - DEAD_RETENTION, chunk),
    ).rowcount
    removed += cur.execute(
        """DELETE FROM fwd_events WHERE seq IN (SELECT seq FROM fwd_events WHERE received_at < ?
             AND NOT EXISTS (SELECT 1 FROM fwd_deliveries WHERE event_seq = seq) LIMIT ?)""",
        (cutoff, chunk),
    ).rowcount
    return removed


def _seq_before(cur: sqlite3.Cursor, cutoff: float) -> int:
    """The first event sequence number received at or after ``cutoff`` (events arrive in order)."""
    row = cur.execute(
        "SELECT seq FROM fwd_events WHERE received_at >= ? ORDER BY received_at LIMIT 1", (cutoff,)
    ).fetchone()
    if row:
        return row[0]
    row = cur.execute("SELECT MAX(seq) FROM fwd_events").fetchone()
    return (row[0] or 0) + 1


# -- reads -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Due:
    """A queued delivery ready for an attempt, with the bytes to send."""

    event_seq: int
    event_id: str
    body: bytes
    attempts: int
    created_at: float


def due(conn: sqlite3.Connection, hook: str, now: float, limit: int, taken: Iterable[int]) -> list[Due]:
    """The hook's deliveries due now, oldest first, leaving out those already taken in memory."""
    rows = conn.execute(
        """SELECT d.event_seq, e.id, e.body, d.attempts, d.created_at
           FROM fwd_deliveries d JOIN fwd_events e ON e.seq = d.event_seq
           WHERE d.hook = ? AND d.state IN ('pending', 'retrying') AND d.next_attempt_at <= ?
             AND d.event_seq NOT IN (SELECT value FROM json_each(?))
           ORDER BY d.next_attempt_at LIMIT ?""",
        (hook, now, json.dumps(list(taken)), limit),
    ).fetchall()
    return [Due(*row) for row in rows]


def next_due_at(conn: sqlite3.Connection, hook: str, after: float) -> float | None:
    row = conn.execute(
        """SELECT next_attempt_at FROM fwd_deliveries WHERE hook = ? AND state IN ('pending', 'retrying')
           AND next_attempt_at > ? ORDER BY next_attempt_at LIMIT 1""",
        (hook, after),
    ).fetchone()
    return row[0] if row else None


OUTCOME_NAMES = {"dead": "dead-lettered"}


def read_window(conn: sqlite3.Connection, hook: str, since: float, limit: int) -> list[dict[str, Any]]:
    """What ``hook`` processed since ``since``, newest first (the seed's Read action)."""
    first = _seq_before(conn.cursor(), since)
    rows = conn.execute(
        """SELECT e.id, e.name, e.time, d.created_at, d.state, d.attempts, d.last_status, d.latency_ms,
                  d.last_error
           FROM fwd_deliveries d JOIN fwd_events e ON e.seq = d.event_seq
           WHERE d.hook = ? AND d.event_seq >= ? ORDER BY d.event_seq DESC LIMIT ?""",
        (hook, first, limit),
    ).fetchall()
    return [_row_json(row) for row in rows]


def dead_letters(conn: sqlite3.Connection, hook: str | None, limit: int) -> list[dict[str, Any]]:
    sql = """SELECT d.hook, e.id, e.name, e.time, d.created_at, d.attempts, d.last_status, d.last_error,
                    d.updated_at
             FROM fwd_deliveries d JOIN fwd_events e ON e.seq = d.event_seq WHERE d.state = 'dead'"""
    args: list[Any] = []
    if hook is not None:
        sql += " AND d.hook = ?"
        args.append(hook)
    rows = conn.execute(sql + " ORDER BY d.event_seq LIMIT ?", [*args, limit]).fetchall()
    keys = ("hook", "event_id", "event_name", "event_time", "received_at", "attempts", "last_status")
    return [dict(zip((*keys, "last_error", "dead_lettered_at"), row, strict=True)) for row in rows]


def _row_json(row: tuple) -> dict[str, Any]:
    event_id, name, event_time, created, state, attempts, status, latency, error = row
    return {
        "event_id": event_id,
        "event_name": name,
        "event_time": event_time,
        "received_at": created,
        "outcome": OUTCOME_NAMES.get(state, state),
        "attempts": attempts,
        "last_status": status,
        "latency_ms": None if latency is None else round(latency, 1),
        "last_error": error,
    }


def depths(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """hook -> (queued, dead-lettered), from the partial indexes (no table scan)."""
    out: dict[str, tuple[int, int]] = {}
    for hook, n in conn.execute(
        "SELECT hook, COUNT(*) FROM fwd_deliveries WHERE state IN ('pending', 'retrying') GROUP BY hook"
    ):
        out[hook] = (n, 0)
    for hook, n in conn.execute("SELECT hook, COUNT(*) FROM fwd_deliveries WHERE state = 'dead' GROUP BY hook"):
        out[hook] = (out.get(hook, (0, 0))[0], n)
    return out
