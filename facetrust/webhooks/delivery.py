"""The dispatcher: claims due deliveries, POSTs them signed, records each attempt, retries with
backoff, and gives up (``dead``) after the last attempt.

Claims are safe across processes and threads. A claim is a conditional UPDATE (``pending`` and due,
or ``delivering`` with an expired lease, to ``delivering`` with a fresh lease and token); of two
claimers exactly one changes the row. On PostgreSQL the candidates are first read with ``FOR UPDATE
SKIP LOCKED``, so concurrent dispatchers take different rows instead of queueing on the same ones;
SQLite has one writer at a time, and the conditional UPDATE is enough. The POST happens outside any
transaction; its outcome is written only if this claim still holds (the token). A process that dies
mid-send leaves the lease to expire and the delivery is sent again: delivery is at least once, and
receivers dedupe by the event id.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from facetrust.clock import new_id, utcnow
from facetrust.security.envelope import Keyring
from facetrust.store.db import rowcount
from facetrust.webhooks import outbox, signing
from facetrust.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from facetrust.webhooks.service import open_secret, resolves_elsewhere

log = logging.getLogger("facetrust.webhooks")


@dataclass(frozen=True)
class Policy:
    """How hard to try: ``max_attempts`` POSTs at most, the n-th retry after about
    ``base_seconds * 2**(n-1)`` (capped at ``max_seconds``, with jitter), ``lease_seconds`` for one
    attempt before another dispatcher may take the delivery over."""

    max_attempts: int = 8
    base_seconds: float = 10.0
    max_seconds: float = 3600.0
    lease_seconds: float = 60.0
    timeout_seconds: float = 10.0
    batch: int = 20


def backoff(policy: Policy, attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``attempt``-th failed POST: exponential, capped, "equal jitter"
    (half the step fixed, half random), so receivers that failed together are not retried together."""
    step = min(policy.max_seconds, policy.base_seconds * 2 ** (attempt - 1))
    return step / 2 + rng() * step / 2


def _due(now: dt.datetime):  # noqa: ANN202
    return or_(
        and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == "delivering", WebhookDelivery.lease_until < now),
    )


def claim(session: Session, policy: Policy, now: dt.datetime) -> list[tuple[str, str]]:
    """Claim up to ``policy.batch`` due deliveries for this caller and commit: [(delivery id, token)]."""
    ids = (
        session.execute(
            select(WebhookDelivery.id)
            .where(_due(now))
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(policy.batch)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    claimed = []
    for delivery_id in ids:
        token = new_id()
        won = rowcount(
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, _due(now))
                .values(
                    status="delivering",
                    lease_token=token,
                    lease_until=now + dt.timedelta(seconds=policy.lease_seconds),
                )
            )
        )
        if won == 1:
            claimed.append((delivery_id, token))
    session.commit()
    return claimed


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    """Sends the outbox. ``run_once`` is one pass (the CLI's ``webhooks deliver --once``, tests);
    ``start`` runs passes on a thread until ``stop`` (the app's lifespan, ``webhooks deliver``)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: Keyring,
        policy: Policy,
        poll_seconds: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        scans: list[Callable[[Session], int]] | None = None,
        scan_seconds: float = 60.0,
    ) -> None:
        self.sessions, self.keyring, self.policy = sessions, keyring, policy
        self.poll_seconds, self.clock = poll_seconds, clock
        self.client = httpx.Client(transport=transport, timeout=policy.timeout_seconds, follow_redirects=False)
        self.scans, self.scan_seconds, self._last_scan = scans or [], scan_seconds, time.monotonic()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one pass ----------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim what is due and send it; returns how many attempts were made."""
        with self.sessions() as session:
            claimed = claim(session, self.policy, self.clock())
        for delivery_id, token in claimed:
            try:
                self.attempt(delivery_id, token)
            except Exception as exc:  # the secret would not open, a row vanished...: an attempt that failed
                log.error("webhook attempt failed", extra={"error": type(exc).__name__})
                self._record(delivery_id, token, Outcome(None, type(exc).__name__[:128], 0))
        return len(claimed)

    def scan(self) -> int:
        """Run the scans (events found rather than made: installments overdue), each committed."""
        found = 0
        for scan in self.scans:
            with self.sessions() as session:
                found += scan(session)
                session.commit()
        return found

    def attempt(self, delivery_id: str, token: str) -> Outcome:
        with self.sessions() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            event = session.get(WebhookEvent, delivery.event_id)
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            assert event is not None and endpoint is not None
            url, body, kind, event_id = endpoint.url, event.body.encode(), event.kind, event.id
            secret = open_secret(self.keyring, endpoint) if endpoint.status == "active" else None
        if secret is None:  # the endpoint was disabled after the event: nothing is sent
            outcome = Outcome(None, "endpoint_disabled", 0)
            self._record(delivery_id, token, outcome, give_up=True)
            return outcome
        if resolves_elsewhere(url):  # nothing is sent to the cloud's metadata service, whatever the name says
            outcome = Outcome(None, "address_refused", 0)
            self._record(delivery_id, token, outcome)
            return outcome
        headers = signing.headers(secret, event_id, kind, body, int(time.time()))
        t0 = time.monotonic()
        try:
            response = self.client.post(url, content=body, headers=headers)
            outcome = Outcome(response.status_code, None, _ms(t0))
            response.close()
        except httpx.HTTPError as exc:  # refused, timed out, reset: retried like a 5xx
            outcome = Outcome(None, type(exc).__name__, _ms(t0))
        self._record(delivery_id, token, outcome)
        return outcome

    def _record(self, delivery_id: str, token: str, outcome: Outcome, give_up: bool = False) -> None:
        """Write the attempt and the delivery's next state, if this claim still holds."""
        now = self.clock()
        with self.sessions() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            number = delivery.attempts + 1
            values: dict = {
                "attempts": number,
                "lease_token": None,
                "lease_until": None,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
            }
            next_at = None
            if outcome.ok:
                values.update(status="delivered", delivered_at=now)
            elif give_up or number >= self.policy.max_attempts:
                values.update(status="dead")
            else:
                next_at = now + dt.timedelta(seconds=backoff(self.policy, number))
                values.update(status="pending", next_attempt_at=next_at)
            held = rowcount(
                session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.lease_token == token,
                        WebhookDelivery.status == "delivering",
                    )
                    .values(**values)
                )
            )
            if held != 1:  # the lease ran out and another dispatcher took it over: its record counts
                session.rollback()
                return
            session.add(
                WebhookAttempt(
                    id=new_id(),
                    delivery_id=delivery_id,
                    number=number,
                    at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    latency_ms=outcome.latency_ms,
                    next_attempt_at=next_at,
                )
            )
            session.commit()

    # --- the thread --------------------------------------------------------------------------------

    def start(self) -> None:
        outbox.on_commit(self._wake)
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        outbox.forget(self._wake)
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                if self.scans and time.monotonic() - self._last_scan >= self.scan_seconds:
                    self._last_scan = time.monotonic()
                    self.scan()
                busy = self.run_once() > 0
            except Exception as exc:  # a database hiccup: try again at the next poll, never die
                log.error("webhook dispatch failed", extra={"error": type(exc).__name__})
            if not busy:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()


def _ms(t0: float) -> int:
    return int((time.monotonic() - t0) * 1000)
