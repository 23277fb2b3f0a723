"""JSON Schema validation of the hooks file, with messages that say what is wrong and how to fix it.

``jsonschema`` finds the errors; this module turns each one into a diagnostic at the line and column
of the offending YAML node, named after the hook, in words a hooks-file author uses ("BASIC auth
requires 'password'", not "'password' is a required property"). Values are echoed only where that
helps (a misspelt event type) and never for a secret field or a resolved reference.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from hookplan.config import fastcheck
from hookplan.config.report import Report, field_name
from hookplan.config.yaml_source import Path
from hookplan.model import find_path

NAME_PATTERN = "^[A-Za-z0-9._-]{1,64}$"

_EXPECTED = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


@cache
def schema_text() -> str:
    """The hooks schema as shipped (``hookplan schema`` prints exactly this)."""
    return resources.files("hookplan").joinpath("schemas/hooks.schema.json").read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The hooks schema as a fresh dict (callers may modify it)."""
    return json.loads(schema_text())


class _Validators:
    """Everything derived from the schema once per process."""

    def __init__(self) -> None:
        from jsonschema import Draft202012Validator

        schema = load_schema()  # a valid draft 2020-12 schema: the tests check it, no need at run time
        self.document = Draft202012Validator(schema)
        self.hook = Draft202012Validator({"$ref": "#/$defs/hook", "$defs": schema["$defs"]})
        try:
            self.hook_ok: fastcheck.Check | None = fastcheck.compile_schema(schema, "#/$defs/hook")
        except fastcheck.Unsupported:
            self.hook_ok = None
        self.auth_rules = _auth_rules(schema["$defs"]["auth"])
        self.auth_fields = frozenset(schema["$defs"]["auth"]["properties"]) - {"type"}


@cache
def _validators() -> _Validators:
    return _Validators()


def _auth_rules(auth: dict[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    """auth type -> (fields it requires, fields it takes), read from the schema's if/then rules."""
    every = [k for k in auth["properties"] if k != "type"]
    rules = {}
    for rule in auth.get("allOf", []):
        kind = rule["if"]["properties"]["type"]["const"]
        then = rule["then"]
        forbidden = {k for k, v in then.get("properties", {}).items() if v is False}
        rules[kind] = (list(then.get("required", [])), [k for k in every if k not in forbidden])
    return rules


def validate(data: Any, report: Report) -> None:
    """Report every schema error in ``data`` (references already resolved)."""
    v = _validators()
    hooks = data.get("hooks") if isinstance(data, dict) else None
    if not isinstance(hooks, list):
        errors = list(v.document.iter_errors(data))
    else:
        # hooks are checked one by one: the compiled check skips valid ones at a few us each
        errors = list(v.document.iter_errors({**data, "hooks": []}))
        for i, hook in enumerate(hooks):
            if v.hook_ok is None or not v.hook_ok(hook):
                for error in v.hook.iter_errors(hook):
                    error.path.extendleft(reversed(("hooks", i)))
                    errors.append(error)
    seen: set[tuple[Path, str]] = set()
    unresolved = set(report.failed)  # a reference that did not resolve was reported already
    for error in errors:
        for path, message, at_key in _translate(error, data, report, v):
            if path not in unresolved and (path, message) not in seen:
                seen.add((path, message))
                report.error(path, message, key=at_key)


Issue = tuple[Path, str, bool]  # (path, message, point at the key rather than the value)


def _translate(error: Any, data: Any, report: Report, v: _Validators) -> list[Issue]:
    path: Path = tuple(error.absolute_path)
    handler = _HANDLERS.get(error.validator) if error.schema is not False else _forbidden
    if handler is None:
        return [_fallback(error, path, report)]
    return handler(error, path, data, report, v)


def _forbidden(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    """A field of another auth type (the schema's ``false``; jsonschema points at the auth block)."""
    if path and path[-1] in v.auth_fields:  # in case a jsonschema release points at the field itself
        path = path[:-1]
    auth = find_path(data, path)
    if not isinstance(auth, dict) or not isinstance(auth.get("type"), str) or auth["type"] not in v.auth_rules:
        return [_fallback(error, path, report)]
    kind = auth["type"]
    takes = v.auth_rules[kind][1]
    hint = f"{kind} takes {_words(takes)}" if takes else f"{kind} takes no other fields"
    return [
        ((*path, key), f"{kind} auth does not take '{key}' ({hint}); remove it", True)
        for key in auth
        if key in v.auth_fields and key not in takes
    ]


def _required(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    """All fields missing from one object in one message (jsonschema reports each separately)."""
    obj = error.instance
    missing = [p for p in error.validator_value if isinstance(obj, dict) and p not in obj]
    if not missing:
        return []
    return [(path, _required_message(path, obj, _words([f"'{m}'" for m in missing]), error), True)]


def _required_message(path: Path, obj: dict[str, Any], names: str, error: Any) -> str:
    if "then" in error.relative_schema_path and isinstance(obj.get("type"), str):
        return f"{obj['type']} auth requires {names}; add it"
    if path == ():
        return f"the file requires {names}: start it with 'version: 1' and list the hooks under 'hooks:'"
    if len(path) == 2 and path[0] == "hooks":
        return f"missing {names}: every hook needs {_words(error.validator_value)}"
    if path[-1] == "auth":
        return "auth requires 'type': NONE, BASIC, API_KEY or OAUTH_CLIENT_CREDENTIALS"
    return f"{field_name(path)} requires {names}; add it"


def _additional(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    known = list(error.schema.get("properties", {}))
    where = field_name(path)
    where = "at the top level" if where == "the file" else ("in the hook" if where == "the hook" else f"in {where}")
    issues = []
    for key in error.instance:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {_words(known)}"
        issues.append(((*path, key), f"unknown field '{key}' {where} ({hint})", True))
    return issues


def _type(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    expected = " or ".join(_EXPECTED.get(t, t) for t in wanted)
    got = _kind(error.instance)
    message = f"{field_name(path)} must be {expected}, not {got}"
    if "string" in wanted and isinstance(error.instance, bool | int | float):
        message += " (put the value in quotes)"
    elif "boolean" in wanted and isinstance(error.instance, str):
        message += " (write true or false without quotes)"
    elif "integer" in wanted and isinstance(error.instance, str):
        message += " (write the number without quotes)"
    elif len(path) == 2 and path[0] == "hooks":
        message = f"each hook must be a mapping (name: ..., event_type: ...), not {got}"
    return [(path, message, False)]


def _enum(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    choices = [str(c) for c in error.validator_value]
    shown = report.shown(path, error.instance)
    message = f"{field_name(path)} {shown} is not valid; use one of {_words(choices, 'or')}".replace("  ", " ")
    if isinstance(error.instance, str) and not report.is_secret(path):
        close = [c for c in choices if c.upper() == error.instance.upper().replace("-", "_")]
        close = close or difflib.get_close_matches(error.instance.upper(), choices, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]}?)"
    return [(path, message, False)]


def _const(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    if path == ("version",):
        return [(path, "version must be 1 (the only hooks file format so far)", False)]
    return [(path, f"{field_name(path)} must be {json.dumps(error.validator_value)}", False)]


def _pattern(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    field, shown = field_name(path), report.shown(path, error.instance)
    if error.validator_value == NAME_PATTERN:
        size = len(error.instance)
        why = f" (it has {size} characters)" if size > 64 else ""
        return [(path, f"{field} {shown} is not valid: use 1-64 of A-Z a-z 0-9 . _ -{why}".replace("  ", " "), False)]
    if path[-1] == "key":
        message = f"{field} {shown} is not a valid HTTP header name: use letters, digits and !#$%&'*+-.^_`|~"
        return [(path, message.replace("  ", " "), False)]
    if path[-1] == "value":
        return [(path, f"{field} must be one line (no line breaks)", False)]
    return [(path, f"{field} does not match the pattern {error.validator_value}", False)]


def _length(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    if error.validator == "minLength":
        return [(path, f"{field_name(path)} must not be empty", False)]
    return [(path, f"{field_name(path)} is too long (at most {error.validator_value} characters)", False)]


def _range(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    low, high = error.schema.get("minimum"), error.schema.get("maximum")
    bounds = (
        f"between {low} and {high}"
        if low is not None and high is not None
        else f"{error.validator} {error.validator_value}"
    )
    return [(path, f"{field_name(path)} must be {bounds}, not {report.shown(path, error.instance)}", False)]


def _max_items(error: Any, path: Path, data: Any, report: Report, v: _Validators) -> list[Issue]:
    count = len(error.instance)
    message = f"{field_name(path)} has {count} entries; at most {error.validator_value} are allowed"
    return [(path, message, True)]


def _fallback(error: Any, path: Path, report: Report) -> Issue:
    """Any other rule: jsonschema's words, unless they would echo a secret."""
    if report.is_secret(path) or path in report.references:
        return (path, f"{field_name(path)} is not valid ({error.validator})", False)
    return (path, f"{field_name(path)}: {error.message}", False)


_HANDLERS = {
    "required": _required,
    "additionalProperties": _additional,
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minLength": _length,
    "maxLength": _length,
    "minimum": _range,
    "maximum": _range,
    "maxItems": _max_items,
}


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def _words(items: list[str], last: str = "and") -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"
