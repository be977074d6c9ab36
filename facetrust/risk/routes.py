"""HTTP routes of risk control: operators freeze and unfreeze accounts.

A frozen account can still be read and can still repay what it owes, but it cannot pay, buy on
installments, draw a loan or start a liveness check until it is unfrozen.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import get_session
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.identity.service import Principal
from facetrust.risk import service

router = APIRouter(prefix="/v1", tags=["risk"])


class FreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=256)


class AccountStatusOut(BaseModel):
    account_id: str
    status: str


def _account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise DomainError(404, "account_not_found", "no such account")
    return account


@router.post("/operator/accounts/{account_id}/freeze", response_model=AccountStatusOut)
def freeze(account_id: str, body: FreezeIn, op: Principal = Depends(auth.operator("risk_analyst", "admin")),
           session: Session = Depends(get_session)) -> AccountStatusOut:
    account = service.freeze(session, _account(session, account_id), op.audit_name, body.reason)
    session.commit()
    return AccountStatusOut(account_id=account.id, status=account.status)


@router.post("/operator/accounts/{account_id}/unfreeze", response_model=AccountStatusOut)
def unfreeze(account_id: str, body: FreezeIn, op: Principal = Depends(auth.operator("risk_analyst", "admin")),
             session: Session = Depends(get_session)) -> AccountStatusOut:
    account = service.unfreeze(session, _account(session, account_id), op.audit_name, body.reason)
    session.commit()
    return AccountStatusOut(account_id=account.id, status=account.status)
