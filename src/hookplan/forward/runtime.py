"""The forwarder's parts wired together, with their lifecycle: start, background loops, graceful stop.

The ASGI app only sees a :class:`Runtime` (``app.state.runtime``); the server starts it in the
lifespan and stops it after uvicorn has stopped taking requests, so everything accepted is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from hookplan.forward import store
from hookplan.forward.commit import GroupCommitter
from hookplan.forward.deliver import client_for
from hookplan.forward.envelope import warm_up
from hookplan.forward.logs import log
from hookplan.forward.metrics import Metrics
from hookplan.forward.retry import RetryPolicy
from hookplan.forward.routing import HookSet, hooks_signature, load_hooks
from hookplan.forward.tokens import Tokens
from hookplan.forward.worker import Dispatcher
from hookplan.registry.sqlite import SQLiteRegistry

HOOK_POLL = 0.25  # seconds: a hook applied elsewhere takes effect well within a second
PRUNE_EVERY = 60.0
SSRF_TTL = 5.0


@dataclass(frozen=True)
class Settings:
    state: Path
    tokens: Tokens = field(default_factory=lambda: Tokens(None, None))
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    allow_private: bool = False
    concurrency: int = 32  # attempts in flight per hook at most (see lane.Lane.limit)
    shutdown_grace: float = 10.0  # seconds in-flight attempts get to finish on SIGTERM


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics = Metrics()
        self.hooks = HookSet([])
        self.draining = False
        self.started_at = time.time()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        self.registry = SQLiteRegistry(s.state)
        self.committer = GroupCommitter(s.state, loop)
        self.conn = store.open_queue(s.state, synchronous="NORMAL")  # reads on the loop
        self.read_conn = store.open_queue(s.state, synchronous="NORMAL")  # reads in a thread
        self._read_lock = asyncio.Lock()
        self.dispatcher = Dispatcher(
            self.conn,
            self.committer,
            s.policy,
            self.metrics,
            new_client=partial(client_for, s.concurrency),
            build_auth=_auth_builder(),
            write_state=self._write_state,
            guard=_guard(s.allow_private),
            concurrency=s.concurrency,
        )
        await asyncio.to_thread(warm_up)  # the schema validator: not on the first request's clock
        self._signature = hooks_signature(self.conn)
        self._adopt(load_hooks(self.registry))
        self.dispatcher.settle_orphans(list(self.hooks.views))
        self._tasks = [
            loop.create_task(self.dispatcher.run(), name="dispatch"),
            loop.create_task(self._watch_hooks(), name="watch-hooks"),
            loop.create_task(self._prune(), name="prune"),
        ]
        log(logging.INFO, "forwarder started", state=str(s.state), hooks=len(self.hooks.views))

    async def stop(self) -> None:
        """After uvicorn stopped taking requests: finish in-flight attempts, commit, close."""
        self.draining = True
        await self.dispatcher.stop(self.settings.shutdown_grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self.committer.close)
        self.conn.close()
        self.read_conn.close()
        self.registry.close()
        log(logging.INFO, "forwarder stopped; nothing accepted is lost")

    def problems(self) -> list[str]:
        """What keeps this forwarder from working (for /healthz): a dead writer or loop."""
        found = [] if self.committer.alive else ["the store writer stopped"]
        found += [f"the {t.get_name()} loop stopped" for t in self._tasks if t.done()]
        return found

    async def read(self, fn: Callable, *args: object) -> object:
        """Run a (possibly large) read query off the event loop."""
        async with self._read_lock:
            return await asyncio.to_thread(fn, self.read_conn, *args)

    # -- hooks -------------------------------------------------------------------------------

    def _adopt(self, hooks: HookSet) -> None:
        self.hooks = hooks
        self.dispatcher.apply_hooks(hooks)

    async def _watch_hooks(self) -> None:
        while True:
            await asyncio.sleep(HOOK_POLL)
            try:
                signature = hooks_signature(self.conn)
                if signature != self._signature:
                    hooks = await asyncio.to_thread(load_hooks, self.registry)
                    self._adopt(hooks)
                    self._signature = signature  # only once adopted: a failed load is tried again
                    log(logging.INFO, "hooks reloaded", hooks=len(hooks.views))
            except Exception as exc:  # a locked or busy file: try again at the next tick
                log(logging.WARNING, "could not reload hooks", error=f"{type(exc).__name__}: {exc}")

    async def _write_state(self, name: str, state: str, reason: str) -> None:
        try:
            await asyncio.to_thread(partial(self.registry.set_state, name, state, reason, bump_serial=False))
        except Exception as exc:
            log(logging.ERROR, "could not record hook state", hook=name, error=f"{type(exc).__name__}: {exc}")

    async def _prune(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                while await self.committer.run(partial(_prune_op)) > 0:
                    await asyncio.sleep(0)
            await asyncio.sleep(PRUNE_EVERY)


def _prune_op(cur: object) -> int:
    return store.prune(cur, time.time())  # type: ignore[arg-type]


def _auth_builder() -> Callable[[dict], httpx.Auth | None]:
    from hookplan.auth import build_auth

    return build_auth


def _guard(allow_private: bool) -> Callable:
    """The SSRF check as the dispatcher wants it: spec -> refusal reason, or None to go ahead.

    Both the endpoint and (OAuth) the token endpoint are checked. A host that does not resolve is not
    a refusal: the attempt then fails as a network error and is retried. Verdicts for a host are kept
    for ``SSRF_TTL`` seconds so a busy hook does not resolve twice per delivery.
    """
    from hookplan.auth.ssrf import DestinationRefused, async_check_destination

    allowed: dict[str, float] = {}

    async def check(url: str) -> str | None:
        if allowed.get(url, 0.0) > time.monotonic():
            return None
        try:
            await async_check_destination(url, allow_private=allow_private)
        except DestinationRefused as exc:
            return f"endpoint refused: {exc}"
        except OSError:
            return None  # unresolvable now: the attempt itself reports the network error
        allowed[url] = time.monotonic() + SSRF_TTL
        return None

    async def guard(spec: dict) -> str | None:
        refusal = await check(spec["endpoint"])
        token_url = (spec.get("auth") or {}).get("authorization_endpoint")
        if refusal is None and token_url:
            refusal = await check(token_url)
        return refusal

    return guard
