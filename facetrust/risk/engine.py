"""The risk engine: every money movement (and every failed face attempt) is decided here, before
money moves, and the flows obey the decision.

The engine travels with the database session (``session.info["risk_engine"]``, set by the app's
session factory), so every service that has a session can ask for a decision without each context
carrying it. ``decide`` stores the event, computes the features its kind's rules need from the stored history,
evaluates the rule set and stores the decision with the feature values and the rule set version it
used. A ``freeze`` decision freezes the account and opens a case; a ``review`` opens a case. The
flows map the decision: ``approve`` goes on; ``step_up`` goes on only with a fresh liveness check
and face match (credit always has one; face pay asks for it); ``review``, ``decline`` and ``freeze``
refuse. ``replay`` recomputes a stored decision and says whether it reproduces.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from facetrust import metrics
from facetrust.clock import new_id
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError, RecordedRefusal
from facetrust.identity.models import Account
from facetrust.risk import cases, events, features, rules
from facetrust.risk.events import EventIn
from facetrust.risk.models import RiskDecision, RiskEvent, RiskRuleSet
from facetrust.risk.rules import RuleSet
from facetrust.security import audit
from facetrust.webhooks import outbox

APPROVE, STEP_UP, REVIEW, DECLINE, FREEZE = rules.DECISIONS
REFUSED = (REVIEW, DECLINE, FREEZE)


@dataclass(frozen=True)
class Verdict:
    decision_id: str
    event_seq: int
    decision: str
    reasons: list[str]
    typologies: list[str]

    @property
    def refused(self) -> bool:
        return self.decision in REFUSED

    def refusal(self) -> RecordedRefusal:
        if self.decision == FREEZE:
            return RecordedRefusal(ErrorCode.ACCOUNT_FROZEN, "the account has been frozen for review; contact support")
        # No reasons or rule ids to the client: they would teach a fraudster which rule to dodge.
        # Operators read them in the decision (GET /v1/operator/risk/decisions/{id}) and its case.
        # Only whether a person will look at it: a review opens a case, and the person is told so.
        if self.decision == REVIEW:
            return RecordedRefusal(
                ErrorCode.RISK_DECLINED,
                "this is held for a review by risk control; nothing was paid out",
                held_for_review=True,
            )
        return RecordedRefusal(ErrorCode.RISK_DECLINED, "this was declined by risk control")


class RiskEngine:
    """The loaded rule set; registered in the database (whole) before its first decision."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._registered = False

    @classmethod
    def load(cls, path: Path | None) -> RiskEngine:
        return cls(rules.load(path))

    def register(self, session: Session) -> None:
        if self._registered:
            return
        stored = session.get(RiskRuleSet, self.ruleset.version)
        if stored is None:
            session.add(
                RiskRuleSet(
                    version=self.ruleset.version, sha256=self.ruleset.sha256, content=self.ruleset.canonical_json()
                )
            )
            session.flush()
        elif stored.sha256 != self.ruleset.sha256:
            raise rules.RuleSetError(
                f"rule set version {self.ruleset.version!r} was already used for other rules; "
                "give the changed rules a new version"
            )
        self._registered = True

    def decide(self, session: Session, event: EventIn) -> Verdict:
        self.register(session)
        row = events.emit(session, event)
        values = features.compute(session, self.ruleset.features_for(event.kind), row)
        result = self.ruleset.evaluate(event.kind, values)
        decision_id = new_id()
        # Core statements, not the ORM's unit of work: this runs before every money movement.
        session.execute(
            insert(RiskDecision.__table__).values(
                id=decision_id,
                event_seq=row.seq,
                account_id=event.account_id,
                decision=result.decision,
                score=result.score,
                rules=json.dumps(result.rules),
                typologies=json.dumps(result.typologies),
                reasons=json.dumps(result.reasons),
                features=json.dumps(values, sort_keys=True),
                rule_set_version=self.ruleset.version,
                at=row.at,
            )
        )
        metrics.RISK_DECISIONS.labels(result.decision).inc()
        if event.kind in events.MONEY_OUT:
            session.execute(
                update(RiskEvent.__table__).where(RiskEvent.__table__.c.seq == row.seq).values(outcome=result.decision)
            )
        account = session.get(Account, event.account_id) if event.account_id and result.decision == FREEZE else None
        if account is not None:
            freeze(session, account, "risk-engine", f"typologies: {', '.join(result.typologies)}", decision_id, row.at)
        elif result.decision in (REVIEW, FREEZE):
            cases.open_case(session, event.account_id, event.merchant_id, decision_id, result.typologies)
        return Verdict(decision_id, row.seq, result.decision, result.reasons, result.typologies)


def of(session: Session) -> RiskEngine:
    engine = session.info.get("risk_engine")
    if engine is None:
        raise RuntimeError("this database session has no risk engine (make sessions with the app's session factory)")
    return engine


def decide(session: Session, event: EventIn) -> Verdict:
    return of(session).decide(session, event)


def face_attempt(
    session: Session, kind: str, account_id: str | None, device_id: str | None, passed: bool, purpose: str
) -> Verdict | None:
    """A liveness check or a 1:1 face match and its outcome. A failure is decided on (repeated
    failures are how spoofing and account takeover show), a success only recorded."""
    event = EventIn(
        kind,
        account_id=account_id,
        device_id=device_id,
        outcome="passed" if passed else "failed",
        data={"purpose": purpose},
    )
    if passed or account_id is None:
        events.emit(session, event)
        return None
    return decide(session, event)


def completed(session: Session, decided: Verdict | int) -> None:
    """The money of a decided event (its verdict, or its event seq) has moved: history features
    count it from now on."""
    seq = decided.event_seq if isinstance(decided, Verdict) else decided
    session.execute(
        update(RiskEvent.__table__).where(RiskEvent.__table__.c.seq == seq).values(outcome=events.COMPLETED)
    )


def check_can_move_money(account: Account) -> None:
    """Every money movement and every change of consent or credentials of a frozen account stops here."""
    if account.status == "frozen":
        raise DomainError(ErrorCode.ACCOUNT_FROZEN, "the account is frozen; an operator must review it first")
    if account.status != "active":
        raise DomainError(ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {account.status}")


def freeze(
    session: Session,
    account: Account,
    actor: str,
    reason: str,
    decision_id: str | None = None,
    at: dt.datetime | None = None,
) -> Account:
    """Freeze the account (at ``at``, the deciding event's time, or now) and open a case."""
    if account.status == "closed":
        raise DomainError(ErrorCode.ACCOUNT_CLOSED, "a closed account cannot be frozen")
    if account.status != "frozen":
        account.status = "frozen"
        events.emit(
            session, EventIn("account.freeze", account_id=account.id, data={"by": actor, "reason": reason}, at=at)
        )
        audit.append(
            session,
            actor=actor,
            action="account.freeze",
            subject=f"account:{account.id}",
            purpose="risk",
            details={"reason": reason, "decision_id": decision_id},
        )
        cases.open_case(session, account.id, None, decision_id, [], note=f"frozen by {actor}: {reason}")
        # The reason is an operator's free text: it stays in the audit log, never in a webhook.
        outbox.enqueue(
            session,
            account.tenant_id,
            outbox.ACCOUNT_FROZEN,
            {
                **outbox.account_ref(account),
                "status": "frozen",
                "by": "operator" if actor.startswith("operator:") else "risk",
            },
        )
    return account


def frozen_by(session: Session, account_id: str) -> str | None:
    """Who made the account's latest freeze (``operator:<name>``, ``risk-engine``...), or None."""
    latest = latest_freeze(session, account_id)
    return latest[0] if latest else None


def latest_freeze(session: Session, account_id: str) -> tuple[str | None, dt.datetime] | None:
    """Who made the account's latest freeze and when, or None if it was never frozen."""
    row = session.execute(
        select(RiskEvent.data, RiskEvent.at)
        .where(RiskEvent.account_id == account_id, RiskEvent.kind == "account.freeze")
        .order_by(RiskEvent.seq.desc())
        .limit(1)
    ).one_or_none()
    return (json.loads(row.data).get("by"), row.at) if row else None


def unfreeze(session: Session, account: Account, actor: str, reason: str) -> Account:
    """Unfreeze: a second pair of eyes, always. The operator who froze the account cannot also lift
    the freeze, whatever their role; an admin may do both, but not to the same freeze (issue 19)."""
    if account.status == "frozen":
        if frozen_by(session, account.id) == actor:
            raise DomainError(
                ErrorCode.SECOND_OPERATOR_REQUIRED,
                "the operator who froze this account cannot unfreeze it; another operator must review it",
            )
        account.status = "active"
        events.emit(session, EventIn("account.unfreeze", account_id=account.id, data={"by": actor, "reason": reason}))
        audit.append(
            session,
            actor=actor,
            action="account.unfreeze",
            subject=f"account:{account.id}",
            purpose="risk",
            details={"reason": reason},
        )
        outbox.enqueue(
            session, account.tenant_id, outbox.ACCOUNT_UNFROZEN, {**outbox.account_ref(account), "status": "active"}
        )
    return account


@dataclass(frozen=True)
class Replay:
    decision_id: str
    reproduced: bool  # the stored rule set on the stored feature values gives the stored decision
    stored: dict
    replayed: dict
    recomputed_features_match: bool  # the features recomputed from the stored events equal the stored ones
    feature_differences: dict

    def as_dict(self) -> dict:
        return {
            "decision_id": self.decision_id,
            "reproduced": self.reproduced,
            "stored": self.stored,
            "replayed": self.replayed,
            "recomputed_features_match": self.recomputed_features_match,
            "feature_differences": self.feature_differences,
        }


def replay(session: Session, decision_id: str) -> Replay:
    decision = session.get(RiskDecision, decision_id)
    if decision is None:
        raise DomainError(ErrorCode.DECISION_NOT_FOUND, "no such risk decision")
    stored_rules = session.get(RiskRuleSet, decision.rule_set_version)
    ruleset = rules.from_json(stored_rules.content)  # type: ignore[union-attr]
    event = session.get(RiskEvent, decision.event_seq)
    stored_features = json.loads(decision.features)
    result = ruleset.evaluate(event.kind, stored_features)  # type: ignore[union-attr]
    stored = {
        "decision": decision.decision,
        "rules": json.loads(decision.rules),
        "typologies": json.loads(decision.typologies),
        "reasons": json.loads(decision.reasons),
        "rule_set_version": decision.rule_set_version,
    }
    replayed = {
        "decision": result.decision,
        "rules": result.rules,
        "typologies": result.typologies,
        "reasons": result.reasons,
        "rule_set_version": ruleset.version,
    }
    recomputed = json.loads(json.dumps(features.compute(session, stored_features.keys(), event), sort_keys=True))  # type: ignore[arg-type]
    differences = {
        name: {"stored": stored_features[name], "recomputed": recomputed.get(name)}
        for name in stored_features
        if recomputed.get(name) != stored_features[name]
    }
    return Replay(decision_id, stored == replayed, stored, replayed, not differences, differences)


def decisions_of(session: Session, account_id: str) -> list[tuple[RiskDecision, str]]:
    """(decision, event kind) of every decision about the account, oldest first."""
    return list(
        session.execute(
            select(RiskDecision, RiskEvent.kind)
            .join(RiskEvent, RiskEvent.seq == RiskDecision.event_seq)
            .where(RiskDecision.account_id == account_id)
            .order_by(RiskDecision.event_seq)
        ).all()
    )
