"""What an attempt means for its delivery: delivered, retried later, or dead-lettered (DESIGN §7).

Pure decisions on one :class:`AttemptResult` under the :class:`RetryPolicy`, counted in the metrics
and logged (dead letters as warnings; each retry only at debug level).
"""

from __future__ import annotations

import logging
import time

from hookplan.forward.deliver import AttemptResult
from hookplan.forward.logs import log
from hookplan.forward.metrics import Metrics
from hookplan.forward.retry import RetryPolicy, next_attempt_at, retry_after, retryable
from hookplan.forward.store import Due, Outcome


def decide(policy: RetryPolicy, metrics: Metrics, hook: str, due: Due, result: AttemptResult) -> Outcome:
    attempts = due.attempts + 1
    seconds = result.latency_ms / 1000.0
    now = time.time()
    if result.ok:
        metrics.delivery(hook, "delivered", seconds)
        return Outcome(due.event_seq, hook, "delivered", attempts, now, result.status, "", result.latency_ms)
    if result.final or not retryable(result.status):
        metrics.delivery(hook, "dead", seconds)
        log(
            logging.WARNING,
            "dead-lettered",
            hook=hook,
            event_id=due.event_id,
            status=result.status,
            error=result.error,
            attempts=attempts,
        )
        return Outcome(due.event_seq, hook, "dead", attempts, now, result.status, result.error, result.latency_ms)
    when = next_attempt_at(policy, attempts, due.created_at, now, retry_after(result.retry_after, now))
    if when is None:
        metrics.delivery(hook, "dead", seconds)
        error = f"retries exhausted after {attempts} attempts: {result.error}"
        log(logging.WARNING, "dead-lettered", hook=hook, event_id=due.event_id, error=error)
        return Outcome(due.event_seq, hook, "dead", attempts, now, result.status, error, result.latency_ms)
    metrics.delivery(hook, "retrying", seconds)
    log(
        logging.DEBUG,
        "attempt failed, will retry",
        hook=hook,
        event_id=due.event_id,
        status=result.status,
        error=result.error,
        attempts=attempts,
        retry_in=round(when - now, 3),
    )
    return Outcome(due.event_seq, hook, "retrying", attempts, when, result.status, result.error, result.latency_ms)


def final(
    metrics: Metrics, hook: str, due: Due, state: str, status: int | None, error: str, ms: float | None
) -> Outcome:
    """A decision made without (or regardless of) an attempt, e.g. a refused destination."""
    metrics.delivery(hook, state)
    log(logging.WARNING, "dead-lettered", hook=hook, event_id=due.event_id, error=error)
    return Outcome(due.event_seq, hook, state, due.attempts + (ms is not None), time.time(), status, error, ms)
