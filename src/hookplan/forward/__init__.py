"""The delivery runtime (``hookplan forward``): ingest -> durable queue -> routing -> delivery -> log.

One idea a module: ``envelope`` (parse/validate), ``store`` (the queue's tables and SQL), ``commit``
(group commit), ``routing``, ``deliver`` (one attempt), ``retry`` (policy), ``outcomes`` (what an attempt
means), ``ratelimit``, ``lane`` (per-hook state), ``worker`` (dispatch loop), ``metrics``, ``logs``,
``tokens`` (bearer checks, JSON errors), ``ingest`` / ``admin`` (handlers), ``app`` (routes), ``runtime``
(wiring, lifecycle), ``server`` (uvicorn, signals), ``control``
(the /v1/hooks control API behind ``--remote``).
"""
