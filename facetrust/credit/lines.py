"""Credit lines: what an account may owe at once, granted by an operator after real-name
authentication. Available credit is the limit less the principal outstanding; it goes down when a
plan or loan draws on it and up as principal is repaid.

A draw is one conditional UPDATE (``used + amount <= limit``), so two checkouts racing for the
last of a line cannot both pass, on SQLite or PostgreSQL, whatever the interleaving.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust.clock import utcnow
from facetrust.credit.models import CreditLine
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.security import audit
from facetrust.store.db import rowcount


def line_of(session: Session, account_id: str) -> CreditLine | None:
    return session.execute(select(CreditLine).where(CreditLine.account_id == account_id)).scalar_one_or_none()


def grant(session: Session, account: Account, limit_fen: int, operator: str, reason: str | None) -> CreditLine:
    """Set the account's limit (a new line, or a changed one). Lowering it below what is owed is
    allowed: nothing more can be drawn until repayments bring the principal under the new limit."""
    if account.status != "active":
        raise DomainError(ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {account.status}", status=409)
    if account.real_name_verified_at is None:
        raise DomainError(ErrorCode.REAL_NAME_REQUIRED, "a credit line needs a completed real-name authentication")
    if limit_fen < 0:
        raise DomainError(ErrorCode.AMOUNT_INVALID, "a credit limit is zero or more fen")
    line = line_of(session, account.id)
    before = line.limit_fen if line else None
    if line is None:
        try:
            with session.begin_nested():
                line = CreditLine(
                    account_id=account.id, limit_fen=limit_fen, used_fen=0, granted_by=operator, reason=reason
                )
                session.add(line)
        except IntegrityError:  # granted a moment ago by another request: change that one
            line = line_of(session, account.id)
    assert line is not None
    line.limit_fen, line.granted_by, line.reason, line.updated_at = limit_fen, operator, reason, utcnow()
    session.flush()
    audit.append(
        session,
        actor=operator,
        action="credit.line",
        subject=f"account:{account.id}",
        purpose="credit",
        details={"limit_fen": limit_fen, "previous_limit_fen": before, "reason": reason},
    )
    return line


def available(line: CreditLine | None) -> int:
    return max(line.limit_fen - line.used_fen, 0) if line and line.status == "active" else 0


def require_available(session: Session, account_id: str, amount_fen: int) -> None:
    """An early, friendly refusal (before the borrower spends a face check); ``draw`` decides."""
    left = available(line_of(session, account_id))
    if left < amount_fen:
        raise DomainError(
            ErrorCode.INSUFFICIENT_CREDIT, "the credit line does not have this much available", available_fen=left
        )


def draw(session: Session, account_id: str, amount_fen: int) -> None:
    """Take ``amount_fen`` of the line, or 409 ``insufficient_credit`` and nothing changes."""
    moved = rowcount(
        session.execute(
            update(CreditLine)
            .where(
                CreditLine.account_id == account_id,
                CreditLine.status == "active",
                CreditLine.used_fen + amount_fen <= CreditLine.limit_fen,
            )
            .values(used_fen=CreditLine.used_fen + amount_fen)
        )
    )
    if moved != 1:
        line = line_of(session, account_id)
        raise DomainError(
            ErrorCode.INSUFFICIENT_CREDIT,
            "the credit line does not have this much available",
            available_fen=available(line),
        )


def restore(session: Session, account_id: str, principal_fen: int) -> None:
    """Give repaid principal back to the line."""
    if principal_fen:
        session.execute(
            update(CreditLine)
            .where(CreditLine.account_id == account_id)
            .values(used_fen=CreditLine.used_fen - principal_fen)
        )
