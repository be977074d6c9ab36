"""HTTP routes of the security domain, for operators: verify the audit chain from the console, and
browse the log (filters, keyset pages; details masked by ``audit.masked``).

The check is the one `facetrust audit verify` runs (``audit.verify``), so the console and the
command line can never disagree about the chain.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import get_session
from facetrust.clock import utcnow
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal
from facetrust.security import audit
from facetrust.security.models import AuditRecord

router = APIRouter(prefix="/v1", tags=["security"])
VERIFIERS = ("compliance_officer", "admin")


class AuditVerifyOut(BaseModel):
    ok: bool
    records_checked: int = Field(description="records walked, up to and including the first broken one")
    records_total: int
    at_seq: int | None = Field(description="the first broken position (sequence number)")
    problem: str | None = Field(description="why it is broken, in words")
    problem_code: str | None = Field(description="missing, altered or out_of_order")
    checked_at: dt.datetime


def problem_code(report: audit.ChainReport) -> str | None:
    """A stable code for the kind of break, for clients that word it in their own language
    (``audit.verify`` says it in English)."""
    if report.ok or report.problem is None:
        return None
    for word, code in (("missing", "missing"), ("altered", "altered"), ("does not follow", "out_of_order")):
        if word in report.problem:
            return code
    return "unknown"


@router.get("/operator/audit/verify", response_model=AuditVerifyOut)
def verify_audit_chain(
    op: Principal = Depends(auth.operator(*VERIFIERS)), session: Session = Depends(get_session)
) -> AuditVerifyOut:
    """Walk the whole hash chain and say whether it is intact, or where it first breaks and why.
    The chain is one for all tenants (its size alone tells every tenant's activity), so this is for
    platform operators only: 403 ``platform_operator_required`` for a tenant's."""
    Scope.of(op).require_platform()
    report = audit.verify(session)
    total = session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
    return AuditVerifyOut(
        ok=report.ok,
        records_checked=report.records,
        records_total=total,
        at_seq=report.at_seq,
        problem=report.problem,
        problem_code=problem_code(report),
        checked_at=utcnow(),
    )


class AuditRecordOut(BaseModel):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    purpose: str | None
    details: dict[str, Any] = Field(description="the record's details; ID, card and mobile numbers masked")


class AuditPageOut(BaseModel):
    records: list[AuditRecordOut] = Field(description="newest first, ordered by time then sequence number")
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page; null on the last page")


@router.get("/operator/audit", response_model=AuditPageOut)
def browse_audit_log(
    kind: str | None = Query(default=None, max_length=64, description="an action, or its prefix: risk.case"),
    actor: str | None = Query(default=None, max_length=128, description="exact: operator:alice, cli, system"),
    subject: str | None = Query(default=None, max_length=128, description="exact (account:<id>) or the id alone"),
    since: dt.datetime | None = Query(default=None, description="from this time, inclusive"),
    until: dt.datetime | None = Query(default=None, description="up to this time, exclusive"),
    cursor: str | None = Query(default=None, max_length=200, description="next_cursor of the page before"),
    limit: int = Query(default=50, ge=1, le=audit.BROWSE_LIMIT_MAX),
    op: Principal = Depends(auth.operator(*VERIFIERS)),
    session: Session = Depends(get_session),
) -> AuditPageOut:
    """One page of the audit log, newest first, filtered by kind of action, actor, subject and time.
    Pages are keyset pages (stable under appends). The log holds no face data; the details an
    operator typed are masked all the same (ID, card and mobile numbers). A tenant operator sees only
    records about their tenant's subjects (``Scope.audit_clause``)."""
    where = audit.AuditFilter(kind=kind or None, actor=actor or None, subject=subject or None, since=since, until=until)
    page = audit.browse(session, where, cursor or None, limit, Scope.of(op).audit_clause(AuditRecord.subject))
    return AuditPageOut(
        records=[
            AuditRecordOut(
                seq=r.seq,
                at=r.at,
                actor=audit.mask_text(r.actor),
                action=r.action,
                subject=audit.mask_text(r.subject),
                purpose=r.purpose,
                details=audit.masked(json.loads(r.details)),
            )
            for r in page.records
        ],
        next_cursor=page.next_cursor,
    )
