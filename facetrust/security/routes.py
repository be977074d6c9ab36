"""HTTP routes of the security domain, for operators: verify the audit chain from the console.

The check is the one `facetrust audit verify` runs (``audit.verify``), so the console and the
command line can never disagree about the chain.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import get_session
from facetrust.clock import utcnow
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
    """Walk the whole hash chain and say whether it is intact, or where it first breaks and why."""
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
