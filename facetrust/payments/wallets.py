"""Wallets: top-ups by the platform's back end (money it has received for the user, e.g. by bank
transfer) and what the user sees of their balance."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account, Tenant
from facetrust.payments import ledger
from facetrust.payments.models import LedgerTransaction, Posting
from facetrust.risk import engine as risk
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit


def top_up(
    session: Session, tenant: Tenant, account: Account, amount_fen: int, reference: str
) -> tuple[LedgerTransaction, bool]:
    """Credit the wallet from the platform's funding account; idempotent on ``reference``."""
    key = f"top_up:{tenant.id}:{reference}"
    existing = session.execute(select(LedgerTransaction).where(LedgerTransaction.reference == key)).scalar_one_or_none()
    if existing is not None:
        credited = session.execute(
            select(Posting.amount_fen).where(Posting.transaction_id == existing.id, Posting.amount_fen > 0)
        ).scalar_one()
        if credited != amount_fen:
            raise DomainError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED, "this top-up reference was used with a different amount"
            )
        return existing, False
    if amount_fen <= 0:
        raise DomainError(ErrorCode.AMOUNT_INVALID, "a top-up is a positive number of fen")
    risk.check_can_move_money(account)
    try:
        txn = ledger.post(
            session,
            "top_up",
            key,
            [
                (ledger.account(session, ledger.FUNDING, tenant.id), -amount_fen),
                (ledger.account(session, ledger.WALLET, account.id), amount_fen),
            ],
        )
    except DomainError:
        raise DomainError(
            ErrorCode.TOP_UP_IN_PROGRESS, "a top-up with this reference is being made; retry to read it"
        ) from None
    events.emit(session, EventIn("top_up", account_id=account.id, amount_fen=amount_fen, ref=txn.id))
    audit.append(
        session,
        actor=f"tenant:{tenant.id}",
        action="wallet.top_up",
        subject=f"account:{account.id}",
        details={"amount_fen": amount_fen, "transaction_id": txn.id},
    )
    return txn, True
