"""The events every flow reports to the risk engine, and how they are stored.

A flow describes what happened as an ``EventIn``: its kind and whichever dimensions it knows (the
account, the device and IP the platform passed, the merchant, the shipping address, the face key,
the amount...). ``emit`` stores it; ``engine.decide`` stores it and decides on it. A shipping
address is only ever stored as a hash of its normalised form; nothing personal is put in an event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.risk.models import RiskEvent

# Money leaving an account (decided before it moves) and the other kinds features count.
PAYMENT, INSTALLMENT, LOAN = "payment", "installment", "loan"
MONEY_OUT = (PAYMENT, INSTALLMENT, LOAN)
# A merchant took back goods bought on installments (credit/returns.py); its ``ref`` is the plan,
# as the installment event's is, and its outcome ``quick`` when it came soon after the order.
CREDIT_RETURNED, QUICK = "credit_returned", "quick"
KINDS = (
    "login",
    "real_name",
    "liveness",
    "face_verification",
    "face_pay.enrol",
    "face_pay.revoke",
    "face_pay.duplicate_identity",
    "face_pay.dispute",  # the payer does not recognise a face payment (payments/controls.py)
    "payment_intent",
    PAYMENT,
    "refund",
    CREDIT_RETURNED,
    INSTALLMENT,
    LOAN,
    "repayment",
    "top_up",
    "account.freeze",
    "account.unfreeze",
    "device_rebind",  # a proven re-binding of a new device (facetrust/devices/rebind.py)
)
COMPLETED = "completed"  # the outcome of a money-out event once the money has moved
PASSED, FAILED = "passed", "failed"  # of a real-name check, a liveness check or a face match
ON_TIME, EARLY, LATE = "on_time", "early", "late"  # of a repayment
# Every outcome an event is stored with: these, or a money-out event's decision (``rules.DECISIONS``)
# until its money moves. The console words each one (tests/test_web_console_labels.py).
OUTCOMES = (COMPLETED, PASSED, FAILED, ON_TIME, EARLY, LATE, QUICK)


@dataclass(frozen=True)
class EventIn:
    kind: str
    account_id: str | None = None
    device_id: str | None = None
    ip: str | None = None
    merchant_id: str | None = None
    address_hash: str | None = None  # of the shipping address: address_hash()
    face_key: str | None = None
    amount_fen: int | None = None
    outcome: str | None = None
    category: str | None = None
    periods: int | None = None
    ref: str | None = None
    data: dict = field(default_factory=dict)
    at: dt.datetime | None = None  # now, unless a simulation or an import says when


def address_hash(address: str) -> str:
    """The same address written with other spacing or case hashes the same."""
    return hashlib.sha256(re.sub(r"\s+", " ", address).strip().lower().encode()).hexdigest()


def emit(session: Session, event: EventIn) -> RiskEvent:
    """Store the event with one INSERT (no ORM unit of work: this runs on every decision) and
    return it as a detached row, for the features to read."""
    if event.kind not in KINDS:
        raise ValueError(f"unknown risk event kind {event.kind!r}")
    values = dict(
        kind=event.kind,
        at=event.at or utcnow(),
        account_id=event.account_id,
        device_id=event.device_id,
        ip=event.ip,
        merchant_id=event.merchant_id,
        address_hash=event.address_hash,
        face_key=event.face_key,
        amount_fen=event.amount_fen,
        outcome=event.outcome,
        category=event.category,
        periods=event.periods,
        ref=event.ref,
        data=json.dumps(event.data, sort_keys=True, ensure_ascii=False),
    )
    seq = session.execute(
        insert(RiskEvent.__table__).values(**values).returning(RiskEvent.__table__.c.seq)
    ).scalar_one()
    return RiskEvent(seq=seq, **values)


def face_key_of(session: Session, account_id: str) -> str | None:
    """The face key of the account's face-pay enrolment: the account that first enrolled that face."""
    return session.execute(
        select(RiskEvent.face_key)
        .where(RiskEvent.account_id == account_id, RiskEvent.kind == "face_pay.enrol")
        .order_by(RiskEvent.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
