"""HTTP routes of the devices domain (thin: validate, call the service, map the result)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import device_context, get_session, keeping_refusal_records, liveness_context
from facetrust.api.ratelimits import rate_limited
from facetrust.clock import as_utc
from facetrust.devices import rebind, service
from facetrust.devices.models import DeviceReview
from facetrust.devices.schemas import (
    DeviceStatusOut,
    NotificationOut,
    OperatorReviewOut,
    RebindIn,
    RebindOut,
    ReviewDecisionIn,
    ReviewIn,
    ReviewOut,
)
from facetrust.devices.service import DeviceContext
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal
from facetrust.liveness.service import LivenessContext
from facetrust.security import audit, template_store

router = APIRouter(prefix="/v1", tags=["devices"])
REVIEWERS = ("risk_analyst", "admin")
READERS = ("risk_analyst", "compliance_officer", "admin")


def _account(session: Session, p: Principal) -> Account:
    account = session.get(Account, p.account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "the account no longer exists")
    return account


def _review_out(r: DeviceReview) -> ReviewOut:
    return ReviewOut(review_id=r.id, status=r.status, created_at=r.created_at, decided_at=r.decided_at)  # type: ignore[arg-type]


def _operator_review_out(r: DeviceReview) -> OperatorReviewOut:
    return OperatorReviewOut(
        **_review_out(r).model_dump(),
        account_id=r.account_id,
        device_id=r.device_id,
        case_id=r.case_id,
        # typed by a person: an ID, card or mobile number in it is masked, as the audit log's are
        note=audit.mask_text(r.note) if r.note else r.note,
        decided_by=r.decided_by,
        reason=audit.mask_text(r.reason) if r.reason else r.reason,
    )


@router.get("/me/device", response_model=DeviceStatusOut)
def my_device(
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: DeviceContext = Depends(device_context),
) -> DeviceStatusOut:
    """Whether money may leave from the device this token was minted for, and, if not, how the
    person can prove it is them (the user app shows "this is a new device — verify it's you")."""
    account = _account(session, p)
    bound = service.is_bound(session, account.id, p.device_id)
    row = service.binding(session, account.id)
    until = row.cooldown_until if bound and row is not None and row.cooldown_until else None
    if until is not None and as_utc(until) <= ctx.clock():
        until = None
    methods = (["face"] if template_store.held(session, account.id, "kyc") else []) + (
        ["bank_card"] if account.real_name_id_hash else []
    )
    latest = (
        session.execute(
            select(DeviceReview)
            .where(DeviceReview.account_id == account.id, DeviceReview.device_id == p.device_id)
            .order_by(DeviceReview.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if p.device_id
        else None
    )
    return DeviceStatusOut(
        device_known=p.device_id is not None,
        bound=bound,
        cooldown_until=until,
        can_move_money=bound and until is None,
        rebind_methods=[*methods, "review"],
        review=_review_out(latest) if latest is not None else None,
    )


@router.post(
    "/me/device/rebind",
    status_code=201,
    response_model=RebindOut,
    dependencies=[rate_limited("face", who=auth.user)],
)
def rebind_device(
    body: RebindIn,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: DeviceContext = Depends(device_context),
    live: LivenessContext = Depends(liveness_context),
) -> RebindOut:
    """Bind this device to the account: by a live face (a passed `device_rebind` liveness session
    made on this device, compared with the real-name face) or by a bank-card real-name
    authentication completed minutes ago with the bank's code. The risk engine decides; a face
    mismatch is 403 `face_mismatch` and counts towards the lockout. Money waits the cool-down."""
    account = _account(session, p)
    with keeping_refusal_records(session):
        if body.method == "face":
            done = rebind.by_face(session, ctx, live, account, p.device_id, body.liveness_session_id)
        else:
            if not body.authentication_id:
                raise DomainError(ErrorCode.DEVICE_REBIND_PROOF_INVALID, "bank_card needs an authentication_id")
            done = rebind.by_bank_card(session, ctx, account, p.device_id, body.authentication_id)
    session.commit()
    return RebindOut(rebind_id=done.id, method=done.method, bound_at=done.at, cooldown_until=done.cooldown_until)


@router.post(
    "/me/device/rebind/review",
    status_code=201,
    response_model=ReviewOut,
    dependencies=[rate_limited("face", who=auth.user)],
)
def request_device_review(
    body: ReviewIn, p: Principal = Depends(auth.user), session: Session = Depends(get_session)
) -> ReviewOut:
    """When the face check fails (or is locked out): ask a person at risk control to confirm it is
    you. Opens a case; the answer comes as the device's status and a notification."""
    review = rebind.request_review(session, _account(session, p), p.device_id, body.note)
    session.commit()
    return _review_out(review)


@router.get("/me/notifications", response_model=list[NotificationOut])
def my_notifications(
    p: Principal = Depends(auth.user), session: Session = Depends(get_session)
) -> list[NotificationOut]:
    """Messages for this device (for example: another device was bound to the account), newest
    first. There is no push channel: the app shows them when it asks."""
    return [
        NotificationOut(notification_id=n.id, kind=n.kind, data=json.loads(n.data), created_at=n.created_at)
        for n in service.notifications(session, _account(session, p).id, p.device_id)
    ]


@router.get(
    "/operator/device-reviews",
    response_model=list[OperatorReviewOut],
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_device_reviews(
    status: str | None = Query(None, pattern="^(pending|approved|denied)$"),
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
) -> list[OperatorReviewOut]:
    """Requests to bind a new device that the checks could not prove, newest first (each with its case)."""
    return [_operator_review_out(r) for r in rebind.reviews(session, status, Scope.of(op))]


@router.post(
    "/operator/device-reviews/{review_id}/decision",
    response_model=OperatorReviewOut,
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def decide_device_review(
    review_id: str,
    body: ReviewDecisionIn,
    op: Principal = Depends(auth.operator(*REVIEWERS)),
    session: Session = Depends(get_session),
    ctx: DeviceContext = Depends(device_context),
) -> OperatorReviewOut:
    """Approve (the device is bound, with the cool-down, the old device told) or deny (it stays
    unbound), with a reason; audited and noted in the case."""
    found = rebind.get_review(session, review_id)
    Scope.of(op).account_id(session, found.account_id, ErrorCode.DEVICE_REVIEW_NOT_FOUND, "no such device review")
    review = rebind.decide_review(session, ctx, found, op.audit_name, body.decision == "approve", body.reason)
    session.commit()
    return _operator_review_out(review)
