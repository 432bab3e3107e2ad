"""Prometheus metrics, one registry per platform (no global state shared between nodes
or between apps in one test process)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "livegate_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.http_latency = Histogram(
            "livegate_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.publish_attempts = Counter(
            "livegate_publish_attempts_total", "RTMP publish attempts", ["outcome"], registry=self.registry
        )
        self.live_streams = Gauge("livegate_live_streams", "Streams live on this node", registry=self.registry)
        self.cutoffs = Counter("livegate_cutoffs_total", "Cut-offs carried out on this node", registry=self.registry)
        self.ws_connections = Gauge("livegate_ws_connections", "Open WebSocket connections", registry=self.registry)
        self.segments_published = Counter(
            "livegate_hls_segments_published_total", "HLS segments that entered a playlist", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def install(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def _count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            start = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            name = getattr(route, "path", "unmatched")
            self.http_requests.labels(request.method, name, str(response.status_code)).inc()
            self.http_latency.labels(name).observe(time.perf_counter() - start)
            return response
