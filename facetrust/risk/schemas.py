"""Response shapes of the operator console's risk routes: the dashboard, a case's events and a
decision explained. (The older risk routes keep their shapes in routes.py.)"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class CountAmountOut(BaseModel):
    count: int
    amount_fen: int


class LivenessFiguresOut(BaseModel):
    purpose: str = Field(description="a liveness purpose, or all")
    passed: int
    failed: int
    failure_rate: float | None = Field(description="failed / (passed + failed); null when there were none")


class HourOut(BaseModel):
    hour: int = Field(description="local hour of the business day, 0-23")
    payments_paid: int
    payments_declined: int
    decisions: dict[str, int] = Field(description="by action: approve, step_up, review, decline, freeze")
    liveness_total: int
    liveness_failed: int


class DashboardOut(BaseModel):
    day: dt.date = Field(description="the business day (calendar day at utc_offset_hours)")
    utc_offset_hours: int
    start: dt.datetime
    end: dt.datetime
    payments: dict[str, CountAmountOut] = Field(description="paid and declined face payments, by when decided")
    credit: dict[str, CountAmountOut] = Field(description="installment and loan plans opened, by principal")
    real_name: dict[str, int] = Field(description="real-name authentications passed and failed")
    decisions: dict[str, int] = Field(description="risk decisions by action")
    liveness: LivenessFiguresOut
    liveness_by_purpose: list[LivenessFiguresOut]
    open_cases: int = Field(description="cases open or assigned, whenever opened")
    frozen_accounts: int = Field(description="accounts frozen now")
    hours: list[HourOut]
    generated_at: dt.datetime


class RiskEventOut(BaseModel):
    seq: int
    kind: str
    at: dt.datetime
    account_id: str | None
    device_id: str | None
    ip: str | None
    merchant_id: str | None
    amount_fen: int | None
    outcome: str | None
    category: str | None
    periods: int | None
    ref: str | None
    data: dict


class CaseEventOut(RiskEventOut):
    decision_id: str | None
    decision: str | None
    trigger: bool = Field(description="the event whose decision opened the case")


ZH_DESCRIPTION = "the description in Chinese; null for a rule set stored before descriptions were bilingual"


class RuleHitOut(BaseModel):
    id: str
    description: str = Field(description="the rule's description in English")
    description_zh: str | None = Field(description=ZH_DESCRIPTION)
    score: float
    reasons: list[str]
    features: dict = Field(description="the values of the features the rule's condition reads, at the decision")


class TypologyHitOut(BaseModel):
    id: str
    description: str = Field(description="the typology's description in English")
    description_zh: str | None = Field(description=ZH_DESCRIPTION)
    action: str
    min_score: float


class DecisionDetailOut(BaseModel):
    decision_id: str
    decision: str
    score: float
    reasons: list[str]
    rule_set_version: str
    at: dt.datetime
    event: RiskEventOut
    rules: list[RuleHitOut]
    typologies: list[TypologyHitOut]
    features: dict = Field(description="every feature value the decision used")
