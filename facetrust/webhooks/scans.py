"""Events found rather than made: an installment that became overdue.

Nothing is written when a due date passes (overdue is computed when a plan is read), so a scan
looks for unpaid installments past their due date and enqueues ``plan.overdue`` once per
installment: the event's ``dedupe_key`` is unique per tenant, so however many scans (and processes)
see the same installment, one event is kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.credit.models import CreditInstallment, CreditPlan
from facetrust.webhooks import outbox
from facetrust.webhooks.models import WebhookEvent

BATCH = 500


def overdue(session: Session, today: dt.date) -> int:
    """Enqueue ``plan.overdue`` for each unpaid installment due before ``today`` not yet reported."""
    rows = session.execute(
        select(CreditInstallment, CreditPlan)
        .join(CreditPlan, CreditPlan.id == CreditInstallment.plan_id)
        .where(
            CreditInstallment.status == "unpaid",
            CreditInstallment.due_date < today,
            CreditPlan.status == "active",
        )
        .order_by(CreditInstallment.due_date)
        .limit(BATCH)
    ).all()
    found = 0
    for installment, plan in rows:
        key = f"overdue:{plan.id}:{installment.number}"
        seen = session.execute(
            select(WebhookEvent.id).where(WebhookEvent.tenant_id == plan.tenant_id, WebhookEvent.dedupe_key == key)
        ).first()
        if seen:
            continue
        try:
            with session.begin_nested():
                outbox.enqueue(
                    session,
                    plan.tenant_id,
                    outbox.PLAN_OVERDUE,
                    {
                        "plan_id": plan.id,
                        "account_id": plan.account_id,
                        "plan_kind": plan.kind,
                        "installment_number": installment.number,
                        "due_date": installment.due_date.isoformat(),
                        "days_overdue": (today - installment.due_date).days,
                        "amount_fen": installment.principal_fen + installment.interest_fen + installment.fee_fen,
                    },
                    dedupe_key=key,
                )
                session.flush()
        except IntegrityError:  # another process reported it a moment ago
            continue
        found += 1
    return found


def overdue_scan(today: Callable[[], dt.date]) -> Callable[[Session], int]:
    """The scan as the dispatcher runs it, on the credit clock's day."""
    return lambda session: overdue(session, today())
