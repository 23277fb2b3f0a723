"""Unit tests of the remote registry's HTTP client (respx): retries, and one clear line when it gives up."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from hookplan.errors import HookplanError
from hookplan.registry.base import LockError
from hookplan.registry.remote import RemoteRegistry

URL = "http://forwarder.test:8080"


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr("hookplan.registry.remote.time.sleep", lambda _s: None)  # no real backoff waits
    reg = RemoteRegistry(URL, "admin-token", retries=3)
    yield reg
    reg.close()


@respx.mock
def test_idempotent_calls_retry_5xx_then_succeed(registry):
    route = respx.get(f"{URL}/v1/registry").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"lineage": "L", "serial": 7})]
    )
    meta = registry.meta()
    assert (meta.lineage, meta.serial) == ("L", 7)
    assert route.call_count == 3
    assert route.calls[0].request.headers["authorization"] == "Bearer admin-token"


@respx.mock
def test_connection_refused_gives_one_line_naming_the_url(registry):
    route = respx.get(f"{URL}/v1/hooks").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(HookplanError) as info:
        registry.list_hooks()
    message = str(info.value)
    assert message.startswith(f"{URL}/v1/hooks: connection refused") and "\n" not in message
    assert "after 4 attempt(s)" in message and route.call_count == 4


@respx.mock
def test_a_create_is_not_retried(registry):
    route = respx.post(f"{URL}/v1/hooks").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(HookplanError, match="timed out"):
        registry.carry_out("create", "h", type("H", (), {"spec": {}})(), "default")
    assert route.call_count == 1


@respx.mock
def test_wrong_token_is_one_line(registry):
    respx.get(f"{URL}/v1/hooks").mock(return_value=httpx.Response(401, json={"error": {"code": "unauthorized"}}))
    with pytest.raises(HookplanError, match="refused the token \\(401\\): set HOOKPLAN_TOKEN"):
        registry.list_hooks()


@respx.mock
def test_fingerprints_in_one_call_for_a_whole_plan(registry):
    route = respx.post(f"{URL}/v1/fingerprints").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"fingerprints": [f"fp-{v}" for v in json.loads(request.content)["values"]]}
        )
    )
    specs = [{"auth": {"type": "BASIC", "username": "u", "password": f"p{i % 3}"}} for i in range(50)]
    public = registry.public_specs(specs)
    assert route.call_count == 1
    assert {p["auth"]["password"] for p in public} == {"fp-p0", "fp-p1", "fp-p2"}
    assert specs[0]["auth"]["password"] == "p0", "the caller's specs are not modified"


@respx.mock
def test_lock_held_names_the_holder(registry):
    respx.post(f"{URL}/v1/lock").mock(
        return_value=httpx.Response(
            409, json={"error": {"code": "locked", "message": "locked", "field": None}, "holder": "ci #42", "since": 0}
        )
    )
    with pytest.raises(LockError, match="locked by ci #42"), registry.lock("me", timeout=0):
        pass
