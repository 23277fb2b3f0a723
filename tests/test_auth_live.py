"""End to end: real httpx clients through each auth class against real servers on 127.0.0.1.

A token server (client-credentials grant) and a receiver run under uvicorn via ``tests.servers.serve_app``;
the receiver records every request and accepts a bearer token only while the token server says it is valid,
so revoking one makes the receiver answer 401.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hookplan.auth import TokenError, authorize, build_auth
from servers import serve_app

CLIENT_ID, CLIENT_SECRET = "hookplan", "live-S3cret"
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


@dataclass
class World:
    """State shared by the token server, the receiver and the test (servers run in other threads)."""

    token_requests: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    refuse: bool = False  # the token server answers 401 invalid_client
    reject_all: bool = False  # the receiver answers 401 to every token
    token_delay: float = 0.0
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)


def token_app(current: Callable[[], World]) -> Starlette:
    async def token(request: Request) -> Response:
        world = current()
        body = await request.body()
        world.token_requests.append(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "query": str(request.query_params),
                "body": body,
            }
        )
        await asyncio.sleep(world.token_delay)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if world.refuse or request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client", "error_description": "bad client secret"}, 401)
        if dict(parse_qsl(body.decode())).get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        with world.lock:
            issued = f"tok-{next(world.counter)}"
            world.valid_tokens.add(issued)
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})

    return Starlette(routes=[Route("/oauth2/token", token, methods=["POST"])])


def receiver_app(current: Callable[[], World]) -> Starlette:
    async def hook(request: Request) -> Response:
        world = current()
        authorization = request.headers.get("authorization", "")
        world.received.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": str(request.query_params),
                "authorization": authorization,
                "tenant": request.headers.get("x-tenant"),
                "body": await request.body(),
            }
        )
        token = authorization.removeprefix("Bearer ")
        if request.url.path == "/oauth" and (world.reject_all or token not in world.valid_tokens):
            return Response(status_code=401)
        return Response(status_code=204)

    return Starlette(routes=[Route("/{kind}", hook, methods=METHODS)])


@dataclass
class Servers:
    world: World
    token_url: str
    receiver_url: str


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[str, str, list[World]]]:
    holder = [World()]  # the apps read the current world through this list: each test gets a fresh one
    with (
        serve_app(token_app(lambda: holder[0])) as token_base,
        serve_app(receiver_app(lambda: holder[0])) as receiver_base,
    ):
        yield token_base + "/oauth2/token", receiver_base, holder


@pytest.fixture
def servers(running: tuple[str, str, list[World]]) -> Servers:
    token_url, receiver_url, holder = running
    holder[0] = World()
    return Servers(holder[0], token_url, receiver_url)


def oauth_spec(token_url: str) -> dict[str, Any]:
    return {
        "auth": {
            "type": "OAUTH_CLIENT_CREDENTIALS",
            "authorization_endpoint": token_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "http_method": "POST",
            "oauth_http_parameters": {"header": [], "query_string": []},
        }
    }


def spec_for(kind: str, s: Servers) -> tuple[dict[str, Any], str]:
    """(hook spec, the exact Authorization header the receiver must see)."""
    if kind == "none":
        return {"auth": {"type": "NONE"}}, ""
    if kind == "basic":
        value = base64.b64encode(b"alice:open sesame").decode()
        return {"auth": {"type": "BASIC", "username": "alice", "password": "open sesame"}}, f"Basic {value}"
    if kind == "api-key":
        return {"auth": {"type": "API_KEY", "key_name": "primary", "key_value": "k-42"}}, "Bearer k-42"
    return oauth_spec(s.token_url), "Bearer tok-1"


KINDS = ["none", "basic", "api-key", "oauth"]


@pytest.mark.parametrize("method", ["POST", "GET", "PATCH"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_auth_type_with_a_sync_client(servers: Servers, kind: str, method: str) -> None:
    spec, expected = spec_for(kind, servers)
    auth = build_auth(spec)
    with httpx.Client(timeout=5) as client:
        response = client.request(
            method,
            f"{servers.receiver_url}/{kind}",
            params=[("a", "1"), ("b", "two words")],
            headers={"X-Tenant": "acme"},
            content=b'{"id": "e1"}' if method != "GET" else None,
            auth=auth,
        )
    assert response.status_code == 204
    (got,) = servers.world.received
    assert got["method"] == method
    assert got["query"] == "a=1&b=two+words"
    assert got["authorization"] == expected
    assert got["tenant"] == "acme"
    assert got["body"] == (b'{"id": "e1"}' if method != "GET" else b"")
    assert len(servers.world.token_requests) == (1 if kind == "oauth" else 0)


@pytest.mark.parametrize("kind", KINDS)
def test_each_auth_type_with_an_async_client(servers: Servers, kind: str) -> None:
    spec, expected = spec_for(kind, servers)
    auth = build_auth(spec)

    async def deliver() -> list[int]:
        async with httpx.AsyncClient(timeout=5) as client:
            url = f"{servers.receiver_url}/{kind}"
            sends = [client.put(url, params={"n": str(i)}, content=b"{}", auth=auth) for i in range(5)]
            return [r.status_code for r in await asyncio.gather(*sends)]

    assert asyncio.run(deliver()) == [204] * 5
    received = servers.world.received
    assert sorted(r["query"] for r in received) == [f"n={i}" for i in range(5)]
    assert {(r["method"], r["authorization"]) for r in received} == {("PUT", expected)}
    # Five concurrent deliveries, one token request: the lock keeps them from stampeding the endpoint.
    assert len(servers.world.token_requests) == (1 if kind == "oauth" else 0)


def test_oauth_token_request_as_the_token_server_sees_it(servers: Servers) -> None:
    with httpx.Client(timeout=5) as client:
        client.post(f"{servers.receiver_url}/oauth", auth=build_auth(oauth_spec(servers.token_url)))
    (sent,) = servers.world.token_requests
    assert sent["method"] == "POST"
    assert sent["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert sent["body"] == b"grant_type=client_credentials"


def test_oauth_token_is_fetched_once_for_many_deliveries(servers: Servers) -> None:
    auth = build_auth(oauth_spec(servers.token_url))
    with httpx.Client(timeout=5) as client:
        statuses = [client.post(f"{servers.receiver_url}/oauth", auth=auth).status_code for _ in range(6)]
    assert statuses == [204] * 6
    assert len(servers.world.token_requests) == 1
    assert {r["authorization"] for r in servers.world.received} == {"Bearer tok-1"}


def test_concurrent_threads_wait_for_one_slow_token_request(servers: Servers) -> None:
    servers.world.token_delay = 0.2
    auth = build_auth(oauth_spec(servers.token_url))
    statuses: list[int] = []
    with httpx.Client(timeout=5) as client:

        def deliver() -> None:
            statuses.append(client.post(f"{servers.receiver_url}/oauth", auth=auth).status_code)

        threads = [threading.Thread(target=deliver) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [204] * 6
    assert len(servers.world.token_requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_revoked_token_triggers_exactly_one_refresh(servers: Servers, mode: str) -> None:
    auth = build_auth(oauth_spec(servers.token_url))
    url = f"{servers.receiver_url}/oauth"
    world = servers.world

    def revoke_after_first(statuses: list[int]) -> None:
        if len(statuses) == 1:
            world.valid_tokens.clear()

    async def deliver_async() -> list[int]:
        statuses: list[int] = []
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(3):
                statuses.append((await client.post(url, auth=auth, content=b"{}")).status_code)
                revoke_after_first(statuses)
        return statuses

    def deliver_sync() -> list[int]:
        statuses: list[int] = []
        with httpx.Client(timeout=5) as client:
            for _ in range(3):
                statuses.append(client.post(url, auth=auth, content=b"{}").status_code)
                revoke_after_first(statuses)
        return statuses

    statuses = asyncio.run(deliver_async()) if mode == "async" else deliver_sync()
    assert statuses == [204, 204, 204]
    # second delivery: tok-1 revoked -> 401, one refresh, the same request again with tok-2; third: tok-2 cached
    assert [r["authorization"] for r in world.received] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
        "Bearer tok-2",
    ]
    assert [r["body"] for r in world.received] == [b"{}"] * 4
    assert len(world.token_requests) == 2


def test_a_token_refused_even_after_refresh_is_returned_not_retried_forever(servers: Servers) -> None:
    servers.world.reject_all = True
    with httpx.Client(timeout=5) as client:
        response = client.post(f"{servers.receiver_url}/oauth", auth=build_auth(oauth_spec(servers.token_url)))
    assert response.status_code == 401
    assert len(servers.world.received) == 2
    assert len(servers.world.token_requests) == 2


def test_refusing_token_server_then_recovery_reported_to_the_callback(servers: Servers) -> None:
    results: list[tuple[bool, str]] = []
    auth = build_auth(oauth_spec(servers.token_url), on_token_result=lambda ok, why: results.append((ok, why)))
    servers.world.refuse = True

    async def deliver() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.post(f"{servers.receiver_url}/oauth", auth=auth)).status_code

    with pytest.raises(TokenError, match="answered 401 Unauthorized: invalid_client: bad client secret"):
        asyncio.run(deliver())
    assert servers.world.received == []
    servers.world.refuse = False
    assert asyncio.run(deliver()) == 204
    assert [ok for ok, _ in results] == [False, True]


def test_authorize_succeeds_with_one_token_request(servers: Servers) -> None:
    authorize(oauth_spec(servers.token_url), timeout=5)
    assert len(servers.world.token_requests) == 1


def test_authorize_reports_invalid_client(servers: Servers) -> None:
    spec = oauth_spec(servers.token_url)
    spec["auth"]["client_secret"] = "wrong-S3cret"
    with pytest.raises(TokenError) as caught:
        authorize(spec, timeout=5)
    assert str(caught.value) == (
        f"token endpoint {servers.token_url} answered 401 Unauthorized: invalid_client: bad client secret"
    )
    assert "S3cret" not in str(caught.value) + repr(caught.value)


def test_authorize_reports_an_unreachable_endpoint() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(
        TokenError, match=rf"^token endpoint http://127\.0\.0\.1:{port}/token unreachable: ConnectError"
    ):
        authorize(oauth_spec(f"http://127.0.0.1:{port}/token"), timeout=2)
    assert time.monotonic() - started < 2


def test_authorize_is_a_no_op_for_other_types(servers: Servers) -> None:
    for kind in ("none", "basic", "api-key"):
        authorize(spec_for(kind, servers)[0])
    assert servers.world.token_requests == []
