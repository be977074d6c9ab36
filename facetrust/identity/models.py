"""Tables owned by the identity package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.clock import new_id, utcnow
from facetrust.store.db import Base


class Tenant(Base):
    """A platform (an e-commerce or consumer-finance company) whose back end calls us."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256; the key is shown once
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Account(Base):
    """One end user of one tenant."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "platform_user_id"),
        CheckConstraint("status IN ('active', 'frozen', 'closed')", name="account_status_valid"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    platform_user_id: Mapped[str] = mapped_column(String(128))
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | frozen | closed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # From the ID number once real-name authentication succeeds; decides the under-14 rule.
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    real_name_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The ID number hash the first passed real-name authentication bound the account to. Set once
    # (compare-and-set); a later authentication must name the same ID number, and only an
    # operator's audited release clears it.
    real_name_id_hash: Mapped[str | None] = mapped_column(String(64))


class Credential(Base):
    """A bearer token, stored only as its hash: a user's (minted by the tenant's back end) or an
    operator's (with a role)."""

    __tablename__ = "credentials"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # user | operator
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    operator_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))  # risk_analyst | compliance_officer | admin
    # A user token's device, as the platform's back end vouched for it when minting (X-Device-Id).
    device_id: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Operator(Base):
    """A managed operator: which tenant they work for (NULL: the platform, across tenants), their
    role, and whether they are disabled. Their tokens (``Credential`` rows with ``operator_name``)
    take role and tenant from here, so a role change or a disabling applies to tokens already
    issued. Operators with tokens from before migration 0023 and no row here are platform
    operators with their token's role."""

    __tablename__ = "operators"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'disabled')", name="operator_status_valid"),
        CheckConstraint("role IN ('risk_analyst', 'compliance_officer', 'admin')", name="operator_role_valid"),
    )

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RealNameAuthentication(Base):
    """One real-name authentication attempt and its decision, with everything needed to explain and
    replay it. The identity it names is stored sealed (envelope encryption), with a hash for lookup.
    Kept for the anti-money-laundering period after the account closes (``retain_until`` is set
    when it does)."""

    __tablename__ = "real_name_authentications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # face | bank_card
    outcome: Mapped[str] = mapped_column(String(16))  # passed | failed
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of reason codes
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True)
    identity_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    identity_wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(128))  # which authority or bank answered
    model_id: Mapped[str | None] = mapped_column(String(64))
    calibration_id: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    liveness: Mapped[str] = mapped_column(String(32))  # passed (face) | not_applicable (bank card)
    liveness_session_id: Mapped[str | None] = mapped_column(String(32))
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    retain_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


BANK_CODE_MAX_ATTEMPTS = 5


class BankCardChallenge(Base):
    """A bank-card real-name authentication waiting for the one-time code the bank texted to the
    card's reserved mobile. The identity it would bind is sealed like a record's; the code is never
    here (the bank holds it). Wrong codes are counted, and the database refuses more than the limit."""

    __tablename__ = "bank_card_challenges"
    __table_args__ = (
        CheckConstraint(f"attempts >= 0 AND attempts <= {BANK_CODE_MAX_ATTEMPTS}", name="bank_code_attempts"),
        CheckConstraint("status IN ('pending', 'passed', 'failed')", name="bank_challenge_status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    id_number_hash: Mapped[str] = mapped_column(String(64))
    card_hash: Mapped[str] = mapped_column(String(64), index=True)
    # The sealed name and ID number, while pending; deleted once the challenge is decided.
    identity_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    identity_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(32))
    bank_reference: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # wrong codes so far
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | passed | failed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Kept two days (they count the codes sent per account and card in 24 hours), then purged.
