"""Rate limits: how many requests one caller may make to a group of routes in a sliding minute.

This is not the face-attempt lockout (``lockout.py``), which counts *failed* face attempts and locks
for half an hour; a rate limit counts every request and only bounds speed: how fast a stolen API
key mints tokens, a script grinds the real-name check, a device floods liveness captures, or a
capture page is hammered. Both answer 429, with different codes.

Each limited route names a **budget** (``auth``, ``face``, ``capture``, ``terminal``,
``operator``; their sizes are settings). One request counts against several subjects at once: the
caller the budget is keyed on (a platform user, an account, a payment's capture token, a terminal,
an operator), the device the platform vouched for (``X-Device-Id`` with its API key, or bound to the user's token),
and the client's IP (the connection's; ``X-Forwarded-For`` only from a listed proxy). Over any of them
the request is refused 429 ``rate_limited`` with ``retry_after_seconds`` (and a ``Retry-After``
header), and it counts against none, so a refused client is free again once its window has moved
on. The caller is authenticated first (the route's own auth dependency, which FastAPI then reuses),
so a stranger's requests never use up an account's budget.

Subjects are held only as sha256 digests: the limiter never keeps an IP, a device id or a token in
clear, and it logs nothing.

Storage is behind ``WindowStore``, one atomic "count this request if every subject has room"
operation. ``MemoryWindows`` keeps the counts in this process, which is right for the embedded
single-process mode (``FACETRUST_RATE_LIMIT_STORE=memory``, the default). Several worker processes
or hosts would each count on their own and so let a caller make N times the limit: they share
``DatabaseWindows`` (``FACETRUST_RATE_LIMIT_STORE=database``), the same ``hit`` over a table, made
atomic by the database's own locks.

The budgets and the route dependency that applies them are the web layer's
(``facetrust.api.ratelimits``); this module knows nothing of HTTP.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from facetrust import metrics
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.security.models import RateLimitHit

WINDOW_SECONDS = 60.0  # the settings are "per minute"


class WindowStore(Protocol):
    def hit(self, limits: Sequence[tuple[str, int]], now: float, window: float) -> float:
        """Atomically: if every key has had fewer than its limit of hits in ``(now - window, now]``,
        record one hit on each and return 0; else record nothing and return the seconds until the
        fullest key has room again."""
        ...


class MemoryWindows:
    """Sliding-window logs in this process: per key, the times of its hits in the last window."""

    SWEEP_EVERY = 1024  # hits between sweeps that drop keys idle for a whole window

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # routes run in a thread pool
        self._since_sweep = 0

    def hit(self, limits: Sequence[tuple[str, int]], now: float, window: float) -> float:
        with self._lock:
            wait = 0.0
            for key, limit in limits:
                times = self._hits.get(key)
                if times is None:
                    continue
                while times and times[0] <= now - window:
                    times.popleft()
                if len(times) >= limit:
                    wait = max(wait, times[-limit] + window - now)
            if wait > 0:
                return wait
            for key, _ in limits:
                self._hits.setdefault(key, deque()).append(now)
            self._since_sweep += 1
            if self._since_sweep >= self.SWEEP_EVERY:
                self._sweep(now, window)
            return 0.0

    def _sweep(self, now: float, window: float) -> None:
        self._since_sweep = 0
        for key in [k for k, times in self._hits.items() if not times or times[-1] <= now - window]:
            del self._hits[key]


class DatabaseWindows:
    """Sliding-window logs in the database, shared by every process that uses it. One transaction per
    request: the keys are locked first (PostgreSQL: an advisory lock per key, taken in one order;
    SQLite: its single writer, taken by the first statement, a delete), then counted, then written,
    so two processes never both take the last place. Times are epoch seconds (``time.time``), the
    clock every process shares. Costs a few statements per limited request; measured in the tests
    only for correctness, not speed."""

    SWEEP_EVERY = 1024  # hits between sweeps of every key's old rows (each hit trims its own keys)

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions
        self._since_sweep = 0

    def hit(self, limits: Sequence[tuple[str, int]], now: float, window: float) -> float:
        keys = sorted({key for key, _ in limits})
        with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                for key in keys:
                    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
            session.execute(delete(RateLimitHit).where(RateLimitHit.key.in_(keys), RateLimitHit.at <= now - window))
            wait = 0.0
            for key, limit in limits:
                oldest_counted = session.execute(
                    select(RateLimitHit.at)
                    .where(RateLimitHit.key == key, RateLimitHit.at > now - window)
                    .order_by(RateLimitHit.at.desc())
                    .offset(limit - 1)
                    .limit(1)
                ).scalar()
                if oldest_counted is not None:
                    wait = max(wait, oldest_counted + window - now)
            if wait > 0:
                return wait
            session.add_all(RateLimitHit(key=key, at=now) for key, _ in limits)
            self._since_sweep += 1
            if self._since_sweep >= self.SWEEP_EVERY:
                self._since_sweep = 0
                session.execute(delete(RateLimitHit).where(RateLimitHit.at <= now - window))
            return 0.0


class RateLimiter:
    """The app's limiter (``app.state.rate_limiter``): a store and a clock (monotonic seconds;
    tests pass their own to move time without sleeping)."""

    def __init__(
        self,
        store: WindowStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self.store = store or MemoryWindows()
        self.clock = clock
        self.window = window_seconds

    def check(self, budget: str, limits: Sequence[tuple[str, int]]) -> None:
        """Count one request against each ``(subject, limit)``; refuse 429 ``rate_limited`` if any is full."""
        keyed = [(_digest(f"{budget}|{subject}"), limit) for subject, limit in limits if limit > 0]
        if not keyed:
            return
        wait = self.store.hit(keyed, self.clock(), self.window)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            metrics.RATE_LIMITED.labels(budget).inc()
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"too many requests; try again in {seconds} seconds",
                retry_after_seconds=seconds,
            )


def _digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:32]
