"""OAUTH_CLIENT_CREDENTIALS: a bearer token from the hook's authorization endpoint (RFC 6749 §4.4).

Modelled on ``httpx.DigestAuth``: the auth flow *yields* the token request through the caller's own
client (sync or async, same transport, same timeout) and receives its response, so "fetch a token, send
the request, on 401/407 refresh once and retry" is one short generator. The token is cached on the
instance until shortly before it expires; a lock around the fetch keeps concurrent deliveries from
stampeding the token endpoint.

What a caller sees:

- the token endpoint refuses or answers nonsense: :class:`TokenError`, ``str()`` a one-line reason
  without any secret value, and ``on_token_result(False, reason)``; a token issued: ``on_token_result(True, "")``;
- the token endpoint cannot be reached during a delivery: the client raises ``httpx.TransportError`` as for
  any network error (a generator cannot turn the client's exception into another one);
  ``is_token_request(exc.request)`` tells the two endpoints apart. :meth:`fetch_token` (used by
  ``authorize``) does turn it into a :class:`TokenError`;
- the token response becomes part of ``response.history`` (as with DigestAuth): never log history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import weakref
from base64 import b64encode
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from hookplan.auth._none import NoAuth
from hookplan.errors import HookplanError
from hookplan.model import SENSITIVE

log = logging.getLogger(__name__)

TokenResult = Callable[[bool, str], None]  # (ok, reason); reason is "" on success

DEFAULT_EXPIRES_IN = 3600.0  # seconds, when the endpoint does not say
MAX_MARGIN = 30.0  # refresh this long before expiry at most (10% of the lifetime for short-lived tokens)
REFRESH_ON = (401, 407)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_DETAIL = 200  # characters of the endpoint's own error text kept in a reason
TOKEN_REQUEST = "hookplan.token_request"  # request extension marking a token request


class TokenError(HookplanError):
    """The token endpoint refused, was unreachable or answered nonsense; ``str()`` is the reason.

    A HookplanError, so one that reaches the CLI prints as one ``Error:`` line.
    """


def is_token_request(request: httpx.Request) -> bool:
    """Whether ``request`` (e.g. ``exc.request`` of a transport error) went to a token endpoint."""
    return bool(request.extensions.get(TOKEN_REQUEST))


@dataclass(frozen=True, eq=False)
class _Token:
    header: str = field(repr=False)  # the whole Authorization value: "Bearer <access_token>"
    refresh_at: float  # clock time after which it is fetched again


class OAuthClientCredentials(httpx.Auth):
    """Client-credentials grant; client id and secret go as HTTP Basic (RFC 6749 §2.3.1)."""

    requires_request_body = True  # the request is sent again after a refresh

    def __init__(
        self,
        authorization_endpoint: str,
        client_id: str,
        client_secret: str,
        *,
        http_method: str = "POST",
        headers: Sequence[tuple[str, str]] = (),
        query: Sequence[tuple[str, str]] = (),
        secret_values: Iterable[str] = (),
        on_token_result: TokenResult | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = httpx.URL(authorization_endpoint)
        self.label = f"token endpoint {_display(self.endpoint)}"
        self.client_id = client_id
        self.http_method = http_method.upper()
        self.headers = list(headers)
        self.query = list(query)
        self.on_token_result = on_token_result
        self._clock = clock
        # Plain id:secret, as most clients send it; the RFC's form-encoding step changes nothing for
        # the usual [A-Za-z0-9-._~] credentials and breaks servers that skip the decoding.
        basic = b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._basic = f"Basic {basic}"
        self._secrets = sorted({client_secret, basic, *secret_values} - {""}, key=len, reverse=True)
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_spec(cls, auth: dict[str, Any], *, on_token_result: TokenResult | None = None) -> OAuthClientCredentials:
        """From the ``auth`` block of a canonical hook spec."""
        params = auth.get("oauth_http_parameters") or {}
        headers, query = params.get("header") or [], params.get("query_string") or []
        return cls(
            auth["authorization_endpoint"],
            auth["client_id"],
            auth["client_secret"],
            http_method=auth.get("http_method") or "POST",
            headers=[(p["key"], p["value"]) for p in headers],
            query=[(p["key"], p["value"]) for p in query],
            secret_values=[p["value"] for p in (*headers, *query) if p.get("secret")],
            on_token_result=on_token_result,
        )

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials(authorization_endpoint={_display(self.endpoint)!r}, "
            f"client_id={self.client_id!r}, client_secret={SENSITIVE})"
        )

    # -- the flows: token (cached or fetched), request, and on 401/407 one refresh and one retry ----------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        stale: _Token | None = None
        for _ in range(2):
            with self._lock:  # held across the token round trip: other threads wait, then reuse it
                token = self._fresh(stale)
                if token is None:
                    reply = yield self.token_request(request.extensions.get("timeout"))
                    reply.read()
                    token = self._accept(reply)
            response = yield _authorized(request, token)
            if response.status_code not in REFRESH_ON:
                return
            stale = token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        stale: _Token | None = None
        for _ in range(2):
            async with self._async_lock():
                token = self._fresh(stale)
                if token is None:
                    reply = yield self.token_request(request.extensions.get("timeout"))
                    await reply.aread()
                    token = self._accept(reply)
            response = yield _authorized(request, token)
            if response.status_code not in REFRESH_ON:
                return
            stale = token

    def fetch_token(self, client: httpx.Client, timeout: float = 5.0) -> None:
        """One real token request now (apply's authorization step); raises :class:`TokenError`."""
        request = self.token_request(httpx.Timeout(timeout).as_dict())
        try:
            reply = client.send(request, auth=NoAuth())  # never the client's own auth
        except httpx.HTTPError as exc:
            reason = f"{self.label} unreachable: {self._scrub(_describe(exc))}"
            self._notify(False, reason)
            raise TokenError(reason) from None
        with self._lock:
            self._accept(reply)

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after the hook's credentials changed)."""
        self._token = None

    # -- the token request and its answer -------------------------------------------------------------

    def token_request(self, timeout: dict[str, float | None] | None = None) -> httpx.Request:
        """The token request as configured: method, OAuth headers and query, Basic client credentials."""
        headers = httpx.Headers(self.headers)
        headers.setdefault("Authorization", self._basic)
        headers.setdefault("Accept", "application/json")
        params = [*self.endpoint.params.multi_items(), *self.query]
        fields = {} if any(k == "grant_type" for k, _ in params) else {"grant_type": "client_credentials"}
        content: bytes | None = None
        if self.http_method not in BODY_METHODS:
            params += list(fields.items())  # GET/DELETE carry no body: the grant type goes in the query
        elif _is_json(headers.get("Content-Type", "")):
            content = json.dumps(fields).encode()
        else:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            content = urlencode(fields).encode()
        extensions: dict[str, Any] = {TOKEN_REQUEST: True}
        if timeout is not None:
            extensions["timeout"] = timeout
        url = self.endpoint.copy_with(params=params) if params else self.endpoint
        return httpx.Request(self.http_method, url, headers=headers, content=content, extensions=extensions)

    def _fresh(self, stale: _Token | None) -> _Token | None:
        """The cached token unless missing, expiring, or the one the endpoint just refused."""
        token = self._token
        if token is None or token is stale or self._clock() >= token.refresh_at:
            return None
        return token

    def _accept(self, reply: httpx.Response) -> _Token:
        """Parse the token response, cache the token and report the outcome; call with the lock held."""
        try:
            token = self._parse(reply)
        except TokenError as exc:
            self._token = None
            self._notify(False, str(exc))
            raise
        self._token = token
        self._notify(True, "")
        return token

    def _parse(self, reply: httpx.Response) -> _Token:
        answered = f"{self.label} answered {reply.status_code} {reply.reason_phrase}".rstrip()
        fields = _body_fields(reply)
        if not reply.is_success:
            raise TokenError(answered + self._oauth_error(fields or {}))
        if fields is None:
            raise TokenError(f"{answered} with a body that is not a JSON object")
        access = fields.get("access_token")
        if not isinstance(access, str) or not access:
            raise TokenError(f"{answered} without an access_token")
        return _Token(f"{_scheme(fields.get('token_type'))} {access}", self._clock() + _lifetime(fields))

    def _oauth_error(self, fields: dict[str, Any]) -> str:
        """``: error: description`` from an RFC 6749 §5.2 error body, one line, truncated, scrubbed."""
        parts = [str(fields[k]) for k in ("error", "error_description") if fields.get(k)]
        detail = " ".join(": ".join(parts).split())
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 1] + "…"
        return f": {self._scrub(detail)}" if detail else ""

    def _scrub(self, text: str) -> str:
        """Text from elsewhere (the endpoint, an exception) with any secret of ours replaced."""
        for secret in self._secrets:
            text = text.replace(secret, SENSITIVE)
        return text

    def _notify(self, ok: bool, reason: str) -> None:
        if self.on_token_result is None:
            return
        try:
            self.on_token_result(ok, reason)
        except Exception as exc:  # a failing observer must not fail the delivery
            log.warning("on_token_result callback failed: %s", type(exc).__name__)

    def _async_lock(self) -> asyncio.Lock:
        """One asyncio.Lock per event loop (a lock is bound to the loop it first waited on)."""
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        return lock


def _authorized(request: httpx.Request, token: _Token) -> httpx.Request:
    request.headers["Authorization"] = token.header
    return request


def _display(url: httpx.URL) -> str:
    """scheme://host[:port]/path: no user info, no query string (either may hold a secret)."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _body_fields(reply: httpx.Response) -> dict[str, Any] | None:
    """The response body as a dict: JSON, or form-encoded (some endpoints, e.g. GitHub's, answer that)."""
    media = reply.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return dict(parse_qsl(reply.text))
    try:
        data = json.loads(reply.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _scheme(token_type: Any) -> str:
    if not isinstance(token_type, str) or not token_type or token_type.lower() == "bearer":
        return "Bearer"
    return token_type


def _lifetime(fields: dict[str, Any]) -> float:
    """Seconds the token may be used: ``expires_in`` less a margin (30 s, or 10% if shorter-lived)."""
    try:
        seconds = float(fields.get("expires_in", DEFAULT_EXPIRES_IN))
    except (TypeError, ValueError):
        seconds = DEFAULT_EXPIRES_IN
    if not math.isfinite(seconds) or seconds < 0:
        seconds = DEFAULT_EXPIRES_IN
    return seconds - min(MAX_MARGIN, seconds * 0.1)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
