"""One hook's delivery lane: what the dispatcher keeps per hook between attempts.

Its view of the hook (spec and connection state), auth (with the OAuth token cache), request template,
own httpx transport (connection pool), rate limiter, a small buffer of due rows, the rows it has taken, and the adaptive
number of attempts it may have in flight.
"""

from __future__ import annotations

import math
from collections import deque

import httpx

from hookplan.forward.deliver import Prepared, prepare
from hookplan.forward.ratelimit import RateLimiter
from hookplan.forward.routing import HookView
from hookplan.forward.store import Due
from hookplan.model import DEFAULT_RATE_LIMIT

MIN_CONCURRENCY = 4  # in flight per hook at least (httpx peaks at 4-8 connections to a near receiver)
ATTEMPT_CPU = 0.002  # seconds: about what one attempt costs us; see Lane.limit
LATENCY_WINDOW = 32  # attempts per latency sample


class Lane:
    """One hook's delivery lane: its current view, auth, rate limit, buffer and in-flight count."""

    def __init__(self, view: HookView, auth: httpx.Auth | None, client: httpx.AsyncBaseTransport, timeout: float):
        self.view = view
        self.auth = auth
        self.timeout = timeout
        self.prepared = self._prepare()
        self.client = client  # its own pool: httpx scans every pooled connection on each request
        self.limiter = RateLimiter(view.hook.spec.get("rate_limit_per_second") or DEFAULT_RATE_LIMIT)
        self.buffer: deque[Due] = deque()
        self.taken: set[int] = set()  # event seqs buffered, in flight, or awaiting their commit
        self.active = 0
        self.probe_at = 0.0
        self.probe_failures = 0
        self.base_latency = 0.0  # the fastest attempt of the last window: the receiver's own latency
        self._window_min = float("inf")
        self._window_count = 0
        self.failing = False  # logged once when attempts start failing, once when they succeed again

    def _prepare(self) -> Prepared | None:
        try:
            return prepare(self.view.hook.spec, self.timeout)
        except (httpx.InvalidURL, KeyError, TypeError, ValueError):
            return None  # attempts are dead-lettered with a reason, see Dispatcher._try

    def update(self, view: HookView, auth: httpx.Auth | None) -> None:
        """A changed spec: new auth (fresh token cache), request template and rate."""
        self.view, self.auth = view, auth
        self.prepared = self._prepare()
        self.limiter.set_rate(view.hook.spec.get("rate_limit_per_second") or DEFAULT_RATE_LIMIT)

    def limit(self, ceiling: int) -> int:
        """Attempts to keep in flight: one per ``ATTEMPT_CPU`` of the receiver's latency, 4 to ``ceiling``.

        The fastest attempt of a window measures the receiver, not our own queueing: a near receiver
        (or a busy CPU here) keeps few connections, which is fastest with httpx; a far one gets many in
        flight to keep its rate up. (Averages would feed back: queueing raises latency, which would
        raise concurrency, which raises queueing.)
        """
        return min(ceiling, max(MIN_CONCURRENCY, math.ceil(self.base_latency / ATTEMPT_CPU)))

    def observe(self, seconds: float) -> None:
        self._window_min = min(self._window_min, seconds)
        self._window_count += 1
        if self._window_count >= LATENCY_WINDOW:
            self.base_latency, self._window_min, self._window_count = self._window_min, float("inf"), 0

    @property
    def probing(self) -> bool:
        """DEAUTHORIZED OAuth hooks are retried (paced) so that a working token endpoint recovers them."""
        v = self.view
        return v.active and v.state == "DEAUTHORIZED" and v.hook.spec["auth"]["type"] == "OAUTH_CLIENT_CREDENTIALS"
