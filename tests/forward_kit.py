"""Helpers for the forwarder tests: a recording receiver, hook specs, the forwarder in a thread or a process.

Everything listens on 127.0.0.1 with port 0 (never a fixed port). Retry delays are cut to tens of
milliseconds through :class:`RetryPolicy` (in-thread) or ``--retry-base-delay`` (subprocess).
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookplan.forward.app import create_app
from hookplan.forward.retry import RetryPolicy
from hookplan.forward.runtime import Runtime, Settings
from hookplan.forward.tokens import Tokens
from hookplan.model import Hook
from hookplan.registry import SQLiteRegistry
from servers import serve_app

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "events"  # copies of the seed's three samples
INGEST_TOKEN = "ingest-tok-9f8e7d6c5b4a"
ADMIN_TOKEN = "admin-tok-1a2b3c4d5e6f"


def sample_events() -> dict[str, bytes]:
    """The seed's three sample events, as bytes, by file stem."""
    return {p.stem: p.read_bytes() for p in sorted(FIXTURES.glob("*.json"))}


def make_event(event_id: str, tags: tuple[str, ...] = ("REGISTRATION",), **extra: Any) -> dict[str, Any]:
    base = json.loads(sample_events()["registration-success"])
    event = copy.deepcopy(base)
    event["id"] = event_id
    event["detail"]["eventTags"] = list(tags)
    event.update(extra)
    return event


def spec(
    endpoint: str,
    event_type: str = "ALL",
    *,
    auth: dict[str, Any] | None = None,
    method: str = "POST",
    headers: list[dict[str, Any]] | None = None,
    query: list[dict[str, Any]] | None = None,
    enabled: bool = True,
    rate: int = 300,
    signing_secret: str | None = None,
) -> dict[str, Any]:
    """A canonical hook spec (ARCHITECTURE.md)."""
    out: dict[str, Any] = {
        "event_type": event_type,
        "endpoint": endpoint,
        "http_method": method,
        "enabled": enabled,
        "auth": auth or {"type": "NONE"},
        "invocation_http_parameters": {"header": headers or [], "query_string": query or []},
        "rate_limit_per_second": rate,
    }
    if signing_secret is not None:
        out["signing_secret"] = signing_secret
    return out


def param(key: str, value: str, secret: bool = False) -> dict[str, Any]:
    return {"key": key, "value": value, "secret": secret}


def put_hook(db: Path, name: str, hook_spec: dict[str, Any], state: str = "AUTHORIZED") -> None:
    registry = SQLiteRegistry(db)
    try:
        registry.put_hook(Hook(name, hook_spec), state, "", "default")
    finally:
        registry.close()


def hook_state(db: Path, name: str) -> tuple[str, str]:
    registry = SQLiteRegistry(db)
    try:
        record = registry.get_hook(name)
        assert record is not None
        return record.connection_state, record.state_reason
    finally:
        registry.close()


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


# -- the receiver ---------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    raw: bytes  # as on the wire
    body: bytes  # gunzipped when Content-Encoding: gzip
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; answers from ``script`` (status, headers) first, then ``default``."""

    received: list[Received] = field(default_factory=list)
    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    default: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: Callable[[Received], int | None] | None = None  # a status to answer instead (e.g. 401)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            import asyncio

            raw = await request.body()
            body = gzip.decompress(raw) if request.headers.get("content-encoding") == "gzip" else raw
            seen = Received(
                request.method,
                request.url.path,
                list(request.query_params.multi_items()),
                dict(request.headers),
                raw,
                body,
                time.time(),
            )
            with self.lock:
                self.received.append(seen)
                refused = self.gate(seen) if self.gate else None
                if refused is not None:
                    status, headers = refused, {}
                else:
                    status, headers = self.script.popleft() if self.script else (self.default, {})
            if self.delay:
                await asyncio.sleep(self.delay)
            return Response(status_code=status, headers=headers)

        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        return Starlette(routes=[Route("/{path:path}", hook, methods=methods)])

    def ids(self, path: str | None = None) -> list[str]:
        with self.lock:
            return [r.headers.get("webhook-id", "") for r in self.received if path is None or r.path == path]

    def wait(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[Received]:
        wait_until(lambda: len(self.ids(path)) >= count, timeout, f"{count} deliveries to {path or 'any path'}")
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]


@contextlib.contextmanager
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()
    with serve_app(rec.app()) as url:
        yield rec, url


# -- an OAuth token server -----------------------------------------------------------------------

CLIENT_ID, CLIENT_SECRET = "hookplan-fwd", "fwd-client-S3cret-77"


@dataclass
class TokenServer:
    """Client-credentials grant; issues tok-1, tok-2, …; ``refuse`` makes it answer 401 invalid_client."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    refuse: bool = False
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        from starlette.responses import JSONResponse

        async def token(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.requests.append({"method": request.method, "headers": dict(request.headers), "body": body})
                if self.refuse:
                    return JSONResponse({"error": "invalid_client", "error_description": "client disabled"}, 401)
                self.issued += 1
                issued = f"tok-{self.issued}"
                self.valid.add(issued)
            return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})

        return Starlette(routes=[Route("/oauth2/token", token, methods=["POST", "GET"])])

    def gate(self, seen: Received) -> int | None:
        """For a receiver: 401 unless the request carries a token this server issued and still honours."""
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        return None if token in self.valid else 401


def oauth_auth(token_url: str, *, query: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "OAUTH_CLIENT_CREDENTIALS",
        "authorization_endpoint": token_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "http_method": "POST",
        "oauth_http_parameters": {"header": [], "query_string": query or []},
    }


# -- the forwarder in a thread ---------------------------------------------------------------------


@contextlib.contextmanager
def forwarder(
    db: Path,
    *,
    allow_private: bool = True,
    base_delay: float = 0.05,
    max_event_age: float = 3600.0,
    ingest_token: str | None = INGEST_TOKEN,
    admin_token: str | None = ADMIN_TOKEN,
    concurrency: int = 8,
) -> Iterator[Forwarder]:
    policy = RetryPolicy(timeout=5.0, max_event_age=max_event_age, base_delay=base_delay, max_delay=1.0)
    settings = Settings(
        state=db,
        tokens=Tokens(ingest_token, admin_token),
        policy=policy,
        allow_private=allow_private,
        concurrency=concurrency,
        shutdown_grace=5.0,
    )
    runtime = Runtime(settings)
    with serve_app(create_app(runtime), lifespan="on") as url:
        yield Forwarder(url, runtime)


@dataclass
class Forwarder:
    url: str
    runtime: Runtime

    def post(self, body: bytes | str | Any, token: str | None = INGEST_TOKEN, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        return httpx.post(self.url + "/v1/events", content=body, headers=headers, timeout=30, **kw)

    def admin(self, method: str, path: str, token: str | None = ADMIN_TOKEN, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)


# -- the forwarder as a process --------------------------------------------------------------------


class Process:
    """``python -m hookplan forward`` on 127.0.0.1:0; its stderr (the log) is collected line by line."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None):
        full_env = {**os.environ, "HOOKPLAN_INGEST_TOKEN": INGEST_TOKEN, "HOOKPLAN_TOKEN": ADMIN_TOKEN}
        full_env.update(env or {})
        cmd = [sys.executable, "-m", "hookplan", "forward", "--listen", "127.0.0.1:0", "--state", str(db)]
        cmd += ["--log-format", "json", "--retry-base-delay", "50ms", "--retry-max-delay", "1s", *args]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=full_env, text=True)
        self.lines: list[str] = []
        self._port: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            wait_until(lambda: self._port or self.proc.poll() is not None, 20, "the forwarder to listen")
            if self._port is None:
                raise AssertionError("forwarder exited:\n" + "\n".join(self.lines))
            self.url = f"http://127.0.0.1:{self._port}"
            wait_until(self._healthy, 20, "the forwarder to be healthy")
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:  # a failed test must not leave a forwarder running
            self.proc.kill()
            self.proc.wait(10)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            match = re.search(r'"msg": "listening".*"port": (\d+)', line)
            if match:
                self._port = int(match[1])

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        self._reader.join(timeout=5) if self.proc.poll() is not None else None
        return "\n".join(self.lines)

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout)


def spawner() -> Iterator[Callable[..., Process]]:
    """For a fixture: start forwarder processes; any still running when the test ends is killed."""
    started: list[Process] = []

    def start(db: Path, *args: str, **kw: Any) -> Process:
        started.append(Process(db, *args, **kw))
        return started[-1]

    yield start
    for process in started:
        process.__exit__()


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hookplan`` with the given arguments (and extra environment variables)."""
    return subprocess.run(
        [sys.executable, "-m", "hookplan", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
