"""Tables owned by the payments package.

Money is integer fen throughout. Balances live on ledger accounts and change only through postings
of balanced ledger transactions (``ledger.py``); the balance column is a running total that
``facetrust ledger check`` proves equal to the sum of its postings.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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


class Merchant(Base):
    """A business that takes face payments on a platform (tenant), registered by an operator."""

    __tablename__ = "merchants"
    __table_args__ = (CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name="merchant_fee_bps_range"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    fee_bps: Mapped[int] = mapped_column(Integer, default=0)  # platform fee, basis points of the amount
    # Where the shop is, for the risk engine's "far from the payer's usual merchants" feature.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Terminal(Base):
    """A vending machine or checkout. Its HMAC secret is kept sealed (the server must recompute
    signatures, so a hash would not do) and shown once, when the terminal is registered."""

    __tablename__ = "terminals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    label: Mapped[str] = mapped_column(String(128))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    secret_wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | revoked
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TerminalNonce(Base):
    """Every nonce a terminal has signed with, inside the accepted clock window: a second request
    with the same nonce is a replay."""

    __tablename__ = "terminal_nonces"

    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class PaymentIntent(Base):
    """One payment a terminal asks for, from creation to paid, declined or expired.

    The payer is unknown when it is created; the capture page (the platform's, opened with a
    one-time token) identifies them. ``payer_account_id`` and the reasons stay on the platform's
    side; a terminal reads only the status, the transaction id and ``payer_name_masked``.
    """

    __tablename__ = "payment_intents"
    __table_args__ = (
        UniqueConstraint("terminal_id", "idempotency_key"),
        CheckConstraint("amount_fen > 0", name="intent_amount_positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="intent_refunds_within_amount"),
        CheckConstraint("fee_fen >= 0", name="intent_fee_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"), index=True)
    merchant_order_id: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))  # the same key with another body is refused
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(String(128))
    # awaiting_face | needs_input | paid | declined | expired
    status: Mapped[str] = mapped_column(String(16), default="awaiting_face")
    step: Mapped[str | None] = mapped_column(String(16))  # while needs_input: phone_digits | step_up
    # The capture page's one-time token: a hash to find the intent by, and the token sealed, so a
    # terminal retrying with its idempotency key gets the same capture link back.
    capture_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    capture_token_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    capture_token_wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    liveness_session_id: Mapped[str | None] = mapped_column(String(32))  # the current capture's
    # The phone step's candidates (account ids and scores); cleared when the intent is decided.
    candidates: Mapped[str | None] = mapped_column(Text)
    payer_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    payer_name_masked: Mapped[str | None] = mapped_column(String(32))
    decline_reason: Mapped[str | None] = mapped_column(String(48))
    identification: Mapped[str | None] = mapped_column(Text)  # JSON: outcome, score, thresholds, rule
    transaction_id: Mapped[str | None] = mapped_column(String(32))
    # The risk engine's event for this payment: decided once, completed when the money moves.
    risk_event_seq: Mapped[int | None] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class Refund(Base):
    """A full or partial refund of a paid intent, idempotent on the merchant's refund id."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("intent_id", "merchant_refund_id"),
        CheckConstraint("amount_fen > 0", name="refund_amount_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    intent_id: Mapped[str] = mapped_column(ForeignKey("payment_intents.id"), index=True)
    merchant_refund_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerAccount(Base):
    """Where money sits: a user's wallet, a merchant's account, the platform's fees, the outside
    world's funding account (allowed below zero: it mirrors money that came in), a borrower's credit
    account (below zero by the principal they owe) or the platform's credit income."""

    __tablename__ = "ledger_accounts"
    # The ledger's own rule, kept by the database too: only the accounts made to (funding, credit)
    # ever go below zero, whatever code writes the row.
    __table_args__ = (
        UniqueConstraint("kind", "owner_id"),
        CheckConstraint("may_go_negative OR balance_fen >= 0", name="ledger_balance_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(
        String(16)
    )  # wallet | merchant | platform_fees | funding | credit | credit_income
    owner_id: Mapped[str] = mapped_column(String(32))  # account, merchant or tenant id
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    may_go_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerTransaction(Base):
    """One movement of money; its postings sum to zero. ``reference`` is unique, so the same
    business event (a payment of one intent, one refund, one top-up) can never post twice."""

    __tablename__ = "ledger_transactions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # top_up | payment | refund | installment | loan | repayment
    reference: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="posting_not_zero"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    ledger_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # signed: + credit to the account, - debit


class FacePayControl(Base):
    """The person's own settings for face pay (issue 24): limits at or below the platform's, and a
    pause. A row only once they set something; no row means the platform's limits and not paused.
    Pausing keeps the template (resuming needs no new enrolment) but the gallery search skips the
    account, so no terminal can match or charge them meanwhile."""

    __tablename__ = "face_pay_controls"
    __table_args__ = (
        CheckConstraint("transaction_limit_fen IS NULL OR transaction_limit_fen > 0", name="own_transaction_limit"),
        CheckConstraint("daily_limit_fen IS NULL OR daily_limit_fen > 0", name="own_daily_limit"),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    transaction_limit_fen: Mapped[int | None] = mapped_column(BigInteger)
    daily_limit_fen: Mapped[int | None] = mapped_column(BigInteger)
    paused_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FacePayDispute(Base):
    """A face payment its payer says they do not recognise. One per payment (a second report returns
    this one); it opens (or joins) a risk case for an operator and freezes nothing by itself."""

    __tablename__ = "face_pay_disputes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    intent_id: Mapped[str] = mapped_column(ForeignKey("payment_intents.id"), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    case_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
