"""Tables owned by the webhooks package: the platform's endpoints, the outbox of events, one
delivery per event and endpoint, and every attempt of a delivery (the delivery log).

The event's body is stored as the exact bytes that are signed and sent, so every attempt and every
replay of it carries the same body and the same event id: a receiver dedupes by that id.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.clock import new_id, utcnow
from facetrust.store.db import Base


class WebhookEndpoint(Base):
    """Where a tenant's back end takes events. Its HMAC secret is sealed with the keyring like a
    terminal's (the service must recompute signatures, so a hash would not do) and shown once."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (CheckConstraint("status IN ('active', 'disabled')", name="webhook_endpoint_status_valid"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(String(512))
    kinds: Mapped[str | None] = mapped_column(Text)  # JSON list of event kinds; NULL: every kind
    status: Mapped[str] = mapped_column(String(16), default="active")
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    secret_wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEvent(Base):
    """One event in the outbox, written in the transaction of the change it reports."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("tenant_id", "dedupe_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, byte for byte
    # Set for events found by a scan rather than made by a change (an installment overdue): the
    # same fact is enqueued once, however many scans see it.
    dedupe_key: Mapped[str | None] = mapped_column(String(96))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """An event on its way to one endpoint: pending, delivering (claimed under a lease), delivered
    or dead (max attempts reached). A replay is a new delivery of the same event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivering', 'delivered', 'dead')", name="webhook_delivery_status_valid"
        ),
        CheckConstraint("attempts >= 0", name="webhook_delivery_attempts_not_negative"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # While delivering: the claim's token and until when it holds; a dispatcher that dies mid-send
    # leaves the lease to expire, and another claims the delivery again (at least once).
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(128))
    replay_of: Mapped[str | None] = mapped_column(String(32))  # the delivery an operator replayed
    replayed_by: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """One POST of a delivery: the delivery log a tenant reads."""

    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(128))  # the failure's type, never the receiver's text
    latency_ms: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # None: no more
