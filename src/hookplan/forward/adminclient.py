"""``read`` and ``dlq`` against a running forwarder (``--remote URL``), over its admin endpoints.

Same answers as reading the registry file: the commands print them the same way. Every failure is one
line naming the URL; reads are retried briefly on connection errors and 5xx, the redrive is not
(it is not idempotent in what it reports).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from hookplan import __version__
from hookplan.errors import HookplanError


class AdminClient:
    def __init__(self, url: str, token: str | None, *, timeout: float = 10.0, retries: int = 3):
        if not token:
            raise HookplanError("--remote needs the forwarder's admin token in HOOKPLAN_TOKEN")
        self.url = url.rstrip("/")
        self.retries = retries
        headers = {"Authorization": f"Bearer {token}", "User-Agent": f"hookplan/{__version__}"}
        self._client = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def read(self, name: str, hours: int, limit: int) -> list[dict[str, Any]]:
        path = f"/v1/hooks/{name}/events"
        return self._call("GET", path, params={"hours": hours, "limit": limit})["events"]

    def dead_letters(self, hook: str | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({"hook": hook} if hook else {})
        return self._call("GET", "/v1/dead-letters", params=params)["dead_letters"]

    def redrive(self, hook: str | None, event_id: str | None) -> int:
        body = {"hook": hook, "event_id": event_id}
        return self._call("POST", "/v1/dead-letters/redrive", json=body, retry=False)["redriven"]

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, *, retry: bool = True, **kw: Any) -> dict[str, Any]:
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                response = self._client.request(method, path, **kw)
            except httpx.TransportError as exc:
                problem = f"cannot reach the forwarder ({type(exc).__name__})"
            else:
                if response.status_code < 500:
                    return self._check(path, response)
                problem = f"the forwarder answered {response.status_code}"
            if attempt < attempts - 1:
                time.sleep(0.25 * 2**attempt)
        raise HookplanError(f"{self.url}{path}: {problem}")

    def _check(self, path: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200:
            return body
        if response.status_code in (401, 403):
            raise HookplanError(
                f"{self.url}{path}: the forwarder refused the token ({response.status_code}): "
                "set HOOKPLAN_TOKEN to its admin token"
            )
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        raise HookplanError(f"{self.url}{path}: {response.status_code} {message or 'error'}")
