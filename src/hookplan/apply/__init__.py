"""The apply stage: carry a plan out against a registry, walking each hook through its states."""

from hookplan.apply.engine import ApplyResult, HookResult, apply_plan
from hookplan.apply.walk import walk

__all__ = ["ApplyResult", "HookResult", "apply_plan", "walk"]
