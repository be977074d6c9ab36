"""Opening a plan (an installment purchase or a loan) and reading where it stands.

``open_plan`` is the only code that disburses credit. In one transaction it re-checks the face
confirmation, draws the principal from the credit line, writes the plan and its installments, and
posts the disbursement to the ledger (merchant settlement for a purchase, the wallet for a loan).

Installment ``k`` is due ``k`` months after the start date (the 31st becomes the month's last day).
An unpaid installment past its due date is overdue and accrues penalty interest per day on its
principal, at the plan's penalty rate; the penalty is computed for the day asked, not stored until
it is paid, so the figure a user sees is the figure a repayment that day charges.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.credit import face, lines, schedule
from facetrust.credit.face import FaceConfirmation
from facetrust.credit.models import CreditInstallment, CreditPlan
from facetrust.credit.products import Product
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.payments import ledger
from facetrust.payments.models import LedgerAccount
from facetrust.risk import engine as risk
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit
from facetrust.webhooks import outbox

UNPAID, PAID, SETTLED_EARLY, CANCELLED = "unpaid", "paid", "settled_early", "cancelled"  # cancelled: by a return
ACTIVE, PAID_OFF, RETURNED = "active", "paid_off", "returned"  # returned: the goods all went back


def add_months(start: dt.date, months: int) -> dt.date:
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def check_terms(product: Product, principal_fen: int, periods: int) -> None:
    if periods not in product.periods:
        raise DomainError(ErrorCode.TERM_NOT_OFFERED, f"{product.id} is offered over {list(product.periods)} periods")
    if not product.min_principal_fen <= principal_fen <= product.max_principal_fen:
        raise DomainError(
            ErrorCode.AMOUNT_OUT_OF_RANGE,
            f"{product.id} is for {schedule.yuan(product.min_principal_fen)} "
            f"to {schedule.yuan(product.max_principal_fen)} yuan",
        )


def risk_check(
    session: Session,
    account: Account,
    kind: str,
    plan_id: str,
    principal_fen: int,
    periods: int,
    device_id: str | None,
    ip: str | None,
    merchant_id: str | None = None,
    category: str | None = None,
    address_hash: str | None = None,
) -> risk.Verdict:
    """The risk engine's decision on this draw, made after the face check (which is the step-up a
    ``step_up`` decision asks for) and before any money moves; a refusal keeps its records."""
    line = lines.line_of(session, account.id)
    verdict = risk.decide(
        session,
        EventIn(
            kind,
            account_id=account.id,
            device_id=device_id,
            ip=ip,
            merchant_id=merchant_id,
            address_hash=address_hash,
            face_key=events.face_key_of(session, account.id),
            amount_fen=principal_fen,
            category=category,
            periods=periods,
            ref=plan_id,
            data={"limit_fen": line.limit_fen if line else None, "used_fen": line.used_fen if line else None},
        ),
    )
    if verdict.refused:
        raise verdict.refusal()
    return verdict


def open_plan(
    session: Session,
    account: Account,
    product: Product,
    principal_fen: int,
    periods: int,
    confirmation: FaceConfirmation,
    start_date: dt.date,
    idempotency_key: str,
    disburse_to: list[tuple[LedgerAccount, int]],
    merchant_id: str | None = None,
    checkout_id: str | None = None,
) -> CreditPlan:
    """Write a confirmed plan and move its money, or nothing. ``disburse_to`` are the legs that
    receive the principal (they sum to it); the borrower's credit account gives it."""
    face.verify_spent(session, confirmation)
    if confirmation.account_id != account.id or confirmation.purpose != product.kind:
        raise DomainError(ErrorCode.LIVENESS_REQUIRED, "this needs a live face check of the account holder")
    risk.check_can_move_money(account)
    check_terms(product, principal_fen, periods)
    plan_schedule = schedule.build(principal_fen, periods, product.pricing)
    lines.draw(session, account.id, principal_fen)
    plan = CreditPlan(
        id=confirmation.plan_id,
        account_id=account.id,
        tenant_id=account.tenant_id,
        kind=product.kind,
        product_id=product.id,
        terms=json.dumps(product.terms()),
        principal_fen=principal_fen,
        periods=periods,
        apr=str(plan_schedule.apr),
        start_date=start_date,
        outstanding_principal_fen=principal_fen,
        status=ACTIVE,
        version=0,
        checkout_id=checkout_id,
        merchant_id=merchant_id,
        idempotency_key=idempotency_key,
        liveness_session_id=confirmation.liveness_session_id,
        face_score=confirmation.score,
        face_threshold=confirmation.threshold,
        face_model_id=confirmation.model_id,
        face_calibration_id=confirmation.calibration_id,
        transaction_id="",
    )
    try:
        with session.begin_nested():
            session.add(plan)
            session.flush()
    except IntegrityError:  # the same drawdown, committed a moment ago by a racing retry
        raise DomainError(
            ErrorCode.CREDIT_IN_PROGRESS, "this drawdown or checkout is being made; retry to read it"
        ) from None
    session.add_all(
        CreditInstallment(
            plan_id=plan.id,
            number=i.number,
            due_date=add_months(start_date, i.number),
            principal_fen=i.principal_fen,
            interest_fen=i.interest_fen,
            fee_fen=i.fee_fen,
            penalty_paid_fen=0,
            status=UNPAID,
        )
        for i in plan_schedule.installments
    )
    legs = [(ledger.account(session, ledger.CREDIT, account.id), -principal_fen), *disburse_to]
    plan.transaction_id = ledger.post(session, product.kind, f"{product.kind}:{plan.id}", legs).id
    session.flush()
    details = {
        "plan_id": plan.id,
        "principal_fen": principal_fen,
        "periods": periods,
        "product_id": product.id,
        "apr": plan.apr,
        "liveness_session_id": confirmation.liveness_session_id,
        "face_score": confirmation.score,
        "calibration_id": confirmation.calibration_id,
    }
    audit.append(
        session,
        actor=f"account:{account.id}",
        action=f"credit.{product.kind}",
        subject=f"account:{account.id}",
        purpose="credit",
        details=details,
    )
    return plan


# --- where a plan stands ----------------------------------------------------------------------


def pricing_of(plan: CreditPlan) -> tuple[schedule.Pricing, dict]:
    terms = json.loads(plan.terms)
    return schedule.Pricing(terms["method"], Decimal(terms["rate"])), terms


def penalty_fen(row: CreditInstallment, daily_rate: Decimal, today: dt.date) -> int:
    """Penalty interest on the installment's principal for each day it is overdue, rounded half up."""
    days = (today - row.due_date).days
    if row.status != UNPAID or days <= 0:
        return 0
    return schedule.round_half_up(Decimal(row.principal_fen) * daily_rate * days)


@dataclass(frozen=True)
class InstallmentState:
    number: int
    due_date: dt.date
    principal_fen: int
    interest_fen: int
    fee_fen: int
    penalty_fen: int  # accrued to the day asked (unpaid), or what was paid (paid)
    status: str  # paid | settled_early | overdue | due (today) | upcoming
    days_overdue: int
    paid_at: dt.datetime | None

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen + self.penalty_fen


def installments(session: Session, plan_id: str) -> list[CreditInstallment]:
    return list(
        session.execute(
            select(CreditInstallment).where(CreditInstallment.plan_id == plan_id).order_by(CreditInstallment.number)
        ).scalars()
    )


def states(session: Session, plan: CreditPlan, today: dt.date) -> list[InstallmentState]:
    _, terms = pricing_of(plan)
    rate = Decimal(terms["penalty_daily_rate"])
    out = []
    for row in installments(session, plan.id):
        if row.status != UNPAID:
            status, penalty, days = row.status, row.penalty_paid_fen, 0
        else:
            days = max((today - row.due_date).days, 0)
            status = "overdue" if days else "due" if row.due_date == today else "upcoming"
            penalty = penalty_fen(row, rate, today)
        out.append(
            InstallmentState(
                row.number,
                row.due_date,
                row.principal_fen,
                row.interest_fen,
                row.fee_fen,
                penalty,
                status,
                days,
                row.paid_at,
            )
        )
    return out


def plans_of(session: Session, account_id: str) -> list[CreditPlan]:
    return list(
        session.execute(
            select(CreditPlan).where(CreditPlan.account_id == account_id).order_by(CreditPlan.created_at.desc())
        ).scalars()
    )


def own_plan(session: Session, account_id: str, plan_id: str) -> CreditPlan:
    plan = session.get(CreditPlan, plan_id)
    if plan is None or plan.account_id != account_id:  # another account's plan does not exist for you
        raise DomainError(ErrorCode.PLAN_NOT_FOUND, "no such plan")
    return plan


def close_if_paid(session: Session, plan: CreditPlan) -> None:
    """A plan with no unpaid installment left is closed: returned when the merchant took all the
    goods back, else paid off."""
    if not any(row.status == UNPAID for row in installments(session, plan.id)):
        plan.status = RETURNED if plan.returned_fen == plan.principal_fen else PAID_OFF
        plan.closed_at = utcnow()
        if plan.status == PAID_OFF:  # a plan whose goods all went back was not repaid
            account = session.get(Account, plan.account_id)
            outbox.enqueue(
                session,
                plan.tenant_id,
                outbox.PLAN_REPAID,
                {
                    "plan_id": plan.id,
                    **outbox.account_ref(account),  # type: ignore[arg-type]
                    "plan_kind": plan.kind,
                    "principal_fen": plan.principal_fen,
                    "status": PAID_OFF,
                },
            )
