"""NONE: the request goes out as built.

An explicit class so that :func:`hookplan.auth.build_auth` always returns an ``httpx.Auth`` and callers
need no special case. An ``Authorization`` header among the hook's invocation parameters is left alone.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx


class NoAuth(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request

    def __repr__(self) -> str:
        return "NoAuth()"
