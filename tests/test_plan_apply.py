"""plan -> apply -> plan through the real CLI against real SQLite files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hookplan.cli import cli

SECRET_PASSWORD = "pw-Very-Secret-0001"
SECRET_ROTATED = "pw-Rotated-Secret-0002"
SECRET_KEY = "key-Value-Secret-0003"
SECRET_HEADER = "route-Secret-0004"


def hook(name: str, **overrides) -> dict:
    base = {
        "name": name,
        "event_type": "REGISTRATION",
        "endpoint": f"https://{name}.example.com/hook",
        "http_method": "POST",
        "auth": {"type": "NONE"},
    }
    base.update(overrides)
    return base


def basic_hook(name: str, **overrides) -> dict:
    auth = {"type": "BASIC", "username": "svc", "password": "${env:HP_TEST_PASSWORD}"}
    return hook(name, auth=auth, **overrides)


def write_hooks(path: Path, hooks: list[dict], workspace: str | None = None) -> Path:
    doc: dict = {"version": 1}
    if workspace:
        doc["workspace"] = workspace
    doc["hooks"] = hooks
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("HP_TEST_PASSWORD", SECRET_PASSWORD)
    monkeypatch.setenv("HP_TEST_KEY", SECRET_KEY)
    monkeypatch.setenv("HP_TEST_HEADER", SECRET_HEADER)
    monkeypatch.setenv("NO_COLOR", "1")
    return monkeypatch


def run(*args: str, expect: int | None = 0):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    output = result.output  # stdout and stderr, interleaved
    if expect is not None:
        assert result.exit_code == expect, f"exit {result.exit_code}, expected {expect}:\n{output}"
    assert "Traceback" not in output
    return result.exit_code, output


def show_json(hooks_file: Path) -> dict:
    _, out = run("show", "-f", str(hooks_file), "--json")
    return {h["name"]: h for h in json.loads(out)["hooks"]}


def test_plan_apply_plan_is_no_changes(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a"), basic_hook("b", event_type="ALL")])
    _, out = run("plan", "-f", str(f), "--detailed-exitcode", expect=2)
    assert 'hook "a" will be created' in out and "Plan: 2 to add, 0 to change, 0 to destroy." in out
    _, out = run("apply", "-f", str(f), "--auto-approve")
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in out
    assert "[2 of 2]" in out
    _code, out = run("plan", "-f", str(f), "--detailed-exitcode", expect=0)
    assert "No changes. Your hooks match the configuration." in out
    states = show_json(f)
    assert {h["connection_state"] for h in states.values()} == {"AUTHORIZED"}
    assert (tmp_path / "hookplan.db").exists(), "the registry defaults to hookplan.db beside the hooks file"


def test_every_action_kind(tmp_path, env):
    f = tmp_path / "hooks.yaml"
    write_hooks(f, [hook("upd"), hook("old-name"), hook("gone"), hook("toggle"), basic_hook("swap")])
    run("apply", "-f", str(f), "--auto-approve")
    write_hooks(
        f,
        [
            hook("upd", endpoint="https://new.example.com/hook", http_method="PUT"),
            hook("new-name", endpoint="https://old-name.example.com/hook"),
            hook("toggle", enabled=False),
            hook("swap", auth={"type": "API_KEY", "key_name": "k", "key_value": "${env:HP_TEST_KEY}"}),
            hook("fresh", event_type="ALL"),
        ],
    )
    _code, out = run("plan", "-f", str(f), "--detailed-exitcode", expect=2)
    assert '  ~ hook "upd" {' in out
    assert '~ endpoint    = "https://upd.example.com/hook" -> "https://new.example.com/hook"' in out
    assert '~ http_method = "POST" -> "PUT"' in out
    assert '  - hook "old-name" {' in out and "renamed to 'new-name'" in out
    assert '  + hook "new-name" {' in out and "renamed from 'old-name'" in out
    assert '  - hook "gone" {' in out
    assert "~ enabled = true -> false # destination state ACTIVE -> INACTIVE" in out
    assert '-/+ hook "swap" {' in out and '"BASIC" -> "API_KEY" # forces replacement' in out
    assert '  + hook "fresh" {' in out
    assert "Plan: 3 to add, 2 to change, 3 to destroy." in out
    assert SECRET_KEY not in out and SECRET_PASSWORD not in out
    run("apply", "-f", str(f), "--auto-approve")
    hooks = show_json(f)
    assert sorted(hooks) == ["fresh", "new-name", "swap", "toggle", "upd"]
    assert hooks["toggle"]["destination_state"] == "INACTIVE"
    assert hooks["swap"]["auth_type"] == "API_KEY"
    assert hooks["upd"]["http_method"] == "PUT"
    run("plan", "-f", str(f), "--detailed-exitcode", expect=0)


def test_rotated_secret_is_sensitive_everywhere(tmp_path, env):
    hooks = [
        basic_hook(
            "b",
            invocation_http_parameters={
                "header": [{"key": "X-Route", "value": "${env:HP_TEST_HEADER}", "secret": True}]
            },
        )
    ]
    f = write_hooks(tmp_path / "hooks.yaml", hooks)
    outputs = [run("apply", "-f", str(f), "--auto-approve")[1]]
    env.setenv("HP_TEST_PASSWORD", SECRET_ROTATED)
    _code, text = run("plan", "-f", str(f), "--detailed-exitcode", "--out", str(tmp_path / "p.plan"), expect=2)
    assert "~ auth.password = (sensitive value)" in text
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in text
    outputs.append(text)
    outputs.append(run("plan", "-f", str(f), "--format", "json")[1])
    outputs.append(run("plan", "-f", str(f), "--format", "markdown")[1])
    outputs.append((tmp_path / "p.plan").read_text())
    outputs.append(run("show", "-f", str(f), "--json")[1])
    outputs.append(run("show", "-f", str(f))[1])
    outputs.append(run("apply", str(tmp_path / "p.plan"))[1])
    for out in outputs:
        for secret in (SECRET_PASSWORD, SECRET_ROTATED, SECRET_HEADER):
            assert secret not in out
    doc = json.loads(outputs[2])
    change = doc["resource_changes"][0]["change"]
    assert change["after"]["auth"]["password"] is None
    assert change["after_sensitive"]["auth"]["password"] is True
    assert change["after_sensitive"]["invocation_http_parameters"]["header"]["0"]["value"] is True
    run("plan", "-f", str(f), "--detailed-exitcode", expect=0)


def test_plan_json_document(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a")])
    doc = json.loads(run("plan", "-f", str(f), "--format", "json")[1])
    assert doc["format_version"] == "1.0"
    assert doc["summary"] == {"add": 1, "change": 0, "destroy": 0, "has_changes": True}
    (rc,) = doc["resource_changes"]
    assert rc["address"] == "hook.a" and rc["change"]["actions"] == ["create"]
    assert rc["change"]["before"] is None and rc["change"]["after"]["endpoint"] == "https://a.example.com/hook"


def test_markdown_comment_warns_on_destroy_and_stays_under_cap(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook(f"h{i:04d}") for i in range(1500)])
    run("apply", "-f", str(f), "--auto-approve")
    write_hooks(f, [hook("only")])
    out = run("plan", "-f", str(f), "--format", "markdown")[1]
    assert "**Plan: 1 to add, 0 to change, 1500 to destroy.**" in out
    assert "[!WARNING]" in out and "destroys 1500 hook(s)" in out
    assert "<details>" in out and "```diff" in out
    assert len(out) < 65_536
    assert "omitted to stay under GitHub's comment limit" in out


def test_saved_plan_refused_when_stale(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a")])
    plan_file = tmp_path / "a.plan"
    run("plan", "-f", str(f), "--out", str(plan_file))
    run("apply", "-f", str(f), "--auto-approve")  # someone else applies first
    _, out = run("apply", str(plan_file), expect=1)
    assert "stale" in out and "registry changed" in out

    run("plan", "-f", str(f), "--out", str(plan_file))
    write_hooks(f, [hook("a", http_method="PUT")])
    _, out = run("apply", str(plan_file), expect=1)
    assert "hooks file changed" in out

    run("plan", "-f", str(f), "--out", str(plan_file))
    _, out = run("apply", str(plan_file))
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in out


def test_apply_refuses_without_terminal_or_approval(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a")])
    _, out = run("apply", "-f", str(f), expect=1)
    assert "without a terminal" in out and "--auto-approve" in out
    run("plan", "-f", str(f), "--detailed-exitcode", expect=2)  # nothing was applied


def test_target_limits_the_plan(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a"), hook("b")])
    _, out = run("apply", "-f", str(f), "--auto-approve", "--target", "b")
    assert "1 added" in out
    assert sorted(show_json(f)) == ["b"]
    _, out = run("plan", "-f", str(f), "--target", "nope", expect=1)
    assert "no such hook" in out


def test_destroy_removes_own_workspace_only(tmp_path, env):
    mine = write_hooks(tmp_path / "mine.yaml", [hook("a"), hook("b")], workspace="team-a")
    theirs = write_hooks(tmp_path / "theirs.yaml", [hook("c")], workspace="team-b")
    state = str(tmp_path / "shared.db")
    run("apply", "-f", str(mine), "--state", state, "--auto-approve")
    run("apply", "-f", str(theirs), "--state", state, "--auto-approve")
    _, out = run("plan", "-f", str(mine), "--state", state, "--detailed-exitcode", expect=0)
    assert "not managed here" in out and "c" in out
    _, out = run("destroy", "-f", str(mine), "--state", state, "--auto-approve")
    assert "Destroy complete! Resources: 0 added, 0 changed, 2 destroyed." in out
    _, out = run("show", "--state", state, "--json")
    assert [h["name"] for h in json.loads(out)["hooks"]] == ["c"]


def test_import_adopts_a_hook_of_another_workspace(tmp_path, env):
    state = str(tmp_path / "shared.db")
    theirs = write_hooks(tmp_path / "theirs.yaml", [hook("c")], workspace="team-b")
    run("apply", "-f", str(theirs), "--state", state, "--auto-approve")
    mine = write_hooks(tmp_path / "mine.yaml", [hook("c", http_method="PATCH")], workspace="team-a")
    _, out = run("plan", "-f", str(mine), "--state", state, expect=1)
    assert "managed by workspace 'team-b'" in out and "hookplan import c" in out
    _, out = run("import", "c", "-f", str(mine), "--state", state)
    assert "Import successful" in out
    _, out = run("plan", "-f", str(mine), "--state", state)
    assert '~ http_method = "POST" -> "PATCH"' in out


def test_registry_is_wal_and_counts_serial(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a")])
    run("apply", "-f", str(f), "--auto-approve")
    db = sqlite3.connect(tmp_path / "hookplan.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    serial = int(db.execute("SELECT value FROM meta WHERE key='serial'").fetchone()[0])
    assert serial == 3  # CREATING, AUTHORIZING, AUTHORIZED: each step persisted
    assert (tmp_path / "hookplan.db").stat().st_mode & 0o077 == 0, "the registry holds secrets: 0600"


def test_not_a_registry_is_one_clear_line(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a")])
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite at all" * 100)
    _, out = run("plan", "-f", str(f), "--state", str(tmp_path / "junk.db"), expect=1)
    assert "not a hookplan registry" in out


def test_apply_json_for_machines(tmp_path, env):
    f = write_hooks(tmp_path / "hooks.yaml", [hook("a"), basic_hook("b")])
    _, out = run("apply", "-f", str(f), "--json", expect=1)
    assert "--json cannot ask for approval" in out
    _, out = run("apply", "-f", str(f), "--json", "--auto-approve")
    doc = json.loads(out)
    assert doc["summary"] == {"add": 2, "change": 0, "destroy": 0, "failed": 0}
    assert [(h["name"], h["action"], h["state"]) for h in doc["hooks"]] == [
        ("a", "create", "AUTHORIZED"),
        ("b", "create", "AUTHORIZED"),
    ]
    _, out = run("destroy", "-f", str(f), "--json", "--auto-approve")
    assert json.loads(out)["summary"]["destroy"] == 2
    assert SECRET_PASSWORD not in out
