"""Unit tests of hookplan.auth against respx-mocked endpoints (no sockets), and of the SSRF guard."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import respx

from hookplan.auth import (
    ApiKey,
    Basic,
    NoAuth,
    OAuthClientCredentials,
    TokenError,
    authorize,
    build_auth,
    is_token_request,
)
from hookplan.auth.ssrf import DestinationRefused, async_check_destination, check_destination
from hookplan.errors import HookplanError

TOKEN_URL = "https://login.example.com/oauth2/token"
HOOK_URL = "https://siem.example.com/hypr"
SECRET = "cl1ent-S3cret!"


def oauth_spec(**auth: Any) -> dict[str, Any]:
    block = {
        "type": "OAUTH_CLIENT_CREDENTIALS",
        "authorization_endpoint": TOKEN_URL,
        "client_id": "hookplan",
        "client_secret": SECRET,
        "http_method": "POST",
        "oauth_http_parameters": {"header": [], "query_string": []},
    }
    block.update(auth)
    return {"endpoint": HOOK_URL, "http_method": "POST", "auth": block}


def token_reply(token: str = "tok-1", **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "token_type": "Bearer", **extra})


def basic_of(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- NONE, BASIC, API_KEY ----------------------------------------------------------------------------


@respx.mock
def test_basic_sends_exact_header() -> None:
    route = respx.post(HOOK_URL).mock(return_value=httpx.Response(204))
    auth = build_auth({"auth": {"type": "BASIC", "username": "alice", "password": "pä ss:word"}})
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=auth, content=b"{}")
    expected = "Basic " + base64.b64encode("alice:pä ss:word".encode()).decode()
    assert route.calls.last.request.headers["Authorization"] == expected


@respx.mock
def test_api_key_is_a_bearer_token_and_key_name_only_a_label() -> None:
    route = respx.post(HOOK_URL).mock(return_value=httpx.Response(204))
    auth = build_auth({"auth": {"type": "API_KEY", "key_name": "X-Api-Key", "key_value": "k-123"}})
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=auth)
    headers = route.calls.last.request.headers
    assert headers["Authorization"] == "Bearer k-123"
    assert "X-Api-Key" not in headers


@respx.mock
def test_none_adds_nothing_and_keeps_a_configured_authorization_header() -> None:
    route = respx.get(HOOK_URL).mock(return_value=httpx.Response(204))
    with httpx.Client() as client:
        client.get(HOOK_URL, auth=build_auth({"auth": {"type": "NONE"}}))
        assert "Authorization" not in route.calls.last.request.headers
        client.get(HOOK_URL, auth=NoAuth(), headers={"Authorization": "Custom x"})
        assert route.calls.last.request.headers["Authorization"] == "Custom x"


def test_build_auth_picks_the_class_by_type() -> None:
    assert isinstance(build_auth({"auth": {"type": "NONE"}}), NoAuth)
    assert isinstance(build_auth({}), NoAuth)
    assert isinstance(build_auth({"auth": {"type": "BASIC", "username": "u", "password": "p"}}), Basic)
    assert isinstance(build_auth({"auth": {"type": "API_KEY", "key_name": "k", "key_value": "v"}}), ApiKey)
    assert isinstance(build_auth(oauth_spec()), OAuthClientCredentials)
    with pytest.raises(HookplanError, match="unknown auth type 'DIGEST'"):
        build_auth({"auth": {"type": "DIGEST"}})


def test_reprs_show_no_secret() -> None:
    shown = [
        repr(build_auth({"auth": {"type": "BASIC", "username": "alice", "password": "pw-SECRET"}})),
        repr(build_auth({"auth": {"type": "API_KEY", "key_name": "primary", "key_value": "key-SECRET"}})),
        repr(build_auth(oauth_spec(authorization_endpoint=TOKEN_URL + "?sig=q-SECRET"))),
    ]
    assert shown[0] == "Basic(username='alice', password=(sensitive value))"
    assert shown[1] == "ApiKey(key_name='primary', key_value=(sensitive value))"
    assert shown[2] == (
        f"OAuthClientCredentials(authorization_endpoint='{TOKEN_URL}', client_id='hookplan', "
        "client_secret=(sensitive value))"
    )
    for text in shown:
        assert "SECRET" not in text and SECRET not in text


# -- the OAuth token request -----------------------------------------------------------------------


@respx.mock
def test_token_request_defaults_post_form_body_and_basic_client_credentials() -> None:
    token = respx.post(TOKEN_URL).mock(return_value=token_reply())
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=build_auth(oauth_spec()), content=b"{}")
    sent = token.calls.last.request
    assert sent.method == "POST"
    assert sent.headers["Authorization"] == basic_of("hookplan", SECRET)
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Accept"] == "application/json"
    assert sent.content == b"grant_type=client_credentials"
    assert sent.url.query == b""
    assert is_token_request(sent)
    assert hook.calls.last.request.headers["Authorization"] == "Bearer tok-1"
    assert not is_token_request(hook.calls.last.request)


@respx.mock
def test_token_request_sends_configured_headers_and_query_with_a_json_body() -> None:
    token = respx.put(url__startswith=TOKEN_URL).mock(return_value=token_reply())
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    spec = oauth_spec(
        authorization_endpoint=TOKEN_URL + "?tenant=acme",
        http_method="PUT",
        oauth_http_parameters={
            "header": [
                {"key": "Content-Type", "value": "application/json", "secret": False},
                {"key": "X-Extra", "value": "1", "secret": False},
            ],
            "query_string": [{"key": "scope", "value": "api://siem/.default", "secret": False}],
        },
    )
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=build_auth(spec))
    sent = token.calls.last.request
    assert sent.method == "PUT"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-Extra"] == "1"
    assert list(sent.url.params.multi_items()) == [("tenant", "acme"), ("scope", "api://siem/.default")]
    assert json.loads(sent.content) == {"grant_type": "client_credentials"}


@respx.mock
def test_grant_type_in_the_query_string_is_not_repeated_in_the_body() -> None:
    token = respx.post(url__startswith=TOKEN_URL).mock(return_value=token_reply())
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    params = {
        "header": [],
        "query_string": [{"key": "grant_type", "value": "client_credentials", "secret": False}],
    }
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=build_auth(oauth_spec(oauth_http_parameters=params)))
    sent = token.calls.last.request
    assert sent.url.params["grant_type"] == "client_credentials"
    assert sent.content == b""


@respx.mock
def test_design_example_json_content_type_with_grant_type_in_query_sends_an_empty_json_object() -> None:
    token = respx.post(url__startswith=TOKEN_URL).mock(return_value=token_reply())
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    params = {
        "header": [{"key": "Content-Type", "value": "application/json", "secret": False}],
        "query_string": [
            {"key": "scope", "value": "api://siem/.default", "secret": False},
            {"key": "grant_type", "value": "client_credentials", "secret": False},
        ],
    }
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=build_auth(oauth_spec(oauth_http_parameters=params)))
    sent = token.calls.last.request
    assert sent.url.query == b"scope=api%3A%2F%2Fsiem%2F.default&grant_type=client_credentials"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.content == b"{}"


@respx.mock
def test_get_token_request_has_no_body_and_carries_the_grant_type_in_the_query() -> None:
    token = respx.get(url__startswith=TOKEN_URL).mock(return_value=token_reply())
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=build_auth(oauth_spec(http_method="GET")))
    sent = token.calls.last.request
    assert sent.method == "GET"
    assert sent.content == b""
    assert sent.url.params["grant_type"] == "client_credentials"


@respx.mock
def test_token_request_uses_the_clients_timeout() -> None:
    token = respx.post(TOKEN_URL).mock(return_value=token_reply())
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    with httpx.Client(timeout=2.5) as client:
        client.post(HOOK_URL, auth=build_auth(oauth_spec()))
    assert token.calls.last.request.extensions["timeout"] == httpx.Timeout(2.5).as_dict()


# -- caching, expiry, refresh ----------------------------------------------------------------------


@respx.mock
def test_token_is_cached_across_requests() -> None:
    token = respx.post(TOKEN_URL).mock(return_value=token_reply())
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    auth = build_auth(oauth_spec())
    with httpx.Client() as client:
        for _ in range(3):
            client.post(HOOK_URL, auth=auth)
    assert token.call_count == 1
    assert [c.request.headers["Authorization"] for c in hook.calls] == ["Bearer tok-1"] * 3


@pytest.mark.parametrize(
    ("expires_in", "still_cached_at", "refetched_at"),
    [(100, 89.9, 90.0), ("100", 89.9, 90.0), (None, 3569.9, 3570.0), (5, 4.4, 4.5)],
)
@respx.mock
def test_token_is_refetched_shortly_before_expiry(expires_in: Any, still_cached_at: float, refetched_at: float) -> None:
    extra = {} if expires_in is None else {"expires_in": expires_in}
    token = respx.post(TOKEN_URL).mock(side_effect=[token_reply("a", **extra), token_reply("b", **extra)])
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    clock = Clock()
    auth = OAuthClientCredentials(TOKEN_URL, "hookplan", SECRET, clock=clock)
    start = clock.now
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=auth)
        clock.now = start + still_cached_at
        client.post(HOOK_URL, auth=auth)
        assert token.call_count == 1
        clock.now = start + refetched_at
        client.post(HOOK_URL, auth=auth)
    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in hook.calls] == ["Bearer a", "Bearer a", "Bearer b"]


@respx.mock
def test_lowercase_bearer_token_type_is_sent_as_bearer() -> None:
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={"access_token": "t", "token_type": "bearer"}))
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=build_auth(oauth_spec()))
    assert hook.calls.last.request.headers["Authorization"] == "Bearer t"


@pytest.mark.parametrize("status", [401, 407])
@respx.mock
def test_401_or_407_refreshes_once_and_retries_the_same_request(status: int) -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[token_reply("old"), token_reply("new")])
    hook = respx.put(HOOK_URL).mock(side_effect=[httpx.Response(status), httpx.Response(200)])
    with httpx.Client() as client:
        response = client.put(HOOK_URL, auth=build_auth(oauth_spec()), content=b'{"id": 1}')
    assert response.status_code == 200
    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in hook.calls] == ["Bearer old", "Bearer new"]
    assert [c.request.content for c in hook.calls] == [b'{"id": 1}'] * 2


@respx.mock
def test_a_second_401_is_returned_not_looped() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[token_reply("a"), token_reply("b"), token_reply("c")])
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(401))
    with httpx.Client() as client:
        response = client.post(HOOK_URL, auth=build_auth(oauth_spec()))
    assert response.status_code == 401
    assert token.call_count == 2
    assert hook.call_count == 2


@respx.mock
def test_a_refused_token_is_not_reused_by_the_next_request() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[token_reply("a"), token_reply("b"), token_reply("c")])
    hook = respx.post(HOOK_URL).mock(side_effect=[httpx.Response(401), httpx.Response(200), httpx.Response(200)])
    auth = build_auth(oauth_spec())
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=auth)
        client.post(HOOK_URL, auth=auth)
    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in hook.calls] == ["Bearer a", "Bearer b", "Bearer b"]


@respx.mock
def test_concurrent_threads_share_one_token_request() -> None:
    def slow_token(request: httpx.Request) -> httpx.Response:
        time.sleep(0.1)
        return token_reply()

    token = respx.post(TOKEN_URL).mock(side_effect=slow_token)
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    auth = build_auth(oauth_spec())
    with httpx.Client() as client:
        threads = [threading.Thread(target=client.post, args=(HOOK_URL,), kwargs={"auth": auth}) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert token.call_count == 1


@respx.mock
def test_async_client_caches_and_refreshes() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[token_reply("a"), token_reply("b")])
    hook = respx.post(HOOK_URL).mock(side_effect=[httpx.Response(200), httpx.Response(401), httpx.Response(200)])
    auth = build_auth(oauth_spec())

    async def deliver() -> list[int]:
        async with httpx.AsyncClient() as client:
            return [(await client.post(HOOK_URL, auth=auth, content=b"x")).status_code for _ in range(2)]

    assert asyncio.run(deliver()) == [200, 200]
    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in hook.calls] == ["Bearer a", "Bearer a", "Bearer b"]


# -- token endpoint failures ----------------------------------------------------------------------


def deliver_sync(spec: dict[str, Any], **auth_options: Any) -> None:
    with httpx.Client() as client:
        client.post(HOOK_URL, auth=build_auth(spec, **auth_options))


@respx.mock
def test_refusal_names_endpoint_status_and_oauth_error() -> None:
    body = {"error": "invalid_client", "error_description": "Client authentication failed"}
    respx.post(url__startswith=TOKEN_URL).mock(return_value=httpx.Response(401, json=body))
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    spec = oauth_spec(authorization_endpoint=TOKEN_URL + "?code=q-SECRET")
    with pytest.raises(TokenError) as caught:
        deliver_sync(spec)
    assert str(caught.value) == (
        f"token endpoint {TOKEN_URL} answered 401 Unauthorized: invalid_client: Client authentication failed"
    )
    assert hook.call_count == 0


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (httpx.Response(200, text="<html>hi</html>"), "answered 200 OK with a body that is not a JSON object"),
        (httpx.Response(200, json=["x"]), "answered 200 OK with a body that is not a JSON object"),
        (httpx.Response(200, json={"token_type": "Bearer"}), "answered 200 OK without an access_token"),
        (httpx.Response(503, text="down"), "answered 503 Service Unavailable"),
        (httpx.Response(400, json={"error": "invalid_scope"}), "answered 400 Bad Request: invalid_scope"),
    ],
)
@respx.mock
def test_bad_token_responses_raise_token_error(reply: httpx.Response, reason: str) -> None:
    respx.post(TOKEN_URL).mock(return_value=reply)
    with pytest.raises(TokenError) as caught:
        deliver_sync(oauth_spec())
    assert str(caught.value) == f"token endpoint {TOKEN_URL} {reason}"


@respx.mock
def test_form_encoded_token_response_is_understood() -> None:
    form = httpx.Response(
        200,
        content=b"access_token=f-tok&token_type=bearer",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    respx.post(TOKEN_URL).mock(return_value=form)
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    deliver_sync(oauth_spec())
    assert hook.calls.last.request.headers["Authorization"] == "Bearer f-tok"


@respx.mock
def test_echoed_secrets_are_scrubbed_and_long_descriptions_truncated() -> None:
    basic = basic_of("hookplan", SECRET).split()[1]
    description = f"secret {SECRET} header {basic} param p-SECRET-value " + "x" * 500
    respx.post(url__startswith=TOKEN_URL).mock(
        return_value=httpx.Response(401, json={"error": "invalid_client", "error_description": description})
    )
    params = {"header": [{"key": "X-Sig", "value": "p-SECRET-value", "secret": True}], "query_string": []}
    with pytest.raises(TokenError) as caught:
        deliver_sync(oauth_spec(oauth_http_parameters=params))
    text = str(caught.value) + repr(caught.value)
    assert "SECRET" not in text and SECRET not in text and basic not in text
    assert "(sensitive value)" in text
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 300


@respx.mock
def test_on_token_result_reports_refusal_then_recovery() -> None:
    respx.post(TOKEN_URL).mock(side_effect=[httpx.Response(401, json={"error": "invalid_client"}), token_reply()])
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    results: list[tuple[bool, str]] = []
    auth = build_auth(oauth_spec(), on_token_result=lambda ok, reason: results.append((ok, reason)))
    with httpx.Client() as client:
        with pytest.raises(TokenError):
            client.post(HOOK_URL, auth=auth)
        assert client.post(HOOK_URL, auth=auth).status_code == 200
    assert results == [(False, f"token endpoint {TOKEN_URL} answered 401 Unauthorized: invalid_client"), (True, "")]


@respx.mock
def test_a_failing_callback_does_not_fail_the_delivery() -> None:
    respx.post(TOKEN_URL).mock(return_value=token_reply())
    respx.post(HOOK_URL).mock(return_value=httpx.Response(200))

    def broken(ok: bool, reason: str) -> None:
        raise RuntimeError("observer down")

    auth = build_auth(oauth_spec(), on_token_result=broken)
    with httpx.Client() as client:
        assert client.post(HOOK_URL, auth=auth).status_code == 200


@respx.mock
def test_unreachable_token_endpoint_during_delivery_is_a_transport_error_marked_as_token_request() -> None:
    respx.post(TOKEN_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    hook = respx.post(HOOK_URL).mock(return_value=httpx.Response(200))
    with pytest.raises(httpx.ConnectError) as caught:
        deliver_sync(oauth_spec())
    assert is_token_request(caught.value.request)
    assert hook.call_count == 0


# -- authorize() (apply's authorization step) -----------------------------------------------------


@respx.mock
def test_authorize_makes_one_token_request() -> None:
    token = respx.post(TOKEN_URL).mock(return_value=token_reply())
    authorize(oauth_spec())
    assert token.call_count == 1
    assert token.calls.last.request.headers["Authorization"] == basic_of("hookplan", SECRET)
    assert token.calls.last.request.extensions["timeout"] == httpx.Timeout(5.0).as_dict()


@respx.mock
def test_authorize_raises_the_reason() -> None:
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(403, json={"error": "unauthorized_client"}))
    with pytest.raises(TokenError, match=r"^token endpoint \S+ answered 403 Forbidden: unauthorized_client$"):
        authorize(oauth_spec())


@respx.mock
def test_authorize_turns_network_errors_into_token_errors() -> None:
    respx.post(TOKEN_URL).mock(side_effect=httpx.ConnectTimeout("timed out"))
    with pytest.raises(TokenError) as caught:
        authorize(oauth_spec(), timeout=1.0)
    assert str(caught.value) == f"token endpoint {TOKEN_URL} unreachable: ConnectTimeout: timed out"
    assert caught.value.__cause__ is None


@respx.mock
def test_authorize_uses_the_given_client_but_never_its_auth() -> None:
    token = respx.post(TOKEN_URL).mock(return_value=token_reply())
    with httpx.Client(auth=("someone", "else")) as client:
        authorize(oauth_spec(), client=client)
    assert token.calls.last.request.headers["Authorization"] == basic_of("hookplan", SECRET)


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "NONE"},
        {"type": "BASIC", "username": "u", "password": "p"},
        {"type": "API_KEY", "key_name": "k", "key_value": "v"},
    ],
)
@respx.mock
def test_authorize_is_a_no_op_for_other_types(auth: dict[str, Any]) -> None:
    authorize({"endpoint": HOOK_URL, "auth": auth})  # respx would refuse any request it does not know
    assert len(respx.calls) == 0


# -- SSRF guard -----------------------------------------------------------------------------------


def no_dns(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("no name resolution expected")


def fake_dns(address: str) -> Any:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[fe80::1]", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_non_public_literals_are_refused_without_resolving(
    host: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DestinationRefused, match=f"endpoint host {host.strip('[]')} is an? {kind} address"):
        check_destination(f"https://user:pw@{host}:8443/hook?key=SECRET", allow_private=False)
    check_destination(f"https://{host}/hook", allow_private=True)


def test_public_literals_pass_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    check_destination("https://93.184.216.34/hook", allow_private=False)
    check_destination("http://[2606:4700:4700::1111]:8080/hook", allow_private=False)
    asyncio.run(async_check_destination("https://93.184.216.34/hook", allow_private=False))


def test_host_names_are_checked_by_what_they_resolve_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns("10.0.0.7"))
    with pytest.raises(DestinationRefused) as caught:
        check_destination("https://user:pw@internal.example.com/hook?token=SECRET", allow_private=False)
    assert str(caught.value) == (
        "endpoint host internal.example.com (10.0.0.7) is a private address; "
        "deliveries there are refused (--allow-private-endpoints allows them)"
    )
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns("::ffff:169.254.169.254"))
    with pytest.raises(DestinationRefused, match="is a link-local address"):
        asyncio.run(async_check_destination("https://metadata.example.com/", allow_private=False))
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns("93.184.216.34"))
    check_destination("https://siem.example.com/hypr", allow_private=False)
    asyncio.run(async_check_destination("https://siem.example.com/hypr", allow_private=False))


def test_one_private_answer_among_several_is_enough_to_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    def two_answers(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    with pytest.raises(DestinationRefused, match=r"rebind\.example\.com \(::1\) is a loopback address"):
        check_destination("https://rebind.example.com/", allow_private=False)


def test_allow_private_skips_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    check_destination("https://internal.example.com/", allow_private=True)
    asyncio.run(async_check_destination("https://internal.example.com/", allow_private=True))
