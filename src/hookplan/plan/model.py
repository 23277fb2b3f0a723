"""What a plan is: the ordered list of changes that would make the registry match the configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from hookplan.model import Path, Spec

CREATE, UPDATE, REPLACE, DELETE, NOOP = "create", "update", "replace", "delete", "no-op"

# Terraform's order of work: destroy first (it frees names), then replace, then update and create.
ACTION_ORDER = {DELETE: 0, REPLACE: 1, UPDATE: 2, CREATE: 3, NOOP: 4}


@dataclass
class ResourceChange:
    """One hook's change. ``before``/``after`` are public specs: secrets appear only as fingerprints."""

    name: str
    action: str
    before: Spec | None
    after: Spec | None
    changed: list[Path] = field(default_factory=list)  # leaf paths that differ (update / replace)
    forces_replacement: list[Path] = field(default_factory=list)
    note: str = ""  # why, beyond the attributes: a rename, a connection state to repair

    @property
    def is_change(self) -> bool:
        return self.action != NOOP


@dataclass
class Plan:
    changes: list[ResourceChange]
    lineage: str
    serial: int
    workspace: str
    config_digest: str = ""
    config_path: str = ""
    targets: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)  # hooks of other workspaces, left alone
    destroy: bool = False

    @property
    def actionable(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.is_change]

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    def counts(self) -> tuple[int, int, int]:
        """(to add, to change, to destroy) the way Terraform counts: a replace adds one and destroys one."""
        add = sum(c.action in (CREATE, REPLACE) for c in self.changes)
        change = sum(c.action == UPDATE for c in self.changes)
        destroy = sum(c.action in (DELETE, REPLACE) for c in self.changes)
        return add, change, destroy

    def summary(self) -> str:
        if not self.has_changes:
            return "No changes. Your hooks match the configuration."
        add, change, destroy = self.counts()
        return f"Plan: {add} to add, {change} to change, {destroy} to destroy."
