"""A compiled yes/no check of a JSON Schema, to skip the (slow) full validation of valid hooks.

``jsonschema`` stays the authority: it produces every error message. But it interprets the schema
keyword by keyword for every instance, about 0.2 ms per hook, which would be most of the time of
loading 10,000 hooks. :func:`compile_schema` generates Python source for the schema once (like
fastjsonschema does) and a valid hook then costs a few microseconds; only hooks it rejects go
through ``jsonschema``.

Only the keywords hooks.schema.json uses are supported; anything else raises
:class:`Unsupported` and the caller falls back to ``jsonschema`` for everything, so the two cannot
silently disagree about an unknown keyword. The tests check agreement on valid and invalid hooks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"})
_OBJECT_KEYWORDS = frozenset({"required", "properties", "additionalProperties"})
_TYPE_EXPR = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
    # jsonschema (draft 2020-12): 1.0 is an integer, True is not
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool) or isinstance({v}, float) and {v}.is_integer())",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
}
_NUMBER = "(isinstance({v}, (int, float)) and not isinstance({v}, bool))"


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not implement."""


def compile_schema(root: dict[str, Any], pointer: str = "#") -> Check:
    """A predicate that is true exactly when ``jsonschema`` finds no error (for supported schemas)."""
    compiler = _Compiler(root)
    entry = compiler.ref(pointer)
    namespace: dict[str, Any] = {"_equal": _equal, **compiler.constants}
    # The source is generated from our own shipped schema (names via repr, values as constants),
    # never from the hooks file, so exec runs nothing a user wrote.
    exec(compile("\n".join(compiler.lines), "<hookplan fastcheck>", "exec"), namespace)
    return namespace[entry]


def _equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema sees it: booleans are not numbers, 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a is None and b is None


class _Compiler:
    """Emits one Python function per schema node; leaf keywords become inline expressions."""

    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.refs: dict[str, str] = {}
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, value: Any) -> str:
        name = self.name("_c")
        self.constants[name] = value
        return name

    def ref(self, pointer: str) -> str:
        """The function checking a local reference, compiled once (recursion-safe)."""
        if pointer not in self.refs:
            self.refs[pointer] = fn = self.name("_ref")
            inner = self.function(self._resolve(pointer))
            self.lines.append(f"def {fn}(x):\n    return {inner}(x)")
        return self.refs[pointer]

    def _resolve(self, pointer: str) -> Any:
        if not pointer.startswith("#"):
            raise Unsupported(f"non-local $ref {pointer}")
        node: Any = self.root
        for part in filter(None, pointer[1:].split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def function(self, schema: Any) -> str:
        """Define a function for ``schema``; return its name."""
        fn = self.name("_s")
        body = self.body(schema)
        self.lines.append(f"def {fn}(x):\n" + "\n".join("    " + line for line in body))
        return fn

    def body(self, schema: Any) -> list[str]:
        if schema is True:
            return ["return True"]
        if schema is False:
            return ["return False"]
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        unknown = set(schema) - _ANNOTATIONS - _OBJECT_KEYWORDS - set(_LEAVES) - {"$ref", "items", "allOf", "if"}
        unknown -= {"then", "else"}
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        lines = self.object_lines(schema)
        tests = [self.leaf(k, v, schema) for k, v in schema.items() if k in _LEAVES]
        tests += self.structural(schema)
        lines.append("return " + (" and ".join(f"({t})" for t in tests) if tests else "True"))
        return lines

    def object_lines(self, schema: dict[str, Any]) -> list[str]:
        """required / properties / additionalProperties as one pass over the object's keys."""
        if not _OBJECT_KEYWORDS & set(schema):
            return []
        lines = ["if isinstance(x, dict):"]
        required = schema.get("required", [])
        if required:
            lines.append("    if " + " or ".join(f"{k!r} not in x" for k in required) + ":")
            lines.append("        return False")
        props = {k: self.function(v) for k, v in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        if not props and extra is True:
            return lines if required else []
        table = self.constant({k: None for k in props})
        lines.append("    for k, v in x.items():")
        for i, (k, fn) in enumerate(props.items()):
            lines.append(f"        {'if' if i == 0 else 'elif'} k == {k!r}:")
            lines.append(f"            if not {fn}(v):")
            lines.append("                return False")
        if extra is not True:
            extra_fn = self.function(extra)
            guard = "elif" if props else "if"
            lines.append(f"        {guard} k not in {table} and not {extra_fn}(v):")
            lines.append("            return False")
        return lines

    def structural(self, schema: dict[str, Any]) -> list[str]:
        tests = []
        if "$ref" in schema:
            tests.append(f"{self.ref(schema['$ref'])}(x)")
        if "items" in schema:
            fn = self.function(schema["items"])
            tests.append(f"not isinstance(x, list) or all({fn}(i) for i in x)")
        for part in schema.get("allOf", []):
            tests.append(f"{self.function(part)}(x)")
        if "if" in schema:
            cond = self.function(schema["if"])
            then = self.function(schema.get("then", True))
            other = self.function(schema.get("else", True))
            tests.append(f"{then}(x) if {cond}(x) else {other}(x)")
        return tests

    def leaf(self, key: str, value: Any, schema: dict[str, Any]) -> str:
        return _LEAVES[key](self, value)


def _type(c: _Compiler, value: str | list[str]) -> str:
    names = [value] if isinstance(value, str) else value
    return " or ".join(_TYPE_EXPR[n].format(v="x") for n in names)


def _enum(c: _Compiler, value: list[Any]) -> str:
    if all(isinstance(v, str) for v in value):
        return f"isinstance(x, str) and x in {c.constant(frozenset(value))}"
    return f"any(_equal(x, e) for e in {c.constant(list(value))})"


def _pattern(c: _Compiler, value: str) -> str:
    return f"not isinstance(x, str) or {c.constant(re.compile(value).search)}(x) is not None"


_LEAVES: dict[str, Callable[[_Compiler, Any], str]] = {
    "type": _type,
    "enum": _enum,
    "const": lambda c, v: f"_equal(x, {c.constant(v)})",
    "pattern": _pattern,
    "minLength": lambda c, v: f"not isinstance(x, str) or len(x) >= {int(v)}",
    "maxLength": lambda c, v: f"not isinstance(x, str) or len(x) <= {int(v)}",
    "minimum": lambda c, v: f"not {_NUMBER.format(v='x')} or x >= {float(v)!r}",
    "maximum": lambda c, v: f"not {_NUMBER.format(v='x')} or x <= {float(v)!r}",
    "minItems": lambda c, v: f"not isinstance(x, list) or len(x) >= {int(v)}",
    "maxItems": lambda c, v: f"not isinstance(x, list) or len(x) <= {int(v)}",
}
