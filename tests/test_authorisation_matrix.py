"""Every route of the service, called as every kind of caller: the allowed set is exactly what the
table below says, and a route missing from the table fails the test (no route goes unchecked)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from facetrust.security import signing

ANYONE = {"nobody", "tenant", "user", "risk_analyst", "compliance_officer", "admin", "terminal"}
# The capture page's routes are opened by the one-time token in their path, whoever holds it.
BY_TOKEN = ANYONE
OPERATORS = {"risk_analyst", "compliance_officer", "admin"}
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("GET", "/health"): ANYONE,
    ("GET", "/ready"): ANYONE,
    ("GET", "/metrics"): ANYONE,  # no personal data; deployments restrict it at the network edge
    ("POST", "/v1/accounts"): {"tenant"},
    ("POST", "/v1/accounts/{platform_user_id}/tokens"): {"tenant"},
    ("GET", "/v1/me"): {"user"},
    ("DELETE", "/v1/me"): {"user"},
    ("GET", "/v1/consent-notices"): {"user"},
    ("GET", "/v1/me/consents"): {"user"},
    ("POST", "/v1/me/consents/{purpose}"): {"user"},
    ("DELETE", "/v1/me/consents/{purpose}"): {"user"},
    ("POST", "/v1/me/real-name/face"): {"user"},
    ("POST", "/v1/me/real-name/bank-card"): {"user"},
    ("POST", "/v1/me/real-name/bank-card/{challenge_id}/confirm"): {"user"},
    ("POST", "/v1/operator/accounts/{account_id}/real-name/release"): {"compliance_officer", "admin"},
    ("POST", "/v1/operator/accounts/{account_id}/real-name/evidence"): {"compliance_officer"},
    ("GET", "/v1/me/real-name"): {"user"},
    ("DELETE", "/v1/me/real-name"): {"user"},
    ("GET", "/v1/operator/accounts/{account_id}/real-name"): {"compliance_officer", "admin"},
    ("POST", "/v1/me/liveness-sessions"): {"user"},
    ("POST", "/v1/me/liveness-sessions/{session_id}/capture"): {"user"},
    ("GET", "/v1/me/liveness-sessions/{session_id}"): {"user"},
    ("GET", "/v1/operator/liveness-sessions/{session_id}"): OPERATORS,  # the scores behind a decision
    ("GET", "/v1/me/face-pay"): {"user"},
    ("POST", "/v1/me/face-pay"): {"user"},
    ("DELETE", "/v1/me/face-pay"): {"user"},
    ("PUT", "/v1/me/face-pay/limits"): {"user"},
    ("PUT", "/v1/me/face-pay/pause"): {"user"},
    ("POST", "/v1/me/face-pay/payments/{intent_id}/dispute"): {"user"},
    ("GET", "/v1/me/export"): {"user"},
    ("GET", "/v1/me/wallet"): {"user"},
    ("POST", "/v1/accounts/{platform_user_id}/wallet/top-ups"): {"tenant"},
    ("POST", "/v1/operator/merchants"): {"admin"},
    ("POST", "/v1/operator/merchants/{merchant_id}/terminals"): {"admin"},
    ("POST", "/v1/terminal/payment-intents"): {"terminal"},
    ("GET", "/v1/terminal/payment-intents/{intent_id}"): {"terminal"},
    ("POST", "/v1/terminal/payment-intents/{intent_id}/refunds"): {"terminal"},
    ("POST", "/v1/terminal/credit/checkouts/{checkout_id}/returns"): {"terminal"},
    ("GET", "/v1/capture/{token}"): BY_TOKEN,
    ("POST", "/v1/capture/{token}/frames"): BY_TOKEN,
    ("POST", "/v1/capture/{token}/phone-digits"): BY_TOKEN,
    ("POST", "/v1/accounts/{platform_user_id}/credit/checkouts"): {"tenant"},
    ("GET", "/v1/me/credit"): {"user"},
    ("GET", "/v1/me/credit/products"): {"user"},
    ("GET", "/v1/me/credit/checkouts/{checkout_id}"): {"user"},
    ("GET", "/v1/me/credit/checkouts/{checkout_id}/quote"): {"user"},
    ("POST", "/v1/me/credit/checkouts/{checkout_id}/confirm"): {"user"},
    ("GET", "/v1/me/credit/loan-quote"): {"user"},
    ("POST", "/v1/me/credit/loans"): {"user"},
    ("GET", "/v1/me/credit/plans"): {"user"},
    ("GET", "/v1/me/credit/plans/{plan_id}"): {"user"},
    ("GET", "/v1/me/credit/plans/{plan_id}/repayment-quote"): {"user"},
    ("POST", "/v1/me/credit/plans/{plan_id}/repayments"): {"user"},
    ("PUT", "/v1/operator/accounts/{account_id}/credit-line"): {"risk_analyst", "admin"},
    ("GET", "/v1/operator/accounts/{account_id}/credit"): OPERATORS,
    ("GET", "/v1/operator/credit/plans/{plan_id}"): OPERATORS,
    ("POST", "/v1/operator/accounts/{account_id}/freeze"): {"risk_analyst", "admin"},
    ("POST", "/v1/operator/accounts/{account_id}/unfreeze"): {"compliance_officer", "admin"},
    ("GET", "/v1/operator/risk/cases"): OPERATORS,
    ("GET", "/v1/operator/accounts/{account_id}/risk-decisions"): OPERATORS,
    ("GET", "/v1/operator/risk/cases/{case_id}"): OPERATORS,
    ("POST", "/v1/operator/risk/cases/{case_id}/assign"): {"risk_analyst", "admin"},
    ("POST", "/v1/operator/risk/cases/{case_id}/notes"): OPERATORS,
    ("POST", "/v1/operator/risk/cases/{case_id}/close"): {"risk_analyst", "admin"},
    ("GET", "/v1/operator/risk/cases/{case_id}/report"): OPERATORS,
    ("GET", "/v1/operator/risk/decisions/{decision_id}/replay"): OPERATORS,
    ("GET", "/v1/operator/me"): OPERATORS,
    ("GET", "/v1/operator/accounts"): OPERATORS,
    ("GET", "/v1/operator/accounts/{account_id}"): OPERATORS,
    ("POST", "/v1/operator/accounts/{account_id}/reveal"): {"compliance_officer", "admin"},
    ("GET", "/v1/operator/dashboard"): OPERATORS,
    ("GET", "/v1/operator/risk/cases/{case_id}/events"): OPERATORS,
    ("GET", "/v1/operator/risk/decisions/{decision_id}"): OPERATORS,
    ("GET", "/v1/operator/audit/verify"): {"compliance_officer", "admin"},
    ("POST", "/v1/webhooks/endpoints"): {"tenant"},
    ("GET", "/v1/webhooks/endpoints"): {"tenant"},
    ("DELETE", "/v1/webhooks/endpoints/{endpoint_id}"): {"tenant"},
    ("GET", "/v1/webhooks/deliveries"): {"tenant"},
    ("GET", "/v1/webhooks/deliveries/{delivery_id}"): {"tenant"},
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): {"tenant"},
    ("GET", "/v1/operator/webhooks/deliveries"): OPERATORS,
    ("POST", "/v1/operator/webhooks/deliveries/{delivery_id}/replay"): {"risk_analyst", "admin"},
    # Devices: getting back into an account on a new device (facetrust/devices).
    ("GET", "/v1/me/device"): {"user"},
    ("POST", "/v1/me/device/rebind"): {"user"},
    ("POST", "/v1/me/device/rebind/review"): {"user"},
    ("GET", "/v1/me/notifications"): {"user"},
    ("GET", "/v1/operator/device-reviews"): OPERATORS,
    ("POST", "/v1/operator/device-reviews/{review_id}/decision"): {"risk_analyst", "admin"},
    ("GET", "/v1/operator/audit"): {"compliance_officer", "admin"},
    # Admins manage tenants and operators (facetrust/identity/operators.py; a tenant's admin only
    # their own tenant's, checked in test_operator_tenants.py).
    ("GET", "/v1/operator/tenants"): {"admin"},
    ("POST", "/v1/operator/tenants"): {"admin"},
    ("GET", "/v1/operator/operators"): {"admin"},
    ("POST", "/v1/operator/operators"): {"admin"},
    ("POST", "/v1/operator/operators/{name}/tokens"): {"admin"},
    ("PUT", "/v1/operator/operators/{name}/role"): {"admin"},
    ("POST", "/v1/operator/operators/{name}/disable"): {"admin"},
    # The demo platform (off here, so it answers 404 to whoever is let through).
    ("GET", "/v1/demo"): ANYONE,
    ("POST", "/v1/demo/sign-in"): ANYONE,
    ("POST", "/v1/demo/terminal"): ANYONE,
    ("POST", "/v1/demo/checkouts"): {"user"},
}
REFUSALS = ("unauthenticated", "forbidden", "signature_missing", "signature_invalid")


def test_every_route_is_in_the_table(app_ctx):
    client, _, _ = app_ctx
    paths = client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert routes == set(ALLOWED)


def _tenant_id(app, name: str) -> str:
    with app.state.sessions() as s:
        return s.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": name}).scalar_one()


def operator_token(app, name: str, role: str) -> dict:
    import datetime as dt

    from facetrust.identity import service

    with app.state.sessions() as s:
        token, _ = service.create_operator_token(s, name, role, dt.timedelta(hours=1))
        s.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("method,path", sorted(ALLOWED))
def test_route_admits_exactly_its_callers(app_ctx, method, path):
    client, app, h = app_ctx
    client.post("/v1/accounts", json={"platform_user_id": "u1", "mobile": "13812345678"}, headers=h["a"])
    user = {"Authorization": f"Bearer {client.post('/v1/accounts/u1/tokens', headers=h['a']).json()['token']}"}
    admin = operator_token(app, "dave", "admin")
    tenant_id = _tenant_id(app, "shop-a")
    merchant = client.post("/v1/operator/merchants", json={"tenant_id": tenant_id, "name": "m"}, headers=admin).json()
    terminal = client.post(
        f"/v1/operator/merchants/{merchant['merchant_id']}/terminals", json={"label": "t"}, headers=admin
    ).json()
    callers = {
        "nobody": {},
        "tenant": h["a"],
        "user": user,
        "risk_analyst": h["op"],
        "compliance_officer": operator_token(app, "carol", "compliance_officer"),
        "admin": admin,
        "terminal": "signed",
    }
    account_id = client.get("/v1/me", headers=user).json()["account_id"]
    url = (
        path.replace("{platform_user_id}", "u1")
        .replace("{purpose}", "face_pay")
        .replace("{account_id}", account_id)
        .replace("{session_id}", "0" * 32)
        .replace("{merchant_id}", merchant["merchant_id"])
        .replace("{intent_id}", "0" * 32)
        .replace("{token}", "ftc_" + "0" * 43)
    )
    for name, headers in callers.items():
        if (method, path) == ("DELETE", "/v1/me") and name == "user":
            continue  # closing the account would end the other callers' checks; covered elsewhere
        if headers == "signed":
            headers = signing.headers(terminal["terminal_id"], terminal["secret"], method, url, b"{}", int(time.time()))
        r = client.request(method, url, headers=headers, json={})
        refused = r.status_code in (401, 403) and r.json()["error"]["code"] in REFUSALS
        assert refused == (name not in ALLOWED[(method, path)]), (method, path, name, r.status_code, r.text)
