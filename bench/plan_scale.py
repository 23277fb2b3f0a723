#!/usr/bin/env python3
"""How hookplan's validate / plan / apply scale with the number of hooks, beside Terraform.

One run measures, for each N (default 1,000 and 10,000), the real ``hookplan`` CLI as subprocesses:

* ``hookplan validate``
* ``hookplan apply --auto-approve`` of N creates against a fresh registry
* a no-op ``hookplan plan`` after that apply (``--detailed-exitcode`` must say 0)
* a ``hookplan plan`` of a hooks file with 1% of the hooks changed (must plan exactly those updates)

and, beside it, ``terraform validate`` / ``apply`` / no-op ``plan`` / 1%-changed ``plan`` over N
``terraform_data`` resources carrying the same attributes (secrets as sensitive variables from the
environment, as hookplan's come from ``${env:...}``).

The hooks are a realistic mix: NONE, BASIC, API_KEY and OAUTH_CLIENT_CREDENTIALS auth, secrets as
``${env:...}`` references, header and query parameters, a few disabled hooks. OAuth hooks are authorized
during apply by a real token request: this script runs a client-credentials token server on 127.0.0.1
for them (``--no-oauth`` leaves OAuth hooks out instead).

Each command is repeated (``--repeats``, median reported) where it is cheap; peak RSS comes from
GNU time (``/usr/bin/time -f %M``) around each child. Results: a table on stdout and a JSON file in ``bench/out/``.

    python bench/plan_scale.py                       # N = 1,000 and 10,000, hookplan and terraform
    python bench/plan_scale.py --sizes 500 --only hookplan
    python bench/plan_scale.py --profile             # also cProfile a no-op plan at the largest N
    python bench/plan_scale.py --remote-only         # just --remote vs SQLite vs terraform apply, N = 1,000

**Remote registry** (issue 4, "Speed"): at each N of ``--remote-sizes`` (default 1,000) the same apply /
no-op plan / 1%-changed plan also run with ``--remote`` against a real ``hookplan forward`` subprocess on
127.0.0.1 (free port, fresh state file per apply). One extra, untimed plan of each kind goes through a
counting proxy on 127.0.0.1, which checks that the plan lists in one call (one ``GET /v1/hooks``, one
``POST /v1/fingerprints``, no per-hook ``GET``).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import parse_qs
from urllib.request import Request, urlopen

import yaml

from hookplan.model import EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"

HTTP_METHODS = ["POST", "POST", "POST", "PUT", "PATCH", "GET"]  # weighted towards POST, as in practice
TEAMS = ["siem", "soc", "audit", "fraud", "iam", "helpdesk", "analytics", "compliance"]
SECRET_POOL = 16  # distinct ${env:...} values per kind of secret
OAUTH_CLIENT_ID = "hookplan-bench"
OAUTH_SECRET = "bench-oauth-client-secret-5b1f"

# Goals from issue 2, "Speed".
GOAL_NOOP_PLAN_VS_TF = 20.0  # no-op plan of 10,000 hooks at least 20x faster than terraform's
GOAL_APPLY_VS_TF = 10.0  # apply of 1,000 creates at least 10x faster than terraform's
GOAL_PLAN_GROWTH = 12.0  # plan at 10,000 <= 12x plan at 1,000
# Goals from issue 4, "Speed".
GOAL_REMOTE_PLAN_VS_LOCAL = 2.0  # a --remote plan of 1,000 within 2x the SQLite one
GOAL_REMOTE_APPLY_VS_TF = 10.0  # a --remote apply of 1,000 creates at least 10x faster than terraform's

# The forwarder's tokens in this benchmark (a throwaway process on 127.0.0.1).
REMOTE_ADMIN_TOKEN = "bench-admin-token-7c0e"
REMOTE_INGEST_TOKEN = "bench-ingest-token-41aa"


# --------------------------------------------------------------------------------------------------
# The workload
# --------------------------------------------------------------------------------------------------


def secret_env() -> dict[str, str]:
    """The environment the ``${env:...}`` references (and terraform's TF_VAR_...) resolve from."""
    env = {}
    for k in range(SECRET_POOL):
        env[f"BENCH_PASSWORD_{k}"] = f"pw-{k}-{'x' * 12}-secret"
        env[f"BENCH_API_KEY_{k}"] = f"key-{k}-{'y' * 24}-secret"
        env[f"BENCH_ROUTE_KEY_{k}"] = f"route-{k}-{'z' * 10}-secret"
    env["BENCH_ROUTE_KEY_ROTATED"] = "route-rotated-secret-value"
    env["BENCH_OAUTH_SECRET"] = OAUTH_SECRET
    return env


def auth_type(i: int, oauth: bool) -> str:
    """40% NONE, 25% BASIC, 25% API_KEY, 10% OAUTH_CLIENT_CREDENTIALS (or API_KEY without OAuth)."""
    slot = i % 20
    if slot < 8:
        return "NONE"
    if slot < 13:
        return "BASIC"
    if slot < 18 or not oauth:
        return "API_KEY"
    return "OAUTH_CLIENT_CREDENTIALS"


def make_hook(i: int, rng: random.Random, token_url: str | None) -> dict[str, Any]:
    """One hook as written in a hooks file; every value is a plain string/bool (or an ${env:} ref)."""
    team = TEAMS[i % len(TEAMS)]
    event = EVENT_TYPES[rng.randrange(len(EVENT_TYPES))]
    k = i % SECRET_POOL
    hook: dict[str, Any] = {
        "name": f"{team}-{event.lower().replace('_', '-')}-{i:05d}",
        "event_type": event,
        "endpoint": f"https://{team}-{i % 97}.hooks.example.com/hypr/events/{i}",
        "http_method": HTTP_METHODS[rng.randrange(len(HTTP_METHODS))],
        "enabled": i % 25 != 0,
    }
    kind = auth_type(i, token_url is not None)
    if kind == "NONE":
        hook["auth"] = {"type": "NONE"}
    elif kind == "BASIC":
        hook["auth"] = {"type": "BASIC", "username": f"svc-{team}", "password": f"${{env:BENCH_PASSWORD_{k}}}"}
    elif kind == "API_KEY":
        hook["auth"] = {"type": "API_KEY", "key_name": "X-Api-Key", "key_value": f"${{env:BENCH_API_KEY_{k}}}"}
    else:
        hook["auth"] = {
            "type": "OAUTH_CLIENT_CREDENTIALS",
            "authorization_endpoint": token_url,
            "client_id": OAUTH_CLIENT_ID,
            "client_secret": "${env:BENCH_OAUTH_SECRET}",
            "http_method": "POST",
            "oauth_http_parameters": {
                "header": [{"key": "X-Client", "value": "hookplan"}],
                "query_string": [{"key": "scope", "value": f"api://{team}/.default"}],
            },
        }
    header = [
        {"key": "X-Tenant", "value": f"acme-{i % 50}"},
        {"key": "X-Route-Key", "value": f"${{env:BENCH_ROUTE_KEY_{k}}}", "secret": True},
    ]
    if i % 3 == 0:
        header.append({"key": "X-Source", "value": "hypr-bench"})
    params: dict[str, Any] = {"header": header}
    if i % 4 == 0:
        params["query_string"] = [{"key": "source", "value": "hypr"}, {"key": "team", "value": team}]
    hook["invocation_http_parameters"] = params
    return hook


def make_hooks(n: int, token_url: str | None, seed: int = 2) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [make_hook(i, rng, token_url) for i in range(n)]


def change_one_percent(hooks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """A copy with every 100th hook changed in place: endpoint, rotated secret, disabled, new header."""
    changed = json.loads(json.dumps(hooks))
    count = 0
    for i in range(7, len(changed), 100):
        hook = changed[i]
        kind = (i // 100) % 4
        if kind == 0:
            hook["endpoint"] += "/v2"
        elif kind == 1:
            hook["invocation_http_parameters"]["header"][1]["value"] = "${env:BENCH_ROUTE_KEY_ROTATED}"
        elif kind == 2:
            hook["enabled"] = not hook["enabled"]
        else:
            hook["invocation_http_parameters"]["header"].append({"key": "X-Changed", "value": "yes"})
        count += 1
    return changed, count


def write_hooks_file(path: Path, hooks: list[dict[str, Any]]) -> None:
    doc = {"version": 1, "workspace": "bench", "hooks": hooks}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=200))


# -- the same hooks as terraform_data resources ---------------------------------------------------

ENV_REF = re.compile(r"^\$\{env:([A-Z0-9_]+)\}$")


def _hcl(value: Any, indent: str = "    ") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        m = ENV_REF.match(value)
        return f"var.{m.group(1).lower()}" if m else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v, indent) for v in value) + "]"
    if isinstance(value, dict):
        inner = indent + "  "
        body = "".join(f"{inner}{k} = {_hcl(v, inner)}\n" for k, v in value.items())
        return "{\n" + body + indent + "}"
    raise TypeError(value)


def _tf_input(hook: dict[str, Any]) -> dict[str, Any]:
    """The hook's attributes in the shape hookplan compares them (every parameter has ``secret``)."""
    spec = {k: v for k, v in hook.items() if k != "name"}
    spec = json.loads(json.dumps(spec))
    for holder in (spec.get("invocation_http_parameters"), spec["auth"].get("oauth_http_parameters")):
        for params in (holder or {}).values():
            for p in params:
                p.setdefault("secret", False)
    return spec


def _cty_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return ["tuple", [_cty_type(v) for v in value]]
    return ["object", {k: _cty_type(v) for k, v in sorted(value.items())}]


def _resolve(value: Any, env: dict[str, str], path: list[Any], sensitive: list[list[Any]]) -> Any:
    """``value`` with ``${env:X}`` replaced by X's value, collecting the paths of those (sensitive)."""
    if isinstance(value, dict):
        return {k: _resolve(v, env, [*path, k], sensitive) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_resolve(v, env, [*path, i], sensitive) for i, v in enumerate(value)]
    m = ENV_REF.match(value) if isinstance(value, str) else None
    if m:
        sensitive.append(path)
        return env[m.group(1)]
    return value


def _state_path(path: list[Any]) -> list[dict[str, Any]]:
    return [
        {"type": "index", "value": {"value": p, "type": "number"}}
        if isinstance(p, int)
        else {"type": "get_attr", "value": p}
        for p in path
    ]


def state_resources(hooks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``resources`` of the state ``terraform apply`` leaves for these hooks (ids aside)."""
    env, out = secret_env(), []
    for hook in sorted(hooks, key=lambda h: h["name"]):
        sensitive: list[list[Any]] = []
        value = _resolve(_tf_input(hook), env, ["input"], sensitive)
        typed = {"value": value, "type": _cty_type(value)}
        attributes = {"id": "", "input": typed, "output": typed, "triggers_replace": None}
        out.append(
            {
                "mode": "managed",
                "type": "terraform_data",
                "name": hook["name"].replace(".", "_"),
                "provider": 'provider["terraform.io/builtin/terraform"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": attributes,
                        "sensitive_attributes": [_state_path(p) for p in sensitive],
                    }
                ],
            }
        )
    return out


def write_state(dirpath: Path, hooks: list[dict[str, Any]], tf_version: str) -> None:
    """Write the state a completed ``terraform apply`` of ``hooks`` would leave (fresh ids, one lineage).

    Used where terraform's own apply is too slow to wait for: its local backend rewrites the whole state
    file after every resource, so apply time grows with N squared. ``terraform plan`` then has to say
    "No changes" over it (exit 0), which checks the state is the one terraform itself would have written.
    """
    resources = state_resources(hooks)
    rng = random.Random(len(hooks))
    for r in resources:
        h = f"{rng.getrandbits(128):032x}"
        r["instances"][0]["attributes"]["id"] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    doc = {
        "version": 4,
        "terraform_version": tf_version,
        "serial": len(resources) + 1,
        "lineage": "b3a1c2d4-0000-4000-8000-00000000bench",
        "outputs": {},
        "resources": resources,
        "check_results": None,
    }
    (dirpath / "terraform.tfstate").write_text(json.dumps(doc, indent=2) + "\n")


def same_state(dirpath: Path, hooks: list[dict[str, Any]]) -> bool:
    """Whether terraform's own state (ids aside) is what :func:`write_state` writes for ``hooks``."""

    def normal(resources: list[dict[str, Any]]) -> str:
        for r in resources:
            for inst in r["instances"]:
                inst["attributes"]["id"] = ""
                inst.pop("dependencies", None)
                # terraform records the sensitive paths in no particular order
                inst["sensitive_attributes"].sort(key=lambda p: json.dumps(p, sort_keys=True))
        return json.dumps(resources, sort_keys=True)

    real = json.loads((dirpath / "terraform.tfstate").read_text())["resources"]
    return normal(real) == normal(state_resources(hooks))


def write_terraform(dirpath: Path, hooks: list[dict[str, Any]]) -> None:
    names = sorted(secret_env())
    parts = ['terraform {\n  required_version = ">= 1.4"\n}\n']
    parts += [f'variable "{v.lower()}" {{\n  type      = string\n  sensitive = true\n}}\n' for v in names]
    for hook in hooks:
        address = hook["name"].replace(".", "_")
        parts.append(f'resource "terraform_data" "{address}" {{\n  input = {_hcl(_tf_input(hook), "  ")}\n}}\n')
    (dirpath / "main.tf").write_text("\n".join(parts))


# --------------------------------------------------------------------------------------------------
# A client-credentials token server on 127.0.0.1 (OAuth hooks are authorized by a real request)
# --------------------------------------------------------------------------------------------------


class TokenServer:
    def __init__(self) -> None:
        self.requests = 0
        self.refused = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                form = parse_qs(body)
                basic = "Basic " + base64.b64encode(f"{OAUTH_CLIENT_ID}:{OAUTH_SECRET}".encode()).decode()
                ok = self.headers.get("Authorization") == basic or (
                    form.get("client_id") == [OAUTH_CLIENT_ID] and form.get("client_secret") == [OAUTH_SECRET]
                )
                with server._lock:
                    server.requests += 1
                    server.refused += not ok
                if ok:
                    payload, status = {"access_token": "bench-token", "token_type": "Bearer", "expires_in": 3600}, 200
                else:
                    payload, status = {"error": "invalid_client"}, 401
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # listen() backlog: the default 5 overflows under apply's 10 parallel token requests, and a
            # dropped SYN costs the client a 1 s retransmission -- a delay of this server, not of hookplan.
            request_queue_size = 128

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}/oauth2/token"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------------------------
# Running and timing children
# --------------------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    code: int
    stdout: str
    stderr: str


# Peak RSS comes from GNU time, which forks the command from its own small process. wait4()'s rusage of
# a direct child is no good here: a child spawned (vfork + exec) from this process keeps this process's
# high-water RSS, and this process holds N hooks (~200 MB at 10,000) while it measures.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run(cmd: list[str], cwd: Path, env: dict[str, str], expect: int | tuple[int, ...] = 0) -> Run:
    """Run ``cmd`` to completion: its wall time and its own peak RSS."""
    expect = (expect,) if isinstance(expect, int) else expect
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as rss:
        full = [GNU_TIME, "-o", rss.name, "-f", "%M", *cmd] if GNU_TIME else cmd
        started = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        # GNU time writes "Command exited with non-zero status N" first when it does; %M is the last line
        max_rss_kb = int(Path(rss.name).read_text().split()[-1]) if GNU_TIME else usage.ru_maxrss
    result = Run(seconds, max_rss_kb / 1024, code, stdout, stderr)
    if code not in expect:
        tail = "\n".join((stdout + "\n" + stderr).strip().splitlines()[-15:])
        raise SystemExit(f"\n{' '.join(cmd[:3])} ... exited {code} (expected {expect}) in {cwd}:\n{tail}")
    return result


@dataclass
class Measure:
    """Repeated runs of one command at one N."""

    tool: str
    step: str
    n: int
    runs: list[Run] = field(default_factory=list)
    note: str = ""
    calls: dict[str, int] | None = None  # requests by route, where counted (remote plans)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.max_rss_mb for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "step": self.step,
            "n": self.n,
            "median_s": round(self.median, 4),
            "min_s": round(min(r.seconds for r in self.runs), 4),
            "samples_s": [round(r.seconds, 4) for r in self.runs],
            "peak_rss_mb": round(self.rss, 1),
            "note": self.note,
            **({"requests": self.calls} if self.calls is not None else {}),
        }


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def hookplan_command() -> list[str]:
    script = Path(sys.executable).parent / "hookplan"
    if script.exists():
        return [str(script)]
    found = shutil.which("hookplan")
    return [found] if found else [sys.executable, "-m", "hookplan"]


SUMMARY = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.")


def check_plan(r: Run, add: int, change: int, destroy: int, what: str) -> None:
    found = SUMMARY.search(r.stdout)
    if not found or tuple(map(int, found.groups())) != (add, change, destroy):
        raise SystemExit(f"{what}: expected 'Plan: {add} to add, {change} to change, {destroy} to destroy.'")


def bench_hookplan(
    n: int, work: Path, env: dict[str, str], token: TokenServer | None, args: argparse.Namespace
) -> list[Measure]:
    hp = hookplan_command()
    d = work / f"hookplan-{n}"
    d.mkdir()
    hooks = make_hooks(n, token.url(args.oauth_host) if token else None)
    changed, n_changed = change_one_percent(hooks)
    write_hooks_file(d / "hooks.yaml", hooks)
    write_hooks_file(d / "hooks-changed.yaml", changed)
    reps = args.repeats
    apply_reps = args.repeats if n <= 1000 else args.big_apply_repeats
    state = d / "hookplan.db"
    files = {"-f": "hooks.yaml", "--state": str(state)}
    common = [x for kv in files.items() for x in kv]

    validate = Measure("hookplan", "validate", n)
    for _ in range(reps):
        validate.runs.append(run([*hp, "validate", "-f", "hooks.yaml"], d, env))
    log(f"  hookplan validate            {validate.median:8.2f}s")

    apply = Measure("hookplan", "apply (N creates)", n)
    for rep in range(apply_reps):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{state}{suffix}").unlink(missing_ok=True)
        before = token.requests if token else 0
        r = run([*hp, "apply", *common, "--auto-approve"], d, env)
        if f"Apply complete! Resources: {n} added, 0 changed, 0 destroyed." not in r.stdout:
            raise SystemExit(f"hookplan apply of {n} hooks did not create them all:\n{r.stdout[-2000:]}")
        apply.runs.append(r)
        if token and rep == 0:
            apply.note = f"{token.requests - before} OAuth token requests to 127.0.0.1"
    log(f"  hookplan apply               {apply.median:8.2f}s  ({apply.note or 'no OAuth hooks'})")

    noop = Measure("hookplan", "plan (no-op)", n)
    for _ in range(reps):
        r = run([*hp, "plan", *common, "--detailed-exitcode"], d, env, expect=0)
        if "No changes." not in r.stdout:
            raise SystemExit("hookplan no-op plan did not say 'No changes.'")
        noop.runs.append(r)
    log(f"  hookplan plan (no-op)        {noop.median:8.2f}s  peak RSS {noop.rss:.0f} MB")

    one = Measure("hookplan", "plan (1% changed)", n, note=f"{n_changed} in-place updates")
    for _ in range(reps):
        cmd = [*hp, "plan", "-f", "hooks-changed.yaml", "--state", str(state), "--detailed-exitcode"]
        r = run(cmd, d, env, expect=2)
        check_plan(r, 0, n_changed, 0, "hookplan plan (1% changed)")
        one.runs.append(r)
    log(f"  hookplan plan (1% changed)   {one.median:8.2f}s  peak RSS {one.rss:.0f} MB")
    return [validate, apply, noop, one]


# --------------------------------------------------------------------------------------------------
# The remote registry: a real `hookplan forward` on 127.0.0.1, and a counting proxy in front of it
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a running process so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def proc_peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


class Forwarder:
    """``hookplan forward`` as a subprocess on 127.0.0.1 with its own fresh state file."""

    def __init__(self, d: Path, env: dict[str, str]):
        d.mkdir(parents=True)
        self.dir = d
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "HOOKPLAN_TOKEN": REMOTE_ADMIN_TOKEN, "HOOKPLAN_INGEST_TOKEN": REMOTE_INGEST_TOKEN}
        self.proc: subprocess.Popen | None = None
        self._log: Any = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Forwarder:
        cmd = [*hookplan_command(), "forward", "--listen", f"127.0.0.1:{self.port}"]
        cmd += ["--state", str(self.dir / "server.db"), "--allow-private-endpoints", "--log-format", "json"]
        self._log = (self.dir / "forwarder.log").open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if self.proc.poll() is not None:
                    raise SystemExit(f"hookplan forward exited {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    with urlopen(f"{self.url}/healthz", timeout=1) as response:
                        if response.status == 200:
                            return self
                except (URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"hookplan forward did not answer /healthz within 30 s:\n{self.log_tail()}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self) -> str:
        if self._log:
            self._log.flush()
        text = (self.dir / "forwarder.log").read_text(errors="replace")
        return "\n".join(text.strip().splitlines()[-15:])

    def hooks(self) -> list[dict[str, Any]]:
        """The registry as the control API lists it (read by the bench to check an apply's outcome)."""
        request = Request(f"{self.url}/v1/hooks", headers={"Authorization": f"Bearer {REMOTE_ADMIN_TOKEN}"})
        with urlopen(request, timeout=30) as response:
            return json.loads(response.read())["hooks"]


HOOK_PATH = re.compile(r"^/v1/hooks/[^/]+$")


class CountingProxy:
    """A plain HTTP proxy on 127.0.0.1 in front of the forwarder that counts requests by method and route.

    Used only for untimed runs: it checks how many calls a plan makes, not how long they take.
    """

    def __init__(self, upstream_port: int) -> None:
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                path = self.path.split("?", 1)[0]
                route = "/v1/hooks/{name}" if HOOK_PATH.match(path) else path
                with proxy._lock:
                    key = f"{self.command} {route}"
                    proxy.counts[key] = proxy.counts.get(key, 0) + 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                skip = {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for k, v in answer.getheaders():
                        if k.lower() not in skip:
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self.counts = self.counts, {}
        return counts

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def one_call_listing(counts: dict[str, int]) -> bool:
    """A plan lists in one call: one GET /v1/hooks, one POST /v1/fingerprints, nothing per hook."""
    return (
        counts.get("GET /v1/hooks") == 1
        and counts.get("POST /v1/fingerprints") == 1
        and not counts.get("GET /v1/hooks/{name}")
        and sum(counts.values()) <= 4
    )


def bench_remote(
    n: int, work: Path, env: dict[str, str], token: TokenServer | None, args: argparse.Namespace
) -> list[Measure]:
    """apply / no-op plan / 1%-changed plan of N hooks with ``--remote`` against a real forwarder."""
    hp = hookplan_command()
    d = work / f"remote-{n}"
    d.mkdir()
    hooks = make_hooks(n, token.url(args.oauth_host) if token else None)
    changed, n_changed = change_one_percent(hooks)
    write_hooks_file(d / "hooks.yaml", hooks)
    write_hooks_file(d / "hooks-changed.yaml", changed)
    cenv = {**env, "HOOKPLAN_TOKEN": REMOTE_ADMIN_TOKEN}
    apply_reps = args.repeats if n <= 1000 else args.big_apply_repeats
    reps = args.repeats

    apply = Measure("remote", "apply (N creates)", n)
    noop = Measure("remote", "plan (no-op)", n)
    one = Measure("remote", "plan (1% changed)", n, note=f"{n_changed} in-place updates")
    fwd: Forwarder | None = None
    proxy: CountingProxy | None = None
    try:
        cpu: list[float] = []
        token_requests = 0
        for rep in range(apply_reps):
            if fwd:
                fwd.stop()
            fwd = Forwarder(d / f"forwarder-{rep}", env).start()  # a fresh, empty registry for each apply
            before = token.requests if token else 0
            cpu_before = proc_cpu_seconds(fwd.pid)
            r = run([*hp, "apply", "-f", "hooks.yaml", "--remote", fwd.url, "--auto-approve"], d, cenv)
            cpu_after = proc_cpu_seconds(fwd.pid)
            if f"Apply complete! Resources: {n} added, 0 changed, 0 destroyed." not in r.stdout:
                raise SystemExit(f"hookplan apply --remote of {n} hooks did not create them all:\n{r.stdout[-2000:]}")
            states = [h["connection_state"] for h in fwd.hooks()]
            if len(states) != n or any(s != "AUTHORIZED" for s in states):
                bad = sum(s != "AUTHORIZED" for s in states)
                raise SystemExit(f"after apply --remote: {len(states)} hooks on the forwarder, {bad} not AUTHORIZED")
            apply.runs.append(r)
            token_requests = (token.requests - before) if token else 0
            if cpu_before is not None and cpu_after is not None:
                cpu.append(cpu_after - cpu_before)
        notes = [f"{token_requests} OAuth token requests from the forwarder"] if token else []
        if cpu:
            notes.append(f"forwarder CPU during apply (median) {statistics.median(cpu):.2f}s")
        apply.note = "; ".join(notes)
        log(f"  remote   apply               {apply.median:8.2f}s  ({apply.note})")

        # the plans run against the last apply's forwarder, which holds the N hooks
        assert fwd is not None
        for _ in range(reps):
            r = run([*hp, "plan", "-f", "hooks.yaml", "--remote", fwd.url, "--detailed-exitcode"], d, cenv, expect=0)
            if "No changes." not in r.stdout:
                raise SystemExit("hookplan plan --remote (no-op) did not say 'No changes.'")
            noop.runs.append(r)
        log(f"  remote   plan (no-op)        {noop.median:8.2f}s  peak RSS {noop.rss:.0f} MB")

        for _ in range(reps):
            cmd = [*hp, "plan", "-f", "hooks-changed.yaml", "--remote", fwd.url, "--detailed-exitcode"]
            r = run(cmd, d, cenv, expect=2)
            check_plan(r, 0, n_changed, 0, "hookplan plan --remote (1% changed)")
            one.runs.append(r)
        log(f"  remote   plan (1% changed)   {one.median:8.2f}s  peak RSS {one.rss:.0f} MB")

        # Untimed: the same two plans through a counting proxy -- how many calls does a plan make?
        proxy = CountingProxy(fwd.port)
        for m, hooks_file, code in ((noop, "hooks.yaml", 0), (one, "hooks-changed.yaml", 2)):
            run([*hp, "plan", "-f", hooks_file, "--remote", proxy.url, "--detailed-exitcode"], d, cenv, expect=code)
            counts = proxy.take()
            calls = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            verdict = "lists in one call" if one_call_listing(counts) else "NOT one call"
            m.note = "; ".join(x for x in (m.note, f"requests: {calls} ({verdict})") if x)
            m.calls = counts
            log(f"  remote   {m.step:<20} requests: {calls}  -> {verdict}")
        rss = proc_peak_rss_mb(fwd.pid)
        if rss is not None:
            apply.note += f"; forwarder peak RSS {rss:.0f} MB"
    finally:
        if proxy:
            proxy.close()
        if fwd:
            fwd.stop()
    return [apply, noop, one]


TF_FLAGS = ["-input=false", "-lock=false", "-no-color"]


def terraform_setup(
    n: int, work: Path, env: dict[str, str], args: argparse.Namespace
) -> tuple[str, Path, dict[str, str], list[dict[str, Any]], int]:
    """A terraform working directory of N resources (and the 1%-changed one beside it), initialised."""
    tf = shutil.which("terraform") or "terraform"
    d = work / f"terraform-{n}"
    d.mkdir()
    hooks = make_hooks(n, "https://login.example.com/oauth2/token" if not args.no_oauth else None)
    changed, n_changed = change_one_percent(hooks)
    write_terraform(d, changed)
    (d / "changed.tf.txt").write_text((d / "main.tf").read_text())
    write_terraform(d, hooks)
    tenv = dict(env)
    tenv.update({f"TF_VAR_{k.lower()}": v for k, v in secret_env().items()})
    tenv.update({"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
    run([tf, "init", "-input=false", "-no-color"], d, tenv)
    return tf, d, tenv, hooks, n_changed


def terraform_apply(
    n: int, tf: str, d: Path, tenv: dict[str, str], hooks: list[dict[str, Any]], args: argparse.Namespace
) -> Measure:
    apply = Measure("terraform", "apply (N creates)", n)
    for _ in range(args.tf_apply_repeats):
        for f in ("terraform.tfstate", "terraform.tfstate.backup"):
            (d / f).unlink(missing_ok=True)
        r = run([tf, "apply", "-auto-approve", *TF_FLAGS], d, tenv)
        if f"Resources: {n} added, 0 changed, 0 destroyed." not in r.stdout:
            raise SystemExit(f"terraform apply did not add {n} resources")
        apply.runs.append(r)
    # The state terraform wrote is the one write_state() writes where apply is too slow to wait for.
    apply.note = "state check: " + ("matches write_state()" if same_state(d, hooks) else "DIFFERS")
    log(f"  terraform apply              {apply.median:8.2f}s  ({apply.note})")
    return apply


def bench_terraform(n: int, work: Path, env: dict[str, str], args: argparse.Namespace) -> list[Measure]:
    tf, d, tenv, hooks, n_changed = terraform_setup(n, work, env, args)
    flags = TF_FLAGS
    reps = args.tf_repeats if n <= 1000 else 1
    tf_version = json.loads(run([tf, "version", "-json"], d, tenv).stdout)["terraform_version"]
    out: list[Measure] = []

    validate = Measure("terraform", "validate", n)
    for _ in range(reps):
        validate.runs.append(run([tf, "validate", "-no-color"], d, tenv))
    log(f"  terraform validate           {validate.median:8.2f}s")
    out.append(validate)

    if n <= args.tf_apply_max:
        out.append(terraform_apply(n, tf, d, tenv, hooks, args))
        state_note = "after terraform apply"
    else:
        write_state(d, hooks, tf_version)
        state_note = f"apply not run (N > --tf-apply-max {args.tf_apply_max}): state written by the bench"
        log(f"  terraform apply skipped: {state_note}")

    noop = Measure("terraform", "plan (no-op)", n, note=state_note)
    for _ in range(reps):
        noop.runs.append(run([tf, "plan", "-detailed-exitcode", *flags], d, tenv, expect=0))
    log(f"  terraform plan (no-op)       {noop.median:8.2f}s  peak RSS {noop.rss:.0f} MB")
    out.append(noop)

    original = (d / "main.tf").read_text()
    (d / "main.tf").write_text((d / "changed.tf.txt").read_text())
    one = Measure("terraform", "plan (1% changed)", n, note=f"{n_changed} in-place updates")
    for _ in range(reps):
        r = run([tf, "plan", "-detailed-exitcode", *flags], d, tenv, expect=2)
        check_plan(r, 0, n_changed, 0, "terraform plan (1% changed)")
        one.runs.append(r)
    (d / "main.tf").write_text(original)
    log(f"  terraform plan (1% changed)  {one.median:8.2f}s")
    out.append(one)
    return out


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = round(kb / 1024 / 1024, 1)
    except (OSError, IndexError, ValueError):
        pass
    try:
        tf = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True, timeout=60)
        tf_version = json.loads(tf.stdout)["terraform_version"]
    except (OSError, ValueError, KeyError, subprocess.SubprocessError):
        tf_version = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "terraform": tf_version,
        "hookplan_commit": commit,
        "loadavg_at_start": os.getloadavg(),
    }


def find(measures: list[Measure], tool: str, step: str, n: int) -> Measure | None:
    return next((m for m in measures if (m.tool, m.step, m.n) == (tool, step, n)), None)


def table(measures: list[Measure], sizes: list[int]) -> str:
    steps = ["validate", "plan (no-op)", "plan (1% changed)", "apply (N creates)"]
    lines = [
        f"{'step':<20} {'N':>7} {'hookplan':>10} {'RSS MB':>7} {'terraform':>10} {'RSS MB':>7} {'tf/hp':>7}",
        "-" * 74,
    ]
    for n in sizes:
        for step in steps:
            hp, tf = find(measures, "hookplan", step, n), find(measures, "terraform", step, n)
            if not hp and not tf:
                continue
            hp_s = f"{hp.median:9.3f}s" if hp else f"{'-':>10}"
            hp_m = f"{hp.rss:7.0f}" if hp else f"{'-':>7}"
            tf_s = f"{tf.median:9.2f}s" if tf else f"{'-':>10}"
            tf_m = f"{tf.rss:7.0f}" if tf else f"{'-':>7}"
            ratio = f"{tf.median / hp.median:6.1f}x" if hp and tf else f"{'-':>7}"
            lines.append(f"{step:<20} {n:>7,} {hp_s} {hp_m} {tf_s} {tf_m} {ratio}")
    return "\n".join(lines)


def remote_table(measures: list[Measure]) -> str:
    """--remote beside the SQLite registry (and terraform), at each N measured remotely."""
    steps = ["apply (N creates)", "plan (no-op)", "plan (1% changed)"]
    lines = [
        f"{'step':<20} {'N':>7} {'SQLite':>10} {'--remote':>10} {'rem/SQL':>8} {'terraform':>10} {'tf/rem':>7}",
        "-" * 78,
    ]
    for n in sorted({m.n for m in measures if m.tool == "remote"}):
        for step in steps:
            loc, rem, tf = (find(measures, tool, step, n) for tool in ("hookplan", "remote", "terraform"))
            if not rem:
                continue
            loc_s = f"{loc.median:9.3f}s" if loc else f"{'-':>10}"
            tf_s = f"{tf.median:9.2f}s" if tf else f"{'-':>10}"
            vs_loc = f"{rem.median / loc.median:7.2f}x" if loc else f"{'-':>8}"
            vs_tf = f"{tf.median / rem.median:6.1f}x" if tf else f"{'-':>7}"
            lines.append(f"{step:<20} {n:>7,} {loc_s} {rem.median:9.3f}s {vs_loc} {tf_s} {vs_tf}")
    return "\n".join(lines)


def goals(measures: list[Measure]) -> list[dict[str, Any]]:
    """Issue 2's three goals (the growth one checked for both kinds of plan) and issue 4's remote ones."""

    def check(goal: str, num: tuple, den: tuple, target: float, higher_is_better: bool) -> dict[str, Any]:
        a, b = find(measures, *num), find(measures, *den)
        value = a.median / b.median if a and b else None
        ok = None if value is None else (value >= target if higher_is_better else value <= target)
        return {"goal": goal, "value": value, "target": target, "pass": ok}

    noop, one, apply = "plan (no-op)", "plan (1% changed)", "apply (N creates)"
    return [
        check(
            "no-op plan of 10,000: terraform / hookplan >= 20",
            ("terraform", noop, 10_000),
            ("hookplan", noop, 10_000),
            GOAL_NOOP_PLAN_VS_TF,
            True,
        ),
        check(
            "apply of 1,000 creates: terraform / hookplan >= 10",
            ("terraform", apply, 1000),
            ("hookplan", apply, 1000),
            GOAL_APPLY_VS_TF,
            True,
        ),
        *(
            check(
                f"hookplan {step}: time at 10,000 / at 1,000 <= 12",
                ("hookplan", step, 10_000),
                ("hookplan", step, 1000),
                GOAL_PLAN_GROWTH,
                False,
            )
            for step in (noop, one)
        ),
        *(
            check(
                f"--remote {step} of 1,000: remote / SQLite <= 2",
                ("remote", step, 1000),
                ("hookplan", step, 1000),
                GOAL_REMOTE_PLAN_VS_LOCAL,
                False,
            )
            for step in (noop, one)
        ),
        *(one_call(find(measures, "remote", step, 1000), step) for step in (noop, one)),
        check(
            "--remote apply of 1,000 creates: terraform / remote >= 10",
            ("terraform", apply, 1000),
            ("remote", apply, 1000),
            GOAL_REMOTE_APPLY_VS_TF,
            True,
        ),
    ]


def one_call(m: Measure | None, step: str) -> dict[str, Any]:
    """Issue 4: the remote plan lists in one call, not one call per hook (counted through the proxy)."""
    calls = m.calls if m else None
    return {
        "goal": f"--remote {step} of 1,000: requests (one GET /v1/hooks, one POST /v1/fingerprints, none per hook)",
        "value": None if calls is None else sum(calls.values()),
        "target": 4,
        "pass": None if calls is None else one_call_listing(calls),
    }


def profile(n: int, work: Path, env: dict[str, str]) -> Path:
    """cProfile a no-op plan of the largest N (the state is already there from the apply)."""
    d = work / f"hookplan-{n}"
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    prof = OUT_DIR / f"plan-noop-{n}.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "hookplan"]
    cmd += ["plan", "-f", "hooks.yaml", "--state", str(d / "hookplan.db")]
    run(cmd, d, env, expect=0)
    import pstats

    stats = pstats.Stats(str(prof))
    print(f"\ncProfile of a no-op plan of {n:,} hooks (full profile: {prof}); hookplan's functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(r"hookplan/(cli|config|plan|registry|model)", 25)
    print("All functions by own time:")
    stats.sort_stats("tottime").print_stats(15)
    return prof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N (default 1000,10000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each cheap hookplan step (median)")
    parser.add_argument("--big-apply-repeats", type=int, default=1, help="hookplan applies at N > 1,000")
    parser.add_argument("--tf-repeats", type=int, default=3, help="runs of each terraform step at N <= 1,000")
    parser.add_argument("--tf-apply-repeats", type=int, default=1, help="terraform applies at each N")
    parser.add_argument(
        "--tf-apply-max",
        type=int,
        default=1000,
        help="largest N for terraform apply (its time grows with N squared); above it the bench writes "
        "the state terraform would have and plans over that",
    )
    parser.add_argument("--only", choices=["hookplan", "terraform"], help="measure one tool only")
    parser.add_argument(
        "--remote-sizes",
        default="1000",
        help="N at which hookplan also runs with --remote against a forwarder subprocess (default 1000; "
        "'none' to skip); in the full run only those also in --sizes",
    )
    parser.add_argument(
        "--remote-only",
        action="store_true",
        help="only the remote registry comparison at --remote-sizes: apply / plans with --remote and with "
        "SQLite, and terraform's apply (no terraform plans, no validate)",
    )
    parser.add_argument("--no-oauth", action="store_true", help="leave OAuth hooks out (no token server)")
    parser.add_argument("--oauth-host", default="localhost", help="host name of the local token server")
    parser.add_argument("--profile", action="store_true", help="cProfile a no-op plan at the largest N")
    parser.add_argument("--out", help="result file (default bench/out/plan_scale-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",") if s.strip()})
    remote_sizes = (
        set()
        if args.remote_sizes.strip().lower() == "none"
        else {int(s.replace("_", "")) for s in args.remote_sizes.split(",") if s.strip()}
    )
    if args.remote_only:
        sizes = sorted(remote_sizes)
        if not sizes:
            parser.error("--remote-only needs --remote-sizes")

    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKPLAN_", "TF_"))}
    env.update(secret_env())
    env["NO_COLOR"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    token = None if args.no_oauth else TokenServer()
    work = Path(tempfile.mkdtemp(prefix="hookplan-bench-"))
    info = machine()
    log(f"hookplan plan_scale: sizes {sizes}, work dir {work}")
    log(
        f"machine: {info['nproc']} CPU ({info['cpu']}), {info['ram_gib']} GiB, "
        f"Python {info['python']}, terraform {info['terraform']}"
    )
    measures: list[Measure] = []
    try:
        # warm the OS page cache and Python's bytecode cache so the first timed run is not an outlier
        run([*hookplan_command(), "--version"], work, env)
        for n in sizes:
            log(f"N = {n:,}")
            if args.only != "terraform":
                measures += bench_hookplan(n, work, env, token, args)
                if n in remote_sizes:
                    measures += bench_remote(n, work, env, token, args)
            if args.only != "hookplan":
                if not args.remote_only:
                    measures += bench_terraform(n, work, env, args)
                elif n <= args.tf_apply_max:
                    tf, d, tenv, hooks, _ = terraform_setup(n, work, env, args)
                    measures.append(terraform_apply(n, tf, d, tenv, hooks, args))
        prof = profile(max(sizes), work, env) if args.profile and args.only != "terraform" else None
    finally:
        if token:
            token.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    print()
    print(table(measures, sizes))
    if any(m.tool == "remote" for m in measures):
        print()
        print(remote_table(measures))
    results = goals(measures)
    if args.remote_only:  # issue 2's goals at 10,000 are not measured in this mode
        results = [g for g in results if g["value"] is not None or "remote" in g["goal"]]
    print()
    for g in results:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[g["pass"]]
        value = "not measured" if g["value"] is None else f"{g['value']:.2f}"
        print(f"{verdict}  {g['goal']}: {value}")
    print(f"\n(whole run: {elapsed:.0f}s)")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else OUT_DIR / f"plan_scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    doc = {
        "benchmark": "plan_scale",
        "command": " ".join(["python", "bench/plan_scale.py", *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "sizes": sizes,
        "remote_sizes": sorted(remote_sizes & set(sizes)),
        "oauth": "none" if args.no_oauth else "local token server on 127.0.0.1 (real requests during apply)",
        "results": [m.to_json() for m in measures],
        "goals": results,
        "elapsed_s": round(elapsed, 1),
        "loadavg_at_end": os.getloadavg(),
        "profile": str(prof) if prof else None,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
