"""HTTP routes of the webhooks: the platform manages its endpoints and reads its delivery log with
its API key; operators read every tenant's log and replay a delivery from the console, audited.

Routes are thin: the rules (a tenant sees only its own, a replay is a new delivery of the same
event) are in ``service.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from facetrust.api import auth
from facetrust.api.deps import app_keyring, get_session
from facetrust.identity.models import Tenant
from facetrust.identity.scope import Scope
from facetrust.identity.service import Principal
from facetrust.security.envelope import Keyring
from facetrust.webhooks import service
from facetrust.webhooks.schemas import (
    DeliveryOut,
    DeliveryStatus,
    EndpointCreatedOut,
    EndpointIn,
    EndpointOut,
    ReplayIn,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])
READERS = ("risk_analyst", "compliance_officer", "admin")
REPLAYERS = ("risk_analyst", "admin")


@router.post("/webhooks/endpoints", status_code=201, response_model=EndpointCreatedOut)
def create_webhook_endpoint(
    body: EndpointIn,
    tenant: Tenant = Depends(auth.tenant),
    session: Session = Depends(get_session),
    keyring: Keyring = Depends(app_keyring),
) -> EndpointCreatedOut:
    """Add an endpoint for the platform's events. The answer holds its signing secret, once."""
    endpoint, secret = service.create_endpoint(
        session, keyring, tenant.id, body.url, list(body.kinds) if body.kinds else None, f"tenant:{tenant.id}"
    )
    session.commit()
    return EndpointCreatedOut(**EndpointOut.of(endpoint).model_dump(), secret=secret)


@router.get("/webhooks/endpoints", response_model=list[EndpointOut])
def list_webhook_endpoints(
    tenant: Tenant = Depends(auth.tenant), session: Session = Depends(get_session)
) -> list[EndpointOut]:
    return [EndpointOut.of(e) for e in service.endpoints(session, tenant.id)]


@router.delete("/webhooks/endpoints/{endpoint_id}", response_model=EndpointOut)
def disable_webhook_endpoint(
    endpoint_id: str, tenant: Tenant = Depends(auth.tenant), session: Session = Depends(get_session)
) -> EndpointOut:
    """Stop sending to this endpoint (kept, disabled, for the log)."""
    endpoint = service.disable_endpoint(session, tenant.id, endpoint_id, f"tenant:{tenant.id}")
    session.commit()
    return EndpointOut.of(endpoint)


@router.get("/webhooks/deliveries", response_model=list[DeliveryOut])
def list_webhook_deliveries(
    status: DeliveryStatus | None = None,
    limit: int = Query(50, ge=1, le=200),
    tenant: Tenant = Depends(auth.tenant),
    session: Session = Depends(get_session),
) -> list[DeliveryOut]:
    """The platform's delivery log, newest first: each attempt's status code, latency, next try."""
    return [DeliveryOut.of(v) for v in service.deliveries(session, tenant.id, status, limit)]


@router.get("/webhooks/deliveries/{delivery_id}", response_model=DeliveryOut)
def get_webhook_delivery(
    delivery_id: str, tenant: Tenant = Depends(auth.tenant), session: Session = Depends(get_session)
) -> DeliveryOut:
    return DeliveryOut.of(service.delivery(session, tenant.id, delivery_id))


@router.post("/webhooks/deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryOut)
def replay_webhook_delivery(
    delivery_id: str, body: ReplayIn, tenant: Tenant = Depends(auth.tenant), session: Session = Depends(get_session)
) -> DeliveryOut:
    """Send the delivery's event again (same event id and body), as a new delivery."""
    again = service.replay(session, tenant.id, delivery_id, f"tenant:{tenant.id}", body.reason)
    session.commit()
    return DeliveryOut.of(service.delivery(session, tenant.id, again.id))


@router.get("/operator/webhooks/deliveries", response_model=list[DeliveryOut])
def operator_webhook_deliveries(
    tenant_id: str | None = Query(None, max_length=32),
    status: DeliveryStatus | None = None,
    limit: int = Query(50, ge=1, le=200),
    op: Principal = Depends(auth.operator(*READERS)),
    session: Session = Depends(get_session),
) -> list[DeliveryOut]:
    """Every platform's delivery log (or one's), newest first; a tenant operator's own tenant's only
    (another tenant named in ``tenant_id`` lists nothing)."""
    scope = Scope.of(op)
    if not scope.covers(tenant_id or scope.tenant_id):
        return []
    return [DeliveryOut.of(v) for v in service.deliveries(session, tenant_id or scope.tenant_id, status, limit)]


@router.post("/operator/webhooks/deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryOut)
def operator_replay_webhook_delivery(
    delivery_id: str,
    body: ReplayIn,
    op: Principal = Depends(auth.operator(*REPLAYERS)),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """Send a delivery's event again, audited with the operator and the reason."""
    # A tenant operator's replay is looked up within their tenant: another's is "no such delivery".
    again = service.replay(session, op.tenant_id, delivery_id, op.audit_name, body.reason)
    session.commit()
    return DeliveryOut.of(service.delivery(session, op.tenant_id, again.id))
