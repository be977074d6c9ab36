"""Merchants and their terminals: registration by an operator, and the authentication of every
terminal request by its HMAC signature, timestamp and single-use nonce."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Tenant
from facetrust.payments import ledger
from facetrust.payments.models import Merchant, Terminal, TerminalNonce
from facetrust.security import audit, signing
from facetrust.security.envelope import Keyring, Sealed
from facetrust.store.db import rowcount


def _secret_aad(terminal: Terminal) -> bytes:
    return f"terminal_secret:{terminal.id}:{terminal.merchant_id}".encode()


def register_merchant(
    session: Session,
    operator: str,
    tenant_id: str,
    name: str,
    fee_bps: int,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Merchant:
    if session.get(Tenant, tenant_id) is None:
        raise DomainError(ErrorCode.TENANT_NOT_FOUND, "no such platform")
    if not 0 <= fee_bps <= 1000:
        raise DomainError(ErrorCode.FEE_INVALID, "the fee is 0 to 1000 basis points (0-10%)")
    merchant = Merchant(tenant_id=tenant_id, name=name, fee_bps=fee_bps, latitude=latitude, longitude=longitude)
    session.add(merchant)
    session.flush()
    ledger.account(session, ledger.MERCHANT, merchant.id)
    audit.append(
        session,
        actor=operator,
        action="merchant.register",
        subject=f"merchant:{merchant.id}",
        details={"tenant_id": tenant_id, "fee_bps": fee_bps},
    )
    return merchant


def register_terminal(
    session: Session, keyring: Keyring, operator: str, merchant_id: str, label: str
) -> tuple[Terminal, str]:
    """A terminal and its secret; the secret is returned here once and never again."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise DomainError(ErrorCode.MERCHANT_NOT_FOUND, "no such merchant")
    secret = signing.new_secret()
    terminal = Terminal(
        merchant_id=merchant.id, label=label, secret_sealed=b"", secret_wrapped_key=b"", master_key_id=""
    )
    session.add(terminal)
    session.flush()
    sealed = keyring.seal(secret.encode(), _secret_aad(terminal))
    terminal.secret_sealed, terminal.secret_wrapped_key = sealed.ciphertext, sealed.wrapped_key
    terminal.master_key_id = sealed.master_key_id
    audit.append(
        session,
        actor=operator,
        action="terminal.register",
        subject=f"terminal:{terminal.id}",
        details={"merchant_id": merchant.id},
    )
    return terminal, secret


def authenticate(
    session: Session,
    keyring: Keyring,
    terminal_id: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    method: str,
    path: str,
    body: bytes,
    now: dt.datetime,
    max_skew: dt.timedelta,
) -> Terminal:
    """The terminal that signed this request. The nonce is added to ``session``, which the caller
    commits on its own, before the request's work: a replay is refused even if the first request
    then failed."""
    if not (terminal_id and timestamp and nonce and signature):
        raise DomainError(
            ErrorCode.SIGNATURE_MISSING,
            "terminal requests need X-Terminal-Id, X-Timestamp, X-Nonce and X-Signature headers",
        )
    terminal = session.get(Terminal, terminal_id)
    if terminal is None or terminal.status != "active":
        raise DomainError(ErrorCode.TERMINAL_UNKNOWN, "unknown or revoked terminal")
    try:  # plain ASCII digits: int() would also take "+ts", "1_796", spaces and other scripts' digits
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise ValueError(timestamp)
        signed_at = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise DomainError(ErrorCode.SIGNATURE_INVALID, "X-Timestamp must be Unix seconds") from None
    if not 8 <= len(nonce) <= 64 or not nonce.isascii():
        raise DomainError(ErrorCode.SIGNATURE_INVALID, "X-Nonce must be 8 to 64 ASCII characters")
    secret = keyring.open(
        Sealed(terminal.secret_sealed, terminal.secret_wrapped_key, terminal.master_key_id), _secret_aad(terminal)
    ).decode()
    if not signing.valid(secret, signature, method, path, timestamp, nonce, body):
        raise DomainError(ErrorCode.SIGNATURE_INVALID, "the request signature does not verify")
    if abs(now - signed_at) > max_skew:
        raise DomainError(
            ErrorCode.SIGNATURE_STALE,
            f"the request was signed at {signed_at.isoformat()}; "
            f"clocks may differ by at most {int(max_skew.total_seconds())} s",
        )
    try:
        with session.begin_nested():
            session.add(TerminalNonce(terminal_id=terminal.id, nonce=nonce, seen_at=now))
    except IntegrityError:
        raise DomainError(
            ErrorCode.NONCE_REUSED, "this nonce was already used; every request needs a new one"
        ) from None
    return terminal


def purge_nonces(session: Session, before: dt.datetime) -> int:
    """Nonces older than the clock window can go: a request that old is refused as stale anyway."""
    return rowcount(session.execute(delete(TerminalNonce).where(TerminalNonce.seen_at < before)))
