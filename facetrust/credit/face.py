"""The face check that confirms every installment plan and every loan drawdown.

It spends a passed liveness session of the account for this purpose, made moments before
(settings: credit_face_max_age_seconds), and compares its live face 1:1 with the face the account
proved at real-name authentication, at the ``credit`` operating point. There is no setting, role or
parameter that skips it: ``plans.open_plan`` is the only code that disburses credit and it takes a
``FaceConfirmation``, which only ``confirm`` makes, and re-reads the spent pass before moving money.

A mismatch is recorded (the spent pass, a lockout failure, a risk event) and refused with
``RecordedRefusal``; the route commits those records before answering.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.credit.context import CreditContext
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError, RecordedRefusal
from facetrust.identity.models import Account
from facetrust.liveness import service as liveness
from facetrust.liveness.models import LivenessSession
from facetrust.risk import engine as risk
from facetrust.security import lockout, template_store

PROFILE = "credit"


@dataclass(frozen=True)
class FaceConfirmation:
    account_id: str
    purpose: str  # installment | loan
    plan_id: str  # the plan this check confirms (chosen before the plan is written)
    liveness_session_id: str
    score: float
    threshold: float
    model_id: str
    calibration_id: str


def confirm(
    session: Session, ctx: CreditContext, account: Account, liveness_session_id: str | None, purpose: str, plan_id: str
) -> FaceConfirmation:
    if purpose not in ("installment", "loan"):
        raise ValueError(f"not a credit purpose: {purpose}")
    now = utcnow()
    lockout.check(session, account.id, None, now)
    try:
        enrolled = template_store.read(
            session, ctx.live.keyring, account.id, "kyc", "credit_confirmation", f"account:{account.id}"
        )
    except DomainError:
        raise DomainError(
            ErrorCode.KYC_FACE_REQUIRED,
            "credit is confirmed with your face: complete real-name "
            "authentication by face first (a bank-card check has no face)",
        ) from None
    proof, live = liveness.spend_pass(
        session, ctx.live, account.id, liveness_session_id, purpose, f"{purpose}:{plan_id}", max_age=ctx.face_max_age
    )
    match = ctx.live.engine.compare(live, enrolled, PROFILE)
    risk.face_attempt(session, "face_verification", account.id, proof.device_id, match.match, purpose)
    if not match.match:
        lockout.record_failure(session, ctx.live.lockout, "face_verification", account.id, proof.device_id, now)
        raise RecordedRefusal(ErrorCode.FACE_MISMATCH, "the face does not match the account holder's", status=403)
    return FaceConfirmation(
        account.id,
        purpose,
        plan_id,
        proof.id,
        round(match.score, 6),
        round(match.threshold, 6),
        match.model_id,
        match.calibration_id,
    )


def verify_spent(session: Session, confirmation: FaceConfirmation) -> None:
    """The confirmation's pass really was spent by this draw, for this account and purpose. A
    last check before money moves, so no future code path can pass a made-up confirmation."""
    row = session.get(LivenessSession, confirmation.liveness_session_id)
    if (
        row is None
        or row.account_id != confirmation.account_id
        or row.purpose != confirmation.purpose
        or row.status != "passed"
        or row.used_by != f"{confirmation.purpose}:{confirmation.plan_id}"
        or confirmation.score < confirmation.threshold
    ):
        raise DomainError(ErrorCode.LIVENESS_REQUIRED, "this needs a live face check of the account holder")
