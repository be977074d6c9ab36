"""Request and response shapes of the devices routes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DeviceStatusOut(BaseModel):
    device_known: bool = Field(description="whether the platform named this token's device when signing the user in")
    bound: bool = Field(description="whether this is the account's device: money may leave only from it")
    cooldown_until: dt.datetime | None = Field(
        None, description="after a re-binding, money may leave from this device only after this time"
    )
    can_move_money: bool
    rebind_methods: list[str] = Field(description="what this account can prove itself with: face, bank_card, review")
    review: ReviewOut | None = Field(None, description="this device's pending or latest review, if any")


class RebindIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"method": "face", "liveness_session_id": "9f0c3a6e2b7d4e1f8a5c6b7d8e9f0a1b"}]},
    )

    method: Literal["face", "bank_card"] = "face"
    liveness_session_id: str | None = Field(
        None, max_length=64, description="face: a passed liveness session for device_rebind, made on this device"
    )
    authentication_id: str | None = Field(
        None,
        max_length=64,
        description="bank_card: a bank-card real-name authentication of this account completed minutes ago",
    )


class RebindOut(BaseModel):
    rebind_id: str
    method: str
    bound_at: dt.datetime
    cooldown_until: dt.datetime = Field(description="money may leave from this device after this time")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    note: str | None = Field(None, max_length=500, description="anything the person wants the reviewer to know")


class ReviewOut(BaseModel):
    review_id: str
    status: Literal["pending", "approved", "denied"]
    created_at: dt.datetime
    decided_at: dt.datetime | None = None


class OperatorReviewOut(ReviewOut):
    account_id: str
    device_id: str
    case_id: str
    note: str | None
    decided_by: str | None
    reason: str | None


class ReviewDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    decision: Literal["approve", "deny"]
    reason: str = Field(min_length=1, max_length=500)


class NotificationOut(BaseModel):
    notification_id: str
    kind: str = Field(description="device_rebound (another device was bound) or device_review_denied")
    data: dict
    created_at: dt.datetime


DeviceStatusOut.model_rebuild()
