"""BASIC: ``Authorization: Basic base64(username:password)`` on every request (DESIGN §3)."""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Generator

import httpx

from hookplan.model import SENSITIVE


class Basic(httpx.Auth):
    """HTTP Basic; its own class (not ``httpx.BasicAuth``) so the repr names the user and hides the password."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._header = "Basic " + b64encode(f"{username}:{password}".encode()).decode("ascii")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"Basic(username={self.username!r}, password={SENSITIVE})"
