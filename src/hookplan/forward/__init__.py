"""The delivery runtime (``hookplan forward``): ingest -> durable queue -> routing -> delivery -> log.

One idea a module: ``envelope`` (parse/validate), ``store`` (SQLite queue, group commit), ``routing``,
``deliver`` (one attempt), ``retry``, ``ratelimit``, ``worker`` (dispatch loop), ``metrics``, ``logs``,
``tokens`` (bearer checks, JSON errors), ``ingest`` / ``admin`` (handlers), ``app`` (routes),
``runtime`` (wiring, lifecycle), ``server`` (uvicorn, signals), ``control`` (issue 4's /v1/hooks API).
"""
