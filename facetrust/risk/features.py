"""The features the risk rules are written over, computed at decision time from the stored events.

A feature is a named function of (session, stored event) -> a number, a string or None. It sees
only the event's past and the event itself: rows with ``seq <= event.seq`` whose ``at`` lies inside
its window ending at ``event.at``, i.e. in ``(event.at - window, event.at]`` (windows are relative to
the event, never to the wall clock, so a simulation or a replay with past times gets the same
values). A feature that does not apply (no device on the event, no history to compare with, an
empty denominator) is None; a rule's comparison with None is false.

Cost. The features are read from a few grouped queries, each a range scan of one indexed dimension
of ``risk_events`` with conditional aggregates, memoised for the duration of one ``compute`` call:

- the account's events (index account_id, at): velocity, history, repayments, failed face
  attempts, devices, the account at this merchant...;
- the user's own device (device_id, at), the IP (ip, at), the face (face_key, at), the shipping
  address (address_hash, at);
- the merchant's last 30 days (merchant_id, at), plus, when it has refunds, the orders they refund
  (through an index on ``ref`` when the table has one, else the merchant's index again);
- the locations of the merchants of the account's recent payments (one join).

The statements are built once with bound parameters (building SQLAlchemy expressions costs more
than running these queries). Where a query filters on the event kind besides its dimension, the
kind is compared as ``kind || ''`` so that no planner is tempted by the (kind, at) index, which
would scan every event of that kind in the window instead of the few of one merchant.

Devices: a ``device_id`` starting with ``terminal:`` is a merchant's checkout or vending machine
(face pay), shared by every payer by design; the device features describe the user's own devices,
so they are None for a terminal (and terminals do not count in ``account_devices_30d``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, bindparam, case, func, literal, select
from sqlalchemy.orm import Session

from facetrust.credit.models import CreditLine
from facetrust.identity.models import Account
from facetrust.payments.models import Merchant
from facetrust.risk.events import COMPLETED, CREDIT_RETURNED, INSTALLMENT, LOAN, MONEY_OUT, PAYMENT, QUICK
from facetrust.risk.models import RiskEvent

Value = float | int | str | None

TERMINAL_PREFIX = "terminal:"  # device ids of merchants' terminals (see payments/intents.py)
MAX_TERM = 24  # the longest installment / loan term offered (credit/products.py TERMS)
CREDIT_KINDS = (INSTALLMENT, LOAN)
FACE_KINDS = ("liveness", "face_verification")
FAILED = "failed"
REPAYMENT = "repayment"
GOOD_REPAYMENTS = ("on_time", "early")  # a repayment in good standing: on its due date, or ahead of it
LATE = "late"
REFUND = "refund"
# A merchant's return of goods bought on installments is a refund of that order: both count as one.
REFUNDS = (REFUND, CREDIT_RETURNED)
REFUSED = ("review", "decline", "freeze")  # engine decisions that stopped a money-out event
REAL_NAME, PASSED = "real_name", "passed"
QUICK_REFUND = dt.timedelta(hours=72)
EARTH_RADIUS_KM = 6371.0088
LOCATION_HISTORY = 200  # the most recent completed payments the usual location is the median of
MIN_TRAVEL_HOURS = 0.1  # travel speed: shorter gaps count as 6 minutes (two payments a minute apart, 1 km)
QUICK_REFUND_SCAN = 2000  # the most recent refunds of one merchant examined for the quick-refund share

MIN10, HOUR, DAY = dt.timedelta(minutes=10), dt.timedelta(hours=1), dt.timedelta(days=1)
DAYS7, DAYS30, DAYS90, DAYS365 = (
    dt.timedelta(days=7),
    dt.timedelta(days=30),
    dt.timedelta(days=90),
    dt.timedelta(days=365),
)

E = RiskEvent
_MEMO = "facetrust.risk.features.memo"


@dataclass(frozen=True)
class Feature:
    name: str
    description: str  # one line, shown in case reports
    compute: Callable[[Session, RiskEvent], Value]


FEATURES: dict[str, Feature] = {}


def compute(session: Session, names: Iterable[str], event: RiskEvent) -> dict[str, Value]:
    """The named features of a stored event (sorted by name); an unknown name is a KeyError."""
    wanted = sorted(set(names))
    missing = [n for n in wanted if n not in FEATURES]
    if missing:
        raise KeyError(f"unknown feature(s): {', '.join(missing)}")
    outer = _MEMO in session.info
    if not outer:
        session.info[_MEMO] = {}
    try:
        return {name: FEATURES[name].compute(session, event) for name in wanted}
    finally:
        if not outer:
            session.info.pop(_MEMO, None)


def _register(name: str, description: str, fn: Callable[[Session, RiskEvent], Value]) -> None:
    if name in FEATURES:
        raise ValueError(f"feature {name!r} defined twice")
    FEATURES[name] = Feature(name, description, fn)


def feature(name: str, description: str):
    def register(fn: Callable[[Session, RiskEvent], Value]) -> Callable[[Session, RiskEvent], Value]:
        _register(name, description, fn)
        return fn

    return register


# ---------------------------------------------------------------------------------------------
# helpers


def _utc(t: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes (stored as UTC); everything here computes in aware UTC."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _at(event: RiskEvent) -> dt.datetime:
    return _utc(event.at)


def _p(name: str):
    """A bound parameter; times get the column's type (SQLite stores them as UTC text)."""
    return bindparam(name, type_=E.at.type if name.startswith("t_") or name == "at" else None)


def _upto(*, include_self: bool = True, since: str | None = None) -> list:
    """Rows up to the event (by seq; itself too unless ``include_self`` is false), at or before its
    time, and after the time parameter ``since`` if given."""
    conds = [E.seq <= _p("seq") if include_self else E.seq < _p("seq"), E.at <= _p("at")]
    if since:
        conds.append(E.at > _p(since))
    return conds


def _kind(*kinds: str):
    """A kind filter no index serves (see the module docstring)."""
    k = E.kind.concat(literal(""))
    return k == kinds[0] if len(kinds) == 1 else k.in_(kinds)


def _sum_if(cond):
    return func.sum(case((cond, 1), else_=0))


def _distinct_if(cond, column):
    return func.count(func.distinct(case((cond, column))))


def _params(event: RiskEvent, **extra: object) -> dict:
    at = _at(event)
    return {
        "seq": event.seq,
        "at": at,
        "t_10m": at - MIN10,
        "t_1h": at - HOUR,
        "t_24h": at - DAY,
        "t_7d": at - DAYS7,
        "t_30d": at - DAYS30,
        "t_90d": at - DAYS90,
        "t_365d": at - DAYS365,
        **extra,
    }


def _memo(session: Session, key: tuple, fn: Callable[[], object]) -> object:
    memo = session.info.get(_MEMO)
    if memo is None:
        return fn()
    if key not in memo:
        memo[key] = fn()
    return memo[key]


def _int(v: object) -> int:
    return int(v or 0)  # PostgreSQL's sum(bigint) is a Decimal


def _ratio(num: float | int | None, den: float | int | None, digits: int = 6) -> float | None:
    if num is None or not den:
        return None
    return round(num / den, digits)


def _personal_device(event: RiskEvent) -> str | None:
    d = event.device_id
    return None if not d or d.startswith(TERMINAL_PREFIX) else d


def _is_credit(event: RiskEvent) -> bool:
    return event.kind in CREDIT_KINDS


def _row(session: Session, statement, params: dict) -> dict:
    return session.execute(statement, params).one()._asdict()


def _columns(**columns) -> list:
    return [c.label(k) for k, c in columns.items()]


# ---------------------------------------------------------------------------------------------
# the statements, built once


def _ref_indexed() -> bool:
    """Whether an index leads with ``ref`` (then a refund finds its order through it)."""
    return any(ix.columns and next(iter(ix.columns)).name == "ref" for ix in E.__table__.indexes)


@cache
def _statements() -> dict:
    before = E.seq < _p("seq")
    out = E.kind.in_(MONEY_OUT)
    out_24h = and_(out, E.at > _p("t_24h"))
    completed_90d = and_(out, before, E.outcome == COMPLETED, E.at > _p("t_90d"))
    same_90d = and_(completed_90d, E.kind.in_(bindparam("same_kinds", expanding=True)))
    repayment = and_(E.kind == REPAYMENT, before)
    credit_done = and_(E.kind.in_(CREDIT_KINDS), E.outcome == COMPLETED, before)
    own_device = and_(E.device_id.is_not(None), E.device_id.not_like(TERMINAL_PREFIX + "%"), E.at > _p("t_30d"))
    here = E.merchant_id == _p("merchant_id")  # NULL (never true) for an event without a merchant
    here_30d = and_(here, E.at > _p("t_30d"))
    failed_1h = and_(E.kind.in_(FACE_KINDS), E.outcome == FAILED, E.at > _p("t_1h"))
    failed_24h = and_(E.kind.in_(FACE_KINDS), E.outcome == FAILED, E.at > _p("t_24h"))
    credit_draw = E.kind.in_(CREDIT_KINDS)
    account = select(
        *_columns(
            out_10m=_sum_if(and_(out, E.at > _p("t_10m"))),
            out_1h=_sum_if(and_(out, E.at > _p("t_1h"))),
            out_24h=_sum_if(out_24h),
            amount_24h=func.sum(case((out_24h, E.amount_fen))),
            refused_24h=_sum_if(and_(out_24h, before, E.outcome.in_(REFUSED))),
            completed_n=_sum_if(completed_90d),
            completed_max=func.max(case((completed_90d, E.amount_fen))),
            completed_sum=func.sum(case((completed_90d, E.amount_fen))),
            same_n=_sum_if(same_90d),
            same_max=func.max(case((same_90d, E.amount_fen))),
            same_sum=func.sum(case((same_90d, E.amount_fen))),
            failed_face_1h=_sum_if(failed_1h),
            failed_face_24h=_sum_if(failed_24h),
            credit_draws_1h=_sum_if(and_(credit_draw, E.at > _p("t_1h"))),
            loans_1h=_sum_if(and_(E.kind == LOAN, E.at > _p("t_1h"))),
            credit_draws_7d=_sum_if(and_(credit_draw, E.at > _p("t_7d"))),
            first_credit_at=func.min(case((credit_done, E.at))),
            devices_30d=_distinct_if(own_device, E.device_id),
            good_repayments=_sum_if(and_(repayment, E.outcome.in_(GOOD_REPAYMENTS))),
            late_repayments=_sum_if(and_(repayment, E.outcome == LATE)),
            credit_max=func.max(case((credit_done, E.amount_fen))),
            real_name_at=func.max(case((and_(E.kind == REAL_NAME, E.outcome == PASSED, before), E.at))),
            first_at=func.min(E.at),
            orders_here_30d=_sum_if(and_(out, here_30d)),
            installments_here_30d=_sum_if(and_(E.kind == INSTALLMENT, here_30d)),
            refunds_here_30d=_sum_if(and_(E.kind.in_(REFUNDS), here_30d)),
            quick_returns_30d=_sum_if(and_(E.kind == CREDIT_RETURNED, E.outcome == QUICK, before, E.at > _p("t_30d"))),
            completed_here_365d=_sum_if(and_(out, here, before, E.outcome == COMPLETED, E.at > _p("t_365d"))),
        )
    ).where(E.account_id == _p("account_id"), *_upto())
    device = select(
        *_columns(
            out_10m=_sum_if(and_(out, E.at > _p("t_10m"))),
            accounts_30d=_distinct_if(E.at > _p("t_30d"), E.account_id),
            failed_1h=_sum_if(failed_1h),
            failed_accounts_1h=_distinct_if(failed_1h, E.account_id),
            first_seen=func.min(case((E.account_id == _p("account_id"), E.at))),
        )
    ).where(E.device_id == _p("device_id"), *_upto())
    ip = select(
        *_columns(
            out_10m=_sum_if(and_(out, E.at > _p("t_10m"))),
            accounts_24h=func.count(func.distinct(E.account_id)),
        )
    ).where(E.ip == _p("ip"), *_upto(since="t_24h"))
    face = select(func.count(func.distinct(E.account_id))).where(E.face_key == _p("face_key"), *_upto(since="t_365d"))
    address = select(func.count(func.distinct(E.account_id))).where(
        E.address_hash == _p("address_hash"), *_upto(since="t_30d")
    )
    installment = E.kind == INSTALLMENT
    max_term = and_(installment, E.periods >= MAX_TERM)
    merchant = select(
        *_columns(
            installments=_sum_if(installment),
            max_term=_sum_if(max_term),
            max_term_accounts=_distinct_if(max_term, E.account_id),
            refunds=_sum_if(E.kind.in_(REFUNDS)),
            orders=_sum_if(and_(E.kind.in_((PAYMENT, INSTALLMENT)), E.outcome == COMPLETED)),
        )
    ).where(E.merchant_id == _p("merchant_id"), _kind(PAYMENT, INSTALLMENT, *REFUNDS), *_upto(since="t_30d"))
    refunds = (
        select(E.ref, E.at)
        .where(E.merchant_id == _p("merchant_id"), _kind(*REFUNDS), E.ref.is_not(None), *_upto(since="t_30d"))
        .order_by(E.at.desc())
        .limit(QUICK_REFUND_SCAN)
    )
    refs = E.ref.in_(bindparam("refs", expanding=True))
    if _ref_indexed():  # straight to the refunded orders; the merchant compared so no index serves it
        at_merchant = E.merchant_id.concat(literal("")) == _p("merchant_id")
    else:  # through the merchant's index, over the window plus the quick-refund span
        at_merchant = E.merchant_id == _p("merchant_id")
    refunded_orders = (
        select(E.ref, func.min(E.at))
        .where(at_merchant, _kind(*MONEY_OUT), refs, *_upto(since="t_refunded_from"))
        .group_by(E.ref)
    )
    recent = (
        select(E.merchant_id, E.at)
        .where(
            E.account_id == _p("account_id"),
            _kind(PAYMENT),
            E.outcome == COMPLETED,
            E.merchant_id.is_not(None),
            *_upto(include_self=False, since="t_90d"),
        )
        .order_by(E.at.desc())
        .limit(LOCATION_HISTORY)
        .subquery()
    )
    usual_places = (
        select(Merchant.latitude, Merchant.longitude, recent.c.merchant_id, recent.c.at)
        .join(recent, recent.c.merchant_id == Merchant.id)
        .where(Merchant.latitude.is_not(None), Merchant.longitude.is_not(None))
    )
    place = select(Merchant.latitude, Merchant.longitude).where(Merchant.id == _p("merchant_id"))
    line = select(CreditLine.limit_fen, CreditLine.used_fen).where(CreditLine.account_id == _p("account_id"))
    verified = select(Account.real_name_verified_at).where(Account.id == _p("account_id"))
    return {
        "account": account,
        "device": device,
        "ip": ip,
        "face": face,
        "address": address,
        "merchant": merchant,
        "refunds": refunds,
        "refunded_orders": refunded_orders,
        "usual_places": usual_places,
        "place": place,
        "line": line,
        "verified": verified,
    }


def _q(name: str):
    return _statements()[name]


# ---------------------------------------------------------------------------------------------
# the account: one scan of the account's events (index account_id, at)


def _account(session: Session, event: RiskEvent) -> dict | None:
    if not event.account_id:
        return None

    def run() -> dict:
        row = _row(
            session,
            _q("account"),
            _params(
                event, account_id=event.account_id, merchant_id=event.merchant_id, same_kinds=list(_same_kinds(event))
            ),
        )
        times = ("real_name_at", "first_at", "first_credit_at")
        return {k: (v if k in times else None if v is None else int(v)) for k, v in row.items()}

    return _memo(session, ("account", event.seq), run)  # type: ignore[return-value]


def _same_kinds(event: RiskEvent) -> tuple[str, ...]:
    """The money-out kinds an event's amount is compared with: face pay with face pay, a credit
    draw with credit draws (daily small payments say little about what a purchase on credit is)."""
    return CREDIT_KINDS if _is_credit(event) else (event.kind,)


def _from_account(key: str) -> Callable[[Session, RiskEvent], Value]:
    def get(session: Session, event: RiskEvent) -> Value:
        a = _account(session, event)
        return None if a is None else (a[key] or 0)

    return get


for _name, _key, _desc in (
    (
        "account_money_out_10m",
        "out_10m",
        "money-out events (payment, installment, loan; any outcome) of the account in 10 minutes",
    ),
    ("account_money_out_1h", "out_1h", "money-out events of the account in the last hour"),
    ("account_money_out_24h", "out_24h", "money-out events of the account in the last 24 hours"),
    ("account_amount_out_24h", "amount_24h", "sum of the account's money-out amounts (fen) in the last 24 hours"),
    (
        "account_refused_out_24h",
        "refused_24h",
        "earlier money-out events of the account refused (review, decline, freeze) in 24 hours",
    ),
    ("account_completed_out_90d", "completed_n", "earlier completed money-out events of the account in 90 days"),
    ("account_devices_30d", "devices_30d", "distinct own devices (not merchant terminals) the account used in 30 days"),
    (
        "account_failed_face_1h",
        "failed_face_1h",
        "failed liveness or face-match attempts of the account in the last hour",
    ),
    ("account_failed_face_24h", "failed_face_24h", "failed liveness or face-match attempts of the account in 24 hours"),
    (
        "account_credit_draws_1h",
        "credit_draws_1h",
        "installment and loan draws of the account in the last hour (this one included)",
    ),
    ("account_loans_1h", "loans_1h", "loan drawdowns of the account in the last hour (this one included)"),
    (
        "account_credit_draws_7d",
        "credit_draws_7d",
        "installment and loan draws of the account in 7 days (this one included)",
    ),
    (
        "on_time_repayments",
        "good_repayments",
        "repayments in good standing (on time or early) the account made before, all time",
    ),
    ("late_repayments", "late_repayments", "late repayments the account made before, all time"),
    (
        "account_quick_returns_30d",
        "quick_returns_30d",
        "earlier returns of goods the account bought on installments, each within 72 hours of its order, in 30 days",
    ),
):
    _register(_name, _desc, _from_account(_key))


@feature("amount_fen", "the amount of this event (fen)")
def amount_fen(session: Session, event: RiskEvent) -> Value:
    return event.amount_fen


@feature("category", "the category of the goods of this event")
def category(session: Session, event: RiskEvent) -> Value:
    return event.category


@feature("max_completed_out_90d_fen", "the largest earlier completed money-out amount of the account in 90 days (fen)")
def max_completed_out_90d_fen(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    return None if a is None or not a["completed_n"] else a["completed_max"]


@feature("avg_completed_out_90d_fen", "the average earlier completed money-out amount of the account in 90 days (fen)")
def avg_completed_out_90d_fen(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or not a["completed_n"] or a["completed_sum"] is None:
        return None
    return round(a["completed_sum"] / a["completed_n"])


@feature("amount_vs_max_completed_90d", "this amount / the largest earlier completed money-out amount in 90 days")
def amount_vs_max_completed_90d(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or event.amount_fen is None or not a["completed_n"]:
        return None
    return _ratio(event.amount_fen, a["completed_max"])


@feature("amount_vs_avg_completed_90d", "this amount / the average earlier completed money-out amount in 90 days")
def amount_vs_avg_completed_90d(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or event.amount_fen is None or not a["completed_n"]:
        return None
    return _ratio(event.amount_fen * a["completed_n"], a["completed_sum"])


@feature(
    "account_completed_same_kind_90d",
    "earlier completed money-out of the same kind (payments; or installments and loans) in 90 days",
)
def account_completed_same_kind_90d(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    return None if a is None else a["same_n"] or 0


@feature("amount_vs_max_same_kind_90d", "this amount / the largest earlier completed one of the same kind in 90 days")
def amount_vs_max_same_kind_90d(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or event.amount_fen is None or not a["same_n"]:
        return None
    return _ratio(event.amount_fen, a["same_max"])


@feature("amount_vs_avg_same_kind_90d", "this amount / the average earlier completed one of the same kind in 90 days")
def amount_vs_avg_same_kind_90d(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or event.amount_fen is None or not a["same_n"]:
        return None
    return _ratio(event.amount_fen * a["same_n"], a["same_sum"])


@feature(
    "max_completed_installment_fen", "the largest earlier completed installment or loan amount of the account (fen)"
)
def max_completed_installment_fen(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    return None if a is None else a["credit_max"]


@feature("days_since_real_name", "days since the account passed real-name authentication")
def days_since_real_name(session: Session, event: RiskEvent) -> Value:
    """From the account's latest passed "real_name" event before this one, else from the account."""
    a = _account(session, event)
    if a is None:
        return None
    last = a["real_name_at"]
    if last is None:
        last = session.execute(_q("verified"), {"account_id": event.account_id}).scalar()
    at = _at(event)
    if last is None or _utc(last) > at:
        return None
    return round((at - _utc(last)).total_seconds() / 86400, 3)


@feature(
    "credit_history_days", "days since the account's first completed installment or loan (None: no credit history)"
)
def credit_history_days(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or a["first_credit_at"] is None:
        return None
    return round((_at(event) - _utc(a["first_credit_at"])).total_seconds() / 86400, 3)


@feature("account_age_days", "days since the account's first recorded event")
def account_age_days(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or a["first_at"] is None:
        return None
    return round((_at(event) - _utc(a["first_at"])).total_seconds() / 86400, 3)


def _at_merchant(key: str) -> Callable[[Session, RiskEvent], Value]:
    def get(session: Session, event: RiskEvent) -> Value:
        a = _account(session, event)
        return None if a is None or not event.merchant_id else (a[key] or 0)

    return get


for _name, _key, _desc in (
    (
        "account_orders_at_merchant_30d",
        "orders_here_30d",
        "money-out events of the account at this merchant in 30 days (this one included)",
    ),
    (
        "account_installments_at_merchant_30d",
        "installments_here_30d",
        "installment orders of the account at this merchant in 30 days (this one included)",
    ),
    (
        "account_refunds_at_merchant_30d",
        "refunds_here_30d",
        "refunds the account received from this merchant in 30 days",
    ),
):
    _register(_name, _desc, _at_merchant(_key))


# ---------------------------------------------------------------------------------------------
# the user's own device: one scan of the device's events (index device_id, at)


def _device(session: Session, event: RiskEvent) -> dict | None:
    device = _personal_device(event)
    if device is None:
        return None

    def run() -> dict:
        row = _row(session, _q("device"), _params(event, device_id=device, account_id=event.account_id))
        return {k: (None if v is None else _utc(v)) if k == "first_seen" else _int(v) for k, v in row.items()}

    return _memo(session, ("device", event.seq), run)  # type: ignore[return-value]


def _from_device(key: str) -> Callable[[Session, RiskEvent], Value]:
    def get(session: Session, event: RiskEvent) -> Value:
        d = _device(session, event)
        return None if d is None else d[key]

    return get


for _name, _key, _desc in (
    ("device_money_out_10m", "out_10m", "money-out events from this (user's own) device in 10 minutes, any account"),
    ("device_accounts_30d", "accounts_30d", "distinct accounts seen on this (user's own) device in 30 days"),
    (
        "device_failed_face_1h",
        "failed_1h",
        "failed liveness or face-match attempts on this (user's own) device in the last hour",
    ),
    (
        "device_failed_face_accounts_1h",
        "failed_accounts_1h",
        "distinct accounts with failed face attempts on this device in the last hour",
    ),
):
    _register(_name, _desc, _from_device(_key))


def _device_first_seen(session: Session, event: RiskEvent) -> dt.datetime | None:
    d = _device(session, event)
    if d is None or not event.account_id:
        return None
    return d["first_seen"] or _at(event)  # type: ignore[return-value]


@feature("device_is_new_for_account", "1 if the account first used this device less than 24 hours ago, else 0")
def device_is_new_for_account(session: Session, event: RiskEvent) -> Value:
    first = _device_first_seen(session, event)
    if first is None:
        return None
    return 1 if first > _at(event) - DAY else 0


@feature("hours_since_device_change", "hours since the account's first event on the device it uses now")
def hours_since_device_change(session: Session, event: RiskEvent) -> Value:
    first = _device_first_seen(session, event)
    if first is None:
        return None
    return round((_at(event) - first).total_seconds() / 3600, 3)


# ---------------------------------------------------------------------------------------------
# IP address, face, shipping address


def _ip(session: Session, event: RiskEvent) -> dict | None:
    if not event.ip:
        return None
    return _memo(
        session,
        ("ip", event.seq),  # type: ignore[return-value]
        lambda: {k: _int(v) for k, v in _row(session, _q("ip"), _params(event, ip=event.ip)).items()},
    )


@feature("ip_money_out_10m", "money-out events from this IP address in 10 minutes, any account")
def ip_money_out_10m(session: Session, event: RiskEvent) -> Value:
    ip = _ip(session, event)
    return None if ip is None else ip["out_10m"]


@feature("ip_accounts_24h", "distinct accounts seen on this IP address in 24 hours")
def ip_accounts_24h(session: Session, event: RiskEvent) -> Value:
    ip = _ip(session, event)
    return None if ip is None else ip["accounts_24h"]


@feature("face_accounts", "distinct accounts showing this face (face key) in 365 days")
def face_accounts(session: Session, event: RiskEvent) -> Value:
    if not event.face_key:
        return None
    return _int(session.execute(_q("face"), _params(event, face_key=event.face_key)).scalar())


@feature("address_accounts_30d", "distinct accounts shipping to this address (hash) in 30 days")
def address_accounts_30d(session: Session, event: RiskEvent) -> Value:
    if not event.address_hash:
        return None
    return _int(session.execute(_q("address"), _params(event, address_hash=event.address_hash)).scalar())


# ---------------------------------------------------------------------------------------------
# credit (bust-out)


@feature(
    "installment_is_max_term", f"1 if this installment or loan is over the longest term ({MAX_TERM} periods), else 0"
)
def installment_is_max_term(session: Session, event: RiskEvent) -> Value:
    if not _is_credit(event) or event.periods is None:
        return None
    return 1 if event.periods >= MAX_TERM else 0


@feature("credit_utilisation", "(credit used + this draw) / credit limit, at the time of the event")
def credit_utilisation(session: Session, event: RiskEvent) -> Value:
    """From the limit and usage the credit flow recorded on the event (so a replay sees what the
    decision saw), else from the account's credit line now."""
    try:
        data = json.loads(event.data or "{}")
    except (TypeError, ValueError):
        data = {}
    limit, used = (data.get("limit_fen"), data.get("used_fen")) if isinstance(data, dict) else (None, None)
    if limit is None and event.account_id:
        line = session.execute(_q("line"), {"account_id": event.account_id}).one_or_none()
        if line is not None:
            limit, used = line
    if not isinstance(limit, int | float) or isinstance(limit, bool) or limit <= 0:
        return None
    draw = (event.amount_fen or 0) if _is_credit(event) else 0
    return _ratio((used or 0) + draw, limit)


# ---------------------------------------------------------------------------------------------
# the merchant's last 30 days (collusion, cash-out)


def _merchant(session: Session, event: RiskEvent) -> dict | None:
    if not event.merchant_id:
        return None
    return _memo(
        session,
        ("merchant", event.seq),  # type: ignore[return-value]
        lambda: {
            k: _int(v) for k, v in _row(session, _q("merchant"), _params(event, merchant_id=event.merchant_id)).items()
        },
    )


def _from_merchant(fn: Callable[[dict], Value]) -> Callable[[Session, RiskEvent], Value]:
    def get(session: Session, event: RiskEvent) -> Value:
        m = _merchant(session, event)
        return None if m is None else fn(m)

    return get


for _name, _fn, _desc in (
    (
        "merchant_installments_30d",
        lambda m: m["installments"],
        "installment orders (any outcome) at the merchant in 30 days",
    ),
    (
        "merchant_max_term_share_30d",
        lambda m: _ratio(m["max_term"], m["installments"]),
        f"share of the merchant's installment orders (30 days) over the longest term ({MAX_TERM} periods)",
    ),
    (
        "merchant_distinct_accounts_max_term_30d",
        lambda m: m["max_term_accounts"],
        "distinct accounts with longest-term installment orders at the merchant in 30 days",
    ),
    (
        "merchant_orders_30d",
        lambda m: m["orders"],
        "completed payments and installment orders at the merchant in 30 days",
    ),
    (
        "merchant_refund_share_30d",
        lambda m: _ratio(m["refunds"], m["orders"]),
        "refunds at the merchant / its completed payments and installment orders, 30 days",
    ),
):
    _register(_name, _desc, _from_merchant(_fn))


@feature(
    "merchant_quick_refund_share_30d",
    "refunds within 72 hours of their order at the merchant / its completed payments and installment orders, 30 days",
)
def merchant_quick_refund_share_30d(session: Session, event: RiskEvent) -> Value:
    """A refund and the order it refunds carry the same ``ref`` (the payment intent, the plan)."""
    m = _merchant(session, event)
    if m is None or not m["orders"]:
        return None
    if not m["refunds"]:
        return 0.0
    params = _params(event, merchant_id=event.merchant_id)
    refunds = session.execute(_q("refunds"), params).all()
    refs = sorted({ref for ref, _ in refunds})
    if not refs:
        return 0.0
    orders = session.execute(
        _q("refunded_orders"), {**params, "refs": refs, "t_refunded_from": params["t_30d"] - QUICK_REFUND}
    ).all()
    ordered_at = {ref: _utc(at) for ref, at in orders}
    quick = sum(
        1 for ref, at in refunds if ref in ordered_at and dt.timedelta(0) <= _utc(at) - ordered_at[ref] < QUICK_REFUND
    )
    return _ratio(quick, m["orders"])


# ---------------------------------------------------------------------------------------------
# location


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _places(session: Session, event: RiskEvent) -> dict | None:
    """Where this merchant is, and where the account paid recently (completed payments, 90 days,
    the latest 200, at merchants with a known location)."""
    if not event.account_id or not event.merchant_id:
        return None

    def run() -> dict | None:
        here = session.execute(_q("place"), {"merchant_id": event.merchant_id}).one_or_none()
        if here is None or here[0] is None or here[1] is None:
            return None
        points = session.execute(
            _q("usual_places"), _params(event, account_id=event.account_id, merchant_id=event.merchant_id)
        ).all()
        return {"here": (here[0], here[1]), "points": [(p[0], p[1], p[2], _utc(p[3])) for p in points]}

    return _memo(session, ("places", event.seq), run)  # type: ignore[return-value]


@feature(
    "km_from_usual_merchants",
    "km from this merchant to the median location of the merchants of the account's completed payments, 90 days",
)
def km_from_usual_merchants(session: Session, event: RiskEvent) -> Value:
    """The usual place is the median latitude and longitude over the account's last completed
    payments (up to 200, 90 days) at other merchants with a known location."""
    places = _places(session, event)
    if places is None:
        return None
    others = [p for p in places["points"] if p[2] != event.merchant_id]
    if not others:
        return None
    lat = statistics.median(p[0] for p in others)
    lon = statistics.median(p[1] for p in others)
    return round(_haversine_km(*places["here"], lat, lon), 1)


def _last_payment(session: Session, event: RiskEvent) -> tuple[float, float] | None:
    """(km, hours) from the account's latest completed payment at a located merchant to this one."""
    places = _places(session, event)
    if places is None or not places["points"]:
        return None
    lat, lon, _, at = max(places["points"], key=lambda p: p[3])
    return _haversine_km(*places["here"], lat, lon), (_at(event) - at).total_seconds() / 3600


@feature("km_from_last_payment", "km from the merchant of the account's latest completed payment (90 days) to this one")
def km_from_last_payment(session: Session, event: RiskEvent) -> Value:
    last = _last_payment(session, event)
    return None if last is None else round(last[0], 1)


@feature(
    "travel_speed_kmh",
    "km/h the payer would have travelled since the latest completed payment (time floored at 6 minutes)",
)
def travel_speed_kmh(session: Session, event: RiskEvent) -> Value:
    last = _last_payment(session, event)
    return None if last is None else round(last[0] / max(last[1], MIN_TRAVEL_HOURS), 1)


@feature(
    "merchant_is_new_for_account", "1 if the account completed no money-out at this merchant before (365 days), else 0"
)
def merchant_is_new_for_account(session: Session, event: RiskEvent) -> Value:
    a = _account(session, event)
    if a is None or not event.merchant_id:
        return None
    return 0 if a["completed_here_365d"] else 1


del _name, _key, _desc, _fn


# ---------------------------------------------------------------------------------------------
# Device re-binding (facetrust/devices/rebind.py): a device bound again and again is how an account
# changes hands; a person with a new phone does it once.


@feature("account_device_rebinds_7d", "earlier device re-bindings of the account in the last 7 days")
def account_device_rebinds_7d(session: Session, event: RiskEvent) -> Value:
    if not event.account_id:
        return None
    at = _at(event)
    return session.execute(
        select(func.count())
        .select_from(E)
        .where(E.account_id == event.account_id, E.kind == "device_rebind", E.seq < event.seq, E.at > at - DAYS7)
    ).scalar_one()
