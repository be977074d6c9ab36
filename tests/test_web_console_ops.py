"""The console's webhook deliveries and device reviews in a real browser, over the real service, at
1440x900 in Chinese and in English. A platform's endpoint listens on a closed loopback port, so the
account.frozen event's delivery ends dead; Zhang asks, from a new phone, for a person to review it.
A risk analyst replays the dead delivery from /console/webhooks (a reason first; a new delivery of
the same event appears, audited) and approves the review from /console/devices (the device is then
bound, as the API says). A compliance officer reads both pages without any action button. axe-core
finds nothing on either page, nor on the open replay dialog.

Headless Debian Chromium, no camera. Every page's script errors fail the test (``page.errors``)."""

from __future__ import annotations

import json
import socket
import time
import typing

import pytest
from facepay import LI, ZHANG, signed_in_on
from sqlalchemy import select
from test_web_console import LINES, WIDE, signed_in
from test_web_console_labels import CONSOLE, assert_labelled
from webworld import assert_no_axe_violations, chromium, require_browser, screenshot, web_world

from facetrust.devices.schemas import ReviewOut
from facetrust.security.models import AuditRecord
from facetrust.webhooks.schemas import DeliveryStatus, Kind

pytestmark = pytest.mark.browser

# Quick retries (tests/test_webhooks.py): two attempts about 0.05 s apart, then the delivery is dead.
FAST = {
    "webhooks_poll_seconds": 0.05,
    "webhooks_retry_base_seconds": 0.05,
    "webhooks_retry_max_seconds": 0.2,
    "webhooks_max_attempts": 2,
}
OLD, NEW = "zhang-old-phone", "zhang-new-phone"
# The person's note may name their ID number and mobile: the API returns it as typed, the page masks them.
NOTE = "lost my old phone, ID 110105198001010016, call 13800001234"
TEXT = {
    "zh": {"dead": "已放弃", "kind": "账户已冻结", "error": "无法连接接收方", "nav": ("Webhook 投递", "设备审核")},
    "en": {
        "dead": "Dead",
        "kind": "Account frozen",
        "error": "Could not connect",
        "nav": ("Webhooks", "Device reviews"),
    },
}


def wait_for(check, timeout: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def closed_port() -> int:
    """A loopback port nothing listens on (bound to learn a free one, then closed): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    require_browser()
    with web_world(tmp_path, database_url, shared_data, [LI, ZHANG], **FAST) as w:
        ops = w.hs["risk_analyst"]
        # The dead delivery: Li's account frozen, its event sent to an endpoint that refuses connections.
        r = w.client.post(
            "/v1/webhooks/endpoints", json={"url": f"http://127.0.0.1:{closed_port()}/hook"}, headers=w.hs["a"]
        )
        assert r.status_code == 201, r.text
        li = w.client.get("/v1/me", headers={"Authorization": f"Bearer {w.new_user(LI)}"}).json()["account_id"]
        r = w.client.post(f"/v1/operator/accounts/{li}/freeze", json={"reason": "test freeze"}, headers=ops)
        assert r.status_code == 200, r.text
        w.dead = wait_for(
            lambda: w.client.get("/v1/operator/webhooks/deliveries", params={"status": "dead"}, headers=ops).json(),
            what="a dead delivery",
        )[0]
        assert w.dead["kind"] == "account.frozen" and w.dead["last_error"] == "ConnectError"
        # The review: Zhang signed in on her old phone (bound), then asks from a new one.
        w.new_user(ZHANG)
        signed_in_on(w.client, w.hs, ZHANG.user, OLD)
        w.zhang_new = signed_in_on(w.client, w.hs, ZHANG.user, NEW)
        r = w.client.post("/v1/me/device/rebind/review", headers=w.zhang_new, json={"note": NOTE})
        assert r.status_code == 201, r.text
        w.review_id = r.json()["review_id"]
        yield w


def test_every_delivery_status_event_kind_and_review_status_is_labelled():
    assert_labelled(CONSOLE, "webhook_status.", typing.get_args(DeliveryStatus))
    assert_labelled(CONSOLE, "webhook_kind.", typing.get_args(Kind))
    assert_labelled(CONSOLE, "review_status.", typing.get_args(ReviewOut.model_fields["status"].annotation))


def confirm_with_reason(page, reason_field: str, reason: str) -> None:
    page.locator("#confirm-dialog").wait_for()
    page.fill(reason_field, reason)
    page.locator("#confirm-yes").click()
    page.locator("#confirm-dialog").wait_for(state="detached")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_analyst_replays_a_dead_delivery_and_approves_a_device_review(world, lang):
    said = TEXT[lang]
    ops = world.hs["risk_analyst"]
    dead_id = world.dead["delivery_id"]
    with chromium(None) as browser:
        # The delivery log: the dead delivery in the page's language, its dates on one line.
        page = signed_in(browser, world, "risk_analyst", "/console/webhooks", viewport=WIDE, lang=lang)
        nav = page.locator("header.bar nav")
        assert nav.locator("a[href='/console/webhooks']").inner_text() == said["nav"][0]
        assert nav.locator("a[href='/console/devices']").inner_text() == said["nav"][1]
        assert nav.locator("a[aria-current=page]").get_attribute("href") == "/console/webhooks"
        row = page.locator(f"#hooks-table tr[data-delivery='{dead_id}']")
        row.wait_for()
        text = row.inner_text()
        assert said["dead"] in text and said["kind"] in text and said["error"] in text
        assert world.dead["tenant_id"][:8] in text and world.dead["event_id"][:8] in text
        assert row.locator("td.num").inner_text() == "2"
        for i in range(page.locator("#hooks-table td.when").count()):
            assert page.evaluate(LINES, page.locator("#hooks-table td.when").nth(i).element_handle()) == 1
        # Filtered by status and by tenant, as the API filters.
        page.select_option("#hooks-status", "delivered")
        page.locator("#hooks-search").click()
        page.locator("#hooks-table").wait_for(state="detached")
        page.select_option("#hooks-status", "dead")
        page.fill("#hooks-tenant", world.tenant_id)
        page.locator("#hooks-search").click()
        row.wait_for()
        assert page.locator("#hooks-table tbody tr").count() == 1
        assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDE["width"]
        assert_no_axe_violations(page, f"the webhook deliveries at 1440 px ({lang})")
        screenshot(page, f"console-webhooks-1440-{lang}")
        page.select_option("#hooks-status", "")
        page.locator("#hooks-search").click()

        # A replay without a reason sends nothing; with one, a new delivery of the same event.
        row.locator("button.replay").click()
        confirm_with_reason(page, "#replay-reason", "")
        page.locator("#hooks-result.notice.error").wait_for()
        assert len(world.client.get("/v1/operator/webhooks/deliveries", headers=ops).json()) == 1
        row.locator("button.replay").click()
        page.locator("#confirm-dialog").wait_for()
        assert_no_axe_violations(page, f"the replay dialog ({lang})")
        confirm_with_reason(page, "#replay-reason", "receiver fixed")
        page.locator("#hooks-result.notice.ok").wait_for()
        replay = page.locator(f"#hooks-table tr[data-replay-of='{dead_id}']")
        replay.wait_for()
        listed = world.client.get("/v1/operator/webhooks/deliveries", headers=ops).json()
        (again,) = [d for d in listed if d["replay_of"] == dead_id]
        assert again["event_id"] == world.dead["event_id"]
        assert again["delivery_id"][:8] in page.locator("#hooks-result").inner_text()
        with world.app.state.sessions() as s:
            audited = s.execute(select(AuditRecord).where(AuditRecord.action == "webhook.replay")).scalar_one()
        assert audited.actor == "operator:alice" and audited.subject == f"webhook_delivery:{dead_id}"
        assert json.loads(audited.details)["reason"] == "receiver fixed"
        assert page.errors == []

        # The device review: pending, approved with a reason; the device is then bound.
        page.goto("/console/devices")
        row = page.locator(f"#reviews-table tr[data-review='{world.review_id}']")
        row.wait_for()
        text = row.inner_text()
        assert NEW in text and "ID 1101**********0016, call 138****1234" in text and "110105198001010016" not in text
        assert ("待审核" if lang == "zh" else "Pending") in text
        assert page.evaluate(LINES, row.locator("td.when").element_handle()) == 1
        assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDE["width"]
        assert_no_axe_violations(page, f"the device reviews at 1440 px ({lang})")
        screenshot(page, f"console-devices-1440-{lang}")
        assert world.client.get("/v1/me/device", headers=world.zhang_new).json()["bound"] is False
        row.locator("button.approve").click()
        confirm_with_reason(page, "#decision-reason", "called her back on the old number")
        result = page.locator("#reviews-result.notice.ok")
        result.wait_for()
        assert NEW in result.inner_text()
        row.wait_for(state="detached")  # no longer pending
        assert world.client.get("/v1/me/device", headers=world.zhang_new).json()["bound"] is True
        decided = world.client.get("/v1/operator/device-reviews", headers=ops).json()
        assert [(r["status"], r["reason"]) for r in decided] == [("approved", "called her back on the old number")]
        page.select_option("#reviews-status", "approved")
        row.wait_for()
        assert "operator:alice" in row.inner_text() and row.locator("button").count() == 0
        assert page.errors == []

        # A compliance officer reads both pages; no action is offered, and the page says why.
        officer = signed_in(browser, world, "compliance_officer", "/console/webhooks", viewport=WIDE, lang=lang)
        officer.locator(f"#hooks-table tr[data-delivery='{dead_id}']").wait_for()
        assert officer.locator("#hooks-table button").count() == 0
        assert officer.locator("#hooks-readonly").is_visible()
        assert ("风控分析师" if lang == "zh" else "risk analyst") in officer.locator("#hooks-readonly").inner_text()

        # Were the buttons drawn anyway (the page told a wrong role), the API's refusal is said plainly.
        def claims_analyst(route):
            route.fulfill(json={**route.fetch().json(), "role": "risk_analyst"})

        officer.route("**/v1/operator/me", claims_analyst)
        officer.reload()
        officer.locator(f"#hooks-table tr[data-delivery='{dead_id}'] button.replay").click()
        confirm_with_reason(officer, "#replay-reason", "let me try")
        refused = officer.locator("#hooks-result .needs-roles")
        refused.wait_for()
        assert ("风控分析师 / 管理员" if lang == "zh" else "Risk analyst / Admin") in refused.inner_text()
        assert len(world.client.get("/v1/operator/webhooks/deliveries", headers=ops).json()) == 2
        officer.unroute("**/v1/operator/me")
        officer.goto("/console/devices")
        officer.select_option("#reviews-status", "")
        officer.locator(f"#reviews-table tr[data-review='{world.review_id}']").wait_for()
        assert (
            officer.locator("#reviews-table button").count() == 0 and officer.locator("#reviews-readonly").is_visible()
        )
        assert_no_axe_violations(officer, f"the device reviews, read-only ({lang})")
        assert officer.errors == []
