"""Retention: real-name evidence stays for the anti-money-laundering period after the account
closes and cannot be deleted before; everything held for other purposes goes when they end.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account, BankCardChallenge, Credential, RealNameAuthentication
from facetrust.security import audit, template_store
from facetrust.security.envelope import Keyring
from facetrust.security.models import AuditRecord, RawImage
from facetrust.store.db import rowcount


def _years_later(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def close_account(session: Session, account: Account, retention_years: int) -> dt.datetime:
    """The user's deletion request: close the account, delete the face-pay template and every
    credential, and start the retention clock on the real-name evidence (records and the sealed KYC
    template). Returns when that evidence expires. Refused while the account owes money or has a
    payment in flight (``payments/obligations.py``): once closed, nobody could sign in to repay or
    finish it."""
    from facetrust.payments import obligations

    if account.status == "closed":
        raise DomainError(ErrorCode.ACCOUNT_CLOSED, "the account is already closed")
    if account.status == "frozen":
        raise DomainError(ErrorCode.ACCOUNT_FROZEN, "a frozen account cannot be closed until it is unfrozen")
    obligations.refuse_if_open(session, account)
    now = utcnow()
    retain_until = _years_later(now, retention_years)
    account.status, account.closed_at = "closed", now
    for purpose in template_store.PURPOSES:
        if purpose != template_store.EVIDENCE_PURPOSE:
            template_store.delete_for_purpose(session, account.id, purpose, f"account:{account.id}")
    template_store.retain_as_evidence(session, account.id, retain_until, f"account:{account.id}")
    session.execute(delete(Credential).where(Credential.account_id == account.id))
    session.execute(
        update(RealNameAuthentication)
        .where(RealNameAuthentication.account_id == account.id)
        .values(retain_until=retain_until)
    )
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="account.close",
        subject=f"account:{account.id}",
        details={"real_name_evidence_retained_until": retain_until.isoformat()},
    )
    return retain_until


def read_evidence(
    session: Session, keyring: Keyring, account: Account, operator: str, purpose: str, reason: str
) -> tuple[list[RealNameAuthentication], list[template_store.EvidenceTemplate], AuditRecord]:
    """A compliance officer's read of an account's real-name evidence (also after closure, until
    the purge): the decisions and the sealed KYC templates (opened, digested, never returned), for
    a stated purpose and reason, in one audit record written before the answer."""
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(ErrorCode.REASON_REQUIRED, "say why you need this evidence (5 characters or more)")
    records = (
        session.execute(
            select(RealNameAuthentication)
            .where(RealNameAuthentication.account_id == account.id)
            .order_by(RealNameAuthentication.created_at)
        )
        .scalars()
        .all()
    )
    templates = template_store.read_evidence(session, keyring, account.id, f"{purpose}: {reason}", operator)
    if not records and not templates:
        raise DomainError(
            ErrorCode.NO_REAL_NAME_EVIDENCE, "there is no real-name authentication evidence for this account"
        )
    record = audit.append(
        session,
        actor=operator,
        action="real_name.evidence_read",
        subject=f"account:{account.id}",
        purpose="compliance",
        details={"purpose": purpose, "reason": reason, "records": len(records), "templates": len(templates)},
    )
    return list(records), templates, record


def refuse_evidence_deletion(session: Session, account: Account) -> None:
    """A request to delete real-name evidence inside the retention period: always refused, saying
    until when it is kept."""
    records = (
        session.execute(select(RealNameAuthentication).where(RealNameAuthentication.account_id == account.id))
        .scalars()
        .all()
    )
    if not records:
        raise DomainError(ErrorCode.NO_REAL_NAME_EVIDENCE, "there is no real-name authentication evidence to delete")
    until = max((r.retain_until for r in records if r.retain_until), default=None)
    when = f"until {until.date().isoformat()}" if until else "until 5 years after the account is closed"
    raise DomainError(
        ErrorCode.RETENTION_PERIOD_ACTIVE,
        f"real-name authentication evidence must be kept {when} under anti-money-laundering rules",
        retain_until=until.isoformat() if until else None,
    )


def purge_expired(
    session: Session, now: dt.datetime | None = None, liveness_pass_valid_for: dt.timedelta = dt.timedelta(minutes=5)
) -> int:
    """Delete real-name evidence (records and retained KYC templates) and raw images whose retention
    period has ended, the sealed live faces of liveness passes that were never spent and can no
    longer be, and bank-card verifications two days after they expired."""
    from facetrust.liveness.models import LivenessSession

    now = now or utcnow()
    faces = rowcount(
        session.execute(
            update(LivenessSession)
            .where(LivenessSession.face_sealed.is_not(None), LivenessSession.decided_at < now - liveness_pass_valid_for)
            .values(face_sealed=None, face_wrapped_key=None, master_key_id=None),
            execution_options={"synchronize_session": False},
        )
    )
    if faces:
        audit.append(
            session, actor="retention", action="liveness_face.purge", subject="retention", details={"deleted": faces}
        )
    raw = rowcount(
        session.execute(
            delete(RawImage).where(RawImage.retain_until < now), execution_options={"synchronize_session": "fetch"}
        )
    )
    if raw:
        audit.append(
            session, actor="retention", action="raw_image.purge", subject="retention", details={"deleted": raw}
        )
    expired = session.execute(
        select(RealNameAuthentication.id, RealNameAuthentication.account_id).where(
            RealNameAuthentication.retain_until.is_not(None), RealNameAuthentication.retain_until < now
        )
    ).all()
    if expired:
        session.execute(delete(RealNameAuthentication).where(RealNameAuthentication.id.in_([e.id for e in expired])))
        audit.append(
            session, actor="retention", action="real_name.purge", subject="retention", details={"deleted": len(expired)}
        )
    challenges = rowcount(
        session.execute(
            delete(BankCardChallenge).where(BankCardChallenge.expires_at < now - dt.timedelta(days=2)),
            execution_options={"synchronize_session": False},
        )
    )
    if challenges:
        audit.append(
            session,
            actor="retention",
            action="bank_card_challenge.purge",
            subject="retention",
            details={"deleted": challenges},
        )
    templates = template_store.purge_retained(session, now)
    if templates:
        audit.append(
            session,
            actor="retention",
            action="template.purge",
            subject="retention",
            details={"deleted": templates, "purpose": template_store.EVIDENCE_PURPOSE},
        )
    return len(expired) + raw + faces + challenges + templates
