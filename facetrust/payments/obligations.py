"""What an account still owes or has in flight, which must end before the account can close.

A closed account cannot sign in, so nobody could repay its loan or finish its payment: closing with
an active credit plan, a ledger account below zero or a payment waiting for its payer's step-up is
refused, each with its own code, and the answer lists everything that is open.

The checks read; the last step is a write that a drawdown racing the closure must meet: the credit
line is closed with one conditional UPDATE that holds only while nothing is drawn on it, and a draw
is a conditional UPDATE that holds only while the line is active. Whichever commits first, the
other finds the row changed (PostgreSQL re-reads it after the lock; SQLite has one writer), so a
loan drawn in the moment of the closure either stops the closure or is refused itself.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.store.db import rowcount

# In the order a refusal names them: the first one found gives the code.
OPEN_CREDIT, NEGATIVE_BALANCE, PENDING_PAYMENT = "open_credit", "negative_balance", "pending_payment"
CODES = {
    OPEN_CREDIT: ErrorCode.ACCOUNT_HAS_OPEN_CREDIT,
    NEGATIVE_BALANCE: ErrorCode.ACCOUNT_HAS_NEGATIVE_BALANCE,
    PENDING_PAYMENT: ErrorCode.ACCOUNT_HAS_PENDING_PAYMENT,
}
MESSAGES = {
    OPEN_CREDIT: "the account has an installment plan or loan that is not paid off; repay it before closing",
    NEGATIVE_BALANCE: "the account owes money on its books; settle it before closing",
    PENDING_PAYMENT: "a payment of this account is waiting to be completed; finish it or let it expire before closing",
}


def open_items(session: Session, account_id: str) -> dict[str, int]:
    """What is open, by kind, with how many of each (only the kinds that are open)."""
    from facetrust.credit.models import CreditPlan
    from facetrust.payments import intents
    from facetrust.payments.models import LedgerAccount, PaymentIntent

    plans = session.execute(
        select(func.count())
        .select_from(CreditPlan)
        .where(CreditPlan.account_id == account_id, CreditPlan.status == "active")
    ).scalar_one()
    negative = session.execute(
        select(func.count())
        .select_from(LedgerAccount)
        .where(LedgerAccount.owner_id == account_id, LedgerAccount.balance_fen < 0)
    ).scalar_one()
    # Only a payment that has named this payer and is still in time: an expired one can no longer move money.
    pending = session.execute(
        select(func.count())
        .select_from(PaymentIntent)
        .where(
            PaymentIntent.payer_account_id == account_id,
            PaymentIntent.status.in_(intents.OPEN),
            PaymentIntent.expires_at > utcnow(),
        )
    ).scalar_one()
    found = {OPEN_CREDIT: plans, NEGATIVE_BALANCE: negative, PENDING_PAYMENT: pending}
    return {kind: n for kind, n in found.items() if n}


def refuse_if_open(session: Session, account: Account) -> None:
    """409 with the first open kind's code, and every open kind in ``open``; else the account's
    credit line (if any) is closed so that nothing can be drawn on it any more."""
    found = open_items(session, account.id)
    if found:
        _refuse(found)
    from facetrust.credit.models import CreditLine

    line = session.execute(select(CreditLine.id).where(CreditLine.account_id == account.id)).scalar_one_or_none()
    if line is None:
        return
    closed = rowcount(
        session.execute(
            update(CreditLine)
            .where(CreditLine.id == line, CreditLine.used_fen == 0)
            .values(status="closed", updated_at=utcnow())
        )
    )
    if closed != 1:  # a draw committed since the checks above read
        _refuse({OPEN_CREDIT: 1})


def _refuse(found: dict[str, int]) -> None:
    first = next(kind for kind in CODES if kind in found)
    raise DomainError(CODES[first], MESSAGES[first], open=found)
