"""Tables owned by the risk package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.identity.models import new_id, utcnow
from facetrust.store.db import Base


class RiskEvent(Base):
    """Something the risk engine must know about, with its decision and the reasons for it."""

    __tablename__ = "risk_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(48), index=True)  # e.g. face_pay.payment, face_pay.duplicate_identity
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))  # info | alert
    decision: Mapped[str] = mapped_column(String(16))  # allow | decline | review
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of reason codes
    details: Mapped[str] = mapped_column(Text)  # JSON; never face data or personal data
    rule_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
