#!/usr/bin/env python3
"""How fast ``hookplan forward`` delivers, beside the raw ceiling of an httpx client (issue 3, "Speed").

One run measures, on this machine, all traffic on 127.0.0.1:

(a) the raw ceiling: an async httpx client POSTing the seed's sample event (distinct ids) straight to a
    local receiver in its own process; the best of several concurrencies (4, 8, 16, 32 connections);
    wrk (when installed) against the same receiver as a second peer;
(b) hookplan end to end: the same events POSTed in batches (JSON arrays, as a producer would) to a real
    ``hookplan forward`` subprocess with one REGISTRATION hook pointing at the same receiver; throughput
    is events delivered per second, counted at the receiver, from the first post to the last delivery;
(c) latency from ingest to delivery at a steady 200 events/s (one event per request, open loop): the
    post time recorded just before each request, the receive time recorded by the receiver (same clock);
(d) the forwarder's peak memory (``VmHWM``) with 100,000 events queued behind a receiver that is down
    (the hook points at a closed port, so every delivery fails and is retried).

Goals printed as PASS/FAIL: (b) >= half of (a); p99 of (c) < 50 ms; (d) < 200 MB. The receiver is a
minimal HTTP/1.1 server on a bare asyncio protocol (stdlib only, keep-alive, Content-Length bodies):
it answers ``200 {}`` and records, per request, its arrival time and ``webhook-id``.

The hook is applied with ``rate_limit_per_second: 10000`` (the schema's maximum): the default, 300/s,
is a policy that would cap (b) at 300 events/s by design. Results: a table on stdout and a JSON file in
``bench/out/``. ``--profile`` also samples the forwarder with py-spy under a (b)-style load, and
``--cprofile`` runs one under cProfile (exact calls per event); both are separate runs, not counted in
the figures. docs/benchmarks.md ("Forwarder throughput") has the figures and what they mean.

    python bench/forward_throughput.py                 # the whole run: under 2 minutes on a quiet machine
    python bench/forward_throughput.py --profile --cprofile   # plus where the forwarder's time goes
    python bench/forward_throughput.py --quick         # smaller counts, for trying the script out
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"
EVENT_FILE = ROOT.parent / "shared" / "fixtures" / "events" / "registration-success.json"
HOST = "127.0.0.1"
INGEST_TOKEN = "bench-ingest-token"

# The reference figures, measured on this kind of machine before the forwarder existed.
REFERENCE = {
    "httpx_req_s_at_4_8_connections": 1250,
    "httpx_req_s_at_32_connections": 450,
    "aiohttp_req_s": "8000-10000",
    "wrk_req_s": 55000,
}
RECEIVER_LIFETIME = 1200  # seconds: the receiver stops by itself after this, whatever happens
PROFILE_RATE = 100  # py-spy samples per second (it pauses the forwarder for each: keep it modest)
GOAL_RATIO = 0.5
GOAL_P99_MS = 50.0
GOAL_PEAK_MB = 200.0


# ---------------------------------------------------------------------------------------------
# The receiver (runs in its own process: ``forward_throughput.py --receiver``)
# ---------------------------------------------------------------------------------------------

_OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class _Stats:
    def __init__(self) -> None:
        self.seen: set[bytes] = set()  # every webhook-id received since start (kept across resets)
        self.reset()

    def reset(self) -> dict[str, Any]:
        before = self.snapshot() if hasattr(self, "count") else {}
        self.count = 0
        self.bytes = 0
        self.first: float | None = None
        self.last: float | None = None
        self.times: dict[str, float] = {}  # webhook-id -> arrival, for ids starting "lat-"
        self.new = 0  # requests whose webhook-id was never seen before
        self.duplicates = 0  # requests whose webhook-id was seen before: a duplicate delivery
        self.last_new: float | None = None  # arrival of the last id not seen before
        return before

    def snapshot(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "distinct": self.new,
            "duplicates": self.duplicates,
            "bytes": self.bytes,
            "first": self.first,
            "last": self.last,
            "last_new": self.last_new,
        }


class _ReceiverProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies; every path but ``/_*`` is a delivery."""

    stats = _Stats()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        out: list[bytes] = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            lines = buf[:end].split(b"\r\n")
            length = 0
            webhook_id = b""
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"webhook-id":
                    webhook_id = value.strip()
            total = end + 4 + length
            if len(buf) < total:
                break
            path = lines[0].split(b" ", 2)[1] if lines[0].count(b" ") >= 1 else b"/"
            out.append(self._handle(path, webhook_id, total - end - 4))
            buf = buf[total:]
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))

    def _handle(self, path: bytes, webhook_id: bytes, size: int) -> bytes:
        s = self.stats
        if not path.startswith(b"/_"):
            now = time.time()
            s.count += 1
            s.bytes += size
            if s.first is None:
                s.first = now
            s.last = now
            if webhook_id and webhook_id not in s.seen:
                s.seen.add(webhook_id)
                s.new += 1
                s.last_new = now
            elif webhook_id:
                s.duplicates += 1
            if webhook_id.startswith(b"lat-"):
                s.times[webhook_id.decode()] = now
            return _OK
        if path == b"/_stats":
            body = json.dumps(s.snapshot()).encode()
        elif path == b"/_reset":
            body = json.dumps(s.reset()).encode()
        elif path == b"/_times":
            body = json.dumps(s.times).encode()
        else:
            body = b"{}"
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        return head.encode() + body


def run_receiver() -> None:
    """Serve on 127.0.0.1 (any port); the port is the first line on stdout."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_ReceiverProtocol, HOST, 0, backlog=2048)
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        parent = os.getppid()
        async with server:
            for _ in range(RECEIVER_LIFETIME):  # bounded: gone with its parent, or after the lifetime
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                if stop.is_set() or os.getppid() != parent:
                    break

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

_children: list[subprocess.Popen] = []


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when this script dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    proc = subprocess.Popen(args, preexec_fn=_die_with_parent, **kwargs)
    _children.append(proc)
    return proc


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; only this process, by its pid."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    with contextlib.suppress(ValueError):
        _children.remove(proc)


def stop_all() -> None:
    for proc in list(_children):
        stop_process(proc, grace=5.0)


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS of a process, in kB."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    return out


def schedstat(pid: int, tid: int | None = None) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of one thread, or of all threads."""
    tids = [tid] if tid is not None else [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    run = wait = 0.0
    for t in tids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/task/{t}/schedstat").read_text().split()
            run += int(fields[0]) / 1e9
            wait += int(fields[1]) / 1e9
    return run, wait


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all CPUs spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def our_cpu_seconds() -> float:
    """CPU time of this script, its finished children and its live ones."""
    me, done = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    live = sum(cpu_seconds(p.pid) for p in _children if p.poll() is None)
    return me.ru_utime + me.ru_stime + done.ru_utime + done.ru_stime + live


@contextlib.contextmanager
def watch_other_load(record: dict, phase: str) -> Any:
    """Records how many cores *other* processes kept busy during a phase (a shared machine skews
    every figure here; the report warns when this is high)."""
    busy, ours, t = machine_busy_seconds(), our_cpu_seconds(), time.monotonic()
    try:
        yield
    finally:
        wall = max(time.monotonic() - t, 1e-6)
        other = (machine_busy_seconds() - busy) - (our_cpu_seconds() - ours)
        record[phase] = round(max(other, 0.0) / wall, 2)


def wait_for_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait (at most ``limit`` s) until other processes use under ``threshold`` cores; returns their load."""
    deadline = time.monotonic() + limit
    while True:
        busy, t = machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        load = (machine_busy_seconds() - busy) / (time.monotonic() - t)
        if load < threshold or time.monotonic() >= deadline:
            return round(load, 2)
        print(f"    the machine is busy ({load:.1f} cores used by others); waiting ...", flush=True)


class Receiver:
    def __init__(self) -> None:
        self.proc = spawn(
            [sys.executable, str(Path(__file__).resolve()), "--receiver"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = _readline_with_timeout(self.proc, 15.0)
        if not line.strip().isdigit():
            raise RuntimeError(f"the receiver did not start (said {line!r})")
        self.port = int(line)
        self.url = f"http://{HOST}:{self.port}"

    def control(self, path: str) -> Any:
        import httpx

        return httpx.get(self.url + path, timeout=10, trust_env=False).json()


def _readline_with_timeout(proc: subprocess.Popen, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


def hookplan_command() -> list[str]:
    beside = Path(sys.executable).parent / "hookplan"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("hookplan")
    if found:
        return [found]
    raise SystemExit("hookplan is not installed in this environment (pip install -e .)")


def endpoint_host() -> str:
    """``localhost`` as the brief asks, provided it resolves to 127.0.0.1 only; else the address itself."""
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)}
    except OSError:
        return HOST
    return "localhost" if addrs == {HOST} else HOST


HOOKS_YAML = """\
version: 1
workspace: bench
hooks:
  - name: {name}
    event_type: REGISTRATION
    endpoint: {endpoint}
    http_method: POST
    rate_limit_per_second: 10000
    auth:
      type: NONE
"""


class Forwarder:
    """A fresh registry with one hook (applied with ``hookplan apply``) and ``hookplan forward`` on it."""

    def __init__(self, workdir: Path, name: str, endpoint: str, run_as: list[str] | None = None):
        self.workdir = workdir
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.state = workdir / "registry.db"
        hooks = workdir / "hooks.yaml"
        hooks.write_text(HOOKS_YAML.format(name=name, endpoint=endpoint))
        cmd = hookplan_command()
        env = {**os.environ, "HOOKPLAN_INGEST_TOKEN": INGEST_TOKEN, "NO_COLOR": "1"}
        env.pop("HOOKPLAN_STATE", None)
        env.pop("HOOKPLAN_REMOTE", None)
        applied = subprocess.run(
            [*cmd, "apply", "-f", str(hooks), "--auto-approve", "--state", str(self.state)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        if applied.returncode != 0:
            raise RuntimeError(f"hookplan apply failed:\n{applied.stdout}\n{applied.stderr}")
        self.log = workdir / "forward.log"
        self._log_file = self.log.open("wb")
        self.proc = spawn(
            [
                *(run_as or cmd),
                "forward",
                "--listen",
                f"{HOST}:0",
                "--state",
                str(self.state),
                "--allow-private-endpoints",
                "--log-format",
                "json",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.port = self._wait_listening(30.0)
        self.url = f"http://{HOST}:{self.port}"
        self._wait_healthy(30.0)

    def _wait_listening(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hookplan forward exited {self.proc.returncode}:\n{self.log.read_text()}")
            for line in self.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if entry.get("msg") == "listening" and entry.get("port"):
                        return int(entry["port"])
            time.sleep(0.05)
        raise RuntimeError("hookplan forward did not say where it listens")

    def _wait_healthy(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(self.url + "/healthz", timeout=2, trust_env=False)
                if r.status_code == 200 and r.json().get("hooks") == 1:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"hookplan forward is not healthy:\n{self.log.read_text()[-2000:]}")

    def metrics(self) -> dict[str, float]:
        import httpx

        text = httpx.get(self.url + "/metrics", timeout=30, trust_env=False).text
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    out[key] = float(value)
        return out

    def metric(self, values: dict[str, float], name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for key, value in values.items():
            base, _, rest = key.partition("{")
            if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += value
        return total

    def stop(self) -> None:
        stop_process(self.proc, grace=15.0)
        self._log_file.close()


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------


class Bodies:
    """The seed's sample event with a fresh ``id`` each time, as compact JSON bytes."""

    def __init__(self, path: Path):
        event = json.loads(path.read_text())
        marker = "\u0000ID\u0000"
        text = json.dumps({**event, "id": marker}, separators=(",", ":"))
        head, tail = text.split(json.dumps(marker))
        self.head, self.tail = head.encode(), tail.encode()
        self.size = len(self.one("x" * 36))

    def one(self, event_id: str) -> bytes:
        return self.head + b'"' + event_id.encode() + b'"' + self.tail

    def batch(self, ids: list[str]) -> bytes:
        return b"[" + b",".join(self.one(i) for i in ids) + b"]"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------------
# (a) the raw ceiling: httpx straight to the receiver; wrk as another peer
# ---------------------------------------------------------------------------------------------


async def raw_httpx(url: str, bodies: Bodies, concurrency: int, count: int, seconds: float, tag: str) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10.0, trust_env=False) as client:

        async def run(n: int, limit_s: float, prefix: str) -> tuple[int, int, float]:
            counter = itertools.count()
            ok = failed = 0
            started = time.perf_counter()
            deadline = started + limit_s

            async def worker() -> None:
                nonlocal ok, failed
                while True:
                    i = next(counter)
                    if i >= n or time.perf_counter() > deadline:
                        return
                    event_id = f"{prefix}-{i}"
                    headers = {"content-type": "application/json", "webhook-id": event_id}
                    r = await client.post(url, content=bodies.one(event_id), headers=headers)
                    if r.status_code == 200:
                        ok += 1
                    else:
                        failed += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return ok, failed, time.perf_counter() - started

        await run(min(200, count), 5.0, f"raw-warm-{tag}")  # connections open, code paths warm
        ok, failed, elapsed = await run(count, seconds, f"raw-{tag}")
    return {
        "concurrency": concurrency,
        "requests": ok,
        "failed": failed,
        "seconds": round(elapsed, 3),
        "req_per_s": round(ok / elapsed, 1),
    }


def event_loops() -> list[str]:
    """The raw client runs on asyncio's loop, and on uvloop too when installed (uvicorn then runs the
    forwarder on it): the ceiling is the best of both, so the forwarder is not compared with a handicap."""
    return ["asyncio", "uvloop"] if _importable("uvloop") else ["asyncio"]


def run_on(loop_name: str, coro: Any) -> Any:
    if loop_name == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


def run_wrk(url: str, bodies: Bodies, workdir: Path, connections: int, seconds: int) -> dict | None:
    wrk = shutil.which("wrk")
    if not wrk:
        return None
    script = workdir / "post.lua"
    body = bodies.one("wrk-00000000-0000-0000-0000-000000000000").decode()
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["webhook-id"] = "wrk"\n'
    )
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 20).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "connections": connections,
        "threads": 1,
        "seconds": seconds,
        "req_per_s": float(rate[1]) if rate else None,
        "non_2xx": int(errors[1]) if errors else 0,
        "body": "the same event with one fixed id (wrk sends a static body)",
    }


# ---------------------------------------------------------------------------------------------
# (b) end to end through hookplan forward
# ---------------------------------------------------------------------------------------------


async def post_batches(
    url: str, bodies: Bodies, ids: list[str], batch: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    """POST ``ids`` as JSON arrays of ``batch`` events, ``concurrency`` requests at a time."""
    import httpx

    chunks = [ids[i : i + batch] for i in range(0, len(ids), batch)]
    queue = collections.deque(chunks)
    accepted = rejected = 0
    statuses: collections.Counter[int] = collections.Counter()
    headers = {"authorization": f"Bearer {INGEST_TOKEN}", "content-type": "application/json"}
    deadline = time.monotonic() + timeout
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60.0, trust_env=False) as client:

        async def worker() -> None:
            nonlocal accepted, rejected
            while queue and time.monotonic() < deadline:
                chunk = queue.popleft()
                r = await client.post(url, content=bodies.batch(chunk), headers=headers)
                statuses[r.status_code] += 1
                if r.status_code in (202, 207):
                    summary = r.json()
                    accepted += summary["accepted"]
                    rejected += summary["rejected"]
                else:
                    rejected += len(chunk)

        first = time.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        done = time.time()
    return {
        "first_post": first,
        "ingest_done": done,
        "accepted": accepted,
        "rejected": rejected,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def wait_count(receiver: Receiver, target: int, timeout: float) -> dict[str, Any]:
    """Until ``target`` distinct events have arrived (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    stats = receiver.control("/_stats")
    while stats["distinct"] < target and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = receiver.control("/_stats")
    return stats


def end_to_end(fwd: Forwarder, receiver: Receiver, bodies: Bodies, args: argparse.Namespace, tag: str) -> dict:
    n = args.events
    # Warm-up: the hook's connections open and its adaptive concurrency has a latency sample.
    warm = [f"e2e-warm-{tag}-{i}" for i in range(min(500, n))]
    receiver.control("/_reset")
    asyncio.run(post_batches(fwd.url + "/v1/events", bodies, warm, args.batch, 1, 30.0))
    wait_count(receiver, len(warm), 30.0)
    time.sleep(0.3)
    receiver.control("/_reset")

    ids = [f"e2e-{tag}-{i:07d}" for i in range(n)]
    cpu_before = cpu_seconds(fwd.proc.pid), cpu_seconds(receiver.proc.pid)
    loop_before = schedstat(fwd.proc.pid, fwd.proc.pid)  # the event-loop thread (the main thread)
    posted = asyncio.run(
        post_batches(fwd.url + "/v1/events", bodies, ids, args.batch, args.post_concurrency, args.e2e_timeout)
    )
    stats = wait_count(receiver, posted["accepted"], args.e2e_timeout)
    cpu_after = cpu_seconds(fwd.proc.pid), cpu_seconds(receiver.proc.pid)
    loop_after = schedstat(fwd.proc.pid, fwd.proc.pid)
    delivered = stats["distinct"]  # each event once; repeats are reported as duplicates
    elapsed = (stats["last_new"] or time.time()) - posted["first_post"]
    ingest_s = posted["ingest_done"] - posted["first_post"]
    time.sleep(0.5)  # a repeat that was still on its way
    after = receiver.control("/_stats")
    values = fwd.metrics()
    return {
        "events": n,
        "batch": args.batch,
        "post_concurrency": args.post_concurrency,
        "format": "JSON array",
        "accepted": posted["accepted"],
        "rejected": posted["rejected"],
        "ingest_statuses": posted["statuses"],
        "delivered": delivered,
        "duplicate_deliveries": after["duplicates"],
        "complete": delivered >= n,
        "seconds": round(elapsed, 3),
        "events_per_s": round(delivered / elapsed, 1) if elapsed > 0 else None,
        "ingest_seconds": round(ingest_s, 3),
        "ingest_events_per_s": round(posted["accepted"] / ingest_s, 1) if ingest_s > 0 else None,
        "forwarder_cpu_s": round(cpu_after[0] - cpu_before[0], 2),
        "receiver_cpu_s": round(cpu_after[1] - cpu_before[1], 2),
        "loop_thread_on_cpu_pct": round(100 * (loop_after[0] - loop_before[0]) / elapsed, 1),
        "loop_thread_waiting_for_cpu_pct": round(100 * (loop_after[1] - loop_before[1]) / elapsed, 1),
        "forwarder_cpu_ms_per_event": round(1000 * (cpu_after[0] - cpu_before[0]) / max(delivered, 1), 3),
        "hook_concurrency": fwd.metric(values, "hookplan_hook_concurrency"),
        "forwarder_delivered_total": fwd.metric(values, "hookplan_deliveries_total", outcome="delivered"),
        "forwarder_retrying_total": fwd.metric(values, "hookplan_deliveries_total", outcome="retrying"),
        "forwarder_vmhwm_mb": round(proc_status(fwd.proc.pid).get("VmHWM", 0) / 1024, 1),
        "forwarder_loaded": loaded_speedups(fwd.proc.pid),
    }


# ---------------------------------------------------------------------------------------------
# (c) latency at a steady rate
# ---------------------------------------------------------------------------------------------


class RawPoster:
    """A bare HTTP/1.1 keep-alive connection for ingest posts: a light instrument (httpx's own cost,
    about 1 ms a request here, and its pool slowing with many connections would be measured too)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {INGEST_TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise RuntimeError("chunked answers are not read by this poster")
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def steady_posts(
    port: int, bodies: Bodies, rate: float, seconds: float, connections: int = 16
) -> tuple[dict[str, float], list, dict]:
    """One event per request at ``rate``/s, open loop: events are scheduled on the clock and taken by
    ``connections`` keep-alive connections, so a slow answer does not delay the next post."""
    n = int(rate * seconds)
    posted_at: dict[str, float] = {}
    acked_at: dict[str, float] = {}  # when the 202 came back
    ingest_ms: list[float] = []
    lag_ms: list[float] = []  # how late each post left against its schedule (the poster's own delay)
    statuses: collections.Counter[int] = collections.Counter()
    queue: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()
    posters = [RawPoster(HOST, port) for _ in range(connections)]
    await asyncio.gather(*(p.open() for p in posters))

    async def worker(poster: RawPoster) -> None:
        while (item := await queue.get()) is not None:
            event_id, scheduled = item
            body = bodies.one(event_id)
            started = time.time()
            lag_ms.append((started - scheduled) * 1000)
            posted_at[event_id] = started
            try:
                statuses[await poster.post("/v1/events", body)] += 1
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                statuses[0] += 1
                return
            acked_at[event_id] = time.time()
            ingest_ms.append((acked_at[event_id] - started) * 1000)

    try:
        for i in range(connections):  # one post on each connection first: all open and warm
            await queue.put((f"lat-warm-{i}", time.time()))
        workers = [asyncio.create_task(worker(p)) for p in posters]
        while queue.qsize():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        t0 = time.time() + 0.05
        for i in range(n):
            scheduled = t0 + i / rate
            delay = scheduled - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((f"lat-{i:06d}", scheduled))
        sent_over = time.time() - t0
        for _ in posters:
            queue.put_nowait(None)
        await asyncio.wait_for(asyncio.gather(*workers), timeout=60.0)
    finally:
        for p in posters:
            p.close()
    info = {
        "events": n,
        "connections": connections,
        "sent_over_s": round(sent_over, 3),
        "statuses": {str(k): v for k, v in statuses.items()},
        "poster_lag_p99_ms": round(percentile(lag_ms[connections:], 99), 2) if len(lag_ms) > connections else None,
    }
    info["acked_at"] = acked_at
    return posted_at, ingest_ms, info


def latency(fwd: Forwarder, receiver: Receiver, bodies: Bodies, args: argparse.Namespace) -> dict:
    receiver.control("/_reset")
    posted_at, ingest_ms, info = asyncio.run(steady_posts(fwd.port, bodies, args.rate, args.latency_seconds))
    wait_count(receiver, len(posted_at), 30.0)
    time.sleep(0.5)
    duplicates = receiver.control("/_stats")["duplicates"]
    received = receiver.control("/_times")
    acked_at = info.pop("acked_at")
    lat = [(received[i] - t) * 1000 for i, t in posted_at.items() if i in received and not i.startswith("lat-warm")]
    # from the 202 to the delivery (negative when the delivery arrived before the 202 did)
    after_ack = [
        (received[i] - t) * 1000 for i, t in acked_at.items() if i in received and not i.startswith("lat-warm")
    ]
    out: dict[str, Any] = {
        "rate_per_s": args.rate,
        "seconds": args.latency_seconds,
        **info,
        "delivered": len(lat),
        "duplicate_deliveries": duplicates,
        "one_event_per_request": True,
    }
    if lat:
        out |= {f"p{q}_ms": round(percentile(lat, q), 2) for q in (50, 95, 99)}
        out["max_ms"] = round(max(lat), 2)
    if ingest_ms:
        out["ingest_202_p50_ms"] = round(percentile(ingest_ms, 50), 2)
        out["ingest_202_p95_ms"] = round(percentile(ingest_ms, 95), 2)
        out["ingest_202_p99_ms"] = round(percentile(ingest_ms, 99), 2)
    if after_ack:
        out |= {f"after_202_p{q}_ms": round(percentile(after_ack, q), 2) for q in (50, 95, 99)}
    return out


# ---------------------------------------------------------------------------------------------
# (d) peak memory with 100,000 events queued behind a dead receiver
# ---------------------------------------------------------------------------------------------


def memory_backlog(workdir: Path, bodies: Bodies, args: argparse.Namespace) -> dict:
    # A socket bound but not listening: the port stays ours and every connection to it is refused.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind((HOST, 0))
    port = closed.getsockname()[1]
    fwd = None
    try:
        fwd = Forwarder(workdir, "bench-down", f"http://{endpoint_host()}:{port}/down")
        pid = fwd.proc.pid
        samples: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.25):
                samples.append(proc_status(pid).get("VmRSS", 0))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        ids = [f"mem-{i:07d}" for i in range(args.backlog)]
        started = time.time()
        posted = asyncio.run(
            post_batches(fwd.url + "/v1/events", bodies, ids, args.backlog_batch, 2, args.backlog_timeout)
        )
        ingest_s = time.time() - started
        time.sleep(args.settle)  # deliveries keep failing and being rescheduled meanwhile
        stop.set()
        sampler.join()
        status = proc_status(pid)
        values = fwd.metrics()
        return {
            "events": args.backlog,
            "batch": args.backlog_batch,
            "accepted": posted["accepted"],
            "ingest_seconds": round(ingest_s, 2),
            "ingest_events_per_s": round(posted["accepted"] / ingest_s, 1),
            "settle_seconds": args.settle,
            "queue_depth": fwd.metric(values, "hookplan_queue_depth"),
            "failed_attempts_retrying": fwd.metric(values, "hookplan_deliveries_total", outcome="retrying"),
            "vmhwm_mb": round(status.get("VmHWM", 0) / 1024, 1),
            "peak_mb": round(max(status.get("VmHWM", 0), *samples, 0) / 1024, 1),  # VmHWM, or a higher sample
            "forwarder_loaded": loaded_speedups(pid),
            "vmrss_mb_end": round(status.get("VmRSS", 0) / 1024, 1),
            "vmrss_mb_max_sampled": round(max(samples, default=0) / 1024, 1),
            "registry_mb": round(sum(p.stat().st_size for p in workdir.glob("registry.db*")) / 1e6, 1),
        }
    finally:
        if fwd is not None:
            fwd.stop()
        closed.close()


# ---------------------------------------------------------------------------------------------
# The profile (``--profile``): py-spy on the forwarder under a (b)-style load
# ---------------------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _area(path: str) -> str:
    """Which package a py-spy frame's file belongs to (py-spy names files relative to site-packages)."""
    p = path.replace("\\", "/")
    for key, name in (
        ("hookplan/forward/", "hookplan.forward"),
        ("hookplan/", "hookplan (other)"),
        ("httpcore/", "httpcore"),
        ("httpx/", "httpx"),
        ("h11/", "h11"),
        ("anyio/", "anyio"),
        ("uvicorn/", "uvicorn"),
        ("starlette/", "starlette"),
        ("jsonschema", "jsonschema"),
        ("asyncio/", "asyncio"),
        ("json/", "json"),
        ("sqlite3/", "sqlite3"),
        ("concurrent/", "threads"),
        ("threading.py", "threads"),
        ("weakref.py", "weakref"),
        ("click/", "click"),
    ):
        if key in p:
            return name
    return p or "other"


_LOOP_FRAMES = {
    "Runner.run",
    "BaseEventLoop.run_forever",
    "BaseEventLoop._run_once",
    "Handle._run",
    "run_until_complete",
    "asyncio_run",
    "Server.run",
}


def _past_loop(parsed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The frames past the event loop's own (with uvloop the loop is C, and a stack may start at the
    coroutine itself): what the loop was running. Empty when the stack ends in the loop."""
    last = max((i for i, (fn, _) in enumerate(parsed) if fn in _LOOP_FRAMES), default=-1)
    return parsed[last + 1 :]


def _task_of(parsed: list[tuple[str, str]]) -> str:
    rest = _past_loop(parsed)
    if not rest:
        return "the event loop itself (polling, callbacks, C transports)"
    fn, path = rest[0]
    return f"{fn} ({Path(path).name})"


def _job_of(parsed: list[tuple[str, str]]) -> str:
    """The forwarder's job a loop-thread sample belongs to."""
    rest = _past_loop(parsed)
    names = {fn for fn, _ in rest}
    areas = {_area(p) for _, p in rest}
    if not rest:
        return "event loop itself (epoll, callbacks, C transports)"
    if "ingest" in names or areas & {"uvicorn", "starlette"}:
        return "ingest (uvicorn, starlette, parse, group commit wait)"
    if "Dispatcher._deliver" in names or areas & {"httpx", "httpcore", "h11", "anyio"}:
        return "delivery attempts (Dispatcher._deliver -> httpx)"
    if any(fn.startswith("Dispatcher.") for fn in names):
        return "dispatch loop (queue polls, outcome batches)"
    fn, path = rest[0]
    return f"{fn} ({Path(path).name})"


def summarize_profile(raw: Path, top: int = 15) -> dict:
    """py-spy's raw (collapsed) output -> samples per thread; for the event-loop thread (MainThread):
    self time by function and by package, and inclusive time by package and by hookplan function;
    for the other threads (the store writer), self time by function."""
    threads: collections.Counter[str] = collections.Counter()
    stacks: list[tuple[str, int, list[tuple[str, str]]]] = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        frames = stack.split(";")
        thread = "?"
        while frames and frames[0].startswith(("thread ", "process ")):
            thread = frames.pop(0).partition(": ")[2] or "?"
        if not frames:
            continue
        threads[thread] += int(count_text)
        parsed = []
        for f in frames:
            m = _FRAME.match(f)
            parsed.append((m["func"], m["file"]) if m else (f, ""))
        stacks.append((thread, int(count_text), parsed))

    main = "MainThread"
    main_total = threads.get(main, 0) or 1
    by_task: collections.Counter[str] = collections.Counter()
    by_job: collections.Counter[str] = collections.Counter()
    self_fn: collections.Counter[str] = collections.Counter()
    self_area: collections.Counter[str] = collections.Counter()
    incl_area: collections.Counter[str] = collections.Counter()
    incl_fn: collections.Counter[str] = collections.Counter()
    other_fn: collections.Counter[str] = collections.Counter()
    for thread, count, parsed in stacks:
        func, path = parsed[-1]
        leaf = f"{func} ({Path(path).name or '?'}, {_area(path)})"
        if thread != main:
            other_fn[f"[{thread}] {leaf}"] += count
            continue
        self_fn[leaf] += count
        self_area[_area(path)] += count
        by_task[_task_of(parsed)] += count
        by_job[_job_of(parsed)] += count
        rest = _past_loop(parsed)  # not main(), serve(), uvicorn's run(): they are on every stack
        for area in {_area(p) for _, p in rest}:
            incl_area[area] += count
        for name in {f"{fn} ({Path(p).name})" for fn, p in rest if "hookplan/" in p}:
            incl_fn[name] += count

    def pct(counter: collections.Counter[str], n: int, total: int) -> list[dict]:
        return [{"what": k, "samples": v, "pct": round(100 * v / total, 1)} for k, v in counter.most_common(n)]

    return {
        "samples_by_thread": dict(threads.most_common(10)),
        "main_thread_samples": threads.get(main, 0),
        "main_by_job": pct(by_job, 8, main_total),
        "main_by_task": pct(by_task, 10, main_total),
        "main_self_by_function": pct(self_fn, top, main_total),
        "main_self_by_area": pct(self_area, 12, main_total),
        "main_inclusive_by_area": pct(incl_area, 12, main_total),
        "main_inclusive_hookplan_functions": pct(incl_fn, top, main_total),
        "other_threads_self_by_function": pct(other_fn, 8, main_total),
        "pct_note": "percentages are of the MainThread's samples (other threads too, for comparison)",
    }


def loaded_speedups(pid: int) -> dict[str, bool]:
    """Which optional C speedups the process really loaded (uvicorn picks them up when installed)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return {}
    return {"uvloop": "/uvloop/" in maps, "httptools": "/httptools/" in maps}


def profile_forwarder(fwd: Forwarder, receiver: Receiver, bodies: Bodies, args: argparse.Namespace) -> dict:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists() and not shutil.which(spy):
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    raw = OUT_DIR / "forward_profile.txt"
    duration = int(args.e2e_timeout) + 30
    common = ["--pid", str(fwd.proc.pid), "--rate", str(PROFILE_RATE), "--duration", str(duration), "--threads"]
    recorder = spawn(
        [spy, "record", *common, "--format", "raw", "--output", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.5)  # attach
    sampled_from = time.monotonic()
    if recorder.poll() is not None:
        err = recorder.stderr.read().decode(errors="replace") if recorder.stderr else ""  # type: ignore[union-attr]
        return {"skipped": f"py-spy could not attach: {err.strip()[:300]}"}
    run = end_to_end(fwd, receiver, bodies, args, "profile")
    sampled_s = time.monotonic() - sampled_from
    recorder.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    try:
        recorder.wait(30)
    except subprocess.TimeoutExpired:
        stop_process(recorder)
    with contextlib.suppress(ValueError):
        _children.remove(recorder)
    if not raw.exists():
        return {"skipped": "py-spy wrote no output"}
    summary = summarize_profile(raw)
    busy = {t: round(100 * n / (PROFILE_RATE * sampled_s), 1) for t, n in summary["samples_by_thread"].items()}
    return {
        "sampled_seconds": round(sampled_s, 1),
        "busy_pct_by_thread": busy,
        "tool": f"py-spy record --rate {PROFILE_RATE} --threads (the process is paused for each sample; idle "
        "threads are left out)",
        "raw": str(raw.relative_to(ROOT)),
        "events_per_s_while_profiled": run["events_per_s"],
        **summary,
    }


def cprofile_forwarder(workdir: Path, receiver: Receiver, bodies: Bodies, args: argparse.Namespace) -> dict:
    """A (b)-style run with the forwarder under cProfile (its event-loop thread only): exact calls per
    delivered event, and where that thread's time goes. cProfile slows it down ~2x; the shares hold."""
    import pstats

    out = OUT_DIR / "forward_cprofile.prof"
    out.unlink(missing_ok=True)
    run_as = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "hookplan"]
    endpoint = f"http://{endpoint_host()}:{receiver.port}/bench/hook"
    fwd = Forwarder(workdir, "bench-registrations", endpoint, run_as=run_as)
    try:
        sub = argparse.Namespace(**{**vars(args), "events": args.cprofile_events})
        run = end_to_end(fwd, receiver, bodies, sub, "cprofile")
    finally:
        fwd.stop()  # SIGTERM: the forwarder exits cleanly and cProfile writes its file
    if not out.exists():
        return {"skipped": "cProfile wrote no output"}
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    events = run["delivered"] + min(500, args.cprofile_events)  # the warm-up's events were delivered too
    total = sum(tt for _cc, _nc, tt, _ct, _callers in stats.values()) or 1.0
    loop_wait = sum(tt for (f, _l, fn), (_cc, _nc, tt, _ct, _c) in stats.items() if "method 'run' of" in fn)
    busy = max(total - loop_wait, 1e-9)  # the loop's own run() is mostly waiting in epoll: left out
    rows = []
    for (path, line, fn), (_cc, calls, tt, ct, _callers) in stats.items():
        if "method 'run' of" in fn:
            continue
        where = f"{fn} ({Path(path).name}:{line})" if path != "~" else fn
        rows.append((tt, ct, calls, where, _area(path) if path != "~" else "builtin"))
    rows.sort(reverse=True)

    def row(tt: float, ct: float, calls: int, where: str, area: str) -> dict:
        return {
            "what": where,
            "area": area,
            "calls_per_event": round(calls / events, 2),
            "self_pct": round(100 * tt / busy, 1),
            "cumulative_pct": round(100 * ct / busy, 1),
        }

    wanted = ("_try (worker.py", "attempt (deliver.py", "send (deliver.py", "ingest (ingest.py", "_pump_all")
    return {
        "tool": "python -m cProfile -m hookplan forward (MainThread only: the event loop)",
        "events_per_s_while_profiled": run["events_per_s"],
        "events": events,
        "note": "percentages of the loop thread's profiled time (start-up and warm-up included; a run() row of "
        "the loop itself, if cProfile sees one, left out); a coroutine's every resumption counts as a call",
        "loop_run_self_pct_of_all": round(100 * loop_wait / total, 1),
        "top_self": [row(*r) for r in rows[:20]],
        "hookplan_cumulative": [row(*r) for r in rows if any(w in r[3] for w in wanted)],
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    versions = {}
    for pkg in ("httpx", "httpcore", "h11", "uvicorn", "starlette", "hookplan"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[pkg] = version(pkg)
    optional = {m: _importable(m) for m in ("uvloop", "httptools", "orjson")}
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "packages": versions,
        "optional_speedups_installed": optional,
    }


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def report(result: dict) -> str:
    raw, wrk, e2e, lat, mem = (result.get(k) or {} for k in ("raw", "wrk", "end_to_end", "latency", "memory"))
    lines = ["", "Forwarder throughput — " + result["started"], ""]
    m = result["machine"]
    lines.append(f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Python {m['python']}")
    lines.append("")
    lines.append("(a) raw ceiling, httpx -> receiver:")
    for r in raw.get("runs", []):
        lines.append(
            f"    {r['concurrency']:>3} connections: {r['req_per_s']:>9,.0f} req/s  ({r['requests']} requests)"
        )
    if raw:
        lines.append(
            f"    best: {raw['best_req_per_s']:,.0f} req/s ({raw['best_loop']}, {raw['best_concurrency']} connections)"
        )
    if wrk.get("runs"):
        for w in wrk["runs"]:
            lines.append(f"    wrk -t1 -c{w['connections']}: {w['req_per_s'] or 0:>9,.0f} req/s")
    elif wrk.get("skipped"):
        lines.append(f"    wrk: skipped ({wrk['skipped']})")
    if e2e:
        lines.append("")
        runs = ", ".join(f"{r:,.0f}" for r in e2e.get("runs_events_per_s", []))
        lines.append(f"(b) hookplan end to end: {e2e['events_per_s']:,.0f} events/s delivered (best of runs: {runs})")
        lines.append(
            f"    {e2e['delivered']:,}/{e2e['events']:,} events in {e2e['seconds']} s "
            f"({e2e['duplicate_deliveries']} duplicate deliveries), posted as JSON arrays "
            f"of {e2e['batch']} ({e2e['post_concurrency']} requests at a time); ingest alone "
            f"{e2e['ingest_events_per_s']:,.0f} events/s; forwarder CPU {e2e['forwarder_cpu_ms_per_event']} ms/event"
        )
        lines.append(
            f"    the forwarder's event-loop thread: on a CPU {e2e['loop_thread_on_cpu_pct']}% of the time, "
            f"runnable but waiting for a CPU {e2e['loop_thread_waiting_for_cpu_pct']}%; "
            f"forwarder {e2e['forwarder_cpu_s']} CPU-s, receiver {e2e['receiver_cpu_s']} CPU-s"
        )
        lines.append(f"    ratio to the raw ceiling: {result['ratio']:.2f}")
        loaded = [k for k, v in e2e.get("forwarder_loaded", {}).items() if v]
        lines.append(f"    the forwarder ran with: {', '.join(loaded) or 'the stock asyncio loop and h11'}")
    if lat:
        lines.append("")
        lines.append(
            f"(c) latency at {lat['rate_per_s']:.0f} events/s for {lat['seconds']:.0f} s (one event a request, "
            f"poster lag p99 {lat.get('poster_lag_p99_ms')} ms), ingest -> delivery: "
            f"p50 {lat.get('p50_ms')} ms, p95 {lat.get('p95_ms')} ms, p99 {lat.get('p99_ms')} ms, "
            f"max {lat.get('max_ms')} ms ({lat['delivered']}/{lat['events']} delivered; "
            f"202 answered p50 {lat.get('ingest_202_p50_ms')} ms, p99 {lat.get('ingest_202_p99_ms')} ms; "
            f"202 to delivery p50 {lat.get('after_202_p50_ms')} ms, p99 {lat.get('after_202_p99_ms')} ms)"
        )
    if mem:
        lines.append("")
        lines.append(
            f"(d) peak memory, {mem['accepted']:,} events queued behind a dead receiver: {mem['peak_mb']} MB "
            f"(VmHWM {mem['vmhwm_mb']} MB, highest VmRSS sampled {mem['vmrss_mb_max_sampled']} MB; "
            f"queue depth {mem['queue_depth']:,.0f}, ingest {mem['ingest_events_per_s']:,.0f} events/s)"
        )
    lines.append("")
    loads = result.get("other_load_cores") or {}
    if loads:
        lines.append(
            "other processes' load during each phase (cores): " + ", ".join(f"{k} {v}" for k, v in loads.items())
        )
        busy = [k for k in ("raw", "wrk", "end_to_end", "latency") if loads.get(k, 0.0) > 0.3]
        if busy:
            lines.append(
                f"    WARNING: other processes shared the CPUs during {', '.join(busy)}: those figures are skewed"
            )
        lines.append("")
    for goal in result["goals"]:
        lines.append(f"    {goal['verdict']:<4}  {goal['goal']}: {goal['measured']}")
    lines.append("")
    lines.append(
        "reference (issue 3, before the forwarder existed): httpx ~1,250 req/s at 4-8 connections "
        "(~450 at 32), aiohttp 8,000-10,000, wrk 55,000"
    )
    prof = result.get("profile")
    if prof and not prof.get("skipped"):
        lines.append("")
        lines.append(
            f"profile ({prof['sampled_seconds']} s sampled, {prof['events_per_s_while_profiled']:,.0f} events/s "
            "while sampled):"
        )
        busy = ", ".join(f"{t} {p}%" for t, p in list(prof["busy_pct_by_thread"].items())[:3])
        lines.append(f"    on CPU, share of wall time by thread: {busy}")
        lines.append("    MainThread (the event loop), by job:")
        for f in prof["main_by_job"][:6]:
            lines.append(f"      {f['pct']:>5}%  {f['what']}")
        lines.append("    MainThread, inclusive by package: " + _pcts(prof["main_inclusive_by_area"], 8))
        lines.append("    MainThread, self by package: " + _pcts(prof["main_self_by_area"], 8))
        lines.append("    MainThread, top functions (self):")
        for f in prof["main_self_by_function"][:12]:
            lines.append(f"      {f['pct']:>5}%  {f['what']}")
        lines.append("    MainThread, hookplan functions (inclusive):")
        for f in prof["main_inclusive_hookplan_functions"][:10]:
            lines.append(f"      {f['pct']:>5}%  {f['what']}")
        lines.append("    other threads (self, % of MainThread samples):")
        for f in prof["other_threads_self_by_function"][:4]:
            lines.append(f"      {f['pct']:>5}%  {f['what']}")
    elif prof:
        lines.append(f"profile skipped: {prof['skipped']}")
    cprof = result.get("cprofile")
    if cprof and not cprof.get("skipped"):
        lines.append("")
        lines.append(
            f"cProfile of the event loop ({cprof['events_per_s_while_profiled']:,.0f} events/s while profiled; "
            f"{cprof['events']:,} events): self % of the loop thread's time, calls per delivered event"
        )
        for f in cprof["top_self"][:15]:
            lines.append(f"      {f['self_pct']:>5}%  {f['calls_per_event']:>6} /event  {f['what']}")
        for f in cprof["hookplan_cumulative"]:
            lines.append(f"      cumulative {f['cumulative_pct']:>5}%  {f['what']}")
    elif cprof:
        lines.append(f"cProfile skipped: {cprof['skipped']}")
    return "\n".join(lines)


def _pcts(items: list[dict], n: int) -> str:
    return ", ".join(f"{a['what']} {a['pct']}%" for a in items[:n])


def goals(result: dict) -> list[dict]:
    out = []
    ratio = result.get("ratio")
    out.append(
        {
            "goal": "(b) >= half of (a)",
            "verdict": verdict(None if ratio is None else ratio >= GOAL_RATIO),
            "measured": "n/a" if ratio is None else f"{ratio:.2f} of the raw ceiling",
        }
    )
    p99 = (result.get("latency") or {}).get("p99_ms")
    lat_ok = None if p99 is None else p99 < GOAL_P99_MS
    if p99 is not None and result["latency"]["delivered"] < result["latency"]["events"]:
        lat_ok = False
    out.append({"goal": f"(c) p99 < {GOAL_P99_MS:.0f} ms", "verdict": verdict(lat_ok), "measured": f"{p99} ms"})
    peak = (result.get("memory") or {}).get("peak_mb")
    mem_ok = None if peak is None else peak < GOAL_PEAK_MB
    out.append({"goal": f"(d) peak < {GOAL_PEAK_MB:.0f} MB", "verdict": verdict(mem_ok), "measured": f"{peak} MB"})
    return out


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--event", type=Path, default=EVENT_FILE, help="Sample event (default: the seed's).")
    parser.add_argument("--concurrencies", default="4,8,16,32", help="(a) httpx connections to try.")
    parser.add_argument("--raw-requests", type=int, default=5000, help="(a) requests per concurrency at most.")
    parser.add_argument("--raw-seconds", type=float, default=5.0, help="(a) seconds per concurrency at most.")
    parser.add_argument("--events", type=int, default=15000, help="(b) events posted per run.")
    parser.add_argument("--e2e-runs", type=int, default=2, help="(b) runs; the best counts, as for (a).")
    parser.add_argument("--batch", type=int, default=100, help="(b) events per ingest request (JSON array).")
    parser.add_argument("--post-concurrency", type=int, default=4, help="(b) ingest requests in flight.")
    parser.add_argument("--e2e-timeout", type=float, default=90.0, help="(b) seconds to post / deliver at most.")
    parser.add_argument("--rate", type=float, default=200.0, help="(c) events per second.")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="(c) how long.")
    parser.add_argument("--backlog", type=int, default=100_000, help="(d) events queued.")
    parser.add_argument("--backlog-batch", type=int, default=1000, help="(d) events per ingest request.")
    parser.add_argument("--backlog-timeout", type=float, default=120.0, help="(d) seconds to post at most.")
    parser.add_argument("--settle", type=float, default=5.0, help="(d) seconds of retries before reading VmHWM.")
    parser.add_argument("--no-wrk", action="store_true", help="Skip wrk even if it is installed.")
    parser.add_argument("--profile", action="store_true", help="Also profile the forwarder with py-spy.")
    parser.add_argument(
        "--cprofile", action="store_true", help="Also run the forwarder under cProfile: calls per event."
    )
    parser.add_argument("--cprofile-events", type=int, default=6000, help="Events for the cProfile run.")
    parser.add_argument(
        "--wait-quiet", type=float, default=30.0, help="Wait up to this long for other processes to calm down."
    )
    parser.add_argument("--quick", action="store_true", help="Small counts, to try the script out.")
    args = parser.parse_args(argv)
    if args.receiver:
        run_receiver()
        return 0
    if args.quick:
        args.raw_requests, args.raw_seconds, args.events, args.e2e_runs = 1000, 2.0, 3000, 1
        args.latency_seconds, args.backlog, args.settle = 5.0, 10_000, 2.0
    if not args.event.is_file():
        raise SystemExit(f"{args.event}: no sample event (pass --event FILE)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the finally below cleans up
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    bodies = Bodies(args.event)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result: dict[str, Any] = {
        "started": started,
        "command": "python bench/forward_throughput.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "event_bytes": bodies.size,
        "reference": REFERENCE,
        "hook": "one REGISTRATION hook, auth NONE, POST, rate_limit_per_second 10000 (the schema's maximum)",
    }
    t_start = time.monotonic()
    if args.wait_quiet > 0:
        result["other_load_cores_at_start"] = wait_for_quiet(args.wait_quiet)
    other: dict[str, float] = {}
    result["other_load_cores"] = other
    workdir = Path(tempfile.mkdtemp(prefix="hookplan-bench-"))
    fwd: Forwarder | None = None
    try:
        receiver = Receiver()
        result["receiver"] = "bare asyncio HTTP/1.1 server, one process, " + receiver.url

        print("(a) raw ceiling: httpx straight to the receiver ...", flush=True)
        runs = []
        with watch_other_load(other, "raw"):
            for loop_name in event_loops():
                for c in [int(x) for x in args.concurrencies.split(",") if x.strip()]:
                    url = receiver.url + "/bench/raw"
                    coro = raw_httpx(url, bodies, c, args.raw_requests, args.raw_seconds, f"{loop_name}-{c}")
                    before = schedstat(os.getpid(), threading.get_native_id())
                    run = run_on(loop_name, coro)
                    after = schedstat(os.getpid(), threading.get_native_id())
                    busy = {  # the client's thread, warm-up included: CPU-bound or waiting for the receiver?
                        "client_on_cpu_s": round(after[0] - before[0], 2),
                        "client_waiting_for_cpu_s": round(after[1] - before[1], 2),
                    }
                    runs.append({"loop": loop_name, **run, **busy})
                    print(f"    {loop_name}, {c} connections: {runs[-1]['req_per_s']:,.0f} req/s", flush=True)
        best = max(runs, key=lambda r: r["req_per_s"])
        result["raw"] = {
            "runs": runs,
            "best_req_per_s": best["req_per_s"],
            "best_concurrency": best["concurrency"],
            "best_loop": best["loop"],
        }

        if args.no_wrk:
            result["wrk"] = {"skipped": "--no-wrk"}
        elif not shutil.which("wrk"):
            result["wrk"] = {"skipped": "wrk is not installed (apt-get install -y wrk)"}
        else:
            print("    wrk ...", flush=True)
            with watch_other_load(other, "wrk"):
                wrk_runs = [run_wrk(receiver.url + "/bench/wrk", bodies, workdir, c, 4) for c in (8, 32)]
            result["wrk"] = {"runs": [w for w in wrk_runs if w]}
        receiver.control("/_reset")

        print("(b) hookplan end to end ...", flush=True)
        fwd = Forwarder(workdir / "e2e", "bench-registrations", f"http://{endpoint_host()}:{receiver.port}/bench/hook")
        e2e_runs = []
        with watch_other_load(other, "end_to_end"):
            for i in range(args.e2e_runs):
                e2e_runs.append(end_to_end(fwd, receiver, bodies, args, f"run{i}"))
                print(f"    run {i + 1}: {e2e_runs[-1]['events_per_s']:,.0f} events/s", flush=True)
        e2e = max(e2e_runs, key=lambda r: r["events_per_s"] or 0)
        result["end_to_end"] = {**e2e, "runs_events_per_s": [r["events_per_s"] for r in e2e_runs]}
        result["ratio"] = round(e2e["events_per_s"] / best["req_per_s"], 3) if e2e["events_per_s"] else None

        print(f"(c) latency at {args.rate:.0f} events/s for {args.latency_seconds:.0f} s ...", flush=True)
        with watch_other_load(other, "latency"):
            result["latency"] = latency(fwd, receiver, bodies, args)
        print(f"    p99 {result['latency'].get('p99_ms')} ms", flush=True)

        if args.profile:
            print("profile: py-spy on the forwarder under a (b)-style load ...", flush=True)
            with watch_other_load(other, "profile"):
                result["profile"] = profile_forwarder(fwd, receiver, bodies, args)
        fwd.stop()
        fwd = None
        if args.cprofile:
            print("cProfile: the forwarder's event loop under a (b)-style load ...", flush=True)
            with watch_other_load(other, "cprofile"):
                result["cprofile"] = cprofile_forwarder(workdir / "cprofile", receiver, bodies, args)

        print(f"(d) peak memory with {args.backlog:,} events queued behind a dead receiver ...", flush=True)
        with watch_other_load(other, "memory"):
            result["memory"] = memory_backlog(workdir / "backlog", bodies, args)
    except Exception as exc:  # what was measured so far is still written and reported
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"[:3000]
    finally:
        if fwd is not None:
            fwd.stop()
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    result["goals"] = goals(result)
    result["wall_seconds"] = round(time.monotonic() - t_start, 1)
    result["poster_cpu_s"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_utime, 1)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = OUT_DIR / f"forward_throughput-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    (OUT_DIR / "forward_throughput-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    print(f"\nwall time {result['wall_seconds']} s; JSON: {out.relative_to(ROOT)}")
    if "error" in result:
        print(f"\nthe run stopped early: {result['error'].splitlines()[0]}")
        return 1
    return 0  # a benchmark: the verdicts are printed, not an exit status


if __name__ == "__main__":
    sys.exit(main())
