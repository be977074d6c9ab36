"""Request and response shapes of the face-pay API.

What a terminal may read is exactly ``TerminalPaymentOut``: its own order's status, amount, a
transaction id and the payer's masked name. No face data, account id, name or phone number.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

MAX_AMOUNT_FEN = 100_000_000  # one million yuan: far above any limit, a guard against typos
Key = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class MerchantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    tenant_id: str = Field(min_length=1, max_length=32, description="the platform whose users pay this merchant")
    name: str = Field(min_length=1, max_length=128)
    fee_bps: int = Field(default=0, ge=0, le=1000, description="platform fee in basis points of each payment")
    latitude: float | None = Field(default=None, ge=-90, le=90, description="the shop's location, for risk control")
    longitude: float | None = Field(default=None, ge=-180, le=180)


class MerchantOut(BaseModel):
    merchant_id: str
    tenant_id: str
    name: str
    fee_bps: int
    status: str
    created_at: dt.datetime


class TerminalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    label: str = Field(min_length=1, max_length=128, description="e.g. the vending machine's location")


class TerminalCreated(BaseModel):
    terminal_id: str
    merchant_id: str
    label: str
    secret: str = Field(description="the HMAC signing secret, shown only now")


class IntentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # exact JSON types: no true as 1, "100" or 100.0
        json_schema_extra={
            "examples": [
                {
                    "amount_fen": 350,
                    "currency": "CNY",
                    "merchant_order_id": "VM7-20261207-0042",
                    "idempotency_key": "vm7-0042",
                    "description": "矿泉水 550ml",
                }
            ]
        },
    )

    amount_fen: int = Field(gt=0, le=MAX_AMOUNT_FEN, description="amount in fen (1 yuan = 100 fen)")
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    merchant_order_id: str = Field(min_length=1, max_length=64)
    idempotency_key: str = Key
    description: str | None = Field(default=None, max_length=128)


class TerminalPaymentOut(BaseModel):
    intent_id: str
    merchant_order_id: str
    amount_fen: int
    currency: str
    status: str  # awaiting_face | needs_payer_input | paid | declined | expired
    transaction_id: str | None = None
    payer_name_masked: str | None = None
    refunded_fen: int = 0
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None = None
    capture_url: str | None = Field(
        default=None,
        description="the platform's capture page for the payer; only while the payment waits for the payer",
    )


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    refund_id: str = Key
    amount_fen: int = Field(gt=0, le=MAX_AMOUNT_FEN)


class RefundOut(BaseModel):
    refund_id: str
    amount_fen: int
    transaction_id: str
    payment: TerminalPaymentOut


class CaptureChallenge(BaseModel):
    session_id: str
    nonce: str
    actions: list[str]  # one quick action (blink or open mouth); two or three for a step-up
    instructions: list[dict[str, str]]
    expires_at: dt.datetime


class CaptureView(BaseModel):
    """What the payer's capture page shows."""

    merchant_name: str
    amount_fen: int
    currency: str
    status: str  # awaiting_face | needs_input | paid | declined | expired
    step: str | None = None  # face | phone_digits | step_up, while the payer has something to do
    challenge: CaptureChallenge | None = None
    # Only in the answer to the payer's own frames or digits that declined it; reading the page by
    # its token (which the terminal also holds) never shows why.
    decline_reason: str | None = None
    payer_name_masked: str | None = None


class PhoneDigitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    digits: str = Field(pattern=r"^[0-9]{4}$", description="the last four digits of the payer's mobile number")


class FacePayEnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    liveness_session_id: str = Field(
        min_length=1, max_length=32, description="a passed liveness session for face_pay_enrolment"
    )


class FacePayStatusOut(BaseModel):
    enabled: bool
    consent_granted: bool
    enrolled_at: dt.datetime | None = None
    transaction_limit_fen: int  # the platform's
    daily_limit_fen: int  # the platform's
    spent_today_fen: int
    # The person's own controls (issue 24): their limits (None: the platform's apply) and a pause.
    own_transaction_limit_fen: int | None = None
    own_daily_limit_fen: int | None = None
    paused: bool = False
    paused_at: dt.datetime | None = None


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    amount_fen: int = Field(gt=0, le=MAX_AMOUNT_FEN)
    reference: str = Key


class WalletPayment(BaseModel):
    intent_id: str
    merchant_name: str
    amount_fen: int
    refunded_fen: int
    status: str
    decided_at: dt.datetime | None
    disputed: bool = False  # the payer said they do not recognise it (POST .../dispute)


class WalletOut(BaseModel):
    balance_fen: int
    currency: str = "CNY"
    payments: list[WalletPayment]


class OwnLimitsIn(BaseModel):
    """The person's own face-pay limits in fen; null clears one (the platform's applies)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"transaction_limit_fen": 20000, "daily_limit_fen": 50000}]},
    )

    transaction_limit_fen: int | None = Field(default=None, gt=0, le=MAX_AMOUNT_FEN)
    daily_limit_fen: int | None = Field(default=None, gt=0, le=MAX_AMOUNT_FEN)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"paused": True}]})

    paused: bool


class DisputeOut(BaseModel):
    dispute_id: str
    intent_id: str
    case_opened: bool  # a risk case is open for an operator to look at
    created_at: dt.datetime
