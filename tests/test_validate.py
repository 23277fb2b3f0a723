"""hookplan validate / hookplan schema and the config stage behind them, through the real CLI.

Every error kind is checked with its exact line and column, because pointing at the right spot in
the file is the whole point of the feature.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookplan.cli import cli
from hookplan.config import ConfigError, load_config, load_schema
from hookplan.model import AUTH_TYPES, DEFAULT_RATE_LIMIT, EVENT_TYPES, HTTP_METHODS

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hooks.yaml"
EXAMPLES = [EXAMPLE, REPO / "examples" / "hooks-oauth.yaml"]  # OAuth apart: applying it needs its token server

HEADER = "version: 1\nhooks:\n"


def write(tmp_path: Path, text: str, name: str = "hooks.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def validate(*args: str, env: dict[str, str] | None = None, code: int | None = None) -> Result:
    """Run ``hookplan validate`` in-process; never a traceback, whatever happens."""
    result = CliRunner().invoke(cli, ["validate", *args], env={"NO_COLOR": "1", **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line and not line.startswith("Error: the configuration")]


@pytest.fixture
def validate_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No GitHub Actions, no colour; tests set the variables they reference."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return monkeypatch


# -- the example and the schema --------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_without_env_or_network(validate_env: pytest.MonkeyPatch, example: Path) -> None:
    count = len(yaml.safe_load(example.read_text())["hooks"])
    result = validate("-f", str(example), code=0)
    assert result.stdout == f"Success! The configuration is valid ({count} hook{'s' * (count != 1)}, 0 warnings).\n"
    assert result.stderr == ""


def test_examples_cover_every_auth_type_and_carry_the_modeline() -> None:
    auth_types, event_types = set(), set()
    for example in EXAMPLES:
        text = example.read_text()
        assert text.splitlines()[0] == "# yaml-language-server: $schema=../schemas/hooks.schema.json"
        doc = yaml.safe_load(text)
        jsonschema.validate(doc, load_schema())  # as written, references and all
        auth_types |= {h["auth"]["type"] for h in doc["hooks"]}
        event_types |= {h["event_type"] for h in doc["hooks"]}
        for hook in load_config(example).hooks:  # every secret is a demo file beside the example
            for name in ("password", "key_value", "client_secret"):
                if name in hook.spec["auth"]:
                    assert hook.spec["auth"][name].startswith("demo-")
    assert auth_types == set(AUTH_TYPES)
    assert {"REGISTRATION", "ALL"} <= event_types


def test_default_file_is_hooks_yaml_in_the_working_directory(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    write(
        tmp_path,
        HEADER
        + "  - {name: a, event_type: ALL, endpoint: https://a.example.com, http_method: GET, auth: {type: NONE}}\n",
    )
    validate_env.chdir(tmp_path)
    assert validate(code=0).stdout.startswith("Success! The configuration is valid (1 hook, 0 warnings).")


def test_schema_command_prints_the_schema_file() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == (REPO / "schemas" / "hooks.schema.json").read_text()
    jsonschema.Draft202012Validator.check_schema(json.loads(result.stdout))


def test_schema_enums_and_defaults_match_the_model() -> None:
    schema = load_schema()
    defs = schema["$defs"]
    assert defs["hook"]["properties"]["event_type"]["enum"] == list(EVENT_TYPES)
    assert defs["http_method"]["enum"] == list(HTTP_METHODS)
    assert defs["auth"]["properties"]["type"]["enum"] == list(AUTH_TYPES)
    assert defs["hook"]["properties"]["rate_limit_per_second"]["default"] == DEFAULT_RATE_LIMIT
    assert schema["properties"]["workspace"]["default"] == "default"


def test_every_schema_property_has_a_description_and_objects_are_closed() -> None:
    schema = load_schema()
    missing, open_objects = [], []

    def visit(node: object, where: str) -> None:
        if not isinstance(node, dict):
            return
        for name, prop in node.get("properties", {}).items():
            if isinstance(prop, dict) and "description" not in prop and "$ref" not in prop:
                missing.append(f"{where}.{name}")
            if isinstance(prop, dict) and "$ref" in prop:
                target = prop["$ref"].rsplit("/", 1)[-1]
                if "description" not in prop and "description" not in schema["$defs"][target]:
                    missing.append(f"{where}.{name}")
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            open_objects.append(where)
        for key, value in node.items():
            if key in ("if", "then"):  # conditions over fields declared (and described) above
                continue
            if isinstance(value, dict):
                visit(value, f"{where}/{key}")
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    visit(item, f"{where}/{key}[{i}]")

    visit(schema, "#")
    assert missing == [] and open_objects == []


# -- canonical form --------------------------------------------------------------------------------


def test_canonical_form_fills_every_default(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    validate_env.setenv("HP_CANON_SECRET", "canon-secret")
    (tmp_path / "key.txt").write_text("file-secret\n")
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: minimal
            event_type: ADMIN
            endpoint: https://a.example.com/x
            http_method: GET
            auth: {type: NONE}
          - name: oauth
            event_type: ALL
            endpoint: https://b.example.com/x
            http_method: PATCH
            enabled: false
            rate_limit_per_second: 5
            signing_secret: ${env:HP_CANON_SECRET}
            auth:
              type: OAUTH_CLIENT_CREDENTIALS
              authorization_endpoint: https://login.example.com/token
              client_id: me
              client_secret: ${file:key.txt}
              oauth_http_parameters:
                query_string: [{key: scope, value: s}]
            invocation_http_parameters:
              header: [{key: X-A, value: "${env:HP_CANON_SECRET}", secret: true}]
        """,
    )
    config = load_config(f)
    assert config.workspace == "default"
    assert config.digest == hashlib.sha256(f.read_bytes()).hexdigest()
    assert config.diagnostics == []
    minimal, oauth = config.hooks
    assert minimal.name == "minimal"
    assert minimal.spec == {
        "event_type": "ADMIN",
        "endpoint": "https://a.example.com/x",
        "http_method": "GET",
        "enabled": True,
        "auth": {"type": "NONE"},
        "invocation_http_parameters": {"header": [], "query_string": []},
        "rate_limit_per_second": DEFAULT_RATE_LIMIT,
    }
    assert oauth.spec == {
        "event_type": "ALL",
        "endpoint": "https://b.example.com/x",
        "http_method": "PATCH",
        "enabled": False,
        "auth": {
            "type": "OAUTH_CLIENT_CREDENTIALS",
            "authorization_endpoint": "https://login.example.com/token",
            "client_id": "me",
            "client_secret": "file-secret",
            "http_method": "POST",
            "oauth_http_parameters": {"header": [], "query_string": [{"key": "scope", "value": "s", "secret": False}]},
        },
        "invocation_http_parameters": {
            "header": [{"key": "X-A", "value": "canon-secret", "secret": True}],
            "query_string": [],
        },
        "rate_limit_per_second": 5,
        "signing_secret": "canon-secret",
    }
    assert oauth.destination_state == "INACTIVE"
    # positions are relative to the hook, 1-based
    assert oauth.positions[("endpoint",)] == (10, 15)
    assert oauth.positions[("auth", "client_secret")] == (19, 22)
    assert minimal.positions[()] == (3, 5)


def test_workspace_and_yaml_anchors_merge_keys(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    validate_env.setenv("HP_ANCHOR_PW", "pw")
    f = write(
        tmp_path,
        """\
        version: 1
        workspace: identity-team
        x-basic: &basic {type: BASIC, username: svc, password: "${env:HP_ANCHOR_PW}"}
        hooks:
          - name: one
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: *basic
          - name: two
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth:
              <<: *basic
              username: other
        """,
    )
    # the top level is closed too: a spare key to hang anchors on is an unknown field
    result = validate("-f", str(f), code=1)
    assert error_lines(result) == [
        f"{f}:3:1: unknown field 'x-basic' at the top level (allowed: version, workspace and hooks)"
    ]
    # so the anchor goes on the first hook's auth block
    f = write(
        tmp_path,
        """\
        version: 1
        workspace: identity-team
        hooks:
          - name: one
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: &basic {type: BASIC, username: svc, password: "${env:HP_ANCHOR_PW}"}
          - name: two
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth:
              <<: *basic
              username: other
        """,
    )
    config = load_config(f)
    assert config.workspace == "identity-team"
    assert [h.spec["auth"] for h in config.hooks] == [
        {"type": "BASIC", "username": "svc", "password": "pw"},
        {"type": "BASIC", "username": "other", "password": "pw"},
    ]


# -- schema errors, each at its exact line and column ------------------------------------------------


def test_bad_enum_points_at_the_value_and_suggests(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: siem
            event_type: AUTHENTICATON
            endpoint: https://siem.example.com/hypr
            http_method: post
            auth: {type: NONE}
        """,
    )
    result = validate("-f", str(f), code=1)
    assert error_lines(result) == [
        f"{f}:4:17: hook 'siem': event_type 'AUTHENTICATON' is not valid; use one of REGISTRATION, WEB_REGISTRATION, "
        "AUTHENTICATION, DEREGISTRATION, OFFLINE_ACCESS, ADMIN, SMART_KEY, MAGIC_LINK or ALL "
        "(did you mean AUTHENTICATION?)",
        f"{f}:6:18: hook 'siem': http_method 'post' is not valid; use one of GET, POST, PUT, DELETE or PATCH "
        "(did you mean POST?)",
    ]
    assert result.stderr.splitlines()[-1] == "Error: the configuration is invalid (2 errors, 0 warnings)."
    assert result.stdout == ""


def test_missing_required_field_points_at_the_hook(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: a
            event_type: ALL
            http_method: POST
            auth: {type: NONE}
        """,
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:3:5: hook 'a': missing 'endpoint': every hook needs name, event_type, endpoint, http_method and auth"
    ]


def test_auth_type_requires_its_fields_and_forbids_the_others(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: basic
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth:
              type: BASIC
              username: svc
              key_name: k
          - name: none
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: {type: NONE, username: svc}
          - name: oauth
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: {type: OAUTH_CLIENT_CREDENTIALS, client_id: me}
          - name: notype
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: {}
        """,
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:7:5: hook 'basic': BASIC auth requires 'password'; add it",
        f"{f}:10:7: hook 'basic': BASIC auth does not take 'key_name' (BASIC takes username and password); remove it",
        f"{f}:15:24: hook 'none': NONE auth does not take 'username' (NONE takes no other fields); remove it",
        f"{f}:20:5: hook 'oauth': OAUTH_CLIENT_CREDENTIALS auth requires 'authorization_endpoint' and 'client_secret'; "
        "add it",
        f"{f}:25:5: hook 'notype': auth requires 'type': NONE, BASIC, API_KEY or OAUTH_CLIENT_CREDENTIALS",
    ]


def test_unknown_field_points_at_the_key_and_suggests(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    validate_env.setenv("HP_UNKNOWN_PW", "pw")
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: a
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: {type: BASIC, username: u, pasword: x, password: "${env:HP_UNKNOWN_PW}"}
            enabeld: false
        """,
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:7:38: hook 'a': unknown field 'pasword' in auth (did you mean 'password'?)",
        f"{f}:8:5: hook 'a': unknown field 'enabeld' in the hook (did you mean 'enabled'?)",
    ]


def test_bad_name_pattern_and_wrong_types(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        """\
        version: 2
        hooks:
          - name: bad name!
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            enabled: "yes"
            rate_limit_per_second: 0
            auth: {type: NONE}
            invocation_http_parameters:
              header: [{key: X-Flag, value: yes}]
          - just-a-string
        """,
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:1:10: version must be 1 (the only hooks file format so far)",
        f"{f}:3:11: hook 'bad name!': name 'bad name!' is not valid: use 1-64 of A-Z a-z 0-9 . _ -",
        f"{f}:7:14: hook 'bad name!': enabled must be true or false, not a string (write true or false without quotes)",
        f"{f}:8:28: hook 'bad name!': rate_limit_per_second must be between 1 and 10000, not 0",
        f"{f}:11:37: hook 'bad name!': invocation_http_parameters.header[0].value must be a string, not true/false "
        "(put the value in quotes)",
        f"{f}:12:5: each hook must be a mapping (name: ..., event_type: ...), not a string",
    ]


def test_too_many_parameters(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    headers = ", ".join(f"{{key: X-H{i}, value: v}}" for i in range(101))
    f = write(
        tmp_path,
        HEADER
        + "  - name: many\n"
        + "    event_type: ALL\n"
        + "    endpoint: https://a.example.com\n"
        + "    http_method: POST\n"
        + "    auth: {type: NONE}\n"
        + "    invocation_http_parameters:\n"
        + f"      header: [{headers}]\n",
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:9:7: hook 'many': invocation_http_parameters.header has 101 entries; at most 100 are allowed"
    ]
    f.write_text(f.read_text().replace("{key: X-H100, value: v}, ", "").replace(", {key: X-H100, value: v}", ""))
    validate("-f", str(f), code=0)


# -- semantic errors --------------------------------------------------------------------------------


def test_duplicate_name_points_at_the_second_and_names_the_first(
    tmp_path: Path, validate_env: pytest.MonkeyPatch
) -> None:
    hook = "  - {name: %s, event_type: ALL, endpoint: https://a.example.com, http_method: GET, auth: {type: NONE}}\n"
    f = write(tmp_path, HEADER + hook % "a" + hook % "b" + hook % "a")
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:5:12: hook 'a': duplicate hook name 'a': it is already used by the hook at line 3; names must be unique"
    ]


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("ftp://files.example.com/in", "endpoint must be an http(s) URL, not ftp:"),
        ("siem.example.com/hypr", "endpoint must be an http(s) URL, not a relative URL"),
        ("https://192.168.1.10/hypr", "endpoint must use a DNS host name, not the IP address 192.168.1.10"),
        ("http://[::1]:8080/hypr", "endpoint must use a DNS host name, not the IP address ::1"),
        (
            "https://receiver/hypr",
            "endpoint host 'receiver' is not a fully qualified DNS name (use e.g. receiver.example.com, or localhost)",
        ),
        ("https://bad_host.example.com/", "endpoint has an invalid DNS host name 'bad_host.example.com'"),
        ("https://a.example.com:99999/", "endpoint is not a valid URL (check the host and port)"),
        ("https://", "endpoint has no host name"),
    ],
)
def test_endpoint_must_be_http_url_with_dns_host(
    tmp_path: Path, validate_env: pytest.MonkeyPatch, endpoint: str, message: str
) -> None:
    f = write(
        tmp_path,
        HEADER + f"  - {{name: a, event_type: ALL, endpoint: '{endpoint}', http_method: GET, auth: {{type: NONE}}}}\n",
    )
    assert error_lines(validate("-f", str(f), code=1)) == [f"{f}:3:42: hook 'a': {message}"]


def test_credentials_in_url_are_an_error_and_not_echoed(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        HEADER
        + "  - {name: a, event_type: ALL, endpoint: 'https://u:Pw-In-Url-77@a.example.com', http_method: GET,"
        + " auth: {type: NONE}}\n",
    )
    result = validate("-f", str(f), code=1)
    assert "must not hold credentials" in result.stderr and "Pw-In-Url-77" not in result.output


def test_localhost_is_accepted_without_an_http_warning(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        HEADER
        + "  - {name: a, event_type: ALL, endpoint: 'http://localhost:8080/in', http_method: GET,"
        + " auth: {type: NONE}}\n",
    )
    result = validate("-f", str(f), code=0)
    assert result.stderr == "" and "(1 hook, 0 warnings)" in result.stdout


def test_unset_env_var_and_missing_file_name_hook_field_and_reference(
    tmp_path: Path, validate_env: pytest.MonkeyPatch
) -> None:
    validate_env.delenv("HP_SURELY_UNSET", raising=False)
    validate_env.setenv("HP_EMPTY_VAR", "")
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: a
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: {type: BASIC, username: "${env:HP_EMPTY_VAR}", password: "${env:HP_SURELY_UNSET}"}
            signing_secret: ${file:secrets/nope.txt}
            invocation_http_parameters:
              header: [{key: X-A, value: "${vault:x}"}]
        """,
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:7:35: hook 'a': auth.username: environment variable HP_EMPTY_VAR is empty "
        "(referenced as '${env:HP_EMPTY_VAR}')",
        f"{f}:7:68: hook 'a': auth.password: environment variable HP_SURELY_UNSET is not set "
        "(referenced as '${env:HP_SURELY_UNSET}')",
        f"{f}:8:21: hook 'a': signing_secret: cannot read '${{file:secrets/nope.txt}}': no such file "
        f"({tmp_path / 'secrets' / 'nope.txt'})",
        f"{f}:10:34: hook 'a': invocation_http_parameters.header[0].value: unknown reference '${{vault:x}}': "
        "use ${env:NAME} or ${file:PATH}",
    ]


def test_references_resolve_inside_strings_and_escape(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    validate_env.setenv("HP_TOKEN_PART", "tok")
    (tmp_path / "crlf.txt").write_bytes(b"line-one\r\n")
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: a
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: {type: API_KEY, key_name: k, key_value: "${file:crlf.txt}"}
            invocation_http_parameters:
              header:
                - {key: X-Auth, value: "Bearer ${env:HP_TOKEN_PART}", secret: true}
                - {key: X-Literal, value: "$${env:NOT_EXPANDED}"}
        """,
    )
    (hook,) = load_config(f).hooks
    assert hook.spec["auth"]["key_value"] == "line-one"
    assert [p["value"] for p in hook.spec["invocation_http_parameters"]["header"]] == [
        "Bearer tok",
        "${env:NOT_EXPANDED}",
    ]


def test_several_errors_are_reported_at_once_in_file_order(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    validate_env.delenv("HP_SURELY_UNSET", raising=False)
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: one
            event_type: NOPE
            endpoint: https://10.0.0.1/x
            http_method: POST
            auth: {type: API_KEY, key_name: k, key_value: "${env:HP_SURELY_UNSET}"}
          - name: one
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            auth: {type: NONE}
        """,
    )
    result = validate("-f", str(f), code=1)
    lines = error_lines(result)
    assert [line.split(": ", 1)[0] for line in lines] == [f"{f}:4:17", f"{f}:5:15", f"{f}:7:51", f"{f}:8:11"]
    assert result.stderr.splitlines()[-1] == "Error: the configuration is invalid (4 errors, 0 warnings)."
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert len(info.value.diagnostics) == 4


def test_duplicate_yaml_keys_and_one_line_fields(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: a
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            http_method: GET
            auth: {type: NONE}
            signing_secret: whsec_not*base64
            invocation_http_parameters:
              header:
                - key: X-A
                  value: |
                    two
                    lines
        """,
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:7:5: hook 'a': duplicate key 'http_method' (first at line 6): the later value would win",
        f"{f}:9:21: hook 'a': signing_secret starts with 'whsec_', so the rest must be base64 key material, "
        "and it is not",
        f"{f}:13:18: hook 'a': invocation_http_parameters.header[0].value must be one line (no line breaks)",
    ]


def test_an_unresolved_reference_is_reported_once(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    validate_env.delenv("HP_SURELY_UNSET", raising=False)
    f = write(
        tmp_path,
        HEADER + "  - {name: a, event_type: '${env:HP_SURELY_UNSET}', endpoint: https://a.example.com,"
        " http_method: GET, auth: {type: NONE}}\n",
    )
    assert error_lines(validate("-f", str(f), code=1)) == [
        f"{f}:3:27: hook 'a': event_type: environment variable HP_SURELY_UNSET is not set "
        "(referenced as '${env:HP_SURELY_UNSET}')"
    ]


def test_control_characters_never_reach_the_terminal(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        'version: 1\nhooks:\n  - name: "\\e[31mred"\n    event_type: "X\\nY"\n    "k\\u2028y": 1\n',
    )
    result = validate("-f", str(f), code=1)
    assert "\x1b" not in result.output and "\u2028" not in result.output
    lines = error_lines(result)
    assert len(lines) == 4 and all(line.startswith(f"{f}:") for line in lines)
    assert f"{f}:3:11: name '\\x1b[31mred' is not valid: use 1-64 of A-Z a-z 0-9 . _ -" in lines
    assert any("event_type 'X\\nY' is not valid" in line for line in lines)


def test_shell_style_placeholder_warns(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        HEADER + "  - {name: a, event_type: ALL, endpoint: 'https://a.example.com/${TENANT}', http_method: GET,"
        " auth: {type: NONE}}\n",
    )
    result = validate("-f", str(f), code=0)
    assert result.stderr == (
        f"{f}:3:42: warning: hook 'a': endpoint contains '${{NAME}}', which hookplan does not expand: "
        "write ${env:NAME} or ${file:PATH} (or $${ for a literal '${')\n"
    )


# -- warnings ----------------------------------------------------------------------------------------


def test_literal_secret_and_plain_http_warn_without_printing_the_secret(
    tmp_path: Path, validate_env: pytest.MonkeyPatch
) -> None:
    f = write(
        tmp_path,
        """\
        version: 1
        hooks:
          - name: a
            event_type: ALL
            endpoint: http://a.example.com/in
            http_method: POST
            auth: {type: BASIC, username: svc, password: Literal-Pw-4411}
        """,
    )
    result = validate("-f", str(f), code=0)
    assert result.stderr.splitlines() == [
        f"{f}:5:15: warning: hook 'a': endpoint uses plain http://: events and credentials travel unencrypted; "
        "use https://",
        f"{f}:7:50: warning: hook 'a': auth.password is a secret written literally; use ${{env:NAME}} or "
        "${file:PATH} so the repository does not hold it",
    ]
    assert result.stdout == "Success! The configuration is valid (1 hook, 2 warnings).\n"
    assert "Literal-Pw-4411" not in result.output


SECRETS = {
    "HP_SECRET_PASSWORD": "Env-Password-9c1f",
    "HP_SECRET_ROUTE": "Env-Route-7e2a",
}
LITERALS = ["Lit-Client-Secret-51aa", "Lit-Key-Value-63bb", "Lit-Header-Secret-72cc", "98765431"]


def test_no_secret_value_appears_in_any_validate_output(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        validate_env.setenv(name, value)
    f = write(
        tmp_path,
        f"""\
        version: 1
        hooks:
          - name: basic
            event_type: NOPE
            endpoint: https://a.example.com
            http_method: POST
            auth: {{type: BASIC, username: u, password: "${{env:HP_SECRET_PASSWORD}}", key_value: {LITERALS[1]}}}
          - name: oauth
            event_type: ALL
            endpoint: https://a.example.com
            http_method: POST
            signing_secret: {LITERALS[3]}
            auth:
              type: OAUTH_CLIENT_CREDENTIALS
              authorization_endpoint: https://login.example.com/t
              client_id: me
              client_secret: {LITERALS[0]}
            invocation_http_parameters:
              header:
                - {{key: X-Secret, value: {LITERALS[2]}, secret: true}}
                - {{key: X-Route, value: "${{env:HP_SECRET_ROUTE}}", secret: true}}
                - {{key: X-Bad, value: "${{env:HP_SECRET_PASSWORD}}\\n", secret: true}}
        """,
    )
    outputs = []
    for extra, env in ((["--format", "json"], {}), ([], {"GITHUB_ACTIONS": "true"})):
        result = validate("-f", str(f), *extra, env=env, code=1)
        outputs.append(result.output)
    joined = "\n".join(outputs)
    assert "signing_secret must be a string" in joined  # the wrong type is reported...
    assert "BASIC auth does not take 'key_value'" in joined
    for secret in [*SECRETS.values(), *LITERALS]:
        assert secret not in joined  # ...but no value is shown


def test_values_from_references_and_secret_fields_are_never_echoed(
    tmp_path: Path, validate_env: pytest.MonkeyPatch
) -> None:
    from hookplan.config.report import Report
    from hookplan.config.yaml_source import parse

    validate_env.setenv("HP_EVENT_FROM_ENV", "Env-Event-Value-3d4e")
    f = write(
        tmp_path,
        HEADER + "  - {name: a, event_type: '${env:HP_EVENT_FROM_ENV}', endpoint: https://a.example.com,"
        " http_method: GET, auth: {type: NONE}}\n",
    )
    result = validate("-f", str(f), code=1)
    assert "event_type '${env:HP_EVENT_FROM_ENV}' is not valid" in result.stderr
    assert "Env-Event-Value-3d4e" not in result.output
    # the guard every message goes through: secret fields show nothing, other fields their value
    source = parse(
        "hooks: [{auth: {password: p1}, signing_secret: s1, invocation_http_parameters: {header: "
        "[{key: k, value: v1, secret: true}, {key: k, value: v2}]}}]",
        split=("hooks",),
    )
    report = Report("f", source)
    hook = ("hooks", 0)
    assert report.shown((*hook, "auth", "password"), "p1") == ""
    assert report.shown((*hook, "signing_secret"), "s1") == ""
    assert report.shown((*hook, "invocation_http_parameters", "header", 0, "value"), "v1") == ""
    assert report.shown((*hook, "invocation_http_parameters", "header", 1, "value"), "v2") == "'v2'"


# -- output formats ----------------------------------------------------------------------------------


def test_json_format(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    result = validate("-f", str(EXAMPLE), "--format", "json", code=0)
    assert json.loads(result.stdout) == {
        "format_version": "1.0",
        "valid": True,
        "error_count": 0,
        "warning_count": 0,
        "diagnostics": [],
    }
    f = write(
        tmp_path,
        HEADER
        + "  - {name: a, event_type: ALL, endpoint: 'http://a.example.com', http_method: GET, auth: {type: NONE}}\n"
        + "  - {name: a, event_type: ALL, endpoint: 'https://a.example.com', http_method: GET, auth: {type: NONE}}\n",
    )
    result = validate("-f", str(f), "--format", "json", code=1)
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and doc["error_count"] == 1 and doc["warning_count"] == 1
    assert doc["diagnostics"] == [
        {
            "severity": "warning",
            "message": "endpoint uses plain http://: events and credentials travel unencrypted; use https://",
            "file": str(f),
            "line": 3,
            "column": 42,
            "hook": "a",
        },
        {
            "severity": "error",
            "message": "duplicate hook name 'a': it is already used by the hook at line 3; names must be unique",
            "file": str(f),
            "line": 4,
            "column": 12,
            "hook": "a",
        },
    ]


def test_json_format_for_an_unusable_file(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.yaml"
    doc = json.loads(validate("-f", str(missing), "--format", "json", code=1).stdout)
    assert doc["valid"] is False and doc["error_count"] == 1
    assert doc["diagnostics"][0]["message"].startswith("file not found")


def test_github_annotations(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    f = write(
        tmp_path,
        HEADER
        + "  - {name: a, event_type: ALL, endpoint: 'http://a.example.com', http_method: GET, auth: {type: NONE}}\n"
        + "  - {name: b, event_type: ALL, endpoint: 'https://a.example.com', http_method: GET, auth: {type: NOPE}}\n",
    )
    validate_env.setenv("GITHUB_ACTIONS", "true")
    result = validate("-f", str(f), code=1)
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    prop_file = str(f).replace(":", "%3A").replace(",", "%2C")
    assert annotations == [
        f"::warning file={prop_file},line=3,col=42,title=hookplan validate::hook 'a': endpoint uses plain http://: "
        "events and credentials travel unencrypted; use https://",
        f"::error file={prop_file},line=4,col=98,title=hookplan validate::hook 'b': auth.type 'NOPE' is not valid; "
        "use one of NONE, BASIC, OAUTH_CLIENT_CREDENTIALS or API_KEY (did you mean NONE?)",
    ]
    validate_env.delenv("GITHUB_ACTIONS")
    assert "::" not in validate("-f", str(f), code=1).stdout


def test_github_annotation_escaping() -> None:
    from hookplan.cli.validate import github_annotation
    from hookplan.errors import Diagnostic

    d = Diagnostic("error", "100% wrong\nreally", "dir:a,b/hooks.yaml", 3, 7, "h")
    assert github_annotation(d) == (
        "::error file=dir%3Aa%2Cb/hooks.yaml,line=3,col=7,title=hookplan validate::hook 'h': 100%25 wrong%0Areally"
    )
    no_line = Diagnostic("warning", "w", "f.yaml")
    assert github_annotation(no_line) == "::warning file=f.yaml,title=hookplan validate::w"


def test_several_files_as_pre_commit_passes_them(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    good = (
        HEADER
        + "  - {name: a, event_type: ALL, endpoint: https://a.example.com, http_method: GET, auth: {type: NONE}}\n"
    )
    a = write(tmp_path, good, "a.yaml")
    b = write(tmp_path, good, "b.yaml")
    assert validate("-f", str(a), str(b), code=0).stdout == (
        "Success! The configuration is valid (2 hooks in 2 files, 0 warnings).\n"
    )
    b.write_text(good.replace("GET", "FETCH"))
    result = validate("-f", str(a), str(b), code=1)
    assert error_lines(result)[0].startswith(f"{b}:3:")


# -- the file itself is unusable: one line, exit 1, no traceback --------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing", None, "{f}: file not found (name the hooks file with -f FILE)"),
        ("directory", "DIR", "{f}: this is a directory, not a hooks file (name the file with -f FILE)"),
        (
            "empty",
            b"",
            "{f}: the file is empty; a hooks file starts with 'version: 1' and lists its hooks under 'hooks:'",
        ),
        (
            "blank",
            b"\n   \n",
            "{f}: the file is empty; a hooks file starts with 'version: 1' and lists its hooks under 'hooks:'",
        ),
        ("comments", b"# nothing yet\n", "{f}: the file holds only comments; start it with 'version: 1' and 'hooks:'"),
        ("binary", bytes(range(256)) * 4, "{f}: not a text file (it contains NUL bytes); a hooks file is YAML text"),
        (
            "latin1",
            "version: 1\nhooks: []\n# caf\u00e9\n".encode("latin-1"),
            "{f}: not UTF-8 text (invalid byte at offset 26); save the file as UTF-8",
        ),
        (
            "syntax",
            b"version: 1\nhooks:\n  - name: a\n   event_type: ALL\n",
            "{f}:4:4: YAML syntax error: did not find expected '-' indicator (while parsing a block collection at "
            "line 3, column 3)",
        ),
        (
            "unclosed",
            b"version: 1\nhooks: [{name: a\n",
            "{f}:3:1: YAML syntax error: did not find expected ',' or '}}' (while parsing a flow mapping at line 2, "
            "column 9)",
        ),
        (
            "tab",
            b"version: 1\nhooks:\n\t- name: a\n",
            "{f}:3:1: YAML syntax error: found character that cannot start any token (while scanning for the next "
            "token at line 3, column 1)",
        ),
        (
            "control",
            b"version: 1\nhooks: \x07\n",
            "{f}:2:8: YAML syntax error: unacceptable character #x0007: control characters are not allowed",
        ),
        ("list", b"- name: a\n", "{f}:1:1: the top level must be a mapping with 'version' and 'hooks', not a list"),
        (
            "scalar",
            b"hello\n",
            "{f}:1:1: the top level must be a mapping with 'version' and 'hooks', not a single value",
        ),
        (
            "two-docs",
            b"version: 1\nhooks: []\n---\nversion: 1\n",
            "{f}:3:1: the file holds more than one YAML document ('---'); put every hook in one document",
        ),
        (
            "python-tag",
            b"version: 1\nhooks: !!python/object:os.system {}\n",
            "{f}:2:8: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system'",
        ),
        (
            "alias",
            b"version: 1\nhooks: *nowhere\n",
            "{f}:2:8: alias '*nowhere' refers to no anchor '&nowhere' defined before it",
        ),
        ("deep", b"version: 1\nhooks: " + b"[" * 100 + b"]" * 100 + b"\n", "{f}:2:71: nested more than 64 levels deep"),
    ],
)
def test_unusable_file_is_one_clear_line(
    tmp_path: Path, validate_env: pytest.MonkeyPatch, name: str, content: bytes | str | None, message: str
) -> None:
    f = tmp_path / f"{name}.yaml"
    if content == "DIR":
        f.mkdir()
    elif isinstance(content, bytes):
        f.write_bytes(content)
    result = validate("-f", str(f), code=1)
    assert result.stdout == ""
    assert result.stderr == f"Error: {message.format(f=f)}\n"


def test_billion_laughs_is_refused(tmp_path: Path, validate_env: pytest.MonkeyPatch) -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines.append("hooks: *a8")
    f = write(tmp_path, "\n".join(lines) + "\n")
    result = validate("-f", str(f), code=1)
    assert result.stderr.startswith(f"Error: {f}:7:") and "aliases expand to too many nodes" in result.stderr


def test_subprocess_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\x00\x01\x02garbage")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    run = subprocess.run(
        [sys.executable, "-m", "hookplan", "validate", "-f", str(bad)], capture_output=True, text=True, env=env
    )
    assert run.returncode == 1
    assert run.stdout == "" and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "hookplan", "validate", "-f", str(EXAMPLE)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout.startswith("Success!")


# -- the compiled fast path agrees with jsonschema ----------------------------------------------------

VALID_HOOKS = [
    {
        "name": "a",
        "event_type": "ALL",
        "endpoint": "https://x.example.com",
        "http_method": "POST",
        "auth": {"type": "NONE"},
    },
    {
        "name": "b",
        "event_type": "ADMIN",
        "endpoint": "https://x.example.com",
        "http_method": "GET",
        "enabled": False,
        "rate_limit_per_second": 5,
        "signing_secret": "s",
        "auth": {
            "type": "OAUTH_CLIENT_CREDENTIALS",
            "authorization_endpoint": "https://l.example.com",
            "client_id": "c",
            "client_secret": "s",
            "http_method": "PUT",
            "oauth_http_parameters": {
                "header": [{"key": "A", "value": "b", "secret": True}],
                "query_string": [{"key": "q", "value": "v"}],
            },
        },
        "invocation_http_parameters": {"header": [{"key": "X-A", "value": "1"}]},
    },
    {
        "name": "c",
        "event_type": "SMART_KEY",
        "endpoint": "https://x.example.com",
        "http_method": "PATCH",
        "auth": {"type": "BASIC", "username": "u", "password": "p"},
    },
    {
        "name": "d",
        "event_type": "MAGIC_LINK",
        "endpoint": "https://x.example.com",
        "http_method": "DELETE",
        "auth": {"type": "API_KEY", "key_name": "k", "key_value": "v"},
    },
]
ODD_VALUES = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    1.5,
    10001,
    "",
    "x",
    "ALL",
    "NONE",
    "BASIC",
    "API_KEY",
    "a b",
    "x" * 65,
    "v\r",
    [],
    {},
    {"key": "k", "value": "v"},
    [{"key": "k"}],
    [{"key": "k", "value": "v"}] * 101,
]
HOOK_FIELDS = [
    "name",
    "event_type",
    "endpoint",
    "http_method",
    "enabled",
    "auth",
    "rate_limit_per_second",
    "signing_secret",
    "invocation_http_parameters",
    "bogus",
]
AUTH_FIELDS = [
    "type",
    "username",
    "password",
    "key_name",
    "key_value",
    "authorization_endpoint",
    "client_id",
    "client_secret",
    "http_method",
    "oauth_http_parameters",
    "bogus",
]


def _mutations(hook: dict) -> list[dict]:
    """Every hook one edit away: each path set to each odd value or deleted, each field added."""

    def paths(node: object, at: tuple = ()) -> list[tuple]:
        found = [at]
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for k, v in items:
            found += paths(v, (*at, k))
        return found

    edits = [(p, v) for p in paths(hook)[1:] for v in [*ODD_VALUES, "DELETE"]]
    edits += [((f,), v) for f in HOOK_FIELDS for v in ODD_VALUES]
    edits += [(("auth", f), v) for f in AUTH_FIELDS for v in ODD_VALUES]
    out = []
    for path, value in edits:
        mutated = copy.deepcopy(hook)
        target = mutated
        for part in path[:-1]:
            target = target[part]
        if value == "DELETE":
            del target[path[-1]]
        else:
            target[path[-1]] = copy.deepcopy(value)
        out.append(mutated)
    return out


def test_compiled_check_agrees_with_jsonschema() -> None:
    from hookplan.config import fastcheck

    schema = load_schema()
    fast = fastcheck.compile_schema(schema, "#/$defs/hook")
    slow = jsonschema.Draft202012Validator({"$ref": "#/$defs/hook", "$defs": schema["$defs"]})
    checked = rejected = 0
    for hook in VALID_HOOKS:
        assert fast(hook) and slow.is_valid(hook)
        for mutated in _mutations(hook):
            checked += 1
            verdict = slow.is_valid(mutated)
            rejected += not verdict
            assert fast(mutated) == verdict, mutated
    assert checked > 2000 and 0 < rejected < checked  # both outcomes were exercised


def test_compiler_refuses_keywords_it_does_not_know() -> None:
    from hookplan.config import fastcheck

    with pytest.raises(fastcheck.Unsupported):
        fastcheck.compile_schema({"type": "object", "patternProperties": {"^x": {}}})


# -- robustness: whatever the file holds, the answer is a Config or a ConfigError -----------------------

_FRAGMENTS = [
    " ",
    "\n",
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!binary ",
    "'",
    '"',
    "#",
    "|",
    ">",
    "\t",
    "${env:X}",
    "${file:",
    "$${",
    "null",
    "yes",
    "0x1F",
    "\ufeff",
    "\u2028",
    "?",
]


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 12), st.sampled_from(_FRAGMENTS)), max_size=6))
def test_any_edit_of_the_example_loads_or_fails_cleanly(edits: list[tuple[float, int, str]], tmp_path_factory) -> None:
    text = EXAMPLE.read_text()
    for where, cut, fragment in edits:
        at = int(where * len(text))
        text = text[:at] + fragment + text[at + cut :]
    folder = tmp_path_factory.mktemp("edit")
    (folder / "secrets").mkdir()
    for secret in (EXAMPLE.parent / "secrets").iterdir():
        (folder / "secrets" / secret.name).write_bytes(secret.read_bytes())
    f = folder / "hooks.yaml"
    f.write_text(text)
    try:
        config = load_config(f)
    except ConfigError as exc:
        assert exc.diagnostics and all(d.severity in ("error", "warning") for d in exc.diagnostics)
        assert all("\n" not in str(d) for d in exc.diagnostics)
    else:
        assert all(h.spec["auth"]["type"] in AUTH_TYPES for h in config.hooks)


def test_hookplans_own_tokens_cannot_be_referenced(tmp_path, monkeypatch):
    """A pull request must not be able to copy the CI's admin token into a printed field."""
    monkeypatch.setenv("HOOKPLAN_TOKEN", "admin-Token-Never-Printed")
    f = tmp_path / "hooks.yaml"
    f.write_text(
        "version: 1\nhooks:\n  - name: a\n    event_type: ALL\n    endpoint: https://a.example.com/x\n"
        "    http_method: POST\n    auth: {type: NONE}\n"
        "    invocation_http_parameters:\n      header: [{key: X-Leak, value: '${env:HOOKPLAN_TOKEN}'}]\n"
    )
    result = CliRunner().invoke(cli, ["plan", "-f", str(f), "--state", str(tmp_path / "r.db")])
    assert result.exit_code == 1
    assert "hookplan's own credential" in result.output
    assert "admin-Token-Never-Printed" not in result.output
