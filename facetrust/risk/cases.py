"""Cases: what an operator must look at. A review or freeze decision opens one; operators assign,
note and close them with an outcome, and export one as a self-contained report (the events, the
decisions with their feature values and rule set versions, the rule sets themselves, the notes)
that can be filed with the authorities."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.risk.models import RiskCase, RiskCaseNote, RiskDecision, RiskEvent, RiskRuleSet
from facetrust.security import audit

if TYPE_CHECKING:
    from facetrust.identity.scope import Scope

OPEN, ASSIGNED, CLOSED = "open", "assigned", "closed"
OUTCOMES = ("fraud_confirmed", "false_positive", "inconclusive")
REPORT_DAYS = 90  # the history a report carries before the case opened


def open_case(
    session: Session,
    account_id: str | None,
    merchant_id: str | None,
    decision_id: str | None,
    typologies: list[str],
    note: str | None = None,
) -> RiskCase:
    """One open case per account: a new decision about an account with an open case joins it."""
    case = None
    if account_id is not None:
        case = session.execute(
            select(RiskCase)
            .where(RiskCase.account_id == account_id, RiskCase.status != CLOSED)
            .order_by(RiskCase.opened_at)
            .limit(1)
        ).scalar_one_or_none()
    if case is None:
        case = RiskCase(
            account_id=account_id,
            merchant_id=merchant_id,
            decision_id=decision_id,
            typologies=json.dumps(typologies),
            status=OPEN,
        )
        session.add(case)
        session.flush()
    else:
        case.typologies = json.dumps(sorted(set(json.loads(case.typologies)) | set(typologies)))
    if note or decision_id:
        add_note(session, case, "risk-engine", note or f"decision {decision_id}: {', '.join(typologies)}")
    return case


def get(session: Session, case_id: str) -> RiskCase:
    case = session.get(RiskCase, case_id)
    if case is None:
        raise DomainError(ErrorCode.CASE_NOT_FOUND, "no such case")
    return case


def listing(session: Session, status: str | None, scope: Scope | None = None) -> list[RiskCase]:
    """The newest cases, only those about the ``scope``'s accounts and merchants (all without one)."""
    query = select(RiskCase).order_by(RiskCase.opened_at.desc()).limit(200)
    if scope is not None:
        query = scope.by_account_or_merchant(query, RiskCase.account_id, RiskCase.merchant_id)
    if status:
        query = query.where(RiskCase.status == status)
    return list(session.execute(query).scalars())


def add_note(session: Session, case: RiskCase, author: str, text: str) -> RiskCaseNote:
    note = RiskCaseNote(case_id=case.id, author=author, text=text)
    session.add(note)
    session.flush()
    return note


def notes(session: Session, case_id: str) -> list[RiskCaseNote]:
    return list(
        session.execute(select(RiskCaseNote).where(RiskCaseNote.case_id == case_id).order_by(RiskCaseNote.id)).scalars()
    )


def assign(session: Session, case: RiskCase, operator: str, assignee: str) -> RiskCase:
    if case.status == CLOSED:
        raise DomainError(ErrorCode.CASE_CLOSED, "this case is closed")
    case.status, case.assignee = ASSIGNED, assignee
    add_note(session, case, operator, f"assigned to {assignee}")
    audit.append(
        session,
        actor=operator,
        action="risk.case.assign",
        subject=f"case:{case.id}",
        purpose="risk",
        details={"assignee": assignee},
    )
    return case


def close(session: Session, case: RiskCase, operator: str, outcome: str, note: str) -> RiskCase:
    if case.status == CLOSED:
        raise DomainError(ErrorCode.CASE_CLOSED, "this case is already closed")
    if outcome not in OUTCOMES:
        raise DomainError(ErrorCode.CASE_OUTCOME_UNKNOWN, f"an outcome is one of: {', '.join(OUTCOMES)}")
    case.status, case.outcome, case.closed_at = CLOSED, outcome, utcnow()
    add_note(session, case, operator, f"closed as {outcome}: {note}")
    audit.append(
        session,
        actor=operator,
        action="risk.case.close",
        subject=f"case:{case.id}",
        purpose="risk",
        details={"outcome": outcome},
    )
    return case


def _event_dict(e: RiskEvent) -> dict:
    return {
        "seq": e.seq,
        "kind": e.kind,
        "at": e.at.isoformat(),
        "account_id": e.account_id,
        "device_id": e.device_id,
        "ip": e.ip,
        "merchant_id": e.merchant_id,
        "address_hash": e.address_hash,
        "face_key": e.face_key,
        "amount_fen": e.amount_fen,
        "outcome": e.outcome,
        "category": e.category,
        "periods": e.periods,
        "ref": e.ref,
        "data": json.loads(e.data),
    }


def report(session: Session, case: RiskCase, operator: str) -> dict:
    """The case as one self-contained document, with a sha256 over its content."""
    since = case.opened_at - dt.timedelta(days=REPORT_DAYS)
    who = [RiskEvent.account_id == case.account_id] if case.account_id else []
    who += [RiskEvent.merchant_id == case.merchant_id] if case.merchant_id else []
    history = (
        list(
            session.execute(select(RiskEvent).where(or_(*who), RiskEvent.at >= since).order_by(RiskEvent.seq)).scalars()
        )
        if who
        else []
    )
    decided = list(
        session.execute(
            select(RiskDecision).where(RiskDecision.event_seq.in_([e.seq for e in history])).order_by(RiskDecision.at)
        ).scalars()
    )
    versions = sorted({d.rule_set_version for d in decided})
    rule_sets = {v: json.loads(session.get(RiskRuleSet, v).content) for v in versions}  # type: ignore[union-attr]
    body = {
        "case": {
            "id": case.id,
            "account_id": case.account_id,
            "merchant_id": case.merchant_id,
            "status": case.status,
            "assignee": case.assignee,
            "outcome": case.outcome,
            "typologies": json.loads(case.typologies),
            "opened_at": case.opened_at.isoformat(),
            "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        },
        "events": [_event_dict(e) for e in history],
        "decisions": [
            {
                "id": d.id,
                "event_seq": d.event_seq,
                "decision": d.decision,
                "score": d.score,
                "rules": json.loads(d.rules),
                "typologies": json.loads(d.typologies),
                "reasons": json.loads(d.reasons),
                "features": json.loads(d.features),
                "rule_set_version": d.rule_set_version,
                "at": d.at.isoformat(),
            }
            for d in decided
        ],
        "rule_sets": rule_sets,
        "notes": [{"author": n.author, "text": n.text, "at": n.at.isoformat()} for n in notes(session, case.id)],
        "exported_by": operator,
        "exported_at": utcnow().isoformat(),
    }
    body["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    audit.append(
        session,
        actor=operator,
        action="risk.case.export",
        subject=f"case:{case.id}",
        purpose="risk",
        details={"sha256": body["sha256"], "events": len(history)},
    )
    return body
