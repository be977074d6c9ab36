"""HTTP routes of credit (thin: authenticate, validate, call the service, map the result).

- the platform's back end offers a merchant order on installments (``/v1/accounts/{user}/credit/...``);
- the account holder reads offers and quotes, confirms a checkout or draws a loan with a fresh
  face check, lists plans and repays (``/v1/me/credit/...``);
- operators set credit lines and look up any plan (``/v1/operator/...``);
- the merchant's signed terminal returns goods bought on installments (``/v1/terminal/credit/...``).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import ClientInfo, credit_context, get_session, keeping_refusal_records
from facetrust.api.fields import PlainInt
from facetrust.api.ratelimits import rate_limited
from facetrust.api.terminals import signed_terminal
from facetrust.credit import checkouts, lines, loans, plans, repayments, returns, schedule
from facetrust.credit.context import CreditContext
from facetrust.credit.models import CreditCheckout, CreditPlan, CreditRepayment, CreditReturn
from facetrust.credit.products import Product
from facetrust.credit.schemas import (
    CheckoutCreate,
    CheckoutOut,
    ConfirmCheckoutIn,
    CreditLineIn,
    CreditLineOut,
    CreditOut,
    CreditReturnIn,
    CreditReturnMade,
    FaceCheckOut,
    InstallmentOut,
    LoanIn,
    Offer,
    PlanOut,
    ProductOut,
    QuoteOut,
    RepaymentIn,
    RepaymentMade,
    RepaymentOut,
    ReturnOut,
    ScheduleLine,
    SettlementOut,
)
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account, Tenant
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal, find_account
from facetrust.payments import ledger
from facetrust.payments.models import Merchant, Terminal

router = APIRouter(prefix="/v1", tags=["credit"])
READERS = ("risk_analyst", "compliance_officer", "admin")


def _account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "no such account")
    return account


# --- shapes -------------------------------------------------------------------------------------


def _quote_out(ctx: CreditContext, product: Product, sched: schedule.Schedule) -> QuoteOut:
    today = ctx.today()
    return QuoteOut(
        product_id=product.id,
        method=product.method,
        rate=str(product.rate),
        principal_fen=sched.principal_fen,
        periods=len(sched.installments),
        apr=str(sched.apr),
        effective_annual_rate=str(sched.effective_annual_rate),
        total_cost_fen=sched.total_cost_fen,
        total_payment_fen=sched.total_payment_fen,
        schedule=[
            ScheduleLine(
                number=i.number,
                due_date=plans.add_months(today, i.number),
                principal_fen=i.principal_fen,
                interest_fen=i.interest_fen,
                fee_fen=i.fee_fen,
                payment_fen=i.payment_fen,
                balance_after_fen=i.balance_after_fen,
            )
            for i in sched.installments
        ],
    )


def _checkout_out(session: Session, ctx: CreditContext, row: CreditCheckout) -> CheckoutOut:
    offers = (
        [
            Offer(
                product_id=p.id,
                product_name=p.name,
                product_name_zh=p.name_zh,
                method=p.method,
                rate=str(p.rate),
                periods=n,
                apr=str(s.apr),
                first_payment_fen=s.installments[0].payment_fen,
                total_cost_fen=s.total_cost_fen,
                total_payment_fen=s.total_payment_fen,
            )
            for p, n, s in checkouts.offers(ctx, row)
        ]
        if row.status == checkouts.OPEN
        else []
    )
    merchant = session.get(Merchant, row.merchant_id)
    return CheckoutOut(
        checkout_id=row.id,
        merchant_id=row.merchant_id,
        merchant_name=merchant.name if merchant else "",
        merchant_order_id=row.merchant_order_id,
        amount_fen=row.amount_fen,
        category=row.category,
        description=row.description,
        status=row.status,
        plan_id=row.plan_id,
        expires_at=row.expires_at,
        offers=offers,
    )


def _installment_out(state: plans.InstallmentState) -> InstallmentOut:
    return InstallmentOut(
        number=state.number,
        due_date=state.due_date,
        principal_fen=state.principal_fen,
        interest_fen=state.interest_fen,
        fee_fen=state.fee_fen,
        penalty_fen=state.penalty_fen,
        amount_fen=state.amount_fen,
        status=state.status,
        days_overdue=state.days_overdue,  # type: ignore[arg-type]
        paid_at=state.paid_at,
    )


def _repayment_out(row: CreditRepayment) -> RepaymentOut:
    return RepaymentOut(
        repayment_id=row.id,
        kind=row.kind,
        amount_fen=row.amount_fen,
        principal_fen=row.principal_fen,
        interest_fen=row.interest_fen,
        fee_fen=row.fee_fen,
        penalty_fen=row.penalty_fen,
        on_date=row.on_date,
        transaction_id=row.transaction_id,
        created_at=row.created_at,
    )


def _return_out(row: CreditReturn) -> ReturnOut:
    return ReturnOut(
        return_id=row.id,
        merchant_return_id=row.merchant_return_id,
        amount_fen=row.amount_fen,
        full=row.full,
        principal_cancelled_fen=row.principal_cancelled_fen,
        principal_refunded_fen=row.principal_refunded_fen,
        fee_cancelled_fen=row.fee_cancelled_fen,
        interest_cancelled_fen=row.interest_cancelled_fen,
        fee_refunded_fen=row.fee_refunded_fen,
        interest_refunded_fen=row.interest_refunded_fen,
        wallet_fen=row.wallet_fen,
        created_at=row.created_at,
    )


def _plan_out(session: Session, ctx: CreditContext, plan: CreditPlan, for_operator: bool = False) -> PlanOut:
    terms = json.loads(plan.terms)
    states = [_installment_out(s) for s in plans.states(session, plan, ctx.today())]
    unpaid = [s for s in states if s.status in ("overdue", "due", "upcoming")]
    face_check = (
        FaceCheckOut(
            liveness_session_id=plan.liveness_session_id,
            score=plan.face_score,
            threshold=plan.face_threshold,
            model_id=plan.face_model_id,
            calibration_id=plan.face_calibration_id,
        )
        if for_operator
        else None
    )
    return PlanOut(
        plan_id=plan.id,
        kind=plan.kind,
        product_id=plan.product_id,
        method=terms["method"],
        rate=terms["rate"],
        principal_fen=plan.principal_fen,
        periods=plan.periods,
        apr=plan.apr,
        start_date=plan.start_date,
        status=plan.status,
        outstanding_principal_fen=plan.outstanding_principal_fen,
        returned_fen=plan.returned_fen,
        merchant_id=plan.merchant_id,
        checkout_id=plan.checkout_id,
        created_at=plan.created_at,
        next_payment=unpaid[0] if unpaid else None,
        installments=states,
        repayments=[_repayment_out(r) for r in repayments.history(session, plan.id)],
        returns=[_return_out(r) for r in returns.of_plan(session, plan.id)],
        face_check=face_check,
    )


def _line_out(session: Session, account_id: str) -> CreditLineOut | None:
    line = lines.line_of(session, account_id)
    return (
        CreditLineOut(
            limit_fen=line.limit_fen, used_fen=line.used_fen, available_fen=lines.available(line), status=line.status
        )
        if line
        else None
    )


def _credit_out(session: Session, ctx: CreditContext, account_id: str, for_operator: bool = False) -> CreditOut:
    return CreditOut(
        line=_line_out(session, account_id),
        plans=[_plan_out(session, ctx, p, for_operator) for p in plans.plans_of(session, account_id)],
    )


# --- the platform's back end --------------------------------------------------------------------


@router.post("/accounts/{platform_user_id}/credit/checkouts", status_code=201, response_model=CheckoutOut)
def create_checkout(
    platform_user_id: str,
    body: CheckoutCreate,
    response: Response,
    tenant: Tenant = Depends(auth.tenant),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> CheckoutOut:
    """Offer a merchant's order to the user on installments; the same order again returns it (200)."""
    account = find_account(session, tenant, platform_user_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "no account with this platform user id")
    row, created = checkouts.create(
        session,
        ctx,
        tenant,
        account,
        body.merchant_id,
        body.merchant_order_id,
        body.amount_fen,
        body.category,
        body.description,
        body.shipping_address,
    )
    session.commit()
    if not created:
        response.status_code = 200
    return _checkout_out(session, ctx, row)


# --- the merchant's terminal --------------------------------------------------------------------


@router.post(
    "/terminal/credit/checkouts/{checkout_id}/returns",
    status_code=201,
    response_model=CreditReturnMade,
    dependencies=[rate_limited("terminal", who=signed_terminal)],
)
def return_installment_goods(
    checkout_id: str,
    body: CreditReturnIn,
    response: Response,
    terminal: Terminal = Depends(signed_terminal),
    session: Session = Depends(get_session),
) -> CreditReturnMade:
    """Take back all or part of an order bought on installments: the plan is unwound to the fen by
    its product's return rule, the cancelled principal goes back to the credit line, and what the
    buyer already paid for the returned goods to their wallet. The same return id returns the same
    return (200); another amount under it is 409 ``idempotency_key_reused``."""
    row, plan, created = returns.return_goods(session, terminal, checkout_id, body.return_id, body.amount_fen)
    session.commit()
    if not created:
        response.status_code = 200
    checkout = session.get(CreditCheckout, checkout_id)
    return CreditReturnMade(
        return_id=row.merchant_return_id,
        checkout_id=checkout_id,
        merchant_order_id=checkout.merchant_order_id,  # type: ignore[union-attr]
        amount_fen=row.amount_fen,
        full=row.full,
        returned_fen=plan.returned_fen,
        returnable_fen=returns.returnable_fen(plan),
        transaction_id=row.transaction_id,
        created_at=row.created_at,
    )


# --- the account holder -------------------------------------------------------------------------


@router.get("/me/credit", response_model=CreditOut)
def my_credit(
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> CreditOut:
    """The credit line and every plan and loan, each period with its due date, amounts, status
    (penalties accrued to today) and the next payment."""
    return _credit_out(session, ctx, p.account_id)  # type: ignore[arg-type]


@router.get("/me/credit/products", response_model=list[ProductOut])
def credit_products(
    p: Principal = Depends(auth.user), ctx: CreditContext = Depends(credit_context)
) -> list[ProductOut]:
    return [
        ProductOut(
            product_id=x.id,
            kind=x.kind,
            name=x.name,
            name_zh=x.name_zh,
            method=x.method,
            rate=str(x.rate),
            periods=list(x.periods),
            categories=list(x.categories) if x.categories is not None else None,
            min_principal_fen=x.min_principal_fen,
            max_principal_fen=x.max_principal_fen,
            penalty_daily_rate=str(x.penalty_daily_rate),
            prepayment=x.prepayment,
        )
        for x in ctx.catalogue.products.values()
    ]


@router.get("/me/credit/checkouts/{checkout_id}", response_model=CheckoutOut)
def my_checkout(
    checkout_id: str,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> CheckoutOut:
    """The order and every offer for it: product, term, annualised rate, first payment, total cost."""
    row = checkouts.own(session, p.account_id, checkout_id)  # type: ignore[arg-type]
    session.commit()
    return _checkout_out(session, ctx, row)


@router.get("/me/credit/checkouts/{checkout_id}/quote", response_model=QuoteOut)
def checkout_quote(
    checkout_id: str,
    product_id: Annotated[str, Query(max_length=48)],
    periods: Annotated[PlainInt, Query(gt=0, le=60)],
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> QuoteOut:
    """The full schedule of one offer, with due dates if confirmed today: shown before confirming."""
    row = checkouts.own(session, p.account_id, checkout_id)  # type: ignore[arg-type]
    product = checkouts.offered_product(ctx, row, product_id, periods)
    return _quote_out(ctx, product, schedule.build(row.amount_fen, periods, product.pricing))


@router.post("/me/credit/checkouts/{checkout_id}/confirm", status_code=201, response_model=PlanOut)
def confirm_checkout(
    checkout_id: str,
    body: ConfirmCheckoutIn,
    p: Principal = Depends(auth.money_user),  # the bound device, past a re-binding's cool-down
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
    client: ClientInfo = Depends(auth.user_client),
) -> PlanOut:
    """Buy on installments: needs a passed ``installment`` liveness session made moments before
    whose face matches the account's real-name face. Writes the plan, settles the merchant and posts
    it, in one transaction."""
    account = _account(session, p.account_id)  # type: ignore[arg-type]
    row = checkouts.own(session, account.id, checkout_id)
    with keeping_refusal_records(session):
        plan = checkouts.confirm(
            session,
            ctx,
            account,
            row,
            body.product_id,
            body.periods,
            body.liveness_session_id,
            client.device_id,
            client.ip,
        )
    session.commit()
    return _plan_out(session, ctx, plan)


@router.get("/me/credit/loan-quote", response_model=QuoteOut)
def loan_quote(
    product_id: Annotated[str, Query(max_length=48)],
    amount_fen: Annotated[PlainInt, Query(gt=0, le=10**8)],
    periods: Annotated[PlainInt, Query(gt=0, le=60)],
    p: Principal = Depends(auth.user),
    ctx: CreditContext = Depends(credit_context),
) -> QuoteOut:
    product, sched = loans.quote(ctx, product_id, amount_fen, periods)
    return _quote_out(ctx, product, sched)


@router.post("/me/credit/loans", status_code=201, response_model=PlanOut)
def draw_loan(
    body: LoanIn,
    response: Response,
    p: Principal = Depends(auth.money_user),  # the bound device, past a re-binding's cool-down
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
    client: ClientInfo = Depends(auth.user_client),
) -> PlanOut:
    """Draw a loan into the wallet. Always needs a passed ``loan`` liveness session made moments
    before whose face matches the account's real-name face; nothing switches that off. The same
    idempotency key returns the first drawdown (200)."""
    account = _account(session, p.account_id)  # type: ignore[arg-type]
    with keeping_refusal_records(session):
        plan, created = loans.draw(
            session,
            ctx,
            account,
            body.product_id,
            body.amount_fen,
            body.periods,
            body.liveness_session_id,
            body.idempotency_key,
            client.device_id,
            client.ip,
        )
    session.commit()
    if not created:
        response.status_code = 200
    return _plan_out(session, ctx, plan)


@router.get("/me/credit/plans", response_model=list[PlanOut])
def my_plans(
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> list[PlanOut]:
    return _credit_out(session, ctx, p.account_id).plans  # type: ignore[arg-type]


@router.get("/me/credit/plans/{plan_id}", response_model=PlanOut)
def my_plan(
    plan_id: str,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> PlanOut:
    return _plan_out(session, ctx, plans.own_plan(session, p.account_id, plan_id))  # type: ignore[arg-type]


@router.get("/me/credit/plans/{plan_id}/repayment-quote", response_model=SettlementOut)
def repayment_quote(
    plan_id: str,
    kind: str = Query(pattern="^(installment|payoff|partial)$"),
    amount_fen: Annotated[PlainInt | None, Query(gt=0, le=10**8)] = None,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> SettlementOut:
    """What a repayment would take from the wallet today, and how it splits."""
    plan = plans.own_plan(session, p.account_id, plan_id)  # type: ignore[arg-type]
    today = ctx.today()
    result = repayments.settle(session, plan, kind, amount_fen, today)
    return SettlementOut(on_date=today, **result.as_dict())


@router.post("/me/credit/plans/{plan_id}/repayments", status_code=201, response_model=RepaymentMade)
def repay(
    plan_id: str,
    body: RepaymentIn,
    response: Response,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> RepaymentMade:
    """Repay from the wallet: the next installment, everything (payoff) or part of the principal
    (partial). The same idempotency key returns the first repayment (200)."""
    account = _account(session, p.account_id)  # type: ignore[arg-type]
    plan = plans.own_plan(session, account.id, plan_id)
    row, created = repayments.repay(
        session, account, plan, body.kind, body.amount_fen, body.idempotency_key, ctx.today()
    )
    session.commit()
    if not created:
        response.status_code = 200
    return RepaymentMade(
        repayment=_repayment_out(row),
        plan=_plan_out(session, ctx, plan),
        wallet_balance_fen=ledger.balance(session, ledger.WALLET, account.id),
    )


# --- operators ----------------------------------------------------------------------------------


@router.put("/operator/accounts/{account_id}/credit-line", response_model=CreditLineOut)
def set_credit_line(
    account_id: str,
    body: CreditLineIn,
    op: Principal = Depends(auth.operator("risk_analyst", "admin")),
    session: Session = Depends(get_session),
) -> CreditLineOut:
    """Grant or change an account's credit limit (real-name authentication required)."""
    lines.grant(session, Scope.of(op).account(session, account_id), body.limit_fen, op.audit_name, body.reason)
    session.commit()
    return _line_out(session, account_id)  # type: ignore[return-value]


@router.get("/operator/accounts/{account_id}/credit", response_model=CreditOut)
def account_credit(
    account_id: str,
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> CreditOut:
    Scope.of(op).account(session, account_id)
    return _credit_out(session, ctx, account_id, for_operator=True)


@router.get("/operator/credit/plans/{plan_id}", response_model=PlanOut)
def any_plan(
    plan_id: str,
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
    ctx: CreditContext = Depends(credit_context),
) -> PlanOut:
    """Any plan of the operator's scope, with the face check that confirmed it."""
    plan = session.get(CreditPlan, plan_id)
    if plan is None:
        raise DomainError(ErrorCode.PLAN_NOT_FOUND, "no such plan")
    Scope.of(op).tenant(plan.tenant_id, ErrorCode.PLAN_NOT_FOUND, "no such plan")
    return _plan_out(session, ctx, plan, for_operator=True)
