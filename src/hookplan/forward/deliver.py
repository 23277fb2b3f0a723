"""One delivery attempt: build the request a hook asks for, send it with httpx, report what happened.

The request carries the hook's method, endpoint and invocation parameters, ``Content-Type:
application/json``, ``User-Agent: hookplan/<version>`` and the event id as ``webhook-id`` (Standard
Webhooks' idempotency key). With a ``signing_secret`` it adds ``webhook-timestamp`` and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``, body uncompressed).
A ``Content-Encoding: gzip`` header among the hook's parameters means the body really is gzipped.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from hookplan import __version__
from hookplan.model import SENSITIVE, Spec, get_path, secret_paths

USER_AGENT = f"hookplan/{__version__}"


@dataclass(slots=True)
class AttemptResult:
    status: int | None  # HTTP status, None for a network error / timeout / refusal before sending
    error: str  # "" on success; never holds a secret value
    latency_ms: float
    retry_after: str | None = None  # the raw header, parsed by the retry policy
    final: bool = False  # never worth retrying (e.g. a refused destination)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status <= 299


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks signature; a ``whsec_`` secret is base64 key material, anything else raw."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode("utf-8")
    signed = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


OURS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a hook's requests share, worked out once per spec (URL parsing and header merging cost
    more than the rest of building a request)."""

    spec: Spec
    method: str
    url: httpx.URL
    headers: tuple[tuple[str, str], ...]  # defaults, then the hook's own (which win), minus ours
    gzip: bool
    signing_secret: str | None
    extensions: dict[str, Any]


def prepare(spec: Spec, timeout: float) -> Prepared:
    params = spec.get("invocation_http_parameters") or {}
    headers = httpx.Headers({"Content-Type": "application/json", "User-Agent": USER_AGENT})
    for p in params.get("header", []):
        if p["key"].lower() not in OURS:
            headers[p["key"]] = p["value"]
    url = httpx.URL(spec["endpoint"])
    query = params.get("query_string", [])
    if query:
        url = url.copy_with(params=[*url.params.multi_items(), *((p["key"], p["value"]) for p in query)])
    return Prepared(
        spec,
        spec["http_method"],
        url,
        tuple(headers.multi_items()),
        "gzip" in headers.get("content-encoding", "").lower(),
        spec.get("signing_secret") or None,
        {"timeout": httpx.Timeout(timeout).as_dict()},
    )


def build_request(prepared: Prepared, event_id: str, body: bytes) -> httpx.Request:
    """The HTTP request for one attempt (auth is applied by httpx when it is sent)."""
    headers = [*prepared.headers, ("webhook-id", event_id)]
    if prepared.signing_secret:
        ts = int(time.time())
        headers.append(("webhook-timestamp", str(ts)))
        headers.append(("webhook-signature", sign(prepared.signing_secret, event_id, ts, body)))
    if prepared.gzip:
        body = gzip.compress(body, compresslevel=6, mtime=0)
    return httpx.Request(prepared.method, prepared.url, headers=headers, content=body, extensions=prepared.extensions)


def scrub(text: str, spec: Spec) -> str:
    """``text`` with every secret value of the hook replaced: error text can quote a URL or header."""
    for path in secret_paths(spec):
        value = get_path(spec, path)
        if isinstance(value, str) and value:
            for form in sorted({value, quote(value, safe=""), quote_plus(value), quote(value)}, key=len, reverse=True):
                text = text.replace(form, SENSITIVE)  # also as it appears inside a URL
    return text


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timeout: {text}" if text else "timeout"
    return f"{name}: {text}" if text else name


async def send(transport: httpx.AsyncBaseTransport, request: httpx.Request, auth: httpx.Auth) -> httpx.Response:
    """Send through the auth flow straight on the transport: what ``AsyncClient.send`` does minus
    redirects (never followed here), cookies and event hooks, which cost a quarter of an attempt.

    The flow may yield more than one request (an OAuth token request, a retry after a refresh); each
    response is read in full, which also returns its connection to the pool.
    """
    flow = auth.async_auth_flow(request)
    try:
        request = await flow.__anext__()
        while True:
            try:
                response = await transport.handle_async_request(request)
                response.request = request
                await response.aread()
            except httpx.RequestError as exc:
                exc.request = request  # so callers can tell a token request from the delivery
                raise
            try:
                request = await flow.asend(response)
            except StopAsyncIteration:
                return response
    finally:
        await flow.aclose()


async def attempt(
    client: httpx.AsyncBaseTransport,
    prepared: Prepared,
    auth: httpx.Auth | None,
    event_id: str,
    body: bytes,
    timeout: float,
) -> AttemptResult:
    """Send once; exceptions become results (the worker never sees a raw error)."""
    from hookplan.auth import TokenError, is_token_request

    spec = prepared.spec
    started = time.perf_counter()
    try:
        request = build_request(prepared, event_id, body)
        async with asyncio.timeout(timeout):
            response = await send(client, request, auth)
    except TokenError as exc:
        reason = scrub(str(exc) or "the token endpoint refused", spec)
        return AttemptResult(None, f"OAuth token request failed: {reason}", _ms(started))
    except httpx.RequestError as exc:
        where = "OAuth token endpoint: " if _token_request(exc, is_token_request) else ""
        return AttemptResult(None, scrub(where + describe(exc), spec), _ms(started))
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        return AttemptResult(None, scrub(describe(exc), spec), _ms(started))
    except httpx.InvalidURL as exc:
        return AttemptResult(None, scrub(f"invalid endpoint: {exc}", spec), _ms(started), final=True)
    latency = _ms(started)
    error = "" if 200 <= response.status_code <= 299 else f"HTTP {response.status_code}"
    return AttemptResult(response.status_code, error, latency, response.headers.get("retry-after"))


def _token_request(exc: httpx.RequestError, check: Any) -> bool:
    try:
        return bool(check(exc.request))
    except RuntimeError:  # no request attached
        return False


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def client_for(concurrency: int) -> httpx.AsyncBaseTransport:
    """A hook's transport: a keep-alive pool as large as its concurrency (plus room for a token
    request). A bare transport takes no proxy from the environment (the SSRF check must see the real
    destination); it does honour SSL_CERT_FILE / SSL_CERT_DIR for private CAs. Every hook shares one
    TLS context: building one loads the CA bundle, ~20 ms of CPU on the event loop per new hook."""
    from hookplan.auth import tls_context

    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency)
    return httpx.AsyncHTTPTransport(limits=limits, verify=tls_context())
