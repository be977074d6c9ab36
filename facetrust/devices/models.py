"""Tables owned by the devices package: each account's bound device, the history of re-bindings,
the reviews a person asks for when the face check cannot prove them, and notifications."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.clock import new_id, utcnow
from facetrust.store.db import Base


class DeviceBinding(Base):
    """The one device money may leave an account from: the device of its first token, or the one
    a re-binding (face, bank card, an operator's review) last proved. During ``cooldown_until``
    after a re-binding money may not leave even from it: a taken-over account gives its owner a
    day to notice the notification on the old device."""

    __tablename__ = "device_bindings"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))  # first_sign_in | face | bank_card | review
    bound_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cooldown_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DeviceRebind(Base):
    """One successful re-binding, kept as history. ``proof`` names what proved the person (a
    liveness session, a real-name authentication, a review) and is unique: a proof binds once."""

    __tablename__ = "device_rebinds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(128))
    previous_device_id: Mapped[str | None] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))  # face | bank_card | review
    proof: Mapped[str] = mapped_column(String(80), unique=True)
    actor: Mapped[str] = mapped_column(String(160))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cooldown_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DeviceReview(Base):
    """A person's request that an operator confirm it is them on a new device (their face check
    failed, they are locked out, or they have no real-name face). It opens a risk case; an operator
    approves (the device is bound) or denies (it stays unbound)."""

    __tablename__ = "device_reviews"
    __table_args__ = (CheckConstraint("status IN ('pending', 'approved', 'denied')", name="device_review_status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(128))
    case_id: Mapped[str] = mapped_column(ForeignKey("risk_cases.id"))
    note: Mapped[str | None] = mapped_column(Text)  # the person's own words, for the operator
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(160))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """A message for the account holder, addressed to one of their devices (or, without a device,
    to all of them). Read over ``GET /v1/me/notifications``; there is no push channel: the app
    shows them when it next asks."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_account_created", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    device_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # device_rebound | device_review_denied
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON: when, until; nothing personal
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
