"""Switching face pay on and off.

On: the person has a face real-name authentication (so a verified face to compare with), the
separate ``face_pay`` consent, and a passed liveness check for ``face_pay_enrolment`` whose face
passes the quality gate and matches the verified face at the payment operating point. A face that
already belongs to another identity in the gallery is refused and raised to risk. Nobody is enrolled
any other way.

Off: withdrawing the consent deletes the template in the same transaction; the route then takes the
account out of the in-memory index, and the search's re-ranking against the database covers any
index that has not heard yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.consent import service as consent
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import kyc
from facetrust.identity.models import Account
from facetrust.liveness import service as liveness
from facetrust.payments.context import FacePayContext
from facetrust.risk import cases, events
from facetrust.risk import engine as risk
from facetrust.risk.events import EventIn
from facetrust.security import audit, lockout, template_store
from facetrust.security.models import StoredTemplate

PURPOSE = "face_pay"


@dataclass(frozen=True)
class EnrolmentResult:
    """``refusal`` is the error the route raises after committing what the attempt recorded (a spent
    pass, a lockout failure, a risk event)."""

    enrolled: bool
    refusal: DomainError | None = None
    details: dict | None = None


def enrolled_template(session: Session, account_id: str) -> StoredTemplate | None:
    return (
        session.execute(
            select(StoredTemplate).where(StoredTemplate.account_id == account_id, StoredTemplate.purpose == PURPOSE)
        )
        .scalars()
        .first()
    )


def id_number_hash(session: Session, account_id: str) -> str | None:
    """The hash of the ID number the account proved, from its latest passed real-name check."""
    record = kyc.latest_passed(session, account_id)
    return record.id_number_hash if record else None


def enrol(session: Session, ctx: FacePayContext, account: Account, liveness_session_id: str | None) -> EnrolmentResult:
    risk.check_can_move_money(account)
    if not consent.is_granted(session, account.id, PURPOSE):
        raise DomainError(ErrorCode.CONSENT_REQUIRED, "face pay needs its own face_pay consent")
    own_id = id_number_hash(session, account.id)
    if own_id is None:
        raise DomainError(
            ErrorCode.REAL_NAME_REQUIRED, "complete real-name authentication before switching face pay on"
        )
    now = utcnow()
    lockout.check(session, account.id, None, now)
    try:
        verified = template_store.read(
            session, ctx.keyring, account.id, "kyc", "face_pay_enrolment", f"account:{account.id}"
        )
    except DomainError:
        raise DomainError(
            ErrorCode.KYC_FACE_REQUIRED,
            "face pay needs a face real-name authentication to compare with; bank-card authentication has no face",
        ) from None
    proof, live = liveness.spend_pass(
        session, ctx.live, account.id, liveness_session_id, "face_pay_enrolment", "face_pay.enrol"
    )
    quality = json.loads(proof.reference_quality or '{"passed": false, "reasons": ["unknown"]}')
    if not quality["passed"]:
        return EnrolmentResult(
            False,
            DomainError(
                ErrorCode.ENROLMENT_QUALITY,
                "the enrolment face is not good enough: " + ", ".join(quality["reasons"]) + "; do a new liveness check",
            ),
        )
    match = ctx.engine.compare(live, verified, "payment")
    risk.face_attempt(session, "face_verification", account.id, proof.device_id, match.match, "face_pay_enrolment")
    if not match.match:
        lockout.record_failure(session, ctx.live.lockout, "face_verification", account.id, proof.device_id, now)
        return EnrolmentResult(
            False, DomainError(ErrorCode.FACE_MISMATCH, "the face does not match your real-name face")
        )
    threshold = ctx.engine.calibration.profile("payment").threshold
    others = [
        c
        for c in ctx.gallery.search(
            session,
            ctx.keyring,
            account.tenant_id,
            live,
            ctx.policy.candidates,
            "duplicate_identity_check",
            f"account:{account.id}",
        )
        if c.key != account.id and c.score > threshold
    ]
    duplicates = [c for c in others if id_number_hash(session, c.key) != own_id]
    if duplicates:
        events.emit(
            session,
            EventIn(
                "face_pay.duplicate_identity",
                account_id=account.id,
                data={"other_accounts": [c.key for c in duplicates], "best_score": round(duplicates[0].score, 4)},
            ),
        )
        cases.open_case(
            session,
            account.id,
            None,
            None,
            ["duplicate_identity"],
            note=f"face already enrolled for {len(duplicates)} other identit{'y' if len(duplicates) == 1 else 'ies'}",
        )
        audit.append(
            session,
            actor=f"account:{account.id}",
            action="face_pay.enrol_refused",
            subject=f"account:{account.id}",
            purpose=PURPOSE,
            details={"reason": "duplicate_identity"},
        )
        return EnrolmentResult(
            False,
            DomainError(
                ErrorCode.DUPLICATE_IDENTITY,
                "this face is already enrolled for another identity; the case goes to review",
            ),
        )
    template_store.delete_for_purpose(session, account.id, PURPOSE, f"account:{account.id}")
    row = template_store.store(session, ctx.keyring, account.id, PURPOSE, live, f"account:{account.id}")
    # The face key: one key for every account showing this face (an enrolled one's, else this
    # account's id), so the engine can count accounts behind one face without any face data.
    same_person = [events.face_key_of(session, c.key) for c in others]
    events.emit(
        session,
        EventIn(
            "face_pay.enrol",
            account_id=account.id,
            device_id=proof.device_id,
            face_key=min([k for k in same_person if k] or [account.id]),
        ),
    )
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="face_pay.enrol",
        subject=f"account:{account.id}",
        purpose=PURPOSE,
        details={
            "template_id": row.id,
            "liveness_session_id": proof.id,
            "score": round(match.score, 4),
            "calibration_id": match.calibration_id,
        },
    )
    return EnrolmentResult(True, details={"template_id": row.id, "enrolled_at": row.created_at})


def revoke(session: Session, account: Account) -> None:
    """Withdraw the face-pay consent; its template is deleted with it (consent.withdraw)."""
    consent.withdraw(session, account, PURPOSE, "app")
