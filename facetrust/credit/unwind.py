"""How a merchant's return of goods bought on installments unwinds the plan, worked out to the fen.

Pure arithmetic on integer fen and exact fractions (no database, no rounding but the one stated),
so the property tests can try it on any plan; ``credit/returns.py`` reads the plan, calls
``unwind`` and writes the result.

Words used below: ``P`` the plan's principal (the goods' price); ``B`` the goods' value the person
still kept before this return (``P`` less what earlier returns took back); ``R`` the amount returned
now (``0 < R <= B``; ``R == B`` is a full return); ``O`` the principal still owed on the unpaid
installments; ``k = (B - R) / B`` the share of the kept goods the person keeps after the return.

The rule:

1. Principal. The return first cancels principal still owed: ``C = min(R, O)`` comes off the
   outstanding principal (and goes back to the credit line); the rest, ``E = R - C``, is principal
   the person already repaid for goods they no longer have, and goes back to their wallet. The
   principal left, ``O - C``, is spread over the unpaid installments in proportion to what each
   still carried, largest remainders first (ties to the earlier installment), so it sums exactly.
2. The cost of the unpaid installments (their fees, or their interest) is multiplied by ``k``: the
   new total is ``round_half_up(total * k)``, spread the same way. So the person pays no future
   cost for goods they returned. When nothing is left owed (``O - C == 0``, always so for a full
   return) every unpaid installment is cancelled, cost included.
3. The cost already paid, by the product's rule (``products.RETURN_RULES``):
   ``refund_cost_pro_rata`` gives back ``round_half_up(paid * R / B)`` of the fees and, apart, of the
   interest paid on this plan (net of what earlier returns gave back): all of it on a full return;
   ``keep_paid_cost`` gives back none of it (interest for money that was lent and used).
4. Penalties already paid for lateness are never given back; penalty not yet paid on an overdue
   installment is computed, as always, on that installment's principal, now the reduced one.

Over several partial returns the shares compose exactly (``k1 * k2 * ... = (P - returned) / P``),
so after returns of everything the plan costs nothing under ``refund_cost_pro_rata``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from facetrust.credit import products


@dataclass(frozen=True)
class Row:
    """An unpaid installment, before or after the return."""

    number: int
    principal_fen: int
    interest_fen: int
    fee_fen: int

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen


@dataclass(frozen=True)
class Unwinding:
    """What one return does to a plan; ``rows`` are the unpaid installments after it, in the same
    order, a row of all zeros being cancelled."""

    amount_fen: int
    full: bool
    principal_cancelled_fen: int  # C: off the outstanding principal, back to the credit line
    principal_refunded_fen: int  # E: repaid principal back to the wallet
    fee_cancelled_fen: int  # off the unpaid installments' fees
    interest_cancelled_fen: int  # off the unpaid installments' interest
    fee_refunded_fen: int  # paid fees back to the wallet
    interest_refunded_fen: int  # paid interest back to the wallet
    rows: tuple[Row, ...]

    @property
    def wallet_fen(self) -> int:
        return self.principal_refunded_fen + self.fee_refunded_fen + self.interest_refunded_fen

    @property
    def cancelled(self) -> list[int]:
        return [row.number for row in self.rows if row.amount_fen == 0]

    def as_dict(self) -> dict:
        return {
            "amount_fen": self.amount_fen,
            "full": self.full,
            "principal_cancelled_fen": self.principal_cancelled_fen,
            "principal_refunded_fen": self.principal_refunded_fen,
            "fee_cancelled_fen": self.fee_cancelled_fen,
            "interest_cancelled_fen": self.interest_cancelled_fen,
            "fee_refunded_fen": self.fee_refunded_fen,
            "interest_refunded_fen": self.interest_refunded_fen,
            "wallet_fen": self.wallet_fen,
        }


def round_half_up(q: Fraction) -> int:
    """A non-negative exact amount of fen to whole fen, halves up."""
    if q < 0:
        raise ValueError(f"a negative amount {q} has no place in a return")
    return (2 * q.numerator + q.denominator) // (2 * q.denominator)


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` fen in proportion to ``weights``, largest remainders first (ties to the earlier);
    the parts sum to ``total`` exactly and none is negative."""
    whole = sum(weights)
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("spread takes non-negative amounts")
    if whole == 0:
        if total:
            raise ValueError(f"cannot spread {total} fen over nothing")
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def unwind(
    principal_fen: int,
    returned_before_fen: int,
    amount_fen: int,
    unpaid: Sequence[Row],
    fee_paid_fen: int,
    interest_paid_fen: int,
    rule: str,
) -> Unwinding:
    """The return of ``amount_fen`` of a plan (see the module docstring). ``fee_paid_fen`` and
    ``interest_paid_fen``: the cost the person paid on this plan, less what earlier returns gave
    back. ValueError for input no plan can have; the service refuses a wrong request before this."""
    if rule not in products.RETURN_RULES:
        raise ValueError(f"unknown return rule {rule!r}")
    kept = principal_fen - returned_before_fen  # B
    if not 0 < amount_fen <= kept:
        raise ValueError(f"a return is 1 to {kept} fen, not {amount_fen}")
    owed = sum(row.principal_fen for row in unpaid)  # O
    amounts = [
        fee_paid_fen,
        interest_paid_fen,
        *(x for r in unpaid for x in (r.principal_fen, r.interest_fen, r.fee_fen)),
    ]
    if owed > kept or min(amounts) < 0:
        raise ValueError("the plan's figures are inconsistent")
    cancelled = min(amount_fen, owed)  # C
    refunded = amount_fen - cancelled  # E
    left = owed - cancelled
    keep = Fraction(kept - amount_fen, kept)  # k
    fees = [row.fee_fen for row in unpaid]
    interest = [row.interest_fen for row in unpaid]
    if left == 0:
        principal_after, fees_after, interest_after = [0] * len(unpaid), [0] * len(unpaid), [0] * len(unpaid)
    else:
        principal_after = spread(left, [row.principal_fen for row in unpaid])
        fees_after = spread(round_half_up(sum(fees) * keep), fees)
        interest_after = spread(round_half_up(sum(interest) * keep), interest)
    returned_share = 1 - keep  # R / B
    refund_cost = rule == products.REFUND_COST
    return Unwinding(
        amount_fen=amount_fen,
        full=amount_fen == kept,
        principal_cancelled_fen=cancelled,
        principal_refunded_fen=refunded,
        fee_cancelled_fen=sum(fees) - sum(fees_after),
        interest_cancelled_fen=sum(interest) - sum(interest_after),
        fee_refunded_fen=round_half_up(fee_paid_fen * returned_share) if refund_cost else 0,
        interest_refunded_fen=round_half_up(interest_paid_fen * returned_share) if refund_cost else 0,
        rows=tuple(
            Row(row.number, p, i, f)
            for row, p, i, f in zip(unpaid, principal_after, interest_after, fees_after, strict=True)
        ),
    )
