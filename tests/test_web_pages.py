"""The pages as files and headers, and the demo platform, without a browser."""

from __future__ import annotations

import time

from conftest import running_app
from facepay import id_for

from facetrust.security import signing
from facetrust.web import preload
from facetrust.web.pages import PAGES


def test_every_page_is_served_with_its_headers_and_preloads_every_module_it_imports(tmp_path, database_url):
    with running_app(tmp_path, database_url) as (client, _, _):
        for path, (_, camera) in PAGES.items():
            r = client.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            assert r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["permissions-policy"].startswith("camera=(self)" if camera else "camera=()"), path
            assert "<script>" not in r.text and " style=" not in r.text  # nothing inline: the CSP would block it
            assert client.get("/static/ft.css").status_code == 200 and 'href="/static/ft.css"' in r.text
            (entry,) = preload.ENTRY.findall(r.text)
            # Every module the page's script imports is served, and the page preloads each one.
            imported = preload.imports(entry)
            assert all(client.get(src).status_code == 200 for src in [entry, *imported]), path
            assert preload.PRELOAD.findall(r.text) == imported, path
            assert "/static/ft.js" in imported


def test_demo_platform_is_off_unless_asked(tmp_path, database_url):
    with running_app(tmp_path, database_url) as (client, _, _):
        assert client.get("/v1/demo").status_code == 404
        r = client.post("/v1/demo/sign-in")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


BANK_ID = id_for("009")


def bank_card_real_name(client, app, h) -> None:
    from facetrust.identity.models import BankCardChallenge

    r = client.post(
        "/v1/me/real-name/bank-card",
        headers=h,
        json={"name": "王芳", "id_number": BANK_ID, "card_number": "4111111111111111", "mobile": "13912345678"},
    )
    assert r.status_code == 202, r.text
    challenge = r.json()["challenge_id"]
    with app.state.sessions() as s:
        code = app.state.kyc.bank.code_sent_for_tests(s.get(BankCardChallenge, challenge).bank_reference)
    r = client.post(f"/v1/me/real-name/bank-card/{challenge}/confirm", headers=h, json={"code": code})
    assert r.status_code == 201 and r.json()["outcome"] == "passed", r.text


def test_demo_platform_signs_in_offers_an_order_and_provisions_a_terminal(tmp_path, database_url):
    bank = tmp_path / "bank.csv"
    bank.write_text(
        f"bank,card_number,name,id_number,mobile\nSim Bank,4111111111111111,王芳,{BANK_ID},13912345678\n",
        encoding="utf-8",
    )
    with running_app(tmp_path, database_url, demo=True, bank_registry=bank) as (client, app, hs):
        assert client.get("/v1/demo").json()["demo"] is True
        r = client.post("/v1/demo/sign-in")
        assert r.status_code == 201, r.text
        h = {"Authorization": "Bearer " + r.json()["token"]}
        me = client.get("/v1/me", headers=h).json()
        assert me["platform_user_id"] == r.json()["platform_user_id"] and me["status"] == "active"
        assert client.get("/v1/me/wallet", headers=h).json()["balance_fen"] == 1_000_00
        other = client.post("/v1/demo/sign-in").json()
        assert other["platform_user_id"] != me["platform_user_id"]  # a new account each time

        r = client.post("/v1/demo/checkouts", headers=h)  # credit needs the real name verified first
        assert r.status_code == 409 and r.json()["error"]["code"] == "real_name_required"
        bank_card_real_name(client, app, h)
        r = client.post("/v1/demo/checkouts", headers=h)
        assert r.status_code == 201, r.text
        assert client.get("/v1/me/credit", headers=h).json()["line"]["available_fen"] == 20_000_00
        checkout = client.get(f"/v1/me/credit/checkouts/{r.json()['checkout_id']}", headers=h).json()
        assert checkout["merchant_name"] == "Demo Mall" and checkout["amount_fen"] == 5_999_00 and checkout["offers"]

        # A real platform's user cannot use the demo shop.
        assert (
            client.post(
                "/v1/accounts", json={"platform_user_id": "u1", "mobile": "13812345678"}, headers=hs["a"]
            ).status_code
            == 201
        )
        real = {"Authorization": "Bearer " + client.post("/v1/accounts/u1/tokens", headers=hs["a"]).json()["token"]}
        r = client.post("/v1/demo/checkouts", headers=real)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

        # The demo terminal signs a real payment intent.
        terminal = client.post("/v1/demo/terminal").json()
        body = b'{"amount_fen": 350, "currency": "CNY", "merchant_order_id": "o1", "idempotency_key": "k1"}'
        headers = signing.headers(
            terminal["terminal_id"],
            terminal["secret"],
            "POST",
            "/v1/terminal/payment-intents",
            body,
            int(time.time()),
            None,
        )
        r = client.post(
            "/v1/terminal/payment-intents", content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert r.status_code == 201 and r.json()["capture_url"].startswith("/pay/capture#"), r.text


def test_first_use_of_the_demo_platform_is_race_safe(tmp_path, database_url):
    """Issue 19, item 15: 50 sign-ins at once on a fresh database each made the demo tenant; the
    losers of the race answered 500. Now each gets its account, under one tenant and one shop."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from facetrust.identity.models import Account, Tenant
    from facetrust.payments.models import Merchant
    from facetrust.security.models import AuditRecord
    from facetrust.web import demo

    with running_app(tmp_path, database_url, demo=True) as (client, app, _):
        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(lambda _: client.post("/v1/demo/sign-in"), range(50)))
            terminals = list(pool.map(lambda _: client.post("/v1/demo/terminal"), range(20)))
        assert sorted({r.status_code for r in answers}) == [201], [r.text for r in answers if r.status_code != 201]
        assert sorted({r.status_code for r in terminals}) == [201], [r.text for r in terminals if r.status_code != 201]
        with app.state.sessions() as s:
            (tenant,) = s.execute(select(Tenant).where(Tenant.name == demo.TENANT)).scalars().all()
            assert s.scalar(select(func.count()).select_from(Account).where(Account.tenant_id == tenant.id)) == 50
            assert s.scalar(select(func.count()).select_from(Merchant).where(Merchant.tenant_id == tenant.id)) == 1
            created = (
                s.execute(select(AuditRecord.subject).where(AuditRecord.action == "tenant.create")).scalars().all()
            )
            tenants = [f"tenant:{t}" for t in s.execute(select(Tenant.id)).scalars()]
            assert sorted(created) == sorted(tenants)  # the losers of the race left no record of a creation


def test_browser_tests_write_their_screenshots_outside_the_repository_unless_asked(tmp_path, monkeypatch):
    """Issue 19, item 19: running the browser tests rewrote the tracked docs/screenshots/*.png.
    Only FACETRUST_SCREENSHOTS_DIR (say docs/screenshots, to refresh the README's pictures) puts
    them anywhere else than a scratch directory."""
    from pathlib import Path

    import webworld

    class Page:  # what screenshot() needs of a Playwright page
        def screenshot(self, path: str, full_page: bool) -> None:
            Path(path).write_bytes(b"png")

    tracked = (Path(webworld.__file__).parent.parent / "docs" / "screenshots").resolve()
    before = {p: p.stat().st_mtime_ns for p in tracked.glob("*.png")}
    monkeypatch.delenv("FACETRUST_SCREENSHOTS_DIR", raising=False)
    shot = webworld.screenshot(Page(), "app-real-name-choose").resolve()
    assert shot.read_bytes() == b"png" and tracked not in shot.parents
    assert not shot.is_relative_to(tracked.parent.parent)  # nowhere in the repository
    assert {p: p.stat().st_mtime_ns for p in tracked.glob("*.png")} == before
    monkeypatch.setenv("FACETRUST_SCREENSHOTS_DIR", str(tmp_path / "asked"))
    assert webworld.screenshot(Page(), "x") == tmp_path / "asked" / "x.png" and (tmp_path / "asked" / "x.png").exists()
