"""``${env:NAME}`` and ``${file:PATH}`` references, resolved in every string of the hooks file.

References keep secrets out of Git: the repository holds ``${env:SIEM_CLIENT_SECRET}``, CI holds
the value. A reference may be the whole string or part of it (``Bearer ${env:TOKEN}``); ``$${``
writes a literal ``${``. A ``${file:PATH}`` path is relative to the hooks file, and one trailing
newline is dropped (``echo secret > file`` adds one). An unset or empty variable, or an unreadable
file, is an error naming the hook, the field and the reference - never the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path as FilePath
from typing import Any

from hookplan.config.report import Report, field_name
from hookplan.config.yaml_source import Path

_TOKEN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*):([^}]*)\}")
_SHELL_STYLE = re.compile(r"(?<!\$)\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_MAX_FILE_BYTES = 1 << 20  # a secret file; guards against ${file:/dev/zero}


HOOKPLAN_CREDENTIALS = frozenset({"HOOKPLAN_TOKEN", "HOOKPLAN_INGEST_TOKEN"})


def resolve(data: Any, base_dir: FilePath, report: Report) -> Any:
    """A copy of ``data`` with references replaced (unchanged parts are shared, not copied)."""
    return _Resolver(base_dir, report).walk(data, ())


class _Resolver:
    def __init__(self, base_dir: FilePath, report: Report):
        self.base_dir = base_dir
        self.report = report
        self.files: dict[FilePath, str | OSError | UnicodeDecodeError | ValueError] = {}

    def walk(self, node: Any, path: Path) -> Any:
        """Resolve below ``node``; containers are copied only where something changed."""
        if isinstance(node, str):
            return self.string(node, path) if "${" in node else node
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            return node
        out = None
        for k, v in items:
            if isinstance(v, str):
                if "${" not in v:
                    continue
                new = self.string(v, (*path, k))
            elif isinstance(v, dict | list):
                new = self.walk(v, (*path, k))
            else:
                continue
            if new is not v:
                if out is None:
                    out = dict(node) if isinstance(node, dict) else list(node)
                out[k] = new
        return node if out is None else out

    def string(self, text: str, path: Path) -> str:
        found = False

        def replace(m: re.Match[str]) -> str:
            nonlocal found
            if m.group(0) == "$${":
                return "${"
            found = True
            return self.reference(m.group(1), m.group(2), m.group(0), path)

        resolved = _TOKEN.sub(replace, text)
        if found:
            self.report.references[path] = text
        elif _SHELL_STYLE.search(text):
            self.report.warning(
                path,
                f"{field_name(path)} contains '${{NAME}}', which hookplan does not expand: "
                "write ${env:NAME} or ${file:PATH} (or $${ for a literal '${')",
            )
        return resolved

    def reference(self, kind: str, arg: str, written: str, path: Path) -> str:
        field = field_name(path)
        if kind == "env":
            return self.env(arg, written, field, path)
        if kind == "file":
            return self.file(arg, written, field, path)
        self.report.error(path, f"{field}: unknown reference '{written}': use ${{env:NAME}} or ${{file:PATH}}")
        return written

    def env(self, name: str, written: str, field: str, path: Path) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            self.report.error(path, f"{field}: '{written}' is not a valid environment variable name")
            return written
        if name in HOOKPLAN_CREDENTIALS:
            # hookplan's own tokens are never hook settings; refusing them keeps a pull request from
            # copying the CI's admin token into a field that the plan comment prints.
            self.report.error(path, f"{field}: '{written}' refers to hookplan's own credential; use another variable")
            return written
        value = os.environ.get(name)
        if value is None:
            self.report.error(path, f"{field}: environment variable {name} is not set (referenced as '{written}')")
            return written
        if value == "":
            self.report.error(path, f"{field}: environment variable {name} is empty (referenced as '{written}')")
            return written
        return value

    def file(self, name: str, written: str, field: str, path: Path) -> str:
        if not name.strip():
            self.report.error(path, f"{field}: '{written}' names no file")
            return written
        target = self.base_dir / FilePath(name).expanduser()
        content = self.files.get(target)
        if content is None:
            content = self.files[target] = _read(target)
        if isinstance(content, str):
            return content
        self.report.error(path, f"{field}: cannot read '{written}': {_why(content, target)}")
        return written


def _read(target: FilePath) -> str | OSError | UnicodeDecodeError | ValueError:
    """The file's text without one trailing newline, or the reason it cannot be used."""
    try:
        with open(target, "rb") as f:
            raw = f.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        return exc
    if len(raw) > _MAX_FILE_BYTES:
        return ValueError(f"larger than {_MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _why(problem: Exception, target: FilePath) -> str:
    if isinstance(problem, FileNotFoundError):
        return f"no such file ({target})"
    if isinstance(problem, IsADirectoryError):
        return f"it is a directory ({target})"
    if isinstance(problem, PermissionError):
        return f"permission denied ({target})"
    if isinstance(problem, UnicodeDecodeError):
        return f"not UTF-8 text ({target})"
    if isinstance(problem, OSError):
        return f"{problem.strerror or problem} ({target})"
    return f"{problem} ({target})"
