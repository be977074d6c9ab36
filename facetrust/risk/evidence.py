"""The evidence a case page shows an operator: the account's latest events with the decision made
on each, and a stored decision explained by its rule set (each fired rule with the feature values
its condition read)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.risk import rules
from facetrust.risk.models import RiskCase, RiskDecision, RiskEvent, RiskRuleSet


@dataclass(frozen=True)
class CaseEvent:
    event: RiskEvent
    decision_id: str | None
    decision: str | None
    trigger: bool  # the event whose decision opened the case


def case_events(session: Session, case: RiskCase, limit: int) -> list[CaseEvent]:
    """The latest events of the case's account (or merchant), newest first, each with the decision
    made on it, if any."""
    who = [RiskEvent.account_id == case.account_id] if case.account_id else []
    who += [RiskEvent.merchant_id == case.merchant_id] if case.merchant_id else []
    if not who:
        return []
    trigger_seq = None
    if case.decision_id:
        trigger_seq = session.execute(
            select(RiskDecision.event_seq).where(RiskDecision.id == case.decision_id)
        ).scalar_one_or_none()
    rows = session.execute(
        select(RiskEvent, RiskDecision.id, RiskDecision.decision)
        .outerjoin(RiskDecision, RiskDecision.event_seq == RiskEvent.seq)
        .where(or_(*who))
        .order_by(RiskEvent.seq.desc())
        .limit(limit)
    ).all()
    return [CaseEvent(e, did, decision, e.seq == trigger_seq) for e, did, decision in rows]


@dataclass(frozen=True)
class RuleHit:
    id: str
    description: str
    description_zh: str | None  # None for a rule set stored before descriptions were bilingual
    score: float
    reasons: list[str]
    features: dict  # the values, at the decision, of the features the rule's condition reads


@dataclass(frozen=True)
class TypologyHit:
    id: str
    description: str
    description_zh: str | None
    action: str
    min_score: float


@dataclass(frozen=True)
class DecisionDetail:
    decision: RiskDecision
    event: RiskEvent
    rules: list[RuleHit]
    typologies: list[TypologyHit]
    features: dict


def decision_detail(session: Session, decision_id: str) -> DecisionDetail:
    """A stored decision explained by the rule set it ran under: each fired rule with its
    description and the feature values its condition read, and each fired typology's action."""
    decision = session.get(RiskDecision, decision_id)
    if decision is None:
        raise DomainError(ErrorCode.DECISION_NOT_FOUND, "no such risk decision")
    stored = session.get(RiskRuleSet, decision.rule_set_version)
    ruleset = rules.from_json(stored.content)  # type: ignore[union-attr]
    values = json.loads(decision.features)
    hits = []
    for rule_id in json.loads(decision.rules):
        rule = ruleset.rule(rule_id)
        hits.append(
            RuleHit(
                rule.id,
                rule.description,
                rule.description_zh,
                rule.score,
                list(rule.reasons),
                {name: values.get(name) for name in sorted(rule.when.features())},
            )
        )
    typologies = [
        TypologyHit(t.id, t.description, t.description_zh, t.action, t.min_score)
        for t in (ruleset.typology(tid) for tid in json.loads(decision.typologies))
    ]
    return DecisionDetail(decision, session.get(RiskEvent, decision.event_seq), hits, typologies, values)  # type: ignore[arg-type]
