"""Managing operators and tenants over the API: who may create whom, every change audited.

A platform admin creates tenants and operators of any tenant or of the platform, changes roles and
disables operators. A tenant's admin does the same for their own tenant's operators only: an
operator of another tenant, or of the platform, is refused with 403 ``operator_scope_forbidden``
when named as the new operator's tenant, and is ``operator_not_found`` when changed (so another
tenant's operator names do not leak). Roles are the same three everywhere; what makes an operator
a platform one is having no tenant, which only a platform admin can give. Credentials are the
bearer tokens ``facetrust operators token`` issues (``service.create_operator_token``).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.identity.models import Credential, Operator, Tenant
from facetrust.identity.scope import Scope
from facetrust.security import audit

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


def tenants(session: Session, scope: Scope) -> list[Tenant]:
    """Every tenant for the platform; a tenant operator's own only."""
    return list(session.execute(scope.applies(select(Tenant), Tenant.id).order_by(Tenant.created_at)).scalars())


def create_tenant(session: Session, scope: Scope, actor: str, name: str) -> tuple[Tenant, str]:
    """A new platform and its API key (shown once): a platform operator's call only."""
    scope.require_platform()
    name = name.strip()
    if session.execute(select(Tenant.id).where(Tenant.name == name)).first() is not None:
        raise DomainError(ErrorCode.TENANT_EXISTS, "a platform with this name already exists")
    try:
        with session.begin_nested():  # two admins racing for one name: the unique name refuses one
            return service.create_tenant(session, name, actor=actor)
    except IntegrityError:
        raise DomainError(ErrorCode.TENANT_EXISTS, "a platform with this name already exists") from None


def operators(session: Session, scope: Scope) -> list[Operator]:
    return list(
        session.execute(scope.applies(select(Operator), Operator.tenant_id).order_by(Operator.created_at)).scalars()
    )


def get(session: Session, scope: Scope, name: str) -> Operator:
    """The operator, if in scope (another tenant's or a platform operator is ``operator_not_found``
    for a tenant admin)."""
    found = session.get(Operator, name)
    if found is None or (not scope.platform and found.tenant_id != scope.tenant_id):
        raise DomainError(ErrorCode.OPERATOR_NOT_FOUND, "no such operator")
    return found


def _check_role(role: str) -> None:
    if role not in service.ROLES:
        raise DomainError(ErrorCode.ROLE_INVALID, f"role must be one of {', '.join(service.ROLES)}")


def create_operator(
    session: Session, scope: Scope, actor: str, name: str, role: str, tenant_id: str | None, ttl: dt.timedelta
) -> tuple[Operator, str, dt.datetime]:
    """A managed operator and their first token (shown once).

    A tenant admin may name only their own tenant (``tenant_id`` None means the platform):
    anything else is 403 ``operator_scope_forbidden``. A name already used by any operator,
    managed or not, is 409 ``operator_exists``: taking over an unmanaged name would re-scope the
    tokens someone already holds."""
    _check_role(role)
    if not scope.platform and tenant_id != scope.tenant_id:
        raise DomainError(ErrorCode.OPERATOR_SCOPE_FORBIDDEN, "a tenant's admin creates operators of that tenant only")
    if tenant_id is not None and session.get(Tenant, tenant_id) is None:
        raise DomainError(ErrorCode.TENANT_NOT_FOUND, "no such platform")
    if not NAME.match(name):
        raise DomainError(ErrorCode.INVALID_REQUEST, "an operator name is 2-64 letters, digits, . _ @ or -")
    taken = session.get(Operator, name) is not None or (
        session.execute(select(Credential.token_hash).where(Credential.operator_name == name).limit(1)).first()
        is not None
    )
    if taken:
        raise DomainError(ErrorCode.OPERATOR_EXISTS, "an operator with this name already exists")
    row = Operator(name=name, tenant_id=tenant_id, role=role, status="active", created_by=actor)
    try:
        with session.begin_nested():  # two admins racing for one name: the primary key refuses one
            session.add(row)
            session.flush()
    except IntegrityError:
        raise DomainError(ErrorCode.OPERATOR_EXISTS, "an operator with this name already exists") from None
    audit.append(
        session,
        actor=actor,
        action="operator.create",
        subject=f"operator:{name}",
        details={"role": role, "tenant_id": tenant_id},
    )
    token, expires = service.create_operator_token(session, name, role, ttl, actor=actor)
    return row, token, expires


def issue_token(session: Session, scope: Scope, actor: str, name: str, ttl: dt.timedelta) -> tuple[str, dt.datetime]:
    """A new token for an active operator in scope (tokens expire; this is how one gets another)."""
    row = get(session, scope, name)
    if row.status != "active":
        raise DomainError(ErrorCode.OPERATOR_NOT_FOUND, "no such active operator")
    return service.create_operator_token(session, name, row.role, ttl, actor=actor)


def change_role(session: Session, scope: Scope, actor: str, name: str, role: str) -> Operator:
    """A new role, effective on the operator's existing tokens at once. The tenant never changes
    here, so a tenant admin cannot make anyone a platform operator."""
    _check_role(role)
    row = get(session, scope, name)
    before = row.role
    row.role = role
    audit.append(
        session, actor=actor, action="operator.role", subject=f"operator:{name}", details={"from": before, "to": role}
    )
    session.flush()
    return row


def disable(session: Session, scope: Scope, actor: str, name: str) -> Operator:
    """Disable an operator: every token of theirs stops working at once (``resolve_token``)."""
    row = get(session, scope, name)
    if actor == f"operator:{name}":
        raise DomainError(ErrorCode.FORBIDDEN, "an admin cannot disable themselves; ask another admin")
    row.status = "disabled"
    audit.append(session, actor=actor, action="operator.disable", subject=f"operator:{name}")
    session.flush()
    return row
