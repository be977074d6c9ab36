"""HTTP routes of face pay (thin: authenticate, validate, call the service, map the result).

Four audiences, four doors:
- terminals (``/v1/terminal/...``), every request HMAC-signed; they see only ``TerminalPaymentOut``;
- the payer's capture page (``/v1/capture/{token}/...``), holding the one-time token of one intent;
- the account holder (``/v1/me/face-pay``, ``/v1/me/wallet``) with their bearer token;
- operators (merchant and terminal registration) and the platform's back end (wallet top-ups).
"""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import face_pay_context, get_session
from facetrust.api.ratelimits import rate_limited
from facetrust.api.terminals import signed_terminal
from facetrust.clock import utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account, Tenant
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal, find_account
from facetrust.liveness.schemas import INSTRUCTIONS, CaptureIn
from facetrust.liveness.upload import read_capture
from facetrust.payments import controls, enrolment, intents, ledger, merchants, refunds, wallets
from facetrust.payments.context import FacePayContext
from facetrust.payments.models import Merchant, PaymentIntent, Terminal
from facetrust.payments.schemas import (
    CaptureChallenge,
    CaptureView,
    DisputeOut,
    FacePayEnrolIn,
    FacePayStatusOut,
    IntentCreate,
    MerchantCreate,
    MerchantOut,
    OwnLimitsIn,
    PauseIn,
    PhoneDigitsIn,
    RefundIn,
    RefundOut,
    TerminalCreate,
    TerminalCreated,
    TerminalPaymentOut,
    TopUpIn,
    WalletOut,
    WalletPayment,
)

router = APIRouter(prefix="/v1", tags=["face pay"])


def _terminal_out(ctx: FacePayContext, intent: PaymentIntent) -> TerminalPaymentOut:
    waiting = intent.status in intents.OPEN
    return TerminalPaymentOut(
        intent_id=intent.id,
        merchant_order_id=intent.merchant_order_id,
        amount_fen=intent.amount_fen,
        currency=intent.currency,
        status="needs_payer_input" if intent.status == intents.NEEDS_INPUT else intent.status,
        transaction_id=intent.transaction_id,
        payer_name_masked=intent.payer_name_masked,
        refunded_fen=intent.refunded_fen,
        created_at=intent.created_at,
        expires_at=intent.expires_at,
        decided_at=intent.decided_at,
        capture_url=f"/pay/capture#{intents.capture_token(ctx, intent)}" if waiting else None,
    )


# --- terminals ----------------------------------------------------------------------------------


@router.post(
    "/terminal/payment-intents",
    status_code=201,
    response_model=TerminalPaymentOut,
    dependencies=[rate_limited("terminal", who=signed_terminal)],
)
def create_payment_intent(
    body: IntentCreate,
    request: Request,
    response: Response,
    terminal: Terminal = Depends(signed_terminal),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> TerminalPaymentOut:
    """Ask for a payment. The same idempotency key returns the original payment (200), never a
    second one; the answer's capture link is for the payer's screen."""
    digest = hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()
    intent, created = intents.create_intent(
        session,
        ctx,
        terminal,
        body.amount_fen,
        body.currency,
        body.merchant_order_id,
        body.idempotency_key,
        body.description,
        digest,
    )
    session.commit()
    if not created:
        response.status_code = 200
    return _terminal_out(ctx, intent)


@router.get("/terminal/payment-intents/{intent_id}", response_model=TerminalPaymentOut)
def read_payment_intent(
    intent_id: str,
    terminal: Terminal = Depends(signed_terminal),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> TerminalPaymentOut:
    intent = intents.terminal_intent(session, terminal, intent_id)
    session.commit()  # an intent found expired is recorded as such
    return _terminal_out(ctx, intent)


@router.post("/terminal/payment-intents/{intent_id}/refunds", status_code=201, response_model=RefundOut)
def refund_payment(
    intent_id: str,
    body: RefundIn,
    response: Response,
    terminal: Terminal = Depends(signed_terminal),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> RefundOut:
    """Refund all or part of a paid payment; the same refund id returns the same refund (200)."""
    row, created = refunds.refund(session, terminal, intent_id, body.refund_id, body.amount_fen)
    session.commit()
    if not created:
        response.status_code = 200
    intent = session.get(PaymentIntent, row.intent_id)
    return RefundOut(
        refund_id=row.merchant_refund_id,
        amount_fen=row.amount_fen,
        transaction_id=row.transaction_id,
        payment=_terminal_out(ctx, intent),  # type: ignore[arg-type]
    )


# --- the payer's capture page -------------------------------------------------------------------


def _capture_view(session: Session, ctx: FacePayContext, intent: PaymentIntent, answering: bool = False) -> CaptureView:
    """The page's view. The reason for a decline is the payer's: it goes only in the answer to the
    frames or digits that decided it (``answering``). Reading the page by its token never shows it,
    because the terminal holds that token too (it made the capture link) and may learn only that
    the payment was not completed (issue 19)."""
    merchant = session.get(Merchant, intent.merchant_id)
    challenge = None
    row = intents.current_capture(session, ctx, intent)
    if row is not None:
        actions = json.loads(row.actions)
        challenge = CaptureChallenge(
            session_id=row.id,
            nonce=row.nonce,
            actions=actions,
            instructions=[INSTRUCTIONS[a] for a in actions],
            expires_at=row.expires_at,
        )
    step = None
    if intent.status == intents.AWAITING_FACE:
        step = "face"
    elif intent.status == intents.NEEDS_INPUT:
        step = intent.step
    return CaptureView(
        merchant_name=merchant.name,  # type: ignore[union-attr]
        amount_fen=intent.amount_fen,
        currency=intent.currency,
        status=intent.status,
        step=step,
        challenge=challenge,
        decline_reason=intent.decline_reason if answering else None,
        payer_name_masked=intent.payer_name_masked,
    )


@router.get("/capture/{token}", response_model=CaptureView)
def open_capture(
    token: str, session: Session = Depends(get_session), ctx: FacePayContext = Depends(face_pay_context)
) -> CaptureView:
    """What the payer is asked to do now, with the challenge to answer; once decided, whether it
    was paid, but never why it was declined (see ``_capture_view``)."""
    intent = intents.by_token(session, token)
    view = _capture_view(session, ctx, intent)
    session.commit()
    return view


@router.post("/capture/{token}/frames", response_model=CaptureView, dependencies=[rate_limited("capture")])
def capture_frames(
    token: str,
    body: CaptureIn,
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> CaptureView:
    """The payer's frames, straight from the capture page: liveness, identification, payment."""
    intent = intents.by_token(session, token)
    intent = intents.submit_frames(session, ctx, intent, body.nonce, lambda: read_capture(body, ctx.live))
    view = _capture_view(session, ctx, intent, answering=True)
    try:
        session.commit()
    except IntegrityError:  # the same frames, committed a moment ago by a racing capture
        session.rollback()
        raise DomainError(
            ErrorCode.LIVENESS_FRAMES_REPLAYED, "these frames were already used in another capture"
        ) from None
    return view


@router.post("/capture/{token}/phone-digits", response_model=CaptureView, dependencies=[rate_limited("capture")])
def capture_phone_digits(
    token: str,
    body: PhoneDigitsIn,
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> CaptureView:
    """The last four digits of the payer's mobile number, when the face alone was not certain."""
    intent = intents.submit_phone_digits(session, ctx, intents.by_token(session, token), body.digits)
    view = _capture_view(session, ctx, intent, answering=True)
    session.commit()
    return view


# --- the account holder -------------------------------------------------------------------------


def _account(session: Session, p: Principal) -> Account:
    account = session.get(Account, p.account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "the account no longer exists")
    return account


def _status(session: Session, ctx: FacePayContext, account: Account) -> FacePayStatusOut:
    from facetrust.consent import service as consent

    row = enrolment.enrolled_template(session, account.id)
    own = controls.control(session, account.id)
    return FacePayStatusOut(
        enabled=row is not None,
        consent_granted=consent.is_granted(session, account.id, "face_pay"),
        enrolled_at=row.created_at if row else None,
        transaction_limit_fen=ctx.limits.transaction_fen,
        daily_limit_fen=ctx.limits.daily_fen,
        spent_today_fen=intents.spent_today(session, ctx, account.id, utcnow()),
        own_transaction_limit_fen=own.transaction_limit_fen if own else None,
        own_daily_limit_fen=own.daily_limit_fen if own else None,
        paused=bool(own and own.paused_at),
        paused_at=own.paused_at if own else None,
    )


@router.get("/me/face-pay", response_model=FacePayStatusOut)
def face_pay_status(
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> FacePayStatusOut:
    return _status(session, ctx, _account(session, p))


@router.post(
    "/me/face-pay", status_code=201, response_model=FacePayStatusOut, dependencies=[rate_limited("face", who=auth.user)]
)
def switch_face_pay_on(
    body: FacePayEnrolIn,
    p: Principal = Depends(auth.money_user),  # face pay lets money leave: the bound device only
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> FacePayStatusOut:
    """Switch face pay on with a passed `face_pay_enrolment` liveness session (the face_pay consent
    must be granted first). Refusals keep what they record (spent pass, lockout, risk case)."""
    account = _account(session, p)
    result = enrolment.enrol(session, ctx, account, body.liveness_session_id)
    session.commit()
    if result.refusal:
        raise result.refusal
    return _status(session, ctx, account)


@router.delete("/me/face-pay", response_model=FacePayStatusOut)
def switch_face_pay_off(
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> FacePayStatusOut:
    """Revoke face pay: the consent is withdrawn and the template deleted from the database and the
    gallery before this returns. The real-name record stays."""
    account = _account(session, p)
    enrolment.revoke(session, account)
    session.commit()  # the gallery follows the deleted template (facetrust/bootstrap.py)
    return _status(session, ctx, account)


@router.put("/me/face-pay/limits", response_model=FacePayStatusOut)
def set_own_face_pay_limits(
    body: OwnLimitsIn,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> FacePayStatusOut:
    """The person's own per-payment and daily limits, at or below the platform's (null clears one).
    A face payment above one is declined `own_limit_exceeded`; no step-up lifts it."""
    account = _account(session, p)
    controls.set_limits(session, ctx.limits, account, body.transaction_limit_fen, body.daily_limit_fen)
    session.commit()
    return _status(session, ctx, account)


@router.put("/me/face-pay/pause", response_model=FacePayStatusOut)
def pause_face_pay(
    body: PauseIn,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> FacePayStatusOut:
    """Pause (`paused: true`) or resume face pay. The template is kept, so resuming needs no new
    enrolment; while paused no terminal can identify or charge the person."""
    account = _account(session, p)
    controls.pause(session, account, body.paused)
    session.commit()
    return _status(session, ctx, account)


@router.post("/me/face-pay/payments/{intent_id}/dispute", status_code=201, response_model=DisputeOut)
def dispute_face_payment(
    intent_id: str,
    response: Response,
    p: Principal = Depends(auth.user),
    session: Session = Depends(get_session),
) -> DisputeOut:
    """ "I don't recognise this payment": opens a risk case for an operator; freezes nothing unless the
    risk rules decide so. A second dispute of the same payment returns the first (200)."""
    result = controls.dispute(session, _account(session, p), intent_id)
    session.commit()
    if not result.created:
        response.status_code = 200
    row = result.dispute
    return DisputeOut(
        dispute_id=row.id, intent_id=row.intent_id, case_opened=row.case_id is not None, created_at=row.created_at
    )


@router.get("/me/wallet", response_model=WalletOut)
def my_wallet(p: Principal = Depends(auth.user), session: Session = Depends(get_session)) -> WalletOut:
    rows = session.execute(
        select(PaymentIntent, Merchant.name)
        .join(Merchant, Merchant.id == PaymentIntent.merchant_id)
        .where(
            PaymentIntent.payer_account_id == p.account_id, PaymentIntent.status.in_((intents.PAID, intents.DECLINED))
        )
        .order_by(PaymentIntent.created_at.desc())
        .limit(50)
    ).all()
    disputed = controls.disputed_intents(session, p.account_id)  # type: ignore[arg-type]
    return WalletOut(
        balance_fen=ledger.balance(session, ledger.WALLET, p.account_id),  # type: ignore[arg-type]
        payments=[
            WalletPayment(
                intent_id=i.id,
                merchant_name=name,
                amount_fen=i.amount_fen,
                refunded_fen=i.refunded_fen,
                status=i.status,
                decided_at=i.decided_at,
                disputed=i.id in disputed,
            )
            for i, name in rows
        ],
    )


# --- the platform's back end and operators ------------------------------------------------------


@router.post("/accounts/{platform_user_id}/wallet/top-ups", status_code=201)
def top_up_wallet(
    platform_user_id: str,
    body: TopUpIn,
    response: Response,
    tenant: Tenant = Depends(auth.tenant),
    session: Session = Depends(get_session),
) -> dict:
    """Credit money the platform received for its user; the same reference tops up once (200)."""
    account = find_account(session, tenant, platform_user_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "no account with this platform user id")
    txn, created = wallets.top_up(session, tenant, account, body.amount_fen, body.reference)
    session.commit()
    if not created:
        response.status_code = 200
    return {"transaction_id": txn.id, "balance_fen": ledger.balance(session, ledger.WALLET, account.id)}


@router.post("/operator/merchants", status_code=201, response_model=MerchantOut)
def register_merchant(
    body: MerchantCreate, op: Principal = Depends(auth.operator("admin")), session: Session = Depends(get_session)
) -> MerchantOut:
    Scope.of(op).tenant(body.tenant_id, ErrorCode.TENANT_NOT_FOUND, "no such platform")
    m = merchants.register_merchant(
        session, op.audit_name, body.tenant_id, body.name, body.fee_bps, body.latitude, body.longitude
    )
    session.commit()
    return MerchantOut(
        merchant_id=m.id,
        tenant_id=m.tenant_id,
        name=m.name,
        fee_bps=m.fee_bps,
        status=m.status,
        created_at=m.created_at,
    )


@router.post("/operator/merchants/{merchant_id}/terminals", status_code=201, response_model=TerminalCreated)
def register_terminal(
    merchant_id: str,
    body: TerminalCreate,
    op: Principal = Depends(auth.operator("admin")),
    session: Session = Depends(get_session),
    ctx: FacePayContext = Depends(face_pay_context),
) -> TerminalCreated:
    """A terminal and its signing secret, shown only in this answer."""
    Scope.of(op).merchant_id(session, merchant_id, ErrorCode.MERCHANT_NOT_FOUND, "no such merchant")
    terminal, secret = merchants.register_terminal(session, ctx.keyring, op.audit_name, merchant_id, body.label)
    session.commit()
    return TerminalCreated(
        terminal_id=terminal.id, merchant_id=terminal.merchant_id, label=terminal.label, secret=secret
    )
