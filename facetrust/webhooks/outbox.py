"""The outbox: an event is written in the transaction of the change it reports.

Why not the message bus (``facetrust.messagebus``): its handlers run after the commit, so a process
that dies between the commit and the handler loses the event. Here the services call ``enqueue``
while their transaction is open; the event row and one delivery row per subscribed endpoint commit
or roll back with the change itself. The dispatcher (``delivery.py``) sends them later, from any
process, as many times as it takes: at least once.

What a payload may hold is checked here, for every caller: ids, amounts in fen, statuses, kinds and
masked names. A key that names personal or face data is refused with ``ValueError`` (a programming
error, caught by the tests), never sent. Values are not scanned at run time: a merchant's order id
may well be 18 digits, and refusing the payment for it would be wrong; the tests scan every payload
for ID numbers (``ID_NUMBER``) and the people's real identities instead.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.clock import new_id, utcnow
from facetrust.identity.models import Account
from facetrust.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

PAYMENT_PAID = "payment.paid"
PAYMENT_DECLINED = "payment.declined"
PAYMENT_REFUNDED = "payment.refunded"
CHECKOUT_CONFIRMED = "checkout.confirmed"
CHECKOUT_RETURNED = "checkout.returned"
PLAN_REPAID = "plan.repaid"
PLAN_OVERDUE = "plan.overdue"
LOAN_DRAWN = "loan.drawn"
ACCOUNT_FROZEN = "account.frozen"
ACCOUNT_UNFROZEN = "account.unfrozen"
CONSENT_WITHDRAWN = "consent.withdrawn"
REAL_NAME_COMPLETED = "real_name.completed"
KINDS = (
    PAYMENT_PAID,
    PAYMENT_DECLINED,
    PAYMENT_REFUNDED,
    CHECKOUT_CONFIRMED,
    CHECKOUT_RETURNED,
    PLAN_REPAID,
    PLAN_OVERDUE,
    LOAN_DRAWN,
    ACCOUNT_FROZEN,
    ACCOUNT_UNFROZEN,
    CONSENT_WITHDRAWN,
    REAL_NAME_COMPLETED,
)

# Keys no payload may carry, at any depth (a masked name is ``name_masked``/``payer_name_masked``).
FORBIDDEN_KEYS = frozenset(
    {
        "name",
        "full_name",
        "id_number",
        "id_number_hash",
        "mobile",
        "phone",
        "birth_date",
        "template",
        "templates",
        "embedding",
        "face",
        "image",
        "images",
        "frames",
        "photo",
        "bank_card",
        "card_number",
        "address",
        "shipping_address",
        "candidates",
    }
)
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")  # a mainland resident ID number


def account_ref(account: Account) -> dict[str, str]:
    """How an event names a person: our account id and the platform's own user id, nothing else."""
    return {"account_id": account.id, "platform_user_id": account.platform_user_id}


def check_clean(payload: Any, path: str = "data") -> None:
    """Refuse a payload with a key that names personal or face data, or binary data (``ValueError``)."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if str(key).lower() in FORBIDDEN_KEYS:
                raise ValueError(f"webhook payload may not carry {path}.{key}")
            check_clean(value, f"{path}.{key}")
    elif isinstance(payload, list | tuple):
        for i, value in enumerate(payload):
            check_clean(value, f"{path}[{i}]")
    elif isinstance(payload, bytes | bytearray):
        raise ValueError(f"webhook payload {path} is binary")


def body_of(event_id: str, tenant_id: str, kind: str, data: dict[str, Any], created_at: str) -> str:
    """The JSON a receiver gets, the same bytes on every attempt."""
    return json.dumps(
        {"id": event_id, "kind": kind, "tenant_id": tenant_id, "created_at": created_at, "data": data},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def subscribed(endpoint: WebhookEndpoint, kind: str) -> bool:
    return endpoint.kinds is None or kind in json.loads(endpoint.kinds)


def enqueue(
    session: Session, tenant_id: str, kind: str, data: dict[str, Any], dedupe_key: str | None = None
) -> WebhookEvent:
    """Add the event, and a pending delivery to each of the tenant's active endpoints that take its
    kind, to ``session``: they commit with the caller's change, or not at all. An event is kept even
    when no endpoint takes it (an operator can see what happened, and the count of events is honest)."""
    if kind not in KINDS:
        raise ValueError(f"unknown webhook event kind {kind!r}")
    check_clean(data)
    now = utcnow()
    row = WebhookEvent(
        id=new_id(),
        tenant_id=tenant_id,
        kind=kind,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    row.body = body_of(row.id, tenant_id, kind, data, now.isoformat(timespec="seconds"))
    session.add(row)
    endpoints = session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.status == "active")
    ).scalars()
    for endpoint in endpoints:
        if subscribed(endpoint, kind):
            session.add(
                WebhookDelivery(
                    id=new_id(),
                    event_id=row.id,
                    endpoint_id=endpoint.id,
                    tenant_id=tenant_id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            wake_on_commit(session)
    return row


# --- waking this process's dispatcher as soon as an event commits (an optimisation: without it the
# dispatcher finds the event at its next poll) -------------------------------------------------------

_ENQUEUED = "webhooks.enqueued"
_wakers: list[threading.Event] = []


def wake_on_commit(session: Session) -> None:
    """Wake this process's dispatcher when ``session`` commits (a delivery was added to it)."""
    session.info[_ENQUEUED] = True


def on_commit(wake: threading.Event) -> None:
    """Set ``wake`` whenever a transaction of this process commits a delivery."""
    _wakers.append(wake)


def forget(wake: threading.Event) -> None:
    if wake in _wakers:
        _wakers.remove(wake)


@sa_event.listens_for(Session, "after_commit")
def _wake(session: Session) -> None:
    if session.info.pop(_ENQUEUED, None):
        for wake in list(_wakers):
            wake.set()


@sa_event.listens_for(Session, "after_soft_rollback")
def _dropped(session: Session, previous_transaction) -> None:  # noqa: ANN001
    if previous_transaction.parent is None:
        session.info.pop(_ENQUEUED, None)
