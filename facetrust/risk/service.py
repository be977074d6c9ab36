"""Risk events and the checks the money flows ask for before they move money.

This is the engine's first layer: every face-pay event is recorded with its decision and reasons,
and a payment is declined for an account that is not active. The rules engine with features,
velocity limits, freezes and cases builds on these events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.risk.models import RiskEvent
from facetrust.security import audit

RULE_VERSION = "risk-0"


@dataclass(frozen=True)
class RiskDecision:
    decision: str  # allow | decline | review
    reasons: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


def record(session: Session, kind: str, account_id: str | None, decision: RiskDecision, details: dict,
           severity: str = "info") -> RiskEvent:
    event = RiskEvent(kind=kind, account_id=account_id, severity=severity, decision=decision.decision,
                      reasons=json.dumps(decision.reasons), details=json.dumps(details, sort_keys=True),
                      rule_version=RULE_VERSION)
    session.add(event)
    session.flush()
    return event


def assess_payment(account: Account, amount_fen: int) -> RiskDecision:
    if account.status != "active":
        return RiskDecision("decline", [f"account_{account.status}"])
    return RiskDecision("allow")


def freeze(session: Session, account: Account, actor: str, reason: str) -> Account:
    if account.status == "closed":
        raise DomainError(409, "account_closed", "a closed account cannot be frozen")
    if account.status != "frozen":
        account.status = "frozen"
        record(session, "account.freeze", account.id, RiskDecision("decline", ["frozen_by_operator"]),
               {"by": actor, "reason": reason}, severity="alert")
        audit.append(session, actor=actor, action="account.freeze", subject=f"account:{account.id}",
                     details={"reason": reason})
    return account


def unfreeze(session: Session, account: Account, actor: str, reason: str) -> Account:
    if account.status == "frozen":
        account.status = "active"
        record(session, "account.unfreeze", account.id, RiskDecision("allow", ["unfrozen_by_operator"]),
               {"by": actor, "reason": reason})
        audit.append(session, actor=actor, action="account.unfreeze", subject=f"account:{account.id}",
                     details={"reason": reason})
    return account
