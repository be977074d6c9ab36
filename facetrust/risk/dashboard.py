"""The day's figures for the operator console's dashboard.

**The day** is a calendar day at the business UTC offset, the one face-pay daily limits count by
(``face_pay_day_utc_offset_hours``, +8 for China): "today" runs from local midnight to the next.
Every figure is one GROUP BY over an indexed or small range of its table; the hourly series buckets
rows with a CASE over the 24 hour boundaries computed here in UTC, so SQLite and PostgreSQL give
the same answer and no database time zone function is involved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from facetrust.credit.models import CreditPlan
from facetrust.identity.models import Account, RealNameAuthentication
from facetrust.identity.scope import Scope
from facetrust.liveness.models import LivenessSession
from facetrust.payments.models import PaymentIntent
from facetrust.risk import rules
from facetrust.risk.models import RiskCase, RiskDecision

HOURS = 24
PAYMENT_OUTCOMES = ("paid", "declined")
CREDIT_KINDS = ("installment", "loan")
REAL_NAME_OUTCOMES = ("passed", "failed")
LIVENESS_OUTCOMES = ("passed", "failed")


# --- the day ------------------------------------------------------------------------------------


def business_day(now: dt.datetime, utc_offset_hours: int) -> dt.date:
    return now.astimezone(dt.timezone(dt.timedelta(hours=utc_offset_hours))).date()


def day_bounds(day: dt.date, utc_offset_hours: int) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the local calendar day, in UTC (what the columns store)."""
    local = dt.datetime.combine(day, dt.time(0), dt.timezone(dt.timedelta(hours=utc_offset_hours)))
    start = local.astimezone(dt.UTC)
    return start, start + dt.timedelta(hours=HOURS)


def _hour_of(column: ColumnElement, start: dt.datetime) -> ColumnElement:
    """The local hour (0-23) of a timestamp inside the day starting at ``start``."""
    return case(*[(column < start + dt.timedelta(hours=h + 1), h) for h in range(HOURS - 1)], else_=HOURS - 1)


def _in_day(column: ColumnElement, start: dt.datetime, end: dt.datetime) -> ColumnElement:
    return (column >= start) & (column < end)


# --- the figures --------------------------------------------------------------------------------


@dataclass
class CountAmount:
    count: int = 0
    amount_fen: int = 0


@dataclass
class PurposeLiveness:
    purpose: str
    passed: int = 0
    failed: int = 0

    @property
    def failure_rate(self) -> float | None:
        total = self.passed + self.failed
        return self.failed / total if total else None


@dataclass
class HourFigures:
    hour: int  # local hour of the business day
    payments_paid: int = 0
    payments_declined: int = 0
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(rules.DECISIONS, 0))
    liveness_total: int = 0
    liveness_failed: int = 0


@dataclass
class Dashboard:
    day: dt.date
    utc_offset_hours: int
    start: dt.datetime
    end: dt.datetime
    payments: dict[str, CountAmount]  # paid | declined, by when the payment was decided
    credit: dict[str, CountAmount]  # installment | loan plans opened, by principal
    real_name: dict[str, int]  # passed | failed authentications
    decisions: dict[str, int]  # risk decisions by action, every action present
    liveness: PurposeLiveness  # all purposes together (purpose "all")
    liveness_by_purpose: list[PurposeLiveness]  # purposes with a decided session today
    open_cases: int  # open or assigned, whenever opened
    frozen_accounts: int  # now
    hours: list[HourFigures]


def figures(session: Session, day: dt.date, utc_offset_hours: int, scope: Scope | None = None) -> Dashboard:
    """The business day's figures and its hourly series, each from one grouped query; with a
    tenant ``scope``, only that tenant's: payments at its merchants, plans of its tenant, real-name
    checks, decisions, liveness sessions, cases and frozen accounts of its accounts (decisions and
    liveness sessions with no account, such as a merchant's, count on the platform's dashboard only)."""
    scope = scope or Scope(None)
    start, end = day_bounds(day, utc_offset_hours)
    hours = [HourFigures(h) for h in range(HOURS)]

    payments = {o: CountAmount() for o in PAYMENT_OUTCOMES}
    paid_or_declined = _in_day(PaymentIntent.decided_at, start, end) & PaymentIntent.status.in_(PAYMENT_OUTCOMES)
    paid_or_declined = paid_or_declined & scope.merchant_clause(PaymentIntent.merchant_id)
    for status, count, amount in session.execute(
        select(PaymentIntent.status, func.count(), func.coalesce(func.sum(PaymentIntent.amount_fen), 0))
        .where(paid_or_declined)
        .group_by(PaymentIntent.status)
    ):
        payments[status] = CountAmount(count, int(amount))
    by_hour = (
        select(_hour_of(PaymentIntent.decided_at, start).label("hour"), PaymentIntent.status.label("status"))
        .where(paid_or_declined)
        .subquery()
    )
    for hour, status, count in session.execute(
        select(by_hour.c.hour, by_hour.c.status, func.count()).group_by(by_hour.c.hour, by_hour.c.status)
    ):
        setattr(hours[hour], f"payments_{status}", count)

    credit = {k: CountAmount() for k in CREDIT_KINDS}
    for kind, count, amount in session.execute(
        select(CreditPlan.kind, func.count(), func.coalesce(func.sum(CreditPlan.principal_fen), 0))
        .where(_in_day(CreditPlan.created_at, start, end), scope.tenant_clause(CreditPlan.tenant_id))
        .group_by(CreditPlan.kind)
    ):
        credit[kind] = CountAmount(count, int(amount))

    real_name = dict.fromkeys(REAL_NAME_OUTCOMES, 0)
    real_name.update(
        session.execute(
            select(RealNameAuthentication.outcome, func.count())
            .where(
                _in_day(RealNameAuthentication.created_at, start, end),
                scope.account_clause(RealNameAuthentication.account_id),
            )
            .group_by(RealNameAuthentication.outcome)
        ).all()
    )

    decided_today = _in_day(RiskDecision.at, start, end) & scope.account_clause(RiskDecision.account_id)
    decisions = dict.fromkeys(rules.DECISIONS, 0)
    decisions.update(
        session.execute(
            select(RiskDecision.decision, func.count()).where(decided_today).group_by(RiskDecision.decision)
        ).all()
    )
    by_hour = (
        select(_hour_of(RiskDecision.at, start).label("hour"), RiskDecision.decision.label("decision"))
        .where(decided_today)
        .subquery()
    )
    for hour, decision, count in session.execute(
        select(by_hour.c.hour, by_hour.c.decision, func.count()).group_by(by_hour.c.hour, by_hour.c.decision)
    ):
        hours[hour].decisions[decision] = count

    live_today = _in_day(LivenessSession.decided_at, start, end) & LivenessSession.status.in_(LIVENESS_OUTCOMES)
    live_today = live_today & scope.account_clause(LivenessSession.account_id)
    purposes: dict[str, PurposeLiveness] = {}
    for purpose, status, count in session.execute(
        select(LivenessSession.purpose, LivenessSession.status, func.count())
        .where(live_today)
        .group_by(LivenessSession.purpose, LivenessSession.status)
    ):
        setattr(purposes.setdefault(purpose, PurposeLiveness(purpose)), status, count)
    overall = PurposeLiveness("all", sum(p.passed for p in purposes.values()), sum(p.failed for p in purposes.values()))
    by_hour = (
        select(_hour_of(LivenessSession.decided_at, start).label("hour"), LivenessSession.status.label("status"))
        .where(live_today)
        .subquery()
    )
    for hour, status, count in session.execute(
        select(by_hour.c.hour, by_hour.c.status, func.count()).group_by(by_hour.c.hour, by_hour.c.status)
    ):
        hours[hour].liveness_total += count
        if status == "failed":
            hours[hour].liveness_failed += count

    open_cases = session.execute(
        scope.by_account_or_merchant(
            select(func.count()).select_from(RiskCase).where(RiskCase.status != "closed"),
            RiskCase.account_id,
            RiskCase.merchant_id,
        )
    ).scalar_one()
    frozen = session.execute(
        select(func.count())
        .select_from(Account)
        .where(Account.status == "frozen", scope.tenant_clause(Account.tenant_id))
    ).scalar_one()
    return Dashboard(
        day,
        utc_offset_hours,
        start,
        end,
        payments,
        credit,
        real_name,
        decisions,
        overall,
        sorted(purposes.values(), key=lambda p: p.purpose),
        open_cases,
        frozen,
        hours,
    )
