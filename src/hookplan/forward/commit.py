"""Group commit: one writer thread and connection (``synchronous=FULL``) for every write to the queue.

Everything queued while a commit runs goes into the next transaction, so a burst of ingests costs one
fsync rather than one each, and an ingest is answered only after the ``COMMIT`` that holds it returned.
Each operation runs in its own savepoint: one failing operation does not undo its batch-mates.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hookplan.forward.store import open_queue

Op = Callable[[sqlite3.Cursor], Any]


class GroupCommitter:
    """One writer thread: batches every queued operation into one ``synchronous=FULL`` transaction."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop):
        self._conn = open_queue(path)
        self._loop = loop
        self._ops: list[tuple[Op, Callable[[Any, BaseException | None], None] | None]] = []
        self._cv = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="hookplan-store", daemon=True)
        self._thread.start()

    async def run(self, op: Op) -> Any:
        """Run ``op`` in the next transaction; returns its result once committed."""
        fut = self._loop.create_future()

        def done(result: Any, exc: BaseException | None) -> None:
            if not fut.done():
                fut.set_exception(exc) if exc else fut.set_result(result)

        self.submit(op, done)
        return await fut

    def submit(self, op: Op, done: Callable[[Any, BaseException | None], None] | None = None) -> None:
        """Queue ``op``; ``done(result, error)`` is called on the event loop after the commit."""
        with self._cv:
            if self._closing:
                raise RuntimeError("the store is closed")
            self._ops.append((op, done))
            self._cv.notify()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._ops and not self._closing:
                    self._cv.wait()
                batch, self._ops = self._ops, []
                if not batch and self._closing:
                    return
            self._commit(batch)

    def _commit(self, batch: list) -> None:
        results: list[tuple[Any, BaseException | None]] = []
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            results = [_isolated(cur, op) for op, _ in batch]
            cur.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            results = [(None, exc)] * len(batch)
        finally:
            cur.close()
        callbacks = [(done, r, e) for (_, done), (r, e) in zip(batch, results, strict=True) if done]
        if callbacks:
            with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody waits any more
                self._loop.call_soon_threadsafe(_call_all, callbacks)


def _isolated(cur: sqlite3.Cursor, op: Op) -> tuple[Any, BaseException | None]:
    """Run one operation in a savepoint: if it fails, only it is undone, not its batch-mates."""
    cur.execute("SAVEPOINT op")
    try:
        result = op(cur)
    except sqlite3.OperationalError:
        raise  # the file itself is in trouble (busy, full, I/O): the whole batch fails
    except Exception as exc:
        cur.execute("ROLLBACK TO op")
        cur.execute("RELEASE op")
        return None, exc
    cur.execute("RELEASE op")
    return result, None


def _call_all(callbacks: list) -> None:
    for done, result, exc in callbacks:
        done(result, exc)
