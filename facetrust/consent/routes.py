"""HTTP routes of the consent ledger."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import get_session
from facetrust.consent import service
from facetrust.consent.models import ConsentEvent
from facetrust.consent.notices import NOTICES
from facetrust.consent.schemas import ConsentEventOut, ConsentStateOut, GrantIn, NoticeOut
from facetrust.identity.models import Account
from facetrust.identity.service import Principal

router = APIRouter(prefix="/v1", tags=["consent"])


def _event(e: ConsentEvent) -> ConsentEventOut:
    return ConsentEventOut(
        purpose=e.purpose,
        action=e.action,
        notice_version=e.notice_version,
        channel=e.channel,
        at=e.at,
        with_guardian=e.guardian_id_hash is not None,
    )


def _state(session: Session, account_id: str) -> ConsentStateOut:
    return ConsentStateOut(
        granted={p: service.is_granted(session, account_id, p) for p in NOTICES},
        history=[_event(e) for e in service.history(session, account_id)],
    )


@router.get("/consent-notices", response_model=list[NoticeOut])
def notices(_: Principal = Depends(auth.user)) -> list[NoticeOut]:
    """Every purpose with the notice text the person must be shown before consenting."""
    return [NoticeOut(purpose=n.purpose, version=n.version, zh=n.zh, en=n.en) for n in NOTICES.values()]


@router.get("/me/consents", response_model=ConsentStateOut)
def my_consents(p: Principal = Depends(auth.user), session: Session = Depends(get_session)) -> ConsentStateOut:
    return _state(session, p.account_id)


@router.post("/me/consents/{purpose}", status_code=201, response_model=ConsentStateOut)
def grant(
    purpose: str, body: GrantIn, p: Principal = Depends(auth.user), session: Session = Depends(get_session)
) -> ConsentStateOut:
    """Consent to one purpose, against the notice version shown."""
    guardian = service.Guardian(**body.guardian.model_dump()) if body.guardian else None
    service.grant(session, session.get(Account, p.account_id), purpose, body.notice_version, body.channel, guardian)
    session.commit()
    return _state(session, p.account_id)


@router.delete("/me/consents/{purpose}", response_model=ConsentStateOut)
def withdraw(
    purpose: str, p: Principal = Depends(auth.user), session: Session = Depends(get_session)
) -> ConsentStateOut:
    """Withdraw a consent. The withdrawal is recorded; the grant before it stays in the history.
    Withdrawing face_pay also takes the person out of the face-pay gallery before it returns (on
    commit: facetrust/bootstrap.py)."""
    service.withdraw(session, session.get(Account, p.account_id), purpose, "app")
    session.commit()
    return _state(session, p.account_id)
