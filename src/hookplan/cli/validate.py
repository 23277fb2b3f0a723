"""``hookplan validate`` and ``hookplan schema``: check hooks files without touching any registry.

Every problem is printed at once as ``FILE:LINE:COL: hook 'NAME': message`` (stderr), so an editor
or CI log can jump to it; under GitHub Actions the same problems also become annotations on the
pull request's changed lines. ``--format json`` is for tools: one stable document on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

from hookplan.cli import cli
from hookplan.cli._common import hooks_file_option
from hookplan.ui import echo_err, style, use_colour

if TYPE_CHECKING:
    from hookplan.errors import Diagnostic

JSON_FORMAT_VERSION = "1.0"


@cli.command()
@hooks_file_option
@click.argument("more_files", nargs=-1, metavar="[FILE]...")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per problem; json: one machine-readable document on stdout.",
)
def validate(hooks_file: str, more_files: tuple[str, ...], output_format: str) -> None:
    """Check hooks files: schema, references, names, endpoints. Exit 1 on any error.

    Extra FILE arguments are validated too (pre-commit passes every changed hooks file).
    """
    results = [_check(path) for path in (hooks_file, *more_files)]
    diagnostics = [d for r in results for d in r.diagnostics]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    if output_format == "json":
        click.echo(json.dumps(_json_document(diagnostics, errors, warnings), indent=2))
    else:
        _print_text(results, errors, warnings)
    if errors:
        click.get_current_context().exit(1)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the hooks file (draft 2020-12), for editors and other tools."""
    from hookplan.config import schema_text

    click.echo(schema_text(), nl=False)


class _Result:
    """What validating one file found."""

    def __init__(self, hooks: int, diagnostics: list[Diagnostic], unusable: bool = False):
        self.hooks = hooks
        self.diagnostics = diagnostics
        self.unusable = unusable  # the file itself could not be read or parsed


def _check(path: str) -> _Result:
    from hookplan.config import ConfigError, ConfigFileError, load_config

    try:
        config = load_config(path)
    except ConfigFileError as exc:
        return _Result(0, exc.diagnostics, unusable=True)
    except ConfigError as exc:
        return _Result(0, exc.diagnostics)
    return _Result(len(config.hooks), config.diagnostics)


def _print_text(results: list[_Result], errors: int, warnings: int) -> None:
    """Problems on stderr (a file that cannot be read at all: one 'Error:' line), summary last."""
    colour_err = use_colour(sys.stderr)
    for result in results:
        for d in result.diagnostics:
            if result.unusable:
                echo_err(str(d))
            else:
                click.echo(style(str(d), "red" if d.severity == "error" else "yellow", colour=colour_err), err=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for d in (d for r in results for d in r.diagnostics):
            click.echo(github_annotation(d))
    if all(r.unusable for r in results):
        return
    if errors:
        message = f"Error: the configuration is invalid ({_count(errors, 'error')}, {_count(warnings, 'warning')})."
        click.echo(style(message, "red", bold=True, colour=colour_err), err=True)
        return
    hooks = sum(r.hooks for r in results)
    files = f" in {_count(len(results), 'file')}" if len(results) > 1 else ""
    message = f"The configuration is valid ({_count(hooks, 'hook')}{files}, {_count(warnings, 'warning')})."
    click.echo(style("Success! ", "green", bold=True) + message)


def _json_document(diagnostics: list[Diagnostic], errors: int, warnings: int) -> dict[str, object]:
    return {
        "format_version": JSON_FORMAT_VERSION,
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": warnings,
        "diagnostics": [d.to_json() for d in diagnostics],
    }


def github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command that annotates the file at the problem's line."""
    props = [f"file={_escape_property(d.file)}"]
    if d.line is not None:
        props += [f"line={d.line}", f"col={d.column or 1}"]
    props.append(f"title={_escape_property('hookplan validate')}")
    who = f"hook '{d.hook}': " if d.hook else ""
    kind = "error" if d.severity == "error" else "warning"
    return f"::{kind} {','.join(props)}::{_escape_data(who + d.message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
