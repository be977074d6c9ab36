"""Grant, withdraw and read consents. Each purpose stands alone; nothing is ever deleted.

A person under 14 (age from the ID number of their real-name authentication) can only grant a
consent together with a guardian's, and the guardian must be an adult with a valid ID number who
is not the person themselves. The age is often unknown when a consent is given (before real-name
authentication), so the rule is checked where the consent is relied on: a consent of an account
now known to be under 14 counts only if it carries such a guardian, whatever was accepted before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.consent.models import ConsentEvent
from facetrust.consent.notices import NOTICES
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import idnumber
from facetrust.identity.models import Account
from facetrust.identity.service import secret_hash
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit, template_store
from facetrust.webhooks import outbox

GUARDIAN_AGE = 14
ADULT_AGE = 18
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


def is_child(born: dt.date | None, today: dt.date | None = None) -> bool:
    return born is not None and idnumber.age_on(born, today or dt.date.today()) < GUARDIAN_AGE


def _guardian_stands(event: ConsentEvent, holder_id_hash: str | None, today: dt.date) -> bool:
    """The grant carries a guardian who is an adult today and is not the account holder."""
    return (
        event.guardian_id_hash is not None
        and event.guardian_birth_date is not None
        and idnumber.age_on(event.guardian_birth_date, today) >= ADULT_AGE
        and event.guardian_id_hash != holder_id_hash
    )


def is_granted(session: Session, account_id: str, purpose: str) -> bool:
    """The purpose's latest event is a grant that still counts: for an account known to be under
    14, only one given with a guardian who stands (see ``granted_for_child``)."""
    latest = _latest(session, account_id, purpose)
    if latest is None or latest.action != "grant":
        return False
    account = session.get(Account, account_id)
    if account is None or not is_child(account.birth_date):
        return True
    return _guardian_stands(latest, account.real_name_id_hash, dt.date.today())


def granted_for_child(
    session: Session, account_id: str, purpose: str, holder_id_hash: str, today: dt.date | None = None
) -> bool:
    """For real-name authentication, the moment a child's age becomes known: the consent counts
    only if it was given with an adult guardian who is not the child (``holder_id_hash`` is the
    hash of the ID number being authenticated). A grant accepted before the age was known, alone or
    with a guardian never checked, does not."""
    latest = _latest(session, account_id, purpose)
    return (
        latest is not None
        and latest.action == "grant"
        and _guardian_stands(latest, holder_id_hash, today or dt.date.today())
    )


def _check_purpose(purpose: str) -> None:
    if purpose not in NOTICES:
        raise DomainError(ErrorCode.PURPOSE_UNKNOWN, f"no such consent purpose; one of: {', '.join(NOTICES)}")


def _check_guardian(account: Account, guardian: Guardian | None, today: dt.date) -> dt.date | None:
    """The guardian's birth date. A guardian given is checked whether or not the holder's age is
    known yet (it often is not, before real-name authentication): an adult, and not the holder."""
    if guardian is None:
        if is_child(account.birth_date, today):
            raise DomainError(
                ErrorCode.GUARDIAN_CONSENT_REQUIRED,
                "the account holder is under 14: a parent or guardian must consent with them",
            )
        return None
    guardian_id = idnumber.validate(guardian.id_number)
    born = idnumber.birth_date(guardian_id)
    if idnumber.age_on(born, today) < ADULT_AGE:
        raise DomainError(ErrorCode.GUARDIAN_NOT_ADULT, "the guardian must be an adult")
    if account.real_name_id_hash is not None and secret_hash(guardian_id) == account.real_name_id_hash:
        raise DomainError(
            ErrorCode.GUARDIAN_IS_ACCOUNT_HOLDER, "the guardian must be someone other than the account holder"
        )
    return born


def _check_not_frozen(account: Account) -> None:
    """A frozen account's consents stand as they are until an operator unfreezes it (an account
    taken over must not switch face pay on or off)."""
    if account.status == "frozen":
        raise DomainError(ErrorCode.ACCOUNT_FROZEN, "the account is frozen; an operator must review it first")


def grant(
    session: Session,
    account: Account,
    purpose: str,
    notice_version: str,
    channel: str,
    guardian: Guardian | None = None,
    today: dt.date | None = None,
) -> ConsentEvent:
    _check_purpose(purpose)
    _check_not_frozen(account)
    if channel not in CHANNELS:
        raise DomainError(ErrorCode.CHANNEL_INVALID, f"channel must be one of {', '.join(CHANNELS)}")
    current = NOTICES[purpose].version
    if notice_version != current:
        raise DomainError(
            ErrorCode.NOTICE_OUTDATED,
            f"consent must be given against the current notice (version {current})",
            current_version=current,
        )
    guardian_born = _check_guardian(account, guardian, today or dt.date.today())
    guardian_hash = secret_hash(idnumber.validate(guardian.id_number)) if guardian else None
    latest = _latest(session, account.id, purpose)
    if (
        latest is not None
        and latest.action == "grant"
        and latest.notice_version == current
        and latest.guardian_id_hash == guardian_hash
        and latest.guardian_birth_date == guardian_born
    ):
        return latest  # already granted against this notice, the same way: a repeated call changes nothing
    event = ConsentEvent(
        account_id=account.id,
        purpose=purpose,
        action="grant",
        notice_version=current,
        channel=channel,
        guardian_name=guardian.name if guardian else None,
        guardian_relation=guardian.relation if guardian else None,
        guardian_id_hash=guardian_hash,
        guardian_birth_date=guardian_born,
    )
    session.add(event)
    session.flush()
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="consent.grant",
        subject=f"account:{account.id}",
        purpose=purpose,
        details={"notice_version": current, "channel": channel, "guardian": guardian is not None},
    )
    return event


def withdraw(session: Session, account: Account, purpose: str, channel: str) -> ConsentEvent:
    _check_purpose(purpose)
    _check_not_frozen(account)
    if not is_granted(session, account.id, purpose):
        raise DomainError(ErrorCode.CONSENT_NOT_GRANTED, f"there is no standing consent for {purpose}")
    event = ConsentEvent(account_id=account.id, purpose=purpose, action="withdraw", channel=channel)
    session.add(event)
    session.flush()
    if purpose in TEMPLATES_ENDING_WITH_CONSENT:
        template_store.delete_for_purpose(
            session, account.id, TEMPLATES_ENDING_WITH_CONSENT[purpose], f"account:{account.id}"
        )
    if purpose == "face_pay":
        events.emit(session, EventIn("face_pay.revoke", account_id=account.id, data={"channel": channel}))
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="consent.withdraw",
        subject=f"account:{account.id}",
        purpose=purpose,
        details={"channel": channel},
    )
    outbox.enqueue(
        session,
        account.tenant_id,
        outbox.CONSENT_WITHDRAWN,
        {**outbox.account_ref(account), "purpose": purpose, "channel": channel, "consent_event_id": event.id},
    )
    return event


def history(session: Session, account_id: str) -> list[ConsentEvent]:
    return list(
        session.execute(
            select(ConsentEvent).where(ConsentEvent.account_id == account_id).order_by(ConsentEvent.at, ConsentEvent.id)
        ).scalars()
    )
