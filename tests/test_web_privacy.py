"""The user app's side of issue 24 items 3 and 5, in a real browser: the home page downloads the
person's data as a JSON file, and the face-pay card sets their own limits, pauses and resumes face
pay, and reports a face payment they do not recognise. Li's world is built over the API (real
faces, a real payment at a terminal), then served for the browser."""

from __future__ import annotations

import json

import pytest
from creditworld import quiet_rules
from facepay import LI, ZHANG, FramePool, enrolled_world, merchant_terminal, pay_with_face
from playwright.sync_api import expect
from webworld import chromium, live_server, new_page, require_browser

pytestmark = pytest.mark.browser


def test_download_my_data_and_own_face_pay_controls(tmp_path, database_url, shared_data):
    require_browser()
    ctx, client, app, hs, tenant, users = enrolled_world(
        tmp_path,
        database_url,
        shared_data,
        [ZHANG, LI],
        [(LI, 100_000), (ZHANG, 100_000)],
        risk_rules_path=quiet_rules(tmp_path),
    )
    try:
        hl = users[LI.user]
        intent, _, view = pay_with_face(
            client, FramePool(shared_data, app), merchant_terminal(client, hs, tenant), LI, 1234, "web-1"
        )
        assert view["status"] == "paid", view
        pool = FramePool(shared_data, app)
        second, _, view = pay_with_face(client, pool, merchant_terminal(client, hs, tenant), LI, 2345, "web-2")
        assert view["status"] == "paid", view
        token = hl["Authorization"].split(" ", 1)[1]
        with live_server(app) as base_url, chromium(None) as browser:
            page = new_page(browser, base_url, lang="en")
            page.goto(f"/app/#token={token}")
            page.locator("#export").wait_for()
            with page.expect_download() as download:
                page.locator("#export").click()
            data = json.loads(open(download.value.path(), encoding="utf-8").read())
            assert data["format"] == "facetrust.personal-data-export" and data["account"]["platform_user_id"] == "li"
            assert download.value.suggested_filename.startswith("facetrust-my-data-")

            page.goto("/app/consents")
            page.locator("#face-pay-own").wait_for()
            page.fill("#own-tx", "5.00")
            page.fill("#own-day", "10.01")
            page.locator("#own-save").click()
            expect(page.locator("#face-pay-message")).to_have_text("Your limits are saved.")
            status = client.get("/v1/me/face-pay", headers=hl).json()
            assert (status["own_transaction_limit_fen"], status["own_daily_limit_fen"]) == (500, 1001)
            page.fill("#own-tx", "20.00")  # above the daily limit: the page says why
            page.locator("#own-save").click()
            expect(page.locator("#error[data-code='own_limits_inconsistent']")).to_be_visible()

            page.locator("#face-pay-pause").click()
            expect(page.locator("#face-pay-paused")).to_be_visible()
            assert client.get("/v1/me/face-pay", headers=hl).json()["paused"] is True
            page.locator("#face-pay-pause").click()
            expect(page.locator("#face-pay-paused")).to_be_hidden()
            assert client.get("/v1/me/face-pay", headers=hl).json()["paused"] is False

            page.locator("#face-payments li", has_text="¥12.34").get_by_role(
                "button", name="I don't recognise this"
            ).click()
            page.locator("#confirm-yes").click()
            expect(page.locator("#face-payments li", has_text="¥12.34")).to_contain_text(
                "Reported; our risk team will look into it"
            )
            disputed = {
                p["intent_id"]: p["disputed"] for p in client.get("/v1/me/wallet", headers=hl).json()["payments"]
            }
            assert disputed == {intent["intent_id"]: True, second["intent_id"]: False}
            assert client.get("/v1/me", headers=hl).json()["status"] == "active"

            # The history offers the same on every paid face payment it lists.
            page.goto("/app/history")
            rows = page.locator("#payments tbody tr")
            expect(rows.filter(has_text="12.34")).to_contain_text("Reported; our risk team will look into it")
            rows.filter(has_text="23.45").get_by_role("button", name="I don't recognise this").click()
            page.locator("#confirm-yes").click()
            expect(rows.filter(has_text="23.45")).to_contain_text("Reported; our risk team will look into it")
            assert all(p["disputed"] for p in client.get("/v1/me/wallet", headers=hl).json()["payments"])
            assert page.errors == []
    finally:
        ctx.__exit__(None, None, None)
