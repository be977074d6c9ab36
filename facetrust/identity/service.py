"""Tenants, accounts and bearer credentials. Callable without HTTP: plain values in, rows out.

Secrets (API keys, tokens) are random, shown once, and stored only as SHA-256 hashes, so a copy of
the database does not let anyone call the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.devices import service as devices
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account, Credential, Operator, Tenant
from facetrust.security import audit

ROLES = ("risk_analyst", "compliance_officer", "admin")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}\Z")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:]


def mask_name(name: str) -> str:
    """李娜 -> 李*, 欧阳娜娜 -> 欧***: the family name only (as a payment's masked payer name)."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_id_number(id_number: str) -> str:
    """110105198001010016 -> 1101**********0016: the region's first four and the last four."""
    return id_number[:4] + "*" * max(len(id_number) - 8, 0) + id_number[-4:]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with their account and its tenant) or an operator (with a role, and
    the tenant they work for; ``None`` for a platform operator, who works across tenants)."""

    kind: str
    account_id: str | None = None
    tenant_id: str | None = None
    device_id: str | None = None  # the device the platform vouched for when it minted the token
    operator_name: str | None = None
    role: str | None = None

    @property
    def audit_name(self) -> str:
        return f"account:{self.account_id}" if self.kind == "user" else f"operator:{self.operator_name}"


def create_tenant(session: Session, name: str, actor: str = "cli") -> tuple[Tenant, str]:
    """A platform and its API key (returned once; only its hash is kept); ``actor`` is who made it
    (the command line, or an admin over the API), for the audit record."""
    api_key = "ftk_" + secrets.token_urlsafe(32)
    tenant = Tenant(name=name, api_key_hash=secret_hash(api_key))
    session.add(tenant)
    session.flush()
    audit.append(session, actor=actor, action="tenant.create", subject=f"tenant:{tenant.id}")
    return tenant, api_key


def tenant_by_api_key(session: Session, api_key: str) -> Tenant | None:
    return session.execute(select(Tenant).where(Tenant.api_key_hash == secret_hash(api_key))).scalar_one_or_none()


def register_account(session: Session, tenant: Tenant, platform_user_id: str, mobile: str) -> Account:
    if not _MOBILE.match(mobile):
        raise DomainError(ErrorCode.MOBILE_INVALID, "the mobile number must be 11 digits starting 13-19")
    existing = find_account(session, tenant, platform_user_id)
    if existing is not None:
        raise DomainError(ErrorCode.ACCOUNT_EXISTS, "an account with this platform user id already exists")
    account = Account(tenant_id=tenant.id, platform_user_id=platform_user_id, mobile=mobile)
    session.add(account)
    session.flush()
    audit.append(session, actor=f"tenant:{tenant.id}", action="account.register", subject=f"account:{account.id}")
    return account


def find_account(session: Session, tenant: Tenant, platform_user_id: str) -> Account | None:
    return session.execute(
        select(Account).where(Account.tenant_id == tenant.id, Account.platform_user_id == platform_user_id)
    ).scalar_one_or_none()


def _issue(session: Session, ttl: dt.timedelta, **fields: str | None) -> tuple[str, dt.datetime]:
    token = "ftu_" + secrets.token_urlsafe(32)
    expires = utcnow() + ttl
    session.add(Credential(token_hash=secret_hash(token), expires_at=expires, **fields))
    return token, expires


def mint_user_token(
    session: Session, tenant: Tenant, platform_user_id: str, ttl: dt.timedelta, device_id: str | None = None
) -> tuple[str, dt.datetime]:
    """A login. ``device_id`` is the device the platform's back end vouches its user signs in on;
    the token carries it, so the user's own requests cannot name another device."""
    account = find_account(session, tenant, platform_user_id)
    if account is None:  # another tenant's user looks exactly like no user at all
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "no account with this platform user id")
    if account.status == "closed":  # closing deleted its credentials; it cannot sign in again
        raise DomainError(ErrorCode.ACCOUNT_CLOSED, "the account is closed")
    token, expires = _issue(session, ttl, kind="user", account_id=account.id, device_id=device_id)
    devices.note_sign_in(session, account.id, device_id, utcnow())  # the first device is the account's
    audit.append(session, actor=f"tenant:{tenant.id}", action="token.mint", subject=f"account:{account.id}")
    return token, expires


def create_operator_token(
    session: Session, name: str, role: str, ttl: dt.timedelta, actor: str = "cli"
) -> tuple[str, dt.datetime]:
    """A bearer token for an operator (shown once). A managed operator's token (one with an
    ``operators`` row) takes its role and tenant from that row when it is used, whatever ``role``
    it was issued with; an unmanaged name is a platform operator with ``role``."""
    if role not in ROLES:
        raise DomainError(ErrorCode.ROLE_INVALID, f"role must be one of {', '.join(ROLES)}")
    token, expires = _issue(session, ttl, kind="operator", operator_name=name, role=role)
    audit.append(session, actor=actor, action="operator.token", subject=f"operator:{name}", details={"role": role})
    return token, expires


def resolve_token(session: Session, token: str) -> Principal | None:
    cred = session.get(Credential, secret_hash(token))
    if cred is None:
        return None
    expires = cred.expires_at if cred.expires_at.tzinfo else cred.expires_at.replace(tzinfo=dt.UTC)
    if expires <= utcnow():
        return None
    if cred.kind == "user":
        account = session.get(Account, cred.account_id)
        return (
            Principal("user", account_id=account.id, tenant_id=account.tenant_id, device_id=cred.device_id)
            if account
            else None
        )
    managed = session.get(Operator, cred.operator_name) if cred.operator_name else None
    if managed is None:  # tokens from before operators were managed: platform operators (0023)
        return Principal("operator", operator_name=cred.operator_name, role=cred.role)
    if managed.status != "active":  # a disabled operator's tokens stop working at once
        return None
    return Principal("operator", operator_name=managed.name, role=managed.role, tenant_id=managed.tenant_id)
