"""Ingest parsing: one envelope, a JSON array of them, or NDJSON -> validated envelopes, raw bytes kept.

The body delivered to a hook is the envelope *as received*, so each event keeps the exact bytes it
arrived with (array items are sliced out of the request with ``raw_decode`` rather than re-serialised).
Problems with one event are answered for that event; only a body that cannot be split at all is a
whole-request error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

MAX_EVENT_BYTES = 256 * 1024
MAX_REQUEST_BYTES = 16 * 1024 * 1024
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "event.schema.json"

_decoder = json.JSONDecoder()
_WS = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One valid event: what routing and the store need, plus the bytes to deliver."""

    id: str
    name: str
    time: str
    tags: tuple[str, ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    """One event refused: answered in the batch response, never stored."""

    status: int  # 400 or 413
    code: str
    message: str
    field: str | None = None
    id: str | None = None


class BodyError(Exception):
    """The request body as a whole cannot be read as events (answered 400 / 413)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def is_rfc3339(value: object) -> bool:
    """RFC 3339 date-time, checked here: jsonschema's own check needs an optional package."""
    if not isinstance(value, str):
        return True  # the type keyword reports non-strings
    if not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    formats = jsonschema.FormatChecker(formats=())
    formats.checks("date-time")(is_rfc3339)
    return jsonschema.Draft202012Validator(schema, format_checker=formats)


def warm_up() -> None:
    """Build the validator now (importing jsonschema takes a few hundred ms)."""
    _validator()


def parse_body(body: bytes, content_type: str = "") -> list[Envelope | Rejection]:
    """Split and validate a request body; one result per event, in order."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "invalid_encoding", "the body is not UTF-8") from None
    start = _skip_ws(text, 0)
    if start == len(text):
        raise BodyError(400, "empty_body", "the body holds no event")
    if text[start] == "[":
        return [_check(obj, raw) for obj, raw in _split_array(text, start)]
    if "ndjson" in content_type or "jsonl" in content_type:
        return _parse_lines(text)
    try:
        obj, end = _decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise BodyError(400, "malformed_json", f"malformed JSON: {exc.msg} at line {exc.lineno}") from None
    if _skip_ws(text, end) == len(text):
        return [_check(obj, text[start:end])]
    return _parse_lines(text)  # more than one document: NDJSON without its content type


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _split_array(text: str, start: int) -> list[tuple[Any, str]]:
    """Items of a top-level JSON array with the exact text of each."""
    items: list[tuple[Any, str]] = []
    i = _skip_ws(text, start + 1)
    if i < len(text) and text[i] == "]":
        i += 1
    else:
        while True:
            try:
                obj, end = _decoder.raw_decode(text, i)
            except json.JSONDecodeError as exc:
                raise BodyError(
                    400, "malformed_json", f"malformed JSON array: {exc.msg} at line {exc.lineno}"
                ) from None
            items.append((obj, text[i:end]))
            i = _skip_ws(text, end)
            if i < len(text) and text[i] == ",":
                i = _skip_ws(text, i + 1)
                continue
            if i < len(text) and text[i] == "]":
                i += 1
                break
            raise BodyError(400, "malformed_json", "malformed JSON array: expected ',' or ']'")
    if _skip_ws(text, i) != len(text):
        raise BodyError(400, "malformed_json", "malformed JSON: extra data after the array")
    if not items:
        raise BodyError(400, "empty_body", "the array holds no event")
    return items


def _parse_lines(text: str) -> list[Envelope | Rejection]:
    """NDJSON: one envelope a line; a bad line is refused on its own."""
    results: list[Envelope | Rejection] = []
    for n, line in enumerate(text.splitlines(), start=1):
        raw = line.strip()
        if not raw:
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            results.append(Rejection(400, "malformed_json", f"line {n}: malformed JSON: {exc.msg}"))
            continue
        results.append(_check(obj, raw))
    if not results:
        raise BodyError(400, "empty_body", "the body holds no event")
    return results


def _check(obj: Any, raw: str) -> Envelope | Rejection:
    body = raw.encode("utf-8")
    event_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
    if len(body) > MAX_EVENT_BYTES:
        return Rejection(413, "too_large", f"event is {len(body)} bytes, over the 256 KB limit", None, event_id)
    if not isinstance(obj, dict):
        return Rejection(400, "invalid_event", "an event must be a JSON object", None, None)
    if not looks_valid(obj):  # the common case skips jsonschema (~90 µs an event); it decides the rest
        validator = _validator()
        if not validator.is_valid(obj):
            return _rejection(validator, obj, event_id)
    detail = obj["detail"]
    data = detail.get("data") if isinstance(detail.get("data"), dict) else {}
    name = data.get("eventName") if isinstance(data.get("eventName"), str) else obj["detail-type"]
    return Envelope(obj["id"], name, obj["time"], tuple(detail["eventTags"]), body)


_ID = re.compile(r"[\x21-\x7e]{1,256}")
_TOP_STRINGS = ("version", "detail-type", "account", "region")
_DATA_STRINGS = ("id", "eventName", "eventTags", "type", "tenantId")
_DETAIL_STRINGS = ("dataSource", "customerUuid", "tenantUuid")


def looks_valid(obj: dict) -> bool:
    """A fast check that only ever says yes to envelopes the schema accepts (tests hold it to that);
    anything else goes to the schema validator, which decides and names the field."""
    if not (isinstance(obj.get("id"), str) and _ID.fullmatch(obj["id"])):
        return False
    if not (isinstance(obj.get("source"), str) and obj["source"]):
        return False
    if not (isinstance(obj.get("time"), str) and is_rfc3339(obj["time"])):
        return False
    if not all(isinstance(obj.get(k, ""), str) for k in _TOP_STRINGS) or "detail-type" not in obj:
        return False
    if "version" not in obj or not isinstance(obj.get("resources", []), list):
        return False
    detail = obj.get("detail")
    if not isinstance(detail, dict) or not all(isinstance(detail.get(k, ""), str) for k in _DETAIL_STRINGS):
        return False
    tags = detail.get("eventTags")
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        return False
    data = detail.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(data.get(k, ""), str) for k in _DATA_STRINGS):
        return False
    if type(data.get("isSuccessful", True)) is not bool:
        return False
    return all(type(data.get(k, 0)) is int for k in ("eventTimeInUTC", "loggedTimeInUTC"))


def _rejection(validator: Any, obj: dict, event_id: str | None) -> Rejection:
    """The most relevant schema error, naming the field (``detail.eventTags[0]``)."""
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next(p for p in error.validator_value if p not in error.instance)
        path.append(missing)
        message = "is required"
    else:
        message = _short(error)
    field = field_name(path)
    return Rejection(400, "invalid_event", f"{field} {message}", field, event_id)


def _short(error: Any) -> str:
    """A schema message that names the rule, not the (possibly huge) offending value."""
    kind = error.validator
    if kind == "type":
        return f"must be of type {error.validator_value}"
    if kind == "format":
        return f"must be a {error.validator_value} (RFC 3339)"
    if kind in ("minLength", "maxLength"):
        return f"length must be {'at least' if kind == 'minLength' else 'at most'} {error.validator_value}"
    if kind == "pattern":
        return "must be printable ASCII without spaces"
    return f"violates '{kind}'"


def field_name(path: list[Any]) -> str:
    """``["detail", "eventTags", 0]`` -> ``detail.eventTags[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(event)"
