"""The config stage: hooks file -> validated, canonical hooks.

    read bytes -> YAML with positions (yaml_source) -> resolve ${env:}/${file:} (references)
      -> JSON Schema (schema) -> semantic rules (semantic) -> canonical specs (canonical)

Every problem in the file is collected before anything is raised, so one run of
``hookplan validate`` shows them all. Problems with the file itself (missing, a directory, empty,
not text, not YAML) stop at once with one clear line.
"""

from __future__ import annotations

import gc
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hookplan.config import canonical, references, schema, semantic
from hookplan.config.report import Report
from hookplan.config.schema import load_schema, schema_text
from hookplan.config.yaml_source import Source, YAMLSourceError, parse
from hookplan.errors import ConfigError, Diagnostic
from hookplan.model import DEFAULT_WORKSPACE, Hook

__all__ = ["Config", "ConfigError", "ConfigFileError", "load_config", "load_schema", "schema_text"]


@dataclass(frozen=True)
class Config:
    """A valid hooks file: its hooks in canonical form, and the warnings it earned."""

    path: Path
    workspace: str
    hooks: list[Hook]
    diagnostics: list[Diagnostic] = field(default_factory=list)  # warnings only
    digest: str = ""  # sha256 hex of the file's bytes: a saved plan refuses a changed file


def load_config(path: str | Path) -> Config:
    """Load, resolve and validate a hooks file. Raises :class:`ConfigError` with every problem."""
    # Loading allocates hundreds of thousands of small objects that all stay alive: the cyclic
    # garbage collector would scan them again and again for nothing (~20% of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load(Path(path))
    finally:
        if collecting:
            gc.enable()


def _load(path: Path) -> Config:
    shown = str(path)
    raw = _read(path, shown)
    source = _parse(_decode(raw, shown), shown)
    report = Report(shown, source)
    for message, (line, column), item in source.problems:
        hook = report.hook_name(("hooks", item)) if item is not None else None
        report.diagnostics.append(Diagnostic("error", message, shown, line, column, hook))
    data = references.resolve(source.data, path.parent, report)
    schema.validate(data, report)
    semantic.check(data, report)
    diagnostics = sorted(report.diagnostics, key=_order)
    if report.has_errors:
        raise ConfigError(diagnostics)
    return Config(
        path=path,
        workspace=data.get("workspace", DEFAULT_WORKSPACE),
        hooks=_hooks(data, source),
        diagnostics=diagnostics,
        digest=hashlib.sha256(raw).hexdigest(),
    )


def _order(d: Diagnostic) -> tuple[int, int, int]:
    return (d.line or 0, d.column or 0, 0 if d.severity == "error" else 1)


class ConfigFileError(ConfigError):
    """The file as a whole is unusable (missing, a directory, empty, not text, not YAML): one line."""


def _fail(shown: str, message: str, line: int | None = None, column: int | None = None) -> ConfigFileError:
    return ConfigFileError([Diagnostic("error", message, shown, line, column)])


def _read(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _fail(shown, "file not found (name the hooks file with -f FILE)") from None
    except IsADirectoryError:
        raise _fail(shown, "this is a directory, not a hooks file (name the file with -f FILE)") from None
    except PermissionError:
        raise _fail(shown, "permission denied") from None
    except OSError as exc:
        raise _fail(shown, f"cannot read it: {exc.strerror or exc}") from None


def _decode(raw: bytes, shown: str) -> str:
    if b"\0" in raw:
        raise _fail(shown, "not a text file (it contains NUL bytes); a hooks file is YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(shown, f"not UTF-8 text (invalid byte at offset {exc.start}); save the file as UTF-8") from None
    if not text.strip():
        raise _fail(
            shown, "the file is empty; a hooks file starts with 'version: 1' and lists its hooks under 'hooks:'"
        )
    return text


def _parse(text: str, shown: str) -> Source:
    try:
        source = parse(text, split=("hooks",))
    except YAMLSourceError as exc:
        raise _fail(shown, str(exc), exc.line, exc.column) from None
    if source.data is None:
        raise _fail(shown, "the file holds only comments; start it with 'version: 1' and 'hooks:'")
    if not isinstance(source.data, dict):
        kind = "a list" if isinstance(source.data, list) else "a single value"
        message = f"the top level must be a mapping with 'version' and 'hooks', not {kind}"
        raise _fail(shown, message, *source.locate(()))
    return source


def _hooks(data: dict[str, Any], source: Source) -> list[Hook]:
    """Canonical hooks, each with the positions of its own fields (paths relative to the hook)."""
    return [
        Hook(name=h["name"], spec=canonical.canonical_spec(h), positions=source.item_positions(i))
        for i, h in enumerate(data["hooks"])
    ]
