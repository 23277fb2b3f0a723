"""The remote registry: a running forwarder's control API (``--remote URL``), same interface as SQLite.

Idempotent calls are retried with backoff on connection errors, timeouts and 5xx; then one clear error
naming the URL. The state walk runs on the server: :meth:`RemoteRegistry.carry_out` submits a change and
waits (server-side long poll) until the hook settles.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx

from hookplan import __version__
from hookplan.errors import HookplanError
from hookplan.model import Hook, Spec, copy_spec, get_path, secret_paths, set_path
from hookplan.registry.base import HookRecord, LockError, RegistryMeta

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
SETTLED = frozenset({"AUTHORIZED", "DEAUTHORIZED"})


class RemoteRegistry:
    """:class:`hookplan.registry.base.Registry` over HTTP."""

    server_side_walk = True

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 10.0,
        retries: int = 4,
        wait_timeout: float = 120.0,
    ):
        if not token:
            raise HookplanError("--remote needs the forwarder's admin token in HOOKPLAN_TOKEN")
        self.url = url.rstrip("/")
        self.retries = retries
        self.wait_timeout = wait_timeout
        self._versions: dict[str, int] = {}
        self._client = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"hookplan/{__version__}"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    # -- HTTP ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        """One call; retried when safe; every failure becomes one line naming the URL."""
        attempts = self.retries + 1 if method in IDEMPOTENT else 1
        for attempt in range(attempts):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                problem = _describe(exc)
            else:
                if response.status_code < 500 or attempt == attempts - 1:
                    return self._check(response, ok)
                problem = f"answered {response.status_code}"
            if attempt == attempts - 1:
                raise HookplanError(f"{self.url}{path}: {problem} (after {attempts} attempt(s))")
            time.sleep(min(0.25 * 2**attempt, 4.0))
        raise AssertionError("unreachable")

    def _check(self, response: httpx.Response, ok: tuple[int, ...]) -> httpx.Response:
        if response.status_code in ok:
            return response
        url = f"{self.url}{response.request.url.path}"
        if response.status_code in (401, 403):
            raise HookplanError(
                f"{url}: the server refused the token ({response.status_code}): "
                "set HOOKPLAN_TOKEN to the forwarder's admin token"
            )
        raise HookplanError(f"{url}: {response.status_code} {_error_message(response)}")

    # -- reading -------------------------------------------------------------------------------

    def meta(self) -> RegistryMeta:
        doc = self._request("GET", "/v1/registry").json()
        return RegistryMeta(doc["lineage"], int(doc["serial"]))

    def fingerprint(self, value: str) -> str:
        return self._fingerprints([value])[0]

    def _fingerprints(self, values: list[str]) -> list[str]:
        if not values:
            return []
        return self._request("POST", "/v1/fingerprints", json={"values": values}).json()["fingerprints"]

    def public_specs(self, specs: list[Spec]) -> list[Spec]:
        """All secrets of all specs fingerprinted in one call."""
        paths = [list(secret_paths(spec)) for spec in specs]
        values = sorted({get_path(spec, p) for spec, ps in zip(specs, paths, strict=True) for p in ps})
        prints = dict(zip(values, self._fingerprints(values), strict=True))
        public = []
        for spec, ps in zip(specs, paths, strict=True):
            copy = copy_spec(spec)
            for p in ps:
                set_path(copy, p, prints[get_path(spec, p)])
            public.append(copy)
        return public

    def list_hooks(self) -> list[HookRecord]:
        records = [_record(h) for h in self._request("GET", "/v1/hooks").json()["hooks"]]
        self._versions = {r.name: r.version for r in records}
        return records

    def get_hook(self, name: str) -> HookRecord | None:
        response = self._request("GET", f"/v1/hooks/{name}", ok=(200, 404))
        return _record(response.json()) if response.status_code == 200 else None

    def delivery_hooks(self) -> list[Hook]:
        raise HookplanError("secret values never leave the forwarder: delivery hooks are not readable remotely")

    # -- writing: the server walks the states, the client waits for them to settle ------------------

    def carry_out(self, action: str, name: str, hook: Hook | None, workspace: str) -> tuple[str, str]:
        """Submit one planned change and wait until the hook settles; returns (final state, reason)."""
        if action in ("delete", "replace"):
            self._delete_and_wait(name)
            if action == "delete":
                return "DELETED", ""
        assert hook is not None
        body = {"name": name, "spec": hook.spec, "workspace": workspace}
        if action == "update":
            headers = {"If-Match": f'"{self._versions[name]}"'} if name in self._versions else {}
            self._request("PUT", f"/v1/hooks/{name}", json=body, headers=headers)
        else:
            self._request("POST", "/v1/hooks", json=body, ok=(201,))
        return self._wait_settled(name)

    def _delete_and_wait(self, name: str) -> None:
        headers = {"If-Match": f'"{self._versions[name]}"'} if name in self._versions else {}
        self._request("DELETE", f"/v1/hooks/{name}", headers=headers, ok=(202, 404))
        self._wait_settled(name, gone=True)

    def _wait_settled(self, name: str, gone: bool = False) -> tuple[str, str]:
        deadline = time.monotonic() + self.wait_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HookplanError(
                    f"{self.url}: hook '{name}' did not settle within {self.wait_timeout:.0f}s (raise --wait-timeout)"
                )
            response = self._request(
                "GET", f"/v1/hooks/{name}", params={"wait": f"{min(left, 10.0):.1f}"}, ok=(200, 404)
            )
            if response.status_code == 404:
                if gone:
                    return "DELETED", ""
                raise HookplanError(f"{self.url}: hook '{name}' disappeared while it was being applied")
            doc = response.json()
            if not gone and doc["connection_state"] in SETTLED:
                return doc["connection_state"], doc.get("state_reason") or ""

    def put_hook(self, hook: Hook, state: str, reason: str, workspace: str) -> HookRecord:
        raise HookplanError("a remote registry walks hook states itself: use carry_out")

    def set_state(self, name: str, state: str, reason: str = "", *, bump_serial: bool = True) -> None:
        raise HookplanError("a remote registry walks hook states itself: use carry_out")

    def delete_hook(self, name: str) -> None:
        self._delete_and_wait(name)

    def set_workspace(self, name: str, workspace: str) -> None:
        self._request("PUT", f"/v1/hooks/{name}/workspace", json={"workspace": workspace})

    @contextmanager
    def lock(self, who: str, timeout: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        while True:
            response = self._request("POST", "/v1/lock", json={"holder": who}, ok=(201, 409))
            if response.status_code == 201:
                break
            if time.monotonic() >= deadline:
                doc = response.json()
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(doc.get("since", time.time())))
                raise LockError(
                    f"the registry at {self.url} is locked by {doc.get('holder')} since {since}; "
                    "wait for it or raise --lock-timeout"
                )
            time.sleep(0.5)
        lease = response.json()["lease"]
        try:
            yield
        finally:
            with suppress(HookplanError):  # else the lease expires on its own
                self._request("DELETE", f"/v1/lock/{lease}", ok=(204,))

    # -- the forwarder's admin endpoints: read and the dead-letter store ---------------------------

    def read_events(self, name: str, hours: int, limit: int) -> list[dict[str, Any]]:
        params = {"hours": hours, "limit": limit}
        return self._request("GET", f"/v1/hooks/{name}/events", params=params).json()["events"]

    def dead_letters(self, hook: str | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({"hook": hook} if hook else {})
        return self._request("GET", "/v1/dead-letters", params=params).json()["dead_letters"]

    def redrive(self, hook: str | None, event_id: str | None) -> int:
        """Not retried: a second redrive would report a different count."""
        body = {"hook": hook, "event_id": event_id}
        return self._request("POST", "/v1/dead-letters/redrive", json=body).json()["redriven"]

    def force_unlock(self) -> str | None:
        return self._request("DELETE", "/v1/lock").json().get("removed")

    def close(self) -> None:
        self._client.close()


def _record(doc: dict[str, Any]) -> HookRecord:
    return HookRecord(
        doc["name"],
        doc["spec"],
        doc["connection_state"],
        doc.get("state_reason") or "",
        doc["workspace"],
        int(doc["version"]),
        float(doc.get("updated_at") or 0),
    )


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return error["message"] + (f" (field {error['field']})" if error.get("field") else "")
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or unreachable: is 'hookplan forward' running there?"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__
