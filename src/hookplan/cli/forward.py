"""``hookplan forward``, ``hookplan read`` and ``hookplan dlq list|redrive``.

Heavy imports (uvicorn, starlette, httpx) happen inside the commands, so registering them costs
``hookplan plan`` nothing. ``read`` and ``dlq`` work on the registry file directly; a running
forwarder sees a redrive within a second.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hookplan.cli import cli
from hookplan.cli._common import parse_duration, remote_option, state_option
from hookplan.errors import HookplanError
from hookplan.ui import table

if TYPE_CHECKING:
    from hookplan.registry.remote import RemoteRegistry


def _state_path(state: str | None) -> Path:
    from hookplan.registry import default_state_path

    return Path(state) if state else default_state_path(None)


def _existing_state(state: str | None) -> Path:
    path = _state_path(state)
    if not path.is_file():
        raise HookplanError(f"{path}: no registry here; pass --state FILE (the forwarder's registry)")
    return path


@contextlib.contextmanager
def _queue(state: str | None, synchronous: str = "NORMAL") -> Iterator[sqlite3.Connection]:
    """The registry file's delivery tables; a busy or broken file is one clear line, not a traceback."""
    from hookplan.forward import store

    path = _existing_state(state)
    try:
        conn = store.open_queue(path, synchronous=synchronous)
    except sqlite3.Error as exc:
        raise HookplanError(f"{path}: cannot open the delivery log: {exc}") from None
    try:
        yield conn
    except sqlite3.Error as exc:
        raise HookplanError(f"{path}: {exc}") from None
    finally:
        conn.close()


@contextlib.contextmanager
def _admin(remote: str) -> Iterator[RemoteRegistry]:
    from hookplan.registry.remote import RemoteRegistry

    client = RemoteRegistry(remote, _env_token("HOOKPLAN_TOKEN"))
    try:
        yield client
    finally:
        client.close()


def _env_token(name: str) -> str | None:
    return os.environ.get(name) or None


@cli.command("forward")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="HOST:PORT to serve on (port 0: any).")
@state_option
@click.option("--allow-private-endpoints", is_flag=True, help="Deliver to loopback/private addresses too.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--max-event-age", default="24h", show_default=True, help="Stop retrying an event this old.")
@click.option("--timeout", "attempt_timeout", default="5s", show_default=True, help="Per-attempt timeout.")
@click.option(
    "--retry-base-delay",
    envvar="HOOKPLAN_RETRY_BASE_DELAY",
    default="1s",
    show_default=True,
    help="First backoff ceiling (doubles per attempt, full jitter).",
)
@click.option("--retry-max-delay", default="5m", show_default=True, help="Backoff cap.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=32,
    show_default=True,
    help="Attempts in flight per hook at most (adapts to the receiver's latency, from 4 up).",
)
@click.option(
    "--shutdown-grace", default="10s", show_default=True, help="How long in-flight attempts may finish on SIGTERM."
)
def forward_cmd(
    listen: str,
    state: str | None,
    allow_private_endpoints: bool,
    log_format: str,
    max_event_age: str,
    attempt_timeout: str,
    retry_base_delay: str,
    retry_max_delay: str,
    concurrency: int,
    shutdown_grace: str,
) -> None:
    """Run the delivery runtime: take events in over HTTP and deliver them to the registry's hooks.

    Ingest needs `Authorization: Bearer $HOOKPLAN_INGEST_TOKEN` (required off loopback); admin
    endpoints (read, dead letters) need $HOOKPLAN_TOKEN. Serves until SIGTERM or Ctrl-C.
    """
    from hookplan.forward import logs
    from hookplan.forward.retry import RetryPolicy
    from hookplan.forward.runtime import Settings
    from hookplan.forward.server import serve
    from hookplan.forward.tokens import Tokens
    from hookplan.registry import SQLiteRegistry

    policy = RetryPolicy(
        timeout=parse_duration(attempt_timeout, "--timeout", positive=True),
        max_event_age=parse_duration(max_event_age, "--max-event-age", positive=True),
        base_delay=parse_duration(retry_base_delay, "--retry-base-delay", positive=True),
        max_delay=parse_duration(retry_max_delay, "--retry-max-delay", positive=True),
    )
    path = _state_path(state)
    SQLiteRegistry(path).close()  # a bad --state is one clear error before anything starts
    settings = Settings(
        state=path,
        tokens=Tokens(_env_token("HOOKPLAN_INGEST_TOKEN"), _env_token("HOOKPLAN_TOKEN")),
        policy=policy,
        allow_private=allow_private_endpoints,
        concurrency=concurrency,
        shutdown_grace=parse_duration(shutdown_grace, "--shutdown-grace", positive=True),
    )
    logs.setup(log_format)
    serve(settings, listen)


def _iso(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@cli.command("read")
@click.argument("name")
@click.option("--hours", required=True, help="Look-back window in hours, 1 to 24.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--limit", type=click.IntRange(1, 10000), default=1000, show_default=True, help="Newest events shown at most."
)
@state_option
@remote_option
def read_cmd(name: str, hours: str, as_json: bool, limit: int, state: str | None, remote: str | None) -> None:
    """What hook NAME processed in the last N hours: event, outcome, attempts, last status, latency."""
    from hookplan.forward.admin import parse_hours

    try:
        window = parse_hours(hours)
    except ValueError as exc:
        raise HookplanError(f"--hours: {exc}") from None
    if remote:
        with _admin(remote) as client:
            rows = client.read_events(name, window, limit)
    else:
        rows = _read_file(state, name, window, limit)
    if as_json:
        click.echo(json.dumps({"hook": name, "hours": window, "events": rows}, indent=2))
        return
    if not rows:
        click.echo(f"No events for hook '{name}' in the last {window} hour{'s' * (window != 1)}.")
        return
    headers = ("EVENT ID", "EVENT NAME", "TIME", "OUTCOME", "ATTEMPTS", "LAST STATUS", "LATENCY")
    body = [
        (
            r["event_id"],
            r["event_name"],
            _iso(r["received_at"]),
            r["outcome"],
            r["attempts"],
            r["last_status"] or "",
            "" if r["latency_ms"] is None else f"{r['latency_ms']:.0f} ms",
        )
        for r in rows
    ]
    click.echo(table(headers, body))


def _read_file(state: str | None, name: str, hours: int, limit: int) -> list[dict]:
    from hookplan.forward import store
    from hookplan.registry import SQLiteRegistry

    path = _existing_state(state)
    registry = SQLiteRegistry(path)
    try:
        if registry.get_hook(name) is None:
            raise HookplanError(f"no hook named '{name}' in {path}")
    finally:
        registry.close()
    with _queue(state) as conn:
        return store.read_window(conn, name, time.time() - hours * 3600, limit)


@cli.group("dlq")
def dlq() -> None:
    """The dead-letter store: deliveries that failed for good (list them, redrive them)."""


@dlq.command("list")
@click.option("--hook", help="Only this hook's dead letters.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", type=click.IntRange(1, 10000), default=1000, show_default=True)
@state_option
@remote_option
def dlq_list(hook: str | None, as_json: bool, limit: int, state: str | None, remote: str | None) -> None:
    """List dead-lettered deliveries with their last error."""
    from hookplan.forward import store

    if remote:
        with _admin(remote) as client:
            rows = client.dead_letters(hook, limit)
    else:
        with _queue(state) as conn:
            rows = store.dead_letters(conn, hook, limit)
    if as_json:
        click.echo(json.dumps({"dead_letters": rows}, indent=2))
        return
    if not rows:
        click.echo("No dead letters." if hook is None else f"No dead letters for hook '{hook}'.")
        return
    headers = ("HOOK", "EVENT ID", "EVENT NAME", "ATTEMPTS", "LAST STATUS", "DEAD-LETTERED", "LAST ERROR")
    body = [
        (
            r["hook"],
            r["event_id"],
            r["event_name"],
            r["attempts"],
            r["last_status"] or "",
            _iso(r["dead_lettered_at"]),
            r["last_error"],
        )
        for r in rows
    ]
    click.echo(table(headers, body))


@dlq.command("redrive")
@click.option("--hook", help="Only this hook's dead letters.")
@click.option("--event", "event_id", help="Only this event id.")
@state_option
@remote_option
def dlq_redrive(hook: str | None, event_id: str | None, state: str | None, remote: str | None) -> None:
    """Queue dead letters for delivery again (a running forwarder picks them up within a second)."""
    from hookplan.forward import store

    if remote:
        with _admin(remote) as client:
            count = client.redrive(hook, event_id)
    else:
        with _queue(state, synchronous="FULL") as conn:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            count = store.redrive(cur, hook, event_id, time.time())
            cur.execute("COMMIT")
    if count == 0:
        click.echo("No dead letters matched; nothing to redrive.")
    else:
        click.echo(f"Redrove {count} dead letter{'s' * (count != 1)}: queued for delivery again.")
