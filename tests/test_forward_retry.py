"""Retries, dead letters, redrive, the age limit, SSRF refusal and the rate limit, against real receivers."""

from __future__ import annotations

import json
import random
import time
from email.utils import formatdate
from pathlib import Path

from forward_kit import cli, forwarder, make_event, put_hook, receiver, spec, wait_until
from hookplan.forward.retry import RetryPolicy, backoff, next_attempt_at, retry_after, retryable


def test_policy_classification_and_backoff() -> None:
    assert all(retryable(s) for s in (None, 401, 407, 409, 429, 500, 503, 599))
    assert not any(retryable(s) for s in (400, 403, 404, 410, 422, 301))
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    rng = random.Random(7)
    delays = [backoff(policy, n, rng) for n in range(1, 12) for _ in range(50)]
    assert all(0 <= d <= 30.0 for d in delays) and max(delays) > 15  # full jitter up to the cap
    assert retry_after("7") == 7.0 and retry_after("soon") is None and retry_after(None) is None
    assert 9 <= retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10.5  # type: ignore[operator]
    short = RetryPolicy(max_event_age=60.0)
    assert next_attempt_at(short, 1, created_at=0.0, now=30.0, asked=10.0) == 40.0
    assert next_attempt_at(short, 1, created_at=0.0, now=55.0, asked=10.0) is None  # past the age limit


def _events(fwd, hook: str) -> list[dict]:
    return fwd.admin("GET", f"/v1/hooks/{hook}/events?hours=1").json()["events"]


def test_a_receiver_failing_three_times_then_succeeding(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        rec.script.extend([(500, {}), (502, {}), (503, {})])
        put_hook(db, "flaky", spec(rurl + "/flaky"))
        with forwarder(db) as fwd:
            fwd.post(make_event("r-1"))
            wait_until(lambda: _events(fwd, "flaky")[0]["outcome"] == "delivered", 10, "delivered")
            [event] = _events(fwd, "flaky")
    assert rec.ids() == ["r-1"] * 4
    assert (event["attempts"], event["last_status"]) == (4, 200)


def test_429_with_retry_after_is_honoured(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        rec.script.append((429, {"Retry-After": "1"}))
        put_hook(db, "busy", spec(rurl + "/busy"))
        with forwarder(db, base_delay=0.01) as fwd:  # without Retry-After the retry would come at once
            fwd.post(make_event("r-429"))
            first, second = rec.wait(2)
    assert second.at - first.at >= 0.95


def test_400_is_dead_lettered_at_once_and_redrive_delivers_it(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        rec.script.append((400, {}))
        put_hook(db, "strict", spec(rurl + "/strict"))
        with forwarder(db) as fwd:
            fwd.post(make_event("r-400"))
            wait_until(lambda: _events(fwd, "strict")[0]["outcome"] == "dead-lettered", 10, "dead letter")
            time.sleep(0.3)
            assert rec.ids() == ["r-400"]  # no retry
            metrics = fwd.admin("GET", "/metrics").text
            assert 'hookplan_dead_letter_depth{hook="strict"} 1' in metrics
            assert 'hookplan_deliveries_total{hook="strict",outcome="dead"} 1' in metrics
            assert 'hookplan_attempt_duration_seconds_count{hook="strict"} 1' in metrics
            assert "hookplan_events_received_total 1" in metrics
            [dead] = fwd.admin("GET", "/v1/dead-letters?hook=strict").json()["dead_letters"]
            assert (dead["event_id"], dead["attempts"], dead["last_status"]) == ("r-400", 1, 400)
            listed = cli("dlq", "list", "--state", str(db))
            assert listed.returncode == 0 and "r-400" in listed.stdout and "HTTP 400" in listed.stdout
            as_json = json.loads(cli("dlq", "list", "--hook", "strict", "--json", "--state", str(db)).stdout)
            assert [d["event_id"] for d in as_json["dead_letters"]] == ["r-400"]
            redrive = cli("dlq", "redrive", "--hook", "strict", "--event", "r-400", "--state", str(db))
            assert redrive.returncode == 0 and "Redrove 1 dead letter" in redrive.stdout
            rec.wait(2)
            wait_until(lambda: _events(fwd, "strict")[0]["outcome"] == "delivered", 10, "redelivered")
            assert fwd.admin("GET", "/v1/dead-letters").json()["dead_letters"] == []
            assert cli("dlq", "redrive", "--state", str(db)).stdout.startswith("No dead letters matched")


def test_redrive_over_http_and_events_past_their_age_are_dead_lettered(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        rec.default = 503
        put_hook(db, "down", spec(rurl + "/down"))
        with forwarder(db, max_event_age=0.5) as fwd:
            fwd.post(make_event("r-old"))
            wait_until(lambda: _events(fwd, "down")[0]["outcome"] == "dead-lettered", 10, "exhausted")
            [event] = _events(fwd, "down")
            assert event["last_error"].startswith("retries exhausted after")
            assert event["attempts"] >= 2
            rec.default = 200
            response = fwd.admin("POST", "/v1/dead-letters/redrive", json={"hook": "down"})
            assert response.json() == {"redriven": 1}
            wait_until(lambda: _events(fwd, "down")[0]["outcome"] == "delivered", 10, "redriven")


def test_private_endpoints_are_refused_without_the_flag(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(db, "local", spec(rurl + "/local"))
        with forwarder(db, allow_private=False) as fwd:
            fwd.post(make_event("r-ssrf"))
            wait_until(lambda: _events(fwd, "local")[0]["outcome"] == "dead-lettered", 10, "refusal")
            [event] = _events(fwd, "local")
    assert rec.received == []
    assert "loopback" in event["last_error"] and "--allow-private-endpoints" in event["last_error"]
    assert event["attempts"] == 0


def test_the_rate_limit_delays_and_never_drops(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(db, "slow", spec(rurl + "/slow", rate=5))
        with forwarder(db) as fwd:
            fwd.post([make_event(f"rl-{i}") for i in range(10)])
            got = rec.wait(10, timeout=15)
    times = sorted(r.at for r in got)
    assert times[-1] - times[0] >= 0.8  # 5 at once (one second's burst), then one every 0.2 s
    assert sorted(rec.ids()) == sorted(f"rl-{i}" for i in range(10))


def test_concurrency_follows_the_receivers_own_latency_not_queueing() -> None:
    import httpx

    from hookplan.forward.lane import Lane
    from hookplan.forward.routing import HookView
    from hookplan.model import Hook

    lane = Lane(
        HookView(Hook("h", spec("http://127.0.0.1:9/x")), "AUTHORIZED", ""), None, httpx.AsyncHTTPTransport(), 5.0
    )
    assert lane.limit(32) == 4 and lane.limit(1) == 1  # nothing measured yet; the ceiling always holds
    for seconds in [0.050] + [0.300] * 31:  # a far receiver, plus queueing on some attempts
        lane.observe(seconds)
    assert lane.limit(32) == 25 and lane.limit(8) == 8
    for seconds in [0.001] + [0.040] * 31:  # a near receiver behind a busy CPU
        lane.observe(seconds)
    assert lane.limit(32) == 4


def test_deliveries_held_by_a_hook_that_is_not_ready_are_dead_lettered_at_the_age_limit(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(db, "pending-auth", spec(rurl + "/p"), state="AUTHORIZING")
        with forwarder(db, max_event_age=0.4) as fwd:
            fwd.post(make_event("held-1"))
            wait_until(lambda: _events(fwd, "pending-auth")[0]["outcome"] == "dead-lettered", 5, "age limit")
            [event] = _events(fwd, "pending-auth")
    assert rec.received == [] and event["attempts"] == 0
    assert event["last_error"] == "hook AUTHORIZING; the event reached its maximum age"
