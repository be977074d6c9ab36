"""The rate-limit budgets of the routes and the FastAPI dependency that applies them: which caller,
device and address one request counts against (``facetrust.security.ratelimit`` counts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Depends, Request, params

from facetrust.api.deps import client_address, platform_client_info


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
    "auth": Budget(
        "rate_limit_auth_per_minute",
        lambda tenant, r: f"user:{tenant.id}:{r.path_params.get('platform_user_id')}",  # type: ignore[attr-defined]
        ip="platform",
        device="platform",
    ),
    # real-name, liveness, face-pay switch-on, by the account holder (who = a user Principal)
    "face": Budget(
        "rate_limit_face_per_minute",
        lambda p, _: f"account:{p.account_id}",  # type: ignore[attr-defined]
        ip="client",
        device="token",
    ),
    # the person's copy of their data, by the account holder (who = a user Principal)
    "export": Budget(
        "rate_limit_export_per_minute",
        lambda p, _: f"account:{p.account_id}",  # type: ignore[attr-defined]
        ip="client",
        device="token",
    ),
    # the payer's capture page: whoever holds the token in the path
    "capture": Budget(
        "rate_limit_capture_per_minute", lambda _, r: f"token:{r.path_params.get('token')}", ip="client", device="none"
    ),
    # payment intents, by a signed terminal (who = its Terminal)
    "terminal": Budget(
        "rate_limit_terminal_per_minute",
        lambda t, _: f"terminal:{t.id}",  # type: ignore[attr-defined]
        ip="none",
        device="none",
    ),
    # operator look-ups, by whoever holds a bearer token (who = a Principal; the route checks the role)
    "operator": Budget(
        "rate_limit_operator_per_minute",
        lambda p, _: (
            f"operator:{p.operator_name}"
            if p.kind == "operator"  # type: ignore[attr-defined]
            else f"account:{p.account_id}"
        ),  # type: ignore[attr-defined]
        ip="none",
        device="none",
    ),
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
    ip = {"client": lambda: client_address(request)[0], "platform": lambda: platform.ip, "none": lambda: None}[
        budget.ip
    ]()
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
