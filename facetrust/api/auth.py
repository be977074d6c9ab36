"""Who may call: dependencies that authenticate the caller and check the route's audience.

Tenants' back ends authenticate with ``X-Api-Key``; end users and operators with a bearer token.
Every route declares exactly which of them it admits, and OpenAPI publishes it as the route's
security scheme (``PlatformApiKey``, ``UserToken``, ``OperatorToken``; terminals sign, see
``TERMINAL_SIGNATURE``), so a generated client knows what to send.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from facetrust.api.deps import ClientInfo, get_session, user_client_info
from facetrust.devices import service as devices
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.identity.models import Tenant
from facetrust.identity.service import Principal

# The schemes as OpenAPI declares them. They only read headers (never refuse: the checks below give
# the stable codes); a missing or malformed credential is refused by those checks.
PLATFORM_API_KEY = APIKeyHeader(
    name="X-Api-Key",
    scheme_name="PlatformApiKey",
    auto_error=False,
    description="The platform's API key, for its back end only (never in an app).",
)
USER_TOKEN = HTTPBearer(
    scheme_name="UserToken",
    auto_error=False,
    description="An end user's token, minted by the platform's back end (POST /v1/accounts/{platform_user_id}/tokens).",
)
OPERATOR_TOKEN = HTTPBearer(
    scheme_name="OperatorToken",
    auto_error=False,
    description="An operator's token (`facetrust operators token NAME --role ROLE`).",
)
TERMINAL_SIGNATURE = APIKeyHeader(
    name="X-Signature",
    scheme_name="TerminalSignature",
    auto_error=False,
    description="A terminal's HMAC-SHA256 (hex, with its secret) of METHOD\\nPATH\\nX-Timestamp\\nX-Nonce\\n"
    "SHA256(body), sent with X-Terminal-Id, X-Timestamp (Unix seconds) and X-Nonce (8-64 ASCII "
    "characters, once); facetrust/security/signing.py.",
)


def tenant(x_api_key: str | None = Security(PLATFORM_API_KEY), session: Session = Depends(get_session)) -> Tenant:
    if not x_api_key:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "this call needs the platform's X-Api-Key header")
    found = service.tenant_by_api_key(session, x_api_key)
    if found is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "the API key is not valid")
    return found


def principal(request: Request, session: Session = Depends(get_session)) -> Principal:
    """The token's holder, user or operator (the routes' ``user`` and ``operator`` say which, and
    declare the scheme); the header is read here, not declared as a parameter."""
    authorization = request.headers.get("authorization")
    if not authorization or not authorization.lower().startswith("bearer "):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "this call needs an Authorization: Bearer token")
    found = service.resolve_token(session, authorization[7:].strip())
    if found is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "the token is not valid or has expired")
    return found


def user(p: Principal = Depends(principal), _: HTTPAuthorizationCredentials | None = Security(USER_TOKEN)) -> Principal:
    if p.kind != "user":
        raise DomainError(ErrorCode.FORBIDDEN, "this call is for the account holder only")
    return p


def user_client(request: Request, p: Principal = Depends(user)) -> ClientInfo:
    """The account holder's address (the connection's) and device (the one bound to the token)."""
    return user_client_info(request, p.device_id)


def bound_user(request: Request, p: Principal = Depends(user), session: Session = Depends(get_session)) -> Principal:
    """The account holder on the account's bound device (403 ``device_not_bound`` on another one)."""
    devices.check_bound(session, request.app.state.devices, p.account_id, p.device_id)  # type: ignore[arg-type]
    return p


def money_user(request: Request, p: Principal = Depends(user), session: Session = Depends(get_session)) -> Principal:
    """The account holder on the bound device, past any re-binding's cool-down: for the calls that
    let money leave (``device_not_bound``, ``device_cooling_down``; facetrust/devices/service.py)."""
    devices.check_money_may_leave(session, request.app.state.devices, p.account_id, p.device_id)  # type: ignore[arg-type]
    return p


def operator(*roles: str) -> Callable[[Principal], Principal]:
    def check(
        p: Principal = Depends(principal), _: HTTPAuthorizationCredentials | None = Security(OPERATOR_TOKEN)
    ) -> Principal:
        if p.kind != "operator" or p.role not in roles:
            raise DomainError(ErrorCode.FORBIDDEN, f"this call needs one of the roles: {', '.join(roles)}")
        return p

    return check
