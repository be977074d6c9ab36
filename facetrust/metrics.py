"""Counts of the decisions the service makes, for Prometheus (served by ``facetrust.api.metrics``
at ``/metrics``). The domain services count here, so they need nothing of the HTTP layer; labels are
outcomes, purposes and budget names, never ids or personal data."""

from __future__ import annotations

from prometheus_client import Counter

RISK_DECISIONS = Counter("facetrust_risk_decisions_total", "Risk decisions stored, by outcome", ["outcome"])
LIVENESS_DECISIONS = Counter("facetrust_liveness_decisions_total", "Liveness captures decided, by purpose and status",
                             ["purpose", "status"])
FACE_PAY_PAYMENTS = Counter("facetrust_face_pay_payments_total",
                            "Face payments ended, by outcome (paid, declined, expired) and decline reason",
                            ["outcome", "reason"])
RATE_LIMITED = Counter("facetrust_rate_limited_total", "Requests refused 429 rate_limited, by budget", ["budget"])
