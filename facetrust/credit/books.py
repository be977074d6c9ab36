"""The credit book's invariants, checked by ``facetrust ledger check`` beside the ledger's own:
what the plans say is owed, what the credit lines say is used and what the ledger's credit accounts
hold must be the same number, and every fen of interest, fee and penalty a repayment took, less
the fees and interest returns gave back, must be in the platform's credit income; a plan's
principal is what it still owes, what was repaid and what returns cancelled."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facetrust.credit import plans
from facetrust.credit.models import CreditInstallment, CreditLine, CreditPlan, CreditRepayment, CreditReturn
from facetrust.payments import ledger
from facetrust.payments.models import LedgerAccount


def check(session: Session) -> list[str]:
    problems: list[str] = []
    unpaid = dict(
        session.execute(
            select(CreditInstallment.plan_id, func.sum(CreditInstallment.principal_fen))
            .where(CreditInstallment.status == plans.UNPAID)
            .group_by(CreditInstallment.plan_id)
        ).all()
    )
    repaid = dict(
        session.execute(
            select(CreditRepayment.plan_id, func.sum(CreditRepayment.principal_fen)).group_by(CreditRepayment.plan_id)
        ).all()
    )
    returned = {
        plan_id: (int(amount), int(cancelled), int(refunded_cost))
        for plan_id, amount, cancelled, refunded_cost in session.execute(
            select(
                CreditReturn.plan_id,
                func.sum(CreditReturn.amount_fen),
                func.sum(CreditReturn.principal_cancelled_fen),
                func.sum(CreditReturn.fee_refunded_fen + CreditReturn.interest_refunded_fen),
            ).group_by(CreditReturn.plan_id)
        ).all()
    }
    owed_by_account: dict[str, int] = defaultdict(int)
    tenant_of_plan: dict[str, str] = {}
    for plan in session.execute(select(CreditPlan)).scalars():
        tenant_of_plan[plan.id] = plan.tenant_id
        owed_by_account[plan.account_id] += plan.outstanding_principal_fen
        left = int(unpaid.get(plan.id, 0))
        if plan.outstanding_principal_fen != left:
            problems.append(
                f"plan {plan.id}: outstanding {plan.outstanding_principal_fen} but unpaid installments "
                f"hold {left} fen of principal"
            )
        # A return cancels principal still owed, or gives repaid principal back (credit/unwind.py).
        returned_fen, cancelled, _ = returned.get(plan.id, (0, 0, 0))
        if plan.principal_fen != plan.outstanding_principal_fen + int(repaid.get(plan.id, 0)) + cancelled:
            problems.append(
                f"plan {plan.id}: principal {plan.principal_fen} is not outstanding "
                f"{plan.outstanding_principal_fen} plus repaid {repaid.get(plan.id, 0)} plus cancelled by "
                f"returns {cancelled}"
            )
        if plan.returned_fen != returned_fen or (plan.status == plans.RETURNED) != (
            plan.returned_fen == plan.principal_fen
        ):
            problems.append(
                f"plan {plan.id} is {plan.status} with {plan.returned_fen} of {plan.principal_fen} fen returned, "
                f"its returns sum to {returned_fen}"
            )
        if (plan.status in (plans.PAID_OFF, plans.RETURNED)) != (plan.id not in unpaid):
            problems.append(
                f"plan {plan.id} is {plan.status} with {'no ' if plan.id not in unpaid else ''}unpaid installments"
            )
    for line in session.execute(select(CreditLine)).scalars():
        if line.used_fen != owed_by_account.get(line.account_id, 0):
            problems.append(
                f"credit line of account {line.account_id}: used {line.used_fen} but its plans owe "
                f"{owed_by_account.get(line.account_id, 0)} fen"
            )
    accounts = {
        (a.kind, a.owner_id): a.balance_fen
        for a in session.execute(
            select(LedgerAccount).where(LedgerAccount.kind.in_((ledger.CREDIT, ledger.CREDIT_INCOME)))
        ).scalars()
    }
    for account_id, owed in owed_by_account.items():
        if -accounts.get((ledger.CREDIT, account_id), 0) != owed:
            problems.append(
                f"credit ledger account of {account_id} holds {accounts.get((ledger.CREDIT, account_id), 0)} "
                f"but its plans owe {owed} fen"
            )
    income: dict[str, int] = defaultdict(int)
    for plan_id, taken in session.execute(
        select(
            CreditRepayment.plan_id,
            CreditRepayment.interest_fen + CreditRepayment.fee_fen + CreditRepayment.penalty_fen,
        )
    ):
        income[tenant_of_plan[plan_id]] += taken
    for plan_id, (_, _, refunded_cost) in returned.items():
        income[tenant_of_plan[plan_id]] -= refunded_cost
    for tenant_id, taken in income.items():
        if accounts.get((ledger.CREDIT_INCOME, tenant_id), 0) != taken:
            problems.append(
                f"credit income of tenant {tenant_id} holds {accounts.get((ledger.CREDIT_INCOME, tenant_id), 0)} "
                f"but repayments took {taken} fen of interest, fees and penalties, less what returns gave back"
            )
    return problems
