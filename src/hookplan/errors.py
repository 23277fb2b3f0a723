"""Errors a user sees: one clear line each, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class HookplanError(Exception):
    """An error with a message meant for the user; the CLI prints it and exits 1."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem (or warning) found in a hooks file, located where the user can fix it."""

    severity: str  # "error" | "warning"
    message: str
    file: str
    line: int | None = None
    column: int | None = None
    hook: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        who = f"hook '{self.hook}': " if self.hook else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{who}{self.message}"

    def to_json(self) -> dict:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "hook": self.hook,
        }


class ConfigError(HookplanError):
    """The hooks file has errors; all of them are in ``diagnostics``."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__("\n".join(str(d) for d in errors))
