"""One access-log line per request, and its latency in the request histogram, naming the route's template, never the path or query it was
called with: paths carry one-time capture tokens and ids, and an operator's lookup carries a phone
or ID number in its query. (uvicorn's own access log, which prints both, is switched off.)

The line's fields ride on the record (``method``, ``route``, ``status``, ``duration_ms``), so the
JSON formatter (``facetrust.api.logs``) writes them as fields next to the request id; the message
says the same for a plain-text handler."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facetrust import metrics

log = logging.getLogger("facetrust.access")
# Anything else a client sends as a method is one label, so it cannot grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """``/v1/capture/{token}`` for a matched route, ``/static`` for a static file, else ``<unmatched>``."""
    route = scope.get("route")  # set by the router on a match; a mount sets root_path instead
    return getattr(route, "path", None) or scope.get("root_path") or "<unmatched>"


class AccessLog:
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
            seconds = time.perf_counter() - start
            route, duration_ms = route_template(scope), round(seconds * 1000, 1)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            metrics.REQUEST_SECONDS.labels(method, route, f"{status // 100}xx").observe(seconds)
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                route,
                status,
                duration_ms,
                extra={"method": scope["method"], "route": route, "status": status, "duration_ms": duration_ms},
            )
