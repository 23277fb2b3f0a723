"""Carry a plan out: hooks in parallel, a failure of one never undoes another, Ctrl-C stops cleanly.

The engine knows nothing of terminals: it reports each finished hook through a callback and stops
starting new hooks once ``stop`` is set (the CLI sets it on the first Ctrl-C).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from hookplan.apply.walk import Authorizer, default_authorizer, walk
from hookplan.errors import HookplanError
from hookplan.model import Hook
from hookplan.plan.model import Plan, ResourceChange
from hookplan.registry.base import Registry


@dataclass(frozen=True)
class HookResult:
    name: str
    action: str
    state: str  # final connection state, "DELETED", or "ERROR"
    reason: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.state in ("AUTHORIZED", "DELETED")


@dataclass
class ApplyResult:
    results: list[HookResult] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[HookResult]:
        return [r for r in self.results if not r.ok]


Reporter = Callable[[HookResult, int, int], None]  # (result, done so far, total)


def apply_plan(
    plan: Plan,
    hooks: dict[str, Hook],
    registry: Registry,
    *,
    parallelism: int = 10,
    report: Reporter = lambda _r, _d, _t: None,
    stop: threading.Event | None = None,
    authorizer: Authorizer = default_authorizer,
) -> ApplyResult:
    """Apply every actionable change of ``plan``; ``hooks`` are the configured hooks, secrets included."""
    stop = stop or threading.Event()
    changes = plan.actionable
    result = ApplyResult()
    total = len(changes)

    def run(change: ResourceChange) -> HookResult | None:
        if stop.is_set():
            return None
        started = time.monotonic()
        hook = hooks.get(change.name)
        try:
            if getattr(registry, "server_side_walk", False):  # a remote registry walks the states itself
                state, reason = registry.carry_out(change.action, change.name, hook, plan.workspace)  # type: ignore[attr-defined]
            else:
                state, reason = walk(registry, change.action, change.name, hook, plan.workspace, authorizer)
        except HookplanError as exc:
            state, reason = "ERROR", str(exc)
        return HookResult(change.name, change.action, state, reason, time.monotonic() - started)

    # Each future puts itself on ``finished`` when done. (concurrent.futures.wait over every pending
    # future costs O(pending) per call, which made an apply of N hooks O(N^2) on the main thread.)
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="apply") as pool:
        pending: dict[Future, ResourceChange] = {}
        for change in changes:
            future = pool.submit(run, change)
            pending[future] = change
            future.add_done_callback(finished.put)
        while pending:
            # A timeout keeps the main thread responsive to signals (Ctrl-C) while hooks run.
            try:
                future = finished.get(timeout=0.2)
            except queue.Empty:
                continue
            change = pending.pop(future)
            hook_result = future.result()
            if hook_result is None:
                result.not_started.append(change.name)
                continue
            result.results.append(hook_result)
            report(hook_result, len(result.results), total)
    result.interrupted = stop.is_set()
    return result
