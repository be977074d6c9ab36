"""The user app in a real browser: a new user proves their real name with the camera, switches face
pay on, pays at a vending machine, revokes face pay and then cannot pay, buys on installments
confirmed by their face; and the pages' failures say what to do.

Headless Debian Chromium; its fake camera plays segments of a real person's clip, each segment used
once in a world (or once mirrored: another capture of the same person), so every capture is new
moments through the real liveness, matching and credit code. The challenge is fixed to the actions
the segment shows, in order, as the API tests do: two for real name, enrolment, installment and loan,
one (an open mouth) at the vending machine.

The journey is Zhang's (d3.mp4): it needs four two-action captures and two payment captures in one
world, and d3 holds them (turn right then blink, turn left then turn right, each also mirrored; an
open mouth, also mirrored). Li's clip (d9) holds two two-action stretches, and the second one's open
mouth is wide in a single frame: a page grabbing 9 frames a second from a camera at half speed
catches it about six times in ten.
"""

from __future__ import annotations

import re

import pytest
from facepay import LI, ZHANG, merchant_terminal
from playwright.sync_api import expect
from webworld import (
    DESKTOP,
    PHONE,
    chromium,
    fix_challenge,
    fix_payment_challenge,
    new_page,
    require_browser,
    screenshot,
    set_up_terminal,
    type_amount,
    web_world,
)

pytestmark = pytest.mark.browser

CNY = 100

# Segments of Zhang's clip (d3, 30 fps, played at half speed: a two-action capture records about
# 6 s, 95 frames of the clip, a payment's about 3.6 s), with the actions they show, in order; each
# longer than its capture, so the fake camera's file does not loop.
TURN_RIGHT_BLINK = (0, 125)  # turn right 5-27 (peak 14), blink 47-52
TURN_LEFT_RIGHT = (140, 260)  # turn left 148-182 (peak 165), turn right 196-228 (peak 210)
OPEN_MOUTH = (260, 354)  # open from 297 to the clip's end
# Li's clip (d9), for her own failures: blinks at 10-18 and 36-47, open mouths at 68-71 and 86-89, no
# turn; 8 s at half speed, so the fake camera's file does not loop during a two-action capture (a
# looped file shows the same pictures again, which the service refuses as a replay).
REAL_NAME = (0, 120)


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    require_browser()
    with web_world(tmp_path, database_url, shared_data, [LI, ZHANG]) as w:
        yield w


def sign_in(page, token: str, path: str = "/app/") -> None:
    """The platform's app opens the page with the token in the fragment (never sent to a server)."""
    page.goto(f"{path}#token={token}")


def confirmed_or_refused(page, done: str) -> None:
    """Wait for the page's success (``done``) or its error, and fail with the error's text: a face
    check the page refused says why, instead of a bare time-out."""
    page.wait_for_function(
        """done => {
            const shown = (node) => node !== null && !node.hidden && node.getClientRects().length > 0;
            const error = document.getElementById("error");
            return shown(document.querySelector(done)) || (shown(error) && error.textContent.trim() !== "");
        }""",
        arg=done,
        timeout=60_000,
    )
    assert page.locator(done).is_visible(), f"the page refused: {page.locator('#error').inner_text()}"


def test_new_user_real_name_face_pay_vending_installment_loan_and_repayment(world):
    token = world.new_user(ZHANG, fund_fen=500 * CNY)
    with chromium(world.camera.path) as browser:
        page = new_page(browser, world.base_url, viewport=PHONE, lang="zh")
        sign_in(page, token)
        page.get_by_text("未认证").wait_for()
        assert "#token" not in page.url  # the token left the address bar at once
        screenshot(page, "app-home-new-user")

        # Real-name authentication: both methods offered as equals, the face one chosen.
        page.goto("/app/real-name")
        page.locator("#choose-face").wait_for()
        choices = page.locator(".choice")
        assert choices.count() == 2
        boxes = [choices.nth(i).bounding_box() for i in range(2)]
        assert abs(boxes[0]["width"] - boxes[1]["width"]) < 2 and abs(boxes[0]["height"] - boxes[1]["height"]) < 2
        screenshot(page, "app-real-name-choose")
        page.locator("#choose-face").click()
        page.fill("#name", ZHANG.name)
        page.fill("#id-number", ZHANG.id_number)
        assert "公安机关" in page.locator("#notice-text").inner_text()  # the kyc notice, in Chinese
        screenshot(page, "app-real-name-face-form")
        world.camera.show(ZHANG.clip, *TURN_RIGHT_BLINK)
        fix_challenge(page, world.app, ["turn_right", "blink"])
        page.locator("#submit").click()
        page.locator(".camera .prompt", has_text="请向右转头").wait_for()
        screenshot(page, "app-capture-challenge")
        page.locator("#verified").wait_for(timeout=60_000)
        # Who checked it, in the page's language, still saying it is a simulator.
        expect(page.locator("#verified")).to_contain_text("核验来源：模拟公民身份库（仅供演示")
        assert "registry" not in page.locator("#verified").inner_text()
        screenshot(page, "app-real-name-done")
        records = world.client.get("/v1/me/real-name", headers=bearer(token)).json()
        assert [(r["method"], r["outcome"]) for r in records] == [("face", "passed")]

        # Face pay: off by default, its own notice, switched on with a live check.
        page.goto("/app/consents")
        page.locator("#face-pay").wait_for()
        assert page.locator("#face-pay-state").get_attribute("aria-checked") == "false"
        cards = page.locator("section.card")
        assert cards.count() == 3  # one card, one notice text per purpose
        texts = [cards.nth(i).locator(".notice-text").inner_text() for i in range(3)]
        assert len(set(texts)) == 3
        screenshot(page, "app-consents-face-pay-off")
        world.camera.show(ZHANG.clip, *TURN_LEFT_RIGHT)
        fix_challenge(page, world.app, ["turn_left", "turn_right"])
        page.locator("#face-pay-on").click()
        page.locator("#face-pay-revoke").wait_for(timeout=60_000)
        assert page.locator("#face-pay-state").get_attribute("aria-checked") == "true"
        screenshot(page, "app-consents-face-pay-on")
        assert world.client.get("/v1/me/face-pay", headers=bearer(token)).json()["enabled"] is True

        # At a vending machine (another device: its own browser context), Zhang pays by opening her
        # mouth when its capture page asks.
        terminal = merchant_terminal(world.client, world.hs, world.tenant_id)
        machine = new_page(browser, world.base_url, viewport=DESKTOP)
        fix_payment_challenge(machine, world.app, ["open_mouth"])
        set_up_terminal(machine, terminal)
        world.camera.show(ZHANG.clip, *OPEN_MOUTH)
        assert pay_at_machine(machine, "8.8") == "paid"
        expect(machine.locator("#result-body")).to_contain_text("张*")
        assert balance(world, token) == 500 * CNY - 880

        # Zhang switches face pay off in the app; at the machine the face is no longer anyone's.
        page.locator("#face-pay-revoke").click()
        page.locator("#confirm-yes").click()  # a deletion asks first, in the page
        page.locator("#face-pay-on").wait_for()
        assert page.locator("#face-pay-message").inner_text() == "刷脸支付已关闭，您的人脸特征已删除。"
        screenshot(page, "app-consents-face-pay-revoked")
        expect(machine.locator("#sale")).to_be_visible(timeout=20_000)  # the result went back to a new sale by itself
        world.camera.show(ZHANG.clip, *OPEN_MOUTH, mirrored=True)
        assert (
            pay_at_machine(
                machine,
                "8.8",
                leave_capture_page=lambda: expect(machine.locator("#error")).to_have_attribute(
                    "data-code", "not_recognised"
                ),
            )
            == "declined"
        )
        assert balance(world, token) == 500 * CNY - 880
        assert machine.errors == []

        # Installments: the credit consent on its own card, then the shop's order.
        page.locator("#purpose-credit_face_verification button").click()
        page.locator("#purpose-credit_face_verification .status.ok").wait_for()
        checkout_id = offer_checkout(world, ZHANG, amount_fen=5_999 * CNY)
        page.goto(f"/app/checkout#{checkout_id}")
        page.locator("#schedule").wait_for()
        rows = page.locator("#schedule tbody tr")
        offers = world.client.get(f"/v1/me/credit/checkouts/{checkout_id}", headers=bearer(token)).json()["offers"]
        assert rows.count() == offers[0]["periods"]
        assert page.locator("#apr").inner_text() == f"{float(offers[0]['apr']) * 100:.2f}%"
        screenshot(page, "app-checkout-schedule")
        world.camera.show(ZHANG.clip, *TURN_RIGHT_BLINK, mirrored=True)  # mirrored: she turns to her left
        fix_challenge(page, world.app, ["turn_left", "blink"])
        page.locator("#confirm").click()
        confirmed_or_refused(page, "#confirmed")
        screenshot(page, "app-checkout-confirmed")
        plans = world.client.get("/v1/me/credit/plans", headers=bearer(token)).json()
        assert len(plans) == 1 and plans[0]["checkout_id"] == checkout_id and plans[0]["principal_fen"] == 5_999 * CNY

        # A loan: the rate and schedule for the chosen amount and term, confirmed by the face.
        page.goto("/app/")
        page.locator("#borrow").click()
        page.wait_for_url("**/app/loan")
        page.select_option("#product", "cash-loan-annuity")
        page.select_option("#periods", "6")
        page.fill("#amount", "1000")
        page.locator("#amount").dispatch_event("change")
        expect(page.locator("#schedule tbody tr")).to_have_count(6)
        quote = world.client.get(
            "/v1/me/credit/loan-quote",
            headers=bearer(token),
            params={"product_id": "cash-loan-annuity", "amount_fen": 1_000 * CNY, "periods": 6},
        ).json()
        assert page.locator("#apr").inner_text() == f"{float(quote['apr']) * 100:.2f}%"
        screenshot(page, "app-loan-schedule")
        world.camera.show(ZHANG.clip, *TURN_LEFT_RIGHT, mirrored=True)
        fix_challenge(page, world.app, ["turn_right", "turn_left"])
        page.locator("#confirm").click()
        confirmed_or_refused(page, "#drawn")
        assert balance(world, token) == 500 * CNY - 880 + 1_000 * CNY

        # The history page lists both plans with their next payments; the next one is repaid from it.
        page.goto("/app/history")
        expect(page.locator("#plans tbody tr")).to_have_count(2)
        expect(page.locator("#next-payments tbody tr")).to_have_count(2)
        assert page.locator("#authentications tbody tr").count() == 1
        assert page.locator("#payments tbody tr").count() == 1  # the declined face was nobody's: not in her list
        screenshot(page, "app-history")
        plans = {p["kind"]: p for p in world.client.get("/v1/me/credit/plans", headers=bearer(token)).json()}
        due = plans["loan"]["next_payment"]["amount_fen"]
        before = balance(world, token)
        page.locator(f'#next-payments button[data-plan="{plans["loan"]["plan_id"]}"]').click()
        page.locator("#confirm-yes").click()  # money moves only once confirmed in the page
        expect(page.locator("#repaid")).to_be_visible()
        assert balance(world, token) == before - due
        loan = world.client.get(f"/v1/me/credit/plans/{plans['loan']['plan_id']}", headers=bearer(token)).json()
        assert [i["status"] for i in loan["installments"]][:2] == ["paid", "upcoming"]
        assert page.errors == []


def pay_at_machine(machine, amount: str, leave_capture_page=lambda: None) -> str:
    """Tap the amount and "pay with face", look at the platform's capture page, come back to the
    machine's result screen; answers the status the machine shows."""
    type_amount(machine, amount)
    machine.click("#pay")
    machine.wait_for_url("**/pay/capture#*")  # the capture starts by itself: one tap pays
    expect(machine.locator("#stage")).to_have_attribute("data-status", re.compile("paid|declined"), timeout=60_000)
    leave_capture_page()
    machine.click("#back")
    machine.wait_for_url("**/terminal/#intent=*")
    result = machine.locator("#result-body")
    expect(result).to_have_attribute("data-status", re.compile("paid|declined"))
    return result.get_attribute("data-status")


def balance(world, token: str) -> int:
    return world.client.get("/v1/me/wallet", headers=bearer(token)).json()["balance_fen"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def offer_checkout(world, person, amount_fen: int) -> str:
    """The shop's back end offers an order on installments after an operator granted a credit line."""
    account_id = world.client.get("/v1/me", headers=bearer(world.token(person))).json()["account_id"]
    r = world.client.put(
        f"/v1/operator/accounts/{account_id}/credit-line",
        headers=world.hs["risk_analyst"],
        json={"limit_fen": 20_000 * CNY, "reason": "test"},
    )
    assert r.status_code == 200, r.text
    r = world.client.post(
        "/v1/operator/merchants",
        json={"tenant_id": world.tenant_id, "name": "Mi Store", "fee_bps": 60},
        headers=world.hs["admin"],
    )
    assert r.status_code == 201, r.text
    r = world.client.post(
        f"/v1/accounts/{person.user}/credit/checkouts",
        headers=world.hs["a"],
        json={
            "merchant_id": r.json()["merchant_id"],
            "merchant_order_id": "order-1",
            "amount_fen": amount_fen,
            "category": "phones",
            "description": "Xiaomi 15",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["checkout_id"]


def start_face_check(page, world, person, lang: str) -> None:
    """Open real-name, choose face, fill in ``person``'s details and press the start button."""
    page.goto("/app/real-name")
    page.locator("#choose-face").click()
    page.fill("#name", person.name)
    page.fill("#id-number", person.id_number)
    page.locator("#submit").click()


def failure(page) -> tuple[str, str, str]:
    box = page.locator("#error[data-code]")
    box.wait_for(timeout=60_000)
    return box.get_attribute("data-code"), box.locator(".what").inner_text(), box.locator(".todo").inner_text()


def test_camera_denied_says_what_to_do_in_english(world):
    token = world.new_user(LI)
    world.camera.show(LI.clip, *REAL_NAME)  # a working camera; only the permission is refused
    with chromium(world.camera.path, camera_allowed=False) as browser:
        page = new_page(browser, world.base_url, lang="en", camera_allowed=False)
        sign_in(page, token, "/app/real-name")
        start_face_check(page, world, LI, "en")
        code, what, todo = failure(page)
        assert code == "camera_denied"
        assert what == "The camera could not be used: access was denied."
        assert "Allow this page to use the camera" in todo
        screenshot(page, "app-error-camera-denied-en")
        assert world.client.get("/v1/me/real-name", headers=bearer(token)).json() == []


def test_no_face_liveness_failure_and_face_mismatch_explain_themselves(world, tmp_path):
    token = world.new_user(LI)
    with chromium(world.camera.path) as browser:
        page = new_page(browser, world.base_url, lang="zh")
        sign_in(page, token, "/app/real-name")

        # The camera sees the room but no face (the top corner of Li's clip, blown up).
        world.camera.show_crop(LI.clip, 0, 200, (0, 0, 96, 96))  # longer than any challenge
        fix_challenge(page, world.app, ["blink", "open_mouth"])  # two actions, not a random three: a shorter wait
        start_face_check(page, world, LI, "zh")
        code, what, todo = failure(page)
        assert code == "face_not_found" and what == "没有检测到人脸。" and "正对摄像头" in todo
        screenshot(page, "app-error-no-face")

        # A challenge the person did not do (the clip blinks and opens the mouth; it was asked to turn
        # left, then right).
        world.camera.show(LI.clip, *REAL_NAME)
        fix_challenge(page, world.app, ["turn_left", "turn_right"])
        page.locator("#submit").click()
        code, what, todo = failure(page)
        # Which action was not seen, what to do, and the tries left before a lockout.
        assert code == "action_not_performed" and what == "没有看到这个动作：请向左转头、请向右转头", what
        assert "看到“请向左转头、请向右转头”的提示时再做一次" in todo
        expect(page.locator("#attempts-left")).to_have_text(re.compile(r"还可以再试 \d 次"))

        # Someone else's live face for Li's name and ID number: a mismatch, and the bank card offered.
        world.camera.show(ZHANG.clip, *TURN_RIGHT_BLINK)
        fix_challenge(page, world.app, ["turn_right", "blink"])
        page.locator("#submit").click()
        code, what, todo = failure(page)
        # The comparison is with the ID photo the authority holds, not with an account holder.
        assert code == "face_mismatch" and what == "您的人脸与身份核验机构留存的这张身份证的照片不一致。"
        assert page.locator("#other-method").inner_text() == "改用银行卡认证"
        screenshot(page, "app-error-face-mismatch")
        outcomes = [r["outcome"] for r in world.client.get("/v1/me/real-name", headers=bearer(token)).json()]
        assert outcomes == ["failed"]  # the mismatch is recorded; the two failed captures never reached the authority
        assert page.errors == []


def test_network_error_loses_nothing(world):
    token = world.new_user(LI)
    with chromium(world.camera.path) as browser:
        page = new_page(browser, world.base_url, lang="en")
        sign_in(page, token, "/app/consents")
        page.locator("#purpose-credit_face_verification button").wait_for()
        page.route("**/v1/me/consents/credit_face_verification", lambda route: route.abort("internetdisconnected"))
        page.locator("#purpose-credit_face_verification button").click()
        code, what, todo = failure(page)
        assert code == "network_error" and "network failed" in what and "Nothing was charged or saved" in todo
        assert (
            world.client.get("/v1/me/consents", headers=bearer(token)).json()["granted"]["credit_face_verification"]
            is False
        )


def test_demo_sign_in_and_language_switch(tmp_path, database_url, shared_data):
    require_browser()
    with web_world(tmp_path, database_url, shared_data, [LI], demo=True) as world, chromium(None) as browser:
        page = new_page(browser, world.base_url, lang="zh")
        page.goto("/app/")
        page.locator("#demo-button").click()
        page.locator("#home h1", has_text="我的账户").wait_for()
        assert page.locator("#real-name-status").inner_text().startswith("未认证")
        assert page.locator("#account-status").inner_text() == "正常"
        screenshot(page, "app-home-demo")
        page.locator("#lang").click()  # to English, and the page redraws in place
        page.locator("#home h1", has_text="My account").wait_for()
        assert page.locator("#account-status").inner_text() == "Active"
        assert page.locator("html").get_attribute("lang") == "en"
        page.reload()  # the choice is remembered
        page.locator("#home h1", has_text="My account").wait_for()
        # The demo shop needs a verified real name before it can offer credit: the page says so.
        page.locator("#demo-order").click()
        box = page.locator("#home-error[data-code]")
        box.wait_for()
        assert box.get_attribute("data-code") == "real_name_required"
        assert box.locator(".what").inner_text() == "Real-name verification is needed first."
        assert page.errors == []

        # A vending machine of the demo shop is set up with one tap, and its credentials work.
        machine = new_page(browser, world.base_url, viewport=DESKTOP)
        machine.goto("/terminal/")
        machine.fill("#terminal-pin", "2468")  # its operator PIN first
        machine.fill("#terminal-pin-again", "2468")
        machine.locator("#setup-demo").click()
        expect(machine.locator("#sale")).to_be_visible()
        assert machine.evaluate("() => JSON.parse(localStorage.getItem('facetrust.terminal')).id")
        assert machine.errors == []


def test_bank_card_real_name_asks_for_the_code_the_bank_texts(tmp_path, database_url, shared_data):
    """Issue 19, item 1, on the page: the bank-card path sends the four elements, then asks for the
    code the bank texted to the card's reserved mobile; a wrong code says so and the right one
    finishes."""
    from facetrust.identity.models import BankCardChallenge

    require_browser()
    bank = tmp_path / "bank.csv"
    bank.write_text(
        f"bank,card_number,name,id_number,mobile\nSim Bank,4111111111111111,{LI.name},{LI.id_number},{LI.mobile}\n",
        encoding="utf-8",
    )
    with web_world(tmp_path, database_url, shared_data, [LI], bank_registry=bank) as world, chromium(None) as browser:
        token = world.new_user(LI)
        page = new_page(browser, world.base_url, lang="en")
        sign_in(page, token, "/app/real-name")
        page.locator("#choose-card").click()
        page.fill("#name", LI.name)
        page.fill("#id-number", LI.id_number)
        page.fill("#card-number", "4111 1111 1111 1111")
        page.fill("#mobile", LI.mobile)
        page.locator("#submit").click()
        expect(page.locator("#bank-code")).to_be_visible()
        assert "texted a code" in page.locator("#code-sent").inner_text()
        assert world.client.get("/v1/me/real-name", headers=bearer(token)).json() == []
        with world.app.state.sessions() as s:
            reference = s.query(BankCardChallenge).one().bank_reference
        code = world.app.state.kyc.bank.code_sent_for_tests(reference)
        page.fill("#bank-code", f"{(int(code) + 1) % 10**6:06d}")
        page.locator("#submit").click()
        code_shown, what, _ = failure(page)
        assert code_shown == "bank_code_wrong" and what == "The code is not right."
        page.fill("#bank-code", code)
        page.locator("#submit").click()
        page.locator("#verified").wait_for()
        records = world.client.get("/v1/me/real-name", headers=bearer(token)).json()
        assert [(r["method"], r["outcome"]) for r in records] == [("bank_card", "passed")]
        assert page.errors == []
