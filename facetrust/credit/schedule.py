"""Exact repayment schedules for installment plans and loans, and their annualised cost.

Three pricing methods:

- ``flat_fee`` (the usual consumer-installment convention in China): a fee each period of ``rate`` times
  the *original* principal P, and the principal repaid in equal parts. No interest.
- ``annuity``: equal installments; interest each period on the outstanding balance at ``rate / 12``.
- ``equal_principal``: the principal repaid in equal parts; interest as for ``annuity``.

Every per-period amount is worked out exactly (as a rational number built from the integer fen and the
``Decimal`` rate, so no precision limit is involved anywhere) and then rounded half-up to whole fen,
once. Exact .5 ties do occur and are rounded up: 100.50 yuan over 2 periods at 12 % has a level
payment of exactly 5100.5 fen, which a 34-digit Decimal evaluation sees as 5100.4999... and rounds
down. The rounding remainders go to the last period, so the principal parts always sum to P exactly
and the fees of a flat-fee plan always sum to ``round_half_up(P * rate * n)``:

- principal (``flat_fee``, ``equal_principal``): ``round_half_up(P / n)`` each period, the last
  period takes what is left;
- fee (``flat_fee``): ``round_half_up(P * rate)`` each period, the last period takes
  ``round_half_up(P * rate * n)`` minus the fees before it;
- interest (``annuity``, ``equal_principal``): ``round_half_up(balance_before * rate / 12)``;
- level payment (``annuity``): ``A = round_half_up(P * r / (1 - (1 + r) ** -n))`` with ``r = rate / 12``
  (for ``r == 0`` the principal is split as for ``equal_principal``); each period's principal is
  ``A`` minus its interest, and the last period takes the remaining balance plus its interest.

For tiny principals the equal parts above can run past what is owed (15 fen over 10 periods: 2 fen a
period would be 18 fen; 0.25 yuan at a 2 % fee over 24 periods: 1 fen a period would be 24 fen of a
total fee of 12 fen). A part is therefore capped at what is still owed (the remaining balance, the
remaining total fee), so no amount and no balance is ever negative; for any principal where the
plain rule stays within the total (every realistic one) the cap changes nothing.

The annualised cost is the internal rate of return of the borrower's cash flows (+P at month 0,
-payment_k at month k): ``apr`` is that monthly IRR times 12 (the PBoC convention for quoting an
annualised rate), ``effective_annual_rate`` compounds it, ``(1 + irr) ** 12 - 1``. Rates are not
money, but they are kept as ``Decimal`` so that they are reported exactly and reproducibly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from functools import cached_property

FLAT_FEE, ANNUITY, EQUAL_PRINCIPAL = "flat_fee", "annuity", "equal_principal"
METHODS = (FLAT_FEE, ANNUITY, EQUAL_PRINCIPAL)
PERIODS_PER_YEAR = 12

RATE_QUANTUM = Decimal("0.000001")  # apr and effective_annual_rate are reported to 6 decimals (0.0001 pp)
IRR_QUANTUM = Decimal("1E-18")  # periodic_irr is solved well beyond this, then rounded to it
_IRR_ZERO = Decimal("1E-12")  # |irr| below this is reported as exactly 0
_PREC = 50  # decimal digits for the IRR and the reported rates

_YUAN_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


# ----------------------------------------------------------------------------------- money helpers


def round_half_up(amount: Decimal) -> int:
    """Decimal fen to whole fen, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(f"round_half_up takes a Decimal amount of fen, not {type(amount).__name__}")
    if isinstance(amount, int):
        return amount
    if not amount.is_finite():
        raise ValueError(f"cannot round {amount} to whole fen")
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def _rhu(q: Fraction) -> int:
    """An exact rational amount of fen to whole fen, halves away from zero."""
    num, den = q.numerator, q.denominator  # den > 0
    if num >= 0:
        return (2 * num + den) // (2 * den)
    return -((-2 * num + den) // (2 * den))


def yuan(fen: int) -> str:
    """Whole fen as a yuan amount with two decimals: 599900 -> "5999.00", -5 -> "-0.05"."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"yuan takes an int number of fen, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def parse_yuan(text: str) -> int:
    """A yuan amount written in plain decimal notation ("5999.00", "5999", "0.5", "-3.10") to whole fen.

    Refused with ValueError: anything that is not a plain decimal number (exponents, "nan", "inf",
    digit separators, empty text) and any amount that is not a whole number of fen ("1.234"; "1.230"
    is accepted, it is 123 fen exactly). Nothing is ever rounded.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_yuan takes a str, not {type(text).__name__}")
    s = text.strip()
    if not _YUAN_RE.fullmatch(s):
        raise ValueError(f"{text!r} is not an amount in yuan (write it like 5999.00)")
    try:
        value = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the pattern only lets decimal numbers through
        raise ValueError(f"{text!r} is not an amount in yuan (write it like 5999.00)") from None
    fen = value.scaleb(2)
    if fen != fen.to_integral_value():
        raise ValueError(f"{text!r} has more than 2 decimals: amounts are whole fen (0.01 yuan)")
    return int(fen)


# ----------------------------------------------------------------------------------------- pricing


@dataclass(frozen=True)
class Pricing:
    """How a plan is priced.

    ``rate``: for ``flat_fee`` the fee per period as a fraction of the original principal (0.006 is
    0.6 % a period); for ``annuity`` and ``equal_principal`` the annual interest rate (0.12 is 12 % a
    year, 1 % a month).
    """

    method: str
    rate: Decimal

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown pricing method {self.method!r}: one of {', '.join(METHODS)}")
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, (Decimal, int)):
            raise TypeError(f"a rate is a Decimal, not {type(rate).__name__}")
        rate = Decimal(rate)
        if not rate.is_finite():
            raise ValueError(f"a rate must be a finite number, not {rate}")
        if rate < 0:
            raise ValueError(f"a rate must be zero or more, not {rate}")
        object.__setattr__(self, "rate", rate)

    @property
    def periodic_rate(self) -> Decimal:
        """The rate per period: the fee rate itself for ``flat_fee``, else the annual rate / 12."""
        if self.method == FLAT_FEE:
            return self.rate
        with localcontext(Context(prec=_PREC)):
            return self.rate / PERIODS_PER_YEAR

    @property
    def _periodic_fraction(self) -> Fraction:
        rate = Fraction(self.rate)
        return rate if self.method == FLAT_FEE else rate / PERIODS_PER_YEAR


# -------------------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Installment:
    number: int  # 1-based; due `number` months after the start date
    principal_fen: int
    interest_fen: int  # 0 for flat_fee
    fee_fen: int  # 0 for the interest methods
    balance_after_fen: int  # principal still owed after this installment

    @property
    def payment_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen


@dataclass(frozen=True)
class Schedule:
    principal_fen: int
    pricing: Pricing
    installments: tuple[Installment, ...]

    def __post_init__(self) -> None:
        # The invariants are checked, not hoped for: a schedule that breaks one is never built.
        balance = self.principal_fen
        for k, inst in enumerate(self.installments, start=1):
            if inst.number != k:
                raise ValueError(f"installment {k} is numbered {inst.number}")
            if min(inst.principal_fen, inst.interest_fen, inst.fee_fen) < 0:
                raise ValueError(f"installment {k} has a negative amount")
            balance -= inst.principal_fen
            if inst.balance_after_fen != balance or balance < 0:
                raise ValueError(f"installment {k}: balance after is {inst.balance_after_fen}, expected {balance}")
        if not self.installments or balance != 0:
            raise ValueError("the installments do not repay the principal exactly")

    @property
    def total_cost_fen(self) -> int:
        return sum(i.interest_fen + i.fee_fen for i in self.installments)

    @property
    def total_payment_fen(self) -> int:
        return sum(i.payment_fen for i in self.installments)

    @cached_property
    def periodic_irr(self) -> Decimal:
        """The monthly internal rate of return of the borrower's cash flows."""
        return periodic_irr(self.principal_fen, [i.payment_fen for i in self.installments])

    @property
    def apr(self) -> Decimal:
        """IRR per month x 12, to 6 decimals, half-up (0.129876 is 12.9876 %)."""
        with localcontext(Context(prec=_PREC)):
            return (self.periodic_irr * PERIODS_PER_YEAR).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)

    @property
    def effective_annual_rate(self) -> Decimal:
        """(1 + IRR per month) ** 12 - 1, to 6 decimals, half-up."""
        with localcontext(Context(prec=_PREC)):
            ear = (1 + self.periodic_irr) ** PERIODS_PER_YEAR - 1
            return ear.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)

    def as_dict(self) -> dict:
        """JSON-ready: money as yuan strings with two decimals, rates as decimal strings."""
        return {
            "principal": yuan(self.principal_fen),
            "periods": len(self.installments),
            "method": self.pricing.method,
            "rate": _rate_str(self.pricing.rate),
            "schedule": [
                {
                    "period": i.number,
                    "due_offset_months": i.number,
                    "principal": yuan(i.principal_fen),
                    "interest": yuan(i.interest_fen),
                    "fee": yuan(i.fee_fen),
                    "payment": yuan(i.payment_fen),
                    "balance_after": yuan(i.balance_after_fen),
                }
                for i in self.installments
            ],
            "apr": _rate_str(self.apr, keep_places=True),
            "effective_annual_rate": _rate_str(self.effective_annual_rate, keep_places=True),
            "total_cost": yuan(self.total_cost_fen),
            "total_payment": yuan(self.total_payment_fen),
        }


def _rate_str(rate: Decimal, keep_places: bool = False) -> str:
    """ "0.006" for Decimal("0.0060"), "0" for 0; with keep_places the quantized form as it is."""
    if keep_places:
        return format(rate, "f")
    return format(rate.normalize(), "f")


def build(principal_fen: int, periods: int, pricing: Pricing) -> Schedule:
    """The repayment schedule of ``principal_fen`` over ``periods`` monthly installments."""
    if isinstance(principal_fen, bool) or not isinstance(principal_fen, int) or principal_fen <= 0:
        raise ValueError(f"the principal must be a positive whole number of fen, not {principal_fen!r}")
    if isinstance(periods, bool) or not isinstance(periods, int) or periods <= 0:
        raise ValueError(f"the number of periods must be a positive whole number, not {periods!r}")
    if not isinstance(pricing, Pricing):
        raise TypeError(f"pricing must be a Pricing, not {type(pricing).__name__}")

    P, n = principal_fen, periods
    r = pricing._periodic_fraction
    rows: list[Installment] = []
    balance = P

    if pricing.method == FLAT_FEE:
        part = _rhu(Fraction(P, n))
        total_fee = _rhu(P * r * n)
        fee_part = _rhu(P * r)
        fees_left = total_fee
        for k in range(1, n + 1):
            principal = balance if k == n else min(part, balance)
            fee = fees_left if k == n else min(fee_part, fees_left)
            balance -= principal
            fees_left -= fee
            rows.append(Installment(k, principal, 0, fee, balance))
        return Schedule(P, pricing, tuple(rows))

    if pricing.method == ANNUITY and r > 0:
        growth = (1 + r) ** n
        level = _rhu(P * r * growth / (growth - 1))  # = P r / (1 - (1 + r) ** -n), exactly
        for k in range(1, n + 1):
            interest = _rhu(balance * r)
            principal = balance if k == n else min(max(level - interest, 0), balance)
            balance -= principal
            rows.append(Installment(k, principal, interest, 0, balance))
        return Schedule(P, pricing, tuple(rows))

    # equal_principal, and annuity at a zero rate (equal parts, no interest)
    part = _rhu(Fraction(P, n))
    for k in range(1, n + 1):
        interest = _rhu(balance * r)
        principal = balance if k == n else min(part, balance)
        balance -= principal
        rows.append(Installment(k, principal, interest, 0, balance))
    return Schedule(P, pricing, tuple(rows))


# -------------------------------------------------------------------------------------------- IRR


def periodic_irr(principal_fen: int, payments_fen: list[int]) -> Decimal:
    """The rate x per period with ``sum(payment_k / (1 + x) ** k for k = 1..n) == principal``.

    Solved in 50-digit Decimal arithmetic for v = 1 / (1 + x), where the present value
    g(v) = sum(payment_k * v ** k) is increasing and convex for v > 0: Newton's method started at a
    point where g(v) > principal never overshoots; a step that would be slow or leave the bracket is
    replaced by a bisection step, so it also converges for absurd rates. The result is accurate far
    beyond 1e-12 and is rounded to 18 decimals; a rate below 1e-12 in size is exactly 0 (for whole-fen
    payments on at most 10,000,000 yuan over at most 36 periods, only a zero-cost plan's rate is).
    """
    if isinstance(principal_fen, bool) or not isinstance(principal_fen, int) or principal_fen <= 0:
        raise ValueError(f"the principal must be a positive whole number of fen, not {principal_fen!r}")
    payments = list(payments_fen)
    if not payments:
        raise ValueError("an IRR needs at least one payment")
    for p in payments:
        if isinstance(p, bool) or not isinstance(p, int) or p < 0:
            raise ValueError(f"payments must be whole fen, zero or more, not {p!r}")
    total = sum(payments)
    if total == 0:
        raise ValueError("the payments are all zero: there is no rate of return")
    if total == principal_fen:
        return Decimal(0)

    with localcontext(Context(prec=_PREC)):
        target = Decimal(principal_fen)
        coeffs = [Decimal(p) for p in reversed(payments)]  # highest power first

        def g_and_slope(v: Decimal) -> tuple[Decimal, Decimal]:
            # Horner for g(v) = sum p_k v^k = v * h(v), h(v) = sum p_k v^(k-1); g' = h + v h'.
            h = dh = Decimal(0)
            for c in coeffs:
                dh = dh * v + h
                h = h * v + c
            return v * h - target, h + v * dh

        # Bracket [lo, hi] with g(lo) < 0 < g(hi), in v.
        if total > principal_fen:  # positive cost: 0 < v < 1
            lo, hi = Decimal(0), Decimal(1)
        else:  # the payments return less than the principal: v > 1
            lo, hi = Decimal(1), Decimal(2)
            while g_and_slope(hi)[0] <= 0:
                lo, hi = hi, hi * 2
        # Newton with a bisection safeguard (Numerical Recipes' rtsafe): a Newton step that would leave
        # the bracket, or that is not shrinking fast enough, is replaced by halving the bracket.
        tolerance = Decimal("1E-30")
        v = hi
        gv, slope = g_and_slope(v)
        step_old = step = hi - lo
        for _ in range(1000):
            newton_ok = slope > 0 and lo < v - gv / slope < hi and abs(2 * gv) <= abs(step_old * slope)
            step_old = step
            if newton_ok:
                step = gv / slope
                v = v - step
            else:
                step = (hi - lo) / 2
                v = lo + step
            if abs(step) <= tolerance:
                break
            gv, slope = g_and_slope(v)
            if gv == 0:
                break
            if gv > 0:
                hi = v
            else:
                lo = v
        else:  # pragma: no cover - bisection alone gets there in ~110 halvings
            raise ArithmeticError("the IRR did not converge")
        x = 1 / v - 1
        if abs(x) < _IRR_ZERO:
            return Decimal(0)
        return x.quantize(IRR_QUANTUM) if x.adjusted() < 20 else x
