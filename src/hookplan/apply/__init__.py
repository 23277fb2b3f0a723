"""The apply stage: carry a plan out against a registry, walking each hook through its states."""

from hookplan.apply.engine import ApplyResult, HookResult, apply_plan
from hookplan.apply.walk import begin, finish, walk

__all__ = ["ApplyResult", "HookResult", "apply_plan", "begin", "finish", "walk"]
