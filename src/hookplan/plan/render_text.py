"""The human plan, shaped like Terraform's: one block per hook, changed attributes only, a summary line."""

from __future__ import annotations

import json
from typing import Any

from hookplan.model import Path, Spec, find_path, path_str, redact
from hookplan.plan.model import CREATE, DELETE, REPLACE, UPDATE, Plan, ResourceChange
from hookplan.ui import style

SYMBOLS = {CREATE: "+", UPDATE: "~", REPLACE: "-/+", DELETE: "-"}
COLOURS = {CREATE: "green", UPDATE: "yellow", REPLACE: "red", DELETE: "red"}
HEADLINES = {
    CREATE: "will be created",
    UPDATE: "will be updated in-place",
    REPLACE: "must be replaced",
    DELETE: "will be destroyed",
}


class _Sensitive:
    """Stands in for a secret in rendered output; prints unquoted like Terraform's marker."""

    def __repr__(self) -> str:
        return "(sensitive value)"


SENSITIVE = _Sensitive()


def render_text(plan: Plan, *, colour: bool = False) -> str:
    """The whole plan as text; ``colour`` adds ANSI colours (only ever on a terminal)."""
    out: list[str] = []
    if plan.targets:
        out.append(_warning("Resource targeting is in effect: only " + ", ".join(plan.targets) + " planned.", colour))
    if plan.unmanaged:
        names = ", ".join(plan.unmanaged[:10]) + (
            f" and {len(plan.unmanaged) - 10} more" if len(plan.unmanaged) > 10 else ""
        )
        out.append(f"{len(plan.unmanaged)} hook(s) not managed here (other workspaces), left alone: {names}\n")
    changes = plan.actionable
    if changes:
        out.append("hookplan will perform the following actions:\n")
        legend = sorted({c.action for c in changes}, key=list(SYMBOLS).index)
        out.insert(0, _legend(legend, colour))
        for change in changes:
            out.append(render_change(change, colour=colour))
    out.append(style(plan.summary(), bold=True, colour=colour))
    return "\n".join(out) + "\n"


def _legend(actions: list[str], colour: bool) -> str:
    words = {
        CREATE: "create",
        UPDATE: "update in-place",
        REPLACE: "destroy and then create replacement",
        DELETE: "destroy",
    }
    lines = ["Resource actions are indicated with the following symbols:"]
    lines += [f"  {style(SYMBOLS[a].rjust(3), COLOURS[a], colour=colour)} {words[a]}" for a in actions]
    return "\n".join(lines) + "\n"


def _warning(text: str, colour: bool) -> str:
    return style("Warning: ", "yellow", bold=True, colour=colour) + text + "\n"


def render_change(change: ResourceChange, *, colour: bool = False) -> str:
    symbol = SYMBOLS[change.action]
    mark = style(symbol.rjust(3), COLOURS[change.action], colour=colour)
    lines = [f'  # hook "{change.name}" {HEADLINES[change.action]}']
    if change.note:
        lines.append(f"  # ({change.note})")
    lines.append(f'{mark} hook "{change.name}" {{')
    lines += _attribute_lines(change, colour)
    lines.append("    }")
    return "\n".join(lines) + "\n"


def _attribute_lines(change: ResourceChange, colour: bool) -> list[str]:
    before = redact(change.before, lambda _p: SENSITIVE) if change.before else None
    after = redact(change.after, lambda _p: SENSITIVE) if change.after else None
    if change.action == CREATE:
        rows = [("+", p, None, v) for p, v in leaves(after)]
    elif change.action == DELETE:
        rows = [("-", p, v, None) for p, v in leaves(before)]
    else:
        shown = list(dict.fromkeys(_display_path(p) for p in change.changed))
        rows = [_changed_row(before, after, p) for p in shown]
        if not rows:  # same spec, unsettled connection state: apply authorizes it again
            rows = [("~", ("connection_state",), _UNSETTLED, "AUTHORIZED")]
    width = max((len(path_str(p)) for _, p, _, _ in rows), default=0)
    lines = []
    for sym, path, old, new in rows:
        key = path_str(path).ljust(width)
        text = _format_row(sym, old, new)
        if path in change.forces_replacement:
            text += style(" # forces replacement", "red", colour=colour)
        if path == ("enabled",) and sym == "~":
            text += f" # destination state {_destination(old)} -> {_destination(new)}"
        lines.append(f"      {style(sym, _row_colour(sym), colour=colour)} {key} {text}")
    return lines


class _Unsettled:
    def __repr__(self) -> str:
        return "(not authorized)"


_UNSETTLED = _Unsettled()


def _display_path(path: Path) -> Path:
    """A change inside an HTTP parameter shows the whole parameter: ``header[1]``, not ``header[1].value``."""
    for i, part in enumerate(path[:-1]):
        if part in PARAM_LISTS and isinstance(path[i + 1], int):
            return path[: i + 2]
    return path


def _changed_row(before: Spec | None, after: Spec | None, path: Path) -> tuple[str, Path, Any, Any]:
    old, new = find_path(before, path, _MISSING), find_path(after, path, _MISSING)
    if old is _MISSING:
        return "+", path, None, new
    if new is _MISSING:
        return "-", path, old, None
    return "~", path, old, new


_MISSING = object()


def _format_row(sym: str, old: Any, new: Any) -> str:
    if sym == "+":
        return f"= {fmt(new)}"
    if sym == "-":
        return f"= {fmt(old)} -> null"
    if old is SENSITIVE and new is SENSITIVE:
        return "= (sensitive value)"
    return f"= {fmt(old)} -> {fmt(new)}"


def _row_colour(sym: str) -> str:
    return {"+": "green", "-": "red", "~": "yellow"}[sym]


def _destination(enabled: Any) -> str:
    return "INACTIVE" if enabled is False else "ACTIVE"


def fmt(value: Any) -> str:
    """A value as Terraform prints it: strings quoted, booleans lower-case, secrets as a marker."""
    if value is SENSITIVE or value is _UNSETTLED:
        return repr(value)
    if _is_param(value):
        shown = f"{{key = {fmt(value['key'])}, value = {fmt(value['value'])}"
        return shown + (", secret = true}" if value.get("secret") else "}")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return json.dumps(value)


PARAM_LISTS = ("header", "query_string")


def _is_param(value: Any) -> bool:
    return isinstance(value, dict) and set(value) <= {"key", "value", "secret"} and "key" in value


def leaves(spec: Any, prefix: Path = ()) -> list[tuple[Path, Any]]:
    """Every leaf of a spec with its path, in the spec's own order; an HTTP parameter is one leaf, and
    empty parameter lists are left out (they are the default)."""
    if isinstance(spec, dict) and spec and not _is_param(spec):
        return [leaf for k, v in spec.items() for leaf in leaves(v, (*prefix, k))]
    if isinstance(spec, list):
        return [leaf for i, v in enumerate(spec) for leaf in leaves(v, (*prefix, i))]
    return [(prefix, spec)]
