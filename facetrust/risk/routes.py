"""HTTP routes of risk control, for operators: freeze and unfreeze accounts, work cases, export a
case report, replay a decision.

A risk analyst (or an admin) freezes; unfreezing needs a second pair of eyes, a compliance officer
or an admin other than the operator who froze, and a reason. Both are audited.
"""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import get_session
from facetrust.clock import utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal
from facetrust.risk import cases, dashboard, engine, evidence
from facetrust.risk.models import RiskCase, RiskDecision, RiskEvent
from facetrust.risk.schemas import (
    CaseEventOut,
    CountAmountOut,
    DashboardOut,
    DecisionDetailOut,
    HourOut,
    LivenessFiguresOut,
    RiskEventOut,
    RuleHitOut,
    TypologyHitOut,
)

router = APIRouter(prefix="/v1", tags=["risk"])
READERS = ("risk_analyst", "compliance_officer", "admin")
WORKERS = ("risk_analyst", "admin")
UNFREEZERS = ("compliance_officer", "admin")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=256)


class AccountStatusOut(BaseModel):
    account_id: str
    status: str


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(default=None, max_length=160, description="default: the caller")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description=f"one of {', '.join(cases.OUTCOMES)}")
    note: str = Field(min_length=3, max_length=4000)


class CaseNoteOut(BaseModel):
    author: str
    text: str
    at: dt.datetime


class CaseOut(BaseModel):
    case_id: str
    account_id: str | None
    merchant_id: str | None
    decision_id: str | None
    typologies: list[str]
    status: str
    assignee: str | None
    outcome: str | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    notes: list[CaseNoteOut]


class DecisionOut(BaseModel):
    decision_id: str
    event_kind: str
    decision: str
    score: float
    typologies: list[str]
    reasons: list[str]
    rule_set_version: str
    at: dt.datetime


def _account(session: Session, op: Principal, account_id: str) -> Account:
    """The account, if the operator's scope covers it (another tenant's is ``account_not_found``)."""
    return Scope.of(op).account(session, account_id)


def _case(session: Session, op: Principal, case_id: str) -> RiskCase:
    """The case, if it is about an account or merchant in the operator's scope (404 otherwise)."""
    case = cases.get(session, case_id)
    Scope.of(op).account_or_merchant(
        session, case.account_id, case.merchant_id, ErrorCode.CASE_NOT_FOUND, "no such case"
    )
    return case


def _check_decision(session: Session, op: Principal, decision_id: str) -> None:
    """404 ``decision_not_found`` unless the decision is about an account or merchant in scope."""
    decision = session.get(RiskDecision, decision_id)
    if decision is None:
        raise DomainError(ErrorCode.DECISION_NOT_FOUND, "no such risk decision")
    event = session.get(RiskEvent, decision.event_seq)
    Scope.of(op).account_or_merchant(
        session,
        decision.account_id,
        event.merchant_id if event else None,
        ErrorCode.DECISION_NOT_FOUND,
        "no such risk decision",
    )


def _case_out(session: Session, case: RiskCase) -> CaseOut:
    return CaseOut(
        case_id=case.id,
        account_id=case.account_id,
        merchant_id=case.merchant_id,
        decision_id=case.decision_id,
        typologies=json.loads(case.typologies),
        status=case.status,
        assignee=case.assignee,
        outcome=case.outcome,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        notes=[CaseNoteOut(author=n.author, text=n.text, at=n.at) for n in cases.notes(session, case.id)],
    )


@router.post("/operator/accounts/{account_id}/freeze", response_model=AccountStatusOut)
def freeze(
    account_id: str,
    body: ReasonIn,
    op: Principal = Depends(auth.operator(*WORKERS)),
    session: Session = Depends(get_session),
) -> AccountStatusOut:
    """Freeze an account: it moves no money and changes no consent until it is unfrozen."""
    account = engine.freeze(session, _account(session, op, account_id), op.audit_name, body.reason)
    session.commit()
    return AccountStatusOut(account_id=account.id, status=account.status)


@router.post("/operator/accounts/{account_id}/unfreeze", response_model=AccountStatusOut)
def unfreeze(
    account_id: str,
    body: ReasonIn,
    op: Principal = Depends(auth.operator(*UNFREEZERS)),
    session: Session = Depends(get_session),
) -> AccountStatusOut:
    account = engine.unfreeze(session, _account(session, op, account_id), op.audit_name, body.reason)
    session.commit()
    return AccountStatusOut(account_id=account.id, status=account.status)


@router.get("/operator/accounts/{account_id}/risk-decisions", response_model=list[DecisionOut])
def account_decisions(
    account_id: str, op: Principal = Depends(auth.operator(*READERS)), session: Session = Depends(get_session)
) -> list[DecisionOut]:
    """Every decision the engine made about the account, oldest first."""
    return [
        DecisionOut(
            decision_id=d.id,
            event_kind=kind,
            decision=d.decision,
            score=d.score,
            typologies=json.loads(d.typologies),
            reasons=json.loads(d.reasons),
            rule_set_version=d.rule_set_version,
            at=d.at,
        )
        for d, kind in engine.decisions_of(session, _account(session, op, account_id).id)
    ]


@router.get("/operator/risk/cases", response_model=list[CaseOut])
def list_cases(
    status: str | None = Query(default=None, pattern="^(open|assigned|closed)$"),
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
) -> list[CaseOut]:
    return [_case_out(session, c) for c in cases.listing(session, status, Scope.of(op))]


@router.get("/operator/risk/cases/{case_id}", response_model=CaseOut)
def get_case(
    case_id: str, op: Principal = Depends(auth.operator(*READERS)), session: Session = Depends(get_session)
) -> CaseOut:
    return _case_out(session, _case(session, op, case_id))


@router.post("/operator/risk/cases/{case_id}/assign", response_model=CaseOut)
def assign_case(
    case_id: str,
    body: AssignIn,
    op: Principal = Depends(auth.operator(*WORKERS)),
    session: Session = Depends(get_session),
) -> CaseOut:
    case = cases.assign(session, _case(session, op, case_id), op.audit_name, body.assignee or op.audit_name)
    session.commit()
    return _case_out(session, case)


@router.post("/operator/risk/cases/{case_id}/notes", response_model=CaseOut)
def note_case(
    case_id: str,
    body: NoteIn,
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
) -> CaseOut:
    case = _case(session, op, case_id)
    cases.add_note(session, case, op.audit_name, body.text)
    session.commit()
    return _case_out(session, case)


@router.post("/operator/risk/cases/{case_id}/close", response_model=CaseOut)
def close_case(
    case_id: str,
    body: CloseIn,
    op: Principal = Depends(auth.operator(*WORKERS)),
    session: Session = Depends(get_session),
) -> CaseOut:
    case = cases.close(session, _case(session, op, case_id), op.audit_name, body.outcome, body.note)
    session.commit()
    return _case_out(session, case)


@router.get("/operator/risk/cases/{case_id}/report")
def case_report(
    case_id: str, op: Principal = Depends(auth.operator(*READERS)), session: Session = Depends(get_session)
) -> dict:
    """The case as a self-contained report (events, feature values, decisions, the rule sets they
    used, notes) with a sha256 over its content, for filing with the authorities. Audited."""
    body = cases.report(session, _case(session, op, case_id), op.audit_name)
    session.commit()
    return body


@router.get("/operator/risk/decisions/{decision_id}/replay")
def replay_decision(
    decision_id: str, op: Principal = Depends(auth.operator(*READERS)), session: Session = Depends(get_session)
) -> dict:
    """Re-run a stored decision under its stored rule set, and recompute its features from the
    stored events: says whether it reproduces."""
    _check_decision(session, op, decision_id)
    return engine.replay(session, decision_id).as_dict()


# --- the operator console: the dashboard, a case's events, a decision explained ----------------


def _liveness_out(p: dashboard.PurposeLiveness) -> LivenessFiguresOut:
    return LivenessFiguresOut(purpose=p.purpose, passed=p.passed, failed=p.failed, failure_rate=p.failure_rate)


@router.get("/operator/dashboard", response_model=DashboardOut)
def operator_dashboard(
    request: Request,
    day: dt.date | None = Query(default=None, description="a business day; default today"),
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
) -> DashboardOut:
    """The business day's figures (payments, credit, real-name, risk decisions, liveness, open
    cases, frozen accounts) and its hourly series. The day is a calendar day at the face-pay
    daily-limit offset (FACETRUST_FACE_PAY_DAY_UTC_OFFSET_HOURS, +8)."""
    offset = request.app.state.settings.face_pay_day_utc_offset_hours
    now = utcnow()
    day = day or dashboard.business_day(now, offset)
    try:
        dashboard.day_bounds(day, offset)
    except OverflowError:  # 0001-01-01 or 9999-12-31: its UTC bounds fall outside the calendar
        raise DomainError(ErrorCode.DAY_OUT_OF_RANGE, "the day's bounds fall outside the calendar") from None
    d = dashboard.figures(session, day, offset, Scope.of(op))
    return DashboardOut(
        day=d.day,
        utc_offset_hours=d.utc_offset_hours,
        start=d.start,
        end=d.end,
        payments={k: CountAmountOut(count=v.count, amount_fen=v.amount_fen) for k, v in d.payments.items()},
        credit={k: CountAmountOut(count=v.count, amount_fen=v.amount_fen) for k, v in d.credit.items()},
        real_name=d.real_name,
        decisions=d.decisions,
        liveness=_liveness_out(d.liveness),
        liveness_by_purpose=[_liveness_out(p) for p in d.liveness_by_purpose],
        open_cases=d.open_cases,
        frozen_accounts=d.frozen_accounts,
        hours=[
            HourOut(
                hour=h.hour,
                payments_paid=h.payments_paid,
                payments_declined=h.payments_declined,
                decisions=h.decisions,
                liveness_total=h.liveness_total,
                liveness_failed=h.liveness_failed,
            )
            for h in d.hours
        ],
        generated_at=now,
    )


def _event_fields(e: RiskEvent) -> dict:
    return dict(
        seq=e.seq,
        kind=e.kind,
        at=e.at,
        account_id=e.account_id,
        device_id=e.device_id,
        ip=e.ip,
        merchant_id=e.merchant_id,
        amount_fen=e.amount_fen,
        outcome=e.outcome,
        category=e.category,
        periods=e.periods,
        ref=e.ref,
        data=json.loads(e.data),
    )


@router.get("/operator/risk/cases/{case_id}/events", response_model=list[CaseEventOut])
def case_events(
    case_id: str,
    limit: int = Query(default=50, ge=1, le=200),
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
) -> list[CaseEventOut]:
    """The latest events of the case's account (or merchant), newest first, each with the decision
    made on it; ``trigger`` marks the event whose decision opened the case."""
    return [
        CaseEventOut(**_event_fields(c.event), decision_id=c.decision_id, decision=c.decision, trigger=c.trigger)
        for c in evidence.case_events(session, _case(session, op, case_id), limit)
    ]


@router.get("/operator/risk/decisions/{decision_id}", response_model=DecisionDetailOut)
def decision_detail(
    decision_id: str, op: Principal = Depends(auth.operator(*READERS)), session: Session = Depends(get_session)
) -> DecisionDetailOut:
    """A stored decision explained: its event, every feature value, each fired rule with its
    description and the values it read, each fired typology with its action."""
    _check_decision(session, op, decision_id)
    d = evidence.decision_detail(session, decision_id)
    return DecisionDetailOut(
        decision_id=d.decision.id,
        decision=d.decision.decision,
        score=d.decision.score,
        reasons=json.loads(d.decision.reasons),
        rule_set_version=d.decision.rule_set_version,
        at=d.decision.at,
        event=RiskEventOut(**_event_fields(d.event)),
        rules=[
            RuleHitOut(
                id=r.id,
                description=r.description,
                description_zh=r.description_zh,
                score=r.score,
                reasons=r.reasons,
                features=r.features,
            )
            for r in d.rules
        ],
        typologies=[
            TypologyHitOut(
                id=t.id,
                description=t.description,
                description_zh=t.description_zh,
                action=t.action,
                min_score=t.min_score,
            )
            for t in d.typologies
        ],
        features=d.features,
    )
