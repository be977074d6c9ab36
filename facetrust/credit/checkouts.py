"""Installment checkout: a merchant's order, offered to one account on the installment products of
its item category, confirmed by the account holder's face.

The platform's back end creates the checkout (merchant, order id, amount in fen, category). The
account holder sees every offer (product and term) with its full schedule and its annualised rate
(IRR x 12 over the actual cash flows), picks one and confirms it with a fresh liveness pass whose
face matches their real-name face. Confirming writes the plan, settles the merchant (less the
platform's fee) and posts it to the ledger, in one transaction; a second confirmation of the same
checkout is 409 ``checkout_already_confirmed``.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.clock import as_utc, new_id, utcnow
from facetrust.credit import face, lines, plans, schedule
from facetrust.credit.context import CreditContext
from facetrust.credit.models import CreditCheckout, CreditPlan
from facetrust.credit.products import Product
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account, Tenant
from facetrust.payments import ledger
from facetrust.payments.models import Merchant
from facetrust.risk import engine as risk
from facetrust.risk.events import address_hash
from facetrust.security import audit
from facetrust.store.db import rowcount
from facetrust.webhooks import outbox

OPEN, CONFIRMED, EXPIRED = "open", "confirmed", "expired"


def create(
    session: Session,
    ctx: CreditContext,
    tenant: Tenant,
    account: Account,
    merchant_id: str,
    merchant_order_id: str,
    amount_fen: int,
    category: str,
    description: str | None,
    shipping_address: str | None = None,
) -> tuple[CreditCheckout, bool]:
    """The checkout of this merchant order: (checkout, created). The same order again with the same
    account and amount returns the first; with anything else it is 409 ``order_already_offered``."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None or merchant.tenant_id != tenant.id:
        raise DomainError(ErrorCode.MERCHANT_NOT_FOUND, "no such merchant on this platform")
    if merchant.status != "active":
        raise DomainError(ErrorCode.MERCHANT_NOT_ACTIVE, "the merchant cannot take payments")
    existing = _by_order(session, merchant_id, merchant_order_id)
    if existing is not None:
        if (existing.account_id, existing.amount_fen, existing.category) != (account.id, amount_fen, category):
            raise DomainError(
                ErrorCode.ORDER_ALREADY_OFFERED, "this merchant order was already offered on installments"
            )
        return existing, False
    if not ctx.catalogue.for_checkout(category, amount_fen):
        raise DomainError(
            ErrorCode.NO_INSTALLMENT_OFFER,
            f"no installment product covers {category} at {schedule.yuan(amount_fen)} yuan",
        )
    now = utcnow()
    row = CreditCheckout(
        tenant_id=tenant.id,
        account_id=account.id,
        merchant_id=merchant_id,
        merchant_order_id=merchant_order_id,
        amount_fen=amount_fen,
        category=category,
        description=description,
        status=OPEN,
        created_at=now,
        expires_at=now + ctx.checkout_ttl,
        shipping_address_hash=address_hash(shipping_address) if shipping_address else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same order, committed a moment ago by a racing retry
        raise DomainError(
            ErrorCode.ORDER_ALREADY_OFFERED, "this merchant order was already offered on installments"
        ) from None
    audit.append(
        session,
        actor=f"tenant:{tenant.id}",
        action="credit.checkout",
        subject=f"account:{account.id}",
        purpose="credit",
        details={"checkout_id": row.id, "merchant_id": merchant_id, "amount_fen": amount_fen},
    )
    return row, True


def _by_order(session: Session, merchant_id: str, order_id: str) -> CreditCheckout | None:
    return session.execute(
        select(CreditCheckout).where(
            CreditCheckout.merchant_id == merchant_id, CreditCheckout.merchant_order_id == order_id
        )
    ).scalar_one_or_none()


def own(session: Session, account_id: str, checkout_id: str) -> CreditCheckout:
    row = session.get(CreditCheckout, checkout_id)
    if row is None or row.account_id != account_id:
        raise DomainError(ErrorCode.CHECKOUT_NOT_FOUND, "no such checkout")
    if row.status == OPEN and utcnow() > as_utc(row.expires_at):
        row.status = EXPIRED
    return row


def offers(ctx: CreditContext, checkout: CreditCheckout) -> list[tuple[Product, int, schedule.Schedule]]:
    """Every product and term the order can be paid over, with its schedule."""
    return [
        (p, n, schedule.build(checkout.amount_fen, n, p.pricing))
        for p in ctx.catalogue.for_checkout(checkout.category, checkout.amount_fen)
        for n in p.periods
    ]


def offered_product(ctx: CreditContext, checkout: CreditCheckout, product_id: str, periods: int) -> Product:
    product = ctx.catalogue.get(product_id, "installment")
    if product not in ctx.catalogue.for_checkout(checkout.category, checkout.amount_fen):
        raise DomainError(ErrorCode.PRODUCT_NOT_OFFERED, f"{product_id} is not offered for this order")
    plans.check_terms(product, checkout.amount_fen, periods)
    return product


def confirm(
    session: Session,
    ctx: CreditContext,
    account: Account,
    checkout: CreditCheckout,
    product_id: str,
    periods: int,
    liveness_session_id: str | None,
    device_id: str | None = None,
    ip: str | None = None,
) -> CreditPlan:
    if checkout.status == CONFIRMED:
        raise DomainError(ErrorCode.CHECKOUT_ALREADY_CONFIRMED, "this order is already paid on installments")
    if checkout.status != OPEN:
        raise DomainError(ErrorCode.CHECKOUT_EXPIRED, "this installment offer has expired; start the checkout again")
    risk.check_can_move_money(account)
    product = offered_product(ctx, checkout, product_id, periods)
    lines.require_available(session, account.id, checkout.amount_fen)
    confirmation = face.confirm(session, ctx, account, liveness_session_id, "installment", new_id())
    verdict = plans.risk_check(
        session,
        account,
        "installment",
        confirmation.plan_id,
        checkout.amount_fen,
        periods,
        device_id,
        ip,
        checkout.merchant_id,
        checkout.category,
        checkout.shipping_address_hash,
    )
    claimed = rowcount(
        session.execute(
            update(CreditCheckout)
            .where(CreditCheckout.id == checkout.id, CreditCheckout.status == OPEN)
            .values(status=CONFIRMED, plan_id=confirmation.plan_id)
        )
    )
    if claimed != 1:
        raise DomainError(ErrorCode.CHECKOUT_ALREADY_CONFIRMED, "this order is already paid on installments")
    merchant = session.get(Merchant, checkout.merchant_id)
    fee = ledger.fee_for(checkout.amount_fen, merchant.fee_bps)  # type: ignore[union-attr]
    settlement = [
        (ledger.account(session, ledger.MERCHANT, checkout.merchant_id), checkout.amount_fen - fee),
        (ledger.account(session, ledger.PLATFORM_FEES, checkout.tenant_id), fee),
    ]
    plan = plans.open_plan(
        session,
        account,
        product,
        checkout.amount_fen,
        periods,
        confirmation,
        ctx.today(),
        f"checkout:{checkout.id}",
        settlement,
        merchant_id=checkout.merchant_id,
        checkout_id=checkout.id,
    )
    risk.completed(session, verdict)
    outbox.enqueue(
        session,
        checkout.tenant_id,
        outbox.CHECKOUT_CONFIRMED,
        {
            "checkout_id": checkout.id,
            "merchant_id": checkout.merchant_id,
            "merchant_order_id": checkout.merchant_order_id,
            **outbox.account_ref(account),
            "status": CONFIRMED,
            "amount_fen": checkout.amount_fen,
            "plan_id": plan.id,
            "product_id": product.id,
            "periods": periods,
        },
    )
    return plan
