"""Refunds of a paid face payment, full or partial, asked by the merchant's terminal.

Idempotent on the merchant's refund id: the same id returns the same refund, another amount under
it is refused. The refund reverses the payment's postings in proportion, fee included, so that a
payment refunded in any number of parts returns exactly what it moved.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.payments import ledger
from facetrust.payments.intents import PAID, terminal_intent
from facetrust.payments.models import Merchant, Refund, Terminal
from facetrust.risk import engine as risk
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit
from facetrust.store.db import rowcount
from facetrust.webhooks import outbox


def refund(
    session: Session, terminal: Terminal, intent_id: str, merchant_refund_id: str, amount_fen: int
) -> tuple[Refund, bool]:
    """(refund, created)."""
    intent = terminal_intent(session, terminal, intent_id)
    existing = session.execute(
        select(Refund).where(Refund.intent_id == intent.id, Refund.merchant_refund_id == merchant_refund_id)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.amount_fen != amount_fen:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this refund id was used with a different amount")
        return existing, False
    if intent.status != PAID:
        raise DomainError(
            ErrorCode.PAYMENT_NOT_REFUNDABLE, f"only a paid payment can be refunded; this one is {intent.status}"
        )
    if amount_fen > intent.amount_fen - intent.refunded_fen:
        raise DomainError(
            ErrorCode.REFUND_EXCEEDS_PAYMENT,
            f"at most {intent.amount_fen - intent.refunded_fen} fen of this payment is left to refund",
        )
    payer = session.get(Account, intent.payer_account_id)
    risk.check_can_move_money(payer)  # type: ignore[arg-type]
    merchant = session.get(Merchant, intent.merchant_id)
    before, after = intent.refunded_fen, intent.refunded_fen + amount_fen
    fee_part = ledger.fee_share(intent.fee_fen, intent.amount_fen, after) - ledger.fee_share(
        intent.fee_fen, intent.amount_fen, before
    )
    try:
        txn = ledger.post(
            session,
            "refund",
            f"refund:{intent.id}:{merchant_refund_id}",
            [
                (ledger.account(session, ledger.MERCHANT, merchant.id), -(amount_fen - fee_part)),  # type: ignore[union-attr]
                (ledger.account(session, ledger.PLATFORM_FEES, merchant.tenant_id), -fee_part),  # type: ignore[union-attr]
                (ledger.account(session, ledger.WALLET, intent.payer_account_id), amount_fen),  # type: ignore[arg-type]
            ],
        )
    except DomainError as refused:
        if refused.code == ErrorCode.INSUFFICIENT_FUNDS:
            raise DomainError(
                ErrorCode.MERCHANT_FUNDS_INSUFFICIENT, "the merchant's balance cannot cover this refund"
            ) from None
        raise DomainError(
            ErrorCode.REFUND_IN_PROGRESS, "a refund with this id is being made; retry to read it"
        ) from None
    moved = rowcount(
        session.execute(
            update(type(intent))
            .where(type(intent).id == intent.id, type(intent).refunded_fen == before)
            .values(refunded_fen=after)
        )
    )
    if moved != 1:
        raise DomainError(ErrorCode.REFUND_IN_PROGRESS, "another refund of this payment is being made; retry")
    row = Refund(
        intent_id=intent.id, merchant_refund_id=merchant_refund_id, amount_fen=amount_fen, transaction_id=txn.id
    )
    session.add(row)
    session.flush()
    session.refresh(intent)
    events.emit(
        session,
        EventIn(
            "refund",
            account_id=payer.id,  # type: ignore[union-attr]
            merchant_id=merchant.id,  # type: ignore[union-attr]
            device_id=f"terminal:{terminal.id}",
            amount_fen=amount_fen,
            ref=intent.id,
            data={"refund_id": row.id},
        ),
    )
    audit.append(
        session,
        actor=f"terminal:{terminal.id}",
        action="payment.refund",
        subject=f"intent:{intent.id}",
        details={"refund_id": row.id, "amount_fen": amount_fen, "transaction_id": txn.id},
    )
    outbox.enqueue(
        session,
        merchant.tenant_id,  # type: ignore[union-attr]
        outbox.PAYMENT_REFUNDED,
        {
            "payment_id": intent.id,
            "merchant_id": intent.merchant_id,
            "merchant_order_id": intent.merchant_order_id,
            **outbox.account_ref(payer),  # type: ignore[arg-type]
            "refund_id": row.id,
            "merchant_refund_id": merchant_refund_id,
            "amount_fen": amount_fen,
            "payment_amount_fen": intent.amount_fen,
            "refunded_fen": intent.refunded_fen,
            "status": "refunded" if intent.refunded_fen == intent.amount_fen else "partially_refunded",
            "transaction_id": txn.id,
        },
    )
    return row, True
