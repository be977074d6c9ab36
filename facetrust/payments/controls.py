"""The person's own controls on face pay (issue 24): their limits, a pause, and disputes.

- Own limits sit at or below the platform's (a person may only be stricter than the platform); a
  payment over one is declined ``own_limit_exceeded`` before the risk engine and before any money
  moves. Unlike the platform's limits, an own limit is never lifted by a step-up: it is the
  person's instruction, not a risk threshold.
- A pause keeps the face-pay template (resuming needs no new enrolment) but the gallery search
  leaves the account out (``paused_among``), so no terminal can identify or charge them meanwhile.
- A dispute of a paid face payment the person does not recognise records one row per payment,
  lets the risk rules decide on a ``face_pay.dispute`` event, and opens (or joins) a risk case for
  an operator. It freezes nothing by itself: only a rule that decides ``freeze`` does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.payments.context import FacePayLimits
from facetrust.payments.models import FacePayControl, FacePayDispute, PaymentIntent
from facetrust.risk import cases
from facetrust.risk import engine as risk
from facetrust.risk.events import EventIn
from facetrust.security import audit, template_store

PURPOSE = "face_pay"
DISPUTE_TYPOLOGY = "disputed_face_payment"


@dataclass(frozen=True)
class OwnLimits:
    """The limits that apply to one person: the platform's, lowered by their own where set."""

    transaction_fen: int
    daily_fen: int
    own_transaction_fen: int | None
    own_daily_fen: int | None


def control(session: Session, account_id: str) -> FacePayControl | None:
    return session.get(FacePayControl, account_id)


def limits_for(session: Session, platform: FacePayLimits, account_id: str) -> OwnLimits:
    row = control(session, account_id)
    own_tx = row.transaction_limit_fen if row else None
    own_day = row.daily_limit_fen if row else None
    return OwnLimits(
        min(platform.transaction_fen, own_tx) if own_tx else platform.transaction_fen,
        min(platform.daily_fen, own_day) if own_day else platform.daily_fen,
        own_tx,
        own_day,
    )


def own_limit_refusal(
    session: Session, account_id: str, amount_fen: int, spent_today_fen: int
) -> dict[str, int] | None:
    """The details of a decline when the payment breaks the person's own limits, else None. An
    amount exactly at a limit passes: limits are inclusive, to the fen."""
    row = control(session, account_id)
    if row is None:
        return None
    if row.transaction_limit_fen is not None and amount_fen > row.transaction_limit_fen:
        return {"own_transaction_limit_fen": row.transaction_limit_fen}
    if row.daily_limit_fen is not None and spent_today_fen + amount_fen > row.daily_limit_fen:
        return {"own_daily_limit_fen": row.daily_limit_fen, "spent_today_fen": spent_today_fen}
    return None


def set_limits(
    session: Session,
    platform: FacePayLimits,
    account: Account,
    transaction_fen: int | None,
    daily_fen: int | None,
) -> FacePayControl:
    """Set (or clear, with None) the person's own limits; above the platform's is refused, as is a
    per-payment limit above their own daily one (it could never be used in full)."""
    risk.check_can_move_money(account)
    for value, ceiling in ((transaction_fen, platform.transaction_fen), (daily_fen, platform.daily_fen)):
        if value is not None and value > ceiling:
            raise DomainError(
                ErrorCode.OWN_LIMIT_ABOVE_PLATFORM,
                f"your own limit ({value} fen) must be at or below the platform's ({ceiling} fen)",
            )
    if transaction_fen is not None and daily_fen is not None and transaction_fen > daily_fen:
        raise DomainError(
            ErrorCode.OWN_LIMITS_INCONSISTENT, "your own per-payment limit cannot be above your own daily limit"
        )
    row = _row(session, account.id)
    before = {"transaction_limit_fen": row.transaction_limit_fen, "daily_limit_fen": row.daily_limit_fen}
    row.transaction_limit_fen, row.daily_limit_fen, row.updated_at = transaction_fen, daily_fen, utcnow()
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="face_pay.own_limits",
        subject=f"account:{account.id}",
        purpose=PURPOSE,
        details={"before": before, "transaction_limit_fen": transaction_fen, "daily_limit_fen": daily_fen},
    )
    return row


def _row(session: Session, account_id: str) -> FacePayControl:
    row = control(session, account_id)
    if row is None:
        row = FacePayControl(account_id=account_id, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def is_paused(session: Session, account_id: str) -> bool:
    row = control(session, account_id)
    return row is not None and row.paused_at is not None


def paused_among(session: Session, account_ids: list[str]) -> set[str]:
    """Which of these accounts (a search's candidates) have paused face pay."""
    if not account_ids:
        return set()
    return set(
        session.execute(
            select(FacePayControl.account_id).where(
                FacePayControl.account_id.in_(account_ids), FacePayControl.paused_at.is_not(None)
            )
        ).scalars()
    )


def pause(session: Session, account: Account, paused: bool) -> FacePayControl:
    """Pause or resume face pay; the template stays either way. Pausing is allowed even while the
    account is frozen (it only takes a way of paying away); resuming is not. Idempotent."""
    if paused is False:
        risk.check_can_move_money(account)
    if not template_store.held(session, account.id, PURPOSE):
        raise DomainError(ErrorCode.FACE_PAY_NOT_ENABLED, "face pay is not switched on for this account")
    row = _row(session, account.id)
    if (row.paused_at is not None) == paused:
        return row
    row.paused_at, row.updated_at = (utcnow() if paused else None), utcnow()
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="face_pay.pause" if paused else "face_pay.resume",
        subject=f"account:{account.id}",
        purpose=PURPOSE,
        details={},
    )
    return row


@dataclass(frozen=True)
class Disputed:
    dispute: FacePayDispute
    created: bool
    decision: str | None  # the risk rules' decision on the dispute, when it was made now


def dispute(session: Session, account: Account, intent_id: str, now: dt.datetime | None = None) -> Disputed:
    """Dispute one of the person's own paid face payments. Another person's payment, or one that
    does not exist, is the same 404 (nobody learns which payments exist). A second dispute of the
    same payment returns the first, with no second case or event."""
    intent = session.get(PaymentIntent, intent_id)
    if intent is None or intent.payer_account_id != account.id:
        raise DomainError(ErrorCode.INTENT_NOT_FOUND, "no such payment of yours")
    existing = _dispute_of(session, intent.id)
    if existing is not None:
        return Disputed(existing, False, None)
    if intent.status != "paid":
        raise DomainError(ErrorCode.PAYMENT_NOT_DISPUTABLE, "only a paid face payment can be disputed")
    row = FacePayDispute(intent_id=intent.id, account_id=account.id, created_at=now or utcnow())
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same dispute, committed a moment ago by a double tap
        return Disputed(_dispute_of(session, intent.id), False, None)  # type: ignore[arg-type]
    verdict = risk.decide(
        session,
        EventIn(
            "face_pay.dispute",
            account_id=account.id,
            device_id=f"terminal:{intent.terminal_id}",
            merchant_id=intent.merchant_id,
            amount_fen=intent.amount_fen,
            ref=intent.id,
        ),
    )
    case = cases.open_case(
        session,
        account.id,
        intent.merchant_id,
        verdict.decision_id,
        [DISPUTE_TYPOLOGY],
        note=f"the payer does not recognise face payment {intent.id} ({intent.amount_fen} fen)",
    )
    row.case_id = case.id
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="face_pay.dispute",
        subject=f"intent:{intent.id}",
        purpose=PURPOSE,
        details={"dispute_id": row.id, "case_id": case.id, "risk_decision": verdict.decision},
    )
    return Disputed(row, True, verdict.decision)


def _dispute_of(session: Session, intent_id: str) -> FacePayDispute | None:
    return session.execute(select(FacePayDispute).where(FacePayDispute.intent_id == intent_id)).scalar_one_or_none()


def disputed_intents(session: Session, account_id: str) -> set[str]:
    return set(
        session.execute(select(FacePayDispute.intent_id).where(FacePayDispute.account_id == account_id)).scalars()
    )
