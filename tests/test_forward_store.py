"""The queue's SQL on a real registry file: dedup, due order, the Read window, redrive, pruning after the log
window (queued and dead-lettered deliveries survive it), and group commit from many callers at once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forward_kit import make_event
from hookplan.forward import store
from hookplan.forward.commit import GroupCommitter
from hookplan.forward.envelope import Envelope, parse_body
from hookplan.registry import SQLiteRegistry


def _env(event_id: str) -> Envelope:
    [env] = parse_body(json.dumps(make_event(event_id)).encode())
    assert isinstance(env, Envelope)
    return env


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = tmp_path / "hookplan.db"
    SQLiteRegistry(db).close()
    connection = store.open_queue(db)
    yield connection
    connection.close()


def _tx(conn: sqlite3.Connection, fn, *args):  # type: ignore[no-untyped-def]
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")
    result = fn(cur, *args)
    cur.execute("COMMIT")
    return result


def test_dedup_due_order_and_outcomes(conn: sqlite3.Connection) -> None:
    routes = [("a", "pending", ""), ("off", "skipped", "hook INACTIVE")]
    items = [(_env("e-1"), routes), (_env("e-2"), routes), (_env("e-1"), routes)]
    assert _tx(conn, store.insert_events, items, 100.0) == [True, True, False]
    due = store.due(conn, "a", 100.0, 10, [])
    assert [d.event_id for d in due] == ["e-1", "e-2"]
    assert store.due(conn, "a", 100.0, 10, [due[0].event_seq])[0].event_id == "e-2"  # taken ones left out
    assert store.due(conn, "off", 100.0, 10, []) == []
    later = store.Outcome(due[0].event_seq, "a", "retrying", 1, 160.0, 503, "HTTP 503", 5.0)
    _tx(conn, store.record_outcomes, [later], 101.0)
    assert [d.event_id for d in store.due(conn, "a", 150.0, 10, [])] == ["e-2"]
    assert store.next_due_at(conn, "a", 150.0) == 160.0
    assert store.depths(conn) == {"a": (2, 0)}


def test_read_window_redrive_and_pruning(conn: sqlite3.Connection) -> None:
    now = time.time()
    day = 24 * 3600
    old_routes = [("a", "pending", "")]
    _tx(conn, store.insert_events, [(_env("old-done"), old_routes), (_env("old-queued"), old_routes)], now - 2 * day)
    _tx(conn, store.insert_events, [(_env("old-dead"), old_routes)], now - 2 * day)
    _tx(conn, store.insert_events, [(_env("fresh"), old_routes)], now - 60)
    seqs = {r[1]: r[0] for r in conn.execute("SELECT seq, id FROM fwd_events")}
    _tx(
        conn,
        store.record_outcomes,
        [
            store.Outcome(seqs["old-done"], "a", "delivered", 1, 0, 200, "", 3.0),
            store.Outcome(seqs["old-dead"], "a", "dead", 1, 0, 400, "HTTP 400", 3.0),
            store.Outcome(seqs["fresh"], "a", "delivered", 1, 0, 200, "", 3.0),
        ],
        now - 2 * day,
    )
    window = store.read_window(conn, "a", now - 3600, 100)
    assert [(r["event_id"], r["outcome"], r["last_status"]) for r in window] == [("fresh", "delivered", 200)]
    assert len(store.read_window(conn, "a", now - 3 * day, 100)) == 4
    assert [d["event_id"] for d in store.dead_letters(conn, None, 10)] == ["old-dead"]
    while _tx(conn, store.prune, now) > 0:
        pass
    left = {r[0] for r in conn.execute("SELECT e.id FROM fwd_deliveries d JOIN fwd_events e ON e.seq = d.event_seq")}
    assert left == {"old-queued", "old-dead", "fresh"}  # only the finished, past-the-window delivery went
    assert _tx(conn, store.redrive, "a", "old-dead", now) == 1
    assert _tx(conn, store.redrive, None, None, now) == 0
    assert {d.event_id for d in store.due(conn, "a", now, 10, [])} == {"old-queued", "old-dead"}


def test_group_commit_batches_concurrent_callers(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    SQLiteRegistry(db).close()

    async def main() -> list[list[bool]]:
        committer = GroupCommitter(db, asyncio.get_running_loop())
        try:
            ops = [
                committer.run(lambda cur, i=i: store.insert_events(cur, [(_env(f"g-{i % 50}"), [])], 1.0))
                for i in range(200)
            ]
            return await asyncio.gather(*ops)
        finally:
            committer.close()

    results = asyncio.run(main())
    assert sum(r == [True] for r in results) == 50 and sum(r == [False] for r in results) == 150
    check = sqlite3.connect(db)
    assert check.execute("SELECT COUNT(*) FROM fwd_events").fetchone()[0] == 50
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failing_operation_does_not_undo_its_batch_mates(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    SQLiteRegistry(db).close()

    def broken(cur: sqlite3.Cursor) -> None:
        store.insert_events(cur, [(_env("undone"), [])], 1.0)
        raise ValueError("a bug in one operation")

    async def main() -> list:
        committer = GroupCommitter(db, asyncio.get_running_loop())
        try:
            slow = asyncio.ensure_future(committer.run(lambda cur: time.sleep(0.3)))
            await asyncio.sleep(0.05)  # the writer is inside the slow one: the next three share a batch
            ops = [
                committer.run(lambda cur: store.insert_events(cur, [(_env("kept-1"), [])], 1.0)),
                committer.run(broken),
                committer.run(lambda cur: store.insert_events(cur, [(_env("kept-2"), [])], 1.0)),
            ]
            results = await asyncio.gather(*ops, return_exceptions=True)
            await slow
            return results
        finally:
            committer.close()

    first, failed, last = asyncio.run(main())
    assert first == [True] and last == [True] and isinstance(failed, ValueError)
    ids = {r[0] for r in sqlite3.connect(db).execute("SELECT id FROM fwd_events")}
    assert ids == {"kept-1", "kept-2"}
