"""A face payment from the terminal's request to the money moving.

1. The terminal creates an intent (amount in fen, CNY, its order id, an idempotency key) and gets a
   capture link with a one-time token; the same key returns the same intent, never a second one.
2. The platform's capture page, opened with the token, sends the payer's frames straight to the
   platform. Every capture asks for a random action (a blink or an open mouth); above a limit, or
   when the risk engine asks, a step-up asks for two or three.
3. The live face is searched in the merchant's platform's gallery (``gallery/decision.py``): a
   certain result names the payer; an uncertain one, or a large gallery, asks the payer for the last
   four digits of their mobile number; wrong digits are a failed attempt for the lockout.
4. The risk engine decides (once per payment) and the payer's limits apply: a ``step_up`` decision
   or an amount over a limit asks for an active liveness check matched to the payer's face-pay
   face; a refusal declines. Then one balanced ledger transaction moves the money (payer's wallet
   to merchant, less the platform's fee).

A terminal sees only the status, a transaction id and the payer's masked name. Every state change
is a conditional update from the expected state, so a double submission cannot pay twice; the
ledger's unique reference per intent is the last line of that defence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust import metrics
from facetrust.clock import as_utc, utcnow
from facetrust.consent import service as consent
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.gallery import decision
from facetrust.gallery.decision import Candidate, Identification
from facetrust.identity import kyc
from facetrust.identity.models import Account
from facetrust.identity.service import mask_name
from facetrust.liveness import service as liveness
from facetrust.liveness.frames import Frame
from facetrust.liveness.models import LivenessSession
from facetrust.payments import controls, ledger
from facetrust.payments.context import FacePayContext
from facetrust.payments.models import Merchant, PaymentIntent, Terminal
from facetrust.risk import engine as risk
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit, lockout, template_store
from facetrust.security.envelope import Sealed
from facetrust.store.db import rowcount
from facetrust.webhooks import outbox

AWAITING_FACE, NEEDS_INPUT, PAID, DECLINED, EXPIRED = "awaiting_face", "needs_input", "paid", "declined", "expired"
OPEN = (AWAITING_FACE, NEEDS_INPUT)
PHONE_DIGITS, STEP_UP = "phone_digits", "step_up"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_aad(intent: PaymentIntent) -> bytes:
    return f"capture_token:{intent.id}:{intent.terminal_id}".encode()


def capture_token(ctx: FacePayContext, intent: PaymentIntent) -> str:
    return ctx.keyring.open(
        Sealed(intent.capture_token_sealed, intent.capture_token_wrapped_key, intent.master_key_id), _token_aad(intent)
    ).decode()


# --- 1. the terminal's intent -------------------------------------------------------------------


def create_intent(
    session: Session,
    ctx: FacePayContext,
    terminal: Terminal,
    amount_fen: int,
    currency: str,
    merchant_order_id: str,
    idempotency_key: str,
    description: str | None,
    request_sha256: str,
) -> tuple[PaymentIntent, bool]:
    """The intent for this idempotency key: (intent, created). A key reused with another request
    is 409 ``idempotency_key_reused``."""
    existing = _by_key(session, terminal.id, idempotency_key)
    if existing is not None:
        return _same_request(existing, request_sha256), False
    if currency != "CNY":
        raise DomainError(ErrorCode.CURRENCY_UNSUPPORTED, "face pay takes CNY only")
    merchant = session.get(Merchant, terminal.merchant_id)
    if merchant is None or merchant.status != "active":
        raise DomainError(ErrorCode.MERCHANT_NOT_ACTIVE, "the merchant cannot take payments")
    taken = (
        session.execute(
            select(PaymentIntent).where(
                PaymentIntent.merchant_id == merchant.id,
                PaymentIntent.merchant_order_id == merchant_order_id,
                PaymentIntent.status.in_((PAID, *OPEN)),
            )
        )
        .scalars()
        .first()
    )
    if taken is not None:
        if (taken.terminal_id, taken.idempotency_key) == (terminal.id, idempotency_key):
            return _same_request(taken, request_sha256), False  # committed a moment ago by a racing retry
        raise DomainError(ErrorCode.ORDER_ALREADY_OPEN, "this merchant order already has a paid or pending payment")
    now = utcnow()
    token = "ftc_" + secrets.token_urlsafe(32)
    intent = PaymentIntent(
        merchant_id=merchant.id,
        terminal_id=terminal.id,
        merchant_order_id=merchant_order_id,
        idempotency_key=idempotency_key,
        request_sha256=request_sha256,
        amount_fen=amount_fen,
        currency=currency,
        description=description,
        status=AWAITING_FACE,
        capture_token_hash=token_hash(token),
        capture_token_sealed=b"",
        capture_token_wrapped_key=b"",
        master_key_id="",
        created_at=now,
        expires_at=now + ctx.intent_ttl,
    )
    try:
        with session.begin_nested():
            session.add(intent)
            session.flush()
    except IntegrityError:  # the same key, committed a moment ago by a racing retry
        return _same_request(_by_key(session, terminal.id, idempotency_key), request_sha256), False  # type: ignore[arg-type]
    sealed = ctx.keyring.seal(token.encode(), _token_aad(intent))
    intent.capture_token_sealed, intent.capture_token_wrapped_key = sealed.ciphertext, sealed.wrapped_key
    intent.master_key_id = sealed.master_key_id
    events.emit(
        session,
        EventIn(
            "payment_intent",
            device_id=f"terminal:{terminal.id}",
            merchant_id=merchant.id,
            amount_fen=amount_fen,
            ref=intent.id,
        ),
    )
    audit.append(
        session,
        actor=f"terminal:{terminal.id}",
        action="payment.intent",
        subject=f"intent:{intent.id}",
        details={"amount_fen": amount_fen, "merchant_order_id": merchant_order_id},
    )
    return intent, True


def _by_key(session: Session, terminal_id: str, key: str) -> PaymentIntent | None:
    return session.execute(
        select(PaymentIntent).where(PaymentIntent.terminal_id == terminal_id, PaymentIntent.idempotency_key == key)
    ).scalar_one_or_none()


def _same_request(intent: PaymentIntent, request_sha256: str) -> PaymentIntent:
    if intent.request_sha256 != request_sha256:
        raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used for a different request")
    return intent


def terminal_intent(session: Session, terminal: Terminal, intent_id: str) -> PaymentIntent:
    intent = session.get(PaymentIntent, intent_id)
    if intent is None or intent.merchant_id != terminal.merchant_id:
        raise DomainError(ErrorCode.INTENT_NOT_FOUND, "no such payment")
    expire_if_due(session, intent)
    return intent


def expire_if_due(session: Session, intent: PaymentIntent) -> None:
    if intent.status in OPEN and utcnow() > as_utc(intent.expires_at):
        _move(
            session,
            intent,
            intent.status,
            status=EXPIRED,
            step=None,
            decided_at=utcnow(),
            candidates=None,
            decline_reason="expired",
        )


def _move(session: Session, intent: PaymentIntent, expected: str, **values) -> None:
    """Change the intent only if it is still in ``expected`` (and the same step): of two racing
    submissions one moves it and the other gets 409 ``payment_already_decided``."""
    moved = rowcount(
        session.execute(
            update(PaymentIntent)
            .where(
                PaymentIntent.id == intent.id,
                PaymentIntent.status == expected,
                PaymentIntent.step.is_(None) if intent.step is None else PaymentIntent.step == intent.step,
            )
            .values(**values)
        )
    )
    if moved != 1:
        raise DomainError(ErrorCode.PAYMENT_ALREADY_DECIDED, "this payment has already moved on")
    if values.get("status") in (PAID, DECLINED, EXPIRED):  # the payment has ended
        metrics.FACE_PAY_PAYMENTS.labels(values["status"], values.get("decline_reason") or "").inc()
    session.refresh(intent)


# --- 2. the capture page ------------------------------------------------------------------------


def by_token(session: Session, token: str) -> PaymentIntent:
    intent = session.execute(
        select(PaymentIntent).where(PaymentIntent.capture_token_hash == token_hash(token))
    ).scalar_one_or_none()
    if intent is None:
        raise DomainError(ErrorCode.CAPTURE_SESSION_NOT_FOUND, "this payment link is not valid")
    expire_if_due(session, intent)
    return intent


def current_capture(session: Session, ctx: FacePayContext, intent: PaymentIntent) -> LivenessSession | None:
    """The liveness session the capture page answers now; a fresh one when the last has expired
    unanswered. None when the page has nothing to capture (phone step, or decided)."""
    if not (intent.status == AWAITING_FACE or (intent.status == NEEDS_INPUT and intent.step == STEP_UP)):
        return None
    row = session.get(LivenessSession, intent.liveness_session_id) if intent.liveness_session_id else None
    if row is not None and row.status == "pending" and utcnow() <= as_utc(row.expires_at):
        return row
    actions = liveness.random_actions(ctx.live, "payment", step_up=_needs_step_up(ctx, intent))
    row = liveness.create_payment_capture(
        session, ctx.live, f"terminal:{intent.terminal_id}", intent.payer_account_id, actions
    )
    intent.liveness_session_id = row.id
    return row


def _needs_step_up(ctx: FacePayContext, intent: PaymentIntent) -> bool:
    return intent.step == STEP_UP or (
        ctx.limits.over_limit == "step_up" and intent.amount_fen > ctx.limits.transaction_fen
    )


def submit_frames(
    session: Session, ctx: FacePayContext, intent: PaymentIntent, nonce: str, read_frames: Callable[[], list[Frame]]
) -> PaymentIntent:
    if intent.status == EXPIRED:
        raise DomainError(ErrorCode.PAYMENT_EXPIRED, "this payment has expired; ask the merchant to start again")
    row = current_capture(session, ctx, intent)
    if row is None:
        raise DomainError(ErrorCode.CAPTURE_NOT_EXPECTED, "this payment is not waiting for a face capture")
    liveness.submit(session, ctx.live, row, nonce, read_frames)
    if row.status != "passed":
        reasons = json.loads(row.reasons or "[]")
        return _decline(session, intent, "liveness_failed", {"liveness_reasons": reasons})
    _, face = liveness.spend_pass(session, ctx.live, row.account_id, row.id, "payment", "face_pay.payment")
    stepped_up = _is_step_up(row)
    if intent.step == STEP_UP:
        return _step_up_result(session, ctx, intent, face)
    tenant_id = session.get(Merchant, intent.merchant_id).tenant_id  # type: ignore[union-attr]
    ranked = ctx.gallery.search(
        session,
        ctx.keyring,
        tenant_id,
        face,
        ctx.policy.candidates,
        "face_pay_identification",
        f"terminal:{intent.terminal_id}",
        exclude=lambda keys: controls.paused_among(session, keys),  # a pause: never matched (issue 24)
    )
    found = decision.identify(ranked, ctx.gallery.size(tenant_id), ctx.engine.calibration, ctx.policy)
    intent.identification = json.dumps(found.as_dict())
    row.account_id = found.key  # the capture now belongs to whoever it identified (None if no one)
    if found.outcome == decision.NOT_IDENTIFIED:
        return _decline(session, intent, "not_recognised", found.as_dict())
    if found.outcome == decision.NEEDS_PHONE:
        _move(
            session,
            intent,
            intent.status,
            status=NEEDS_INPUT,
            step=PHONE_DIGITS,
            candidates=json.dumps([[c.key, c.score] for c in found.candidates]),
        )
        return intent
    return _authorise(session, ctx, intent, found.key, stepped_up)  # type: ignore[arg-type]


def submit_phone_digits(session: Session, ctx: FacePayContext, intent: PaymentIntent, digits: str) -> PaymentIntent:
    if intent.status != NEEDS_INPUT or intent.step != PHONE_DIGITS:
        raise DomainError(ErrorCode.PHONE_DIGITS_NOT_EXPECTED, "this payment is not waiting for phone digits")
    device = f"terminal:{intent.terminal_id}"
    now = utcnow()
    lockout.check(session, None, device, now, ctx.live.lockout)
    candidates = [Candidate(key, score) for key, score in json.loads(intent.candidates or "[]")]
    pending = Identification(decision.NEEDS_PHONE, None, candidates[0].score if candidates else None, candidates)
    last4 = dict(
        session.execute(select(Account.id, Account.mobile).where(Account.id.in_([c.key for c in candidates]))).all()
    )
    chosen = decision.choose_by_phone(pending, digits, lambda key: last4.get(key, "")[-4:], ctx.policy)
    identified_before = json.loads(intent.identification or "{}")
    intent.identification = json.dumps({**identified_before, "phone_step": chosen.as_dict()})
    if chosen.outcome != decision.IDENTIFIED:
        lockout.record_failure(
            session, ctx.live.lockout, "face_pay_phone_digits", candidates[0].key if candidates else None, device, now
        )
        return _decline(
            session,
            intent,
            "phone_digits_wrong" if chosen.reason == "wrong_digits" else "not_recognised",
            chosen.as_dict(),
        )
    capture = session.get(LivenessSession, intent.liveness_session_id)
    if capture is not None:
        capture.account_id = chosen.key
    return _authorise(session, ctx, intent, chosen.key, capture is not None and _is_step_up(capture))  # type: ignore[arg-type]


def _is_step_up(capture: LivenessSession) -> bool:
    """A capture strong enough for a step-up: as many actions as a real-name check asks."""
    return len(json.loads(capture.actions)) >= liveness.STEP_UP_FLOOR


def _step_up_result(session: Session, ctx: FacePayContext, intent: PaymentIntent, face) -> PaymentIntent:
    """The active challenge must show the payer already identified: their own face-pay template."""
    payer = intent.payer_account_id
    try:
        enrolled = template_store.read(
            session,
            ctx.keyring,
            payer,  # type: ignore[arg-type]
            "face_pay",
            "face_pay_step_up",
            f"terminal:{intent.terminal_id}",
        )
    except DomainError:
        return _decline(session, intent, "not_recognised", {"step_up": "template_gone"})
    match = ctx.engine.compare(face, enrolled, "payment")
    risk.face_attempt(
        session, "face_verification", payer, f"terminal:{intent.terminal_id}", match.match, "payment_step_up"
    )
    if not match.match:
        lockout.record_failure(
            session, ctx.live.lockout, "face_verification", payer, f"terminal:{intent.terminal_id}", utcnow()
        )
        return _decline(session, intent, "step_up_face_mismatch", {"score": round(match.score, 4)})
    return _authorise(session, ctx, intent, payer, True)  # type: ignore[arg-type]


# --- 4. limits, risk and the money --------------------------------------------------------------


def spent_today(session: Session, ctx: FacePayContext, account_id: str, now: dt.datetime) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.sum(PaymentIntent.amount_fen), 0)).where(
                PaymentIntent.payer_account_id == account_id,
                PaymentIntent.status == PAID,
                PaymentIntent.decided_at >= ctx.limits.day_start(now),
            )
        ).scalar_one()
    )


def _authorise(
    session: Session, ctx: FacePayContext, intent: PaymentIntent, account_id: str, stepped_up: bool
) -> PaymentIntent:
    account = session.get(Account, account_id)
    now = utcnow()
    if account is None or not consent.is_granted(session, account.id, "face_pay"):
        return _decline(session, intent, "not_recognised", {})
    if account.status != "active":
        return _decline(
            session,
            intent,
            "account_frozen" if account.status == "frozen" else "account_not_active",
            {},
            payer=account.id,
        )
    try:
        lockout.check(session, account.id, None, now)
    except DomainError:
        return _decline(session, intent, "face_attempts_locked", {})
    # The person's own controls (issue 24), before the risk engine and any money: a pause that came
    # after the search, and their own limits, which no step-up lifts.
    if controls.is_paused(session, account.id):
        return _decline(session, intent, "face_pay_paused", {}, payer=account.id)
    own = controls.own_limit_refusal(session, account.id, intent.amount_fen, spent_today(session, ctx, account.id, now))
    if own is not None:
        return _decline(session, intent, "own_limit_exceeded", own, payer=account.id)
    risk_asks_step_up = False
    if intent.risk_event_seq is None:  # decided once; a step-up answer goes on with that decision
        verdict = risk.decide(
            session,
            EventIn(
                events.PAYMENT,
                account_id=account.id,
                device_id=f"terminal:{intent.terminal_id}",
                merchant_id=intent.merchant_id,
                face_key=events.face_key_of(session, account.id),
                amount_fen=intent.amount_fen,
                ref=intent.id,
            ),
        )
        intent.risk_event_seq = verdict.event_seq
        if verdict.refused:
            reason = "account_frozen" if verdict.decision == risk.FREEZE else "risk_declined"
            return _decline(session, intent, reason, {"risk": verdict.reasons}, payer=account.id)
        risk_asks_step_up = verdict.decision == risk.STEP_UP
    today = spent_today(session, ctx, account.id, now)
    over = intent.amount_fen > ctx.limits.transaction_fen or today + intent.amount_fen > ctx.limits.daily_fen
    if (over or risk_asks_step_up) and not stepped_up:
        if over and not risk_asks_step_up and ctx.limits.over_limit == "decline":
            return _decline(session, intent, "limit_exceeded", {"spent_today_fen": today})
        _move(
            session,
            intent,
            intent.status,
            status=NEEDS_INPUT,
            step=STEP_UP,
            payer_account_id=account.id,
            candidates=None,
        )
        current_capture(session, ctx, intent)
        return intent
    return _pay(session, ctx, intent, account)


def _pay(session: Session, ctx: FacePayContext, intent: PaymentIntent, account: Account) -> PaymentIntent:
    merchant = session.get(Merchant, intent.merchant_id)
    fee = ledger.fee_for(intent.amount_fen, merchant.fee_bps)  # type: ignore[union-attr]
    legs = [
        (ledger.account(session, ledger.WALLET, account.id), -intent.amount_fen),
        (ledger.account(session, ledger.MERCHANT, merchant.id), intent.amount_fen - fee),  # type: ignore[union-attr]
        (ledger.account(session, ledger.PLATFORM_FEES, merchant.tenant_id), fee),  # type: ignore[union-attr]
    ]
    try:
        txn = ledger.post(session, "payment", f"payment:{intent.id}", legs)
    except DomainError as refused:
        if refused.code != ErrorCode.INSUFFICIENT_FUNDS:
            raise
        return _decline(session, intent, "insufficient_funds", {}, payer=account.id)
    if intent.risk_event_seq is not None:
        risk.completed(session, intent.risk_event_seq)
    _move(
        session,
        intent,
        intent.status,
        status=PAID,
        step=None,
        payer_account_id=account.id,
        payer_name_masked=_masked_name(session, ctx, account.id),
        transaction_id=txn.id,
        fee_fen=fee,
        decided_at=utcnow(),
        candidates=None,
    )
    audit.append(
        session,
        actor=f"terminal:{intent.terminal_id}",
        action="payment.paid",
        subject=f"account:{account.id}",
        purpose="face_pay",
        details={"intent_id": intent.id, "amount_fen": intent.amount_fen, "transaction_id": txn.id},
    )
    outbox.enqueue(
        session,
        merchant.tenant_id,  # type: ignore[union-attr]
        outbox.PAYMENT_PAID,
        {
            **_payment_ref(intent),
            **outbox.account_ref(account),
            "status": PAID,
            "fee_fen": fee,
            "transaction_id": txn.id,
            "payer_name_masked": intent.payer_name_masked,
        },
    )
    return intent


def _payment_ref(intent: PaymentIntent) -> dict:
    """How a webhook names a payment: ids the merchant and the platform know, and the amount."""
    return {
        "payment_id": intent.id,
        "merchant_id": intent.merchant_id,
        "terminal_id": intent.terminal_id,
        "merchant_order_id": intent.merchant_order_id,
        "amount_fen": intent.amount_fen,
        "currency": intent.currency,
    }


def _masked_name(session: Session, ctx: FacePayContext, account_id: str) -> str | None:
    record = kyc.latest_passed(session, account_id)
    return mask_name(kyc.proven_identity(ctx.keyring, record)["name"]) if record else None


def _decline(
    session: Session, intent: PaymentIntent, reason: str, details: dict, payer: str | None = None
) -> PaymentIntent:
    _move(
        session,
        intent,
        intent.status,
        status=DECLINED,
        step=None,
        decline_reason=reason,
        decided_at=utcnow(),
        candidates=None,
        payer_account_id=payer or intent.payer_account_id,
    )
    audit.append(
        session,
        actor=f"terminal:{intent.terminal_id}",
        action="payment.declined",
        subject=f"intent:{intent.id}",
        purpose="face_pay",
        details={"reason": reason, **{k: v for k, v in details.items() if k != "candidates"}},
    )
    merchant = session.get(Merchant, intent.merchant_id)
    payer_account = session.get(Account, intent.payer_account_id) if intent.payer_account_id else None
    outbox.enqueue(
        session,
        merchant.tenant_id,  # type: ignore[union-attr]
        outbox.PAYMENT_DECLINED,
        {
            **_payment_ref(intent),
            **(outbox.account_ref(payer_account) if payer_account else {}),
            "status": DECLINED,
            "decline_reason": reason,
        },
    )
    return intent
