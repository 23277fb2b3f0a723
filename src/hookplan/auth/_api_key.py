"""API_KEY: the key value is sent as a bearer token, ``Authorization: Bearer <key_value>`` (DESIGN §3).

``key_name`` is only a label (shown in reprs and plans); it never names a header.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from hookplan.model import SENSITIVE


class ApiKey(httpx.Auth):
    def __init__(self, key_name: str, key_value: str) -> None:
        self.key_name = key_name
        self._header = f"Bearer {key_value}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"ApiKey(key_name={self.key_name!r}, key_value={SENSITIVE})"
