"""Saved plans (``plan --out``): what was planned and against which registry state and file, no secret values.

``apply PLANFILE`` re-plans from the same hooks file and refuses unless the file's digest, the registry's
lineage and serial, and the freshly computed changes all match what was saved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hookplan.errors import HookplanError
from hookplan.plan.model import Plan, ResourceChange

KIND = "hookplan-saved-plan"
FORMAT_VERSION = 1


def save_plan(plan: Plan, path: str | Path) -> None:
    doc = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "workspace": plan.workspace,
        "config_path": plan.config_path,
        "config_digest": plan.config_digest,
        "targets": plan.targets,
        "destroy": plan.destroy,
        "changes": [
            {
                "name": c.name,
                "action": c.action,
                "before": c.before,
                "after": c.after,
                "changed": [list(p) for p in c.changed],
                "forces_replacement": [list(p) for p in c.forces_replacement],
                "note": c.note,
            }
            for c in plan.changes
        ],
    }
    tmp = Path(f"{path}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1)
        os.replace(tmp, path)
    except OSError as exc:
        raise HookplanError(f"{path}: cannot save the plan: {exc.strerror}") from None


def load_plan(path: str | Path) -> Plan:
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HookplanError(f"{path}: no such plan file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise HookplanError(f"{path}: not a saved hookplan plan (create one with 'hookplan plan --out FILE')") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("format_version") != FORMAT_VERSION:
        raise HookplanError(f"{path}: not a saved hookplan plan (create one with 'hookplan plan --out FILE')")
    changes = [
        ResourceChange(
            c["name"],
            c["action"],
            c["before"],
            c["after"],
            [tuple(p) for p in c["changed"]],
            [tuple(p) for p in c["forces_replacement"]],
            c.get("note", ""),
        )
        for c in doc["changes"]
    ]
    return Plan(
        changes,
        doc["lineage"],
        doc["serial"],
        doc["workspace"],
        doc["config_digest"],
        doc["config_path"],
        doc["targets"],
        [],
        doc["destroy"],
    )


def check_still_valid(saved: Plan, fresh: Plan) -> None:
    """Refuse a stale plan: the registry or the hooks file changed since it was saved."""
    if saved.lineage != fresh.lineage:
        raise HookplanError(
            "the saved plan was made against a different registry (lineage "
            f"{saved.lineage}, this one is {fresh.lineage}); run 'hookplan plan' again"
        )
    if saved.serial != fresh.serial:
        raise HookplanError(
            f"the saved plan is stale: the registry changed since it was made (serial {saved.serial}"
            f", now {fresh.serial}); run 'hookplan plan --out' again"
        )
    if saved.config_digest != fresh.config_digest:
        raise HookplanError(
            "the saved plan is stale: the hooks file changed since it was made; run 'hookplan plan --out' again"
        )
    if _fingerprint(saved) != _fingerprint(fresh):
        raise HookplanError(
            "the saved plan is stale: resolved values (such as a secret from the environment) "
            "changed since it was made; run 'hookplan plan --out' again"
        )


def _fingerprint(plan: Plan) -> list[tuple]:
    return [(c.name, c.action, json.dumps(c.after, sort_keys=True)) for c in plan.changes]
