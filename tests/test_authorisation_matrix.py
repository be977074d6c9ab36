"""Every route of the service, called as every kind of caller: the allowed set is exactly what the
table below says, and a route missing from the table fails the test (no route goes unchecked)."""

from __future__ import annotations

import pytest

ANYONE = {"nobody", "tenant", "user", "risk_analyst", "compliance_officer", "admin"}
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("GET", "/health"): ANYONE,
    ("GET", "/ready"): ANYONE,
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
    ("GET", "/v1/me/real-name"): {"user"},
    ("DELETE", "/v1/me/real-name"): {"user"},
    ("GET", "/v1/operator/accounts/{account_id}/real-name"): {"compliance_officer", "admin"},
    ("POST", "/v1/me/liveness-sessions"): {"user"},
    ("POST", "/v1/me/liveness-sessions/{session_id}/capture"): {"user"},
    ("GET", "/v1/me/liveness-sessions/{session_id}"): {"user"},
}


def test_every_route_is_in_the_table(app_ctx):
    client, _, _ = app_ctx
    paths = client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert routes == set(ALLOWED)


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
    callers = {"nobody": {}, "tenant": h["a"], "user": user, "risk_analyst": h["op"],
               "compliance_officer": operator_token(app, "carol", "compliance_officer"),
               "admin": operator_token(app, "dave", "admin")}
    account_id = client.get("/v1/me", headers=user).json()["account_id"]
    url = (path.replace("{platform_user_id}", "u1").replace("{purpose}", "face_pay")
           .replace("{account_id}", account_id).replace("{session_id}", "0" * 32))
    for name, headers in callers.items():
        if (method, path) == ("DELETE", "/v1/me") and name == "user":
            continue  # closing the account would end the other callers' checks; covered elsewhere
        r = client.request(method, url, headers=headers, json={})
        refused = r.status_code in (401, 403) and r.json()["error"]["code"] in ("unauthenticated", "forbidden")
        assert refused == (name not in ALLOWED[(method, path)]), (method, path, name, r.status_code, r.text)
