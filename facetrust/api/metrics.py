"""Prometheus metrics over HTTP: request latency by route, and ``/metrics`` itself (the decision
counters the domain services keep are in ``facetrust.metrics``).

Served at ``GET /metrics`` without authentication, like ``/health``: the figures carry no personal
data (labels are route templates, status classes and decision outcomes, never ids, paths or
queries), but they do show traffic and refusal rates, so deployments expose the path only to their
monitoring network and block it at the edge.

The metrics live in prometheus_client's process-wide default registry. Several worker processes
each count on their own; a multi-process deployment sets ``PROMETHEUS_MULTIPROC_DIR`` and serves a
``MultiProcessCollector`` instead (not needed for the embedded single-process mode).

"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from facetrust.api.access_log import route_template

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "facetrust_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


# Anything else a client sends as a method is one label, so it cannot grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def exposition() -> tuple[bytes, str]:
    """The current figures in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware: observes each HTTP request's duration by method, route template and status
    class (``2xx``); the template, never the path, keeps ids and tokens out of the labels."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            REQUEST_SECONDS.labels(method, route_template(scope), f"{status // 100}xx").observe(
                time.perf_counter() - start)
