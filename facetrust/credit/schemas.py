"""Request and response shapes of the credit API. Money is integer fen; rates are decimal strings
(``apr`` is the annualised rate of the actual cash flows, IRR x 12, as a fraction)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from facetrust.payments.schemas import MAX_AMOUNT_FEN, Key

LivenessId = Field(
    min_length=1, max_length=32, description="a passed liveness session for this purpose, made moments before"
)


class CreditLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    limit_fen: int = Field(ge=0, le=MAX_AMOUNT_FEN)
    reason: str | None = Field(default=None, max_length=256)


class CreditLineOut(BaseModel):
    limit_fen: int
    used_fen: int
    available_fen: int
    status: str


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # exact JSON types: no true as 1, "100" or 100.0
        json_schema_extra={
            "examples": [
                {
                    "merchant_id": "3c1f0e9a8b7d6c5e4f3a2b1c0d9e8f7a",
                    "merchant_order_id": "MI-20261207-77",
                    "amount_fen": 599900,
                    "category": "electronics",
                    "description": "Xiaomi 15, 12+256 GB",
                }
            ]
        },
    )

    merchant_id: str = Field(min_length=1, max_length=32)
    merchant_order_id: str = Field(min_length=1, max_length=64)
    amount_fen: int = Field(gt=0, le=MAX_AMOUNT_FEN)
    category: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    description: str | None = Field(default=None, max_length=128)
    shipping_address: str | None = Field(
        default=None, max_length=256, description="kept only as a hash, for the risk engine's distinct counts"
    )


class Offer(BaseModel):
    product_id: str
    product_name: str
    product_name_zh: str
    method: str
    rate: str
    periods: int
    apr: str
    first_payment_fen: int
    total_cost_fen: int
    total_payment_fen: int


class CheckoutOut(BaseModel):
    checkout_id: str
    merchant_id: str
    merchant_name: str
    merchant_order_id: str
    amount_fen: int
    category: str
    description: str | None
    status: str
    plan_id: str | None
    expires_at: dt.datetime
    offers: list[Offer]


class ScheduleLine(BaseModel):
    number: int
    due_date: dt.date
    principal_fen: int
    interest_fen: int
    fee_fen: int
    payment_fen: int
    balance_after_fen: int


class QuoteOut(BaseModel):
    product_id: str
    method: str
    rate: str
    principal_fen: int
    periods: int
    apr: str = Field(description="annualised by IRR over the actual cash flows (IRR per month x 12)")
    effective_annual_rate: str
    total_cost_fen: int
    total_payment_fen: int
    schedule: list[ScheduleLine]


class ConfirmCheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    product_id: str = Field(min_length=1, max_length=48)
    periods: int = Field(gt=0, le=60)
    liveness_session_id: str = LivenessId


class LoanIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # exact JSON types: no true as 1, "100" or 100.0
        json_schema_extra={
            "examples": [
                {
                    "product_id": "cash-loan",
                    "amount_fen": 500000,
                    "periods": 12,
                    "liveness_session_id": "9f0c3a6e2b7d4e1f8a5c6b7d8e9f0a1b",
                    "idempotency_key": "loan-2026-12-07-1",
                }
            ]
        },
    )

    product_id: str = Field(min_length=1, max_length=48)
    amount_fen: int = Field(gt=0, le=MAX_AMOUNT_FEN)
    periods: int = Field(gt=0, le=60)
    liveness_session_id: str = LivenessId
    idempotency_key: str = Key


class InstallmentOut(BaseModel):
    number: int
    due_date: dt.date
    principal_fen: int
    interest_fen: int
    fee_fen: int
    penalty_fen: int = Field(description="accrued today if unpaid and overdue; what was paid if paid")
    amount_fen: int
    status: Literal["paid", "settled_early", "cancelled", "overdue", "due", "upcoming"]
    days_overdue: int
    paid_at: dt.datetime | None


class RepaymentOut(BaseModel):
    repayment_id: str
    kind: str
    amount_fen: int
    principal_fen: int
    interest_fen: int
    fee_fen: int
    penalty_fen: int
    on_date: dt.date
    transaction_id: str
    created_at: dt.datetime


class ReturnOut(BaseModel):
    """A merchant's return of goods bought on installments, and how it unwound the plan."""

    return_id: str
    merchant_return_id: str
    amount_fen: int = Field(description="the goods' value returned")
    full: bool = Field(description="everything still kept was returned")
    principal_cancelled_fen: int = Field(description="principal no longer owed, back to the credit line")
    principal_refunded_fen: int = Field(description="principal already repaid, back to the wallet")
    fee_cancelled_fen: int
    interest_cancelled_fen: int
    fee_refunded_fen: int
    interest_refunded_fen: int
    wallet_fen: int = Field(description="what went back to the wallet")
    created_at: dt.datetime


class FaceCheckOut(BaseModel):
    liveness_session_id: str
    score: float
    threshold: float
    model_id: str
    calibration_id: str


class PlanOut(BaseModel):
    plan_id: str
    kind: str
    product_id: str
    method: str
    rate: str
    principal_fen: int
    periods: int
    apr: str
    start_date: dt.date
    status: str = Field(description="active, paid_off, or returned (the merchant took all the goods back)")
    outstanding_principal_fen: int
    returned_fen: int = Field(default=0, description="the goods' value the merchant took back")
    merchant_id: str | None
    checkout_id: str | None
    created_at: dt.datetime
    next_payment: InstallmentOut | None = Field(description="the oldest unpaid installment, with its amount today")
    installments: list[InstallmentOut]
    repayments: list[RepaymentOut]
    returns: list[ReturnOut] = Field(default_factory=list)
    face_check: FaceCheckOut | None = Field(default=None, description="operators only")


class CreditOut(BaseModel):
    line: CreditLineOut | None
    plans: list[PlanOut]


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    kind: Literal["installment", "payoff", "partial"]
    amount_fen: int | None = Field(
        default=None, gt=0, le=MAX_AMOUNT_FEN, description="partial only: principal to prepay"
    )
    idempotency_key: str = Key


class SettlementOut(BaseModel):
    kind: str
    on_date: dt.date
    amount_fen: int
    principal_fen: int
    interest_fen: int
    fee_fen: int
    penalty_fen: int


class RepaymentMade(BaseModel):
    repayment: RepaymentOut
    plan: PlanOut
    wallet_balance_fen: int


class ProductOut(BaseModel):
    product_id: str
    kind: str
    name: str
    name_zh: str
    method: str
    rate: str
    periods: list[int]
    categories: list[str] | None
    min_principal_fen: int
    max_principal_fen: int
    penalty_daily_rate: str
    prepayment: str


class CreditReturnIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # exact JSON types: no true as 1, "100" or 100.0
        json_schema_extra={"examples": [{"return_id": "RMA-20261207-12", "amount_fen": 199900}]},
    )

    return_id: str = Key
    amount_fen: int = Field(
        gt=0, le=MAX_AMOUNT_FEN, description="the goods' value taken back; the whole order's for a full return"
    )


class CreditReturnMade(BaseModel):
    """What the merchant learns: the return and where the order stands, never the buyer's plan."""

    return_id: str
    checkout_id: str
    merchant_order_id: str
    amount_fen: int
    full: bool
    returned_fen: int = Field(description="the order's value returned so far, this return included")
    returnable_fen: int = Field(description="what is left of the order to return")
    transaction_id: str
    created_at: dt.datetime
