"""The plan stage: diff the configuration against the registry, render it, save and reload it."""

from hookplan.plan.diff import make_plan
from hookplan.plan.model import CREATE, DELETE, NOOP, REPLACE, UPDATE, Plan, ResourceChange
from hookplan.plan.planfile import check_still_valid, load_plan, save_plan
from hookplan.plan.render_json import plan_to_json
from hookplan.plan.render_markdown import render_markdown
from hookplan.plan.render_text import render_text

__all__ = [
    "CREATE",
    "DELETE",
    "NOOP",
    "REPLACE",
    "UPDATE",
    "Plan",
    "ResourceChange",
    "check_still_valid",
    "load_plan",
    "make_plan",
    "plan_to_json",
    "render_markdown",
    "render_text",
    "save_plan",
]
