"""The plan as a pull-request comment: summary first, a warning on destroys, details folded away."""

from __future__ import annotations

import re

from hookplan.plan.model import DELETE, REPLACE, Plan
from hookplan.plan.render_text import render_change

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- hookplan-plan -->"  # lets a workflow find and update its own comment


def render_markdown(plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    head = [MARKER, f"### hookplan plan — workspace `{plan.workspace}`", "", f"**{plan.summary()}**", ""]
    destroyed = [c.name for c in plan.changes if c.action in (DELETE, REPLACE)]
    if destroyed:
        head += [
            f"> [!WARNING]\n> This plan destroys {len(destroyed)} hook(s): "
            + ", ".join(f"`{n}`" for n in destroyed[:20])
            + (" …" if len(destroyed) > 20 else ""),
            "",
        ]
    if plan.unmanaged:
        head += [
            f"{len(plan.unmanaged)} hook(s) of other workspaces are not managed here and are left alone.",
            "",
        ]
    if not plan.has_changes:
        return "\n".join(head)
    tail = ["```", "</details>", ""]
    budget = limit - len("\n".join(head)) - 400
    blocks, omitted = [], 0
    for change in plan.actionable:
        block = _diff_style(render_change(change))
        if budget - len(block) < 0:
            omitted += 1
            continue
        budget -= len(block) + 1
        blocks.append(block + "\n")
    details = ["<details><summary>Show the plan</summary>", "", "```diff", *blocks]
    if omitted:
        tail.insert(
            1,
            f"\n_{omitted} more change(s) omitted to stay under GitHub's comment limit; "
            "the full plan is in the job log._",
        )
    return "\n".join(head + details + tail)


def _diff_style(block: str) -> str:
    """Move each line's symbol to column 0 for GitHub's ``diff`` highlighting; ``~`` becomes ``!``."""
    out = []
    for line in block.splitlines():
        m = re.match(r"^(\s*)(-/\+|[+~-])(\s)(.*)$", line)
        if m:
            sym = {"~": "!", "-/+": "!"}.get(m.group(2), m.group(2))
            out.append(f"{sym}{m.group(1)}{m.group(3)}{m.group(4)}")
        else:
            out.append(line)
    return "\n".join(out)
