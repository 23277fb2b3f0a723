"""Diff the configuration against the registry: compare first (cheap dict equality), diff second.

Hooks are keyed by name. Names are immutable, so a rename is a delete of the old name and a create of
the new; the plan notes it when the created hook looks like the deleted one. Secrets are compared by the
registry's keyed fingerprints, so a rotated secret is a change without its value ever being read back.
"""

from __future__ import annotations

from collections.abc import Iterable

from hookplan.errors import HookplanError
from hookplan.model import FORCES_REPLACEMENT, Hook, Path, Spec
from hookplan.plan.model import ACTION_ORDER, CREATE, DELETE, NOOP, REPLACE, UPDATE, Plan, ResourceChange
from hookplan.registry.base import HookRecord, Registry

# Connection states that mean the last apply did not finish its walk for this hook.
SETTLED_STATES = frozenset({"AUTHORIZED"})


def make_plan(
    hooks: list[Hook],
    registry: Registry,
    *,
    workspace: str,
    targets: Iterable[str] = (),
    destroy: bool = False,
    config_digest: str = "",
    config_path: str = "",
) -> Plan:
    """The plan that makes ``registry`` match ``hooks`` (or, with ``destroy``, removes this workspace's)."""
    meta = registry.meta()
    records = {r.name: r for r in registry.list_hooks()}
    wanted = (
        {}
        if destroy
        else dict(zip((h.name for h in hooks), registry.public_specs([h.spec for h in hooks]), strict=True))
    )
    _refuse_foreign_names(wanted, records, workspace)
    changes = [_change(name, wanted.get(name), records.get(name)) for name in _names(wanted, records, workspace)]
    _note_renames(changes)
    target_set = set(targets)
    if target_set:
        _check_targets(target_set, wanted, records)
        changes = [c for c in changes if c.name in target_set]
    changes.sort(key=lambda c: (ACTION_ORDER[c.action], c.name))
    unmanaged = sorted(n for n, r in records.items() if r.workspace != workspace and n not in wanted)
    return Plan(
        changes=changes,
        lineage=meta.lineage,
        serial=meta.serial,
        workspace=workspace,
        config_digest=config_digest,
        config_path=config_path,
        targets=sorted(target_set),
        unmanaged=unmanaged,
        destroy=destroy,
    )


def _names(wanted: dict[str, Spec], records: dict[str, HookRecord], workspace: str) -> list[str]:
    """Hooks this workspace manages: every configured one, and its own registry hooks."""
    own = {n for n, r in records.items() if r.workspace == workspace}
    return sorted(set(wanted) | own)


def _refuse_foreign_names(wanted: dict[str, Spec], records: dict[str, HookRecord], workspace: str) -> None:
    clashes = sorted(n for n in wanted if n in records and records[n].workspace != workspace)
    if clashes:
        first = records[clashes[0]]
        raise HookplanError(
            f"hook '{first.name}' already exists and is managed by workspace '{first.workspace}'"
            + (f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else "")
            + f"; to manage it from workspace '{workspace}', run 'hookplan import {first.name}'"
        )


def _check_targets(targets: set[str], wanted: dict[str, Spec], records: dict[str, HookRecord]) -> None:
    unknown = sorted(t for t in targets if t not in wanted and t not in records)
    if unknown:
        raise HookplanError(f"--target {unknown[0]}: no such hook in the configuration or the registry")


def _change(name: str, after: Spec | None, record: HookRecord | None) -> ResourceChange:
    if record is None:
        return ResourceChange(name, CREATE, None, after)
    if after is None:
        return ResourceChange(name, DELETE, record.spec, None)
    if after == record.spec:
        if record.connection_state in SETTLED_STATES:
            return ResourceChange(name, NOOP, record.spec, after)
        note = f"connection state is {record.connection_state}"
        note += f" ({record.state_reason})" if record.state_reason else ""
        return ResourceChange(name, UPDATE, record.spec, after, note=note + "; apply will authorize it again")
    changed = changed_paths(record.spec, after)
    forced = [p for p in changed if p in FORCES_REPLACEMENT]
    return ResourceChange(name, REPLACE if forced else UPDATE, record.spec, after, changed, forced)


def changed_paths(before: Spec, after: Spec) -> list[Path]:
    """Leaf paths that differ, as tuples (``("auth", "client_secret")``), in a stable order."""
    from deepdiff import DeepDiff  # imported here: ~70 ms that a plan without changes never needs

    # threshold_to_diff_deeper=0: always descend, so a changed auth type shows as auth.type, not all of auth
    diff = DeepDiff(before, after, view="tree", ignore_order=False, threshold_to_diff_deeper=0)
    paths: set[Path] = set()
    for kind in diff:
        for level in diff[kind]:
            paths.add(tuple(level.path(output_format="list")))
    return sorted(paths, key=lambda p: tuple(str(x) for x in p))


def _note_renames(changes: list[ResourceChange]) -> None:
    """Mark a create + delete pair that looks like one hook renamed: same endpoint and event type."""

    def identity(spec: Spec | None) -> tuple:
        return (spec or {}).get("endpoint"), (spec or {}).get("event_type")

    deleted = {identity(c.before): c for c in changes if c.action == DELETE}
    for created in (c for c in changes if c.action == CREATE):
        old = deleted.pop(identity(created.after), None)
        if old is not None:
            rule = "names are immutable, so the old hook is deleted and a new one created"
            old.note = f"renamed to '{created.name}': {rule}"
            created.note = f"renamed from '{old.name}': {rule}"
