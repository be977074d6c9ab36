"""The vending machine's screen (/terminal/) and the platform's capture page (/pay/capture) in a real
browser, against the real service: a real person (Li, from the shared clips) pays by looking at the
fake camera, and the test checks the outcome in the service (wallet balance, payment status), not
only on the screen.

The privacy promise is checked on the wire: everything the terminal's document sent or received is
recorded, and none of it may hold a face image, frames, the payer's account id, name, ID number or
mobile number. Only the masked name ("李*") reaches the terminal.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import pytest
from facepay import LI, merchant_terminal, register, switch_on
from playwright.sync_api import expect
from webworld import (
    DESKTOP,
    OPERATOR_PIN,
    PHONE,
    chromium,
    fix_payment_challenge,
    new_page,
    require_browser,
    screenshot,
    set_up_terminal,
    type_amount,
    web_world,
)

from facetrust.identity.models import Account
from facetrust.payments.models import PaymentIntent

pytestmark = pytest.mark.browser

DECIDED = 60_000  # ms to wait for the platform's answer to a capture (liveness + search + ledger)
# Segments of Li's clip that no API capture of these worlds uses (her real-name and enrolment takes
# are frames 24-156), each showing a blink a second or more after it starts (193-196; 292-298 and
# 305-312; 420-431 and 447-454) and 120 frames long: 8 s at half speed, so the fake camera's file
# never loops during a payment's capture (about 4 s). The fourth is the first one mirrored.
SEGMENTS = [(160, 280, False), (280, 400, False), (400, 520, False), (160, 280, True)]


def show_segment(world, i: int) -> None:
    """Put the i-th segment in front of the camera; the payment's challenge asks for a blink."""
    start, stop, mirrored = SEGMENTS[i]
    world.camera.show(LI.clip, start, stop, mirrored=mirrored)


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


@contextmanager
def li_world(tmp_path, database_url, shared_data, fund_fen: int, **settings):
    """The running service with Li real-named by face, funded, face pay on; and a merchant terminal."""
    with web_world(tmp_path, database_url, shared_data, [LI], **settings) as world:
        h = register(world.client, world.app, world.hs, shared_data, LI, fund_fen=fund_fen)
        r = switch_on(world.client, world.app, h, shared_data, LI)
        assert r.status_code == 201, r.text
        yield world, h, merchant_terminal(world.client, world.hs, world.tenant_id)


def balance(world, h) -> int:
    r = world.client.get("/v1/me/wallet", headers=h)
    assert r.status_code == 200, r.text
    return r.json()["balance_fen"]


def intent_in_url(page) -> str:
    return dict(part.split("=", 1) for part in urlsplit(page.url).fragment.split("&"))["intent"]


def record_terminal_traffic(page) -> list[dict]:
    """Every request of the terminal's document (/terminal/: the page itself and whatever its code
    fetched), with the request body and the answer's headers and body, as the terminal could see
    them. The answers pass through the test (route.fetch), so a body is kept even when the page
    navigates away at once; the platform's capture page goes straight through, unrecorded."""
    traffic = []

    def terminal_document(request) -> bool:
        if request.is_navigation_request():
            return urlsplit(request.url).path.startswith("/terminal/")
        return urlsplit(request.frame.url).path.startswith("/terminal/")

    def through(route) -> None:
        request = route.request
        if not terminal_document(request):
            route.continue_()
            return
        response = route.fetch()
        body = response.body()
        text = body.decode("utf-8", "replace")
        if "json" in response.headers.get("content-type", ""):
            text = json.dumps(json.loads(body), ensure_ascii=False)  # an escaped "\u674e" must not hide 李
        traffic.append(
            {
                "method": request.method,
                "url": request.url,
                "path": urlsplit(request.url).path,
                "request_headers": request.headers,
                "sent": (request.post_data_buffer or b"").decode("utf-8", "replace"),
                "status": response.status,
                "headers": response.headers,
                "received": text,
            }
        )
        route.fulfill(response=response)

    page.route("**/*", through)
    return traffic


def assert_terminal_learned_nothing_personal(world, traffic: list[dict]) -> None:
    """The terminal talked only to the terminal API, and nothing it sent or received holds a face
    (frames, a JPEG, an image), the payer's account id, name, ID number or mobile number."""
    with world.app.state.sessions() as s:
        account_id = s.query(Account).filter_by(platform_user_id=LI.user).one().id
    forbidden = [account_id, LI.name, LI.id_number, LI.mobile, "image_base64", "/9j/4", "data:image"]
    api = [r for r in traffic if r["path"].startswith("/v1/")]
    assert any(r["method"] == "POST" and r["path"] == "/v1/terminal/payment-intents" for r in api), api
    assert any(r["method"] == "GET" and r["path"].startswith("/v1/terminal/payment-intents/") for r in api), api
    # Besides its own API, the setup screen only asks whether a demo platform runs (to offer its machine).
    assert all(r["path"].startswith("/v1/terminal/") or (r["method"], r["path"]) == ("GET", "/v1/demo") for r in api), [
        r["path"] for r in api
    ]
    for r in traffic:
        everything = json.dumps(r, ensure_ascii=False)
        for secret in forbidden:
            assert secret not in everything, f"{secret!r} reached the terminal page in {r['method']} {r['url']}"
        assert not r["headers"].get("content-type", "").startswith(("image/", "video/")), r["url"]


# --- journeys ------------------------------------------------------------------------------------


def test_li_pays_with_face_at_the_vending_machine_and_the_terminal_learns_only_the_masked_name(
    tmp_path, database_url, shared_data
):
    with li_world(tmp_path, database_url, shared_data, fund_fen=50_000) as (world, h, terminal):
        before = balance(world, h)
        show_segment(world, 0)
        with chromium(world.camera.path) as browser:
            page = new_page(browser, world.base_url, viewport=DESKTOP)
            traffic = record_terminal_traffic(page)
            fix_payment_challenge(page, world.app, ["blink"])
            set_up_terminal(page, terminal)
            expect(page.locator("#sale")).to_be_visible()
            type_amount(page, "12.5")
            expect(page.locator("#amount")).to_have_text("¥12.50")
            screenshot(page, "terminal-amount")

            page.dblclick("#pay")  # a double tap: one intent
            page.wait_for_url("**/pay/capture#*")
            expect(page.locator("#merchant")).to_contain_text("Vending 7")
            expect(page.locator("#amount")).to_have_text("¥12.50")
            expect(page.locator("#stage")).to_have_attribute("data-step", "face")
            # No second tap: the capture starts by itself (the shopper chose "pay with face").
            page.wait_for_function("() => document.querySelector('.camera video')?.videoWidth > 0")
            screenshot(page, "pay-capture")
            expect(page.locator("#stage")).to_have_attribute("data-status", "paid", timeout=DECIDED)
            expect(page.locator("#stage")).to_contain_text("李*")

            page.wait_for_url("**/terminal/#intent=*", timeout=30_000)  # back on its own, after a few seconds
            result = page.locator("#result-body")
            expect(result).to_have_attribute("data-status", "paid")
            with world.app.state.sessions() as s:
                intents = s.query(PaymentIntent).all()
                assert len(intents) == 1, "a double tap must not create two payments"
                paid = intents[0]
                assert paid.status == "paid" and paid.amount_fen == 1250 and paid.id == intent_in_url(page)
            expect(result).to_contain_text("李*")
            expect(result).to_contain_text("¥12.50")
            expect(result).to_contain_text(paid.transaction_id)
            screenshot(page, "terminal-paid")

            # The terminal's page cannot open a camera at all: the browser enforces its policy.
            opened = page.evaluate(
                "() => navigator.mediaDevices.getUserMedia({video: true})"
                ".then((s) => { s.getTracks().forEach((t) => t.stop()); return 'opened'; }, (e) => e.name)"
            )
            assert opened == "NotAllowedError"
            assert page.errors == []

        assert balance(world, h) == before - 1250
        assert world.client.get("/terminal/").headers["permissions-policy"].startswith("camera=()")
        documents = [r for r in traffic if r["path"] == "/terminal/"]
        assert documents and all(r["headers"]["permissions-policy"].startswith("camera=()") for r in documents)
        assert any("李*" in r["received"] for r in traffic)  # the masked name is all it got
        assert_terminal_learned_nothing_personal(world, traffic)


def test_after_face_pay_is_revoked_paying_fails_with_the_reason_shown_only_to_the_payer(
    tmp_path, database_url, shared_data
):
    with li_world(tmp_path, database_url, shared_data, fund_fen=50_000) as (world, h, terminal):
        r = world.client.delete("/v1/me/face-pay", headers=h)
        assert r.status_code == 200 and r.json()["enabled"] is False, r.text
        before = balance(world, h)
        show_segment(world, 1)
        with chromium(world.camera.path) as browser:
            page = new_page(browser, world.base_url, viewport=PHONE, lang="en")
            traffic = record_terminal_traffic(page)
            fix_payment_challenge(page, world.app, ["blink"])
            set_up_terminal(page, terminal)
            page.click('#products [data-fen="350"]')  # a product tile sets its price
            expect(page.locator("#amount")).to_have_text("¥3.50")
            page.click("#pay")
            page.wait_for_url("**/pay/capture#*")
            expect(page.locator("#stage")).to_have_attribute("data-status", "declined", timeout=DECIDED)
            error = page.locator("#error")
            expect(error).to_have_attribute("data-code", "not_recognised")
            expect(error.locator(".what")).to_have_text("No face-pay user was recognised.")
            expect(error.locator(".todo")).to_contain_text("switched on")
            screenshot(page, "pay-declined")

            page.click("#back")  # the payer need not wait for the countdown
            page.wait_for_url("**/terminal/#intent=*")
            result = page.locator("#result-body")
            expect(result).to_have_attribute("data-status", "declined")
            expect(result.locator("h1")).to_have_text("Payment not completed")
            intent_id = intent_in_url(page)
            assert "recognised" not in result.inner_text()  # the reason is the payer's, not the machine's
            assert page.errors == []

        seen = terminal.call("GET", f"/v1/terminal/payment-intents/{intent_id}").json()
        assert seen["status"] == "declined" and seen["payer_name_masked"] is None and seen["transaction_id"] is None
        assert balance(world, h) == before
        answers = [r["received"] for r in traffic if r["path"].startswith("/v1/")]  # (errors.js names every code)
        assert answers and not any("not_recognised" in answer or "decline_reason" in answer for answer in answers)
        assert_terminal_learned_nothing_personal(world, traffic)


def test_an_uncertain_face_asks_for_the_last_four_phone_digits(tmp_path, database_url, shared_data):
    # No gallery is small enough for a direct identification: every payment asks for the digits.
    with li_world(tmp_path, database_url, shared_data, fund_fen=50_000, face_pay_direct_max_gallery=0) as (
        world,
        h,
        terminal,
    ):
        before = balance(world, h)
        show_segment(world, 2)
        with chromium(world.camera.path) as browser:
            page = new_page(browser, world.base_url, viewport=PHONE)
            fix_payment_challenge(page, world.app, ["blink"])
            set_up_terminal(page, terminal)
            type_amount(page, "6")
            page.click("#pay")
            page.wait_for_url("**/pay/capture#*")
            stage = page.locator("#stage")
            expect(stage).to_have_attribute("data-step", "phone_digits", timeout=DECIDED)
            last4 = LI.mobile[-4:]
            for digit in last4[:2]:
                page.click(f'#digit-pad [data-key="{digit}"]')
            expect(page.locator("#digits span.filled")).to_have_count(2)
            assert last4[:2] not in stage.inner_text()  # typed digits show as dots only
            screenshot(page, "pay-phone-digits")
            for digit in last4[2:]:
                page.click(f'#digit-pad [data-key="{digit}"]')
            page.click('#digit-pad [data-key="ok"]')
            expect(stage).to_have_attribute("data-status", "paid", timeout=DECIDED)
            page.wait_for_url("**/terminal/#intent=*", timeout=30_000)
            expect(page.locator("#result-body")).to_have_attribute("data-status", "paid")
            expect(page.locator("#result-body")).to_contain_text("李*")
            assert balance(world, h) == before - 600

            # Wrong digits decline the payment; the payer is told, the terminal only "not completed".
            page.click("#result-new")
            type_amount(page, "7")
            show_segment(world, 3)
            page.click("#pay")
            page.wait_for_url("**/pay/capture#*")
            expect(stage).to_have_attribute("data-step", "phone_digits", timeout=DECIDED)
            wrong = f"{(int(last4) + 1) % 10_000:04d}"
            for digit in wrong:
                page.click(f'#digit-pad [data-key="{digit}"]')
            page.click('#digit-pad [data-key="ok"]')
            expect(stage).to_have_attribute("data-status", "declined", timeout=DECIDED)
            expect(page.locator("#error")).to_have_attribute("data-code", "phone_digits_wrong")
            expect(page.locator("#error .what")).to_have_text("手机号后四位不正确，付款已取消。")
            page.click("#back")
            page.wait_for_url("**/terminal/#intent=*")
            expect(page.locator("#result-body")).to_have_attribute("data-status", "declined")
            assert page.errors == []

        assert balance(world, h) == before - 600
        with world.app.state.sessions() as s:
            assert sorted(i.status for i in s.query(PaymentIntent).all()) == ["declined", "paid"]


def test_terminal_setup_a_denied_camera_and_only_a_terminal_back_address(tmp_path, database_url, shared_data):
    with web_world(tmp_path, database_url, shared_data, [LI]) as world:
        terminal = merchant_terminal(world.client, world.hs, world.tenant_id)
        with chromium(None, camera_allowed=False) as browser:
            page = new_page(browser, world.base_url, viewport=PHONE, lang="en", camera_allowed=False)

            # A wrong secret is refused before it is saved.
            set_up_terminal(page, terminal, secret="fts_not-the-secret")
            expect(page.locator("#setup-error")).to_have_attribute("data-code", "signature_invalid")
            assert page.evaluate("() => localStorage.getItem('facetrust.terminal')") is None
            page.fill("#terminal-secret", terminal.secret)
            page.click("#setup-save")
            expect(page.locator("#sale")).to_be_visible()

            type_amount(page, "1.05")
            page.click("#pay")
            page.wait_for_url("**/pay/capture#*")
            capture_url = page.url
            error = page.locator("#error")
            expect(error).to_have_attribute("data-code", "camera_denied")
            # A shopper cannot change the machine's browser settings: staff, or another way to pay.
            expect(error.locator(".what")).to_have_text("This machine's camera cannot be used right now.")
            expect(error.locator(".todo")).to_have_text(
                "Ask a member of staff for help, or pay another way. Nothing was charged."
            )
            expect(error).to_be_focused()
            expect(page.locator("#retry")).to_be_visible()

            # The payer gives up: the payment stays open, and the machine offers to continue it.
            page.click("#back")
            page.wait_for_url("**/terminal/#intent=*")
            intent_id = intent_in_url(page)
            expect(page.locator("#waiting-continue")).to_be_visible()
            seen = terminal.call("GET", f"/v1/terminal/payment-intents/{intent_id}").json()
            assert seen["status"] == "awaiting_face" and seen["amount_fen"] == 105
            page.click("#waiting-new")
            expect(page.locator("#sale")).to_be_visible()
            expect(page.locator("#amount")).to_have_text("¥0.00")

            # Only a path on this site under /terminal/ is a back address.
            token_page = capture_url.split("&back=", 1)[0]
            for hostile in ("https://evil.example/terminal/", "//evil.example/terminal/", "/terminal/../app/", "/app/"):
                page.goto(f"{token_page}&back={quote(hostile, safe='')}")
                page.reload()  # a fragment change alone is the same document: load it afresh
                expect(page.locator("#stage")).to_have_attribute("data-step", "face")
                expect(page.locator("#back")).to_be_hidden()
            page.goto(f"{token_page}&back={quote('/terminal/#intent=' + intent_id, safe='')}")
            page.reload()
            expect(page.locator("#back")).to_be_visible()

            # Reset forgets the machine's credentials.
            page.goto("/terminal/")
            page.click("#settings")
            page.fill("#pin-entry", OPERATOR_PIN)  # the settings are the operator's
            page.click("#pin-ok")
            page.click("#setup-reset")
            page.click("#confirm-yes")  # asked in the page, not with the browser's confirm()
            expect(page.locator("#terminal-id")).to_have_value("")
            assert page.evaluate("() => localStorage.getItem('facetrust.terminal')") is None
            assert page.errors == []
