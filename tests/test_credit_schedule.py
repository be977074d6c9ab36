"""Installment and loan schedules: exact fen arithmetic, the APR (IRR x 12) and the `credit quote` command.

Three kinds of check:

- hand-worked examples (the README's 5,999.00 yuan over 12 periods), asserted to the fen;
- properties over thousands of random plans against independent oracles: a plain Decimal
  re-implementation of the written rules (exact products, one correctly rounded division each), numpy_financial (pmt / ipmt / ppmt / irr, in float) and a
  brute-force float bisection for the IRR;
- the command line: JSON output, and bad input mapped to a code and a message with exit status 2.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext

import numpy as np
import numpy_financial as npf
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from facetrust.cli.credit import credit
from facetrust.credit import schedule
from facetrust.credit.schedule import (
    ANNUITY,
    EQUAL_PRINCIPAL,
    FLAT_FEE,
    Installment,
    Pricing,
    Schedule,
    build,
    parse_yuan,
    periodic_irr,
    round_half_up,
    yuan,
)

MAX_PRINCIPAL_FEN = 10_000_000 * 100  # 10,000,000 yuan
TERMS = (3, 6, 12, 24)

principals = st.one_of(st.integers(1, 10_000), st.integers(1, MAX_PRINCIPAL_FEN))
big_principals = st.integers(1_000_000, MAX_PRINCIPAL_FEN)  # 10,000 yuan and up
terms = st.sampled_from(TERMS)
any_periods = st.integers(1, 36)
fee_rates = st.integers(0, 20_000).map(lambda i: Decimal(i).scaleb(-6))  # 0 .. 0.02 a period, 6 decimals
annual_rates = st.integers(0, 360_000).map(lambda i: Decimal(i).scaleb(-6))  # 0 .. 0.36 a year
positive_annual_rates = st.integers(1, 360_000).map(lambda i: Decimal(i).scaleb(-6))
pricings = st.one_of(
    fee_rates.map(lambda f: Pricing(FLAT_FEE, f)),
    annual_rates.map(lambda a: Pricing(ANNUITY, a)),
    annual_rates.map(lambda a: Pricing(EQUAL_PRINCIPAL, a)),
)

MANY = settings(max_examples=2000, deadline=None)
SOME = settings(max_examples=500, deadline=None)


# ------------------------------------------------------------------------------- independent oracles


def ref_rhu(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_HALF_UP))


def reference_level(P: int, n: int, a: Decimal) -> int:
    """The annuity's A = round_half_up(P r / (1 - (1 + r)^-n)), r = a / 12, with no rounding before the last step.

    Written as P a (12 + a)^n / (12 ((12 + a)^n - 12^n)) (numerator and denominator times 12^n), both
    terminating decimals computed exactly (Inexact trapped), then one correctly rounded division: so an
    exact .5 tie (it happens: n = 1 gives P (1 + r), e.g. 1000001.5 fen) is seen as one.
    """
    with localcontext(Context(prec=1000, traps=[Inexact])):
        num = P * a * (12 + a) ** n
        den = 12 * ((12 + a) ** n - 12**n)
    with localcontext(Context(prec=80)):
        return ref_rhu(num / den)


def reference_schedule(P: int, n: int, method: str, rate: Decimal) -> list[tuple[int, int, int, int]]:
    """The written rules, re-implemented naively in 80-digit Decimal: (principal, interest, fee, balance_after)."""
    rows = []
    with localcontext(Context(prec=80)):
        balance = P
        if method == FLAT_FEE:
            part, fee_part, fees_left = ref_rhu(Decimal(P) / n), ref_rhu(P * rate), ref_rhu(P * rate * n)
            for k in range(1, n + 1):
                principal = balance if k == n else min(part, balance)
                fee = fees_left if k == n else min(fee_part, fees_left)
                balance, fees_left = balance - principal, fees_left - fee
                rows.append((principal, 0, fee, balance))
            return rows
        level = reference_level(P, n, rate) if method == ANNUITY and rate > 0 else None
        part = ref_rhu(Decimal(P) / n)
        for k in range(1, n + 1):
            interest = ref_rhu(balance * rate / 12)  # the exact product, divided once
            if k == n:
                principal = balance
            elif level is not None:
                principal = min(max(level - interest, 0), balance)
            else:
                principal = min(part, balance)
            balance -= principal
            rows.append((principal, interest, 0, balance))
        return rows


def float_irr(principal: int, payments: list[int]) -> float:
    """Plain bisection in float on sum(p_k / (1+x)^k) - P, which falls as x grows (x >= 0 here)."""

    def excess(x: float) -> float:
        return sum(p / (1 + x) ** k for k, p in enumerate(payments, start=1)) - principal

    lo, hi = 0.0, 1.0
    while excess(hi) > 0:
        lo, hi = hi, hi * 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def rows_of(plan: Schedule) -> list[tuple[int, int, int, int]]:
    return [(i.principal_fen, i.interest_fen, i.fee_fen, i.balance_after_fen) for i in plan.installments]


# ---------------------------------------------------------------------------------- money helpers


@pytest.mark.parametrize(
    "amount, fen",
    [
        ("0", 0),
        ("0.4999", 0),
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),
        ("2.4999999999", 2),
        ("3599.4", 3599),
        ("43192.8", 43193),
        ("-0.5", -1),
        ("-2.5", -3),
        ("-2.4", -2),
        ("-0.4999", 0),
        ("123456789012345678901234567890123456789.5", 123456789012345678901234567890123456790),
    ],
)
def test_round_half_up(amount: str, fen: int) -> None:
    assert round_half_up(Decimal(amount)) == fen


def test_round_half_up_refuses_floats_and_non_numbers() -> None:
    with pytest.raises(TypeError):
        round_half_up(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        round_half_up(Decimal("NaN"))
    with pytest.raises(ValueError):
        round_half_up(Decimal("Infinity"))


@pytest.mark.parametrize(
    "fen, text",
    [
        (599900, "5999.00"),
        (-5, "-0.05"),
        (0, "0.00"),
        (7, "0.07"),
        (100, "1.00"),
        (-100, "-1.00"),
        (1_000_000_000, "10000000.00"),
        (43193, "431.93"),
    ],
)
def test_yuan(fen: int, text: str) -> None:
    assert yuan(fen) == text


@pytest.mark.parametrize(
    "text, fen",
    [
        ("5999.00", 599900),
        ("5999", 599900),
        ("0.5", 50),
        (".5", 50),
        ("5.", 500),
        (" 12.34 ", 1234),
        ("-3.10", -310),
        ("+1", 100),
        ("1.230", 123),
        ("0", 0),
    ],
)
def test_parse_yuan(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "1.234",
        "0.001",
        "abc",
        "",
        " ",
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "1e3",
        "1_000",
        "1,000.00",
        "5999.00.1",
        "--1",
        "0x10",
        "¥5",
    ],
)
def test_parse_yuan_refuses(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_yuan(text)
    assert repr(text) in str(err.value)


@given(st.integers(-(10**12), 10**12))
@settings(max_examples=300, deadline=None)
def test_yuan_round_trips(fen: int) -> None:
    assert parse_yuan(yuan(fen)) == fen


def test_pricing_validation() -> None:
    with pytest.raises(ValueError, match="unknown pricing method"):
        Pricing("compound", Decimal("0.1"))
    with pytest.raises(ValueError, match="zero or more"):
        Pricing(ANNUITY, Decimal("-0.01"))
    with pytest.raises(ValueError, match="finite"):
        Pricing(FLAT_FEE, Decimal("NaN"))
    with pytest.raises(TypeError):
        Pricing(FLAT_FEE, 0.006)  # type: ignore[arg-type]
    assert Pricing(FLAT_FEE, Decimal("0.006")).periodic_rate == Decimal("0.006")
    assert Pricing(ANNUITY, Decimal("0.12")).periodic_rate == Decimal("0.01")
    twelfth = Pricing(EQUAL_PRINCIPAL, Decimal("0.1")).periodic_rate
    assert abs(twelfth * 12 - Decimal("0.1")) < Decimal("1E-40")


@pytest.mark.parametrize(
    "principal, periods",
    [(0, 12), (-1, 12), (1.5, 12), (True, 12), ("100", 12), (100, 0), (100, -3), (100, 2.0), (100, None)],
)
def test_build_refuses_bad_input(principal, periods) -> None:
    with pytest.raises(ValueError):
        build(principal, periods, Pricing(FLAT_FEE, Decimal("0.006")))


def test_schedule_refuses_broken_invariants() -> None:
    pricing = Pricing(FLAT_FEE, Decimal(0))
    with pytest.raises(ValueError):
        Schedule(100, pricing, (Installment(1, 60, 0, 0, 40),))  # does not repay the principal
    with pytest.raises(ValueError):
        Schedule(100, pricing, (Installment(1, 120, 0, 0, -20), Installment(2, -20, 0, 0, 0)))
    with pytest.raises(ValueError):
        Schedule(100, pricing, (Installment(1, 100, 0, 0, 0), Installment(3, 0, 0, 0, 0)))


# ------------------------------------------------------------------- worked example: 5,999.00 over 12


P_EXAMPLE = 599900


def test_worked_example_flat_fee() -> None:
    # 599900 / 12 = 49991.67 -> 49992 for periods 1-11; the last takes 599900 - 11 * 49992 = 49988.
    # 599900 * 0.006 = 3599.4 -> 3599 a period; the total fee is 599900 * 0.006 * 12 = 43192.8 -> 43193,
    # so the last fee is 43193 - 11 * 3599 = 3604.
    plan = build(P_EXAMPLE, 12, Pricing(FLAT_FEE, Decimal("0.006")))
    assert [i.principal_fen for i in plan.installments] == [49992] * 11 + [49988]
    assert [i.fee_fen for i in plan.installments] == [3599] * 11 + [3604]
    assert [i.interest_fen for i in plan.installments] == [0] * 12
    assert [i.payment_fen for i in plan.installments] == [53591] * 11 + [53592]
    assert [i.balance_after_fen for i in plan.installments] == [P_EXAMPLE - 49992 * k for k in range(1, 12)] + [0]
    assert (plan.total_cost_fen, plan.total_payment_fen) == (43193, 643093)
    # The APR is the monthly IRR x 12, far above the naive 0.6 % x 12 = 7.2 %.
    assert plan.apr == Decimal("0.130343")
    assert plan.effective_annual_rate == Decimal("0.138418")
    assert abs(float(plan.periodic_irr) - npf.irr([P_EXAMPLE] + [-53591] * 11 + [-53592])) < 1e-12


def test_worked_example_annuity() -> None:
    # A = 599900 * 0.01 / (1 - 1.01^-12) = 53300.388... -> 53300 (computed here independently, 60 digits).
    with localcontext(Context(prec=60)):
        level = Decimal(P_EXAMPLE) * Decimal("0.01") / (1 - Decimal("1.01") ** -12)
    assert Decimal("53300.38") < level < Decimal("53300.39")
    # Interest is 1 % of the balance before the period, half-up: 5999.00; then 552599 * 0.01 = 5525.99 -> 5526; ...
    interest = [5999, 5526, 5048, 4566, 4078, 3586, 3089, 2587, 2080, 1568, 1050, 528]
    principal = [53300 - i for i in interest[:11]] + [52777]
    balances = [P_EXAMPLE - sum(principal[:k]) for k in range(1, 13)]
    assert balances[-1] == 0 and balances[-2] == 52777
    # the literals above are the rule applied by hand: each interest is 1 % of the previous balance, half-up
    assert interest == [ref_rhu(Decimal(b) / 100) for b in [P_EXAMPLE] + balances[:11]]

    plan = build(P_EXAMPLE, 12, Pricing(ANNUITY, Decimal("0.12")))
    assert [i.interest_fen for i in plan.installments] == interest
    assert [i.principal_fen for i in plan.installments] == principal
    assert [i.balance_after_fen for i in plan.installments] == balances
    assert [i.payment_fen for i in plan.installments] == [53300] * 11 + [52777 + 528]  # last: 53305
    assert [i.fee_fen for i in plan.installments] == [0] * 12
    assert (plan.total_cost_fen, plan.total_payment_fen) == (39705, 639605)
    assert plan.apr == Decimal("0.120000")
    assert plan.effective_annual_rate == Decimal("0.126825")


def test_worked_example_equal_principal() -> None:
    # Principal as in the fee plan; interest 1 % of the balance before: 5999.00, 5499.08 -> 5499, ...,
    # 2499.56 -> 2500 (period 8), ..., 499.88 -> 500.
    interest = [5999, 5499, 4999, 4499, 3999, 3499, 2999, 2500, 2000, 1500, 1000, 500]
    before = [P_EXAMPLE - 49992 * k for k in range(12)]
    assert interest == [ref_rhu(Decimal(b) / 100) for b in before]
    plan = build(P_EXAMPLE, 12, Pricing(EQUAL_PRINCIPAL, Decimal("0.12")))
    assert [i.principal_fen for i in plan.installments] == [49992] * 11 + [49988]
    assert [i.interest_fen for i in plan.installments] == interest
    assert [i.payment_fen for i in plan.installments] == [p + i for p, i in zip([49992] * 11 + [49988], interest)]
    assert plan.total_cost_fen == 38993
    # Interest rounded half-up on balances ending in .08, .16, ... mostly rounds down: a hair under 12 %.
    assert plan.apr == Decimal("0.119999")
    assert plan.effective_annual_rate == Decimal("0.126824")


def test_as_dict_shape() -> None:
    d = build(P_EXAMPLE, 12, Pricing(FLAT_FEE, Decimal("0.0060"))).as_dict()
    assert d["principal"] == "5999.00" and d["periods"] == 12 and d["method"] == "flat_fee" and d["rate"] == "0.006"
    assert d["schedule"][0] == {
        "period": 1,
        "due_offset_months": 1,
        "principal": "499.92",
        "interest": "0.00",
        "fee": "35.99",
        "payment": "535.91",
        "balance_after": "5499.08",
    }
    assert d["schedule"][-1] == {
        "period": 12,
        "due_offset_months": 12,
        "principal": "499.88",
        "interest": "0.00",
        "fee": "36.04",
        "payment": "535.92",
        "balance_after": "0.00",
    }
    assert (d["apr"], d["effective_annual_rate"], d["total_cost"], d["total_payment"]) == (
        "0.130343",
        "0.138418",
        "431.93",
        "6430.93",
    )
    json.dumps(d)  # JSON-ready as is
    assert build(100, 1, Pricing(ANNUITY, Decimal(0))).as_dict()["rate"] == "0"
    assert build(100, 1, Pricing(ANNUITY, Decimal("0.1825"))).as_dict()["rate"] == "0.1825"


def test_tiny_principals_never_go_negative() -> None:
    # 15 fen over 10 periods: round_half_up(1.5) = 2 a period would repay 18 fen; the part is capped at
    # what is still owed.
    plan = build(15, 10, Pricing(FLAT_FEE, Decimal("0.1")))
    assert [i.principal_fen for i in plan.installments] == [2] * 7 + [1, 0, 0]
    assert sum(i.fee_fen for i in plan.installments) == 15  # round_half_up(15 * 0.1 * 10)
    assert [i.fee_fen for i in plan.installments] == [2] * 7 + [1, 0, 0]
    # 1 fen over 24 periods: 0 a period, the last period takes it.
    plan = build(1, 24, Pricing(EQUAL_PRINCIPAL, Decimal("0.36")))
    assert [i.principal_fen for i in plan.installments] == [0] * 23 + [1]
    assert plan.total_cost_fen == 0 and plan.apr == 0
    # 25 fen at 2 % over 24 periods: fee 0.5 -> 1 a period, but the total is round_half_up(12) = 12.
    plan = build(25, 24, Pricing(FLAT_FEE, Decimal("0.02")))
    assert [i.fee_fen for i in plan.installments] == [1] * 12 + [0] * 12


def test_exact_ties_round_up() -> None:
    # 100.50 yuan over 2 periods at 12 %: A = 10050 x 0.01 x 1.01^2 / (1.01^2 - 1) = 102.52005 / 0.0201
    # = 5100.5 fen exactly, so 5101 (a 34-digit Decimal evaluation of 1 - 1.01^-2 gives 5100.49999...).
    # Interest: 10050 x 0.01 = 100.5 -> 101, then 5050 x 0.01 = 50.5 -> 51.
    plan = build(10050, 2, Pricing(ANNUITY, Decimal("0.12")))
    assert rows_of(plan) == [(5000, 101, 0, 5050), (5050, 51, 0, 0)]
    assert [i.payment_fen for i in plan.installments] == [5101, 5101]
    # One period: P (1 + r) = 1000000 x (1 + 0.0000015) = 1000001.5 -> 1000002.
    assert build(1_000_000, 1, Pricing(ANNUITY, Decimal("0.000018"))).installments[0].payment_fen == 1_000_002
    # Fee: 250 x 0.002 = 0.5 -> 1 a period; total 250 x 0.002 x 3 = 1.5 -> 2, so the last fee is 0.
    assert [i.fee_fen for i in build(250, 3, Pricing(FLAT_FEE, Decimal("0.002"))).installments] == [1, 1, 0]


# ------------------------------------------------------------------------------------------- the IRR


def test_periodic_irr_known_values() -> None:
    assert periodic_irr(100, [110]) == Decimal("0.1")
    assert periodic_irr(100, [0, 121]) == Decimal("0.1")
    assert periodic_irr(100, [50, 50]) == 0
    assert periodic_irr(MAX_PRINCIPAL_FEN, [MAX_PRINCIPAL_FEN + 1]) == Decimal("1E-9")  # 1 fen is not free
    tiny = periodic_irr(MAX_PRINCIPAL_FEN, [0] * 35 + [MAX_PRINCIPAL_FEN + 1])  # the smallest non-zero case
    assert Decimal("2E-11") < tiny < Decimal("3E-11") and abs(float(tiny) - 1e-9 / 36) < 1e-18
    assert periodic_irr(1000, [100, 100, 1100]) == Decimal("0.1")  # a bond at par
    assert periodic_irr(100, [10, 10, 10]) < 0  # returns less than lent: a negative rate
    assert abs(periodic_irr(100, [10, 10, 10]) - Decimal(str(npf.irr([100, -10, -10, -10])))) < Decimal("1E-12")
    for bad in ([], [-1, 200], [0, 0], [1.5]):
        with pytest.raises(ValueError):
            periodic_irr(100, bad)
    with pytest.raises(ValueError):
        periodic_irr(0, [100])


@given(principals, terms, pricings)
@MANY
def test_apr_matches_a_brute_force_float_irr(P: int, n: int, pricing: Pricing) -> None:
    plan = build(P, n, pricing)
    payments = [i.payment_fen for i in plan.installments]
    x = float_irr(P, payments)
    # Schedule.apr is IRR x 12 rounded to 6 decimals (error <= 5e-7); the float bisection is good to
    # ~1e-15. So 1e-6 holds, which is much tighter than the required 0.01 percentage point (1e-4).
    assert abs(float(plan.apr) - 12 * x) <= 1e-6
    assert abs(float(plan.effective_annual_rate) - ((1 + x) ** 12 - 1)) <= 1e-6
    assert abs(float(plan.periodic_irr) - x) <= 1e-12
    if plan.total_cost_fen == 0:
        assert plan.periodic_irr == 0 and plan.apr == 0


@given(principals, terms, pricings)
@SOME
def test_apr_matches_numpy_financial_irr(P: int, n: int, pricing: Pricing) -> None:
    plan = build(P, n, pricing)
    x = npf.irr([P] + [-i.payment_fen for i in plan.installments])
    assume(not math.isnan(x))  # npf.irr gives up on some flows with many zero payments (tiny principals)
    assert abs(float(plan.apr) - 12 * x) <= 1e-6


# ----------------------------------------------------------------------------- schedule properties


def check_invariants(plan: Schedule, P: int, n: int) -> None:
    inst = plan.installments
    assert len(inst) == n and [i.number for i in inst] == list(range(1, n + 1))
    assert sum(i.principal_fen for i in inst) == P
    assert inst[-1].balance_after_fen == 0
    before = P
    for i in inst:
        assert i.principal_fen >= 0 and i.interest_fen >= 0 and i.fee_fen >= 0
        assert i.balance_after_fen == before - i.principal_fen >= 0
        assert i.payment_fen == i.principal_fen + i.interest_fen + i.fee_fen
        before = i.balance_after_fen
    assert plan.total_cost_fen == sum(i.interest_fen + i.fee_fen for i in inst)
    assert plan.total_payment_fen == P + plan.total_cost_fen


@given(principals, any_periods, pricings)
@MANY
def test_schedule_follows_the_rules_exactly(P: int, n: int, pricing: Pricing) -> None:
    plan = build(P, n, pricing)
    check_invariants(plan, P, n)
    assert rows_of(plan) == reference_schedule(P, n, pricing.method, pricing.rate)


@given(principals, any_periods, fee_rates)
@MANY
def test_flat_fee_totals(P: int, n: int, f: Decimal) -> None:
    plan = build(P, n, Pricing(FLAT_FEE, f))
    with localcontext(Context(prec=60)):
        assert plan.total_cost_fen == ref_rhu(P * f * n)
        fee_each, part = ref_rhu(P * f), ref_rhu(Decimal(P) / n)
    if (n - 1) * fee_each <= plan.total_cost_fen and (n - 1) * part <= P:  # no cap needed (every non-tiny plan)
        assert all(i.fee_fen == fee_each and i.principal_fen == part for i in plan.installments[:-1])
    assert all(i.interest_fen == 0 for i in plan.installments)


@given(principals, any_periods, annual_rates)
@SOME
def test_equal_principal_parts(P: int, n: int, a: Decimal) -> None:
    plan = build(P, n, Pricing(EQUAL_PRINCIPAL, a))
    part = ref_rhu(Decimal(P) / n)
    if (n - 1) * part <= P:
        assert all(i.principal_fen == part for i in plan.installments[:-1])
    assert all(i.fee_fen == 0 for i in plan.installments)


def balance_drift_bound(r: float, k: int) -> float:
    """How far our balance before period k can be from the unrounded schedule's, in fen.

    With d_k = B_k - B*_k: d_1 = 0 and d_(k+1) = (1 + r) d_k + (A* - A) + e_k, where |A* - A| <= 1/2 (the
    level payment rounded) and |e_k| <= 1/2 (that period's interest rounded), so
    |d_k| <= sum_(j=0)^(k-2) (1 + r)^j. (Capping a tiny plan's principal only moves the balance towards
    the unrounded one, whose later balances are smaller.)
    """
    return sum((1 + r) ** j for j in range(k - 1))


@given(principals, any_periods, positive_annual_rates)
@MANY
def test_annuity_against_numpy_financial(P: int, n: int, a: Decimal) -> None:
    plan = build(P, n, Pricing(ANNUITY, a))
    r = float(a) / 12
    pmt = float(npf.pmt(r, n, -P))  # the unrounded level payment
    level = plan.installments[0].payment_fen  # period 1 is never capped: A <= round_half_up(P (1 + r))
    # A is pmt rounded half-up. numpy_financial works in float and computes (1 + r)^n - 1, which cancels:
    # it loses about eps / r of relative precision (0.5 fen at 2.1 million yuan and 0.0001 % a year), so
    # its figures are trusted to `slack` fen. Within that of a .5 tie the float cannot decide the
    # rounding; everywhere else A must be exactly floor(pmt + 0.5).
    slack = 1e-6 + (n + 2) * P * 2.3e-16 * (1 + 1 / r)
    assert abs(level - pmt) <= 0.5 + slack
    if abs(pmt - math.floor(pmt) - 0.5) > slack:
        assert level == math.floor(pmt + 0.5)
    # ... and exactly, against an exact Decimal evaluation of the same formula.
    assert level == reference_level(P, n, a)

    periods = np.arange(1, n + 1)
    ipmt = npf.ipmt(r, periods, n, -P)  # interest of each period of the unrounded schedule
    ppmt = npf.ppmt(r, periods, n, -P)
    exact_before = P - np.concatenate([[0.0], np.cumsum(ppmt)[:-1]])  # unrounded balance before each period
    our_before = [P] + [i.balance_after_fen for i in plan.installments[:-1]]
    for k, inst in enumerate(plan.installments, start=1):
        drift = balance_drift_bound(r, k)
        assert abs(our_before[k - 1] - exact_before[k - 1]) <= drift + slack
        # interest_k = round_half_up(B_k r), so |interest_k - B*_k r| <= r |d_k| + 1/2: at most ~3.4 fen
        # (r = 3 %, k = 36), 0.5 fen in period 1.
        assert abs(inst.interest_fen - ipmt[k - 1]) <= r * drift + 0.5 + slack
    # The last payment (the remaining balance and its interest) differs from A by at most (1 + r) |d_n| + 1.
    assert abs(plan.installments[-1].payment_fen - level) <= (1 + r) * balance_drift_bound(r, n) + 1


@given(principals, any_periods)
@SOME
def test_zero_rate_plans_cost_nothing(P: int, n: int) -> None:
    for method in schedule.METHODS:
        plan = build(P, n, Pricing(method, Decimal(0)))
        check_invariants(plan, P, n)
        assert plan.total_cost_fen == 0 and plan.periodic_irr == 0 and plan.apr == 0
        assert plan.effective_annual_rate == 0


@given(big_principals, terms, positive_annual_rates, st.sampled_from([ANNUITY, EQUAL_PRINCIPAL]))
@MANY
def test_interest_plans_cost_their_stated_rate(P: int, n: int, a: Decimal, method: str) -> None:
    # Unrounded, the IRR of an interest-on-the-balance schedule is exactly rate / 12. Rounding moves each
    # cash flow by a few fen at most, which moves the monthly IRR by about (a few fen) / P: below
    # 1e-5 a year from 10,000 yuan up.
    plan = build(P, n, Pricing(method, a))
    assert abs(plan.apr - a) <= Decimal("0.0001")


# --------------------------------------------------------------------------------------------- CLI


def invoke(*args: str):
    return CliRunner().invoke(credit, ["quote", *args])


@pytest.mark.parametrize(
    "args",
    [
        ["--fee-rate", "0.006"],
        ["--annual-rate", "0.12"],
        ["--annual-rate", "0.12", "--method", "annuity"],
        ["--annual-rate", "0.1825", "--method", "equal_principal"],
    ],
)
def test_quote_json(args: list[str]) -> None:
    result = invoke("--principal", "5999.00", "--periods", "12", *args, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    money = ("principal", "interest", "fee", "payment", "balance_after")
    for key in ("principal", "rate", "apr", "effective_annual_rate", "total_cost", "total_payment", "method"):
        assert isinstance(body[key], str)
    assert body["periods"] == 12 and len(body["schedule"]) == 12
    for row in body["schedule"]:
        assert all(isinstance(row[k], str) for k in money)
    assert sum(parse_yuan(row["principal"]) for row in body["schedule"]) == 599900
    assert body["schedule"][-1]["balance_after"] == "0.00"
    assert sum(parse_yuan(row["payment"]) for row in body["schedule"]) == parse_yuan(body["total_payment"])
    assert body["schedule"][0]["due_offset_months"] == 1


def test_quote_table() -> None:
    result = invoke("--principal", "5999", "--periods", "12", "--fee-rate", "0.006")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "| Period | Due (months) | Principal |    Fee | Payment | Balance |" in out
    assert "|     12 |          +12 |    499.88 |  36.04 |  535.92 |    0.00 |" in out
    assert "Total cost: 431.93 yuan" in out
    assert "APR (IRR x 12): 13.03%" in out and "effective annual rate: 13.84%" in out
    result = invoke("--principal", "5999.00", "--periods", "12", "--annual-rate", "0.12")
    assert result.exit_code == 0 and "Interest" in result.output and "APR (IRR x 12): 12.00%" in result.output


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--principal", "5999", "--periods", "12", "--fee-rate", "0.006", "--annual-rate", "0.12"], "exactly one"),
        (["--principal", "5999", "--periods", "12"], "exactly one"),
        (["--principal", "abc", "--periods", "12", "--fee-rate", "0.006"], "--principal"),
        (["--principal", "1.234", "--periods", "12", "--fee-rate", "0.006"], "more than 2 decimals"),
        (["--principal", "0", "--periods", "12", "--fee-rate", "0.006"], "more than 0"),
        (["--principal", "-5", "--periods", "12", "--fee-rate", "0.006"], "more than 0"),
        (["--principal", "5999", "--periods", "12", "--fee-rate", "-0.006"], "zero or more"),
        (["--principal", "5999", "--periods", "12", "--annual-rate", "-0.1"], "zero or more"),
        (["--principal", "5999", "--periods", "12", "--annual-rate", "nan"], "--annual-rate"),
        (["--principal", "5999", "--periods", "12", "--fee-rate", "inf"], "--fee-rate"),
        (["--principal", "5999", "--periods", "12", "--fee-rate", "6e-3"], "--fee-rate"),
        (["--principal", "5999", "--periods", "12", "--fee-rate", "0.006", "--method", "annuity"], "--method"),
        (["--principal", "5999", "--periods", "12", "--annual-rate", "0.12", "--method", "flat_fee"], "--method"),
        (["--principal", "5999", "--periods", "0", "--fee-rate", "0.006"], "--periods"),
        (["--principal", "5999", "--periods", "twelve", "--fee-rate", "0.006"], "--periods"),
        (["--principal", "5999", "--periods", "100000", "--fee-rate", "0.006"], "--periods"),
        (["--periods", "12", "--fee-rate", "0.006"], "--principal"),
        (["--principal", "5999", "--fee-rate", "0.006"], "--periods"),
    ],
)
def test_quote_bad_input(args: list[str], fragment: str) -> None:
    result = invoke(*args, "--json")
    assert result.exit_code == 2, result.output
    body = json.loads(result.output)
    assert body["code"] == "invalid_argument" and fragment in body["message"]
    assert "Traceback" not in result.output
    plain = invoke(*args)
    assert plain.exit_code == 2 and "error [invalid_argument]" in plain.output and "Traceback" not in plain.output
