"""Run the forwarder under uvicorn, programmatically, on a socket we bind ourselves.

Binding first means ``--listen 127.0.0.1:0`` works (the chosen port is logged) and a busy port is one
clear error line. SIGTERM / Ctrl-C: uvicorn stops accepting and lets open requests finish (an ingest
waiting for its commit still gets its 202), then the lifespan stops the runtime, which lets in-flight
attempts finish within the grace period and commits their outcomes; whatever was cut off stays queued
on disk and is delivered after the next start.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import socket
from collections.abc import Iterator

from hookplan.errors import HookplanError
from hookplan.forward.logs import log
from hookplan.forward.runtime import Runtime, Settings


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise HookplanError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # (Nagle + delayed ACK = 40 ms a request)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HookplanError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def _quiet_signals() -> Iterator[None]:
    """uvicorn re-raises the signal that stopped it once it is done; make that a no-op, so a clean
    shutdown exits 0 instead of dying of SIGTERM or printing 'aborted' for Ctrl-C."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def plugin_routes(settings: Settings) -> list:
    """Routes other modules add to the app: issue 4's control API (``forward/control.py``)."""
    from hookplan.forward.control import Control, control_routes
    from hookplan.registry.sqlite import SQLiteRegistry

    return control_routes(Control(registry=SQLiteRegistry(settings.state), tokens=settings.tokens))


def serve(settings: Settings, listen: str) -> None:
    """Serve until SIGTERM / Ctrl-C. Raises HookplanError for anything the user must fix."""
    import uvicorn

    from hookplan.forward.app import create_app

    host, port = parse_listen(listen)
    if not is_loopback(host) and not settings.tokens.ingest:
        raise HookplanError(
            f"refusing to listen on {host} without HOOKPLAN_INGEST_TOKEN: anyone could post events; "
            "set it, or listen on 127.0.0.1"
        )
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    app = create_app(Runtime(settings), extra_routes=plugin_routes(settings))
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace)),
        server_header=False,
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    log(logging.INFO, "listening", url=f"http://{shown}:{bound_port}", port=bound_port)
    with _quiet_signals():
        server.run(sockets=[sock])
    if not server.started:
        raise HookplanError("the forwarder could not start; see the log above")
