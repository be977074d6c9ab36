"""Returns of goods bought on installments, asked by the merchant's signed terminal.

The merchant takes back all or part of an order a person bought on installments and says how much
of its price it returns. In one transaction, or not at all:

- the plan is unwound by the rule of its product (``credit/unwind.py``): principal still owed is
  cancelled and the unpaid installments reduced or cancelled, to the fen; principal and cost the
  person already paid for goods they no longer have go back to their wallet;
- one balanced ledger transaction moves it: the merchant gives back the amount less its share of
  the platform's fee (which the platform gives back, so an order returned in any number of parts
  returns exactly its fee), the borrower's credit account takes the cancelled principal, the wallet
  the refunded principal and cost, which the platform's credit income gives back;
- the cancelled principal goes back to the credit line (available credit goes up);
- it is audited, and the risk engine gets a ``credit_returned`` event (a return soon after the
  order is ``quick``: repeated, it is a cash-out pattern the rules look for).

Idempotent on the merchant's return id: the same id and body return the same return, another body
under it is 409 ``idempotency_key_reused``. A conditional update of the plan's version decides
between a return and anything else changing the plan at the same moment (another return, a
repayment): the loser is 409 ``credit_return_in_progress`` and changes nothing.

Another merchant's order does not exist for a terminal (404 ``checkout_not_found``, as for a payment
intent): a terminal learns nothing of orders it did not take.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.clock import as_utc, utcnow
from facetrust.credit import checkouts, lines, plans, unwind
from facetrust.credit.models import CreditCheckout, CreditPlan, CreditRepayment, CreditReturn
from facetrust.credit.products import DEFAULT_RETURN_RULE
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.payments import ledger
from facetrust.payments.models import LedgerAccount, Posting, Terminal
from facetrust.risk import engine as risk
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit
from facetrust.store.db import rowcount
from facetrust.webhooks import outbox

QUICK_RETURN_HOURS = 72  # a return this soon after its order is "quick" for the risk engine


def request_sha(amount_fen: int) -> str:
    return hashlib.sha256(json.dumps({"amount_fen": amount_fen}).encode()).hexdigest()


def merchant_checkout(session: Session, terminal: Terminal, checkout_id: str) -> CreditCheckout:
    row = session.get(CreditCheckout, checkout_id)
    if row is None or row.merchant_id != terminal.merchant_id:
        raise DomainError(ErrorCode.CHECKOUT_NOT_FOUND, "no such installment order at this merchant")
    return row


def returnable_fen(plan: CreditPlan) -> int:
    return plan.principal_fen - plan.returned_fen


def of_plan(session: Session, plan_id: str) -> list[CreditReturn]:
    return list(
        session.execute(
            select(CreditReturn).where(CreditReturn.plan_id == plan_id).order_by(CreditReturn.created_at)
        ).scalars()
    )


def _cost_paid(session: Session, plan: CreditPlan) -> tuple[int, int]:
    """(fees, interest) the person paid on the plan, less what earlier returns gave back."""
    fee, interest = session.execute(
        select(
            func.coalesce(func.sum(CreditRepayment.fee_fen), 0),
            func.coalesce(func.sum(CreditRepayment.interest_fen), 0),
        ).where(CreditRepayment.plan_id == plan.id)
    ).one()
    fee_back, interest_back = session.execute(
        select(
            func.coalesce(func.sum(CreditReturn.fee_refunded_fen), 0),
            func.coalesce(func.sum(CreditReturn.interest_refunded_fen), 0),
        ).where(CreditReturn.plan_id == plan.id)
    ).one()
    return int(fee) - int(fee_back), int(interest) - int(interest_back)


def _platform_fee(session: Session, plan: CreditPlan) -> int:
    """The platform's fee the order's settlement took (from its postings: the merchant's fee rate
    may have changed since)."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(Posting.amount_fen), 0))
            .join(LedgerAccount, LedgerAccount.id == Posting.ledger_account_id)
            .where(Posting.transaction_id == plan.transaction_id, LedgerAccount.kind == ledger.PLATFORM_FEES)
        ).scalar_one()
    )


def compute(session: Session, plan: CreditPlan, amount_fen: int) -> unwind.Unwinding:
    """What returning ``amount_fen`` of the plan's goods would do, without writing anything."""
    if plan.status == plans.RETURNED:
        raise DomainError(ErrorCode.PLAN_ALREADY_RETURNED, "everything bought with this plan was already returned")
    left = returnable_fen(plan)
    if not 0 < amount_fen <= left:
        raise DomainError(
            ErrorCode.RETURN_EXCEEDS_PURCHASE,
            f"at most {left} fen of this order is left to return",
            returnable_fen=left,
        )
    rule = json.loads(plan.terms).get("returns") or DEFAULT_RETURN_RULE
    unpaid = [row for row in plans.installments(session, plan.id) if row.status == plans.UNPAID]
    fee_paid, interest_paid = _cost_paid(session, plan)
    return unwind.unwind(
        plan.principal_fen,
        plan.returned_fen,
        amount_fen,
        [unwind.Row(r.number, r.principal_fen, r.interest_fen, r.fee_fen) for r in unpaid],
        fee_paid,
        interest_paid,
        rule,
    )


def return_goods(
    session: Session, terminal: Terminal, checkout_id: str, merchant_return_id: str, amount_fen: int
) -> tuple[CreditReturn, CreditPlan, bool]:
    """(return, plan, created)."""
    checkout = merchant_checkout(session, terminal, checkout_id)
    if checkout.status != checkouts.CONFIRMED or checkout.plan_id is None:
        raise DomainError(ErrorCode.CHECKOUT_NOT_CONFIRMED, "this order was not bought on installments")
    plan = session.get(CreditPlan, checkout.plan_id)
    assert plan is not None
    digest = request_sha(amount_fen)
    existing = _by_id(session, plan.id, merchant_return_id)
    if existing is not None:
        if existing.request_sha256 != digest:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this return id was used with a different amount")
        return existing, plan, False
    result = compute(session, plan, amount_fen)
    account = session.get(Account, plan.account_id)
    assert account is not None
    if result.wallet_fen:  # cancelling debt never waits; money into a frozen account's wallet does
        risk.check_can_move_money(account)
    before = plan.returned_fen  # read before the update below, which the session may apply to ``plan``
    moved = rowcount(
        session.execute(
            update(CreditPlan)
            .where(
                CreditPlan.id == plan.id,
                CreditPlan.version == plan.version,
                CreditPlan.returned_fen == before,
            )
            .values(
                version=CreditPlan.version + 1,
                returned_fen=CreditPlan.returned_fen + amount_fen,
                outstanding_principal_fen=CreditPlan.outstanding_principal_fen - result.principal_cancelled_fen,
            )
        )
    )
    if moved != 1:
        raise DomainError(
            ErrorCode.CREDIT_RETURN_IN_PROGRESS, "this plan changed a moment ago; retry to read the return"
        )
    fee = _platform_fee(session, plan)
    fee_part = ledger.fee_share(fee, plan.principal_fen, before + amount_fen) - ledger.fee_share(
        fee, plan.principal_fen, before
    )
    row = CreditReturn(
        plan_id=plan.id,
        merchant_id=checkout.merchant_id,
        terminal_id=terminal.id,
        merchant_return_id=merchant_return_id,
        request_sha256=digest,
        amount_fen=amount_fen,
        full=result.full,
        principal_cancelled_fen=result.principal_cancelled_fen,
        principal_refunded_fen=result.principal_refunded_fen,
        fee_cancelled_fen=result.fee_cancelled_fen,
        interest_cancelled_fen=result.interest_cancelled_fen,
        fee_refunded_fen=result.fee_refunded_fen,
        interest_refunded_fen=result.interest_refunded_fen,
        wallet_fen=result.wallet_fen,
        merchant_fee_fen=fee_part,
        transaction_id="",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same return id, committed a moment ago by a racing retry
        raise DomainError(ErrorCode.CREDIT_RETURN_IN_PROGRESS, "this return is being made; retry to read it") from None
    cost_back = result.fee_refunded_fen + result.interest_refunded_fen
    legs = [
        (ledger.account(session, ledger.MERCHANT, checkout.merchant_id), -(amount_fen - fee_part)),
        (ledger.account(session, ledger.PLATFORM_FEES, checkout.tenant_id), -fee_part),
        (ledger.account(session, ledger.CREDIT, account.id), result.principal_cancelled_fen),
        (ledger.account(session, ledger.WALLET, account.id), result.wallet_fen),
        (ledger.account(session, ledger.CREDIT_INCOME, plan.tenant_id), -cost_back),
    ]
    try:
        row.transaction_id = ledger.post(session, "credit_return", f"credit_return:{row.id}", legs).id
    except DomainError as refused:
        if refused.code == ErrorCode.INSUFFICIENT_FUNDS and refused.extra.get("account_kind") == ledger.MERCHANT:
            raise DomainError(
                ErrorCode.MERCHANT_FUNDS_INSUFFICIENT, "the merchant's balance cannot cover this return"
            ) from None
        raise
    _write_installments(session, plan, result)
    lines.restore(session, account.id, result.principal_cancelled_fen)
    session.flush()
    session.refresh(plan)
    plans.close_if_paid(session, plan)
    session.flush()
    audit.append(
        session,
        actor=f"terminal:{terminal.id}",
        action="credit.return",
        subject=f"account:{account.id}",
        purpose="credit",
        details={
            "plan_id": plan.id,
            "return_id": row.id,
            "merchant_return_id": merchant_return_id,
            "transaction_id": row.transaction_id,
            "cancelled_installments": result.cancelled,
            **result.as_dict(),
        },
    )
    outbox.enqueue(
        session,
        plan.tenant_id,
        outbox.CHECKOUT_RETURNED,
        {
            "checkout_id": checkout.id,
            "merchant_id": checkout.merchant_id,
            **outbox.account_ref(account),
            "plan_id": plan.id,
            "return_id": row.id,
            "merchant_return_id": merchant_return_id,
            "amount_fen": amount_fen,
            "full": result.full,
            "principal_cancelled_fen": result.principal_cancelled_fen,
            "wallet_fen": result.wallet_fen,
            "plan_status": plan.status,
            "transaction_id": row.transaction_id,
        },
    )
    hours = (utcnow() - as_utc(plan.created_at)).total_seconds() / 3600
    events.emit(
        session,
        EventIn(
            events.CREDIT_RETURNED,
            account_id=account.id,
            device_id=f"terminal:{terminal.id}",
            merchant_id=checkout.merchant_id,
            amount_fen=amount_fen,
            category=checkout.category,
            periods=plan.periods,
            ref=plan.id,
            outcome=events.QUICK if hours < QUICK_RETURN_HOURS else None,
            data={"return_id": row.id, "full": result.full, "hours_since_order": round(hours, 2)},
        ),
    )
    return row, plan, True


def _write_installments(session: Session, plan: CreditPlan, result: unwind.Unwinding) -> None:
    """The unpaid installments as the return left them; a cancelled one keeps what it was, for
    the person's history, and no longer counts as owed."""
    after = {r.number: r for r in result.rows}
    for row in plans.installments(session, plan.id):
        new = after.get(row.number)
        if row.status != plans.UNPAID or new is None:
            continue
        if new.amount_fen == 0:
            row.status = plans.CANCELLED
        else:
            row.principal_fen, row.interest_fen, row.fee_fen = new.principal_fen, new.interest_fen, new.fee_fen


def _by_id(session: Session, plan_id: str, merchant_return_id: str) -> CreditReturn | None:
    return session.execute(
        select(CreditReturn).where(
            CreditReturn.plan_id == plan_id, CreditReturn.merchant_return_id == merchant_return_id
        )
    ).scalar_one_or_none()
