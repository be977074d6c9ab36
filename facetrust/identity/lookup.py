"""Operators look accounts up for the risk console: personal data masked by default, revealed only
with a stated reason, and every reveal audited.

Operators are platform-wide in this service (an operator token carries a role, not a tenant), so a
lookup searches every tenant's accounts and says which tenant each result belongs to. A search
matches exact values only (an account id, a platform user id, an 11-digit mobile number, or an
18-character ID number through its hash); there is no prefix or fuzzy search, so the lookup cannot
be used to browse people.

The masked name and ID number come from the account's latest passed real-name authentication,
opened from its sealed record; nothing of it is written to the audit log or any other log, only the
names of the fields a reveal showed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from facetrust.credit import lines
from facetrust.credit.models import CreditPlan
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import kyc
from facetrust.identity.models import Account, RealNameAuthentication, Tenant
from facetrust.identity.scope import Scope
from facetrust.identity.service import mask_id_number, mask_mobile, mask_name, secret_hash
from facetrust.security import audit
from facetrust.security.envelope import Keyring
from facetrust.security.models import AuditRecord, StoredTemplate

MAX_RESULTS = 20
REVEALED_FIELDS = ("mobile", "name", "id_number")
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}\Z")
_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]\Z")


@dataclass(frozen=True)
class CreditSummary:
    limit_fen: int
    used_fen: int
    available_fen: int
    active_plans: int


@dataclass(frozen=True)
class AccountView:
    """What an operator sees of an account without revealing anything."""

    account: Account
    tenant_name: str
    mobile_masked: str
    name_masked: str | None
    id_number_masked: str | None
    real_name: str  # verified | failed (attempts, none passed) | none
    real_name_method: str | None  # of the passed authentication
    real_name_verified_at: dt.datetime | None
    face_pay: bool  # a face-pay template is enrolled
    credit: CreditSummary | None  # None: no credit line


@dataclass(frozen=True)
class Revealed:
    account_id: str
    mobile: str
    name: str | None
    id_number: str | None
    audit: AuditRecord  # names the operator, the reason and the fields; its seq is set at the commit


def find(session: Session, q: str, scope: Scope | None = None) -> list[Account]:
    """Accounts matching ``q`` exactly, as an account id, platform user id, mobile or ID number;
    only the ``scope``'s tenant's, when a tenant operator asks."""
    q = q.strip()
    if not q:
        raise DomainError(ErrorCode.QUERY_EMPTY, "give an account id, a platform user id, a mobile or an ID number")
    matches = [Account.platform_user_id == q]
    if _ACCOUNT_ID.match(q):
        matches.append(Account.id == q)
    if _MOBILE.match(q):
        matches.append(Account.mobile == q)
    if _ID_NUMBER.match(q.upper()):
        proven = select(RealNameAuthentication.account_id).where(
            RealNameAuthentication.id_number_hash == secret_hash(q.upper()), RealNameAuthentication.outcome == "passed"
        )
        matches.append(Account.id.in_(proven))
    return list(
        session.execute(
            (scope or Scope(None))
            .applies(select(Account).where(or_(*matches)), Account.tenant_id)
            .order_by(Account.created_at)
            .limit(MAX_RESULTS)
        ).scalars()
    )


def get(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "no such account")
    return account


def _credit(session: Session, account_id: str) -> CreditSummary | None:
    line = lines.line_of(session, account_id)
    if line is None:
        return None
    plans = session.execute(
        select(func.count())
        .select_from(CreditPlan)
        .where(CreditPlan.account_id == account_id, CreditPlan.status == "active")
    ).scalar_one()
    return CreditSummary(line.limit_fen, line.used_fen, lines.available(line), int(plans))


def view(session: Session, keyring: Keyring, account: Account) -> AccountView:
    """The account with its personal data masked, and its standing at a glance."""
    outcomes = dict(
        session.execute(
            select(RealNameAuthentication.outcome, func.count())
            .where(RealNameAuthentication.account_id == account.id)
            .group_by(RealNameAuthentication.outcome)
        ).all()
    )
    passed = kyc.latest_passed(session, account.id)
    identity = kyc.proven_identity(keyring, passed) if passed else None
    enrolled = session.execute(
        select(StoredTemplate.id)
        .where(StoredTemplate.account_id == account.id, StoredTemplate.purpose == "face_pay")
        .limit(1)
    ).first()
    tenant = session.get(Tenant, account.tenant_id)
    return AccountView(
        account=account,
        tenant_name=tenant.name if tenant else "",
        mobile_masked=mask_mobile(account.mobile),
        name_masked=mask_name(identity["name"]) if identity else None,
        id_number_masked=mask_id_number(identity["id_number"]) if identity else None,
        real_name="verified" if passed else ("failed" if outcomes.get("failed") else "none"),
        real_name_method=passed.method if passed else None,
        real_name_verified_at=account.real_name_verified_at,
        face_pay=enrolled is not None,
        credit=_credit(session, account.id),
    )


def search(session: Session, keyring: Keyring, q: str, scope: Scope | None = None) -> list[AccountView]:
    return [view(session, keyring, a) for a in find(session, q, scope)]


def reveal(session: Session, keyring: Keyring, account: Account, operator: str, reason: str) -> Revealed:
    """The unmasked mobile, name and ID number, for a stated reason. The audit record (in the
    caller's transaction) names the operator, the reason and the fields shown, never their values."""
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(
            ErrorCode.REASON_REQUIRED, "say why you need to see this person's data (5 characters or more)"
        )
    passed = kyc.latest_passed(session, account.id)
    identity = kyc.proven_identity(keyring, passed) if passed else {}
    fields = [f for f in REVEALED_FIELDS if f == "mobile" or identity.get(f)]
    record = audit.append(
        session,
        actor=operator,
        action="account.reveal",
        subject=f"account:{account.id}",
        purpose="compliance",
        details={"reason": reason, "fields": fields},
    )
    return Revealed(account.id, account.mobile, identity.get("name"), identity.get("id_number"), record)
