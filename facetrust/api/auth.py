"""Who may call: dependencies that authenticate the caller and check the route's audience.

Tenants' back ends authenticate with ``X-Api-Key``; end users and operators with a bearer token.
Every route declares exactly which of them it admits.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from facetrust.api.deps import ClientInfo, get_session, user_client_info
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.identity.models import Tenant
from facetrust.identity.service import Principal


def tenant(x_api_key: str | None = Header(default=None), session: Session = Depends(get_session)) -> Tenant:
    if not x_api_key:
        raise DomainError(401, "unauthenticated", "this call needs the platform's X-Api-Key header")
    found = service.tenant_by_api_key(session, x_api_key)
    if found is None:
        raise DomainError(401, "unauthenticated", "the API key is not valid")
    return found


def principal(authorization: str | None = Header(default=None), session: Session = Depends(get_session)) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise DomainError(401, "unauthenticated", "this call needs an Authorization: Bearer token")
    found = service.resolve_token(session, authorization[7:].strip())
    if found is None:
        raise DomainError(401, "unauthenticated", "the token is not valid or has expired")
    return found


def user(p: Principal = Depends(principal)) -> Principal:
    if p.kind != "user":
        raise DomainError(403, "forbidden", "this call is for the account holder only")
    return p


def user_client(request: Request, p: Principal = Depends(user)) -> ClientInfo:
    """The account holder's address (the connection's) and device (the one bound to the token)."""
    return user_client_info(request, p.device_id)


def operator(*roles: str) -> Callable[[Principal], Principal]:
    def check(p: Principal = Depends(principal)) -> Principal:
        if p.kind != "operator" or p.role not in roles:
            raise DomainError(403, "forbidden", f"this call needs one of the roles: {', '.join(roles)}")
        return p

    return check
