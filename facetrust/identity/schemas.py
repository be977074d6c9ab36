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
