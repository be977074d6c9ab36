"""Loan drawdowns (Weilidai-like): principal from the credit line into the borrower's wallet.

Every drawdown needs the same live face confirmation as an installment plan, always: this module
has no path to ``plans.open_plan`` that does not go through ``face.confirm`` first, and there is no
setting, parameter or role that changes that. A retry with the same idempotency key returns the
first drawdown, never a second one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.clock import new_id
from facetrust.credit import face, lines, plans, schedule
from facetrust.credit.context import CreditContext
from facetrust.credit.models import CreditPlan
from facetrust.credit.products import Product
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.payments import ledger
from facetrust.risk import engine as risk
from facetrust.webhooks import outbox


def quote(ctx: CreditContext, product_id: str, amount_fen: int, periods: int) -> tuple[Product, schedule.Schedule]:
    product = ctx.catalogue.get(product_id, "loan")
    plans.check_terms(product, amount_fen, periods)
    return product, schedule.build(amount_fen, periods, product.pricing)


def draw(
    session: Session,
    ctx: CreditContext,
    account: Account,
    product_id: str,
    amount_fen: int,
    periods: int,
    liveness_session_id: str | None,
    idempotency_key: str,
    device_id: str | None = None,
    ip: str | None = None,
) -> tuple[CreditPlan, bool]:
    """Draw a loan into the wallet: (plan, created)."""
    existing = session.execute(
        select(CreditPlan).where(
            CreditPlan.account_id == account.id, CreditPlan.idempotency_key == f"loan:{idempotency_key}"
        )
    ).scalar_one_or_none()
    if existing is not None:
        terms_then = (existing.product_id, existing.principal_fen, existing.periods)
        if terms_then != (product_id, amount_fen, periods):
            raise DomainError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used for a different drawdown"
            )
        return existing, False
    risk.check_can_move_money(account)
    product, _ = quote(ctx, product_id, amount_fen, periods)
    lines.require_available(session, account.id, amount_fen)
    confirmation = face.confirm(session, ctx, account, liveness_session_id, "loan", new_id())
    verdict = plans.risk_check(session, account, "loan", confirmation.plan_id, amount_fen, periods, device_id, ip)
    wallet = [(ledger.account(session, ledger.WALLET, account.id), amount_fen)]
    plan = plans.open_plan(
        session, account, product, amount_fen, periods, confirmation, ctx.today(), f"loan:{idempotency_key}", wallet
    )
    risk.completed(session, verdict)
    outbox.enqueue(
        session,
        plan.tenant_id,
        outbox.LOAN_DRAWN,
        {
            "plan_id": plan.id,
            **outbox.account_ref(account),
            "product_id": product.id,
            "amount_fen": amount_fen,
            "periods": periods,
            "apr": plan.apr,
            "status": plan.status,
        },
    )
    return plan, True
