"""Tenants, accounts and tokens over HTTP: who may call what, and clear errors for bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from facetrust.identity import service


def register(client, headers, uid="u1", mobile="13812345678"):
    return client.post("/v1/accounts", json={"platform_user_id": uid, "mobile": mobile}, headers=headers)


def token_for(client, headers, uid="u1") -> dict:
    r = client.post(f"/v1/accounts/{uid}/tokens", headers=headers)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_register_mint_and_read_own_account(app_ctx):
    client, _, h = app_ctx
    r = register(client, h["a"])
    assert r.status_code == 201
    assert r.json()["mobile_masked"] == "138****5678" and "13812345678" not in r.text
    me = client.get("/v1/me", headers=token_for(client, h["a"]))
    assert me.status_code == 200 and me.json()["platform_user_id"] == "u1"


@pytest.mark.parametrize(
    "body,code",
    [
        ({"platform_user_id": "u1", "mobile": "12345678901"}, "mobile_invalid"),
        ({"platform_user_id": "u1", "mobile": 13812345678}, "invalid_request"),
        ({"platform_user_id": "", "mobile": "13812345678"}, "invalid_request"),
        ({"platform_user_id": "u1"}, "invalid_request"),
        ({"platform_user_id": "u1", "mobile": "13812345678", "admin": True}, "invalid_request"),
    ],
)
def test_bad_registrations(app_ctx, body, code):
    client, app, h = app_ctx
    r = client.post("/v1/accounts", json=body, headers=h["a"])
    assert r.status_code == 422 and r.json()["error"]["code"] == code
    with app.state.sessions() as s:  # nothing half-written
        assert service.find_account(s, service.tenant_by_api_key(s, h["a"]["X-Api-Key"]), "u1") is None


def test_malformed_json_and_duplicates(app_ctx):
    client, _, h = app_ctx
    r = client.post("/v1/accounts", content=b"{not json", headers={**h["a"], "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "malformed_json"
    assert register(client, h["a"]).status_code == 201
    r = register(client, h["a"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "account_exists"


def test_tenants_are_isolated(app_ctx):
    client, _, h = app_ctx
    register(client, h["a"])
    r = client.post("/v1/accounts/u1/tokens", headers=h["b"])  # shop-b cannot act for shop-a's user
    assert r.status_code == 404 and r.json()["error"]["code"] == "account_not_found"
    assert register(client, h["b"]).status_code == 201  # the same platform id is a different person there


def test_authorisation_matrix(app_ctx):
    client, _, h = app_ctx
    register(client, h["a"])
    user = token_for(client, h["a"])
    nobody, bad_key, bad_token = {}, {"X-Api-Key": "ftk_wrong"}, {"Authorization": "Bearer ftu_wrong"}
    calls = {
        ("POST", "/v1/accounts"): {"tenant"},
        ("POST", "/v1/accounts/u1/tokens"): {"tenant"},
        ("GET", "/v1/me"): {"user"},
    }
    callers = {
        "tenant": h["a"],
        "user": user,
        "operator": h["op"],
        "nobody": nobody,
        "bad_key": bad_key,
        "bad_token": bad_token,
    }
    for (method, path), allowed in calls.items():
        for name, headers in callers.items():
            body = {"platform_user_id": "u2", "mobile": "13912345678"} if path == "/v1/accounts" else None
            r = client.request(method, path, json=body, headers=headers)
            if name in allowed:
                assert r.status_code in (200, 201), (method, path, name, r.text)
            else:
                assert r.status_code in (401, 403), (method, path, name, r.status_code)
                assert r.json()["error"]["code"] in ("unauthenticated", "forbidden")


def test_expired_token_is_refused(app_ctx):
    client, app, h = app_ctx
    register(client, h["a"])
    with app.state.sessions() as s:
        tenant = service.tenant_by_api_key(s, h["a"]["X-Api-Key"])
        token, _ = service.mint_user_token(s, tenant, "u1", dt.timedelta(seconds=-1))
        s.commit()
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
