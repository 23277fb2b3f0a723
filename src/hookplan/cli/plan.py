"""``hookplan plan``: what apply would change, for people, pull requests (markdown) and machines (json)."""

from __future__ import annotations

import json

import click

from hookplan.cli import cli
from hookplan.cli._common import (
    gc_paused,
    hooks_file_option,
    load_config,
    open_registry,
    remote_option,
    state_option,
)


@cli.command()
@hooks_file_option
@state_option
@remote_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 2 when something does.")
@click.option("--out", metavar="FILE", help="Save the plan (no secret values) for 'hookplan apply FILE'.")
@click.option("--target", "targets", multiple=True, metavar="NAME", help="Plan only this hook (repeatable).")
@click.option("--destroy", is_flag=True, help="Plan the deletion of every hook this workspace manages.")
@gc_paused()  # a plan of many hooks builds a large heap that the collector would rescan in vain
def plan(
    hooks_file: str,
    state: str | None,
    remote: str | None,
    fmt: str,
    detailed_exitcode: bool,
    out: str | None,
    targets: tuple[str, ...],
    destroy: bool,
) -> None:
    """Show what apply would change to make the registry match the hooks file."""
    from hookplan.plan import make_plan, plan_to_json, render_markdown, render_text, save_plan
    from hookplan.ui import use_colour

    config = load_config(hooks_file)
    registry = open_registry(state, hooks_file, remote)
    try:
        the_plan = make_plan(
            config.hooks,
            registry,
            workspace=config.workspace,
            targets=targets,
            destroy=destroy,
            config_digest=config.digest,
            config_path=str(config.path.resolve()),
        )
    finally:
        registry.close()
    if fmt == "json":
        click.echo(json.dumps(plan_to_json(the_plan), indent=2))
    elif fmt == "markdown":
        click.echo(render_markdown(the_plan))
    else:
        click.echo(render_text(the_plan, colour=use_colour()), nl=False)
    if out:
        save_plan(the_plan, out)
        if fmt == "text":
            click.echo(
                f"\nSaved the plan to: {out}\n\nTo perform exactly these actions, run:\n    hookplan apply {out}"
            )
    if detailed_exitcode and the_plan.has_changes:
        click.get_current_context().exit(2)
