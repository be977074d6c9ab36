"""Issue 22, item 8: the vending machine's screen at its own sizes, portrait 1080x1920 and landscape
1280x800. Its settings open only with the operator PIN chosen at provisioning (kept as a salted
hash; wrong PINs lead to a cool-down); resetting asks in the page; a payment takes one tap (the
platform's capture page starts by itself and its "tap start" hint steps aside during the capture);
the result goes back to a new sale after a few seconds, or at once on a tap; and the sale screen
fills the portrait screen with large text and targets."""

from __future__ import annotations

import json
import re

import pytest
from facepay import LI, merchant_terminal, register, switch_on
from playwright.sync_api import expect
from webworld import chromium, fix_payment_challenge, new_page, require_browser, screenshot, type_amount, web_world

from facetrust.payments.models import PaymentIntent

pytestmark = pytest.mark.browser

PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1280, "height": 800}
PIN = "4711"
DECIDED = 60_000


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


def provision(page, terminal, pin: str = PIN) -> None:
    """The installer's first run: the operator PIN twice, then the terminal id and secret."""
    page.goto("/terminal/")
    expect(page.locator("#setup")).to_be_visible()
    page.fill("#terminal-pin", pin)
    page.fill("#terminal-pin-again", pin)
    page.fill("#terminal-id", terminal.id)
    page.fill("#terminal-secret", terminal.secret)
    page.click("#setup-save")
    expect(page.locator("#sale")).to_be_visible()


def stored(page) -> dict:
    return json.loads(page.evaluate("() => localStorage.getItem('facetrust.terminal')") or "null")


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def test_the_settings_need_the_operator_pin_with_limited_tries_and_a_reset_asks_in_the_page(
    tmp_path, database_url, shared_data
):
    with web_world(tmp_path, database_url, shared_data, [LI]) as world:
        terminal = merchant_terminal(world.client, world.hs, world.tenant_id)
        with chromium(None) as browser:
            page = new_page(browser, world.base_url, viewport=LANDSCAPE, lang="en")
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.clock.install()  # the cool-down is waited out by moving the page's clock

            # Provisioning needs a PIN, typed the same twice.
            page.goto("/terminal/")
            page.fill("#terminal-id", terminal.id)
            page.fill("#terminal-secret", terminal.secret)
            page.click("#setup-save")
            expect(page.locator("#setup-error")).to_have_text("Choose an operator PIN of 4 to 8 digits first.")
            page.fill("#terminal-pin", PIN)
            page.fill("#terminal-pin-again", "4712")
            page.click("#setup-save")
            expect(page.locator("#setup-error")).to_have_text("The two PINs are not the same.")
            assert stored(page) is None
            page.fill("#terminal-pin-again", PIN)
            page.click("#setup-save")
            expect(page.locator("#sale")).to_be_visible()
            config = stored(page)
            assert config["id"] == terminal.id and PIN not in json.dumps(config)  # only a salted hash of the PIN
            assert (
                len(config["pin"]["salt"]) == 32
                and len(config["pin"]["hash"]) == 64
                and config["pin"]["iterations"] >= 100_000
            )

            # A shopper taps Settings: the PIN screen, not the machine's credentials.
            page.click("#settings")
            expect(page.locator("#pin")).to_be_visible()
            expect(page.locator("#setup")).to_be_hidden()
            expect(page.locator("#pin h1")).to_have_text("Enter the operator PIN")
            for left in (4, 3, 2, 1):
                page.fill("#pin-entry", "0000")
                page.click("#pin-ok")
                expect(page.locator("#pin-error")).to_have_text(f"Wrong PIN. {left} tries left.")
                expect(page.locator("#setup")).to_be_hidden()
            page.fill("#pin-entry", "1234")
            page.click("#pin-ok")
            expect(page.locator("#pin-error")).to_have_text("Too many wrong PINs. Try again in 60 seconds.")
            expect(page.locator("#pin-entry")).to_be_disabled()

            # The cool-down survives a reload, and ends.
            page.reload()
            page.click("#settings")
            expect(page.locator("#pin-entry")).to_be_disabled()
            expect(page.locator("#pin-error")).to_contain_text("Too many wrong PINs")
            page.clock.run_for(61_000)
            expect(page.locator("#pin-entry")).to_be_enabled()
            page.fill("#pin-entry", PIN)
            page.click("#pin-ok")
            expect(page.locator("#setup")).to_be_visible()
            expect(page.locator("#terminal-id")).to_have_value(terminal.id)
            expect(page.locator("#terminal-secret")).to_have_value("")  # the secret is never shown back
            page.click("#setup-cancel")
            expect(page.locator("#sale")).to_be_visible()
            page.click("#settings")  # leaving the settings locks them again
            expect(page.locator("#pin")).to_be_visible()

            # In Chinese too; then the reset asks in the page: Escape keeps everything, confirming clears it.
            page.click("#lang")
            expect(page.locator("#pin h1")).to_have_text("输入操作员 PIN")
            page.fill("#pin-entry", "9999")
            page.click("#pin-ok")
            expect(page.locator("#pin-error")).to_have_text("PIN 不正确。还可以再试 4 次。")
            page.fill("#pin-entry", PIN)
            page.click("#pin-ok")
            page.click("#setup-reset")
            reset = page.get_by_role("dialog", name="清除本机设置？")
            expect(reset).to_be_visible()
            expect(reset).to_contain_text("终端编号、密钥和操作员 PIN 会从本机删除")
            assert page.evaluate("() => document.activeElement.id") == "confirm-no"
            page.keyboard.press("Escape")
            expect(reset).to_have_count(0)
            assert stored(page)["id"] == terminal.id
            page.click("#setup-reset")
            page.click("#confirm-yes")
            expect(page.locator("#setup")).to_be_visible()
            assert stored(page) is None
            expect(page.locator("#terminal-id")).to_have_value("")
            assert dialogs == [] and page.errors == []


def test_landscape_result_goes_back_to_a_new_sale_after_a_few_seconds_or_on_a_tap(tmp_path, database_url, shared_data):
    with web_world(tmp_path, database_url, shared_data, [LI]) as world:
        terminal = merchant_terminal(world.client, world.hs, world.tenant_id)
        with chromium(None) as browser:
            page = new_page(browser, world.base_url, viewport=LANDSCAPE, lang="en")
            page.clock.install()
            provision(page, terminal)
            # The whole sale screen is on the 1280x800 screen: no scrolling to reach "pay".
            assert box(page, "#pay")["y"] + box(page, "#pay")["height"] <= LANDSCAPE["height"]
            assert page.evaluate("() => document.documentElement.scrollWidth") <= LANDSCAPE["width"]
            screenshot(page, "terminal-landscape")

            # A payment decided elsewhere: the machine reads its result (answered here by the test).
            paid = {
                "intent_id": "pi-test",
                "status": "paid",
                "amount_fen": 350,
                "currency": "CNY",
                "merchant_order_id": "vm-1",
                "payer_name_masked": "李*",
                "transaction_id": "tx-1",
                "capture_url": None,
            }
            page.route("**/v1/terminal/payment-intents/pi-test", lambda route: route.fulfill(json=paid))
            for _ in range(2):
                page.goto("/terminal/#intent=pi-test")
                page.reload()  # a fragment change alone is the same document: load it afresh
                expect(page.locator("#result-body")).to_have_attribute("data-status", "paid")
                expect(page.locator("#result-countdown")).to_have_text(
                    re.compile(r"Back to a new sale in (10|9) s; tap the screen to start one now\.")
                )
                if _ == 0:
                    page.click("#result-body")  # a tap anywhere on the result
                else:
                    page.clock.run_for(5_000)
                    expect(page.locator("#result")).to_be_visible()  # still up after 5 s
                    expect(page.locator("#result-countdown")).to_contain_text(re.compile(r"in [345] s"))
                    page.clock.run_for(6_000)
                expect(page.locator("#sale")).to_be_visible()
                expect(page.locator("#amount")).to_have_text("¥0.00")
            assert page.errors == []


def test_portrait_kiosk_fills_the_screen_and_one_tap_pays(tmp_path, database_url, shared_data):
    with web_world(tmp_path, database_url, shared_data, [LI]) as world:
        h = register(world.client, world.app, world.hs, shared_data, LI, fund_fen=10_000)
        assert switch_on(world.client, world.app, h, shared_data, LI).status_code == 201
        terminal = merchant_terminal(world.client, world.hs, world.tenant_id)
        before = world.client.get("/v1/me/wallet", headers=h).json()["balance_fen"]
        world.camera.show(LI.clip, 160, 280)  # a blink at 193-196
        with chromium(world.camera.path) as browser:
            page = new_page(browser, world.base_url, viewport=PORTRAIT, lang="zh")
            fix_payment_challenge(page, world.app, ["blink"])
            provision(page, terminal)

            # Laid out for the kiosk: the sale fills the screen, not its top quarter, in large type.
            sale = box(page, "#sale")
            assert sale["height"] >= 0.75 * PORTRAIT["height"], sale
            pay = box(page, "#pay")
            assert pay["y"] + pay["height"] <= PORTRAIT["height"] and pay["y"] >= 0.75 * PORTRAIT["height"], pay
            assert page.evaluate("() => document.documentElement.scrollHeight") <= PORTRAIT["height"]
            assert (
                page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#amount')).fontSize)") >= 100
            )
            key = box(page, '#keypad [data-key="5"]')
            assert key["height"] >= 120 and key["width"] >= 250, key
            assert page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#pay')).fontSize)") >= 48
            screenshot(page, "terminal-portrait")

            type_amount(page, "3.5")
            page.click("#pay")  # the only tap
            page.wait_for_url("**/pay/capture#*")
            page.wait_for_function("() => document.querySelector('.camera video')?.videoWidth > 0")
            expect(page.locator("#start")).to_be_hidden()
            expect(page.get_by_text("点击开始后")).to_have_count(0)
            expect(page.locator("#face-help")).to_be_hidden()  # the camera's prompt says what to do now
            screenshot(page, "pay-capture-portrait")
            expect(page.locator("#stage")).to_have_attribute("data-status", "paid", timeout=DECIDED)
            page.wait_for_url("**/terminal/#intent=*", timeout=30_000)
            expect(page.locator("#result-body")).to_contain_text("李*")
            expect(page.locator("#result-countdown")).to_contain_text("秒后自动返回")
            screenshot(page, "terminal-paid-portrait")
            expect(page.locator("#sale")).to_be_visible(timeout=15_000)  # back to a new sale by itself
            expect(page.locator("#amount")).to_have_text("¥0.00")
            assert page.errors == []

        with world.app.state.sessions() as s:
            assert [(i.status, i.amount_fen) for i in s.query(PaymentIntent).all()] == [("paid", 350)]
        assert world.client.get("/v1/me/wallet", headers=h).json()["balance_fen"] == before - 350
