"""Commands that read or adjust the registry directly: ``show``, ``import``, ``force-unlock``."""

from __future__ import annotations

import json
import os

import click

from hookplan.cli import cli
from hookplan.cli._common import (
    hooks_file_option,
    lock_timeout_option,
    open_registry,
    parse_duration,
    remote_option,
    state_option,
)
from hookplan.errors import HookplanError

SHOW_COLUMNS = (
    "Name",
    "Event Type",
    "Endpoint",
    "Auth Type",
    "HTTP Method",
    "Connection State",
    "Destination State",
)


def _registry_for(state: str | None, hooks_file: str, remote: str | None = None):
    return open_registry(state, hooks_file if os.path.exists(hooks_file) else None, remote)


@cli.command()
@hooks_file_option
@state_option
@remote_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (no secret values).")
def show(hooks_file: str, state: str | None, remote: str | None, as_json: bool) -> None:
    """The Event Hooks table: every hook in the registry with its states."""
    from hookplan.ui import table

    registry = _registry_for(state, hooks_file, remote)
    try:
        meta, records = registry.meta(), registry.list_hooks()
    finally:
        registry.close()
    if as_json:
        doc = {
            "format_version": "1.0",
            "registry": {"lineage": meta.lineage, "serial": meta.serial},
            "hooks": [r.to_json() for r in records],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if not records:
        click.echo("No hooks in the registry. Declare some in a hooks file and run 'hookplan apply'.")
        return
    rows = [
        (
            r.name,
            r.spec.get("event_type"),
            r.spec.get("endpoint"),
            r.spec["auth"]["type"],
            r.spec.get("http_method"),
            r.connection_state,
            r.destination_state,
        )
        for r in records
    ]
    click.echo(table(SHOW_COLUMNS, rows))
    for r in records:
        if r.state_reason:
            click.echo(f"\n{r.name}: {r.connection_state}: {r.state_reason}")


@cli.command("import")
@click.argument("name")
@hooks_file_option
@state_option
@remote_option
@lock_timeout_option
def import_(name: str, hooks_file: str, state: str | None, remote: str | None, lock_timeout: str) -> None:
    """Adopt the existing hook NAME into this hooks file's workspace (the next plan shows what differs)."""
    from hookplan.cli._common import workspace_of

    workspace = workspace_of(hooks_file)
    registry = _registry_for(state, hooks_file, remote)
    try:
        with registry.lock("hookplan import", parse_duration(lock_timeout, "--lock-timeout")):
            record = registry.get_hook(name)
            if record is None:
                raise HookplanError(f"no hook named '{name}' in the registry; 'hookplan show' lists them")
            if record.workspace == workspace:
                click.echo(f"hook \"{name}\" is already managed by workspace '{workspace}'.")
                return
            registry.set_workspace(name, workspace)
    finally:
        registry.close()
    click.echo(
        f"hook \"{name}\": Import successful (workspace '{record.workspace}' -> '{workspace}').\n"
        "Run 'hookplan plan' to see how it differs from the hooks file."
    )


@cli.command("force-unlock")
@hooks_file_option
@state_option
@remote_option
def force_unlock(hooks_file: str, state: str | None, remote: str | None) -> None:
    """Remove a stale apply lock (only when the holder is certainly gone)."""
    registry = _registry_for(state, hooks_file, remote)
    try:
        holder = registry.force_unlock()
    finally:
        registry.close()
    click.echo(f"Removed the lock held by {holder}." if holder else "The registry was not locked.")
