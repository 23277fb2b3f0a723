"""Terminal output shared by every command: colour only on a terminal (and never with NO_COLOR), tables."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO

import click

COLOURS = {"+": "green", "~": "yellow", "-": "red", "-/+": "red", "!": "red", "ok": "green"}


def use_colour(stream: IO[str] | None = None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR", "") != "":
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def style(text: str, fg: str | None = None, bold: bool = False, *, colour: bool | None = None) -> str:
    """``text`` in colour when writing to a terminal, else unchanged."""
    if not (use_colour() if colour is None else colour) or (fg is None and not bold):
        return text
    return click.style(text, fg=fg, bold=bold)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table, like ``kubectl get`` or ``terraform state list`` users know."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def echo_err(message: str) -> None:
    click.echo(style("Error: ", "red", bold=True, colour=use_colour(sys.stderr)) + message, err=True)


def echo_warn(message: str) -> None:
    click.echo(style("Warning: ", "yellow", bold=True, colour=use_colour(sys.stderr)) + message, err=True)
