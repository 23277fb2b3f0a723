"""Routing: which hooks an event goes to, from a snapshot of the registry's hooks.

An event goes to every hook whose event type is in ``detail.eventTags`` (``ALL`` takes every event).
Routing happens once, at ingest, so each (event, hook) pair is a row whose fate ``read`` can show:

* ``ACTIVE`` hooks get a ``pending`` delivery, whatever their connection state. Only ``AUTHORIZED``
  hooks are *sent* to (see :mod:`hookplan.forward.worker`); a hook still being created or updated, or
  ``DEAUTHORIZED``, holds its deliveries until it is authorized or the events age out (then they are
  dead-lettered, and can be redriven): delays, never silent drops.
* ``INACTIVE`` hooks (``enabled: false``) get a ``skipped`` row: a disabled hook wants no events.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from hookplan.model import Hook
from hookplan.registry.sqlite import SQLiteRegistry

Route = tuple[str, str, str]  # (hook name, initial delivery state, reason)


@dataclass(frozen=True, slots=True)
class HookView:
    """A hook with its full spec (secrets included: never print it) and its connection state."""

    hook: Hook
    state: str
    reason: str

    @property
    def name(self) -> str:
        return self.hook.name

    @property
    def active(self) -> bool:
        return self.hook.destination_state == "ACTIVE"

    @property
    def sendable(self) -> bool:
        """Only AUTHORIZED + ACTIVE hooks receive deliveries."""
        return self.active and self.state == "AUTHORIZED"


class HookSet:
    """An immutable snapshot of the registry's hooks, indexed by event type for routing."""

    def __init__(self, views: list[HookView]):
        self.views = {v.name: v for v in views}
        self._by_type: dict[str, list[HookView]] = {}
        for view in views:
            self._by_type.setdefault(view.hook.spec["event_type"], []).append(view)

    def route(self, tags: tuple[str, ...]) -> list[Route]:
        """The delivery rows one event with ``tags`` creates."""
        targets = list(self._by_type.get("ALL", ()))
        for tag in dict.fromkeys(tags):
            if tag != "ALL":
                targets.extend(self._by_type.get(tag, ()))
        return [(v.name, "pending", "") if v.active else (v.name, "skipped", "hook INACTIVE") for v in targets]


def load_hooks(registry: SQLiteRegistry) -> HookSet:
    states = registry.states()
    views = [HookView(h, *states.get(h.name, ("DELETING", ""))) for h in registry.delivery_hooks()]
    return HookSet(views)


def hooks_signature(conn: sqlite3.Connection) -> tuple:
    """Changes whenever a hook is added, changed, deleted or changes state: cheap to poll.

    ``PRAGMA data_version`` alone would not do: the queue's own commits change it many times a second.
    """
    return conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(version), 0), COALESCE(MAX(updated_at), 0) FROM hooks"
    ).fetchone()
