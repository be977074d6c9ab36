"""The double-entry ledger: money moves only as transactions whose postings sum to zero.

Each posting also moves its account's running balance with a conditional UPDATE that refuses to take
an account below zero (unless it is the outside world's funding account or a borrower's credit
account), so two payments racing for
the last yuan of a wallet cannot both succeed. A transaction's ``reference`` is unique, so one
business event can post at most once, whatever retries or double submissions happen upstream.
``check`` re-derives everything from the postings and says where the books disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.payments.models import LedgerAccount, LedgerTransaction, PaymentIntent, Posting, Refund
from facetrust.store.db import rowcount

WALLET, MERCHANT, PLATFORM_FEES, FUNDING = "wallet", "merchant", "platform_fees", "funding"
# Credit: an account's credit balance is minus the principal it owes (so it may go negative); the
# platform's credit income collects interest, fees and penalties.
CREDIT, CREDIT_INCOME = "credit", "credit_income"
MAY_GO_NEGATIVE = (FUNDING, CREDIT)


def fee_share(fee_fen: int, amount_fen: int, part_fen: int) -> int:
    """The fee on ``part_fen`` of ``amount_fen``, rounded half up. Refunds take the difference of
    cumulative shares, so a payment refunded in any number of parts gives back exactly its fee."""
    return (fee_fen * part_fen * 2 + amount_fen) // (amount_fen * 2)


def fee_for(amount_fen: int, fee_bps: int) -> int:
    """The platform fee in whole fen, rounded half up."""
    return (amount_fen * fee_bps * 2 + 10_000) // 20_000


def account(session: Session, kind: str, owner_id: str) -> LedgerAccount:
    """The ledger account of an owner, opened on first use (concurrent openers agree on one row)."""
    query = select(LedgerAccount).where(LedgerAccount.kind == kind, LedgerAccount.owner_id == owner_id)
    found = session.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = LedgerAccount(kind=kind, owner_id=owner_id, balance_fen=0, may_go_negative=kind in MAY_GO_NEGATIVE)
            session.add(row)
        return row
    except IntegrityError:
        return session.execute(query).scalar_one()


def balance(session: Session, kind: str, owner_id: str) -> int:
    value = session.execute(
        select(LedgerAccount.balance_fen).where(LedgerAccount.kind == kind, LedgerAccount.owner_id == owner_id)
    ).scalar_one_or_none()
    return int(value or 0)


def post(session: Session, kind: str, reference: str, legs: list[tuple[LedgerAccount, int]]) -> LedgerTransaction:
    """Post one balanced transaction, or nothing: 409 ``already_posted`` if the reference was used,
    409 ``insufficient_funds`` (with the account's kind) if a leg would take a balance below zero."""
    legs = [(acct, amount) for acct, amount in legs if amount != 0]
    if sum(amount for _, amount in legs) != 0 or not legs:
        raise ValueError(f"unbalanced or empty transaction {reference}: {[(a.kind, x) for a, x in legs]}")
    try:
        with session.begin_nested():
            txn = LedgerTransaction(kind=kind, reference=reference)
            session.add(txn)
            session.flush()
            for acct, amount in sorted(legs, key=lambda leg: leg[0].id):  # one lock order: no deadlocks
                moved = rowcount(
                    session.execute(
                        update(LedgerAccount)
                        .where(
                            LedgerAccount.id == acct.id,
                            LedgerAccount.may_go_negative | (LedgerAccount.balance_fen + amount >= 0),
                        )
                        .values(balance_fen=LedgerAccount.balance_fen + amount)
                    )
                )
                if moved != 1:
                    raise DomainError(
                        ErrorCode.INSUFFICIENT_FUNDS,
                        f"the {acct.kind} account has too little money",
                        account_kind=acct.kind,
                    )
                session.add(Posting(transaction_id=txn.id, ledger_account_id=acct.id, amount_fen=amount))
            session.flush()
    except IntegrityError:
        raise DomainError(ErrorCode.ALREADY_POSTED, f"{reference} was already posted") from None
    for acct, _ in legs:
        session.expire(acct, ["balance_fen"])
    return txn


@dataclass
class LedgerReport:
    transactions: int = 0
    postings: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "transactions": self.transactions,
            "postings": self.postings,
            "accounts": self.accounts,
            "problems": self.problems,
        }


def check(session: Session) -> LedgerReport:
    """Every transaction balances and has postings; every balance equals the sum of its postings
    and is not negative unless allowed; all balances sum to zero; each intent's refunds add up and
    never exceed what was paid."""
    report = LedgerReport(
        transactions=session.execute(select(func.count()).select_from(LedgerTransaction)).scalar_one(),
        postings=session.execute(select(func.count()).select_from(Posting)).scalar_one(),
        accounts=session.execute(select(func.count()).select_from(LedgerAccount)).scalar_one(),
    )
    sums = select(Posting.transaction_id, func.sum(Posting.amount_fen).label("total")).group_by(Posting.transaction_id)
    for txn_id, total in session.execute(sums):
        if total != 0:
            report.problems.append(f"transaction {txn_id} is unbalanced by {total} fen")
    empty = (
        session.execute(
            select(LedgerTransaction.id).where(
                ~select(Posting.id).where(Posting.transaction_id == LedgerTransaction.id).exists()
            )
        )
        .scalars()
        .all()
    )
    report.problems += [f"transaction {t} has no postings" for t in empty]
    posted = dict(
        session.execute(
            select(Posting.ledger_account_id, func.sum(Posting.amount_fen)).group_by(Posting.ledger_account_id)
        ).all()
    )
    for acct in session.execute(select(LedgerAccount)).scalars():
        derived = int(posted.get(acct.id, 0))
        if acct.balance_fen != derived:
            report.problems.append(
                f"{acct.kind} account {acct.id}: balance {acct.balance_fen} but postings sum to {derived}"
            )
        if acct.balance_fen < 0 and not acct.may_go_negative:
            report.problems.append(f"{acct.kind} account {acct.id} is negative: {acct.balance_fen}")
    total = session.execute(select(func.coalesce(func.sum(LedgerAccount.balance_fen), 0))).scalar_one()
    if total != 0:
        report.problems.append(f"balances sum to {total} fen, not 0")
    refunded = dict(
        session.execute(select(Refund.intent_id, func.sum(Refund.amount_fen)).group_by(Refund.intent_id)).all()
    )
    for intent in session.execute(select(PaymentIntent).where(PaymentIntent.refunded_fen > 0)).scalars():
        if int(refunded.get(intent.id, 0)) != intent.refunded_fen or intent.refunded_fen > intent.amount_fen:
            report.problems.append(
                f"intent {intent.id}: refunded {intent.refunded_fen} of {intent.amount_fen}, "
                f"refund rows sum to {refunded.get(intent.id, 0)}"
            )
    return report
