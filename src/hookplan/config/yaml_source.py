"""YAML text -> plain JSON-like data plus the line and column of every node.

Error messages must point at the exact spot in the hooks file, so we keep positions. PyYAML's own
``compose`` keeps them too, but resolves every scalar through its pure-Python resolver and builds a
node tree first (seconds for 10,000 hooks). Here one loop consumes libyaml's events directly and
builds the data and the position tables in a single pass, with no recursion (deep nesting cannot
blow the stack).

Positions of the items of one list (``split``, the hooks) are kept in one table per item, with
paths relative to the item: that is exactly what ``Hook.positions`` wants, with no second pass.

Semantics follow ``yaml.safe_load`` (YAML 1.1 implicit types, anchors, aliases, ``<<`` merge keys),
with three deliberate differences that suit a configuration file: duplicate keys are reported instead
of silently keeping the last, timestamps stay strings, and keys are always strings (as written).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from hookplan.errors import HookplanError

try:  # libyaml makes parsing ~10x faster; the pure-Python parser gives identical events
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based (line, column)
Table = dict[Path, Position]

_STR = "tag:yaml.org,2002:str"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_SCALAR_TAGS = (
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
)
_MAX_DEPTH = 64  # a hooks file needs 7; deeper is a mistake or an attack on the stack
_MAX_ALIAS_EXPANSION = 1_000_000  # nodes reachable through aliases ("billion laughs" guard)


class YAMLSourceError(HookplanError):
    """The text is not usable YAML; ``line``/``column`` (1-based) say where, when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass
class Source:
    """A parsed YAML document with where each part of it was written.

    A table maps a path to the position of the value node there (its first character); a key
    table maps a path to the position of the mapping key that introduces that value.
    """

    data: Any
    split: Path = ()
    positions: Table = field(default_factory=dict)  # paths outside the split list's items
    key_positions: Table = field(default_factory=dict)
    items: list[tuple[Table, Table]] = field(default_factory=list)  # per split item, relative paths
    # problems that do not stop parsing (duplicate keys): message, position, split item index or None
    problems: list[tuple[str, Position, int | None]] = field(default_factory=list)

    def locate(self, path: Path, *, key: bool = False) -> Position:
        """Where ``path`` is written, or its nearest written ancestor (defaults, aliases, merges)."""
        path = tuple(path)
        n = len(self.split)
        if n and len(path) > n and path[:n] == self.split and isinstance(path[n], int):
            if 0 <= path[n] < len(self.items):
                values, keys = self.items[path[n]]
                found = _lookup(values, keys, path[n + 1 :], key)
                if found:
                    return found
            path = path[:n]
        return _lookup(self.positions, self.key_positions, path, key) or (1, 1)

    def item_positions(self, index: int) -> Table:
        """Value positions inside split item ``index``, relative to the item."""
        return self.items[index][0]


def _lookup(values: Table, keys: Table, path: Path, key: bool) -> Position | None:
    while True:
        if key and path in keys:
            return keys[path]
        if path in values:
            return values[path]
        if not path:
            return None
        path = path[:-1]


def parse(text: str, split: Path = ()) -> Source:
    """Parse one YAML document. Raises :class:`YAMLSourceError` (with a position) on bad YAML.

    ``split``: the path of a list whose items get a position table each (see module docstring).
    """
    loader = _Loader(text)
    try:
        return _Builder(split).run(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = _syntax_message(exc)
        if mark is None:
            raise YAMLSourceError(message) from None
        raise YAMLSourceError(message, mark.line + 1, mark.column + 1) from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        message = f"YAML syntax error: unacceptable character #x{code:04x}: {exc.reason}"
        raise YAMLSourceError(message, line, column) from None
    except yaml.YAMLError as exc:  # any other parser complaint, still one line
        raise YAMLSourceError("YAML syntax error: " + " ".join(str(exc).split())) from None
    finally:
        loader.dispose()


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    """One line: the problem, plus the context ('while parsing a block mapping at line 3')."""
    problem = exc.problem or "invalid YAML"
    context = ""
    if exc.context and exc.context_mark is not None and exc.context_mark != exc.problem_mark:
        context = f" ({exc.context} at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    return f"YAML syntax error: {problem}{context}"


def _line_col(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class _Frame:
    """An open mapping or sequence while its events are being consumed."""

    __slots__ = (
        "anchor", "is_map", "is_split", "item", "key", "key_pos", "keys", "merges", "nodes", "obj", "path", "values"
    )  # fmt: skip

    def __init__(self, obj: Any, path: Path, values: Table, keys: Table, anchor: str | None, item: int | None):
        self.obj = obj
        self.path = path  # relative to the tables below
        self.values = values
        self.keys = keys
        self.is_map = isinstance(obj, dict)
        self.is_split = False  # the split list itself: each item starts fresh tables
        self.item = item  # index of the split item this collection lies in, if any
        self.key: Any = None  # a mapping's key waiting for its value
        self.key_pos: Position = (0, 0)
        self.merges: list[tuple[Any, Position]] = []
        self.anchor = anchor
        self.nodes = 1  # nodes inside, for the alias expansion budget


class _Builder:
    """Turns the event stream of one document into data and positions (see module docstring)."""

    def __init__(self, split: Path):
        self.source = Source(data=None, split=split)
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (object, node count)
        self.open_anchors: set[str] = set()
        self.expanded = 0
        self.scalar_cache: dict[str, Any] = {}
        self.constructor = yaml.SafeLoader("")  # only its construct_yaml_* helpers are used
        self.resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers

    def run(self, loader: Any) -> Source:
        stack: list[_Frame] = []
        documents = 0
        get_event = loader.get_event
        cache = self.scalar_cache
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
        ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                top = stack[-1] if stack else None
                mark = event.start_mark
                pos = (mark.line + 1, mark.column + 1)
                if top is not None and top.is_map:
                    key = top.key
                    if key is None:  # a key
                        top.key_pos = pos
                        plain_merge = event.value == "<<" and event.style == "" and event.tag is None
                        top.key = _MERGE if plain_merge else event.value
                        continue
                    if key is not _MERGE and key not in top.obj and not event.anchor:
                        # the common case, inlined: a fresh key's scalar value
                        value = (
                            cache.get(event.value, _MISSING) if event.style == "" and event.tag is None else _MISSING
                        )
                        if value is _MISSING:
                            value = self._scalar(event)
                        path = (*top.path, key)
                        top.obj[key] = value
                        top.keys[path] = top.key_pos
                        top.values[path] = pos
                        top.key = None
                        top.nodes += 1
                        continue
                value = self._scalar(event)
                where = self._place(stack, value)
                if where is not None:
                    where[0][where[1]] = pos
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
            elif kind in starts:
                self._start_collection(stack, event, kind is starts[0])
            elif kind in ends:
                self._end_collection(stack)
            elif kind is alias_event:
                self._alias(stack, event)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    message = "the file holds more than one YAML document ('---'); put every hook in one document"
                    raise self._error(message, event)
            elif event is None or kind is yaml.StreamEndEvent:
                return self.source

    # -- nodes ------------------------------------------------------------------------------------

    def _place(self, stack: list[_Frame], value: Any) -> tuple[Table, Path] | None:
        """Put ``value`` where the enclosing collection expects it.

        Returns (the value table, the value's path in it), or None for the value of a '<<' merge key.
        """
        if not stack:
            self.source.data = value
            return self.source.positions, ()
        frame = stack[-1]
        frame.nodes += 1
        if not frame.is_map:
            index = len(frame.obj)
            frame.obj.append(value)
            if frame.is_split:
                tables: tuple[Table, Table] = ({}, {})
                self.source.items.append(tables)
                return tables[0], ()
            return frame.values, (*frame.path, index)
        key, frame.key = frame.key, None
        if key is _MERGE:
            frame.merges.append((value, frame.key_pos))
            return None
        path = (*frame.path, key)
        if key in frame.obj:
            first = frame.keys.get(path)
            where = f" (first at line {first[0]})" if first else ""
            message = f"duplicate key '{key}'{where}: the later value would win"
            self.source.problems.append((message, frame.key_pos, frame.item))
        frame.obj[key] = value
        frame.keys[path] = frame.key_pos
        return frame.values, path

    def _start_collection(self, stack: list[_Frame], event: Any, is_map: bool) -> None:
        if stack and stack[-1].is_map and stack[-1].key is None:
            raise self._error("a mapping or list cannot be used as a key; keys must be plain strings", event)
        if len(stack) >= _MAX_DEPTH:
            raise self._error(f"nested more than {_MAX_DEPTH} levels deep", event)
        if event.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
            raise self._error(f"unsupported YAML tag '{event.tag}'", event)
        obj: Any = {} if is_map else []
        where = self._place(stack, obj)
        if where is None:  # the value of a '<<' merge key: its own positions stay out of the way
            parent = stack[-1]
            values, keys, path = {}, {}, (*parent.path, "<<")
        else:
            values, path = where
            values[path] = (event.start_mark.line + 1, event.start_mark.column + 1)
            keys = self.source.items[-1][1] if path == () and stack and stack[-1].is_split else None
            keys = keys if keys is not None else (stack[-1].keys if stack else self.source.key_positions)
        parent = stack[-1] if stack else None
        item = (len(parent.obj) - 1 if parent.is_split else parent.item) if parent else None
        frame = _Frame(obj, path, values, keys, event.anchor, item)
        split = self.source.split
        frame.is_split = bool(split) and not is_map and path == split and values is self.source.positions
        stack.append(frame)
        if event.anchor:
            self.open_anchors.add(event.anchor)

    def _end_collection(self, stack: list[_Frame]) -> None:
        frame = stack.pop()
        if frame.merges:
            self._merge(frame)
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (frame.obj, frame.nodes)
        if stack:
            stack[-1].nodes += frame.nodes - 1  # _place already counted the collection itself

    def _alias(self, stack: list[_Frame], event: Any) -> None:
        if stack and stack[-1].is_map and stack[-1].key is None:
            raise self._error("an alias cannot be used as a key", event)
        name = event.anchor
        if name in self.open_anchors:
            raise self._error(f"alias '*{name}' refers to a node that contains it (a cycle)", event)
        if name not in self.anchors:
            raise self._error(f"alias '*{name}' refers to no anchor '&{name}' defined before it", event)
        value, nodes = self.anchors[name]
        self.expanded += nodes
        if self.expanded > _MAX_ALIAS_EXPANSION:
            raise self._error("aliases expand to too many nodes", event)
        where = self._place(stack, value)
        if where is not None:
            where[0][where[1]] = (event.start_mark.line + 1, event.start_mark.column + 1)
        if stack:
            stack[-1].nodes += nodes - 1  # an alias weighs what it expands to

    def _merge(self, frame: _Frame) -> None:
        """``<<: *base`` (or a list of them): keys not written in this mapping come from the bases."""
        for value, pos in frame.merges:
            for base in value if isinstance(value, list) else [value]:
                if not isinstance(base, dict):
                    message = "'<<' (merge) takes a mapping or a list of mappings"
                    self.source.problems.append((message, pos, frame.item))
                    continue
                for key, item in base.items():
                    if key not in frame.obj:
                        frame.obj[key] = item
                        frame.keys[(*frame.path, key)] = pos
                        frame.values[(*frame.path, key)] = pos

    # -- scalars ----------------------------------------------------------------------------------

    def _scalar(self, event: Any) -> Any:
        tag = event.tag
        if tag is None and event.style == "":  # plain: YAML 1.1 implicit typing, like safe_load
            text = event.value
            cached = self.scalar_cache.get(text, _MISSING)
            if cached is _MISSING:
                cached = self.scalar_cache[text] = self._construct(self._resolve(text), text)
            return cached
        if tag is None or tag == "!" or tag == _STR:
            return event.value
        if tag in _SCALAR_TAGS:
            try:
                return self._construct(tag, event.value)
            except (ValueError, KeyError, yaml.YAMLError):
                raise self._error(f"'{event.value}' is not a valid {tag.rsplit(':', 1)[-1]}", event) from None
        raise self._error(f"unsupported YAML tag '{tag}'; write plain values (strings, numbers, true/false)", event)

    def _resolve(self, text: str) -> str:
        for tag, regexp in self.resolvers.get(text[:1] or "", ()):
            if regexp.match(text):
                return tag
        return _STR

    def _construct(self, tag: str, text: str) -> Any:
        """Typed value of a scalar; timestamps and other exotic implicit types stay strings."""
        if tag == _STR:
            return text
        node = yaml.ScalarNode(tag, text)
        if tag == "tag:yaml.org,2002:int":
            return self.constructor.construct_yaml_int(node)
        if tag == "tag:yaml.org,2002:float":
            return self.constructor.construct_yaml_float(node)
        if tag == "tag:yaml.org,2002:bool":
            return self.constructor.construct_yaml_bool(node)
        if tag == "tag:yaml.org,2002:null":
            return None
        return text

    @staticmethod
    def _error(message: str, event: Any) -> YAMLSourceError:
        return YAMLSourceError(message, event.start_mark.line + 1, event.start_mark.column + 1)


class _Sentinel:
    def __repr__(self) -> str:
        return "<<"


_MERGE: Any = _Sentinel()
_MISSING: Any = object()
