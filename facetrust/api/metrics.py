"""``/metrics``: the service's figures in Prometheus' text format (the request latencies the access
log observes and the decision counters the domain services keep, all in ``facetrust.metrics``).

Served at ``GET /metrics`` without authentication, like ``/health``: the figures carry no personal
data (labels are route templates, status classes and decision outcomes, never ids, paths or
queries), but they do show traffic and refusal rates, so deployments expose the path only to their
monitoring network and block it at the edge.

The metrics live in prometheus_client's process-wide default registry. Several worker processes
each count on their own; a multi-process deployment sets ``PROMETHEUS_MULTIPROC_DIR`` and serves a
``MultiProcessCollector`` instead (not needed for the embedded single-process mode).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def exposition() -> tuple[bytes, str]:
    """The current figures in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
