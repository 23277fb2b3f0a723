"""The state walk of one hook: every step is persisted before the next (DESIGN §5).

create  CREATING -> AUTHORIZING -> AUTHORIZED | DEAUTHORIZED
update  UPDATING -> AUTHORIZING -> AUTHORIZED | DEAUTHORIZED
delete  DELETING -> gone
replace delete, then create

The walk is two halves: :func:`begin` records the first state (the control API answers after it) and
:func:`finish` carries the rest out (the control API runs it in the background).
"""

from __future__ import annotations

from collections.abc import Callable

from hookplan.model import Hook, Spec
from hookplan.plan.model import DELETE, REPLACE, UPDATE
from hookplan.registry.base import Registry

Authorizer = Callable[[Spec], None]  # raises with a one-line reason when the endpoint refuses


def default_authorizer(spec: Spec) -> None:
    """A real token request for OAuth hooks; other auth types have nothing to authorize up front."""
    from hookplan.auth import authorize

    authorize(spec)


def begin(registry: Registry, action: str, name: str, hook: Hook | None, workspace: str) -> None:
    """The first persisted step: DELETING for a delete or replace, else CREATING / UPDATING."""
    if action in (DELETE, REPLACE):
        registry.set_state(name, "DELETING")
        return
    assert hook is not None, f"{action} of {name} needs the configured hook"
    registry.put_hook(hook, "UPDATING" if action == UPDATE else "CREATING", "", workspace)


def finish(
    registry: Registry,
    action: str,
    name: str,
    hook: Hook | None,
    workspace: str,
    authorizer: Authorizer = default_authorizer,
) -> tuple[str, str]:
    """Every step after :func:`begin`; returns the final (connection state, reason)."""
    if action in (DELETE, REPLACE):
        registry.delete_hook(name)
        if action == DELETE:
            return "DELETED", ""
        assert hook is not None
        registry.put_hook(hook, "CREATING", "", workspace)
    registry.set_state(name, "AUTHORIZING")
    try:
        authorizer(hook.spec)  # type: ignore[union-attr]
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        registry.set_state(name, "DEAUTHORIZED", reason)
        return "DEAUTHORIZED", reason
    registry.set_state(name, "AUTHORIZED")
    return "AUTHORIZED", ""


def walk(
    registry: Registry,
    action: str,
    name: str,
    hook: Hook | None,
    workspace: str,
    authorizer: Authorizer = default_authorizer,
) -> tuple[str, str]:
    """Carry one hook's change out from start to end; returns its final (connection state, reason)."""
    begin(registry, action, name, hook, workspace)
    return finish(registry, action, name, hook, workspace, authorizer)
