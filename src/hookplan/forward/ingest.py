"""``POST /v1/events``: take events in, answer ``202`` only once they are committed to disk.

A single envelope is answered like a resource (``202`` or the one error). A batch (JSON array or
NDJSON) is answered per event: ``202`` when all were taken, ``207`` when some were, else the error
status; each result names the event's index and id, and a refusal its field.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hookplan.forward import store
from hookplan.forward.envelope import MAX_REQUEST_BYTES, BodyError, Envelope, Rejection, parse_body
from hookplan.forward.logs import log
from hookplan.forward.tokens import check_ingest, error_response

OFFLOAD_BYTES = 64 * 1024  # bigger bodies are parsed in a thread so the loop keeps serving


async def ingest(request: Request) -> Response:
    runtime = request.app.state.runtime
    denied = check_ingest(request, runtime.settings.tokens)
    if denied is not None:
        runtime.metrics.rejected["unauthorized"] += 1
        return denied
    if runtime.draining:
        return error_response(503, "shutting_down", "the forwarder is shutting down; send again later")
    try:
        body = await _read_body(request)
        content_type = request.headers.get("content-type", "")
        if len(body) > OFFLOAD_BYTES:
            results = await asyncio.to_thread(parse_body, body, content_type)
        else:
            results = parse_body(body, content_type)
    except BodyError as exc:
        runtime.metrics.rejected[exc.code] += 1
        return error_response(exc.status, exc.code, exc.message)
    accepted = [(r, runtime.hooks.route(r.tags)) for r in results if isinstance(r, Envelope)]
    fresh: list[bool] = []
    if accepted:
        try:
            fresh = await runtime.committer.run(partial(_insert, accepted))
        except Exception as exc:
            log(logging.ERROR, "could not store events", error=f"{type(exc).__name__}: {exc}")
            return error_response(503, "store_unavailable", "the events could not be stored; send again")
        runtime.dispatcher.notify()
        _count_skips(runtime.metrics, accepted, fresh)
    return _answer(runtime, results, fresh, single=len(results) == 1 and not _is_batch(body))


def _count_skips(metrics: Any, accepted: list, fresh: list[bool]) -> None:
    for (_, routes), new in zip(accepted, fresh, strict=True):
        for hook, state, _ in routes if new else ():
            if state == "skipped":
                metrics.delivery(hook, "skipped")


def _insert(items: list, cur: Any) -> list[bool]:
    return store.insert_events(cur, items, time.time())


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise BodyError(413, "too_large", "the request body is over 16 MiB; send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise BodyError(413, "too_large", "the request body is over 16 MiB; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def _is_batch(body: bytes) -> bool:
    return body.lstrip()[:1] == b"["


def _answer(runtime: Any, results: list, fresh: list[bool], *, single: bool) -> Response:
    m = runtime.metrics
    flags = iter(fresh)
    entries: list[dict[str, Any]] = []
    for index, r in enumerate(results):
        if isinstance(r, Rejection):
            m.rejected[r.code] += 1
            err = {"code": r.code, "message": r.message, "field": r.field}
            entries.append({"index": index, "id": r.id, "status": r.status, "error": err})
            continue
        new = next(flags)
        m.received += new
        m.duplicates += not new
        entries.append({"index": index, "id": r.id, "status": 202, "result": "accepted" if new else "duplicate"})
    if single:
        only = entries[0]
        if "error" in only:
            return JSONResponse({"error": only["error"]}, status_code=only["status"])
        return JSONResponse({"id": only["id"], "result": only["result"]}, status_code=202)
    taken = sum(1 for e in entries if e["status"] == 202)
    refused = [e["status"] for e in entries if e["status"] != 202]
    status = 202 if not refused else (207 if taken else max(set(refused), key=refused.count))
    summary = {"accepted": taken, "rejected": len(refused), "results": entries}
    return JSONResponse(summary, status_code=status)
