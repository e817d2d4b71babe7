"""Prometheus metrics of a reward server (`prometheus_client`, one registry per app).

Exposed at ``GET /metrics`` in the Prometheus text format:

- ``unireward_requests_total{route,status}`` and ``unireward_request_seconds{route}`` (histogram): every
  HTTP request, rejected ones included (401, 413, 429 ...);
- ``unireward_queue_depth``: judgments waiting for the model; ``unireward_running``: judgments on it now;
- ``unireward_batch_size`` (histogram) and ``unireward_batch_seconds`` (histogram): each model call;
- ``unireward_judgments_total{form}`` and ``unireward_judgments_per_second`` (over the last 10 s);
- ``unireward_media_decoded_total`` / ``unireward_media_reused_total``: the per-request media cache at work.

Design choice: one registry per app (not the global default), so several servers in one process (tests,
Ray replicas sharing a worker) never collide; routes are labelled by their path template, unknown paths as
``other``, so a scan of random URLs cannot grow the label set.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any


BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self, routes: set[str]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry, self.routes = CollectorRegistry(), routes
        r = self.registry
        self.requests = Counter("unireward_requests", "HTTP requests", ["route", "status"], registry=r)
        self.latency = Histogram("unireward_request_seconds", "request latency", ["route"], registry=r,
                                 buckets=LATENCY_BUCKETS)
        self.queue = Gauge("unireward_queue_depth", "judgments waiting for the model", registry=r)
        self.running = Gauge("unireward_running", "judgments in the batch on the model", registry=r)
        self.batch = Histogram("unireward_batch_size", "judgments per model call", registry=r, buckets=BATCH_BUCKETS)
        self.batch_seconds = Histogram("unireward_batch_seconds", "seconds per model call", registry=r,
                                       buckets=LATENCY_BUCKETS)
        self.judgments = Counter("unireward_judgments", "judgments made", ["form"], registry=r)
        self.rate = Gauge("unireward_judgments_per_second", "judgments per second over the last 10 s", registry=r)
        self.decoded = Counter("unireward_media_decoded", "images and videos decoded", registry=r)
        self.reused = Counter("unireward_media_reused", "media occurrences served from the per-request cache",
                              registry=r)
        self._recent: deque[tuple[float, int]] = deque()

    def batch_done(self, form: str, size: int, seconds: float) -> None:
        self.batch.observe(size)
        self.batch_seconds.observe(seconds)
        self.judgments.labels(form=form).inc(size)
        now = time.monotonic()
        self._recent.append((now, size))
        self._update_rate(now)

    def _update_rate(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - 10:
            self._recent.popleft()
        self.rate.set(sum(n for _, n in self._recent) / 10.0)

    def render(self, batcher: Any) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        self.queue.set(batcher.pending)
        self.running.set(batcher.running)
        self._update_rate(time.monotonic())
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware: count and time every HTTP request by route and status."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = scope.get("path", "")
        route = route if route in self.metrics.routes else "other"
        status = {"code": 500}
        start = time.monotonic()

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.requests.labels(route=route, status=str(status["code"])).inc()
            self.metrics.latency.labels(route=route).observe(time.monotonic() - start)
