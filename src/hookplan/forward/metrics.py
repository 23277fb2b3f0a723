"""Prometheus text exposition, written by hand: a few counters, one histogram, gauges read at scrape.

Kept dependency-free because the set is small and fixed; labels are hook names (``[A-Za-z0-9._-]``),
outcomes and rejection codes — never anything from an event body or a secret.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    __slots__ = ("count", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                break


class Metrics:
    def __init__(self) -> None:
        self.received = 0  # events accepted (new)
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()  # by error code
        self.deliveries: Counter[tuple[str, str]] = Counter()  # (hook, outcome)
        self.latency: defaultdict[str, Histogram] = defaultdict(Histogram)

    def delivery(self, hook: str, outcome: str, seconds: float | None = None) -> None:
        self.deliveries[(hook, outcome)] += 1
        if seconds is not None:
            self.latency[hook].observe(seconds)

    def render(
        self,
        depths: dict[str, tuple[int, int]],
        states: Iterable[tuple[str, str, str]],
        concurrency: dict[str, int] | None = None,
    ) -> str:
        """The exposition; ``depths`` hook -> (queued, dead), ``states`` (hook, connection, destination),
        ``concurrency`` hook -> attempts allowed in flight now."""
        out: list[str] = []
        _family(out, "hookplan_events_received_total", "counter", "Events accepted (new ids).")
        out.append(f"hookplan_events_received_total {self.received}")
        _family(out, "hookplan_events_duplicate_total", "counter", "Events accepted again by id.")
        out.append(f"hookplan_events_duplicate_total {self.duplicates}")
        _family(out, "hookplan_events_rejected_total", "counter", "Events refused at ingest, by code.")
        for code, n in sorted(self.rejected.items()):
            out.append(f'hookplan_events_rejected_total{{code="{_esc(code)}"}} {n}')
        _family(out, "hookplan_deliveries_total", "counter", "Attempts and decisions, by hook and outcome.")
        for (hook, outcome), n in sorted(self.deliveries.items()):
            out.append(f'hookplan_deliveries_total{{hook="{_esc(hook)}",outcome="{outcome}"}} {n}')
        self._render_latency(out)
        _family(out, "hookplan_queue_depth", "gauge", "Deliveries waiting (pending or retrying).")
        for hook, (queued, _) in sorted(depths.items()):
            out.append(f'hookplan_queue_depth{{hook="{_esc(hook)}"}} {queued}')
        _family(out, "hookplan_dead_letter_depth", "gauge", "Dead-lettered deliveries.")
        for hook, (_, dead) in sorted(depths.items()):
            out.append(f'hookplan_dead_letter_depth{{hook="{_esc(hook)}"}} {dead}')
        _family(out, "hookplan_hook_info", "gauge", "Hooks known to the forwarder, with their states.")
        for hook, conn, dest in sorted(states):
            labels = f'hook="{_esc(hook)}",connection_state="{conn}",destination_state="{dest}"'
            out.append(f"hookplan_hook_info{{{labels}}} 1")
        _family(out, "hookplan_hook_concurrency", "gauge", "Attempts allowed in flight per hook (adaptive).")
        for hook, limit in sorted((concurrency or {}).items()):
            out.append(f'hookplan_hook_concurrency{{hook="{_esc(hook)}"}} {limit}')
        return "\n".join(out) + "\n"

    def _render_latency(self, out: list[str]) -> None:
        name = "hookplan_attempt_duration_seconds"
        _family(out, name, "histogram", "Duration of delivery attempts (request to response).")
        for hook, h in sorted(self.latency.items()):
            label = f'hook="{_esc(hook)}"'
            running = 0
            for bound, n in zip(BUCKETS, h.counts, strict=True):
                running += n
                out.append(f'{name}_bucket{{{label},le="{bound}"}} {running}')
            out.append(f'{name}_bucket{{{label},le="+Inf"}} {h.count}')
            out.append(f"{name}_sum{{{label}}} {h.total:.6f}")
            out.append(f"{name}_count{{{label}}} {h.count}")


def _family(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
