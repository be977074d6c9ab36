"""Request and response shapes of the identity routes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform_user_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
    mobile: str = Field(min_length=11, max_length=11, description="mainland China mobile number, 11 digits")


class AccountOut(BaseModel):
    account_id: str
    platform_user_id: str
    mobile_masked: str
    status: str
    created_at: dt.datetime


class TokenOut(BaseModel):
    token: str
    expires_at: dt.datetime


class FaceAuthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=18, max_length=18)
    liveness_session_id: str = Field(min_length=1, max_length=32,
                                     description="a passed liveness session for real_name, made in the last few minutes")


class BankCardAuthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=18, max_length=18)
    card_number: str = Field(min_length=12, max_length=23)
    mobile: str = Field(min_length=11, max_length=11)


class RealNameOut(BaseModel):
    authentication_id: str
    method: str
    outcome: str
    reasons: list[str]
    liveness: str
    liveness_session_id: str | None = None
    source: str
    model_id: str | None
    calibration_id: str | None
    score: float | None
    threshold: float | None
    created_at: dt.datetime
