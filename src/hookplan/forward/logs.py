"""Structured logs for the forwarder: ``text`` (human) or ``json`` (one object a line), on stderr.

Callers pass facts as keyword fields (hook name, event id, status, a scrubbed error); nothing here
ever formats a spec, a header or a body, so no secret value can reach a log line by this path.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER = "hookplan.forward"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = " ".join(f"{k}={_text(v)}" for k, v in getattr(record, "fields", {}).items())
        line = f"{stamp} {record.levelname.lower():7} {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            line += f" error={_text(f'{type(record.exc_info[1]).__name__}: {record.exc_info[1]}')}"
        return f"{line} {fields}".rstrip()


def _text(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


def setup(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send hookplan's and uvicorn's records to stderr in one format (tracebacks reduced to one line)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines quote request URLs
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def log(level: int, msg: str, **fields: Any) -> None:
    logging.getLogger(LOGGER).log(level, msg, extra={"fields": fields})
