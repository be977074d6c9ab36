"""HTTP routes of the identity domain (thin: validate, call the service, map the result)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import get_session
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.identity.models import Account, Tenant
from facetrust.identity.schemas import AccountCreate, AccountOut, TokenOut
from facetrust.identity.service import Principal

router = APIRouter(prefix="/v1", tags=["identity"])


def _out(account: Account) -> AccountOut:
    return AccountOut(
        account_id=account.id,
        platform_user_id=account.platform_user_id,
        mobile_masked=service.mask_mobile(account.mobile),
        status=account.status,
        created_at=account.created_at,
    )


@router.post("/accounts", status_code=201, response_model=AccountOut)
def register_account(body: AccountCreate, tenant: Tenant = Depends(auth.tenant),
                     session: Session = Depends(get_session)) -> AccountOut:
    """The platform's back end registers one of its users."""
    account = service.register_account(session, tenant, body.platform_user_id, body.mobile)
    session.commit()
    return _out(account)


@router.post("/accounts/{platform_user_id}/tokens", status_code=201, response_model=TokenOut)
def mint_token(platform_user_id: str, request: Request, tenant: Tenant = Depends(auth.tenant),
               session: Session = Depends(get_session)) -> TokenOut:
    """The platform's back end mints a bearer token for its signed-in user."""
    ttl = dt.timedelta(seconds=request.app.state.settings.user_token_ttl_seconds)
    token, expires = service.mint_user_token(session, tenant, platform_user_id, ttl)
    session.commit()
    return TokenOut(token=token, expires_at=expires)


@router.get("/me", response_model=AccountOut)
def me(p: Principal = Depends(auth.user), session: Session = Depends(get_session)) -> AccountOut:
    """The caller's own account (personal data masked)."""
    account = session.get(Account, p.account_id)
    if account is None:
        raise DomainError(404, "account_not_found", "the account no longer exists")
    return _out(account)
