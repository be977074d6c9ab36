"""Lockout of face attempts: too many failures in a short time, for one account or one device,
and further liveness and face-verification attempts are refused for a while.

Counting both the account and the device stops the two ways of grinding through attempts: one
attacker trying many photos on one victim's account, and one device trying one photo on many
accounts. A lock is a row with an end time, so the refusal survives a restart and is the same for
every worker process.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facetrust.errors import DomainError
from facetrust.identity.models import as_utc
from facetrust.security import audit
from facetrust.security.models import FailedFaceAttempt, Lockout


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window: dt.timedelta
    duration: dt.timedelta


def _subjects(account_id: str | None, device_id: str | None) -> list[str]:
    return [s for s in (account_id and f"account:{account_id}", device_id and f"device:{device_id}") if s]


def check(session: Session, account_id: str | None, device_id: str | None, now: dt.datetime) -> None:
    """Refuse with 429 ``face_attempts_locked`` while the account or the device is locked."""
    subjects = _subjects(account_id, device_id)
    if not subjects:
        return
    until = session.execute(select(func.max(Lockout.until)).where(Lockout.subject.in_(subjects))).scalar()
    if until is not None and as_utc(until) > now:
        wait = int((as_utc(until) - now).total_seconds()) + 1
        raise DomainError(429, "face_attempts_locked",
                          f"too many failed face attempts; try again in {wait // 60 + 1} minutes",
                          retry_after_seconds=wait)


def record_failure(session: Session, policy: LockoutPolicy, kind: str, account_id: str | None,
                   device_id: str | None, now: dt.datetime) -> bool:
    """Count one failed attempt; lock whichever of the account and the device has now reached the
    limit inside the window. Returns whether a lock was set."""
    session.add(FailedFaceAttempt(account_id=account_id, device_id=device_id, kind=kind, at=now))
    session.flush()
    since = now - policy.window
    locked = False
    for column, value, subject in ((FailedFaceAttempt.account_id, account_id, f"account:{account_id}"),
                                   (FailedFaceAttempt.device_id, device_id, f"device:{device_id}")):
        if value is None:
            continue
        failures = session.execute(select(func.count()).select_from(FailedFaceAttempt)
                                   .where(column == value, FailedFaceAttempt.at >= since)).scalar_one()
        if failures >= policy.max_failures:
            session.add(Lockout(subject=subject, until=now + policy.duration, created_at=now))
            audit.append(session, actor="system", action="face_attempts.locked", subject=subject,
                         purpose="security", details={"failures": failures, "until": (now + policy.duration).isoformat()})
            locked = True
    return locked

