"""HTTP routes of the liveness domain (thin: validate, call the service, map the result).

A decided capture is answered 200 with its decision, passed or failed, and its per-check reasons.
Protocol failures have their own codes: an expired session 410 ``liveness_session_expired``, a used
one 409 ``liveness_session_used``, a wrong nonce 403 ``liveness_nonce_mismatch`` and frames seen in
an earlier session 409 ``liveness_frames_replayed`` (the last two also fail the session and count
towards the lockout).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import get_session, liveness_context
from facetrust.api.ratelimits import rate_limited
from facetrust.clock import utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal
from facetrust.liveness import service
from facetrust.liveness.models import LivenessSession
from facetrust.liveness.schemas import (
    FAILED_MESSAGE,
    INSTRUCTIONS,
    MESSAGES,
    CaptureIn,
    LivenessSessionCreate,
    LivenessSessionOperatorOut,
    LivenessSessionOut,
)
from facetrust.liveness.upload import read_capture
from facetrust.security import lockout

router = APIRouter(prefix="/v1", tags=["liveness"])


def _fields(row: LivenessSession, with_nonce: bool) -> dict:
    actions, reasons = json.loads(row.actions), json.loads(row.reasons) if row.reasons else []
    outcome = (
        None
        if row.status == "pending"
        else "passed"
        if row.status == "passed"
        else (reasons[0] if reasons else "liveness_failed")
    )
    return dict(
        session_id=row.id,
        purpose=row.purpose,
        actions=actions,
        instructions=[INSTRUCTIONS[a] for a in actions],
        status=row.status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        nonce=row.nonce if with_nonce else None,
        decided_at=row.decided_at,
        outcome=outcome,
        message=None if outcome is None else MESSAGES.get(outcome, FAILED_MESSAGE),
        reasons=reasons,
    )


def _missing(row: LivenessSession) -> list[str]:
    """Which requested actions were not seen: the names of actions, never a measure behind it."""
    checks = json.loads(row.checks) if row.checks else {}
    missing = (checks.get("actions") or {}).get("measures", {}).get("missing") or []
    return [a for a in missing if a in INSTRUCTIONS]


def _out(row: LivenessSession, with_nonce: bool = False, attempts_left: int | None = None) -> LivenessSessionOut:
    """The owner's view: the outcome (and which actions were not seen), never the scores, thresholds or
    measures behind it."""
    return LivenessSessionOut(
        **_fields(row, with_nonce),
        missing_actions=_missing(row) if row.status == "failed" else [],
        attempts_left=attempts_left,
    )


def _operator_out(row: LivenessSession) -> LivenessSessionOperatorOut:
    return LivenessSessionOperatorOut(
        **_fields(row, False),
        account_id=row.account_id,
        device_id=row.device_id,
        score=row.score,
        checks=json.loads(row.checks) if row.checks else None,
        versions=json.loads(row.versions) if row.versions else None,
    )


@router.post(
    "/me/liveness-sessions",
    status_code=201,
    response_model=LivenessSessionOut,
    dependencies=[rate_limited("face", who=auth.user)],
)
def create_liveness_session(
    body: LivenessSessionCreate,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: service.LivenessContext = Depends(liveness_context),
) -> LivenessSessionOut:
    """Issue a liveness challenge: 2-3 random actions to perform in order, a nonce to send back with
    the capture, and an expiry. The nonce is shown only here."""
    account = session.get(Account, p.account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "the account no longer exists")
    row = service.create_session(session, ctx, account, body.purpose, p.device_id)  # the vouched device
    session.commit()
    return _out(row, with_nonce=True)


@router.post(
    "/me/liveness-sessions/{session_id}/capture",
    response_model=LivenessSessionOut,
    dependencies=[rate_limited("face", who=auth.user)],
)
def submit_capture(
    session_id: str,
    body: CaptureIn,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: service.LivenessContext = Depends(liveness_context),
) -> LivenessSessionOut:
    """Answer a challenge with the captured frames (JPEG burst with timestamps, or a video) and the
    session's nonce. Answered once; the decision comes back with its per-check reasons."""
    row = service.get_own(session, p.account_id, session_id)

    row = service.submit(session, ctx, row, body.nonce, lambda: read_capture(body, ctx))
    try:
        session.commit()
    except IntegrityError:  # the same frames committed a moment ago by a racing session
        session.rollback()
        raise DomainError(
            ErrorCode.LIVENESS_FRAMES_REPLAYED, "these frames were already used in another liveness session"
        ) from None
    reasons = json.loads(row.reasons or "[]")
    if service.NONCE_MISMATCH in reasons:
        raise DomainError(
            ErrorCode.LIVENESS_NONCE_MISMATCH, "the nonce does not belong to this session; the session is now void"
        )
    if service.FRAMES_REPLAYED in reasons:
        raise DomainError(ErrorCode.LIVENESS_FRAMES_REPLAYED, "these frames were already used in a liveness session")
    left = None
    if row.status == "failed":  # say before a lockout how many tries are left (a count, nothing more)
        left = lockout.attempts_left(session, ctx.lockout, service.failing_account(row), row.device_id, utcnow())
    return _out(row, attempts_left=left)


@router.get("/me/liveness-sessions/{session_id}", response_model=LivenessSessionOut)
def get_liveness_session(
    session_id: str, p: Principal = Depends(auth.user), session: Session = Depends(get_session)
) -> LivenessSessionOut:
    """A session of the caller's, with its decision once made."""
    return _out(service.get_own(session, p.account_id, session_id))


@router.get(
    "/operator/liveness-sessions/{session_id}",
    response_model=LivenessSessionOperatorOut,
    dependencies=[rate_limited("operator", who=auth.principal)],
)
def operator_liveness_session(
    session_id: str,
    op: Principal = Depends(auth.operator("risk_analyst", "compliance_officer", "admin")),
    session: Session = Depends(get_session),
) -> LivenessSessionOperatorOut:
    """A liveness decision with what it was made of (score, each check's measures and thresholds,
    model versions), to explain it; the person checked sees only its outcome."""
    row = session.get(LivenessSession, session_id)
    if row is None:
        raise DomainError(ErrorCode.LIVENESS_SESSION_NOT_FOUND, "no such liveness session")
    # A tenant operator's: only sessions of their tenant's accounts (one with no account: platform only).
    Scope.of(op).account_id(session, row.account_id, ErrorCode.LIVENESS_SESSION_NOT_FOUND, "no such liveness session")
    return _operator_out(row)
