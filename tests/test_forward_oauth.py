"""OAuth client credentials through the forwarder: token cached across deliveries, one refresh on a revoked
token, a refusing token endpoint deauthorizes the hook (reason in the registry), and recovery."""

from __future__ import annotations

from pathlib import Path

from forward_kit import (
    CLIENT_SECRET,
    TokenServer,
    forwarder,
    hook_state,
    make_event,
    oauth_auth,
    put_hook,
    receiver,
    spec,
    wait_until,
)
from servers import serve_app


def test_token_cached_across_deliveries_and_refreshed_once_when_revoked(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    tokens = TokenServer()
    with receiver() as (rec, rurl), serve_app(tokens.app()) as turl:
        rec.gate = tokens.gate
        put_hook(db, "siem", spec(rurl + "/siem", auth=oauth_auth(turl + "/oauth2/token")))
        with forwarder(db) as fwd:
            for i in range(5):
                assert fwd.post(make_event(f"o-{i}")).status_code == 202
            rec.wait(5)
            assert len(tokens.requests) == 1  # one token for five deliveries
            tokens.valid.discard("tok-1")  # revoked: the receiver now answers 401 to it
            fwd.post(make_event("o-revoked"))
            received = rec.wait(7)
            events = fwd.admin("GET", "/v1/hooks/siem/events?hours=1").json()["events"]
    assert len(tokens.requests) == 2  # exactly one refresh
    last_two = received[-2:]
    assert [r.headers["authorization"] for r in last_two] == ["Bearer tok-1", "Bearer tok-2"]
    assert [r.headers["webhook-id"] for r in last_two] == ["o-revoked", "o-revoked"]
    revoked = next(e for e in events if e["event_id"] == "o-revoked")
    assert (revoked["outcome"], revoked["attempts"], revoked["last_status"]) == ("delivered", 1, 200)


def test_a_refusing_token_endpoint_deauthorizes_the_hook_then_it_recovers(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    tokens = TokenServer(refuse=True)
    with receiver() as (rec, rurl), serve_app(tokens.app()) as turl:
        rec.gate = tokens.gate
        put_hook(db, "siem", spec(rurl + "/siem", auth=oauth_auth(turl + "/oauth2/token")))
        with forwarder(db) as fwd:
            fwd.post(make_event("d-1"))
            _state, reason = wait_until(
                lambda: (s := hook_state(db, "siem"))[0] == "DEAUTHORIZED" and s, 10, "DEAUTHORIZED"
            )
            assert "401" in reason and "invalid_client" in reason, reason
            assert CLIENT_SECRET not in reason
            fwd.post(make_event("d-2"))  # held while deauthorized, not lost
            refused_so_far = len(tokens.requests)
            assert rec.received == []
            tokens.refuse = False
            wait_until(lambda: hook_state(db, "siem") == ("AUTHORIZED", ""), 10, "AUTHORIZED again")
            rec.wait(2)
            assert sorted(rec.ids()) == ["d-1", "d-2"]
            assert refused_so_far < 20  # probes are paced, not a tight loop
            metrics = fwd.admin("GET", "/metrics").text
    assert 'hookplan_hook_info{hook="siem",connection_state="AUTHORIZED"' in metrics
    assert CLIENT_SECRET not in metrics


def test_an_unreachable_token_endpoint_is_named_and_retried(tmp_path: Path) -> None:
    import socket

    db = tmp_path / "hookplan.db"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with receiver() as (rec, rurl):
        put_hook(db, "siem", spec(rurl + "/siem", auth=oauth_auth(f"http://127.0.0.1:{dead}/oauth2/token")))
        with forwarder(db, base_delay=5.0) as fwd:
            fwd.post(make_event("u-1"))
            path = "/v1/hooks/siem/events?hours=1"
            [event] = wait_until(lambda: (e := fwd.admin("GET", path).json()["events"]) and e[0]["attempts"] and e)
    assert event["outcome"] == "retrying" and event["last_status"] is None
    assert event["last_error"].startswith("OAuth token endpoint: ConnectError"), event["last_error"]
    assert rec.received == []
