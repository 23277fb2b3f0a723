"""The GitOps loop against a real forwarder subprocess: plan/apply/show --remote, the control API itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servers import serve_app

ADMIN = "admin-Token-5531"
INGEST = "ingest-Token-6642"
PASSWORD = "remote-Password-7753"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "events"  # the seed's sample events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Forwarder:
    """``hookplan forward`` as a real process on 127.0.0.1, restartable on the same registry file."""

    def __init__(self, state: Path, log: Path):
        self.state, self.log_path = state, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Forwarder:
        env = {**os.environ, "HOOKPLAN_TOKEN": ADMIN, "HOOKPLAN_INGEST_TOKEN": INGEST, "NO_COLOR": "1"}
        self.log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hookplan",
                "forward",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--state",
                str(self.state),
                "--allow-private-endpoints",
                "--retry-base-delay",
                "0.05s",
                "--log-format",
                "json",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("forwarder did not start:\n" + self.log_path.read_text())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.log.close()


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []

    async def hook(self, request: Request) -> Response:
        self.requests.append(
            {"path": request.url.path, "headers": dict(request.headers), "body": (await request.body()).decode()}
        )
        return Response(status_code=200)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.hook, methods=["POST", "PUT", "PATCH", "GET"])])


@pytest.fixture
def forwarder(tmp_path):
    fwd = Forwarder(tmp_path / "server.db", tmp_path / "forwarder.log").start()
    yield fwd
    fwd.stop()


@pytest.fixture
def receiver():
    rec = Receiver()
    with serve_app(rec.app()) as url:
        rec.url = url.replace("127.0.0.1", "localhost")
        yield rec


def cli(*args: str, token: str = ADMIN, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOOKPLAN_TOKEN": token, "NO_COLOR": "1", "HP_REMOTE_PASSWORD": PASSWORD}
    env.pop("HOOKPLAN_REMOTE", None)
    return subprocess.run(
        [sys.executable, "-m", "hookplan", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def write(path: Path, hooks: list[dict], workspace: str = "default") -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "workspace": workspace, "hooks": hooks}, sort_keys=False))
    return path


def basic(name: str, endpoint: str, tenant: str = "acme", event_type: str = "REGISTRATION") -> dict:
    return {
        "name": name,
        "event_type": event_type,
        "endpoint": endpoint,
        "http_method": "POST",
        "auth": {"type": "BASIC", "username": "svc", "password": "${env:HP_REMOTE_PASSWORD}"},
        "invocation_http_parameters": {"header": [{"key": "X-Tenant", "value": tenant}]},
    }


def admin(fwd: Forwarder, method: str, path: str, token: str = ADMIN, **kwargs) -> httpx.Response:
    return httpx.request(
        method,
        fwd.url + path,
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        timeout=10,
        **kwargs,
    )


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_gitops_loop_against_a_running_forwarder(tmp_path, forwarder, receiver):
    f = write(tmp_path / "hooks.yaml", [basic("siem-registrations", f"{receiver.url}/siem")])
    remote = ["--remote", forwarder.url]
    plan = cli("plan", "-f", str(f), *remote, "--detailed-exitcode")
    assert plan.returncode == 2, plan.stderr
    assert 'hook "siem-registrations" will be created' in plan.stdout
    comment = cli("plan", "-f", str(f), *remote, "--format", "markdown")
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in comment.stdout

    applied = cli("apply", "-f", str(f), *remote, "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete! Resources: 1 added" in applied.stdout
    assert cli("plan", "-f", str(f), *remote, "--detailed-exitcode").returncode == 0

    shown = cli("show", *remote)
    assert "siem-registrations" in shown.stdout and "AUTHORIZED" in shown.stdout

    write(f, [basic("siem-registrations", f"{receiver.url}/siem", tenant="globex")])
    plan = cli("plan", "-f", str(f), *remote, "--detailed-exitcode")
    assert plan.returncode == 2 and 'value = "acme"} -> {key = "X-Tenant", value = "globex"}' in plan.stdout
    assert cli("apply", "-f", str(f), *remote, "--auto-approve").returncode == 0

    time.sleep(1.0)  # the contract: a change takes effect within a second, without a restart
    event = (FIXTURES / "registration-success.json").read_bytes()
    r = httpx.post(
        f"{forwarder.url}/v1/events",
        content=event,
        timeout=10,
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": "application/json"},
    )
    assert r.status_code == 202, r.text
    wait_for(lambda: len(receiver.requests) == 1)
    delivered = receiver.requests[0]
    assert delivered["headers"]["x-tenant"] == "globex"
    assert delivered["headers"]["authorization"].startswith("Basic ")
    assert json.loads(delivered["body"]) == json.loads(event)

    read = cli("read", "siem-registrations", "--hours", "1", *remote, "--json")
    assert read.returncode == 0, read.stderr
    for out in (
        plan.stdout,
        comment.stdout,
        applied.stdout,
        shown.stdout,
        read.stdout,
        admin(forwarder, "GET", "/v1/hooks").text,
        forwarder.log_path.read_text(),
    ):
        assert PASSWORD not in out and ADMIN not in out


def test_workspaces_share_a_forwarder_and_import_adopts(tmp_path, forwarder, receiver):
    remote = ["--remote", forwarder.url]
    team_a = write(tmp_path / "a.yaml", [basic("a1", f"{receiver.url}/a1")], workspace="team-a")
    team_b = write(tmp_path / "b.yaml", [basic("b1", f"{receiver.url}/b1")], workspace="team-b")
    assert cli("apply", "-f", str(team_a), *remote, "--auto-approve").returncode == 0
    assert cli("apply", "-f", str(team_b), *remote, "--auto-approve").returncode == 0
    plan = cli("plan", "-f", str(team_a), *remote, "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout
    assert "not managed here" in plan.stdout and "b1" in plan.stdout
    destroyed = cli("destroy", "-f", str(team_a), *remote, "--auto-approve")
    assert destroyed.returncode == 0 and "1 destroyed" in destroyed.stdout
    names = [h["name"] for h in admin(forwarder, "GET", "/v1/hooks").json()["hooks"]]
    assert names == ["b1"]

    write(team_a, [basic("b1", f"{receiver.url}/b1", tenant="adopted")], workspace="team-a")
    refused = cli("plan", "-f", str(team_a), *remote)
    assert refused.returncode == 1 and "managed by workspace 'team-b'" in refused.stderr
    assert cli("import", "b1", "-f", str(team_a), *remote).returncode == 0
    plan = cli("plan", "-f", str(team_a), *remote)
    assert 'value = "acme"} -> {key = "X-Tenant", value = "adopted"}' in plan.stdout


def test_if_match_and_immutable_names(tmp_path, forwarder, receiver):
    f = write(tmp_path / "hooks.yaml", [basic("h", f"{receiver.url}/h")])
    assert cli("apply", "-f", str(f), "--remote", forwarder.url, "--auto-approve").returncode == 0
    hook = admin(forwarder, "GET", "/v1/hooks/h")
    etag, spec = hook.headers["etag"], hook.json()["spec"]
    spec["auth"]["password"] = "another-Password-1"
    first = admin(forwarder, "PUT", "/v1/hooks/h", json={"name": "h", "spec": spec}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.json()["connection_state"] == "UPDATING"
    stale = admin(forwarder, "PUT", "/v1/hooks/h", json={"name": "h", "spec": spec}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    stale_delete = admin(forwarder, "DELETE", "/v1/hooks/h", headers={"If-Match": etag})
    assert stale_delete.status_code == 412
    renamed = admin(forwarder, "PUT", "/v1/hooks/h", json={"name": "h2", "spec": spec})
    assert renamed.status_code == 400 and renamed.json()["error"]["field"] == "name"
    for response in (hook, first, stale, renamed):
        assert "another-Password-1" not in response.text and PASSWORD not in response.text
    assert admin(forwarder, "GET", "/v1/hooks/h?wait=5").json()["connection_state"] == "AUTHORIZED"


def test_tokens_are_checked(forwarder):
    assert httpx.get(f"{forwarder.url}/v1/hooks").status_code == 401
    assert admin(forwarder, "GET", "/v1/hooks", token="wrong").status_code == 401
    assert admin(forwarder, "GET", "/v1/hooks", token=INGEST).status_code == 403
    denied = cli("show", "--remote", forwarder.url, token="wrong")
    assert denied.returncode == 1
    assert denied.stderr.count("\n") == 1 and "refused the token" in denied.stderr


def test_unreachable_remote_is_one_line(tmp_path):
    f = write(tmp_path / "hooks.yaml", [basic("h", "https://h.example.com/")])
    result = cli("plan", "-f", str(f), "--remote", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: http://127.0.0.1:") and "connection refused" in result.stderr
    assert "Traceback" not in result.stderr


class SlowTokens:
    def __init__(self):
        self.count = 0

    async def token(self, request: Request) -> JSONResponse:
        import asyncio

        self.count += 1
        await asyncio.sleep(0.3)
        return JSONResponse({"access_token": "t", "expires_in": 3600})


def test_forwarder_stopped_mid_apply(tmp_path):
    tokens = SlowTokens()
    with serve_app(Starlette(routes=[Route("/token", tokens.token, methods=["POST"])])) as token_url:
        token_url = token_url.replace("127.0.0.1", "localhost") + "/token"
        hooks = [
            {
                "name": f"o{i:02d}",
                "event_type": "ALL",
                "endpoint": f"https://o{i}.example.com/",
                "http_method": "POST",
                "auth": {
                    "type": "OAUTH_CLIENT_CREDENTIALS",
                    "authorization_endpoint": token_url,
                    "client_id": "c",
                    "client_secret": "${env:HP_REMOTE_PASSWORD}",
                },
            }
            for i in range(20)
        ]
        f = write(tmp_path / "hooks.yaml", hooks)
        fwd = Forwarder(tmp_path / "server.db", tmp_path / "forwarder.log").start()
        try:
            apply = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hookplan",
                    "apply",
                    "-f",
                    str(f),
                    "--remote",
                    fwd.url,
                    "--auto-approve",
                    "--parallelism",
                    "2",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "HOOKPLAN_TOKEN": ADMIN, "HP_REMOTE_PASSWORD": PASSWORD, "NO_COLOR": "1"},
            )
            wait_for(lambda: tokens.count >= 4)
            fwd.stop(signal.SIGKILL)
            out, err = apply.communicate(timeout=120)
            assert apply.returncode == 1, out + err
            done = out.count("Creation complete")
            assert 1 <= done < 20 and "failed" in out and "Traceback" not in out + err
            fwd = Forwarder(tmp_path / "server.db", tmp_path / "forwarder2.log").start()
            plan = cli("plan", "-f", str(f), "--remote", fwd.url, "--format", "json")
            summary = json.loads(plan.stdout)["summary"]
            settled = [
                h for h in admin(fwd, "GET", "/v1/hooks").json()["hooks"] if h["connection_state"] == "AUTHORIZED"
            ]
            assert len(settled) >= done
            assert summary["add"] + summary["change"] == 20 - len(settled)
            # The killed server could not take the lock back: the next apply names the holder, like Terraform.
            locked = cli("apply", "-f", str(f), "--remote", fwd.url, "--auto-approve")
            assert locked.returncode == 1 and "is locked by hookplan apply" in locked.stderr
            assert cli("force-unlock", "--remote", fwd.url).returncode == 0
            assert cli("apply", "-f", str(f), "--remote", fwd.url, "--auto-approve").returncode == 0
            assert cli("plan", "-f", str(f), "--remote", fwd.url, "--detailed-exitcode").returncode == 0
        finally:
            fwd.stop()


def test_openapi_is_served_and_matches_responses(forwarder, receiver, tmp_path):
    import jsonschema

    spec = httpx.get(f"{forwarder.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    components = spec["components"]["schemas"]

    def check(response: httpx.Response, path: str, method: str) -> None:
        operation = spec["paths"][path][method]
        declared = operation["responses"][str(response.status_code)]
        if "$ref" in declared:
            declared = spec["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
        if "content" in declared:
            schema = {**declared["content"]["application/json"]["schema"], "components": {"schemas": components}}
            jsonschema.validate(response.json(), _rebase(schema))

    f = write(tmp_path / "hooks.yaml", [basic("h", f"{receiver.url}/h")])
    assert cli("apply", "-f", str(f), "--remote", forwarder.url, "--auto-approve").returncode == 0
    check(admin(forwarder, "GET", "/v1/hooks"), "/v1/hooks", "get")
    check(admin(forwarder, "GET", "/v1/hooks/h"), "/v1/hooks/{name}", "get")
    check(admin(forwarder, "GET", "/v1/hooks/nope"), "/v1/hooks/{name}", "get")
    check(admin(forwarder, "GET", "/v1/registry"), "/v1/registry", "get")
    check(admin(forwarder, "POST", "/v1/hooks", json={"name": "bad name"}), "/v1/hooks", "post")
    check(admin(forwarder, "GET", "/v1/hooks", token=INGEST), "/v1/hooks", "get")
    check(admin(forwarder, "POST", "/v1/fingerprints", json={"values": ["x"]}), "/v1/fingerprints", "post")
    event = (FIXTURES / "registration-success.json").read_bytes()
    ingest = {"Authorization": f"Bearer {INGEST}"}
    check(httpx.post(f"{forwarder.url}/v1/events", content=event, headers=ingest), "/v1/events", "post")
    check(
        httpx.post(f"{forwarder.url}/v1/events", content=b"[" + event + b", {}]", headers=ingest), "/v1/events", "post"
    )
    check(httpx.post(f"{forwarder.url}/v1/events", content=b"{", headers=ingest), "/v1/events", "post")
    check(admin(forwarder, "GET", "/v1/hooks/h/events?hours=1"), "/v1/hooks/{name}/events", "get")
    check(admin(forwarder, "GET", "/v1/hooks/h/events?hours=25"), "/v1/hooks/{name}/events", "get")
    check(admin(forwarder, "GET", "/v1/dead-letters"), "/v1/dead-letters", "get")
    check(admin(forwarder, "POST", "/v1/dead-letters/redrive", json={}), "/v1/dead-letters/redrive", "post")


def _rebase(schema: dict) -> dict:
    """OpenAPI's '#/components/schemas/X' refs resolve against the schema we wrap them in."""
    return schema


@pytest.mark.parametrize("seed", [0])
def test_generated_requests_never_5xx(forwarder, seed):
    """Thousands of generated requests against the control API: never a 5xx, and it keeps serving."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=12,
    )
    good_spec = {
        "event_type": "ALL",
        "endpoint": "https://x.example.com/",
        "http_method": "POST",
        "enabled": True,
        "auth": {"type": "NONE"},
        "invocation_http_parameters": {"header": [], "query_string": []},
        "rate_limit_per_second": 300,
    }
    spec_mutations = st.fixed_dictionaries({}, optional={k: json_values for k in good_spec}).map(
        lambda m: {**good_spec, **m}
    )
    names = st.text(alphabet="abc._-/%? ", min_size=0, max_size=70)
    client = httpx.Client(base_url=forwarder.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    seen: list[int] = []

    @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
        path=st.sampled_from(
            [
                "/v1/hooks",
                "/v1/hooks/{n}",
                "/v1/hooks/{n}/workspace",
                "/v1/fingerprints",
                "/v1/lock",
                "/v1/registry",
                "/v1/hooks/{n}?wait=0",
            ]
        ),
        name=names,
        body=st.one_of(
            json_values,
            st.builds(lambda n, s, w: {"name": n, "spec": s, "workspace": w}, names, spec_mutations, json_values),
        ),
        if_match=st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=8)),
    )
    def fire(method, path, name, body, if_match):
        url = path.replace("{n}", httpx.URL(name).raw_path.decode() if name else "x")
        headers = {"If-Match": if_match} if if_match is not None and if_match.isprintable() else {}
        content = json.dumps(body).encode()
        response = client.request(method, url, content=content, headers=headers)
        seen.append(response.status_code)
        assert response.status_code < 500, (method, url, body, response.text)

    fire()
    assert len(seen) >= 1500
    assert client.get("/v1/registry").status_code == 200
    assert httpx.get(f"{forwarder.url}/healthz").status_code == 200
    client.close()


def test_saved_plan_against_a_remote_is_refused_when_it_changed(tmp_path, forwarder, receiver):
    remote = ["--remote", forwarder.url]
    f = write(tmp_path / "hooks.yaml", [basic("a", f"{receiver.url}/a")])
    plan_file = tmp_path / "a.plan"
    assert cli("plan", "-f", str(f), *remote, "--out", str(plan_file)).returncode == 0
    assert cli("apply", "-f", str(f), *remote, "--auto-approve").returncode == 0  # someone else applies first
    stale = cli("apply", str(plan_file), *remote)
    assert stale.returncode == 1 and "stale" in stale.stderr
    write(f, [basic("a", f"{receiver.url}/a", tenant="initech")])
    assert cli("plan", "-f", str(f), *remote, "--out", str(plan_file)).returncode == 0
    fresh = cli("apply", str(plan_file), *remote)
    assert fresh.returncode == 0 and "1 changed" in fresh.stdout
