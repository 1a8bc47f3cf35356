"""Request counters and latency histograms per route, in Prometheus text format (per worker process)."""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "MetricsMiddleware", "RequestMetrics"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """Counts by (method, route template, status) and a latency histogram by (method, route)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.counts[(method, route, status)] += 1
            self.buckets[(method, route)][bisect.bisect_left(BUCKETS, seconds)] += 1
            self.sums[(method, route)] += seconds

    def render(self) -> list[str]:
        lines = ["# HELP radar_http_requests_total HTTP requests by route and status.", "# TYPE radar_http_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self.counts.items()):
                lines.append(f'radar_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
            lines += ["# HELP radar_http_request_seconds Request latency.", "# TYPE radar_http_request_seconds histogram"]
            for (method, route), counts in sorted(self.buckets.items()):
                labels = f'method="{method}",route="{route}"'
                cumulative = 0
                for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f'radar_http_request_seconds_bucket{{{labels},le="{le}"}} {cumulative}')
                lines.append(f"radar_http_request_seconds_sum{{{labels}}} {self.sums[(method, route)]:.6f}")
                lines.append(f"radar_http_request_seconds_count{{{labels}}} {cumulative}")
        return lines


class MetricsMiddleware:
    """A plain ASGI middleware feeding ``RequestMetrics`` (no per-request task group, unlike
    ``BaseHTTPMiddleware``, which cost about a millisecond a request)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # the route template, never the raw path: ids in paths would make unbounded label sets
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)
