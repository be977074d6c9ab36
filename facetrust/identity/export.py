"""The person's copy of their data (PIPL Art. 45; issue 24): one JSON document of everything the
service holds about one account, and who read their face.

Why a module of its own: it reads every domain's tables, and what it leaves out matters as much as
what it puts in. Every query is keyed by this account's id, so nothing of another person comes
along; and some of what is held about the person is left out on purpose:

- no face template, no raw image, no liveness capture: only that they exist, when and for what;
- the ID number masked (its first and last four), the name masked as a payment shows it;
- no operator's name or notes, no rule ids, scores or feature values: a refusal by risk control is
  said in plain words (what was refused, the decision, and a plain reason in Chinese and English);
- no face-match score or threshold (the person sees the outcome, as ``GET /v1/me/real-name``);
- a guardian's name and ID number are the guardian's data: only that a guardian consented and how
  they are related;
- a face payment's identification (it names the other candidates a search weighed) never.

The reads of their face templates come from the audit log, which records every read with its
purpose and reader (``security/template_store.py``): reads of their template by itself, the
face-pay gallery's candidate reads that included one of their templates (another shopper's payment
at a terminal of their platform can read it to rule them out), and the gallery's loads of every
template while they had one. The export itself is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from facetrust.clock import as_utc, utcnow
from facetrust.consent.models import ConsentEvent
from facetrust.consent.notices import NOTICES
from facetrust.credit.models import CreditCheckout, CreditInstallment, CreditLine, CreditPlan, CreditRepayment
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import kyc
from facetrust.identity.models import Account, RealNameAuthentication, Tenant
from facetrust.identity.service import mask_id_number, mask_mobile, mask_name
from facetrust.liveness.models import LivenessSession
from facetrust.payments import ledger
from facetrust.payments.models import FacePayControl, FacePayDispute, Merchant, PaymentIntent, Refund, Terminal
from facetrust.risk.models import RiskDecision, RiskEvent
from facetrust.security import audit
from facetrust.security.envelope import Keyring
from facetrust.security.models import AuditRecord, StoredTemplate

FORMAT = "facetrust.personal-data-export"
FORMAT_VERSION = 1
REFUSED = ("review", "decline", "freeze")


def _t(at: dt.datetime | dt.date | None) -> str | None:
    if at is None:
        return None
    if isinstance(at, dt.datetime):
        return as_utc(at).isoformat()
    return at.isoformat()


def build(session: Session, keyring: Keyring, account_id: str) -> dict[str, Any]:
    """The whole archive for one account, and an audit record of its making."""
    account = session.get(Account, account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "the account no longer exists")
    template_ids = _template_ids(session, account.id)
    body: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_at": _t(utcnow()),
        "about": {
            "zh": "这是我们保存的关于您的全部个人信息的副本（《个人信息保护法》第四十五条）。"
            "身份证号和姓名已部分隐藏；人脸特征和图像不会导出，只列出它们是否存在以及谁在何时为何读取过。",
            "en": "A copy of all personal information we hold about you (PIPL Article 45). Your ID number "
            "and name are partly hidden; face templates and images are never exported, only whether "
            "they exist and who read them, when and why.",
        },
        "account": _account(session, account),
        "consents": _consents(session, account.id),
        "real_name": _real_name(session, keyring, account.id),
        "face_templates": _templates(session, account.id),
        "face_pay": _face_pay(session, account.id),
        "liveness_checks": _liveness(session, account.id),
        "wallet": {"balance_fen": ledger.balance(session, ledger.WALLET, account.id)},
        "payments": _payments(session, account.id),
        "refunds": _refunds(session, account.id),
        "credit": _credit(session, account.id),
        "risk_refusals": _risk_refusals(session, account.id),
        "face_template_reads": _template_reads(session, account.id, template_ids),
        "previous_exports": _previous_exports(session, account.id),
    }
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="data.export",
        subject=f"account:{account.id}",
        purpose="personal_data_access",
        details={
            "format_version": FORMAT_VERSION,
            "sections": {k: len(v) for k, v in body.items() if isinstance(v, list)},
        },
    )
    return body


def _account(session: Session, account: Account) -> dict[str, Any]:
    tenant = session.get(Tenant, account.tenant_id)
    return {
        "account_id": account.id,
        "platform": tenant.name if tenant else None,
        "platform_user_id": account.platform_user_id,
        "mobile_masked": mask_mobile(account.mobile),
        "status": account.status,
        "created_at": _t(account.created_at),
        "closed_at": _t(account.closed_at),
        "birth_date": _t(account.birth_date),
        "real_name_verified_at": _t(account.real_name_verified_at),
    }


def _consents(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ConsentEvent).where(ConsentEvent.account_id == account_id).order_by(ConsentEvent.at)
    ).scalars()
    out = []
    for e in rows:
        notice = NOTICES.get(e.purpose)
        out.append(
            {
                "purpose": e.purpose,
                "action": e.action,  # grant | withdraw
                "notice_version": e.notice_version,
                "notice": {"zh": notice.zh, "en": notice.en}
                if notice is not None and notice.version == e.notice_version
                else None,
                "channel": e.channel,
                "at": _t(e.at),
                "guardian": {"relation": e.guardian_relation} if e.guardian_relation else None,
            }
        )
    return out


def _real_name(session: Session, keyring: Keyring, account_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(RealNameAuthentication)
        .where(RealNameAuthentication.account_id == account_id)
        .order_by(RealNameAuthentication.created_at)
    ).scalars()
    out = []
    for r in rows:
        identity = kyc.proven_identity(keyring, r)
        out.append(
            {
                "authentication_id": r.id,
                "method": r.method,
                "outcome": r.outcome,
                "reasons": json.loads(r.reasons),
                "liveness": r.liveness,
                "source": r.source,
                "name_masked": mask_name(identity["name"]),
                "id_number_masked": mask_id_number(identity["id_number"]),
                "at": _t(r.created_at),
                "evidence_retained_until": _t(r.retain_until),
            }
        )
    return out


def _template_ids(session: Session, account_id: str) -> set[str]:
    """Every face template the account has ever had: those held now and those the audit log saw stored."""
    held = set(session.execute(select(StoredTemplate.id).where(StoredTemplate.account_id == account_id)).scalars())
    for details in session.execute(
        select(AuditRecord.details).where(
            AuditRecord.action == "template.store", AuditRecord.subject == f"account:{account_id}"
        )
    ).scalars():
        template_id = json.loads(details).get("template_id")
        if template_id:
            held.add(template_id)
    return held


def _templates(session: Session, account_id: str) -> dict[str, Any]:
    held = session.execute(
        select(StoredTemplate).where(StoredTemplate.account_id == account_id).order_by(StoredTemplate.created_at)
    ).scalars()
    history = session.execute(
        select(AuditRecord)
        .where(
            AuditRecord.subject == f"account:{account_id}",
            AuditRecord.action.in_(("template.store", "template.delete", "template.retain")),
        )
        .order_by(AuditRecord.seq)
    ).scalars()
    return {
        "held": [
            {
                "template_id": t.id,
                "purpose": t.purpose,
                "model_id": t.model_id,
                "created_at": _t(t.created_at),
                "retained_as_evidence_until": _t(t.retain_until),
            }
            for t in held
        ],
        "history": [
            {"event": a.action.removeprefix("template."), "purpose": a.purpose, "at": _t(a.at)}
            for a in history
            if json.loads(a.details).get("deleted") != 0  # a delete that found nothing is no event
        ],
    }


def _face_pay(session: Session, account_id: str) -> dict[str, Any]:
    control = session.get(FacePayControl, account_id)
    enrolled = session.execute(
        select(StoredTemplate.created_at).where(
            StoredTemplate.account_id == account_id,
            StoredTemplate.purpose == "face_pay",
            StoredTemplate.retain_until.is_(None),
        )
    ).first()
    disputes = session.execute(
        select(FacePayDispute).where(FacePayDispute.account_id == account_id).order_by(FacePayDispute.created_at)
    ).scalars()
    return {
        "enrolled": enrolled is not None,
        "enrolled_at": _t(enrolled[0]) if enrolled else None,
        "paused": bool(control and control.paused_at),
        "paused_at": _t(control.paused_at) if control else None,
        "own_transaction_limit_fen": control.transaction_limit_fen if control else None,
        "own_daily_limit_fen": control.daily_limit_fen if control else None,
        "disputes": [
            {
                "dispute_id": d.id,
                "intent_id": d.intent_id,
                "at": _t(d.created_at),
                "under_review": d.case_id is not None,
            }
            for d in disputes
        ],
    }


def _liveness(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(LivenessSession).where(LivenessSession.account_id == account_id).order_by(LivenessSession.created_at)
    ).scalars()
    return [
        {
            "session_id": r.id,
            "purpose": r.purpose,
            "status": r.status,
            "reasons": json.loads(r.reasons or "[]"),
            "created_at": _t(r.created_at),
            "decided_at": _t(r.decided_at),
            "used_for": r.used_by,
        }
        for r in rows
    ]


def _payments(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(PaymentIntent, Merchant.name)
        .join(Merchant, Merchant.id == PaymentIntent.merchant_id)
        .where(PaymentIntent.payer_account_id == account_id)
        .order_by(PaymentIntent.created_at)
    ).all()
    return [
        {
            "intent_id": i.id,
            "merchant": name,
            "merchant_order_id": i.merchant_order_id,
            "amount_fen": i.amount_fen,
            "currency": i.currency,
            "status": i.status,
            "decline_reason": i.decline_reason,
            "refunded_fen": i.refunded_fen,
            "transaction_id": i.transaction_id,
            "created_at": _t(i.created_at),
            "decided_at": _t(i.decided_at),
        }
        for i, name in rows
    ]


def _refunds(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Refund)
        .join(PaymentIntent, PaymentIntent.id == Refund.intent_id)
        .where(PaymentIntent.payer_account_id == account_id)
        .order_by(Refund.created_at)
    ).scalars()
    return [
        {"refund_id": r.id, "intent_id": r.intent_id, "amount_fen": r.amount_fen, "at": _t(r.created_at)} for r in rows
    ]


def _credit(session: Session, account_id: str) -> dict[str, Any]:
    line = session.execute(select(CreditLine).where(CreditLine.account_id == account_id)).scalar_one_or_none()
    plans = list(
        session.execute(
            select(CreditPlan).where(CreditPlan.account_id == account_id).order_by(CreditPlan.created_at)
        ).scalars()
    )
    plan_ids = [p.id for p in plans]
    installments: dict[str, list[CreditInstallment]] = {p: [] for p in plan_ids}
    repayments: dict[str, list[CreditRepayment]] = {p: [] for p in plan_ids}
    if plan_ids:
        for row in session.execute(
            select(CreditInstallment)
            .where(CreditInstallment.plan_id.in_(plan_ids))
            .order_by(CreditInstallment.plan_id, CreditInstallment.number)
        ).scalars():
            installments[row.plan_id].append(row)
        for rep in session.execute(
            select(CreditRepayment).where(CreditRepayment.plan_id.in_(plan_ids)).order_by(CreditRepayment.created_at)
        ).scalars():
            repayments[rep.plan_id].append(rep)
    checkouts = session.execute(
        select(CreditCheckout).where(CreditCheckout.account_id == account_id).order_by(CreditCheckout.created_at)
    ).scalars()
    return {
        "line": {
            "limit_fen": line.limit_fen,
            "used_fen": line.used_fen,
            "status": line.status,
            "created_at": _t(line.created_at),
            "updated_at": _t(line.updated_at),
        }
        if line
        else None,
        "checkouts": [
            {
                "checkout_id": c.id,
                "merchant_order_id": c.merchant_order_id,
                "amount_fen": c.amount_fen,
                "category": c.category,
                "status": c.status,
                "plan_id": c.plan_id,
                "created_at": _t(c.created_at),
            }
            for c in checkouts
        ],
        "plans": [
            {
                "plan_id": p.id,
                "kind": p.kind,
                "product_id": p.product_id,
                "principal_fen": p.principal_fen,
                "periods": p.periods,
                "apr": p.apr,
                "start_date": _t(p.start_date),
                "outstanding_principal_fen": p.outstanding_principal_fen,
                "status": p.status,
                "created_at": _t(p.created_at),
                "closed_at": _t(p.closed_at),
                "installments": [
                    {
                        "number": i.number,
                        "due_date": _t(i.due_date),
                        "principal_fen": i.principal_fen,
                        "interest_fen": i.interest_fen,
                        "fee_fen": i.fee_fen,
                        "penalty_paid_fen": i.penalty_paid_fen,
                        "status": i.status,
                        "paid_at": _t(i.paid_at),
                    }
                    for i in installments[p.id]
                ],
                "repayments": [
                    {
                        "repayment_id": r.id,
                        "kind": r.kind,
                        "amount_fen": r.amount_fen,
                        "principal_fen": r.principal_fen,
                        "interest_fen": r.interest_fen,
                        "fee_fen": r.fee_fen,
                        "penalty_fen": r.penalty_fen,
                        "on_date": _t(r.on_date),
                        "at": _t(r.created_at),
                    }
                    for r in repayments[p.id]
                ],
            }
            for p in plans
        ],
    }


# --- risk refusals in plain words -----------------------------------------------------------------

_WHAT = {
    "payment": ("一笔刷脸支付", "A face payment"),
    "installment": ("一笔分期购买", "An installment purchase"),
    "loan": ("一笔借款", "A loan"),
    "liveness": ("一次活体检测", "A liveness check"),
    "face_verification": ("一次人脸核验", "A face verification"),
    "real_name": ("一次实名认证", "A real-name verification"),
    "face_pay.dispute": ("您对一笔付款的申诉", "Your dispute of a payment"),
}
_DECIDED = {
    "review": ("转交风控人员人工审核", "was held for a review by our risk team"),
    "decline": ("被风控拒绝", "was declined by risk control"),
    "freeze": ("被风控拒绝，账户被冻结待审核", "was declined and the account frozen for a review"),
}
# A plain reason per family of reason codes; the codes themselves (and the rules behind them) stay
# with the operators, as they would teach a fraudster which rule to dodge.
_WHY = {
    "velocity": ("短时间内的操作次数或金额异常", "unusually many attempts or a large total in a short time"),
    "device": ("使用了新设备或不常用的设备", "a new or unusual device"),
    "account": ("账户注册时间很短", "a very new account"),
    "amount": ("金额与您以往的习惯不符", "an amount unlike your usual ones"),
    "identity": (
        "与其他账户共用设备、地址、人脸或网络",
        "a device, address, face or network shared with other accounts",
    ),
    "bust_out": ("信用使用方式异常", "an unusual use of credit"),
    "credit": ("信用使用方式异常", "an unusual use of credit"),
    "merchant": ("该商户的交易模式异常", "an unusual pattern at this merchant"),
}
_OTHER = ("其他安全检查", "other security checks")


def _yuan(fen: int | None, zh: bool) -> str:
    if fen is None:
        return ""
    amount = f"¥{fen // 100}.{fen % 100:02d}"
    return f"（{amount}）" if zh else f" of {amount}"


def _risk_refusals(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(RiskDecision, RiskEvent.kind, RiskEvent.amount_fen, RiskEvent.ref)
        .join(RiskEvent, RiskEvent.seq == RiskDecision.event_seq)
        .where(RiskDecision.account_id == account_id, RiskDecision.decision.in_(REFUSED))
        .order_by(RiskDecision.event_seq)
    ).all()
    out = []
    for d, kind, amount, ref in rows:
        what_zh, what_en = _WHAT.get(kind, ("一项操作", "An operation"))
        done_zh, done_en = _DECIDED[d.decision]
        families = sorted({str(code).split(".", 1)[0] for code in json.loads(d.reasons)})
        why = sorted({_WHY.get(f, _OTHER) for f in families}) or [_OTHER]
        out.append(
            {
                "at": _t(d.at),
                "about": kind,
                "reference": ref if kind in ("payment", "face_pay.dispute") else None,
                "amount_fen": amount,
                "decision": d.decision,
                "text": {
                    "zh": f"{what_zh}{_yuan(amount, True)}{done_zh}。原因：{'；'.join(w[0] for w in why)}。",
                    "en": f"{what_en}{_yuan(amount, False)} {done_en}. Why: {'; '.join(w[1] for w in why)}.",
                },
            }
        )
    return out


# --- who read their face --------------------------------------------------------------------------


def _reader(session: Session, actor: str, account_id: str) -> dict[str, Any]:
    """Which service read: the person's own app, another person's face-pay enrolment (its check that
    the face is not already someone else's; never which person), a terminal (by its merchant's
    name), the face-pay gallery, or an operator (never by name: that is the operator's personal data)."""
    kind, _, rest = actor.partition(":")
    if actor == f"account:{account_id}":
        return {"kind": "you", "zh": "您本人（App 内的操作）", "en": "you (in the app)"}
    if kind == "account":
        return {
            "kind": "another_user_enrolment",
            "zh": "另一位用户开通刷脸支付时的重复身份检查",
            "en": "another user's face-pay enrolment, checking the face is not already someone else's",
        }
    if kind == "terminal":
        row = session.execute(
            select(Merchant.name, Terminal.label)
            .join(Merchant, Merchant.id == Terminal.merchant_id)
            .where(Terminal.id == rest)
        ).first()
        merchant = row[0] if row else "?"
        return {
            "kind": "terminal",
            "merchant": merchant,
            "zh": f"商户“{merchant}”的刷脸设备",
            "en": f"a face-pay terminal of {merchant}",
        }
    if kind == "system":
        return {"kind": "service", "zh": "刷脸支付识别库（系统）", "en": "the face-pay recognition gallery (system)"}
    if kind == "device":
        return {"kind": "device", "zh": "未登录设备上的活体检测", "en": "a liveness check on a device not signed in"}
    return {"kind": "operator", "zh": "合规或风控人员", "en": "a compliance or risk officer"}


def _held_intervals(session: Session, account_id: str) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """When the account held a face-pay template: from each store to the next delete."""
    rows = session.execute(
        select(AuditRecord.action, AuditRecord.at)
        .where(
            AuditRecord.subject == f"account:{account_id}",
            AuditRecord.purpose == "face_pay",
            AuditRecord.action.in_(("template.store", "template.delete")),
        )
        .order_by(AuditRecord.seq)
    ).all()
    out: list[tuple[dt.datetime, dt.datetime | None]] = []
    start: dt.datetime | None = None
    for action, at in rows:
        if action == "template.store" and start is None:
            start = as_utc(at)
        elif action == "template.delete" and start is not None:
            out.append((start, as_utc(at)))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def _template_reads(session: Session, account_id: str, template_ids: set[str]) -> list[dict[str, Any]]:
    reads: list[AuditRecord] = list(
        session.execute(
            select(AuditRecord).where(
                AuditRecord.action == "template.read", AuditRecord.subject == f"account:{account_id}"
            )
        ).scalars()
    )
    if template_ids:
        searched = session.execute(
            select(AuditRecord).where(
                AuditRecord.action == "template.read",
                AuditRecord.subject.like("%:search"),
                or_(*[AuditRecord.details.contains(t) for t in sorted(template_ids)]),
            )
        ).scalars()
        reads += [r for r in searched if set(json.loads(r.details).get("template_ids", [])) & template_ids]
    intervals = _held_intervals(session, account_id)
    if intervals:
        for r in session.execute(
            select(AuditRecord).where(AuditRecord.action == "template.read_all", AuditRecord.purpose == "face_pay")
        ).scalars():
            at = as_utc(r.at)
            if any(start <= at and (end is None or at < end) for start, end in intervals):
                reads.append(r)
    out = []
    for r in sorted(reads, key=lambda a: a.seq):
        details = json.loads(r.details)
        by = _reader(session, r.actor, account_id)
        reason = details.get("reason")
        if by["kind"] == "operator" and reason:  # "<purpose>: <the operator's own words>": the purpose only
            reason = str(reason).split(":", 1)[0]
        out.append(
            {
                "at": _t(r.at),
                "purpose": r.purpose,
                "reason": reason,
                "what": "live_capture" if "liveness_session_id" in details else "stored_template",
                "with_others": r.subject.endswith(":search") or r.action == "template.read_all",
                "by": by,
            }
        )
    return out


def _previous_exports(session: Session, account_id: str) -> list[dict[str, Any]]:
    return [
        {"at": _t(at)}
        for at in session.execute(
            select(AuditRecord.at)
            .where(AuditRecord.action == "data.export", AuditRecord.subject == f"account:{account_id}")
            .order_by(AuditRecord.seq)
        ).scalars()
    ]
