"""How a webhook is signed, and how a receiver checks it.

Every POST carries three headers:

- ``X-FaceTrust-Event-Id``: the event's id, the same on every attempt and replay (dedupe by it);
- ``X-FaceTrust-Timestamp``: Unix seconds when this attempt was signed;
- ``X-FaceTrust-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed with the endpoint's secret, of
  ``f"{timestamp}.{event_id}.{body}"`` (the body's exact bytes, UTF-8).

Covering the timestamp bounds how long a captured request can be replayed at the receiver (it
refuses one signed too long ago); covering the id stops a valid body being re-sent under another id
to get past the receiver's deduplication. ``verify`` is self-contained (standard library only) so a
receiver can copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER_ID = "X-FaceTrust-Event-Id"
HEADER_TIMESTAMP = "X-FaceTrust-Timestamp"
HEADER_SIGNATURE = "X-FaceTrust-Signature"
HEADER_KIND = "X-FaceTrust-Event-Kind"
SCHEME = "v1"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int | str, event_id: str, body: bytes) -> str:
    """The ``X-FaceTrust-Signature`` value for one attempt."""
    message = f"{timestamp}.{event_id}.".encode() + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(secret: str, event_id: str, kind: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Every header a delivery attempt sends."""
    return {
        "Content-Type": "application/json",
        HEADER_ID: event_id,
        HEADER_KIND: kind,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, event_id, body),
    }


# --- for receivers: copy from here -----------------------------------------------------------------


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300, now: float | None = None) -> bool:
    """True if ``body`` with ``headers`` was signed by FaceTrust with ``secret`` less than
    ``tolerance`` seconds ago. ``headers`` may be any mapping; names are matched case-insensitively.
    After it returns True, drop the event if its ``X-FaceTrust-Event-Id`` was already processed."""
    import hashlib
    import hmac
    import time

    lower = {k.lower(): v for k, v in headers.items()}
    event_id = lower.get("x-facetrust-event-id", "")
    timestamp = lower.get("x-facetrust-timestamp", "")
    signature = lower.get("x-facetrust-signature", "")
    if not (event_id and timestamp.isascii() and timestamp.isdigit() and signature.startswith("v1=")):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    message = f"{timestamp}.{event_id}.".encode() + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature[3:])


# --- to here ---------------------------------------------------------------------------------------
