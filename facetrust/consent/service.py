"""Grant, withdraw and read consents. Each purpose stands alone; nothing is ever deleted.

A person under 14 (age from the ID number of their real-name authentication) can only grant a
consent together with a guardian's, and the guardian must be an adult with a valid ID number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.consent.models import ConsentEvent
from facetrust.consent.notices import NOTICES
from facetrust.errors import DomainError
from facetrust.identity import idnumber
from facetrust.identity.models import Account
from facetrust.identity.service import secret_hash
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit, template_store

GUARDIAN_AGE = 14
# A template held for one of these consents is deleted the moment the consent is withdrawn. The
# real-name (kyc) template is evidence under AML retention instead, so it is not listed.
TEMPLATES_ENDING_WITH_CONSENT = {"face_pay": "face_pay"}
CHANNELS = ("app", "web", "terminal", "api")


@dataclass(frozen=True)
class Guardian:
    name: str
    relation: str
    id_number: str


def _latest(session: Session, account_id: str, purpose: str) -> ConsentEvent | None:
    return session.execute(
        select(ConsentEvent)
        .where(ConsentEvent.account_id == account_id, ConsentEvent.purpose == purpose)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def is_granted(session: Session, account_id: str, purpose: str) -> bool:
    latest = _latest(session, account_id, purpose)
    return latest is not None and latest.action == "grant"


def granted_with_guardian(session: Session, account_id: str, purpose: str) -> bool:
    latest = _latest(session, account_id, purpose)
    return latest is not None and latest.action == "grant" and latest.guardian_id_hash is not None


def _check_purpose(purpose: str) -> None:
    if purpose not in NOTICES:
        raise DomainError(404, "purpose_unknown", f"no such consent purpose; one of: {', '.join(NOTICES)}")


def _check_guardian(account: Account, guardian: Guardian | None, today: dt.date) -> None:
    if account.birth_date is None or idnumber.age_on(account.birth_date, today) >= GUARDIAN_AGE:
        return
    if guardian is None:
        raise DomainError(422, "guardian_consent_required",
                          "the account holder is under 14: a parent or guardian must consent with them")
    guardian_id = idnumber.validate(guardian.id_number)
    if idnumber.age_on(idnumber.birth_date(guardian_id), today) < 18:
        raise DomainError(422, "guardian_not_adult", "the guardian must be an adult")


def _check_not_frozen(account: Account) -> None:
    """A frozen account's consents stand as they are until an operator unfreezes it (an account
    taken over must not switch face pay on or off)."""
    if account.status == "frozen":
        raise DomainError(403, "account_frozen", "the account is frozen; an operator must review it first")


def grant(session: Session, account: Account, purpose: str, notice_version: str, channel: str,
          guardian: Guardian | None = None, today: dt.date | None = None) -> ConsentEvent:
    _check_purpose(purpose)
    _check_not_frozen(account)
    if channel not in CHANNELS:
        raise DomainError(422, "channel_invalid", f"channel must be one of {', '.join(CHANNELS)}")
    current = NOTICES[purpose].version
    if notice_version != current:
        raise DomainError(409, "notice_outdated",
                          f"consent must be given against the current notice (version {current})",
                          current_version=current)
    _check_guardian(account, guardian, today or dt.date.today())
    latest = _latest(session, account.id, purpose)
    if latest is not None and latest.action == "grant" and latest.notice_version == current:
        return latest  # already granted against this notice: a repeated call changes nothing
    event = ConsentEvent(
        account_id=account.id, purpose=purpose, action="grant", notice_version=current, channel=channel,
        guardian_name=guardian.name if guardian else None,
        guardian_relation=guardian.relation if guardian else None,
        guardian_id_hash=secret_hash(guardian.id_number.strip().upper()) if guardian else None,
    )
    session.add(event)
    session.flush()
    audit.append(session, actor=f"account:{account.id}", action="consent.grant", subject=f"account:{account.id}",
                 purpose=purpose, details={"notice_version": current, "channel": channel, "guardian": guardian is not None})
    return event


def withdraw(session: Session, account: Account, purpose: str, channel: str) -> ConsentEvent:
    _check_purpose(purpose)
    _check_not_frozen(account)
    if not is_granted(session, account.id, purpose):
        raise DomainError(409, "consent_not_granted", f"there is no standing consent for {purpose}")
    event = ConsentEvent(account_id=account.id, purpose=purpose, action="withdraw", channel=channel)
    session.add(event)
    session.flush()
    if purpose in TEMPLATES_ENDING_WITH_CONSENT:
        template_store.delete_for_purpose(session, account.id, TEMPLATES_ENDING_WITH_CONSENT[purpose],
                                          f"account:{account.id}")
    if purpose == "face_pay":
        events.emit(session, EventIn("face_pay.revoke", account_id=account.id, data={"channel": channel}))
    audit.append(session, actor=f"account:{account.id}", action="consent.withdraw", subject=f"account:{account.id}",
                 purpose=purpose, details={"channel": channel})
    return event


def history(session: Session, account_id: str) -> list[ConsentEvent]:
    return list(session.execute(
        select(ConsentEvent).where(ConsentEvent.account_id == account_id).order_by(ConsentEvent.at, ConsentEvent.id)
    ).scalars())
