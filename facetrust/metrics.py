"""Request latencies and counts of the decisions the service makes, for Prometheus (served by ``facetrust.api.metrics``
at ``/metrics``). The domain services count here, so they need nothing of the HTTP layer; labels are
outcomes, purposes and budget names, never ids or personal data."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "facetrust_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

RISK_DECISIONS = Counter("facetrust_risk_decisions_total", "Risk decisions stored, by outcome", ["outcome"])
LIVENESS_DECISIONS = Counter(
    "facetrust_liveness_decisions_total", "Liveness captures decided, by purpose and status", ["purpose", "status"]
)
FACE_PAY_PAYMENTS = Counter(
    "facetrust_face_pay_payments_total",
    "Face payments ended, by outcome (paid, declined, expired) and decline reason",
    ["outcome", "reason"],
)
RATE_LIMITED = Counter("facetrust_rate_limited_total", "Requests refused 429 rate_limited, by budget", ["budget"])
