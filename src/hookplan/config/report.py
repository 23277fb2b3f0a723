"""Collecting diagnostics: every stage reports through one :class:`Report`, so each message gets the
file, line, column and hook name the same way, and no stage prints a secret by accident."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hookplan.config.yaml_source import Path, Source
from hookplan.errors import Diagnostic
from hookplan.model import AUTH_SECRET_FIELDS, find_path, path_str

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_SECRET_LEAVES = frozenset((*AUTH_SECRET_FIELDS, "signing_secret"))


@dataclass
class Report:
    """Diagnostics for one hooks file, plus what the stages learn that later stages need."""

    file: str
    source: Source
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # path -> the string as written, for every string that held a ${env:}/${file:} reference
    references: dict[Path, str] = field(default_factory=dict)
    # paths that already have an error, so later stages do not pile a second one on the same value
    failed: set[Path] = field(default_factory=set)

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        self._add("error", path, message, key)
        self.failed.add(tuple(path))

    def warning(self, path: Path, message: str, *, key: bool = False) -> None:
        self._add("warning", path, message, key)

    def _add(self, severity: str, path: Path, message: str, key: bool) -> None:
        line, column = self.source.locate(path, key=key)
        message = _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], message)  # one line, whatever was quoted
        self.diagnostics.append(Diagnostic(severity, message, self.file, line, column, self.hook_name(path)))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def hook_name(self, path: Path) -> str | None:
        """The name of the hook ``path`` lies in (as written), if it has a usable one."""
        if len(path) < 2 or path[0] != "hooks" or not isinstance(path[1], int):
            return None
        hooks = self.source.data.get("hooks") if isinstance(self.source.data, dict) else None
        try:
            name = hooks[path[1]].get("name")  # type: ignore[index]
        except (TypeError, LookupError, AttributeError):
            return None
        return name if isinstance(name, str) and name and not _CONTROL.search(name) else None

    def is_secret(self, path: Path) -> bool:
        """Whether the value at ``path`` is (or may be) a secret: never echo it."""
        if not path:
            return False
        leaf = path[-1]
        if leaf in _SECRET_LEAVES:
            return True
        if leaf == "value" and len(path) >= 2:
            param = find_path(self.source.data, path[:-1])
            return not isinstance(param, dict) or param.get("secret", False) is not False
        return False

    def shown(self, path: Path, value: Any) -> str:
        """How a message may show the value at ``path``: as written, never a secret's value."""
        if tuple(path) in self.references:
            return f"'{self.references[tuple(path)]}'"
        if self.is_secret(path):
            return ""
        if isinstance(value, str):
            return f"'{value}'" if len(value) <= 80 else f"'{value[:77]}...'"
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if isinstance(value, dict | list) or value is None else str(value)


def field_name(path: Path) -> str:
    """The name users know a path by: relative to its hook (``auth.password``) or the file."""
    if len(path) >= 2 and path[0] == "hooks" and isinstance(path[1], int):
        return path_str(path[2:]) or "the hook"
    return path_str(path) or "the file"
