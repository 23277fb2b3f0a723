"""apply against real processes: an OAuth token server on 127.0.0.1, concurrent applies, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servers import serve_app

CLIENT_SECRET = "oauth-Client-Secret-7781"


class TokenServer:
    """A client-credentials token endpoint that checks Basic credentials and can be slowed down."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    async def token(self, request: Request) -> JSONResponse:
        import asyncio
        import base64

        body = (await request.body()).decode()
        with self.lock:
            self.requests.append(
                {
                    "method": request.method,
                    "query": dict(request.query_params),
                    "body": body,
                    "headers": dict(request.headers),
                }
            )
        if self.delay:
            await asyncio.sleep(self.delay)
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"hookplan:{CLIENT_SECRET}".encode()).decode()
        if auth != expected:
            return JSONResponse({"error": "invalid_client", "error_description": "bad client credentials"}, 401)
        return JSONResponse({"access_token": "tok-123", "token_type": "Bearer", "expires_in": 3600})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/oauth2/token", self.token, methods=["GET", "POST", "PUT"])])


def oauth_hook(name: str, token_url: str, secret_ref: str = "${env:HP_OAUTH_SECRET}") -> dict:
    return {
        "name": name,
        "event_type": "AUTHENTICATION",
        "endpoint": f"https://{name}.example.com/hook",
        "http_method": "POST",
        "auth": {
            "type": "OAUTH_CLIENT_CREDENTIALS",
            "authorization_endpoint": token_url,
            "client_id": "hookplan",
            "client_secret": secret_ref,
            "http_method": "POST",
            "oauth_http_parameters": {"query_string": [{"key": "scope", "value": "api://siem/.default"}]},
        },
    }


def plain_hook(name: str) -> dict:
    return {
        "name": name,
        "event_type": "ALL",
        "endpoint": f"https://{name}.example.com/h",
        "http_method": "POST",
        "auth": {"type": "NONE"},
    }


def write(path: Path, hooks: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "hooks": hooks}, sort_keys=False))
    return path


def hookplan(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hookplan", *args], capture_output=True, text=True, timeout=120, env=_env(env), **kwargs
    )


def _env(extra: dict | None) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "HP_OAUTH_SECRET": CLIENT_SECRET}
    env.update(extra or {})
    return env


def registry_hooks(db: Path) -> dict[str, tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {n: (s, r) for n, s, r in con.execute("SELECT name, connection_state, state_reason FROM hooks")}
    finally:
        con.close()


@pytest.fixture
def token_server():
    server = TokenServer()
    with serve_app(server.app()) as base_url:
        server.url = base_url.replace("127.0.0.1", "localhost") + "/oauth2/token"
        yield server


def test_oauth_hook_authorized_by_real_token_request(tmp_path, token_server):
    f = write(tmp_path / "hooks.yaml", [oauth_hook("siem", token_server.url), plain_hook("plain")])
    result = hookplan("apply", "-f", str(f), "--auto-approve")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_hooks(tmp_path / "hookplan.db") == {"siem": ("AUTHORIZED", ""), "plain": ("AUTHORIZED", "")}
    (req,) = token_server.requests
    assert req["method"] == "POST" and req["query"]["scope"] == "api://siem/.default"
    assert CLIENT_SECRET not in result.stdout + result.stderr


def test_refused_token_leaves_hook_deauthorized_and_others_applied(tmp_path, token_server):
    f = write(tmp_path / "hooks.yaml", [oauth_hook("siem", token_server.url), plain_hook("a"), plain_hook("b")])
    result = hookplan("apply", "-f", str(f), "--auto-approve", env={"HP_OAUTH_SECRET": "wrong-Secret-9912"})
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Authorization failed" in out and "401" in out and "wrong-Secret-9912" not in out
    hooks = registry_hooks(tmp_path / "hookplan.db")
    assert hooks["a"] == ("AUTHORIZED", "") and hooks["b"] == ("AUTHORIZED", "")
    state, reason = hooks["siem"]
    assert state == "DEAUTHORIZED" and "401" in reason and "invalid_client" in reason
    # The next plan repairs it: the spec matches, but the connection state is not settled.
    plan = hookplan("plan", "-f", str(f), "--detailed-exitcode", env={"HP_OAUTH_SECRET": "wrong-Secret-9912"})
    assert plan.returncode == 2 and "connection state is DEAUTHORIZED" in plan.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.stdout
    # With the right secret, the rotated client_secret is the change, and apply authorizes it.
    plan = hookplan("plan", "-f", str(f), "--detailed-exitcode")
    assert plan.returncode == 2 and "~ auth.client_secret = (sensitive value)" in plan.stdout
    fixed = hookplan("apply", "-f", str(f), "--auto-approve")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert registry_hooks(tmp_path / "hookplan.db")["siem"] == ("AUTHORIZED", "")


def test_second_apply_fails_naming_the_lock_holder(tmp_path, token_server):
    token_server.delay = 0.5
    f = write(tmp_path / "hooks.yaml", [oauth_hook(f"slow{i}", token_server.url) for i in range(6)])
    first = subprocess.Popen(
        [sys.executable, "-m", "hookplan", "apply", "-f", str(f), "--auto-approve", "--parallelism", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(None),
    )
    try:
        _wait_for(lambda: len(token_server.requests) >= 1)
        second = hookplan("apply", "-f", str(f), "--auto-approve")
        assert second.returncode == 1
        assert "is locked by hookplan apply by" in second.stderr and f"pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        waited = hookplan("apply", "-f", str(f), "--auto-approve", "--lock-timeout", "60s")
        assert waited.returncode == 0, waited.stderr
        assert "No changes" in waited.stdout  # it waited for the first apply, then found nothing to do
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err


def test_sigint_stops_new_hooks_and_plan_shows_the_rest(tmp_path, token_server):
    token_server.delay = 0.3
    total = 30
    f = write(tmp_path / "hooks.yaml", [oauth_hook(f"h{i:02d}", token_server.url) for i in range(total)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "hookplan", "apply", "-f", str(f), "--auto-approve", "--parallelism", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(None),
    )
    lines: list[str] = []
    assert proc.stdout is not None
    while len([x for x in lines if "Creation complete" in x]) < 3:
        line = proc.stdout.readline()
        assert line, "apply ended before it was interrupted"
        lines.append(line)
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()  # not communicate(): it would skip what readline() already buffered
    err = proc.stderr.read()  # type: ignore[union-attr]
    proc.wait(timeout=30)
    lines += out.splitlines()
    assert proc.returncode == 1, out + err
    assert "Interrupt received" in err and "Apply interrupted" in out
    done = len([x for x in lines if "Creation complete" in x])
    assert 3 <= done < total
    hooks = registry_hooks(tmp_path / "hookplan.db")
    assert len(hooks) == done and all(state == ("AUTHORIZED", "") for state in hooks.values())
    plan = hookplan("plan", "-f", str(f), "--format", "json")
    doc = json.loads(plan.stdout)
    assert doc["summary"] == {"add": total - done, "change": 0, "destroy": 0, "has_changes": True}
    lock = sqlite3.connect(tmp_path / "hookplan.db").execute("SELECT COUNT(*) FROM apply_lock").fetchone()[0]
    assert lock == 0, "the lock is released on interrupt"


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _apply_on_a_terminal(hooks_file: Path, answer: str) -> tuple[int, str]:
    """Run apply with a real pseudo-terminal as stdin and type ``answer`` at the prompt."""
    import pty

    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hookplan", "apply", "-f", str(hooks_file)],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(None),
    )
    os.close(terminal)
    os.write(controller, answer.encode() + b"\n")
    out, _ = proc.communicate(timeout=60)
    os.close(controller)
    return proc.returncode, out.decode()


def test_interactive_approval_takes_only_yes(tmp_path):
    f = write(tmp_path / "hooks.yaml", [plain_hook("a")])
    code, out = _apply_on_a_terminal(f, "no")
    assert code == 1 and "Only 'yes' will be accepted" in out and "cancelled" in out
    assert not registry_hooks(tmp_path / "hookplan.db")
    code, out = _apply_on_a_terminal(f, "yes")
    assert code == 0 and "Apply complete! Resources: 1 added" in out
    assert registry_hooks(tmp_path / "hookplan.db") == {"a": ("AUTHORIZED", "")}
