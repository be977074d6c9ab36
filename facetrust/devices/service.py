"""Which device money may leave an account from.

The platform's back end names the device its user signs in on when it mints a token
(``X-Device-Id``); the token carries it. The account's first such device is bound to it. A token for
another device is *unbound*: it reads everything and may do every face check, but money does not
leave from it (switching face pay on, confirming an installment plan, drawing a loan) until the
person proves, on that device, that they are the account holder (``rebind.py``). After a
re-binding money waits a cool-down (default 24 hours), and the old device is told, so an account
taken over by someone who passed the checks still gives its owner time to react.

A token minted without a device (a platform that does not report devices) is not checked here:
there is nothing to compare. Merchants' machines (``terminal:...``) are never bound.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.clock import as_utc, utcnow
from facetrust.devices.models import DeviceBinding, Notification
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.security import audit

TERMINAL_PREFIX = "terminal:"
FIRST_SIGN_IN = "first_sign_in"


@dataclass
class DeviceContext:
    """``cooldown``: how long money waits after a re-binding (FACETRUST_DEVICE_REBIND_COOLDOWN_HOURS).
    ``clock``: now (a test moves it to the end of a cool-down)."""

    cooldown: dt.timedelta = dt.timedelta(hours=24)
    bank_proof_max_age: dt.timedelta = dt.timedelta(minutes=10)
    clock: Callable[[], dt.datetime] = field(default=utcnow)


def _personal(device_id: str | None) -> bool:
    return bool(device_id) and not device_id.startswith(TERMINAL_PREFIX)  # type: ignore[union-attr]


def binding(session: Session, account_id: str) -> DeviceBinding | None:
    return session.get(DeviceBinding, account_id)


def note_sign_in(session: Session, account_id: str, device_id: str | None, now: dt.datetime) -> None:
    """At a login: the account's first own device becomes its bound device."""
    if not _personal(device_id) or binding(session, account_id) is not None:
        return
    try:
        with session.begin_nested():  # two first logins at once: one binds, the other finds it bound
            session.add(DeviceBinding(account_id=account_id, device_id=device_id, method=FIRST_SIGN_IN, bound_at=now))
    except IntegrityError:
        return
    audit.append(
        session,
        actor=f"account:{account_id}",
        action="device.bind",
        subject=f"account:{account_id}",
        purpose="security",
        details={"device_id": device_id, "method": FIRST_SIGN_IN},
    )


def is_bound(session: Session, account_id: str, device_id: str | None) -> bool:
    """Whether money may leave from ``device_id`` apart from a cool-down (no device named, no binding
    yet: nothing to compare, so yes)."""
    if not _personal(device_id):
        return True
    row = binding(session, account_id)
    return row is None or row.device_id == device_id


def check_bound(session: Session, ctx: DeviceContext, account_id: str, device_id: str | None) -> None:
    """Refuse 403 ``device_not_bound`` on a device that is not the account's bound device. An
    account with no binding yet (its tokens predate device binding) binds this device now."""
    if not _personal(device_id):
        return
    row = binding(session, account_id)
    if row is None:
        note_sign_in(session, account_id, device_id, ctx.clock())
        return
    if row.device_id != device_id:
        raise DomainError(
            ErrorCode.DEVICE_NOT_BOUND,
            "this is a new device for this account: verify it's you (POST /v1/me/device/rebind) before money "
            "can leave from it",
        )


def check_money_may_leave(session: Session, ctx: DeviceContext, account_id: str, device_id: str | None) -> None:
    """The bound device, and not within a re-binding's cool-down: 403 ``device_cooling_down`` says
    until when."""
    check_bound(session, ctx, account_id, device_id)
    row = binding(session, account_id)
    if row is None or row.cooldown_until is None or not _personal(device_id):
        return
    until = as_utc(row.cooldown_until)
    if ctx.clock() < until:
        raise DomainError(
            ErrorCode.DEVICE_COOLING_DOWN,
            f"this device was verified recently; money can leave from it after {until.isoformat()}",
            until=until.isoformat(),
        )


def notify(session: Session, account_id: str, device_id: str | None, kind: str, data: dict) -> Notification:
    row = Notification(account_id=account_id, device_id=device_id, kind=kind, data=json.dumps(data, sort_keys=True))
    session.add(row)
    session.flush()
    return row


def notifications(session: Session, account_id: str, device_id: str | None, limit: int = 50) -> list[Notification]:
    """The account's notifications addressed to this device or to every device, newest first."""
    query = select(Notification).where(Notification.account_id == account_id)
    if device_id is not None:
        query = query.where(or_(Notification.device_id.is_(None), Notification.device_id == device_id))
    return list(session.execute(query.order_by(Notification.created_at.desc()).limit(limit)).scalars())
