"""The command layer: wires config, plan, apply, registry and forward together; no logic of its own.

Each command group lives in its own module and registers itself on :data:`cli`.
"""

from __future__ import annotations

import sys

import click

from hookplan import __version__
from hookplan.errors import HookplanError
from hookplan.registry.base import LockError
from hookplan.ui import echo_err


class HookplanGroup(click.Group):
    """Turns every user-facing error into one ``Error:`` line and exit 1, however the CLI is invoked."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (HookplanError, LockError) as exc:
            echo_err(str(exc))
            ctx.exit(1)


@click.group(cls=HookplanGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hookplan")
def cli() -> None:
    """Plan, apply and run HYPR-style custom event hooks declared in YAML."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure is one clear line and exit 1 (exit 2 is kept for 'plan has changes')."""
    try:
        code = cli.main(args=argv, prog_name="hookplan", standalone_mode=False)
    except click.exceptions.Abort:
        echo_err("aborted")
        code = 1
    except click.ClickException as exc:
        exc.show()
        code = 1
    except KeyboardInterrupt:
        echo_err("interrupted")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def _register_commands() -> None:
    """Import every module of this package: each adds its commands to :data:`cli`.

    Command modules import heavy libraries (uvicorn, httpx, jsonschema) inside their functions, so
    that ``hookplan plan`` does not pay for the forwarder's start-up.
    """
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_commands()
