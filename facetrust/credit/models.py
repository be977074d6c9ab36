"""Tables owned by the credit package. Money is integer fen; dates of installments are calendar
dates in the business time zone (settings: credit_day_utc_offset_hours)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.clock import new_id, utcnow
from facetrust.store.db import Base


class CreditLine(Base):
    """How much an account may owe at once. ``used_fen`` is the principal outstanding on its plans
    and loans; a draw is a conditional update that never takes it above ``limit_fen``."""

    __tablename__ = "credit_lines"
    __table_args__ = (CheckConstraint("used_fen >= 0", name="credit_line_used_not_negative"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), unique=True)
    limit_fen: Mapped[int] = mapped_column(BigInteger)
    used_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(
        String(16), default="active"
    )  # active | suspended | closed (its account closed)
    granted_by: Mapped[str] = mapped_column(String(160))
    reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CreditCheckout(Base):
    """A merchant's order offered to one account on installments, created by the platform's back
    end; the account holder picks a product and a term and confirms it with their face."""

    __tablename__ = "credit_checkouts"
    __table_args__ = (UniqueConstraint("merchant_id", "merchant_order_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    merchant_order_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(128))
    shipping_address_hash: Mapped[str | None] = mapped_column(String(64))  # for risk features; never the address
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | confirmed | expired
    plan_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CreditPlan(Base):
    """An installment purchase or a loan, with the terms and the face check it was confirmed with."""

    __tablename__ = "credit_plans"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        CheckConstraint(
            "principal_fen > 0 AND outstanding_principal_fen >= 0 AND outstanding_principal_fen <= principal_fen",
            name="plan_principal_within_bounds",
        ),
        CheckConstraint("status IN ('active', 'paid_off', 'returned')", name="plan_status_valid"),
        CheckConstraint("returned_fen >= 0 AND returned_fen <= principal_fen", name="plan_returned_within_principal"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # installment | loan
    product_id: Mapped[str] = mapped_column(String(48))
    terms: Mapped[str] = mapped_column(Text)  # JSON copy of the product as it was when confirmed
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    periods: Mapped[int] = mapped_column(Integer)
    apr: Mapped[str] = mapped_column(String(16))  # IRR x 12 of the schedule as confirmed, a decimal fraction
    start_date: Mapped[dt.date] = mapped_column(Date)
    outstanding_principal_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | paid_off | returned (all of it)
    # The goods' value the merchant took back (credit/returns.py); the plan's cost is on the rest.
    returned_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Bumped by every repayment and return with a conditional update: of two racing repayments one wins.
    version: Mapped[int] = mapped_column(Integer, default=0)
    checkout_id: Mapped[str | None] = mapped_column(ForeignKey("credit_checkouts.id"), unique=True)
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(80))  # loan:<client key> or checkout:<id>
    # The face check: the liveness pass it spent and the 1:1 decision with the KYC face.
    liveness_session_id: Mapped[str] = mapped_column(String(32), unique=True)
    face_score: Mapped[float] = mapped_column(Float)
    face_threshold: Mapped[float] = mapped_column(Float)
    face_model_id: Mapped[str] = mapped_column(String(64))
    face_calibration_id: Mapped[str] = mapped_column(String(32))
    transaction_id: Mapped[str] = mapped_column(String(32))  # the disbursement (merchant settlement or wallet)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CreditInstallment(Base):
    """One period of a plan: what is due on ``due_date`` and what has been paid of it. A partial
    prepayment re-spreads the principal, interest and fees of the periods not yet paid."""

    __tablename__ = "credit_installments"

    plan_id: Mapped[str] = mapped_column(ForeignKey("credit_plans.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_date: Mapped[dt.date] = mapped_column(Date)
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    interest_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    penalty_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="unpaid")  # unpaid | paid | settled_early | cancelled
    repayment_id: Mapped[str | None] = mapped_column(String(32))
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CreditRepayment(Base):
    """Money the borrower paid back, split into what it paid; idempotent on the client's key."""

    __tablename__ = "credit_repayments"
    __table_args__ = (UniqueConstraint("plan_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(ForeignKey("credit_plans.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # installment | payoff | partial
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    interest_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    penalty_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    on_date: Mapped[dt.date] = mapped_column(Date)
    transaction_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CreditReturn(Base):
    """Goods bought on installments that the merchant took back, in full or in part, and how the
    plan was unwound (``credit/unwind.py``); idempotent on the merchant's return id."""

    __tablename__ = "credit_returns"
    __table_args__ = (
        UniqueConstraint("plan_id", "merchant_return_id"),
        CheckConstraint(
            "amount_fen > 0 AND amount_fen = principal_cancelled_fen + principal_refunded_fen "
            "AND wallet_fen = principal_refunded_fen + fee_refunded_fen + interest_refunded_fen",
            name="credit_return_amounts_add_up",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(ForeignKey("credit_plans.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    terminal_id: Mapped[str] = mapped_column(String(32))
    merchant_return_id: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))  # the same id with another body is refused
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # the goods' value returned
    full: Mapped[bool] = mapped_column(Boolean)  # everything still kept was returned
    principal_cancelled_fen: Mapped[int] = mapped_column(BigInteger)
    principal_refunded_fen: Mapped[int] = mapped_column(BigInteger)
    fee_cancelled_fen: Mapped[int] = mapped_column(BigInteger)
    interest_cancelled_fen: Mapped[int] = mapped_column(BigInteger)
    fee_refunded_fen: Mapped[int] = mapped_column(BigInteger)
    interest_refunded_fen: Mapped[int] = mapped_column(BigInteger)
    wallet_fen: Mapped[int] = mapped_column(BigInteger)  # what went back to the person's wallet
    merchant_fee_fen: Mapped[int] = mapped_column(BigInteger)  # the platform's fee on it, given back to the merchant
    transaction_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
