"""The machine plan: a stable, versioned JSON document modelled on ``terraform show -json``.

Unlike Terraform, sensitive values are never in ``before``/``after`` (they are ``null`` there); the
``*_sensitive`` trees mark where they were.
"""

from __future__ import annotations

from typing import Any

from hookplan import __version__
from hookplan.model import Spec, redact, secret_paths
from hookplan.plan.model import REPLACE, Plan, ResourceChange

FORMAT_VERSION = "1.0"
TERRAFORM_ACTIONS = {
    "create": ["create"],
    "update": ["update"],
    "replace": ["delete", "create"],
    "delete": ["delete"],
    "no-op": ["no-op"],
}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    add, change, destroy = plan.counts()
    return {
        "format_version": FORMAT_VERSION,
        "hookplan_version": __version__,
        "registry": {"lineage": plan.lineage, "serial": plan.serial},
        "workspace": plan.workspace,
        "targets": plan.targets,
        "destroy": plan.destroy,
        "resource_changes": [_resource_change(c) for c in plan.changes],
        "unmanaged_hooks": plan.unmanaged,
        "summary": {"add": add, "change": change, "destroy": destroy, "has_changes": plan.has_changes},
    }


def _resource_change(change: ResourceChange) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actions": TERRAFORM_ACTIONS[change.action],
        "before": _without_secrets(change.before),
        "after": _without_secrets(change.after),
        "before_sensitive": _sensitive_tree(change.before),
        "after_sensitive": _sensitive_tree(change.after),
        "changed_attributes": [list(p) for p in change.changed],
    }
    if change.action == REPLACE:
        body["replace_paths"] = [list(p) for p in change.forces_replacement]
    return {
        "address": f"hook.{change.name}",
        "type": "hook",
        "name": change.name,
        "action": change.action,
        "note": change.note or None,
        "change": body,
    }


def _without_secrets(spec: Spec | None) -> Spec | None:
    return redact(spec, lambda _p: None) if spec is not None else None


def _sensitive_tree(spec: Spec | None) -> dict[str, Any] | bool:
    """Terraform's shape: a sparse tree with ``true`` where a value is sensitive, ``false`` when none."""
    if spec is None:
        return False
    tree: dict[str, Any] = {}
    for path in secret_paths(spec):
        node = tree
        for part in path[:-1]:
            node = node.setdefault(str(part), {})
        node[str(path[-1])] = True
    return tree or False
