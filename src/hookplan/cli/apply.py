"""``hookplan apply`` and ``hookplan destroy``: carry a plan out, one line per hook as it finishes."""

from __future__ import annotations

import getpass
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from hookplan.cli import cli
from hookplan.cli._common import (
    hooks_file_option,
    load_config,
    lock_timeout_option,
    open_registry,
    parse_duration,
    remote_option,
    state_option,
    wait_timeout_option,
    workspace_of,
)
from hookplan.errors import HookplanError
from hookplan.ui import style, use_colour

if TYPE_CHECKING:
    from hookplan.apply import ApplyResult, HookResult
    from hookplan.model import Hook
    from hookplan.plan import Plan
    from hookplan.registry.base import Registry

DONE_WORDS = {
    "create": "Creation",
    "update": "Modifications",
    "replace": "Replacement",
    "delete": "Destruction",
}

auto_approve_option = click.option("--auto-approve", is_flag=True, help="Skip the interactive approval.")
json_option = click.option(
    "--json", "as_json", is_flag=True, help="One JSON document of the outcome instead of text (for machines)."
)
parallelism_option = click.option(
    "--parallelism",
    default=10,
    show_default=True,
    type=click.IntRange(1, 256),
    help="How many hooks to walk at once.",
)


def apply_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options apply and destroy share, in the order --help shows them."""
    for option in reversed(
        (
            hooks_file_option,
            state_option,
            remote_option,
            wait_timeout_option,
            auto_approve_option,
            json_option,
            parallelism_option,
            lock_timeout_option,
        )
    ):
        command = option(command)
    return command


@cli.command()
@click.argument("planfile", required=False)
@apply_options
@click.option("--target", "targets", multiple=True, metavar="NAME", help="Apply only this hook (repeatable).")
def apply(
    planfile: str | None,
    hooks_file: str,
    state: str | None,
    remote: str | None,
    wait_timeout: str,
    auto_approve: bool,
    as_json: bool,
    parallelism: int,
    lock_timeout: str,
    targets: tuple[str, ...],
) -> None:
    """Make the registry match the hooks file (or carry out a saved PLANFILE exactly)."""
    from hookplan.plan import check_still_valid, load_plan, make_plan

    saved = load_plan(planfile) if planfile else None
    if saved and hooks_file == "hooks.yaml" and saved.config_path:
        hooks_file = saved.config_path
    config = load_config(hooks_file)
    registry = open_registry(state, hooks_file, remote, wait_timeout)
    try:
        with registry.lock(_who("apply"), parse_duration(lock_timeout, "--lock-timeout")):
            plan = make_plan(
                config.hooks,
                registry,
                workspace=config.workspace,
                targets=saved.targets if saved else targets,
                destroy=saved.destroy if saved else False,
                config_digest=config.digest,
                config_path=str(config.path.resolve()),
            )
            if saved:
                check_still_valid(saved, plan)
            hooks = {h.name: h for h in config.hooks}
            code = _confirm_and_apply(
                plan,
                hooks,
                registry,
                auto_approve or saved is not None,
                parallelism,
                show_plan=saved is None,
                as_json=as_json,
            )
    finally:
        registry.close()
    click.get_current_context().exit(code)


@cli.command()
@apply_options
@click.option("--workspace", help="Workspace whose hooks to destroy (default: the hooks file's, else 'default').")
@click.option("--target", "targets", multiple=True, metavar="NAME", help="Destroy only this hook (repeatable).")
def destroy(
    hooks_file: str,
    state: str | None,
    remote: str | None,
    wait_timeout: str,
    auto_approve: bool,
    as_json: bool,
    parallelism: int,
    lock_timeout: str,
    workspace: str | None,
    targets: tuple[str, ...],
) -> None:
    """Delete every hook this workspace manages (hooks of other workspaces are left alone)."""
    from hookplan.plan import make_plan

    registry = open_registry(state, hooks_file if os.path.exists(hooks_file) else None, remote, wait_timeout)
    try:
        with registry.lock(_who("destroy"), parse_duration(lock_timeout, "--lock-timeout")):
            plan = make_plan(
                [], registry, workspace=workspace or workspace_of(hooks_file), targets=targets, destroy=True
            )
            code = _confirm_and_apply(plan, {}, registry, auto_approve, parallelism, show_plan=True, as_json=as_json)
    finally:
        registry.close()
    click.get_current_context().exit(code)


def _who(command: str) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"hookplan {command} by {user}"


def _confirm_and_apply(
    plan: Plan,
    hooks: dict[str, Hook],
    registry: Registry,
    approved: bool,
    parallelism: int,
    *,
    show_plan: bool,
    as_json: bool = False,
) -> int:
    from hookplan.apply import apply_plan
    from hookplan.plan import render_text

    if as_json:
        return _apply_quietly_as_json(plan, hooks, registry, approved, parallelism)
    colour = use_colour()
    if show_plan or not plan.has_changes:
        click.echo(render_text(plan, colour=colour))
    if not plan.has_changes:
        click.echo(style("Apply complete! Resources: 0 added, 0 changed, 0 destroyed.", "green", True, colour=colour))
        return 0
    if not approved:
        _ask_for_approval("destroy" if plan.destroy else "apply")
    stop = threading.Event()
    with _graceful_interrupts(stop):
        result = apply_plan(
            plan,
            hooks,
            registry,
            parallelism=parallelism,
            stop=stop,
            report=lambda r, done, total: click.echo(_progress_line(r, done, total, colour)),
        )
    return _report(result, plan, colour)


def _apply_quietly_as_json(
    plan: Plan, hooks: dict[str, Hook], registry: Registry, approved: bool, parallelism: int
) -> int:
    import json

    from hookplan.apply import apply_plan

    if not approved and plan.has_changes:
        raise HookplanError("--json cannot ask for approval: pass --auto-approve or apply a saved plan")
    stop = threading.Event()
    with _graceful_interrupts(stop):
        result = apply_plan(plan, hooks, registry, parallelism=parallelism, stop=stop)
    added, changed, destroyed = _counts(result)
    doc = {
        "format_version": "1.0",
        "summary": {"add": added, "change": changed, "destroy": destroyed, "failed": len(result.failed)},
        "interrupted": result.interrupted,
        "not_started": sorted(result.not_started),
        "hooks": [
            {
                "name": r.name,
                "action": r.action,
                "state": r.state,
                "reason": r.reason or None,
                "elapsed_seconds": round(r.elapsed, 3),
            }
            for r in sorted(result.results, key=lambda r: r.name)
        ],
    }
    click.echo(json.dumps(doc, indent=2))
    return 1 if result.interrupted or result.failed else 0


def _counts(result: ApplyResult) -> tuple[int, int, int]:
    """(added, changed, destroyed) as Terraform counts them: a replace adds one and destroys one."""
    added = sum(r.action in ("create", "replace") and r.ok for r in result.results)
    changed = sum(r.action == "update" and r.ok for r in result.results)
    destroyed = sum(r.action in ("delete", "replace") and r.ok for r in result.results)
    return added, changed, destroyed


def _ask_for_approval(verb: str) -> None:
    if not sys.stdin.isatty():
        raise HookplanError(
            f"refusing to {verb} without a terminal to confirm on: pass --auto-approve "
            "or apply a saved plan (hookplan plan --out FILE; hookplan apply FILE)"
        )
    click.echo(
        "Do you want to perform these actions?\n"
        "  hookplan will perform the actions described above.\n"
        "  Only 'yes' will be accepted to approve.\n"
    )
    answer = click.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise HookplanError(f"{verb} cancelled: only 'yes' is accepted to approve")
    click.echo()


@contextmanager
def _graceful_interrupts(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM): start no new hook, let running ones finish. Second: exit at once.

    Exiting at once is safe for the registry: every step is its own SQLite transaction.
    """

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            click.echo("\nSecond interrupt: exiting now.", err=True)
            os._exit(130)
        stop.set()
        click.echo(
            "\nInterrupt received: no new hook will start; waiting for running ones to finish "
            "(interrupt again to exit at once).",
            err=True,
        )

    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be handled on the main thread (e.g. under some test runners)
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _progress_line(result: HookResult, done: int, total: int, colour: bool) -> str:
    counter = f"[{done} of {total}]"
    if result.ok:
        text = f"{DONE_WORDS[result.action]} complete after {result.elapsed:.2f}s"
        return f'hook "{result.name}": {style(text, "green", colour=colour)} {counter}'
    what = "Authorization failed" if result.state == "DEAUTHORIZED" else "Failed"
    text = f"{what} after {result.elapsed:.2f}s: {result.reason}"
    return f'hook "{result.name}": {style(text, "red", colour=colour)} (state {result.state}) {counter}'


def _report(result: ApplyResult, plan: Plan, colour: bool) -> int:
    added, changed, destroyed = _counts(result)
    counts = f"Resources: {added} added, {changed} changed, {destroyed} destroyed."
    if result.interrupted:
        click.echo(
            style(
                f"\nApply interrupted. {counts} {len(result.not_started)} hook(s) not started; "
                "run 'hookplan plan' to see what remains.",
                "yellow",
                True,
                colour=colour,
            )
        )
        return 1
    if result.failed:
        names = ", ".join(r.name for r in result.failed[:10])
        click.echo(
            style(
                f"\nApply finished with errors. {counts} {len(result.failed)} hook(s) failed: {names}",
                "red",
                True,
                colour=colour,
            )
        )
        return 1
    click.echo(style(f"\n{'Destroy' if plan.destroy else 'Apply'} complete! {counts}", "green", True, colour=colour))
    return 0
