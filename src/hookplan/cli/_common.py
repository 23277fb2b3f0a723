"""Options and small helpers shared by the command modules (this module registers no command)."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hookplan.errors import HookplanError
from hookplan.ui import echo_warn

if TYPE_CHECKING:
    from hookplan.config import Config
    from hookplan.registry.base import Registry

DEFAULT_HOOKS_FILE = "hooks.yaml"

hooks_file_option = click.option(
    "-f",
    "--file",
    "hooks_file",
    default=DEFAULT_HOOKS_FILE,
    show_default=True,
    envvar="HOOKPLAN_FILE",
    help="The hooks file (env HOOKPLAN_FILE).",
)
state_option = click.option(
    "--state",
    envvar="HOOKPLAN_STATE",
    metavar="PATH",
    help="Registry file (env HOOKPLAN_STATE; default: hookplan.db beside the hooks file).",
)
remote_option = click.option(
    "--remote",
    envvar="HOOKPLAN_REMOTE",
    metavar="URL",
    help="Use a running forwarder's control API as the registry (env HOOKPLAN_REMOTE; token in HOOKPLAN_TOKEN).",
)
wait_timeout_option = click.option(
    "--wait-timeout",
    default="2m",
    show_default=True,
    metavar="DURATION",
    help="With --remote: how long to wait for each hook to settle.",
)
lock_timeout_option = click.option(
    "--lock-timeout",
    default="0s",
    show_default=True,
    metavar="DURATION",
    help="How long to wait for another apply's lock, e.g. 30s or 5m.",
)


def load_config(hooks_file: str) -> Config:
    """Load and validate the hooks file; warnings go to stderr, errors raise (exit 1 with every one)."""
    from hookplan.config import load_config as load

    config = load(hooks_file)
    for diagnostic in config.diagnostics:
        echo_warn(str(diagnostic).replace("warning: ", "", 1))
    return config


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a command builds its large, long-lived data.

    Loading and planning 10,000 hooks allocates about a million dicts, lists and strings that all live
    until the command is done. The collector, triggered by allocation counts, re-scans that growing heap
    again and again and frees almost nothing: about a sixth of a plan's CPU time at 10,000 hooks.
    Reference counting still frees everything else at once. The previous setting is restored on exit,
    so a long-running process (``hookplan forward``, tests invoking the CLI in-process) is unaffected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def open_registry(
    state: str | None, hooks_file: str | None, remote: str | None = None, wait_timeout: str = "2m"
) -> Registry:
    import os

    from hookplan.registry import open_registry as open_

    return open_(
        state,
        hooks_file,
        remote=remote,
        token=os.environ.get("HOOKPLAN_TOKEN"),
        wait_timeout=parse_duration(wait_timeout, "--wait-timeout"),
    )


def workspace_of(hooks_file: str) -> str:
    """The workspace a hooks file declares, read without resolving its secrets (for destroy, import)."""
    import yaml

    from hookplan.model import DEFAULT_WORKSPACE

    path = Path(hooks_file)
    if not path.is_file():
        return DEFAULT_WORKSPACE
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return DEFAULT_WORKSPACE
    workspace = doc.get("workspace") if isinstance(doc, dict) else None
    return workspace if isinstance(workspace, str) and workspace else DEFAULT_WORKSPACE


def parse_duration(text: str, option: str = "duration", *, positive: bool = False) -> float:
    """``30s``, ``5m``, ``1h``, ``1d``, ``250ms`` or a plain number of seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", text)
    if not m or (positive and float(m.group(1)) <= 0):
        kind = "a positive duration" if positive else "a duration"
        raise HookplanError(f"{option} {text!r}: expected {kind} such as 30s, 15m or 24h")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]
    return float(m.group(1)) * scale
