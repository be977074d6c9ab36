"""The platform's webhook endpoints, its delivery log, and the replay of a delivery.

A tenant manages its own endpoints with its API key (or the command line does it for it); it reads
only its own deliveries, and a delivery of another tenant is answered as not found, never as
forbidden (its existence is not disclosed). A replay (by the tenant, or by an operator from the
console) is a new delivery of the same event, with the same event id and body, audited.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facetrust.clock import new_id, utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Tenant
from facetrust.security import audit
from facetrust.security.envelope import Keyring, Sealed
from facetrust.webhooks import outbox, signing
from facetrust.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

MAX_ENDPOINTS = 5  # per tenant


def _secret_aad(endpoint: WebhookEndpoint) -> bytes:
    return f"webhook_secret:{endpoint.id}:{endpoint.tenant_id}".encode()


def open_secret(keyring: Keyring, endpoint: WebhookEndpoint) -> str:
    sealed = Sealed(endpoint.secret_sealed, endpoint.secret_wrapped_key, endpoint.master_key_id)
    return keyring.open(sealed, _secret_aad(endpoint)).decode()


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials in it and no fragment. (Plain http is
    accepted for receivers on a private network and for tests; deployments should use https.)"""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DomainError(ErrorCode.WEBHOOK_URL_INVALID, "the URL cannot be read") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError(ErrorCode.WEBHOOK_URL_INVALID, "the URL must be http:// or https:// with a host")
    if parts.username or parts.password or parts.fragment:
        raise DomainError(ErrorCode.WEBHOOK_URL_INVALID, "the URL may not carry credentials or a fragment")
    if port == 0:
        raise DomainError(ErrorCode.WEBHOOK_URL_INVALID, "the URL's port is not valid")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url  # a host name: what it resolves to is checked at every send (resolves_elsewhere)
    if _never_a_receiver(address):
        raise DomainError(ErrorCode.WEBHOOK_URL_INVALID, "the URL's host is not an address a receiver can have")
    return url


def _never_a_receiver(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """No address at all, broadcast, reserved, or link-local (where cloud metadata services live)."""
    return address.is_unspecified or address.is_multicast or address.is_link_local or address.is_reserved


def resolves_elsewhere(url: str) -> bool:
    """Whether the URL's host now resolves to an address no receiver has. Checked before every send,
    not only when the endpoint is added: a name that pointed at a public host then can be pointed at
    the cloud's metadata service (169.254.169.254) later. A name that does not resolve is left to the
    POST, which fails and is retried like any failure."""
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(_never_a_receiver(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in found)


def check_kinds(kinds: list[str] | None) -> list[str] | None:
    unknown = sorted(set(kinds or []) - set(outbox.KINDS))
    if unknown:
        raise DomainError(
            ErrorCode.WEBHOOK_KIND_UNKNOWN,
            f"unknown event kinds: {', '.join(unknown)}; the kinds are {', '.join(outbox.KINDS)}",
        )
    return sorted(set(kinds)) if kinds else None


def create_endpoint(
    session: Session, keyring: Keyring, tenant_id: str, url: str, kinds: list[str] | None, actor: str
) -> tuple[WebhookEndpoint, str]:
    """An endpoint and its secret; the secret is returned here once and never again."""
    if session.get(Tenant, tenant_id) is None:
        raise DomainError(ErrorCode.TENANT_NOT_FOUND, "no such platform")
    check_url(url)
    kinds = check_kinds(kinds)
    active = session.execute(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.status == "active")
    ).scalar_one()
    if active >= MAX_ENDPOINTS:
        raise DomainError(
            ErrorCode.WEBHOOK_ENDPOINT_LIMIT, f"a platform has at most {MAX_ENDPOINTS} active webhook endpoints"
        )
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        id=new_id(),
        tenant_id=tenant_id,
        url=url,
        kinds=json.dumps(kinds) if kinds else None,
        status="active",
        created_at=utcnow(),
    )
    sealed = keyring.seal(secret.encode(), _secret_aad(endpoint))
    endpoint.secret_sealed, endpoint.secret_wrapped_key = sealed.ciphertext, sealed.wrapped_key
    endpoint.master_key_id = sealed.master_key_id
    session.add(endpoint)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="webhook.endpoint.create",
        subject=f"webhook_endpoint:{endpoint.id}",
        details={"tenant_id": tenant_id, "kinds": kinds},
    )
    return endpoint, secret


def endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    return list(
        session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        ).scalars()
    )


def endpoint_of(session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != tenant_id:
        raise DomainError(ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND, "no such webhook endpoint")
    return endpoint


def disable_endpoint(session: Session, tenant_id: str, endpoint_id: str, actor: str) -> WebhookEndpoint:
    """Stop sending to the endpoint; its pending deliveries end as dead when next tried."""
    endpoint = endpoint_of(session, tenant_id, endpoint_id)
    if endpoint.status != "disabled":
        endpoint.status = "disabled"
        audit.append(
            session,
            actor=actor,
            action="webhook.endpoint.disable",
            subject=f"webhook_endpoint:{endpoint.id}",
            details={"tenant_id": tenant_id},
        )
    return endpoint


@dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    event: WebhookEvent
    attempts: list[WebhookAttempt]


def deliveries(
    session: Session,
    tenant_id: str | None,
    status: str | None = None,
    limit: int = 50,
    before: dt.datetime | None = None,
) -> list[DeliveryView]:
    """The delivery log, newest first: one tenant's (``tenant_id``), or every tenant's (operators)."""
    query = select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
    if tenant_id is not None:
        query = query.where(WebhookDelivery.tenant_id == tenant_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    if before:
        query = query.where(WebhookDelivery.created_at < before)
    rows = session.execute(query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)).all()
    found = _attempts(session, [d.id for d, _ in rows])
    return [DeliveryView(d, e, found.get(d.id, [])) for d, e in rows]


def _attempts(session: Session, delivery_ids: list[str]) -> dict[str, list[WebhookAttempt]]:
    out: dict[str, list[WebhookAttempt]] = {}
    if not delivery_ids:
        return out
    for a in session.execute(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    ).scalars():
        out.setdefault(a.delivery_id, []).append(a)
    return out


def delivery(session: Session, tenant_id: str | None, delivery_id: str) -> DeliveryView:
    """One delivery with its attempts; another tenant's is not found."""
    found = session.get(WebhookDelivery, delivery_id)
    if found is None or (tenant_id is not None and found.tenant_id != tenant_id):
        raise DomainError(ErrorCode.WEBHOOK_DELIVERY_NOT_FOUND, "no such webhook delivery")
    event = session.get(WebhookEvent, found.event_id)
    assert event is not None
    return DeliveryView(found, event, _attempts(session, [found.id]).get(found.id, []))


def replay(session: Session, tenant_id: str | None, delivery_id: str, actor: str, reason: str) -> WebhookDelivery:
    """Send the delivery's event again, as a new delivery to the same endpoint (which must still be
    active), due now; audited with who asked and why. The event id and body do not change."""
    original = delivery(session, tenant_id, delivery_id).delivery
    endpoint = session.get(WebhookEndpoint, original.endpoint_id)
    if endpoint is None or endpoint.status != "active":
        raise DomainError(ErrorCode.WEBHOOK_ENDPOINT_DISABLED, "the delivery's endpoint is disabled")
    now = utcnow()
    again = WebhookDelivery(
        id=new_id(),
        event_id=original.event_id,
        endpoint_id=original.endpoint_id,
        tenant_id=original.tenant_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        replay_of=original.id,
        replayed_by=actor,
    )
    session.add(again)
    session.flush()
    outbox.wake_on_commit(session)
    audit.append(
        session,
        actor=actor,
        action="webhook.replay",
        subject=f"webhook_delivery:{original.id}",
        details={"tenant_id": original.tenant_id, "event_id": original.event_id, "replay": again.id, "reason": reason},
    )
    return again
