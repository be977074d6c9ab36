"""Lockout of face attempts: too many failures in a short time, for one account or one device,
and further liveness and face-verification attempts are refused for a while.

Counting both the account and the device stops the two ways of grinding through attempts: one
attacker trying many photos on one victim's account, and one device trying one photo on many
accounts. A lock is a row with an end time, so the refusal survives a restart and is the same for
every worker process.

A vending machine (a device ``terminal:<id>``) is different: every customer in the queue pays at
it, so locking it for half an hour let one customer's failed captures stop everyone (issue 19).
A machine is throttled instead: after a few failures inside the window it cools down for a few
seconds, doubling with each further failure up to a short maximum, measured from its last
failure. It is computed from the failures themselves, so it needs no row, and a refusal during a
cool-down records nothing, so waiting it out is all the next payer has to do.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facetrust.clock import as_utc
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.security import audit
from facetrust.security.models import FailedFaceAttempt, Lockout

TERMINAL_PREFIX = "terminal:"  # the device id of a merchant's vending machine or checkout
MAX_DOUBLINGS = 16  # beyond this the maximum has long been reached; keeps the arithmetic small


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window: dt.timedelta
    duration: dt.timedelta
    terminal_cooldown_after: int | None = None  # None: as many as lock an account
    terminal_cooldown: dt.timedelta = dt.timedelta(seconds=5)
    terminal_cooldown_max: dt.timedelta = dt.timedelta(seconds=60)

    def cooldown(self, failures: int) -> dt.timedelta | None:
        """How long a machine cools down after its ``failures``-th failure inside the window."""
        after = self.terminal_cooldown_after or self.max_failures
        if failures < after:
            return None
        doublings = min(failures - after, MAX_DOUBLINGS)
        return min(self.terminal_cooldown * 2**doublings, self.terminal_cooldown_max)


def is_terminal(device_id: str | None) -> bool:
    return bool(device_id) and device_id.startswith(TERMINAL_PREFIX)  # type: ignore[union-attr]


def _subjects(account_id: str | None, device_id: str | None) -> list[str]:
    device = None if is_terminal(device_id) else device_id  # a machine is throttled, never locked
    return [s for s in (account_id and f"account:{account_id}", device and f"device:{device}") if s]


def check(
    session: Session,
    account_id: str | None,
    device_id: str | None,
    now: dt.datetime,
    policy: LockoutPolicy | None = None,
) -> None:
    """Refuse with 429 ``face_attempts_locked`` while the account or the (personal) device is
    locked, and with 429 ``terminal_cooling_down`` while a machine cools down (``policy`` says how
    long; every check at a machine passes it)."""
    if policy is not None and is_terminal(device_id):
        _check_terminal(session, policy, device_id, now)  # type: ignore[arg-type]
    subjects = _subjects(account_id, device_id)
    if not subjects:
        return
    until = session.execute(select(func.max(Lockout.until)).where(Lockout.subject.in_(subjects))).scalar()
    if until is not None and as_utc(until) > now:
        wait = int((as_utc(until) - now).total_seconds()) + 1
        raise DomainError(
            ErrorCode.FACE_ATTEMPTS_LOCKED,
            f"too many failed face attempts; try again in {wait // 60 + 1} minutes",
            retry_after_seconds=wait,
        )


def _check_terminal(session: Session, policy: LockoutPolicy, device_id: str, now: dt.datetime) -> None:
    failures, last = session.execute(
        select(func.count(), func.max(FailedFaceAttempt.at)).where(
            FailedFaceAttempt.device_id == device_id, FailedFaceAttempt.at >= now - policy.window
        )
    ).one()
    wait = policy.cooldown(failures)
    if wait is None or last is None or as_utc(last) + wait <= now:
        return
    seconds = math.ceil((as_utc(last) + wait - now).total_seconds())
    raise DomainError(
        ErrorCode.TERMINAL_COOLING_DOWN,
        f"several face attempts failed at this machine just now; try again in {seconds} seconds",
        retry_after_seconds=seconds,
    )


def attempts_left(
    session: Session, policy: LockoutPolicy, account_id: str | None, device_id: str | None, now: dt.datetime
) -> int | None:
    """How many more failed face attempts the account and its (personal) device may have inside the
    window before face checks are paused: a count for the person, so a lockout does not come as a
    surprise. None when nothing would lock (a machine is only throttled)."""
    since = now - policy.window
    left = None
    for column, value in ((FailedFaceAttempt.account_id, account_id), (FailedFaceAttempt.device_id, device_id)):
        if value is None or is_terminal(value):
            continue
        failures = session.execute(
            select(func.count()).select_from(FailedFaceAttempt).where(column == value, FailedFaceAttempt.at >= since)
        ).scalar_one()
        remaining = max(0, policy.max_failures - failures)
        left = remaining if left is None else min(left, remaining)
    return left


def record_failure(
    session: Session, policy: LockoutPolicy, kind: str, account_id: str | None, device_id: str | None, now: dt.datetime
) -> bool:
    """Count one failed attempt; lock whichever of the account and the (personal) device has now
    reached the limit inside the window. Returns whether a lock was set. A machine's failures are
    counted too, for its cool-down, but never lock it."""
    session.add(FailedFaceAttempt(account_id=account_id, device_id=device_id, kind=kind, at=now))
    session.flush()
    since = now - policy.window
    locked = False
    for column, value, subject in (
        (FailedFaceAttempt.account_id, account_id, f"account:{account_id}"),
        (FailedFaceAttempt.device_id, device_id, f"device:{device_id}"),
    ):
        if value is None or is_terminal(value):
            continue
        failures = session.execute(
            select(func.count()).select_from(FailedFaceAttempt).where(column == value, FailedFaceAttempt.at >= since)
        ).scalar_one()
        if failures >= policy.max_failures:
            session.add(Lockout(subject=subject, until=now + policy.duration, created_at=now))
            audit.append(
                session,
                actor="system",
                action="face_attempts.locked",
                subject=subject,
                purpose="security",
                details={"failures": failures, "until": (now + policy.duration).isoformat()},
            )
            locked = True
    return locked
