"""Request and response shapes of the identity routes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # exact JSON types: no true as 1, "100" or 100.0
        json_schema_extra={"examples": [{"platform_user_id": "u-10086", "mobile": "13812345678"}]},
    )

    platform_user_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
    mobile: str = Field(min_length=11, max_length=11, description="mainland China mobile number, 11 digits")


class AccountOut(BaseModel):
    account_id: str
    platform_user_id: str
    mobile_masked: str
    status: str
    created_at: dt.datetime


class FrozenOut(BaseModel):
    since: dt.datetime = Field(description="when the account was frozen")
    cause: Literal["automatic_checks", "review"] = Field(
        description="automatic_checks: the risk engine's checks froze it; review: an operator froze it to review it"
    )


class MeOut(AccountOut):
    frozen: FrozenOut | None = Field(None, description="set while the account is frozen")
    support_contact: str = Field(description="how the person reaches support (the service's setting)")
    face_verified: bool = Field(
        False,
        description="a face real-name authentication is on file: face pay, installments and loans compare the "
        "live face with it. False after a bank-card authentication only (it has no face): those "
        "features then need a face real-name authentication first (else `kyc_face_required`)",
    )


class TokenOut(BaseModel):
    token: str
    expires_at: dt.datetime


class FaceAuthIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # exact JSON types: no true as 1, "100" or 100.0
        json_schema_extra={
            "examples": [
                {
                    "name": "张伟",
                    "id_number": "110105198001010016",
                    "liveness_session_id": "9f0c3a6e2b7d4e1f8a5c6b7d8e9f0a1b",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=18, max_length=18)
    liveness_session_id: str = Field(
        min_length=1, max_length=32, description="a passed liveness session for real_name, made in the last few minutes"
    )


class BankCardAuthIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=18, max_length=18)
    card_number: str = Field(min_length=12, max_length=23)
    mobile: str = Field(min_length=11, max_length=11, pattern=r"^[0-9]{11}$")  # ASCII digits


class BankCardChallengeOut(BaseModel):
    challenge_id: str
    status: str = Field(description="code_sent: the bank texted a one-time code to the card's reserved mobile")
    source: str = Field(description="who answered, in English (a simulator says so)")
    source_code: str = Field(
        description="who answered, as a stable code for the page's own words: simulated_citizen_registry, "
        "simulated_bank_registry or other"
    )
    source_bank: str | None = Field(default=None, description="the bank's name, for a bank-card check")
    expires_at: dt.datetime
    max_attempts: int


class BankCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^\d{6}$", description="the 6-digit code the bank texted to the card's reserved mobile")


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=5, max_length=256, description="the reviewed case for the identity change; audited")


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Literal["aml_investigation", "regulator_request", "customer_dispute"]
    reason: str = Field(min_length=5, max_length=256, description="why the evidence is read; audited")


class EvidenceTemplateOut(BaseModel):
    template_id: str
    model_id: str
    created_at: dt.datetime
    retain_until: dt.datetime | None
    sha256: str = Field(description="digest of the opened template; the vector itself is never returned")


class RealNameOut(BaseModel):
    authentication_id: str
    method: str
    outcome: str
    reasons: list[str]
    liveness: str
    liveness_session_id: str | None = None
    source: str = Field(description="who answered, in English (a simulator says so)")
    source_code: str = Field(
        description="who answered, as a stable code for the page's own words: simulated_citizen_registry, "
        "simulated_bank_registry or other"
    )
    source_bank: str | None = Field(default=None, description="the bank's name, for a bank-card check")
    model_id: str | None
    calibration_id: str | None
    score: float | None
    threshold: float | None
    created_at: dt.datetime


# --- the operator console: who is signed in, account lookup and reveal ----------------------------


class OperatorOut(BaseModel):
    name: str
    role: str
    tenant_id: str | None = Field(default=None, description="the operator's tenant; null: the platform, every tenant")


class CreditSummaryOut(BaseModel):
    limit_fen: int
    used_fen: int
    available_fen: int
    active_plans: int


class OperatorAccountOut(BaseModel):
    """An account as an operator sees it by default: personal data masked."""

    account_id: str
    tenant_id: str
    tenant_name: str
    platform_user_id: str
    mobile_masked: str
    name_masked: str | None = Field(description="from the passed real-name authentication, e.g. 张*")
    id_number_masked: str | None = Field(description="e.g. 1101**********0016")
    status: str = Field(description="active, frozen or closed")
    real_name: str = Field(description="verified, failed (attempted, never passed) or none")
    real_name_method: str | None
    real_name_verified_at: dt.datetime | None
    face_pay: bool = Field(description="a face-pay template is enrolled")
    credit: CreditSummaryOut | None
    created_at: dt.datetime
    closed_at: dt.datetime | None


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    reason: str = Field(min_length=5, max_length=256, description="why the operator needs the unmasked data; audited")


class RevealOut(BaseModel):
    account_id: str
    mobile: str
    name: str | None
    id_number: str | None
    audit_seq: int = Field(description="the audit record of this access")


class EvidenceOut(BaseModel):
    account_id: str
    account_status: str
    records: list[RealNameOut]
    templates: list[EvidenceTemplateOut]
    audit_seq: int = Field(description="the audit record of this read")


# --- managing tenants and operators (admins) -------------------------------------------------------


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=128, examples=["demo-shop"])


class TenantOut(BaseModel):
    tenant_id: str
    name: str
    created_at: dt.datetime


class TenantCreated(TenantOut):
    api_key: str = Field(description="the platform's API key, shown only in this answer")


class OperatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=64, examples=["li.na"])
    role: str = Field(description="risk_analyst, compliance_officer or admin", examples=["risk_analyst"])
    tenant_id: str | None = Field(
        default=None, max_length=32, description="the operator's tenant; null: the platform (platform admins only)"
    )


class OperatorRoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(description="risk_analyst, compliance_officer or admin")


class ManagedOperatorOut(BaseModel):
    name: str
    role: str
    tenant_id: str | None = Field(description="null: a platform operator, across tenants")
    status: str = Field(description="active or disabled")
    created_by: str
    created_at: dt.datetime


class OperatorTokenOut(BaseModel):
    name: str
    token: str = Field(description="the operator's bearer token, shown only in this answer")
    expires_at: dt.datetime


class OperatorCreated(ManagedOperatorOut):
    token: str = Field(description="the operator's first bearer token, shown only in this answer")
    expires_at: dt.datetime
