"""The dispatch loop: queued deliveries -> attempts -> recorded outcomes, one lane per hook.

* Only ``AUTHORIZED`` + ``ACTIVE`` hooks are sent to. A ``DEAUTHORIZED`` OAuth hook is *probed*: one
  held delivery at a time, paced by the retry backoff; the attempt first needs a token, so the endpoint
  is contacted only with a fresh one, and that success moves the hook back to ``AUTHORIZED``. Other
  hooks that are not ready (creating, updating, deauthorized by apply) hold their deliveries until they
  are, or until the events age out (dead-lettered). Deleted or ``INACTIVE`` hooks: queued deliveries
  are ``skipped``.
* Each lane keeps a small in-memory buffer of due rows (never the whole queue) and at most
  ``concurrency`` attempts in flight; rows taken stay "taken" until their outcome is committed, so a
  poll never hands the same delivery out twice.
* Outcomes are written in batches through the group committer; a crash before the commit leaves the
  row queued, so the event is delivered again: at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

import httpx

from hookplan.forward import store
from hookplan.forward.commit import GroupCommitter
from hookplan.forward.deliver import AttemptResult, attempt, scrub
from hookplan.forward.lane import Lane
from hookplan.forward.logs import log
from hookplan.forward.metrics import Metrics
from hookplan.forward.outcomes import decide, final
from hookplan.forward.retry import RetryPolicy, backoff, retryable
from hookplan.forward.routing import HookSet, HookView
from hookplan.forward.store import Due, Outcome
from hookplan.model import Hook

BUFFER = 64  # due rows fetched per lane per poll
MAX_WAIT = 1.0  # the loop polls the queue at least this often (redrives from the CLI, clock drift)
HOLD_SWEEP = 5.0  # how often held deliveries are checked for their age limit
OUTCOME_BATCH = 0.01  # seconds outcomes gather before one commit (the receiver has them already)

StateWriter = Callable[[str, str, str], Awaitable[None]]  # (hook, connection state, reason)
Guard = Callable[[dict], Awaitable[str | None]]  # hook spec -> refusal reason (SSRF) or None


class Dispatcher:
    def __init__(
        self,
        conn: sqlite3.Connection,
        committer: GroupCommitter,
        policy: RetryPolicy,
        metrics: Metrics,
        *,
        new_client: Callable[[], httpx.AsyncBaseTransport],
        build_auth: Callable[..., httpx.Auth | None],
        write_state: StateWriter,
        guard: Guard,
        concurrency: int = 8,
    ):
        self._conn, self._committer, self._policy, self._metrics = conn, committer, policy, metrics
        self._new_client, self._build_auth, self._write_state, self._guard = new_client, build_auth, write_state, guard
        self._retired: list[httpx.AsyncBaseTransport] = []  # clients of deleted hooks with attempts in flight
        self._concurrency = concurrency
        self.lanes: dict[str, Lane] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._outcomes: list[tuple[Lane, Outcome]] = []
        self._flushing = False
        self._stopping = False
        self._last_hold_sweep = 0.0
        self._state_lock = asyncio.Lock()

    # -- hooks -------------------------------------------------------------------------------

    def apply_hooks(self, hooks: HookSet) -> None:
        """Adopt a new registry snapshot: new lanes, changed specs, and deleted or disabled hooks."""
        for name, view in hooks.views.items():
            lane = self.lanes.get(name)
            if lane is None:
                self.lanes[name] = Lane(view, self._auth_for(name, view), self._new_client(), self._policy.timeout)
            elif lane.view.hook.spec != view.hook.spec:
                lane.update(view, self._auth_for(name, view))
            else:
                lane.view = view
            if not view.active:
                self._settle(name, "skipped", "hook INACTIVE", time.time() + 1)
        for name in [n for n in self.lanes if n not in hooks.views]:
            self._retire(self.lanes.pop(name))
            self._settle(name, "skipped", "hook deleted", time.time() + 1)
        self._wake.set()

    def _retire(self, lane: Lane) -> None:
        if lane.active:
            self._retired.append(lane.client)  # closed at shutdown
        else:
            task = asyncio.get_running_loop().create_task(lane.client.aclose())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def settle_orphans(self, names: list[str]) -> None:
        """At start-up: queued deliveries of hooks deleted while the forwarder was down are skipped."""

        def op(cur: sqlite3.Cursor) -> int:
            return cur.execute(
                """UPDATE fwd_deliveries SET state = 'skipped', last_error = 'hook deleted', updated_at = ?
                   WHERE state IN ('pending', 'retrying') AND hook NOT IN (SELECT value FROM json_each(?))""",
                (time.time(), store.json.dumps(names)),
            ).rowcount

        self._committer.submit(op)

    def _auth_for(self, lane_name: str, view: HookView) -> httpx.Auth | None:
        observe = partial(self._token_result_by_name, lane_name, view.hook)
        try:
            return self._build_auth(view.hook.spec, on_token_result=observe)
        except Exception as exc:  # a spec the auth helper cannot use: the lane fails its attempts
            log(logging.ERROR, "cannot build auth for hook", hook=view.name, error=scrub(str(exc), view.hook.spec))
            return None

    def _token_result_by_name(self, name: str, hook: Hook, ok: bool, reason: str) -> None:
        lane = self.lanes.get(name)
        if lane is not None:
            self._token_result(lane, hook, ok, reason)

    def _settle(self, hook: str, state: str, reason: str, before: float) -> None:
        self._committer.submit(partial(_settle_op, hook, state, reason, before))

    # -- the loop ----------------------------------------------------------------------------

    def concurrency(self) -> dict[str, int]:
        return {name: lane.limit(self._concurrency) for name, lane in self.lanes.items()}

    def notify(self) -> None:
        """New work (ingest committed, a hook changed): poll now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                delay = self._pump_all()
            except Exception as exc:  # e.g. the file busy for longer than the busy timeout: try again
                log(logging.ERROR, "dispatch failed; retrying in a second", error=f"{type(exc).__name__}: {exc}")
                delay = MAX_WAIT
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _pump_all(self) -> float:
        """Start what is due on every lane; returns how long the loop may sleep."""
        now = time.time()
        wait = MAX_WAIT
        for lane in list(self.lanes.values()):
            if lane.view.sendable:
                wait = min(wait, self._pump(lane, now))
            elif lane.probing:
                wait = min(wait, self._probe(lane, now))
        if now - self._last_hold_sweep >= min(HOLD_SWEEP, self._policy.max_event_age / 4):
            self._last_hold_sweep = now
            self._expire_held(now)
        return max(wait, 0.001)

    def _pump(self, lane: Lane, now: float) -> float:
        limit = lane.limit(self._concurrency)
        free = limit - lane.active
        if free <= 0 or self._stopping:
            return MAX_WAIT  # a finishing attempt pumps the lane again
        if len(lane.buffer) < free:
            lane.buffer.extend(self._fetch(lane, now, BUFFER))
        while lane.buffer and lane.active < limit:
            self._start(lane, lane.buffer.popleft())
        if lane.buffer:
            return MAX_WAIT
        after = store.next_due_at(self._conn, lane.view.name, now)
        return MAX_WAIT if after is None else after - now

    def _probe(self, lane: Lane, now: float) -> float:
        if lane.active or self._stopping:
            return MAX_WAIT
        if now < lane.probe_at:
            return lane.probe_at - now
        rows = self._fetch(lane, now, 1)
        if rows:
            lane.probe_at = now + backoff(self._policy, lane.probe_failures + 1) + self._policy.base_delay
            self._start(lane, rows[0])
        return MAX_WAIT

    def _fetch(self, lane: Lane, now: float, limit: int) -> list[Due]:
        rows = store.due(self._conn, lane.view.name, now, limit, lane.taken)
        lane.taken.update(r.event_seq for r in rows)
        return rows

    def _expire_held(self, now: float) -> None:
        """Deliveries held by a hook that is not ready are dead-lettered once past the age limit."""
        for lane in self.lanes.values():
            if not lane.view.sendable and lane.view.active:
                reason = f"hook {lane.view.state}" + (f": {lane.view.reason}" if lane.view.reason else "")
                reason += "; the event reached its maximum age"
                self._settle(lane.view.name, "dead", reason, now - self._policy.max_event_age)

    # -- one attempt -------------------------------------------------------------------------

    def _start(self, lane: Lane, due: Due) -> None:
        lane.active += 1
        task = asyncio.get_running_loop().create_task(self._deliver(lane, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, lane: Lane, due: Due) -> None:
        outcome: Outcome | None = None
        try:
            outcome = await self._try(lane, due)
        except asyncio.CancelledError:
            lane.taken.discard(due.event_seq)  # left queued in the store: retried after restart
            raise
        except Exception as exc:  # a bug must not kill the loop; the delivery stays queued
            log(
                logging.ERROR,
                "delivery failed unexpectedly",
                hook=lane.view.name,
                event_id=due.event_id,
                error=type(exc).__name__,
            )
            lane.taken.discard(due.event_seq)
        finally:
            lane.active -= 1
            if outcome is not None:
                self._record(lane, outcome)
            if lane.view.sendable and not self._stopping and lane.buffer:
                while lane.buffer and lane.active < lane.limit(self._concurrency):
                    self._start(lane, lane.buffer.popleft())
            else:
                self._wake.set()

    async def _try(self, lane: Lane, due: Due) -> Outcome:
        view, auth, prepared = lane.view, lane.auth, lane.prepared
        spec, now = view.hook.spec, time.time()
        if auth is None or prepared is None:  # never send unauthenticated what should carry credentials
            return self._final(view.name, due, "dead", None, "the hook's settings cannot be used", None)
        if now - due.created_at > self._policy.max_event_age:
            return self._final(view.name, due, "dead", None, "the event reached its maximum age", None)
        refusal = await self._guard(spec)
        if refusal:
            return self._final(view.name, due, "dead", None, scrub(refusal, spec), None)
        await lane.limiter.acquire()
        result = await attempt(lane.client, prepared, auth, due.event_id, due.body, self._policy.timeout)
        lane.observe(result.latency_ms / 1000.0)
        self._note_health(lane, result)
        return self._decide(view.name, due, result)

    def _note_health(self, lane: Lane, result: AttemptResult) -> None:
        """One log line when a hook's attempts start failing and one when they succeed again (each
        retry is only a debug line: a receiver down for an hour must not flood the log)."""
        if result.ok and lane.failing:
            lane.failing = False
            log(logging.INFO, "deliveries succeed again", hook=lane.view.name)
        elif not result.ok and not lane.failing and retryable(result.status) and not result.final:
            lane.failing = True
            log(
                logging.WARNING,
                "deliveries failing; retrying with backoff",
                hook=lane.view.name,
                status=result.status,
                error=result.error,
            )

    def _decide(self, hook: str, due: Due, result: AttemptResult) -> Outcome:
        return decide(self._policy, self._metrics, hook, due, result)

    def _final(self, hook: str, due: Due, state: str, status: int | None, error: str, ms: float | None) -> Outcome:
        return final(self._metrics, hook, due, state, status, error, ms)

    def _token_result(self, lane: Lane, hook: Hook, ok: bool, reason: str) -> None:
        """The auth helper's report on a token request: refused -> DEAUTHORIZED (with the reason), a
        later success -> AUTHORIZED again. Reports about a spec that was replaced since are ignored."""
        if lane.view.hook is not hook:
            return
        if ok:
            lane.probe_failures = 0
            if lane.view.state == "DEAUTHORIZED":
                lane.view = replace(lane.view, state="AUTHORIZED", reason="")
                log(logging.INFO, "hook authorized again: the token endpoint issued a token", hook=hook.name)
                self._set_state(hook.name, "AUTHORIZED", "")
            return
        lane.probe_failures += 1
        reason = scrub(reason, hook.spec)
        if lane.view.state != "DEAUTHORIZED" or lane.view.reason != reason:
            lane.view = replace(lane.view, state="DEAUTHORIZED", reason=reason)
            log(logging.WARNING, "hook deauthorized: the token endpoint refused", hook=hook.name, reason=reason)
            self._set_state(hook.name, "DEAUTHORIZED", reason)

    def _set_state(self, name: str, state: str, reason: str) -> None:
        """Persist a connection-state change, in order (one writer at a time, FIFO)."""

        async def write() -> None:
            async with self._state_lock:
                await self._write_state(name, state, reason)

        task = asyncio.get_running_loop().create_task(write())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- outcomes ----------------------------------------------------------------------------

    def _record(self, lane: Lane, outcome: Outcome) -> None:
        self._outcomes.append((lane, outcome))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_later(OUTCOME_BATCH, self._flush)

    def _flush(self) -> None:
        batch, self._outcomes, self._flushing = self._outcomes, [], False
        if batch:
            self._committer.submit(partial(_record_op, [o for _, o in batch]), partial(self._committed, batch))

    def _committed(self, batch: list[tuple[Lane, Outcome]], _result: object, exc: BaseException | None) -> None:
        if exc is not None:
            log(
                logging.ERROR,
                "could not record delivery outcomes; they will be retried",
                error=f"{type(exc).__name__}: {exc}",
            )
        for lane, outcome in batch:
            lane.taken.discard(outcome.event_seq)
        self._wake.set()

    # -- shutdown ----------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        """Stop starting attempts, let those in flight finish (up to ``grace``), record their outcomes."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        self._flush()
        clients = [lane.client for lane in self.lanes.values()] + self._retired
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


def _record_op(outcomes: list[Outcome], cur: sqlite3.Cursor) -> None:
    store.record_outcomes(cur, outcomes, time.time())


def _settle_op(hook: str, state: str, reason: str, before: float, cur: sqlite3.Cursor) -> int:
    return store.settle_hook(cur, hook, state, reason, time.time(), before)
