"""The retry policy (EventBridge API destinations): what to retry, when, and for how long.

Network errors, timeouts, 401, 407, 409, 429 and 5xx are retried with exponential backoff and full
jitter (AWS's "full jitter": a uniform pick in [0, min(cap, base·2^n)]), honouring ``Retry-After``;
any other answer outside 2xx is final and dead-letters the delivery at once. Retrying stops when the
next attempt would fall past the event's maximum age.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({401, 407, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 5.0  # seconds per attempt
    max_event_age: float = 24 * 3600.0  # seconds since the event was accepted
    base_delay: float = 1.0  # first backoff ceiling
    max_delay: float = 300.0  # backoff cap (Retry-After may ask for more, up to the age limit)


def retryable(status: int | None) -> bool:
    """``None`` is a network error or timeout: always worth another try."""
    return status is None or status in RETRYABLE_STATUSES or 500 <= status <= 599


def backoff(policy: RetryPolicy, attempts: int, rng: random.Random | None = None) -> float:
    """Full-jitter delay after the ``attempts``-th failed attempt."""
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** min(attempts - 1, 30)))
    return (rng or random).uniform(0, ceiling)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def next_attempt_at(
    policy: RetryPolicy, attempts: int, created_at: float, now: float, asked: float | None
) -> float | None:
    """When to try again, or None when the event's age limit is reached (dead-letter it)."""
    delay = asked if asked is not None else backoff(policy, attempts)
    when = now + delay
    return None if when > created_at + policy.max_event_age else when
