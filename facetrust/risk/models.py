"""Tables owned by the risk package: the event store the features are computed from, the decisions
with the inputs they used, the rule sets they were made under, and the cases operators work."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.clock import new_id, utcnow
from facetrust.store.db import Base


class RiskEvent(Base):
    """Something that happened, as the risk engine sees it: typed, with the dimensions features are
    counted by. ``seq`` orders events; a feature computed for an event counts only events up to it,
    so a decision can be recomputed later from the same history. No face data or personal data:
    the shipping address is a hash, the face is a key (the account that first enrolled that face)."""

    __tablename__ = "risk_events"
    __table_args__ = (
        Index("ix_risk_events_account_at", "account_id", "at"),
        Index("ix_risk_events_device_at", "device_id", "at"),
        Index("ix_risk_events_ip_at", "ip", "at"),
        Index("ix_risk_events_merchant_at", "merchant_id", "at"),
        Index("ix_risk_events_address_at", "address_hash", "at"),
        Index("ix_risk_events_face_at", "face_key", "at"),
        Index("ix_risk_events_kind_at", "kind", "at"),
        Index("ix_risk_events_ref", "ref"),  # a refund finds the payment it returns
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(48))  # see facetrust/risk/events.py KINDS
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account_id: Mapped[str | None] = mapped_column(String(32))
    device_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    merchant_id: Mapped[str | None] = mapped_column(String(32))
    address_hash: Mapped[str | None] = mapped_column(String(64))
    face_key: Mapped[str | None] = mapped_column(String(32))
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(32))  # passed | failed | paid | declined | on_time | late ...
    category: Mapped[str | None] = mapped_column(String(32))
    periods: Mapped[int | None] = mapped_column(Integer)
    ref: Mapped[str | None] = mapped_column(String(64))  # the intent, plan, refund ... it is about
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON of anything else (never face or personal data)


class RiskRuleSet(Base):
    """Every rule set the engine has run under, kept whole so a decision can be replayed."""

    __tablename__ = "risk_rule_sets"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)  # canonical JSON of the validated rule set
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RiskDecision(Base):
    """One decision about one event: the feature values and the rule set version it used, the
    rules that fired and the typologies they made up."""

    __tablename__ = "risk_decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_seq: Mapped[int] = mapped_column(ForeignKey("risk_events.seq"), unique=True)
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # approve | step_up | review | decline | freeze
    score: Mapped[float] = mapped_column(Float)
    rules: Mapped[str] = mapped_column(Text)  # JSON list of the rule ids that fired
    typologies: Mapped[str] = mapped_column(Text)  # JSON list of the typology ids that fired
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of reason codes
    features: Mapped[str] = mapped_column(Text)  # JSON of every feature value used
    rule_set_version: Mapped[str] = mapped_column(ForeignKey("risk_rule_sets.version"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class RiskCase(Base):
    """A decision an operator must look at: opened by a review or freeze decision, or by hand."""

    __tablename__ = "risk_cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    merchant_id: Mapped[str | None] = mapped_column(String(32), index=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("risk_decisions.id"))
    typologies: Mapped[str] = mapped_column(Text, default="[]")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | assigned | closed
    assignee: Mapped[str | None] = mapped_column(String(160))
    outcome: Mapped[str | None] = mapped_column(String(32))  # fraud_confirmed | false_positive | inconclusive
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RiskCaseNote(Base):
    __tablename__ = "risk_case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("risk_cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(160))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
