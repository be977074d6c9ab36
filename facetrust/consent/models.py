"""Tables owned by the consent package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.clock import new_id, utcnow
from facetrust.store.db import Base


class ConsentEvent(Base):
    """One grant or withdrawal. Rows are only ever added: the current state of a purpose is its
    latest event, and the history is every event."""

    __tablename__ = "consent_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(48))
    action: Mapped[str] = mapped_column(String(16))  # grant | withdraw
    notice_version: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    guardian_name: Mapped[str | None] = mapped_column(String(64))
    guardian_relation: Mapped[str | None] = mapped_column(String(32))
    guardian_id_hash: Mapped[str | None] = mapped_column(String(64))  # never the number itself
    # From the guardian's ID number: whether they are an adult is checked again whenever the
    # consent is relied on, not only when it was given.
    guardian_birth_date: Mapped[dt.date | None] = mapped_column(Date)
