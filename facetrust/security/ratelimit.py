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
single-process mode. Several worker processes or hosts would each count on their own and so let a
caller make N times the limit: such a deployment needs a shared store (a table in the database, or
Redis) implementing the same ``hit``.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from fastapi import Depends, Request, params

from facetrust import metrics
from facetrust.api.deps import client_address, platform_client_info
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError

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


class RateLimiter:
    """The app's limiter (``app.state.rate_limiter``): a store and a clock (monotonic seconds;
    tests pass their own to move time without sleeping)."""

    def __init__(self, store: WindowStore | None = None, clock: Callable[[], float] = time.monotonic,
                 window_seconds: float = WINDOW_SECONDS) -> None:
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
            raise DomainError(ErrorCode.RATE_LIMITED, f"too many requests; try again in {seconds} seconds",
                              retry_after_seconds=seconds)


def _digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:32]


# --- budgets and the route dependency -----------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """A group of routes sharing one limit per caller (``setting``, a per-minute count) and one per IP.

    ``caller`` names the subject from the authenticated caller (or the request, where the route
    has no caller). ``ip`` says which address to count: the client's (the connection's, or the one a
    listed proxy put in ``X-Forwarded-For``), only the ``X-Client-Ip`` a platform's back end passes
    with its API key (its own address is the peer, and every user of the platform shares it), or
    none (terminals and operators are known by name). ``device`` likewise: the ``X-Device-Id`` the
    back end passes with its key, the device bound to the user's token, or none. A header an end
    user writes never counts: rotating it would lift the limit, naming a victim's would spend theirs.
    """

    setting: str
    caller: Callable[[object, Request], str | None]
    ip: Literal["client", "platform", "none"]
    device: Literal["platform", "token", "none"]


BUDGETS: dict[str, Budget] = {
    # token minting, by the platform's back end (who = its Tenant), for one of its users
    "auth": Budget("rate_limit_auth_per_minute",
                   lambda tenant, r: f"user:{tenant.id}:{r.path_params.get('platform_user_id')}",  # type: ignore[attr-defined]
                   ip="platform", device="platform"),
    # real-name, liveness, face-pay switch-on, by the account holder (who = a user Principal)
    "face": Budget("rate_limit_face_per_minute", lambda p, _: f"account:{p.account_id}",  # type: ignore[attr-defined]
                   ip="client", device="token"),
    # the payer's capture page: whoever holds the token in the path
    "capture": Budget("rate_limit_capture_per_minute", lambda _, r: f"token:{r.path_params.get('token')}",
                      ip="client", device="none"),
    # payment intents, by a signed terminal (who = its Terminal)
    "terminal": Budget("rate_limit_terminal_per_minute", lambda t, _: f"terminal:{t.id}",  # type: ignore[attr-defined]
                       ip="none", device="none"),
    # operator look-ups, by whoever holds a bearer token (who = a Principal; the route checks the role)
    "operator": Budget("rate_limit_operator_per_minute",
                       lambda p, _: f"operator:{p.operator_name}" if p.kind == "operator"  # type: ignore[attr-defined]
                       else f"account:{p.account_id}",  # type: ignore[attr-defined]
                       ip="none", device="none"),
}


def _limits(budget: Budget, request: Request, caller: object) -> list[tuple[str, int]]:
    settings = request.app.state.settings
    per_caller, per_ip = getattr(settings, budget.setting), settings.rate_limit_ip_per_minute
    platform = platform_client_info(request)
    limits: list[tuple[str, int]] = []
    subject = budget.caller(caller, request)
    if subject:
        limits.append((subject, per_caller))
    device = {"platform": platform.device_id, "token": getattr(caller, "device_id", None), "none": None}[budget.device]
    if device:
        limits.append((f"device:{device}", per_caller))
    ip = {"client": lambda: client_address(request)[0], "platform": lambda: platform.ip, "none": lambda: None}[budget.ip]()
    if ip:
        limits.append((f"ip:{ip}", per_ip))
    return limits


def rate_limited(budget: str, who: Callable[..., object] | None = None) -> params.Depends:
    """A route dependency that counts the request against ``budget``. ``who`` is the route's own
    authentication dependency (``auth.user``, ``auth.tenant``, ``signed_terminal``...): it runs
    first, so an unauthenticated request is refused 401 before it counts, and FastAPI caches its
    result for the route. Use as ``dependencies=[rate_limited("face", who=auth.user)]``."""
    spec = BUDGETS[budget]

    def check(request: Request, caller: object) -> None:
        request.app.state.rate_limiter.check(budget, _limits(spec, request, caller))

    if who is None:
        def limit(request: Request) -> None:
            check(request, None)
    else:
        def limit(request: Request, caller: object = Depends(who)) -> None:  # type: ignore[misc]
            check(request, caller)
    return Depends(limit)
