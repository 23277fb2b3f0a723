"""Delivery end to end: each auth type against a real receiver checking exact headers, method, query and
(gzip) body; Standard Webhooks signatures; routing of the seed's samples; hooks changed while running;
the Read window over HTTP."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import time
from pathlib import Path

from forward_kit import (
    TokenServer,
    forwarder,
    hook_state,
    make_event,
    oauth_auth,
    param,
    put_hook,
    receiver,
    sample_events,
    spec,
    wait_until,
)
from hookplan import __version__
from hookplan.registry import SQLiteRegistry
from servers import serve_app

SIGNING_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_each_auth_type_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    tokens = TokenServer()
    with receiver() as (rec, rurl), serve_app(tokens.app()) as turl:
        rec.gate = lambda r: tokens.gate(r) if r.path == "/oauth" else None
        headers = [param("X-Tenant", "acme"), param("X-Route-Key", "route-S3cret", secret=True)]
        put_hook(db, "none", spec(rurl + "/none", method="PUT", headers=headers, query=[param("a", "1")]))
        basic = {"type": "BASIC", "username": "alice", "password": "open sesame"}
        put_hook(db, "basic", spec(rurl + "/basic?fixed=yes", auth=basic, query=[param("b", "2")]))
        api_key = {"type": "API_KEY", "key_name": "primary", "key_value": "k-42-S3cret"}
        gz = [param("Content-Encoding", "gzip")]
        put_hook(db, "api-key", spec(rurl + "/api-key", method="PATCH", auth=api_key, headers=gz))
        put_hook(db, "oauth", spec(rurl + "/oauth", auth=oauth_auth(turl + "/oauth2/token"), method="GET"))
        body = sample_events()["registration-success"].strip()
        with forwarder(db) as fwd:
            assert fwd.post(body).status_code == 202
            got = {r.path: r for r in rec.wait(4)}
    assert set(got) == {"/none", "/basic", "/api-key", "/oauth"}
    event_id = json.loads(body)["id"]
    for r in got.values():
        assert r.body == body  # the envelope as received, byte for byte
        assert r.headers["content-type"] == "application/json"
        assert r.headers["user-agent"] == f"hookplan/{__version__}"
        assert r.headers["webhook-id"] == event_id
        assert "webhook-signature" not in r.headers
    none, basic_r, key_r, oauth_r = got["/none"], got["/basic"], got["/api-key"], got["/oauth"]
    assert (none.method, none.query) == ("PUT", [("a", "1")])
    assert none.headers["x-tenant"] == "acme" and none.headers["x-route-key"] == "route-S3cret"
    assert "authorization" not in none.headers
    assert (basic_r.method, basic_r.query) == ("POST", [("fixed", "yes"), ("b", "2")])
    assert basic_r.headers["authorization"] == "Basic " + base64.b64encode(b"alice:open sesame").decode()
    assert key_r.method == "PATCH" and key_r.headers["authorization"] == "Bearer k-42-S3cret"
    assert key_r.headers["content-encoding"] == "gzip" and gzip.decompress(key_r.raw) == body
    assert key_r.raw != body
    assert oauth_r.method == "GET" and oauth_r.headers["authorization"] == "Bearer tok-1"
    [token_request] = tokens.requests
    assert token_request["method"] == "POST"
    expected = base64.b64encode(b"hookplan-fwd:fwd-client-S3cret-77").decode()
    assert token_request["headers"]["authorization"] == f"Basic {expected}"


def test_standard_webhooks_signature(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(
            db, "signed", spec(rurl + "/s", signing_secret=SIGNING_SECRET, headers=[param("Content-Encoding", "gzip")])
        )
        with forwarder(db) as fwd:
            fwd.post(make_event("sig-1"))
            [r] = rec.wait(1)
    ts = r.headers["webhook-timestamp"]
    assert abs(int(ts) - time.time()) < 60
    key = base64.b64decode(SIGNING_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"sig-1.{ts}.".encode() + r.body, hashlib.sha256).digest()
    assert r.headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()


def test_the_three_samples_reach_registration_and_all_hooks_and_nothing_else(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        for name in ("REGISTRATION", "ALL", "AUTHENTICATION", "ADMIN", "WEB_REGISTRATION"):
            put_hook(db, name.lower(), spec(rurl + "/" + name.lower(), event_type=name))
        put_hook(db, "off", spec(rurl + "/off", event_type="REGISTRATION", enabled=False))
        samples = sample_events()
        with forwarder(db) as fwd:
            batch = b"[" + b",".join(samples.values()) + b"]"
            assert fwd.post(batch).status_code == 202
            rec.wait(6)
            time.sleep(0.3)  # anything misrouted would arrive in this time
            paths = sorted(r.path for r in rec.received)
            assert paths == ["/all"] * 3 + ["/registration"] * 3
            ids = {json.loads(b)["id"] for b in samples.values()}
            assert set(rec.ids("/registration")) == ids == set(rec.ids("/all"))
            reading = fwd.admin("GET", "/v1/hooks/registration/events?hours=1").json()["events"]
            assert {e["event_id"] for e in reading} == ids
            assert {(e["outcome"], e["attempts"], e["last_status"]) for e in reading} == {("delivered", 1, 200)}
            assert {e["event_name"] for e in reading} == {"FIDO2_DEVICE_REG", "FIDO2_DEVICE_REG_COMPLETE"}
            assert all(e["latency_ms"] is not None for e in reading)
            off = fwd.admin("GET", "/v1/hooks/off/events?hours=24").json()["events"]
            assert {(e["outcome"], e["attempts"]) for e in off} == {("skipped", 0)}
            assert fwd.admin("GET", "/v1/hooks/authentication/events?hours=24").json()["events"] == []


def test_hooks_applied_changed_and_deleted_while_running_take_effect_within_a_second(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(db, "first", spec(rurl + "/first"))
        with forwarder(db) as fwd:
            fwd.post(make_event("c-1"))
            rec.wait(1)
            put_hook(db, "second", spec(rurl + "/second"))
            put_hook(db, "first", spec(rurl + "/first-v2"))  # an update: new endpoint

            def reloaded() -> bool:
                views = fwd.runtime.hooks.views  # a new snapshot on each reload
                return "second" in views and views["first"].hook.spec["endpoint"].endswith("/first-v2")

            wait_until(reloaded, 1.0, "the new and the changed hook")
            fwd.post(make_event("c-2"))
            rec.wait(3)
            assert rec.ids("/first-v2") == ["c-2"] and rec.ids("/second") == ["c-2"]
            registry = SQLiteRegistry(db)
            registry.delete_hook("second")
            registry.set_state("first", "UPDATING", "")
            registry.close()
            wait_until(lambda: "second" not in fwd.runtime.hooks.views, 1.0, "the deletion")
            wait_until(lambda: fwd.runtime.hooks.views["first"].state == "UPDATING", 1.0, "the state change")
            fwd.post(make_event("c-3"))
            time.sleep(0.5)
            assert len(rec.received) == 3  # deleted: nothing; UPDATING: held
            put_hook(db, "first", spec(rurl + "/first-v2"))  # authorized again: the held event flows
            rec.wait(4)
            assert rec.ids("/first-v2") == ["c-2", "c-3"]
            assert hook_state(db, "first")[0] == "AUTHORIZED"
            wait_until(lambda: fwd.runtime.metrics.deliveries[("first", "delivered")] == 3, 5, "metrics")


def test_error_text_is_scrubbed_of_every_secret_even_url_encoded() -> None:
    from hookplan.forward.deliver import scrub

    hook_spec = spec(
        "https://x.example/h",
        auth={"type": "BASIC", "username": "u", "password": "pw secret/1"},
        query=[param("token", "q&s=cr=t", secret=True)],
        signing_secret="whsec_c2lnbg==",
    )
    text = "GET https://x.example/h?token=q%26s%3Dcr%3Dt: pw secret/1 pw+secret%2F1 whsec_c2lnbg=="
    cleaned = scrub(text, hook_spec)
    for leaked in ("pw secret/1", "pw+secret%2F1", "q%26s%3Dcr%3Dt", "whsec_c2lnbg=="):
        assert leaked not in cleaned
    assert cleaned.count("(sensitive value)") == 4
