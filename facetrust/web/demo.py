"""The demo platform: lets a person try the pages on a service nobody has integrated with yet.

Off unless ``FACETRUST_DEMO=1`` (``make run`` turns it on for local trials). It plays the parts a
platform's back end and an admin would: it mints a token for a new demo account (funded), offers a
shop order on installments (with a credit line once the person's real name is verified), and provisions a vending-machine terminal. Every
account it makes belongs to the demo tenant only, so it can never act for a real platform's users.
"""

from __future__ import annotations

import datetime as dt
import secrets

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import credit_context, face_pay_context, get_session
from facetrust.credit import checkouts, lines
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.identity.models import Account, Tenant
from facetrust.identity.service import Principal
from facetrust.payments import merchants, wallets
from facetrust.payments.models import Merchant

router = APIRouter(prefix="/v1/demo", tags=["demo"])

TENANT = "demo (simulated platform)"
SHOP = "Demo Mall"
NOTICE = "A demo platform simulated by this service, for trying the pages; not a real platform."
WALLET_FEN = 1_000_00
CREDIT_LINE_FEN = 20_000_00


class DemoOut(BaseModel):
    demo: bool
    notice: str


class DemoToken(BaseModel):
    token: str
    platform_user_id: str
    expires_at: dt.datetime


class DemoCheckout(BaseModel):
    checkout_id: str


class DemoTerminal(BaseModel):
    terminal_id: str
    secret: str
    merchant_name: str


def enabled(request: Request) -> None:
    if not request.app.state.settings.demo:
        raise DomainError(ErrorCode.NOT_FOUND, "this service runs no demo platform (FACETRUST_DEMO is off)")


def _tenant(session: Session) -> Tenant:
    """The demo tenant, made on first use. Many first requests may race to make it: each tries in a
    savepoint, and a loser (the unique name refuses its row) takes the winner's."""
    found = select(Tenant).where(Tenant.name == TENANT)
    tenant = session.execute(found).scalar_one_or_none()
    if tenant is not None:
        return tenant
    try:
        with session.begin_nested():
            tenant, _ = service.create_tenant(
                session, TENANT
            )  # its API key is never needed: this module is its back end
    except IntegrityError:
        tenant = session.execute(found).scalar_one()
    return tenant


def _shop(session: Session, tenant: Tenant) -> Merchant:
    """The demo shop, made on first use; made under a lock on the demo tenant's row, so two first
    requests cannot make two shops (merchant names need not be unique, so no constraint would)."""
    found = (
        select(Merchant).where(Merchant.tenant_id == tenant.id, Merchant.name == SHOP).order_by(Merchant.id).limit(1)
    )
    shop = session.execute(found).scalar_one_or_none()
    if shop is not None:
        return shop
    with session.begin_nested():  # on SQLite this takes the write lock; on PostgreSQL the row lock below
        session.execute(select(Tenant.id).where(Tenant.id == tenant.id).with_for_update())
        shop = session.execute(found).scalar_one_or_none()
        if shop is None:
            shop = merchants.register_merchant(session, "demo", tenant.id, SHOP, 60, None, None)
    return shop


@router.get("", response_model=DemoOut, dependencies=[Depends(enabled)])
def demo() -> DemoOut:
    return DemoOut(demo=True, notice=NOTICE)


@router.post("/sign-in", status_code=201, response_model=DemoToken, dependencies=[Depends(enabled)])
def sign_in(request: Request, session: Session = Depends(get_session)) -> DemoToken:
    """A new demo account with money in its wallet, signed in."""
    tenant = _tenant(session)
    user = "demo-" + secrets.token_hex(4)
    account = service.register_account(
        session, tenant, user, "139" + "".join(secrets.choice("0123456789") for _ in range(8))
    )
    wallets.top_up(session, tenant, account, WALLET_FEN, f"demo-{user}")
    token, expires = service.mint_user_token(
        session, tenant, user, dt.timedelta(seconds=request.app.state.settings.user_token_ttl_seconds)
    )
    session.commit()
    return DemoToken(token=token, platform_user_id=user, expires_at=expires)


@router.post("/checkouts", status_code=201, response_model=DemoCheckout)
def offer_order(
    p: Principal = Depends(auth.user),
    _: None = Depends(enabled),
    session: Session = Depends(get_session),
    ctx=Depends(credit_context),
) -> DemoCheckout:
    """The demo shop offers the signed-in demo user a phone on installments, with a credit line the
    first time (a line needs a completed real-name authentication, as for everyone)."""
    tenant = _tenant(session)
    account = session.get(Account, p.account_id)
    if account is None or account.tenant_id != tenant.id:
        raise DomainError(ErrorCode.FORBIDDEN, "only demo accounts can order from the demo shop")
    if lines.line_of(session, account.id) is None:
        lines.grant(session, account, CREDIT_LINE_FEN, "demo", "demo platform")
    row, _ = checkouts.create(
        session,
        ctx,
        tenant,
        account,
        _shop(session, tenant).id,
        "demo-" + secrets.token_hex(6),
        5_999_00,
        "phones",
        "Xiaomi 15 (demo)",
    )
    session.commit()
    return DemoCheckout(checkout_id=row.id)


@router.post("/terminal", status_code=201, response_model=DemoTerminal, dependencies=[Depends(enabled)])
def provision_terminal(session: Session = Depends(get_session), ctx=Depends(face_pay_context)) -> DemoTerminal:
    """A vending machine of the demo shop, with its signing secret (shown once, as an admin would get it)."""
    tenant = _tenant(session)
    shop = _shop(session, tenant)
    terminal, secret = merchants.register_terminal(session, ctx.keyring, "demo", shop.id, "demo vending machine")
    session.commit()
    return DemoTerminal(terminal_id=terminal.id, secret=secret, merchant_name=shop.name)
