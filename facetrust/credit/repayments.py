"""Paying a plan back from the borrower's wallet: the next installment, everything early, or part
of the principal early.

- ``installment``: the oldest unpaid installment, in full, with its penalty if it is overdue.
- ``payoff``: every overdue or due installment in full with penalties, then all remaining principal,
  plus what the product says an early repayment owes: for interest products the interest of the
  period in progress by day (actual days / 360, on the balance, never more than the period's
  scheduled interest); for fee products the fees not yet due under the product's rule (waived, the
  fee of the period in progress, or all of them).
- ``partial``: part of the principal, when nothing is due or overdue. Interest products charge the
  interest accrued on the prepaid part by day; the remaining principal is re-spread over the
  remaining periods with the same method (interest recomputed on the lower balance). Fee products
  keep the fees the rule keeps and scale the waived ones down by the share of principal prepaid.

Every repayment is one balanced ledger transaction (wallet to the borrower's credit account for
principal and to the platform's credit income for interest, fees and penalties), gives the repaid
principal back to the credit line, and is idempotent on the client's key. A conditional update of
the plan's version decides between two repayments racing on one plan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.credit import lines, plans, products, schedule
from facetrust.credit.models import CreditInstallment, CreditPlan, CreditRepayment
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.payments import ledger
from facetrust.risk import engine as risk
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit
from facetrust.store.db import rowcount

INSTALLMENT, PAYOFF, PARTIAL = "installment", "payoff", "partial"
KINDS = (INSTALLMENT, PAYOFF, PARTIAL)
DAYS_PER_YEAR = 360  # the day count of accrued interest (the Chinese banking convention)


@dataclass
class Settlement:
    """What a repayment charges and which installments it changes; computed without writing."""

    kind: str
    principal_fen: int = 0
    interest_fen: int = 0
    fee_fen: int = 0
    penalty_fen: int = 0
    paid: list[tuple[CreditInstallment, int]] = field(default_factory=list)  # (row, penalty) paid in full
    settled_early: list[CreditInstallment] = field(default_factory=list)
    respread: list[tuple[CreditInstallment, int, int, int]] = field(
        default_factory=list
    )  # (row, principal, interest, fee)

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen + self.penalty_fen

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "amount_fen": self.amount_fen,
            "principal_fen": self.principal_fen,
            "interest_fen": self.interest_fen,
            "fee_fen": self.fee_fen,
            "penalty_fen": self.penalty_fen,
        }

    def pay_in_full(self, row: CreditInstallment, penalty: int) -> None:
        self.principal_fen += row.principal_fen
        self.interest_fen += row.interest_fen
        self.fee_fen += row.fee_fen
        self.penalty_fen += penalty
        self.paid.append((row, penalty))


def _period_start(plan: CreditPlan, row: CreditInstallment) -> dt.date:
    return plans.add_months(plan.start_date, row.number - 1)


def _accrued(amount_fen: int, annual_rate: Decimal, days: int) -> int:
    return schedule.round_half_up(Decimal(amount_fen) * annual_rate * max(days, 0) / DAYS_PER_YEAR)


def settle(session: Session, plan: CreditPlan, kind: str, amount_fen: int | None, today: dt.date) -> Settlement:
    if plan.status == plans.RETURNED:
        raise DomainError(ErrorCode.PLAN_ALREADY_RETURNED, "the goods were returned: nothing is owed on this plan")
    if plan.status != plans.ACTIVE:
        raise DomainError(ErrorCode.PLAN_PAID_OFF, "this plan is already paid off")
    pricing, terms = plans.pricing_of(plan)
    penalty_rate = Decimal(terms["penalty_daily_rate"])
    unpaid = [row for row in plans.installments(session, plan.id) if row.status == plans.UNPAID]
    due = [row for row in unpaid if row.due_date <= today]
    ahead = [row for row in unpaid if row.due_date > today]
    result = Settlement(kind)
    if kind == INSTALLMENT:
        result.pay_in_full(unpaid[0], plans.penalty_fen(unpaid[0], penalty_rate, today))
    elif kind == PAYOFF:
        for row in due:
            result.pay_in_full(row, plans.penalty_fen(row, penalty_rate, today))
        for i, row in enumerate(ahead):
            result.principal_fen += row.principal_fen
            result.settled_early.append(row)
            if pricing.method != schedule.FLAT_FEE:
                if i == 0:  # the period in progress: its interest by day, on the balance
                    balance = sum(r.principal_fen for r in ahead)
                    days = (today - _period_start(plan, row)).days
                    result.interest_fen += min(_accrued(balance, pricing.rate, days), row.interest_fen)
            elif terms["prepayment"] == products.ALL_FEES or (
                terms["prepayment"] == products.CURRENT_PERIOD_FEE and i == 0
            ):
                result.fee_fen += row.fee_fen
    elif kind == PARTIAL:
        if due:
            raise DomainError(ErrorCode.INSTALLMENT_DUE_FIRST, "pay the due or overdue installment before prepaying")
        balance = sum(row.principal_fen for row in ahead)
        if amount_fen is None or not 0 < amount_fen < balance:
            raise DomainError(
                ErrorCode.AMOUNT_INVALID,
                f"a partial prepayment is between 0.01 and "
                f"{schedule.yuan(balance - 1)} yuan; use payoff to repay everything",
            )
        result.principal_fen = amount_fen
        if pricing.method != schedule.FLAT_FEE:
            result.interest_fen = _accrued(amount_fen, pricing.rate, (today - _period_start(plan, ahead[0])).days)
        result.respread = _respread(ahead, balance - amount_fen, balance, pricing, terms["prepayment"])
    else:
        raise DomainError(ErrorCode.REPAYMENT_KIND_UNKNOWN, f"a repayment is one of: {', '.join(KINDS)}")
    return result


def _respread(
    ahead: list[CreditInstallment], remaining: int, balance: int, pricing: schedule.Pricing, rule: str
) -> list[tuple[CreditInstallment, int, int, int]]:
    """The remaining installments after a partial prepayment leaves ``remaining`` of ``balance``."""
    if pricing.method != schedule.FLAT_FEE:
        fresh = schedule.build(remaining, len(ahead), pricing).installments
        return [(row, new.principal_fen, new.interest_fen, 0) for row, new in zip(ahead, fresh)]
    principal = [
        i.principal_fen
        for i in schedule.build(remaining, len(ahead), schedule.Pricing(schedule.FLAT_FEE, Decimal(0))).installments
    ]
    fees = [row.fee_fen for row in ahead]
    keep = len(ahead) if rule == products.ALL_FEES else 1 if rule == products.CURRENT_PERIOD_FEE else 0
    scaled = fees[keep:]
    if scaled:  # the fees on the prepaid share are waived; the total is rounded once, the last absorbs
        total = schedule.round_half_up(Decimal(sum(scaled)) * remaining / balance)
        each = [schedule.round_half_up(Decimal(f) * remaining / balance) for f in scaled[:-1]]
        fees[keep:] = [*each, total - sum(each)]
    return [(row, p, 0, f) for row, p, f in zip(ahead, principal, fees)]


def _request_sha(kind: str, amount_fen: int | None) -> str:
    return hashlib.sha256(json.dumps([kind, amount_fen]).encode()).hexdigest()


def repay(
    session: Session,
    account: Account,
    plan: CreditPlan,
    kind: str,
    amount_fen: int | None,
    idempotency_key: str,
    today: dt.date,
) -> tuple[CreditRepayment, bool]:
    """Make one repayment from the wallet: (repayment, created). A frozen account moves no money,
    repayments included, until an operator unfreezes it."""
    digest = _request_sha(kind, amount_fen)
    existing = _by_key(session, plan.id, idempotency_key)
    if existing is not None:
        if existing.request_sha256 != digest:
            raise DomainError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used for a different repayment"
            )
        return existing, False
    risk.check_can_move_money(account)
    result = settle(session, plan, kind, amount_fen, today)
    moved = rowcount(
        session.execute(
            update(CreditPlan)
            .where(CreditPlan.id == plan.id, CreditPlan.version == plan.version, CreditPlan.status == plans.ACTIVE)
            .values(
                version=CreditPlan.version + 1,
                outstanding_principal_fen=CreditPlan.outstanding_principal_fen - result.principal_fen,
            )
        )
    )
    if moved != 1:
        raise DomainError(ErrorCode.REPAYMENT_IN_PROGRESS, "another repayment of this plan was just made; look again")
    row = CreditRepayment(
        plan_id=plan.id,
        idempotency_key=idempotency_key,
        request_sha256=digest,
        kind=kind,
        principal_fen=result.principal_fen,
        interest_fen=result.interest_fen,
        fee_fen=result.fee_fen,
        penalty_fen=result.penalty_fen,
        amount_fen=result.amount_fen,
        on_date=today,
        transaction_id="",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same key, committed a moment ago by a racing retry
        raise DomainError(ErrorCode.REPAYMENT_IN_PROGRESS, "this repayment is being made; retry to read it") from None
    income = result.interest_fen + result.fee_fen + result.penalty_fen
    legs = [
        (ledger.account(session, ledger.WALLET, account.id), -result.amount_fen),
        (ledger.account(session, ledger.CREDIT, account.id), result.principal_fen),
        (ledger.account(session, ledger.CREDIT_INCOME, plan.tenant_id), income),
    ]
    if result.amount_fen:
        row.transaction_id = ledger.post(session, "repayment", f"repayment:{row.id}", legs).id
    now = utcnow()
    for installment, penalty in result.paid:
        installment.status, installment.penalty_paid_fen = plans.PAID, penalty
        installment.repayment_id, installment.paid_at = row.id, now
    for installment in result.settled_early:
        installment.status, installment.repayment_id, installment.paid_at = plans.SETTLED_EARLY, row.id, now
    for installment, principal, interest, fee in result.respread:
        installment.principal_fen, installment.interest_fen, installment.fee_fen = principal, interest, fee
    lines.restore(session, account.id, result.principal_fen)
    session.flush()
    session.refresh(plan)
    plans.close_if_paid(session, plan)
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="credit.repayment",
        subject=f"account:{account.id}",
        purpose="credit",
        details={"plan_id": plan.id, "repayment_id": row.id, **result.as_dict()},
    )
    late = any(installment.due_date < today for installment, _ in result.paid)
    events.emit(
        session,
        EventIn(
            "repayment",
            account_id=account.id,
            amount_fen=result.amount_fen,
            ref=plan.id,
            outcome="late" if late else "on_time" if kind == INSTALLMENT else "early",
            data={"repayment_id": row.id, "kind": kind, "plan_kind": plan.kind},
        ),
    )
    return row, True


def _by_key(session: Session, plan_id: str, key: str) -> CreditRepayment | None:
    return session.execute(
        select(CreditRepayment).where(CreditRepayment.plan_id == plan_id, CreditRepayment.idempotency_key == key)
    ).scalar_one_or_none()


def history(session: Session, plan_id: str) -> list[CreditRepayment]:
    return list(
        session.execute(
            select(CreditRepayment).where(CreditRepayment.plan_id == plan_id).order_by(CreditRepayment.created_at)
        ).scalars()
    )
