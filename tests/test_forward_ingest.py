"""Ingest: parsing (one / array / NDJSON, bytes kept as received), schema errors naming the field, size
limits, tokens, and a server that keeps serving after bad input. Real forwarder on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forward_kit import ADMIN_TOKEN, INGEST_TOKEN, forwarder, make_event, put_hook, receiver, sample_events, spec
from hookplan.forward.envelope import BodyError, Envelope, Rejection, _validator, looks_valid, parse_body


def test_single_array_and_ndjson_keep_each_event_as_received() -> None:
    raw = sample_events()
    one = parse_body(raw["registration-success"])
    assert isinstance(one[0], Envelope) and one[0].body == raw["registration-success"].strip()
    items = [raw["initiate-registration"], raw["registration-failure"]]
    array = parse_body(b"[ " + b" ,\n".join(items) + b" ]")
    assert [e.body for e in array] == [i.strip() for i in items]  # type: ignore[union-attr]
    lines = b"\n".join(json.dumps(json.loads(i)).encode() for i in items)
    nd = parse_body(lines, "application/x-ndjson")
    assert [e.id for e in nd] == ["e0932981-65a5-1344-f27e-bcc395837a59", "007a2c58-b2ac-2f31-fdee-bef9b78af97e"]  # type: ignore[union-attr]
    assert nd[0].name == "FIDO2_DEVICE_REG" and nd[0].tags == ("REGISTRATION",)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("id"), "id"),
        (lambda e: e.update(id=42), "id"),
        (lambda e: e.update(time="yesterday"), "time"),
        (lambda e: e["detail"].pop("eventTags"), "detail.eventTags"),
        (lambda e: e["detail"].update(eventTags="REGISTRATION"), "detail.eventTags"),
        (lambda e: e["detail"].update(eventTags=[7]), "detail.eventTags[0]"),
        (lambda e: e.update(detail=[]), "detail"),
    ],
)
def test_schema_errors_name_the_field(mutate, field: str) -> None:
    event = make_event("x-1")
    mutate(event)
    [result] = parse_body(json.dumps(event).encode())
    assert isinstance(result, Rejection) and result.status == 400
    assert result.field == field, result.message


def test_whole_body_errors() -> None:
    for body in (b"", b"   ", b"{not json", b"[1, 2", b"[]", b"\xff\xfe"):
        with pytest.raises(BodyError) as info:
            parse_body(body)
        assert info.value.status == 400
    [refused] = parse_body(b"42")
    assert isinstance(refused, Rejection) and refused.message == "an event must be a JSON object"


def test_an_event_over_256_kb_is_413() -> None:
    big = make_event("big-1", pad="x" * (256 * 1024))
    [result] = parse_body(json.dumps(big).encode())
    assert isinstance(result, Rejection) and result.status == 413 and result.id == "big-1"


def test_bad_input_over_http_is_4xx_and_the_server_keeps_serving(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(db, "all", spec(rurl + "/all"))
        with forwarder(db) as fwd:
            good = make_event("good-1")
            cases = [
                (fwd.post(b"{oops", headers={"Content-Type": "application/json"}), 400, "malformed_json", None),
                (fwd.post({**good, "id": 5}), 400, "invalid_event", "id"),
                (fwd.post({k: v for k, v in good.items() if k != "detail"}), 400, "invalid_event", "detail"),
                (fwd.post({**good, "pad": "x" * 300_000}), 413, "too_large", None),
                (fwd.post(b"[" + b"1," * (9 * 1024 * 1024) + b"1]"), 413, "too_large", None),
                (fwd.post(good, token=None), 401, "unauthorized", None),
                (fwd.post(good, token="wrong-token"), 401, "unauthorized", None),
                (fwd.post(good, token=ADMIN_TOKEN), 401, "unauthorized", None),
            ]
            for response, status, code, field in cases:
                assert response.status_code == status, response.text
                error = response.json()["error"]
                assert (error["code"], error["field"]) == (code, field)
            assert fwd.post(good).status_code == 202
            assert rec.wait(1)[0].json()["id"] == "good-1"
            assert httpx.get(fwd.url + "/healthz").json()["status"] == "ok"
            assert httpx.get(fwd.url + "/nope").json()["error"]["code"] == "not_found"


def test_a_batch_answers_per_event_and_a_duplicate_id_is_delivered_once(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    with receiver() as (rec, rurl):
        put_hook(db, "all", spec(rurl + "/all"))
        with forwarder(db) as fwd:
            batch = [make_event("b-1"), {**make_event("b-2"), "time": 3}, make_event("b-1"), make_event("b-3")]
            response = fwd.post(batch)
            assert response.status_code == 207
            results = response.json()["results"]
            assert [(r["status"], r.get("result")) for r in results] == [
                (202, "accepted"),
                (400, None),
                (202, "duplicate"),
                (202, "accepted"),
            ]
            assert results[1]["error"]["field"] == "time" and results[1]["id"] == "b-2"
            again = fwd.post(make_event("b-3"))
            assert again.status_code == 202 and again.json() == {"id": "b-3", "result": "duplicate"}
            nd = "\n".join(json.dumps(make_event(f"n-{i}")) for i in range(3))
            assert fwd.post(nd, headers={"Content-Type": "application/x-ndjson"}).status_code == 202
            rec.wait(5)
            fwd.post(make_event("last"))
            rec.wait(6)
            assert sorted(rec.ids()) == ["b-1", "b-3", "last", "n-0", "n-1", "n-2"]


def test_admin_endpoints_want_the_admin_token(tmp_path: Path) -> None:
    db = tmp_path / "hookplan.db"
    put_hook(db, "h", spec("http://127.0.0.1:9/x"))
    with forwarder(db) as fwd:
        for path in ("/v1/hooks/h/events?hours=1", "/v1/dead-letters"):
            assert fwd.admin("GET", path, token=None).status_code == 401
            assert fwd.admin("GET", path, token=INGEST_TOKEN).status_code == 403
            assert fwd.admin("GET", path, token="nope").status_code == 401
            assert fwd.admin("GET", path).status_code == 200
        assert fwd.admin("POST", "/v1/dead-letters/redrive", token=INGEST_TOKEN).status_code == 403
        for hours in ("0", "25", "x", "-1"):
            response = fwd.admin("GET", f"/v1/hooks/h/events?hours={hours}")
            assert response.status_code == 400 and response.json()["error"]["field"] == "hours"
        assert fwd.admin("GET", "/v1/hooks/nope/events?hours=1").status_code == 404


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_is_answered_never_raised(body: bytes) -> None:
    try:
        results = parse_body(body)
    except BodyError as exc:
        assert exc.status == 400
        return
    assert results and all(isinstance(r, Envelope | Rejection) for r in results)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "time", "detail", "version", "source", "detail-type"]), json_values))
def test_any_envelope_shape_is_accepted_or_refused_naming_a_field(overrides: dict) -> None:
    event = {**make_event("h-1"), **overrides}
    [result] = parse_body(json.dumps(event).encode())
    if isinstance(result, Rejection):
        assert result.status == 400 and result.field and result.message.startswith(result.field)


TOP_KEYS = ["id", "time", "detail", "version", "source", "detail-type", "account", "region", "resources"]
DATA_KEYS = ["id", "eventName", "eventTags", "type", "tenantId", "isSuccessful", "eventTimeInUTC", "loggedTimeInUTC"]
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=5), scalars, max_size=2)


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(st.sampled_from(TOP_KEYS), values | st.just("2024-07-23T16:01:04Z")),
    st.lists(st.sampled_from(TOP_KEYS), max_size=2),
    st.dictionaries(st.sampled_from(["eventTags", "data", "dataSource", "tenantUuid"]), values),
    st.dictionaries(st.sampled_from(DATA_KEYS), values),
)
def test_the_fast_check_never_accepts_what_the_schema_refuses(top, dropped, detail, data) -> None:
    event = {**make_event("f-1"), **top}
    for key in dropped:
        event.pop(key, None)
    if isinstance(event.get("detail"), dict):
        event["detail"] = {**event["detail"], **detail}
        if isinstance(event["detail"].get("data"), dict):
            event["detail"]["data"] = {**event["detail"]["data"], **data}
    if looks_valid(event):
        assert _validator().is_valid(event), event
