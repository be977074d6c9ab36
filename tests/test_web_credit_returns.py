"""The user's history page shows the returns of their installment purchases, in Chinese and in
English (issue 24, item 1): the plan's status, and each return with what it cancelled and what went
back to the wallet. The plan and its returns are made by the real services (``Shop`` of
test_credit_returns: a purchase written as ``plans.open_plan`` writes it, then a repayment and two
returns through ``repayments.repay`` and ``returns.return_goods``)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import copy_database
from facepay import LI
from playwright.sync_api import expect
from test_credit_returns import FEE_PRODUCT, Shop
from webworld import chromium, new_page, require_browser, screenshot, web_world

from facetrust.credit import repayments
from facetrust.credit.models import CreditCheckout, CreditPlan
from facetrust.identity.models import Account

pytestmark = pytest.mark.browser


def test_the_history_page_shows_returns_in_both_languages(tmp_path, shared_data):
    require_browser()
    with web_world(tmp_path, copy_database(tmp_path), shared_data, [LI]) as world:
        token = world.new_user(LI)
        account_id = world.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["account_id"]
        shop = Shop(world.app.state.sessions, fee_bps=60, account_id=account_id)
        start = dt.date(2026, 11, 23)
        returned = shop.buy(FEE_PRODUCT, 300_000, 6, start)
        kept = shop.buy(FEE_PRODUCT, 120_000, 3, start)
        with world.app.state.sessions() as s:
            plan = s.get(CreditPlan, s.get(CreditCheckout, returned).plan_id)
            repayments.repay(s, s.get(Account, account_id), plan, "installment", None, "k1", dt.date(2026, 12, 23))
            s.commit()
        shop.give_back(returned, "rma-1", 300_000)  # all of it: 500.00 principal and 18.00 fee come back
        shop.give_back(kept, "rma-2", 20_000)  # part of the other: 200.00 off what is owed
        with chromium(None) as browser:
            for lang, full, partial, status in (
                ("zh", "全部退货", "部分退货", "已退货"),
                ("en", "Full return", "Partial return", "Returned"),
            ):
                page = new_page(browser, world.base_url, lang=lang)
                page.goto(f"/app/history#token={token}")
                rows = page.locator("#returns tbody tr")
                expect(rows).to_have_count(2)
                expect(page.locator("#returns")).to_contain_text(full)
                expect(page.locator("#returns")).to_contain_text(partial)
                expect(rows.filter(has_text=full)).to_contain_text("¥3,000.00")
                expect(rows.filter(has_text=full)).to_contain_text("¥518.00")  # back to the wallet
                expect(rows.filter(has_text=partial)).to_contain_text("¥200.00")
                expect(page.locator("#plans")).to_contain_text(status)
                screenshot(page, f"app-history-returns-{lang}")
                assert page.errors == []
