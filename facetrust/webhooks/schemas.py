"""What the webhook routes take and answer."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from facetrust.webhooks.models import WebhookEndpoint
from facetrust.webhooks.service import DeliveryView

Kind = Literal[
    "payment.paid",
    "payment.declined",
    "payment.refunded",
    "checkout.confirmed",
    "plan.repaid",
    "plan.overdue",
    "loan.drawn",
    "account.frozen",
    "account.unfrozen",
    "consent.withdrawn",
    "real_name.completed",
]
DeliveryStatus = Literal["pending", "delivering", "delivered", "dead"]


class EndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://api.shop.example/facetrust/events", "kinds": None}]},
    )

    url: str = Field(min_length=8, max_length=512, description="an https:// URL of the platform's back end")
    kinds: list[Kind] | None = Field(
        default=None, max_length=32, description="the event kinds to send there; none: every kind"
    )


class EndpointOut(BaseModel):
    endpoint_id: str
    url: str
    kinds: list[str] | None
    status: Literal["active", "disabled"]
    created_at: dt.datetime

    @classmethod
    def of(cls, e: WebhookEndpoint) -> EndpointOut:
        return cls(
            endpoint_id=e.id,
            url=e.url,
            kinds=json.loads(e.kinds) if e.kinds else None,
            status=e.status,  # type: ignore[arg-type]
            created_at=e.created_at,
        )


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(description="the HMAC-SHA256 key of this endpoint's signatures; shown once, keep it secret")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=256, description="why it is sent again (audited)")


class AttemptOut(BaseModel):
    number: int
    at: dt.datetime
    status_code: int | None = Field(description="the receiver's HTTP status; none if it could not be reached")
    error: str | None = Field(description="why no status came back (the failure's kind)")
    latency_ms: int
    next_attempt_at: dt.datetime | None = Field(description="when it is tried again; none: it is not")


class DeliveryOut(BaseModel):
    delivery_id: str
    event_id: str = Field(description="the X-FaceTrust-Event-Id every attempt and replay carries")
    kind: str
    endpoint_id: str
    tenant_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    replay_of: str | None = Field(description="the delivery this one sends again")
    event: dict[str, Any] = Field(description="the body sent, as JSON")
    log: list[AttemptOut]

    @classmethod
    def of(cls, v: DeliveryView) -> DeliveryOut:
        d = v.delivery
        return cls(
            delivery_id=d.id,
            event_id=d.event_id,
            kind=v.event.kind,
            endpoint_id=d.endpoint_id,
            tenant_id=d.tenant_id,
            status=d.status,  # type: ignore[arg-type]
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            replay_of=d.replay_of,
            event=json.loads(v.event.body),
            log=[
                AttemptOut(
                    number=a.number,
                    at=a.at,
                    status_code=a.status_code,
                    error=a.error,
                    latency_ms=a.latency_ms,
                    next_attempt_at=a.next_attempt_at,
                )
                for a in v.attempts
            ],
        )
