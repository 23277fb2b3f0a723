"""The forwarder as a real process: kill -9 with thousands of events queued and in flight, SIGTERM, the
``read`` command, start-up refusals, and no secret value in its log, metrics or responses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from forward_kit import (
    ADMIN_TOKEN,
    CLIENT_SECRET,
    INGEST_TOKEN,
    Process,
    TokenServer,
    cli,
    make_event,
    oauth_auth,
    param,
    put_hook,
    receiver,
    spawner,
    spec,
    wait_until,
)
from servers import serve_app


@pytest.fixture
def spawn() -> Iterator[Callable[..., Process]]:
    yield from spawner()


INGEST = {"Authorization": f"Bearer {INGEST_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _post_batches(url: str, batches: int, size: int, accepted: set[str], stop: threading.Event) -> None:
    """Post until told to stop or the server dies; remember exactly the ids answered 202."""
    with httpx.Client(timeout=10) as client:
        for b in range(batches):
            if stop.is_set():
                return
            events = [make_event(f"k-{b}-{i}") for i in range(size)]
            try:
                response = client.post(url + "/v1/events", json=events, headers=INGEST)
            except httpx.HTTPError:
                return
            if response.status_code == 202:
                accepted.update(e["id"] for e in events)


def test_kill_9_with_thousands_queued_loses_nothing_accepted(tmp_path: Path, spawn: Callable[..., Process]) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        rec.delay = 0.002
        put_hook(db, "sink", spec(rurl + "/sink", rate=100000))
        fwd = spawn(db, "--allow-private-endpoints")
        accepted: set[str] = set()
        stop = threading.Event()
        poster = threading.Thread(target=_post_batches, args=(fwd.url, 60, 100, accepted, stop))
        poster.start()
        wait_until(lambda: len(accepted) >= 3000 and len(rec.received) >= 300, 60, "a backlog")
        fwd.kill9()  # mid-stream: events queued, attempts in flight, posts arriving
        stop.set()
        poster.join()
        delivered_before = set(rec.ids())
        assert len(accepted) - len(delivered_before) > 1000  # thousands really were queued
        restarted = spawn(db, "--allow-private-endpoints")
        try:
            wait_until(lambda: accepted <= set(rec.ids()), 90, "every accepted event delivered")
        finally:
            assert restarted.terminate() == 0
    assert accepted <= set(rec.ids())


def test_sigterm_lets_in_flight_attempts_finish_and_exits_cleanly(
    tmp_path: Path, spawn: Callable[..., Process]
) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        rec.delay = 0.4
        put_hook(db, "slow", spec(rurl + "/slow"))
        fwd = spawn(db, "--allow-private-endpoints", "--concurrency", "4")
        httpx.post(fwd.url + "/v1/events", json=[make_event(f"t-{i}") for i in range(12)], headers=INGEST)
        rec.wait(4)  # four attempts in flight, eight queued
        started = time.monotonic()
        assert fwd.terminate() == 0
        assert time.monotonic() - started < 5
        log = fwd.log()
        assert "forwarder stopped" in log
        done = fwd_read(db, "slow")
        assert sum(1 for e in done if e["outcome"] == "delivered") >= 4  # in-flight ones finished, recorded
        again = spawn(db, "--allow-private-endpoints")
        wait_until(lambda: {f"t-{i}" for i in range(12)} <= set(rec.ids()), 20, "the rest after restart")
        assert again.terminate() == 0


def fwd_read(db: Path, hook: str, hours: str = "1") -> list[dict]:
    result = cli("read", hook, "--hours", hours, "--json", "--state", str(db))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["events"]


def test_read_for_1_and_24_hours_and_refusals(tmp_path: Path, spawn: Callable[..., Process]) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(db, "siem", spec(rurl + "/siem"))
        fwd = spawn(db, "--allow-private-endpoints")
        httpx.post(fwd.url + "/v1/events", json=[make_event("read-1"), make_event("read-2")], headers=INGEST)
        rec.wait(2)
        wait_until(lambda: len([e for e in fwd_read(db, "siem") if e["outcome"] == "delivered"]) == 2, 10, "log")
        over_http = httpx.get(fwd.url + "/v1/hooks/siem/events", params={"hours": 24}, headers=ADMIN).json()
        remote = cli("read", "siem", "--hours", "2", "--remote", fwd.url, env={"HOOKPLAN_TOKEN": ADMIN_TOKEN})
        assert remote.returncode == 0 and "read-1" in remote.stdout and "read-2" in remote.stdout
        wrong = cli("dlq", "list", "--remote", fwd.url, env={"HOOKPLAN_TOKEN": INGEST_TOKEN})
        assert wrong.returncode == 1 and "refused the token (403)" in wrong.stderr
        assert wrong.stderr.count("\n") == 1
        empty = cli("dlq", "list", "--remote", fwd.url, env={"HOOKPLAN_TOKEN": ADMIN_TOKEN})
        assert empty.returncode == 0 and empty.stdout.strip() == "No dead letters."
        assert fwd.terminate() == 0
    for hours in ("1", "24"):
        table = cli("read", "siem", "--hours", hours, "--state", str(db))
        assert table.returncode == 0
        header, _rule, *rows = table.stdout.splitlines()
        assert header.split() == [
            "EVENT",
            "ID",
            "EVENT",
            "NAME",
            "TIME",
            "OUTCOME",
            "ATTEMPTS",
            "LAST",
            "STATUS",
            "LATENCY",
        ]
        assert len(rows) == 2 and all("delivered" in r and " 200 " in r for r in rows)
        assert {r.split()[0] for r in rows} == {"read-1", "read-2"}
    assert [e["event_id"] for e in over_http["events"]] == ["read-2", "read-1"]
    for hours in ("0", "25", "two"):
        refused = cli("read", "siem", "--hours", hours, "--state", str(db))
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.count("\n") == 1 and "--hours" in refused.stderr and "1 to 24" in refused.stderr
    unknown = cli("read", "nope", "--hours", "1", "--state", str(db))
    assert unknown.returncode == 1 and "no hook named 'nope'" in unknown.stderr
    missing = cli("read", "siem", "--hours", "1", "--state", str(tmp_path / "absent.db"))
    assert missing.returncode == 1 and "no registry" in missing.stderr and "Traceback" not in missing.stderr


def test_start_up_refusals_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    open_to_all = cli("forward", "--listen", "0.0.0.0:0", "--state", str(db))
    assert open_to_all.returncode == 1 and "without HOOKPLAN_INGEST_TOKEN" in open_to_all.stderr
    bad = cli("forward", "--listen", "localhost", "--state", str(db))
    assert bad.returncode == 1 and "expected HOST:PORT" in bad.stderr
    age = cli("forward", "--max-event-age", "forever", "--state", str(db))
    assert age.returncode == 1 and "--max-event-age" in age.stderr
    for result in (open_to_all, bad, age):
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_no_secret_value_in_logs_metrics_or_responses(tmp_path: Path, spawn: Callable[..., Process]) -> None:
    db = tmp_path / "hookplan.db"
    secrets = {
        "password": "pw-S3cret-basic-41",
        "key": "key-S3cret-apikey-42",
        "route": "route-S3cret-param-43",
        "scope": "scope-S3cret-query-44",
        "signing": "sign-S3cret-45",
        "client": CLIENT_SECRET,
    }
    tokens = TokenServer(refuse=True)
    with receiver() as (rec, rurl), serve_app(tokens.app()) as turl:
        rec.script.extend([(500, {}), (401, {}), (400, {})])
        basic = {"type": "BASIC", "username": "u", "password": secrets["password"]}
        put_hook(db, "basic", spec(rurl + "/basic", auth=basic, headers=[param("X-Route", secrets["route"], True)]))
        key = {"type": "API_KEY", "key_name": "k", "key_value": secrets["key"]}
        query = [param("scope", secrets["scope"], True)]
        put_hook(db, "key", spec(rurl + "/key", auth=key, query=query, signing_secret=secrets["signing"]))
        oauth = oauth_auth(turl + "/oauth2/token", query=[param("audience", secrets["scope"], True)])
        put_hook(db, "oauth", spec(rurl + "/oauth", auth=oauth))
        fwd = spawn(db, "--allow-private-endpoints")
        httpx.post(fwd.url + "/v1/events", json=[make_event(f"s-{i}") for i in range(3)], headers=INGEST)
        wait_until(lambda: len(tokens.requests) >= 1, 10, "a refused token request")
        wait_until(lambda: len(rec.received) >= 6, 10, "deliveries, retries and a dead letter")
        wait_until(lambda: "deauthorized" in fwd.log() and "dead-lettered" in fwd.log(), 10, "log lines")
        bodies = [httpx.get(fwd.url + p, headers=ADMIN).text for p in ("/metrics", "/v1/dead-letters", "/healthz")]
        for h in ("basic", "key", "oauth"):
            bodies.append(httpx.get(fwd.url + f"/v1/hooks/{h}/events?hours=1", headers=ADMIN).text)
        bodies += [
            cli("dlq", "list", "--state", str(db)).stdout,
            cli("read", "oauth", "--hours", "1", "--state", str(db)).stdout,
        ]
        assert fwd.terminate() == 0
        log = fwd.log()
    assert "dead-lettered" in log and "deauthorized" in log  # the log did talk about these hooks
    assert all(json.loads(line) for line in log.splitlines())  # one JSON object a line
    for name, value in secrets.items():
        for where, text in [("log", log), *((f"response {i}", b) for i, b in enumerate(bodies))]:
            assert value not in text, f"{name} secret leaked into the {where}"
    for token in (INGEST_TOKEN, ADMIN_TOKEN):
        assert token not in log
