"""What an operator may see: the one place operator queries are narrowed to a tenant.

A tenant operator (``Principal.tenant_id`` set) sees and acts only on their tenant's accounts and
what hangs off them (cases, decisions, events, device reviews, plans), their tenant's merchants and
webhook deliveries; a platform operator (``tenant_id`` None) sees every tenant. Anything outside
the scope answers the same 404 as something that does not exist, so a tenant operator cannot learn
that another tenant's object is there. Routes build a ``Scope`` from the caller (``Scope.of``) and
either narrow a query (``applies``, ``by_account``, ``by_merchant``) or check one object
(``tenant``, ``account``, ``account_id``, ``merchant_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, String, cast, literal, or_, select, true, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account, Operator
from facetrust.identity.service import Principal
from facetrust.payments.models import Merchant, PaymentIntent, Terminal
from facetrust.risk.models import RiskCase
from facetrust.webhooks.models import WebhookDelivery, WebhookEndpoint

Q = TypeVar("Q", bound=Select[Any])


def _text(value: str) -> ColumnElement[str]:
    """A string constant typed as such, so PostgreSQL knows its type in a UNION's select list."""
    return cast(literal(value), String)


@dataclass(frozen=True)
class Scope:
    """The tenants an operator works for: one (``tenant_id``) or all (``tenant_id`` None)."""

    tenant_id: str | None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        return cls(principal.tenant_id)

    @property
    def platform(self) -> bool:
        return self.tenant_id is None

    def require_platform(self) -> None:
        """403 ``platform_operator_required`` for a tenant operator (calls about every tenant)."""
        if not self.platform:
            raise DomainError(ErrorCode.PLATFORM_OPERATOR_REQUIRED, "this call is for platform operators only")

    def covers(self, tenant_id: str | None) -> bool:
        """Whether an object of ``tenant_id`` is visible (an object of no tenant: platform only)."""
        return self.tenant_id is None or tenant_id == self.tenant_id

    # -- narrowing a query ---------------------------------------------------------------------

    def applies(self, query: Q, column: Any) -> Q:
        """``query`` limited to rows whose tenant column is the operator's tenant."""
        return query if self.platform else query.where(column == self.tenant_id)

    def account_ids(self) -> Select[Any]:
        """The operator's tenant's account ids, to filter tables that name an account."""
        return select(Account.id).where(Account.tenant_id == self.tenant_id)

    def merchant_ids(self) -> Select[Any]:
        return select(Merchant.id).where(Merchant.tenant_id == self.tenant_id)

    def by_account(self, query: Q, column: Any) -> Q:
        """``query`` limited to rows about an account of the operator's tenant."""
        return query if self.platform else query.where(column.in_(self.account_ids()))

    def by_account_or_merchant(self, query: Q, account_column: Any, merchant_column: Any) -> Q:
        """For rows about an account or a merchant (risk cases and events)."""
        if self.platform:
            return query
        clause: ColumnElement[bool] = or_(
            account_column.in_(self.account_ids()), merchant_column.in_(self.merchant_ids())
        )
        return query.where(clause)

    def account_clause(self, column: Any) -> ColumnElement[bool]:
        """A WHERE clause: the row's account is the operator's tenant's (always true on the platform)."""
        return true() if self.platform else column.in_(self.account_ids())

    def merchant_clause(self, column: Any) -> ColumnElement[bool]:
        return true() if self.platform else column.in_(self.merchant_ids())

    def tenant_clause(self, column: Any) -> ColumnElement[bool]:
        return true() if self.platform else column == self.tenant_id

    def audit_clause(self, subject: Any) -> ColumnElement[bool]:
        """A WHERE clause on the audit log's ``subject``: records about the tenant's subjects.

        The audit log names its subject as ``kind:id`` and carries no tenant column (its hash chain
        covers every column, so none is added after the fact); a tenant operator sees the records
        whose subject is their tenant itself, one of its accounts, merchants, terminals, payments,
        risk cases, webhook endpoints or deliveries, or one of its operators. Records about no
        tenant's subject (``retention``, ``cli`` jobs, platform operators) are the platform's."""
        if self.platform:
            return true()
        t = self.tenant_id
        merchants = self.merchant_ids()
        subjects = union_all(
            select(_text("tenant:" + (t or ""))),
            select(_text("account:") + Account.id).where(Account.tenant_id == t),
            select(_text("merchant:") + Merchant.id).where(Merchant.tenant_id == t),
            select(_text("terminal:") + Terminal.id).where(Terminal.merchant_id.in_(merchants)),
            select(_text("intent:") + PaymentIntent.id).where(PaymentIntent.merchant_id.in_(merchants)),
            select(_text("case:") + RiskCase.id).where(
                or_(RiskCase.account_id.in_(self.account_ids()), RiskCase.merchant_id.in_(merchants))
            ),
            select(_text("webhook_endpoint:") + WebhookEndpoint.id).where(WebhookEndpoint.tenant_id == t),
            select(_text("webhook_delivery:") + WebhookDelivery.id).where(WebhookDelivery.tenant_id == t),
            select(_text("operator:") + Operator.name).where(Operator.tenant_id == t),
        )
        return subject.in_(select(subjects.subquery().c[0]))

    # -- checking one object -------------------------------------------------------------------

    def tenant(self, tenant_id: str | None, code: ErrorCode, message: str) -> None:
        """404 ``code`` unless an object of ``tenant_id`` is in scope."""
        if not self.covers(tenant_id):
            raise DomainError(code, message)

    def account(self, session: Session, account_id: str | None) -> Account:
        """The account, if it exists and is in scope (404 ``account_not_found`` otherwise)."""
        account = session.get(Account, account_id) if account_id else None
        if account is None or not self.covers(account.tenant_id):
            raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "no such account")
        return account

    def account_id(self, session: Session, account_id: str | None, code: ErrorCode, message: str) -> None:
        """404 ``code`` unless the object's account is in scope (for cases, decisions, reviews...)."""
        if self.platform:
            return
        account = session.get(Account, account_id) if account_id else None
        if account is None or account.tenant_id != self.tenant_id:
            raise DomainError(code, message)

    def merchant_id(self, session: Session, merchant_id: str | None, code: ErrorCode, message: str) -> None:
        if self.platform:
            return
        merchant = session.get(Merchant, merchant_id) if merchant_id else None
        if merchant is None or merchant.tenant_id != self.tenant_id:
            raise DomainError(code, message)

    def account_or_merchant(
        self, session: Session, account_id: str | None, merchant_id: str | None, code: ErrorCode, message: str
    ) -> None:
        """For objects about an account or else a merchant (a risk case)."""
        if account_id:
            self.account_id(session, account_id, code, message)
        else:
            self.merchant_id(session, merchant_id, code, message)
