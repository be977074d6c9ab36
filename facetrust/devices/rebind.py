"""Getting back into an account on a new device: re-binding it, by the person proving they are the
account holder on that device.

- By face: a passed liveness session for ``device_rebind`` (at least two random actions, as for
  real name) made on the new device, compared 1:1 with the face the account proved at real-name
  authentication (the sealed ``kyc`` template, read for the reason ``device_rebind`` and audited) at
  the ``credit`` operating point: re-binding unlocks the same money.
- By bank card (for people who proved their real name that way, who have no face on file): a bank-
  card real-name authentication completed with the bank's one-time code, minutes before, on the
  account's bound identity; each authentication re-binds at most once.
- By a person: ``request_review`` opens a risk case; an operator approves (binds) or denies.

The risk engine decides every proven re-binding (event ``device_rebind``: repeated re-bindings or
one after failed face checks go to review). A face mismatch counts towards the face-attempt lockout
of the account and the device. After a re-binding money waits the cool-down, and the old device
gets a notification.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.devices.models import DeviceBinding, DeviceRebind, DeviceReview
from facetrust.devices.service import DeviceContext, binding, is_bound, notify
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError, RecordedRefusal
from facetrust.identity.models import Account, RealNameAuthentication
from facetrust.liveness import service as liveness
from facetrust.risk import cases
from facetrust.risk import engine as risk
from facetrust.risk.events import EventIn
from facetrust.security import audit, lockout, template_store

if TYPE_CHECKING:
    from facetrust.identity.scope import Scope

PURPOSE = "device_rebind"  # the liveness purpose, the template read's reason, the risk event kind
PROFILE = "credit"  # the operating point of the money a re-binding unlocks
REVIEW_TYPOLOGY = "device_rebind_review"


def _check(session: Session, account: Account, device_id: str | None) -> str:
    if account.status != "active":
        raise DomainError(ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {account.status}")
    if not device_id or device_id.startswith("terminal:"):
        raise DomainError(
            ErrorCode.DEVICE_ID_REQUIRED, "this token names no device of yours: the platform must sign you in on it"
        )
    if is_bound(session, account.id, device_id):
        raise DomainError(ErrorCode.DEVICE_ALREADY_BOUND, "this device is already the account's device")
    return device_id


def _bind(
    session: Session, ctx: DeviceContext, account: Account, device_id: str, method: str, proof: str, actor: str
) -> DeviceRebind:
    """Move the binding to ``device_id``, start the cool-down, tell the old device, audit it."""
    now = ctx.clock()
    until = now + ctx.cooldown
    row = binding(session, account.id)
    previous = row.device_id if row else None
    if row is None:
        row = DeviceBinding(account_id=account.id, device_id=device_id, method=method, bound_at=now)
        session.add(row)
    row.device_id, row.method, row.bound_at, row.cooldown_until = device_id, method, now, until
    rebind = DeviceRebind(
        account_id=account.id,
        device_id=device_id,
        previous_device_id=previous,
        method=method,
        proof=proof,
        actor=actor,
        at=now,
        cooldown_until=until,
    )
    session.add(rebind)
    session.flush()
    if previous is not None:
        notify(
            session,
            account.id,
            previous,
            "device_rebound",
            {"at": now.isoformat(), "method": method, "cooldown_until": until.isoformat()},
        )
    audit.append(
        session,
        actor=actor,
        action="device.rebind",
        subject=f"account:{account.id}",
        purpose="security",
        details={
            "rebind_id": rebind.id,
            "device_id": device_id,
            "previous_device_id": previous,
            "method": method,
            "cooldown_until": until.isoformat(),
        },
    )
    return rebind


def _decide(session: Session, account: Account, device_id: str, method: str) -> None:
    """The risk engine's word on a proven re-binding; a refusal is kept (a review opens a case)."""
    verdict = risk.decide(
        session, EventIn(PURPOSE, account_id=account.id, device_id=device_id, outcome="passed", data={"method": method})
    )
    if verdict.refused:
        raise verdict.refusal()


def by_face(
    session: Session,
    ctx: DeviceContext,
    live: liveness.LivenessContext,
    account: Account,
    device_id: str | None,
    liveness_session_id: str | None,
) -> DeviceRebind:
    device = _check(session, account, device_id)
    now = ctx.clock()
    lockout.check(session, account.id, device, now)
    try:
        enrolled = template_store.read(session, live.keyring, account.id, "kyc", PURPOSE, f"account:{account.id}")
    except DomainError:
        raise DomainError(
            ErrorCode.KYC_FACE_REQUIRED,
            "this account has no real-name face to compare with: use the bank-card method or ask for a review",
        ) from None
    proof, face = liveness.spend_pass(session, live, account.id, liveness_session_id, PURPOSE, f"{PURPOSE}:{device}")
    if proof.device_id != device:  # a pass made elsewhere (or on no named device) proves nothing here
        raise DomainError(ErrorCode.LIVENESS_REQUIRED, "the live face check must be made on the device to bind")
    match = live.engine.compare(face, enrolled, PROFILE)
    risk.face_attempt(session, "face_verification", account.id, device, match.match, PURPOSE)
    if not match.match:
        lockout.record_failure(session, live.lockout, "face_verification", account.id, device, now)
        audit.append(
            session,
            actor=f"account:{account.id}",
            action="device.rebind_failed",
            subject=f"account:{account.id}",
            purpose="security",
            details={"device_id": device, "method": "face", "liveness_session_id": proof.id},
        )
        raise RecordedRefusal(
            ErrorCode.FACE_MISMATCH,
            "the face does not match the account holder's; try again, or ask for a review",
            status=403,
            attempts_left=lockout.attempts_left(session, live.lockout, account.id, device, now),
        )
    _decide(session, account, device, "face")
    return _bind(session, ctx, account, device, "face", f"liveness:{proof.id}", f"account:{account.id}")


def by_bank_card(
    session: Session, ctx: DeviceContext, account: Account, device_id: str | None, authentication_id: str
) -> DeviceRebind:
    """A bank-card real-name authentication of this account (``POST /v1/me/real-name/bank-card`` and
    its ``confirm`` with the bank's one-time code), passed within ``bank_proof_max_age`` and on the
    identity the account is bound to (the real-name flow refuses any other), binds once."""
    device = _check(session, account, device_id)
    record = session.get(RealNameAuthentication, authentication_id)
    now = ctx.clock()
    if (
        record is None
        or record.account_id != account.id
        or record.method != "bank_card"
        or record.outcome != "passed"
        or record.id_number_hash != account.real_name_id_hash
        or now - _utc(record.created_at) > ctx.bank_proof_max_age
        or session.execute(select(DeviceRebind.id).where(DeviceRebind.proof == f"real_name:{record.id}")).first()
    ):
        raise DomainError(
            ErrorCode.DEVICE_REBIND_PROOF_INVALID,
            "this needs a bank-card verification of this account completed with the bank's code minutes ago",
        )
    _decide(session, account, device, "bank_card")
    return _bind(session, ctx, account, device, "bank_card", f"real_name:{record.id}", f"account:{account.id}")


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def request_review(session: Session, account: Account, device_id: str | None, note: str | None) -> DeviceReview:
    """Ask a person to confirm it is the account holder on this device. One pending review per
    account and device: asking again answers the same one."""
    device = _check(session, account, device_id)
    pending = session.execute(
        select(DeviceReview).where(
            DeviceReview.account_id == account.id, DeviceReview.device_id == device, DeviceReview.status == "pending"
        )
    ).scalar_one_or_none()
    if pending is not None:
        return pending
    case = cases.open_case(
        session,
        account.id,
        None,
        None,
        [REVIEW_TYPOLOGY],
        note=f"the account holder asks to bind a new device ({device}) after the checks could not prove them",
    )
    review = DeviceReview(account_id=account.id, device_id=device, case_id=case.id, note=(note or "").strip() or None)
    session.add(review)
    session.flush()
    cases.add_note(session, case, "device-review", f"device review {review.id} opened")
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="device.review_requested",
        subject=f"account:{account.id}",
        purpose="security",
        details={"review_id": review.id, "case_id": case.id, "device_id": device},
    )
    return review


def get_review(session: Session, review_id: str) -> DeviceReview:
    review = session.get(DeviceReview, review_id)
    if review is None:
        raise DomainError(ErrorCode.DEVICE_REVIEW_NOT_FOUND, "no such device review")
    return review


def reviews(session: Session, status: str | None, scope: Scope | None = None) -> list[DeviceReview]:
    """The newest reviews; with a tenant operator's ``scope``, only about that tenant's accounts."""
    query = select(DeviceReview).order_by(DeviceReview.created_at.desc()).limit(200)
    if scope is not None:
        query = scope.by_account(query, DeviceReview.account_id)
    if status:
        query = query.where(DeviceReview.status == status)
    return list(session.execute(query).scalars())


def decide_review(
    session: Session, ctx: DeviceContext, review: DeviceReview, operator: str, approve: bool, reason: str
) -> DeviceReview:
    """An operator's decision, audited and noted in the case: approval binds the device (with the
    cool-down and the old device told, as any re-binding), denial keeps it unbound and tells it."""
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(ErrorCode.REASON_REQUIRED, "say why (5 characters or more)")
    if review.status != "pending":
        raise DomainError(ErrorCode.DEVICE_REVIEW_DECIDED, f"this review is already {review.status}")
    account = session.get(Account, review.account_id)
    assert account is not None  # a foreign key
    now = ctx.clock()
    review.status = "approved" if approve else "denied"
    review.decided_by, review.decided_at, review.reason = operator, now, reason
    audit.append(
        session,
        actor=operator,
        action=f"device.review_{review.status}",
        subject=f"account:{account.id}",
        purpose="security",
        details={"review_id": review.id, "device_id": review.device_id, "reason": reason},
    )
    case = cases.get(session, review.case_id)
    cases.add_note(session, case, operator, f"device review {review.id} {review.status}: {reason}")
    if approve:
        if not is_bound(session, account.id, review.device_id):
            _bind(session, ctx, account, review.device_id, "review", f"review:{review.id}", operator)
    else:
        notify(session, account.id, review.device_id, "device_review_denied", {"at": now.isoformat()})
    return review
