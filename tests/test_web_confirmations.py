"""Issue 22 in a real browser: nothing moves money or deletes on one tap, a frozen account is told
what, why, what is left and whom to call, and the small things (no tab wrongly marked, no default
blue links, an icon, a new #token= on an open page).

Each money movement and deletion of the user app asks first in the page (ft.js ``confirmDialog``, a
modal ``<dialog>``), in the page's language, never with the browser's ``confirm()``: the tests check
the service's state (wallet, installments, face pay, consents) is unchanged after the first tap and
after cancelling, by the cancel button and by Escape, and changed only by the confirm button.

One world for the module: Li real-named by face, funded, face pay on, a loan drawn (three real
captures over HTTP), the demo platform on (its shop button on the home page) and a support contact
set in the settings."""

from __future__ import annotations

import re

import pytest
from capture import passed_session
from conftest import copy_database
from facepay import LI, ZHANG, consent, register, switch_on, take_for
from playwright.sync_api import expect
from webworld import PHONE, chromium, new_page, require_browser, screenshot, web_world

pytestmark = pytest.mark.browser

CNY = 100
SUPPORT = "95000-1234 · help@shop-a.example"


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def li(tmp_path_factory, shared_data):
    require_browser()
    tmp = tmp_path_factory.mktemp("confirmations")
    with web_world(tmp, copy_database(tmp), shared_data, [LI], demo=True, support_contact=SUPPORT) as world:
        h = register(world.client, world.app, world.hs, shared_data, LI, fund_fen=3_000 * CNY)
        assert switch_on(world.client, world.app, h, shared_data, LI).status_code == 201
        consent(world.client, h, "credit_face_verification")
        account_id = world.client.get("/v1/me", headers=h).json()["account_id"]
        r = world.client.put(
            f"/v1/operator/accounts/{account_id}/credit-line",
            headers=world.hs["risk_analyst"],
            json={"limit_fen": 20_000 * CNY, "reason": "test"},
        )
        assert r.status_code == 200, r.text
        session_id = passed_session(world.client, world.app, h, shared_data, "loan", take_for(world.app, LI, "two"))
        r = world.client.post(
            "/v1/me/credit/loans",
            headers=h,
            json={
                "product_id": "cash-loan-annuity",
                "amount_fen": 1_200 * CNY,
                "periods": 6,
                "liveness_session_id": session_id,
                "idempotency_key": "confirmations-loan",
            },
        )
        assert r.status_code == 201, r.text
        world.li, world.li_account, world.plan_id = h, account_id, r.json()["plan_id"]
        yield world


def open_page(browser, world, path: str, lang: str, viewport=PHONE):
    """The page signed in as Li, in ``lang``; every browser dialog (alert, confirm) is recorded: there must be none."""
    page = new_page(browser, world.base_url, viewport=viewport, lang=lang)
    page.browser_dialogs = []
    page.on("dialog", lambda d: (page.browser_dialogs.append(d.message), d.dismiss()))
    page.goto(f"{path}#token={world.token(LI)}")
    return page


def money_state(world) -> tuple:
    """What a repayment would change: the wallet and each installment's status."""
    balance = world.client.get("/v1/me/wallet", headers=world.li).json()["balance_fen"]
    plan = world.client.get(f"/v1/me/credit/plans/{world.plan_id}", headers=world.li).json()
    return balance, tuple(i["status"] for i in plan["installments"])


def assert_dialog_is_modal_and_has_focus(page, name: str) -> None:
    dialog = page.get_by_role("dialog", name=name)
    expect(dialog).to_be_visible()
    assert page.evaluate("() => document.querySelector('#confirm-dialog').matches(':modal')")
    assert page.evaluate("() => document.activeElement.id") == "confirm-no"  # focus moved in, on the safe choice
    assert page.evaluate("() => document.activeElement.closest('dialog') !== null")


def test_a_repayment_is_confirmed_in_the_page_with_amount_and_source_and_cancelling_moves_nothing(li):
    world = li
    with chromium(None) as browser:
        page = open_page(browser, world, "/app/history", "zh")
        button = page.locator(f'#next-payments button[data-plan="{world.plan_id}"]')
        before = money_state(world)
        due = world.client.get(f"/v1/me/credit/plans/{world.plan_id}", headers=world.li).json()["next_payment"]

        button.click()  # one tap: a question, not a payment
        assert_dialog_is_modal_and_has_focus(page, "确认还款")
        dialog = page.locator("#confirm-dialog")
        expect(dialog).to_contain_text(f"¥{yuan(due['amount_fen'])}")
        expect(dialog).to_contain_text(f"钱包（余额 ¥{yuan(before[0])}）")
        expect(dialog).to_contain_text(f"借款第 1 期，{due['due_date']} 到期")
        expect(dialog).to_contain_text("将立即从您的钱包转出")
        expect(page.locator("#confirm-yes")).to_have_text(f"确认还款 ¥{yuan(due['amount_fen'])}")
        expect(page.locator("#confirm-no")).to_have_text("暂不还款")
        screenshot(page, "app-repay-confirm")
        assert money_state(world) == before
        page.click("#confirm-no")
        expect(dialog).to_have_count(0)
        assert page.evaluate("() => document.activeElement.dataset.plan") == world.plan_id  # focus back on the button
        assert money_state(world) == before

        button.click()
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")  # Escape cancels
        expect(dialog).to_have_count(0)
        assert money_state(world) == before

        button.click()
        page.click("#confirm-yes")
        expect(page.locator("#repaid")).to_be_visible()
        after = money_state(world)
        assert after[0] == before[0] - due["amount_fen"] and after[1][0] == "paid" and after[1][1:] == before[1][1:]
        assert page.browser_dialogs == [] and page.errors == []

        # In English, the next installment: the same question in the page's language.
        page = open_page(browser, world, "/app/history", "en")
        before = money_state(world)
        due = world.client.get(f"/v1/me/credit/plans/{world.plan_id}", headers=world.li).json()["next_payment"]
        page.locator(f'#next-payments button[data-plan="{world.plan_id}"]').click()
        assert_dialog_is_modal_and_has_focus(page, "Confirm the repayment")
        dialog = page.locator("#confirm-dialog")
        expect(dialog).to_contain_text(f"Your wallet (balance ¥{yuan(before[0])})")
        expect(dialog).to_contain_text(f"Loan, payment 2, due {due['due_date']}")
        expect(dialog).to_contain_text("leaves your wallet at once")
        expect(page.locator("#confirm-yes")).to_have_text(f"Repay ¥{yuan(due['amount_fen'])}")
        assert money_state(world) == before
        page.click("#confirm-yes")
        expect(page.locator("#repaid")).to_contain_text("Repaid")
        assert money_state(world)[0] == before[0] - due["amount_fen"]
        assert page.browser_dialogs == [] and page.errors == []


def face_pay_on(world) -> bool:
    return world.client.get("/v1/me/face-pay", headers=world.li).json()["enabled"]


def granted(world) -> dict:
    return world.client.get("/v1/me/consents", headers=world.li).json()["granted"]


def test_switching_face_pay_off_and_withdrawing_a_consent_ask_first_and_cancelling_deletes_nothing(li):
    world = li
    assert face_pay_on(world)
    with chromium(None) as browser:
        page = open_page(browser, world, "/app/consents", "en")
        page.locator("#face-pay-revoke").click()
        assert_dialog_is_modal_and_has_focus(page, "Switch off face pay and delete your face template?")
        expect(page.locator("#confirm-dialog")).to_contain_text("deleted for good")
        expect(page.locator("#confirm-yes")).to_have_text("Switch off and delete")
        screenshot(page, "app-face-pay-off-confirm-en")
        assert face_pay_on(world)
        page.click("#confirm-no")
        expect(page.locator("#confirm-dialog")).to_have_count(0)
        assert face_pay_on(world)

        # Withdrawing the credit consent: asked too, and cancelled.
        page.locator("#purpose-credit_face_verification button").click()
        assert_dialog_is_modal_and_has_focus(
            page, "Withdraw your consent to \u201cFace confirmation for installments and loans\u201d?"
        )
        page.keyboard.press("Escape")
        expect(page.locator("#confirm-dialog")).to_have_count(0)
        assert granted(world).get("credit_face_verification")
        assert page.browser_dialogs == [] and page.errors == []

        page = open_page(browser, world, "/app/consents", "zh")
        page.locator("#face-pay-revoke").click()
        assert_dialog_is_modal_and_has_focus(page, "关闭刷脸支付并删除人脸特征？")
        expect(page.locator("#confirm-dialog")).to_contain_text("您的人脸特征会被永久删除")
        expect(page.locator("#confirm-no")).to_have_text("保持开通")
        screenshot(page, "app-face-pay-off-confirm")
        page.keyboard.press("Escape")
        expect(page.locator("#confirm-dialog")).to_have_count(0)
        assert face_pay_on(world)
        page.locator("#face-pay-revoke").click()
        page.click("#confirm-yes")
        expect(page.locator("#face-pay-message")).to_have_text("刷脸支付已关闭，您的人脸特征已删除。")
        assert not face_pay_on(world)
        assert page.browser_dialogs == [] and page.errors == []


def test_a_frozen_account_is_told_what_why_what_is_left_and_how_to_reach_support(li):
    world = li
    reason = "analyst note: device farm suspected, case 77"  # the operator's words stay with the operators
    r = world.client.post(
        f"/v1/operator/accounts/{world.li_account}/freeze", headers=world.hs["risk_analyst"], json={"reason": reason}
    )
    assert r.status_code == 200, r.text
    try:
        me = world.client.get("/v1/me", headers=world.li).json()
        assert me["status"] == "frozen" and me["frozen"]["cause"] == "review" and me["support_contact"] == SUPPORT
        with chromium(None) as browser:
            for lang, texts in {
                "zh": (
                    "您的账户已被冻结",
                    "付款（包括刷脸支付）、还款、借款",
                    "风控人员正在复核",
                    "查看账户、钱包余额",
                    f"客服：{SUPPORT}",
                    "账户冻结期间不能借款",
                    "账户冻结期间不能分期购物。",
                ),
                "en": (
                    "Your account is frozen",
                    "payments (face pay too), repayments, borrowing",
                    "our risk team has been reviewing",
                    "see your account, wallet balance",
                    f"Support: {SUPPORT}",
                    "No borrowing while the account is frozen",
                    "No shopping on installments while the account is frozen.",
                ),
            }.items():
                page = open_page(browser, world, "/app/", lang)
                frozen = page.locator("#frozen")
                expect(frozen).to_be_visible()
                title, what, why, can, support, no_borrow, no_shop = texts
                expect(frozen.locator("h2")).to_have_text(title)
                expect(page.locator("#frozen-what")).to_contain_text(what)
                expect(page.locator("#frozen-why")).to_contain_text(why)
                expect(page.locator("#frozen-can")).to_contain_text(can)
                expect(page.locator("#support-contact")).to_have_text(support)
                expect(page.locator("#borrow")).to_have_count(0)  # borrowing is not offered
                expect(page.locator("#borrow-frozen")).to_have_text(no_borrow)
                expect(page.locator("#demo-order")).to_be_disabled()  # nor the shop
                expect(page.locator("#shop-frozen")).to_have_text(no_shop)
                assert reason not in page.content() and "farm" not in page.content()
                screenshot(page, f"app-home-frozen-{lang}")

                # The loan page, opened directly, says the same instead of a form.
                page.goto("/app/loan")
                expect(page.locator("#frozen #support-contact")).to_have_text(support)
                expect(page.locator("#form")).to_be_hidden()
                assert page.browser_dialogs == [] and page.errors == []

            # A repayment tried anyway is refused, and the refusal carries the support contact.
            page = open_page(browser, world, "/app/", "zh")
            expect(page.locator("#frozen")).to_be_visible()
            before = money_state(world)
            page.goto("/app/history")
            page.locator(f'#next-payments button[data-plan="{world.plan_id}"]').click()
            page.click("#confirm-yes")
            error = page.locator("#error")
            expect(error).to_have_attribute("data-code", "account_frozen")
            expect(error.locator(".support")).to_have_text(f"客服：{SUPPORT}")
            assert money_state(world) == before
    finally:
        r = world.client.post(
            f"/v1/operator/accounts/{world.li_account}/unfreeze",
            headers=world.hs["compliance_officer"],
            json={"reason": "reviewed"},
        )
        assert r.status_code == 200, r.text


def test_no_tab_is_wrongly_marked_links_are_styled_the_icon_is_served_and_a_new_token_is_used(li):
    world = li
    r = world.client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\0\0\1\0" and r.content[22:30] == b"\x89PNG\r\n\x1a\n"  # an ICO holding a PNG
    with chromium(None) as browser:
        page = open_page(browser, world, "/app/", "en")
        missing = []
        page.on("response", lambda resp: missing.append(resp.url) if resp.status == 404 else None)
        expect(page.locator("#home h1")).to_have_text("My account")
        # Links in the brand's colour, never the browser's default blue (or visited purple).
        colours = page.evaluate("() => [...document.querySelectorAll('main a')].map((a) => getComputedStyle(a).color)")
        assert colours and not {"rgb(0, 0, 238)", "rgb(85, 26, 139)"} & set(colours), colours
        assert page.evaluate("() => fetch('/favicon.ico').then((r) => r.status)") == 200

        for path in ("/app/loan", "/app/checkout"):
            page.goto(path)
            page.locator("header.bar nav a").first.wait_for()
            marked = page.locator('header.bar nav a[aria-current="page"]')
            expect(marked).to_have_count(0)  # neither is the history tab (nor any other)
        page.goto("/app/history")
        expect(page.locator('header.bar nav a[aria-current="page"]')).to_have_attribute("href", "/app/history")
        assert missing == []

        # The platform's app opens the open page again for someone else: the new token is used.
        page.goto("/app/")
        expect(page.locator("#home h1")).to_have_text("My account")
        other = world.new_user(ZHANG)
        page.evaluate("(token) => { location.hash = 'token=' + token; }", other)
        expect(page.locator("#home dd").first).to_have_text(re.compile(ZHANG.mobile[:3] + r".*" + ZHANG.mobile[-4:]))
        assert "#token" not in page.url
        assert page.evaluate("() => sessionStorage.getItem('facetrust.user')") == other
        assert page.browser_dialogs == [] and page.errors == []
