"""HMAC request signing for terminals.

A terminal signs ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256(BODY)`` with its secret (HMAC-SHA256,
hex) and sends the signature with its id, the timestamp and the nonce in headers. The path includes
the query string. Covering the body's hash stops a changed amount; the timestamp bounds how long a
captured request stays usable, and the nonce, remembered for that long, makes it usable once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER_TERMINAL = "X-Terminal-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"


def new_secret() -> str:
    return "fts_" + secrets.token_urlsafe(32)


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode(), canonical(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def headers(
    terminal_id: str, secret: str, method: str, path: str, body: bytes, timestamp: int, nonce: str | None = None
) -> dict[str, str]:
    """The headers a terminal sends (used by the terminal SDK side: tests, benchmarks, examples)."""
    nonce = nonce or secrets.token_hex(16)
    return {
        HEADER_TERMINAL: terminal_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(secret, method, path, str(timestamp), nonce, body),
    }


def valid(secret: str, signature: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bool:
    return hmac.compare_digest(sign(secret, method, path, timestamp, nonce, body), signature.lower())
