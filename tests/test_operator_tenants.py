"""Operators scoped to tenants (issue 24, item 6): a tenant's operator sees and acts only on their
tenant's accounts, cases, decisions, merchants, webhook deliveries, device reviews, dashboard
figures and audit records; another tenant's answer 404, as if they did not exist. A platform
operator sees both. A tenant's admin manages only their own tenant's operators (never platform
ones, never another tenant's); a platform admin creates tenants and operators; all of it audited."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import running_app
from sqlalchemy import select, text

from facetrust.devices.models import DeviceReview
from facetrust.identity import service
from facetrust.risk import cases, engine
from facetrust.risk.events import EventIn
from facetrust.security.models import AuditRecord


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def legacy_token(app, name: str, role: str) -> dict:
    """A token as `facetrust operators token` issues it: an unmanaged name, a platform operator."""
    with app.state.sessions() as s:
        token, _ = service.create_operator_token(s, name, role, dt.timedelta(hours=1))
        s.commit()
    return bearer(token)


def error(r) -> str:
    return r.json()["error"]["code"]


def tenant_id(app, name: str) -> str:
    with app.state.sessions() as s:
        return s.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": name}).scalar_one()


def build_tenant(client, app, h: dict, admin: dict, tid: str, user: str, mobile: str) -> dict:
    """An account with a risk decision, an open case and a pending device review, a merchant, a
    webhook endpoint and a delivery (the account frozen by a platform analyst)."""
    r = client.post("/v1/accounts", json={"platform_user_id": user, "mobile": mobile}, headers=h)
    assert r.status_code == 201, r.text
    with app.state.sessions() as s:
        account_id = s.execute(text("SELECT id FROM accounts WHERE platform_user_id = :u"), {"u": user}).scalar_one()
        verdict = engine.decide(s, EventIn("payment", account_id=account_id, amount_fen=100))
        case = cases.open_case(s, account_id, None, verdict.decision_id, ["test"])
        review = DeviceReview(account_id=account_id, device_id="phone-2", case_id=case.id)
        s.add(review)
        s.commit()
        ids = {"account": account_id, "decision": verdict.decision_id, "case": case.id, "review": review.id}
    m = client.post("/v1/operator/merchants", json={"tenant_id": tid, "name": f"shop of {user}"}, headers=admin)
    assert m.status_code == 201, m.text
    ids["merchant"] = m.json()["merchant_id"]
    r = client.post("/v1/webhooks/endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=h)
    assert r.status_code == 201, r.text
    platform_analyst = legacy_token(app, f"pa-{user}", "risk_analyst")
    r = client.post(f"/v1/operator/accounts/{account_id}/freeze", json={"reason": "test"}, headers=platform_analyst)
    assert r.status_code == 200, r.text
    deliveries = client.get("/v1/webhooks/deliveries", headers=h).json()
    assert deliveries, "freezing enqueues account.frozen"
    ids["delivery"] = deliveries[0]["delivery_id"]
    return ids


@pytest.fixture()
def two(tmp_path, database_url):
    """Tenants shop-a and shop-b, each with its objects; a platform admin (root), a platform
    analyst (alice), and operators of shop-a created over the API by root."""
    with running_app(tmp_path, database_url) as (client, app, h):
        root = legacy_token(app, "root", "admin")
        ta, tb = tenant_id(app, "shop-a"), tenant_id(app, "shop-b")
        a = build_tenant(client, app, h["a"], root, ta, "ua", "13800000001")
        b = build_tenant(client, app, h["b"], root, tb, "ub", "13800000002")
        hs = {"root": root, "alice": h["op"]}
        for name, role in (("ana", "risk_analyst"), ("cora", "compliance_officer"), ("adam", "admin")):
            r = client.post("/v1/operator/operators", json={"name": name, "role": role, "tenant_id": ta}, headers=root)
            assert r.status_code == 201, r.text
            assert (r.json()["tenant_id"], r.json()["role"], r.json()["status"]) == (ta, role, "active")
            hs[name] = bearer(r.json()["token"])
        yield client, app, h, hs, {"a": ta, "b": tb}, a, b


def reads(a: dict) -> list[tuple[str, str, str]]:
    """Operator calls about one tenant's objects, each with the code another tenant's answers."""
    return [
        ("GET", f"/v1/operator/accounts/{a['account']}", "account_not_found"),
        ("GET", f"/v1/operator/accounts/{a['account']}/risk-decisions", "account_not_found"),
        ("GET", f"/v1/operator/accounts/{a['account']}/credit", "account_not_found"),
        ("GET", f"/v1/operator/risk/cases/{a['case']}", "case_not_found"),
        ("GET", f"/v1/operator/risk/cases/{a['case']}/events", "case_not_found"),
        ("GET", f"/v1/operator/risk/decisions/{a['decision']}", "decision_not_found"),
        ("GET", f"/v1/operator/risk/decisions/{a['decision']}/replay", "decision_not_found"),
    ]


def test_a_tenant_analyst_sees_only_their_tenant_and_another_tenants_objects_are_not_found(two):
    client, app, h, hs, t, a, b = two
    ana = hs["ana"]
    assert client.get("/v1/operator/me", headers=ana).json() == {
        "name": "ana",
        "role": "risk_analyst",
        "tenant_id": t["a"],
    }
    for _method, path, _code in reads(a):
        r = client.request("GET", path, headers=ana)
        assert r.status_code == 200, (path, r.text)
    for method, path, code in reads(b):
        r = client.request(method, path, headers=ana)
        assert (r.status_code, error(r)) == (404, code), (path, r.text)
        assert b["account"] not in r.text

    # Acting on tenant B's objects: the same 404, and nothing changes.
    acts = [
        (f"/v1/operator/accounts/{b['account']}/unfreeze", {"reason": "test"}, hs["cora"], "account_not_found"),
        (f"/v1/operator/risk/cases/{b['case']}/notes", {"text": "looked"}, ana, "case_not_found"),
        (f"/v1/operator/risk/cases/{b['case']}/assign", {}, ana, "case_not_found"),
        (
            f"/v1/operator/risk/cases/{b['case']}/close",
            {"outcome": "false_positive", "note": "fine"},
            ana,
            "case_not_found",
        ),
        (
            f"/v1/operator/device-reviews/{b['review']}/decision",
            {"decision": "deny", "reason": "no"},
            ana,
            "device_review_not_found",
        ),
        (
            f"/v1/operator/webhooks/deliveries/{b['delivery']}/replay",
            {"reason": "again"},
            ana,
            "webhook_delivery_not_found",
        ),
        (f"/v1/operator/merchants/{b['merchant']}/terminals", {"label": "t"}, hs["adam"], "merchant_not_found"),
        (f"/v1/operator/accounts/{b['account']}/reveal", {"reason": "curious"}, hs["cora"], "account_not_found"),
    ]
    for path, body, who, code in acts:
        r = client.post(path, json=body, headers=who)
        assert (r.status_code, error(r)) == (404, code), (path, r.text)
    r = client.post("/v1/operator/merchants", json={"tenant_id": t["b"], "name": "sneaky"}, headers=hs["adam"])
    assert (r.status_code, error(r)) == (404, "tenant_not_found")
    with app.state.sessions() as s:
        assert (
            s.execute(text("SELECT status FROM accounts WHERE id = :i"), {"i": b["account"]}).scalar_one() == "frozen"
        )
        assert s.get(DeviceReview, b["review"]).status == "pending"

    # Lists and searches hold only tenant A's.
    assert [c["case_id"] for c in client.get("/v1/operator/risk/cases", headers=ana).json()] == [a["case"]]
    assert [r["review_id"] for r in client.get("/v1/operator/device-reviews", headers=ana).json()] == [a["review"]]
    listed = client.get("/v1/operator/webhooks/deliveries", headers=ana).json()
    assert listed and {d["tenant_id"] for d in listed} == {t["a"]}
    assert client.get("/v1/operator/webhooks/deliveries", params={"tenant_id": t["b"]}, headers=ana).json() == []
    assert client.get("/v1/operator/accounts", params={"q": "13800000002"}, headers=ana).json() == []
    assert len(client.get("/v1/operator/accounts", params={"q": "13800000001"}, headers=ana).json()) == 1

    # The dashboard counts tenant A only; the platform's counts both.
    mine = client.get("/v1/operator/dashboard", headers=ana).json()
    everyone = client.get("/v1/operator/dashboard", headers=hs["alice"]).json()
    assert (mine["open_cases"], mine["frozen_accounts"]) == (1, 1)
    assert (everyone["open_cases"], everyone["frozen_accounts"]) == (2, 2)
    assert sum(mine["decisions"].values()) == 1 and sum(everyone["decisions"].values()) == 2

    # Acting on tenant A's own objects works.
    r = client.post(f"/v1/operator/risk/cases/{a['case']}/notes", json={"text": "looked"}, headers=ana)
    assert r.status_code == 200, r.text
    r = client.post(
        f"/v1/operator/device-reviews/{a['review']}/decision",
        json={"decision": "deny", "reason": "not them"},
        headers=ana,
    )
    assert r.status_code == 200, r.text


def test_a_platform_analyst_sees_every_tenant(two):
    client, app, h, hs, t, a, b = two
    alice = hs["alice"]
    assert client.get("/v1/operator/me", headers=alice).json()["tenant_id"] is None
    for method, path, _ in reads(a) + reads(b):
        assert client.request(method, path, headers=alice).status_code == 200, path
    assert {c["case_id"] for c in client.get("/v1/operator/risk/cases", headers=alice).json()} == {a["case"], b["case"]}
    assert {r["review_id"] for r in client.get("/v1/operator/device-reviews", headers=alice).json()} == {
        a["review"],
        b["review"],
    }
    assert {d["tenant_id"] for d in client.get("/v1/operator/webhooks/deliveries", headers=alice).json()} == set(
        t.values()
    )


def test_a_tenant_compliance_officer_reads_only_audit_records_about_their_tenant(two):
    client, app, h, hs, t, a, b = two
    subjects = {
        r["subject"]
        for r in client.get("/v1/operator/audit", params={"limit": 200}, headers=hs["cora"]).json()["records"]
    }
    assert f"account:{a['account']}" in subjects and f"merchant:{a['merchant']}" in subjects
    assert "operator:ana" in subjects and f"tenant:{t['a']}" in subjects
    assert not any(b["account"] in s or b["merchant"] in s or t["b"] in s for s in subjects), subjects
    assert "operator:root" not in subjects and "operator:alice" not in subjects
    only_b = client.get("/v1/operator/audit", params={"subject": f"account:{b['account']}"}, headers=hs["cora"])
    assert only_b.status_code == 200 and only_b.json()["records"] == []
    everyone = client.get(
        "/v1/operator/audit", params={"limit": 200}, headers=legacy_token(app, "carl", "compliance_officer")
    )
    assert any(b["account"] in r["subject"] for r in everyone.json()["records"])
    # The chain is one for all tenants: checking it is a platform operator's call.
    r = client.get("/v1/operator/audit/verify", headers=hs["cora"])
    assert (r.status_code, error(r)) == (403, "platform_operator_required")


def test_a_tenant_admin_manages_only_their_own_tenant_and_cannot_escalate(two):
    client, app, h, hs, t, a, b = two
    adam = hs["adam"]
    r = client.post(
        "/v1/operator/operators", json={"name": "amy", "role": "risk_analyst", "tenant_id": t["a"]}, headers=adam
    )
    assert r.status_code == 201 and r.json()["tenant_id"] == t["a"], r.text
    amy = bearer(r.json()["token"])
    assert client.get("/v1/operator/me", headers=amy).json()["tenant_id"] == t["a"]
    for body in (
        {"name": "boss", "role": "admin"},  # the platform
        {"name": "boss", "role": "admin", "tenant_id": None},
        {"name": "bob", "role": "risk_analyst", "tenant_id": t["b"]},
    ):
        r = client.post("/v1/operator/operators", json=body, headers=adam)
        assert (r.status_code, error(r)) == (403, "operator_scope_forbidden"), body
    r = client.post("/v1/operator/tenants", json={"name": "shop-c"}, headers=adam)
    assert (r.status_code, error(r)) == (403, "platform_operator_required")
    assert [x["tenant_id"] for x in client.get("/v1/operator/tenants", headers=adam).json()] == [t["a"]]
    assert {o["name"] for o in client.get("/v1/operator/operators", headers=adam).json()} == {
        "ana",
        "cora",
        "adam",
        "amy",
    }

    # Another tenant's operator (made by root) and platform operators are not found for adam.
    r = client.post(
        "/v1/operator/operators", json={"name": "bea", "role": "risk_analyst", "tenant_id": t["b"]}, headers=hs["root"]
    )
    assert r.status_code == 201, r.text
    bea = bearer(r.json()["token"])
    for name in ("bea", "root", "alice"):
        r = client.put(f"/v1/operator/operators/{name}/role", json={"role": "admin"}, headers=adam)
        assert (r.status_code, error(r)) == (404, "operator_not_found"), name
        r = client.post(f"/v1/operator/operators/{name}/disable", headers=adam)
        assert (r.status_code, error(r)) == (404, "operator_not_found"), name
    assert client.get("/v1/operator/me", headers=bea).json()["role"] == "risk_analyst"

    # A tenant analyst cannot manage anyone.
    r = client.post(
        "/v1/operator/operators", json={"name": "x1", "role": "admin", "tenant_id": t["a"]}, headers=hs["ana"]
    )
    assert (r.status_code, error(r)) == (403, "forbidden")

    # Within the tenant: a role change applies to the token at once; a disabled operator's token stops.
    r = client.put("/v1/operator/operators/amy/role", json={"role": "compliance_officer"}, headers=adam)
    assert r.status_code == 200 and r.json()["role"] == "compliance_officer" and r.json()["tenant_id"] == t["a"]
    assert client.get("/v1/operator/me", headers=amy).json()["role"] == "compliance_officer"
    assert client.post("/v1/operator/operators/amy/disable", headers=adam).json()["status"] == "disabled"
    r = client.get("/v1/operator/me", headers=amy)
    assert (r.status_code, error(r)) == (401, "unauthenticated")
    r = client.post("/v1/operator/operators/adam/disable", headers=adam)
    assert (r.status_code, error(r)) == (403, "forbidden")


def test_a_platform_admin_creates_tenants_and_operators_and_every_change_is_audited(two):
    client, app, h, hs, t, a, b = two
    root = hs["root"]
    r = client.post("/v1/operator/tenants", json={"name": "shop-c"}, headers=root)
    assert r.status_code == 201, r.text
    tc, key = r.json()["tenant_id"], r.json()["api_key"]
    r = client.post(
        "/v1/accounts", json={"platform_user_id": "uc", "mobile": "13800000003"}, headers={"X-Api-Key": key}
    )
    assert r.status_code == 201, r.text
    r = client.post("/v1/operator/tenants", json={"name": "shop-c"}, headers=root)
    assert (r.status_code, error(r)) == (409, "tenant_exists")
    assert {x["name"] for x in client.get("/v1/operator/tenants", headers=root).json()} == {
        "shop-a",
        "shop-b",
        "shop-c",
    }

    r = client.post("/v1/operator/operators", json={"name": "cid", "role": "admin", "tenant_id": tc}, headers=root)
    assert r.status_code == 201, r.text
    r = client.post("/v1/operator/operators", json={"name": "pia", "role": "risk_analyst"}, headers=root)
    assert r.status_code == 201 and r.json()["tenant_id"] is None, r.text
    r = client.post(
        "/v1/operator/operators", json={"name": "ghost", "role": "admin", "tenant_id": "f" * 32}, headers=root
    )
    assert (r.status_code, error(r)) == (404, "tenant_not_found")
    r = client.post("/v1/operator/operators", json={"name": "pia", "role": "admin"}, headers=root)
    assert (r.status_code, error(r)) == (409, "operator_exists")
    # A name that already holds tokens from the command line is not taken over (its tokens would
    # move to the new tenant): refused the same way.
    r = client.post("/v1/operator/operators", json={"name": "alice", "role": "admin", "tenant_id": tc}, headers=root)
    assert (r.status_code, error(r)) == (409, "operator_exists")
    r = client.post("/v1/operator/operators", json={"name": "zed", "role": "superuser"}, headers=root)
    assert (r.status_code, error(r)) == (422, "role_invalid")
    assert (
        client.put("/v1/operator/operators/pia/role", json={"role": "compliance_officer"}, headers=root).status_code
        == 200
    )
    assert client.post("/v1/operator/operators/cid/tokens", headers=root).status_code == 201
    assert client.post("/v1/operator/operators/cid/disable", headers=root).status_code == 200

    with app.state.sessions() as s:
        rows = list(
            s.execute(
                select(AuditRecord).where(AuditRecord.actor == "operator:root").order_by(AuditRecord.seq)
            ).scalars()
        )
    done = [(r.action, r.subject) for r in rows]
    for expected in (
        ("tenant.create", f"tenant:{tc}"),
        ("operator.create", "operator:cid"),
        ("operator.create", "operator:pia"),
        ("operator.role", "operator:pia"),
        ("operator.token", "operator:cid"),
        ("operator.disable", "operator:cid"),
    ):
        assert expected in done, expected
    assert not any("ftu_" in r.details or "ftk_" in r.details for r in rows)  # never a token or key


def test_tokens_from_the_command_line_stay_platform_operators(app_ctx):
    client, app, h = app_ctx
    me = client.get("/v1/operator/me", headers=h["op"]).json()
    assert me == {"name": "alice", "role": "risk_analyst", "tenant_id": None}


# --- the console's operators page (admins) -----------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_operators_page_lists_creates_and_disables_in_the_admins_scope(tmp_path, database_url, lang):
    from webworld import (
        DESKTOP,
        assert_no_axe_violations,
        chromium,
        live_server,
        new_page,
        require_browser,
        screenshot,
    )

    require_browser()
    with running_app(tmp_path, database_url) as (client, app, h):
        root = legacy_token(app, "root", "admin")
        ta = tenant_id(app, "shop-a")
        r = client.post("/v1/operator/operators", json={"name": "adam", "role": "admin", "tenant_id": ta}, headers=root)
        adam = r.json()["token"]
        r = client.post(
            "/v1/operator/operators",
            json={"name": "bea", "role": "risk_analyst", "tenant_id": tenant_id(app, "shop-b")},
            headers=root,
        )
        assert r.status_code == 201, r.text
        with live_server(app) as base_url, chromium(None) as browser:
            page = new_page(browser, base_url, viewport=DESKTOP, lang=lang, camera_allowed=False)
            page.goto(f"/console/operators#token={adam}")
            page.locator("#ops-table tr[data-operator=adam]").wait_for()
            # A tenant admin sees their tenant's operators only, and can create only in it.
            assert page.locator("#ops-table tr[data-operator=bea]").count() == 0
            assert page.locator("#op-tenant option").count() == 1
            assert page.locator("#nav-operators").is_visible()
            assert_no_axe_violations(page, f"operators page ({lang})")
            page.fill("#op-name", "amy")
            page.select_option("#op-role", "compliance_officer")
            page.click("#op-create")
            page.locator("#op-token").wait_for()
            token = page.locator("#op-token").input_value()
            me = client.get("/v1/operator/me", headers=bearer(token)).json()
            assert me == {"name": "amy", "role": "compliance_officer", "tenant_id": ta}
            assert_no_axe_violations(page, f"operators page after creating ({lang})")
            screenshot(page, f"console-operators-{lang}")
            page.click("button[data-disable=amy]")
            page.locator("#ops-table tr[data-operator=amy] [data-value=disabled]").wait_for()
            assert client.get("/v1/operator/me", headers=bearer(token)).status_code == 401
            assert page.errors == []

            # An analyst is told the page is for admins, and has no link to it.
            analyst = new_page(browser, base_url, viewport=DESKTOP, lang=lang, camera_allowed=False)
            analyst.goto(f"/console/operators#token={h['op']['Authorization'][7:]}")
            analyst.locator("#ops-error").wait_for()
            assert not analyst.locator("#nav-operators").is_visible()
            assert_no_axe_violations(analyst, f"operators page, analyst ({lang})")
