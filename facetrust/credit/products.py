"""Credit products: how each installment or loan offer is priced, read from one configuration file.

A product fixes the pricing model (a fee per period on the original principal, or interest on the
outstanding balance with equal installments or equal principal), the terms it is offered in, what
an early repayment owes, what a merchant's return of the goods gives back of the cost (installment
products: ``returns``, see ``RETURN_RULES`` and ``credit/unwind.py``), and the overdue penalty
rate. The loader refuses a catalogue whose penalty rate is above the configured ceiling, or whose annualised cost (IRR x 12) is above the configured
APR ceiling for any term it offers: a mistyped rate never reaches a borrower.

A plan keeps a copy of its product's terms, so changing the catalogue never changes a running plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from facetrust.credit import schedule

DEFAULT_CATALOGUE = Path(__file__).with_name("products.json")
TERMS = (3, 6, 12, 24)

# What an early repayment owes besides the principal (the product says which applies):
WAIVE_FEES = "waive_fees_not_yet_due"  # fee products: fees of periods not yet due are not charged
CURRENT_PERIOD_FEE = "charge_current_period_fee"  # ... except the fee of the period in progress
ALL_FEES = "charge_all_fees"  # ... every fee of the plan stays owed
ACCRUED_INTEREST = "accrued_interest"  # interest products: interest by day up to the repayment day
FEE_RULES = (WAIVE_FEES, CURRENT_PERIOD_FEE, ALL_FEES)

# What a merchant's return of goods bought on installments gives back of the plan's cost (fees or
# interest), besides the principal (``credit/unwind.py`` works it out to the fen). The returned
# share is the amount returned over the goods' value still kept before the return; either way the
# cost of the installments not yet paid goes down by that share, so the person never pays future
# cost for goods they no longer have:
REFUND_COST = "refund_cost_pro_rata"  # ... and that share of the cost already paid comes back too
KEEP_PAID_COST = "keep_paid_cost"  # ... but the cost already paid stays paid (the credit was used)
RETURN_RULES = (REFUND_COST, KEEP_PAID_COST)
DEFAULT_RETURN_RULE = REFUND_COST  # an installment product (or a plan's terms) that names none


class ProductConfigError(ValueError):
    """The catalogue is malformed or breaks a ceiling; the message lists every problem."""


class Product(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,47}$")
    kind: Literal["installment", "loan"]
    name: str = Field(min_length=1, max_length=128)
    name_zh: str = Field(min_length=1, max_length=128)  # what the pages show Chinese readers
    method: Literal["flat_fee", "annuity", "equal_principal"]
    # flat_fee: the fee per period as a fraction of the original principal; else the annual rate.
    rate: Decimal = Field(ge=0, le=1)
    periods: tuple[int, ...] = Field(min_length=1)
    categories: tuple[str, ...] | None = None  # installment products: the item categories; None: any
    min_principal_fen: int = Field(gt=0)
    max_principal_fen: int = Field(gt=0)
    penalty_daily_rate: Decimal = Field(ge=0)  # per day, on overdue principal
    prepayment: Literal["waive_fees_not_yet_due", "charge_current_period_fee", "charge_all_fees", "accrued_interest"]
    # installment products: what a return gives back of the cost (RETURN_RULES); loans are not returned
    returns: Literal["refund_cost_pro_rata", "keep_paid_cost"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        if any(n not in TERMS for n in self.periods) or len(set(self.periods)) != len(self.periods):
            raise ValueError(f"periods must be distinct values from {TERMS}")
        if self.min_principal_fen > self.max_principal_fen:
            raise ValueError("min_principal_fen is above max_principal_fen")
        if self.method == schedule.FLAT_FEE and self.prepayment not in FEE_RULES:
            raise ValueError(f"a fee product's prepayment rule is one of {FEE_RULES}")
        if self.method != schedule.FLAT_FEE and self.prepayment != ACCRUED_INTEREST:
            raise ValueError(f"an interest product's prepayment rule is {ACCRUED_INTEREST!r}")
        if self.kind == "loan" and self.categories is not None:
            raise ValueError("a loan product has no item categories")
        if self.kind == "loan" and self.returns is not None:
            raise ValueError("a loan product has no return rule: only goods bought on installments are returned")
        return self

    @property
    def return_rule(self) -> str:
        return self.returns or DEFAULT_RETURN_RULE

    @property
    def pricing(self) -> schedule.Pricing:
        return schedule.Pricing(self.method, self.rate)

    def terms(self) -> dict:
        """What a plan keeps of its product (JSON-ready)."""
        return json.loads(self.model_dump_json())


@dataclass(frozen=True)
class Catalogue:
    products: dict[str, Product]

    def get(self, product_id: str, kind: str) -> Product:
        from facetrust.errorcodes import ErrorCode
        from facetrust.errors import DomainError

        product = self.products.get(product_id)
        if product is None or product.kind != kind:
            raise DomainError(ErrorCode.PRODUCT_NOT_FOUND, f"no such {kind} product")  # never echo input
        return product

    def for_checkout(self, category: str, amount_fen: int) -> list[Product]:
        return [
            p
            for p in self.products.values()
            if p.kind == "installment"
            and (p.categories is None or category in p.categories)
            and p.min_principal_fen <= amount_fen <= p.max_principal_fen
        ]


def load(path: Path | None, penalty_ceiling: Decimal, apr_ceiling: Decimal) -> Catalogue:
    """Read and check the catalogue; ProductConfigError names every problem at once."""
    path = path or DEFAULT_CATALOGUE
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))["products"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProductConfigError(f"cannot read the credit product catalogue {path}: {exc}") from None
    problems: list[str] = []
    products: dict[str, Product] = {}
    for i, item in enumerate(raw):
        try:
            product = Product.model_validate(item)
        except ValidationError as exc:
            problems += [f"product {i}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            continue
        if product.id in products:
            problems.append(f"product {product.id}: defined twice")
        if product.penalty_daily_rate > penalty_ceiling:
            problems.append(
                f"product {product.id}: penalty_daily_rate {product.penalty_daily_rate} is above "
                f"the ceiling {penalty_ceiling}"
            )
        for n in product.periods:
            apr = schedule.build(product.max_principal_fen, n, product.pricing).apr
            if apr > apr_ceiling:
                problems.append(
                    f"product {product.id}: the APR over {n} periods is {apr}, above the ceiling {apr_ceiling}"
                )
        products[product.id] = product
    if problems:
        raise ProductConfigError("; ".join(problems))
    return Catalogue(products)
