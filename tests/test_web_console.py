"""The operator risk console in a real browser, over the real service: a risk analyst signs in, reads
the day's figures and charts, opens a case that the shipped risk rules opened (a loan from a phone
behind many accounts), reads its events, features, rule hits and decisions, notes and assigns it,
and freezes the account; the frozen account then moves no money, the analyst cannot unfreeze it,
and a compliance officer does. A compliance officer looks an account up (masked), reveals it with
a reason (audited) and verifies the audit chain, which then finds a tampered row; English
throughout on request; an expired token, a missing role and a lost network are told as such. At
1440x900, in Chinese and in English (issue 22, items 10 and 11): the dashboard's cards hold a busy
day's figures, a case names typologies, reasons, kinds, outcomes and features in the page's
language with dates on one line and money in yuan, and the audit log is browsed by filters and pages.

Headless Debian Chromium, no camera. Every page's script errors fail the test (``page.errors``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from capture import passed_session
from facepay import LI, ZHANG, consent, register, signed_in_on, take_for
from sqlalchemy import delete, select, text
from webworld import (
    DESKTOP,
    PHONE,
    assert_no_axe_violations,
    chromium,
    new_page,
    require_browser,
    screenshot,
    web_world,
)

from facetrust.identity.models import Credential
from facetrust.identity.service import create_operator_token, secret_hash
from facetrust.risk.events import EventIn, emit
from facetrust.security.models import AuditRecord

pytestmark = pytest.mark.browser

CNY = 100


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    require_browser()
    with web_world(tmp_path, database_url, shared_data, [LI, ZHANG]) as w:
        w.li = register(w.client, w.app, w.hs, shared_data, LI, fund_fen=1_000 * CNY)
        w.li_account = w.client.get("/v1/me", headers=w.li).json()["account_id"]
        yield w


def open_a_review_case(world) -> dict:
    """The shipped rules at work: three other accounts logged in on one phone lately; Li draws a loan
    from it (her face confirmed), and the engine refuses it for review and opens a case."""
    consent(world.client, world.li, "credit_face_verification")
    r = world.client.put(
        f"/v1/operator/accounts/{world.li_account}/credit-line",
        headers=world.hs["risk_analyst"],
        json={"limit_fen": 20_000 * CNY, "reason": "test"},
    )
    assert r.status_code == 200, r.text
    with world.app.state.sessions() as s:
        for n in range(3):
            emit(
                s,
                EventIn(
                    "login",
                    account_id=f"farm-{n}",
                    device_id="farm-phone",
                    at=dt.datetime.now(dt.UTC) - dt.timedelta(days=n + 1),
                ),
            )
        s.commit()
    session_id = passed_session(
        world.client, world.app, world.li, world.camera.shared_data, "loan", take_for(world.app, LI, "two")
    )
    r = world.client.post(
        "/v1/me/credit/loans",
        headers=signed_in_on(world.client, world.hs, LI.user, "farm-phone"),
        json={
            "product_id": "cash-loan",
            "amount_fen": 1_000 * CNY,
            "periods": 6,
            "liveness_session_id": session_id,
            "idempotency_key": "farm",
        },
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "risk_declined", r.text
    cases = world.client.get("/v1/operator/risk/cases", headers=world.hs["risk_analyst"]).json()
    assert [c["account_id"] for c in cases] == [world.li_account]
    return cases[0]


def top_up(world, reference: str):
    return world.client.post(
        f"/v1/accounts/{LI.user}/wallet/top-ups",
        headers=world.hs["a"],
        json={"amount_fen": 100, "reference": reference},
    )


def audit_of(world, action: str) -> list[AuditRecord]:
    with world.app.state.sessions() as s:
        return list(
            s.execute(select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)).scalars()
        )


def signed_in(browser, world, role: str, path: str, *, viewport=DESKTOP, lang="zh"):
    """A page opened with the operator's token in the fragment (as a link from an admin would)."""
    page = new_page(browser, world.base_url, viewport=viewport, lang=lang, camera_allowed=False)
    page.goto(f"{path}#token={world.operator_token(role)}")
    page.locator("#who").filter(
        has_text=world.client.get("/v1/operator/me", headers=world.hs[role]).json()["name"]
    ).wait_for()
    assert "token" not in page.url  # the token left the address bar at once
    return page


def test_an_analyst_works_a_real_case_and_a_compliance_officer_unfreezes(world):
    case = open_a_review_case(world)
    ops = world.hs["risk_analyst"]
    with chromium(None) as browser:
        # The dashboard: today's figures and the hourly charts, from the same API.
        page = signed_in(browser, world, "risk_analyst", "/console/")
        assert page.locator("#who").inner_text() == "alice · 风控分析师"
        page.locator("#decisions-svg").wait_for()
        figures = world.client.get("/v1/operator/dashboard", headers=ops).json()
        assert figures["decisions"]["review"] == 1 and figures["open_cases"] == 1
        assert page.locator("#fig-open-cases .big").inner_text() == "1"
        assert page.locator("#fig-decisions dd[data-action=review]").inner_text() == "1"
        assert page.locator("#fig-real-name .big").inner_text() == str(sum(figures["real_name"].values()))
        bars = page.locator("#decisions-svg rect.bar")
        drawn = sorted(
            (
                int(bars.nth(i).get_attribute("data-hour")),
                bars.nth(i).get_attribute("data-series"),
                int(bars.nth(i).get_attribute("data-count")),
            )
            for i in range(bars.count())
        )
        expected = sorted((h["hour"], action, n) for h in figures["hours"] for action, n in h["decisions"].items() if n)
        assert drawn == expected and ("review", 1) in [(s, n) for _, s, n in drawn]
        assert page.locator("#chart-decisions .legend span").count() == 5
        assert page.locator("#liveness-svg circle.point").count() == sum(
            1 for h in figures["hours"] if h["liveness_total"]
        )
        assert "小时（UTC+8）" in page.locator("#decisions-svg").inner_html()
        screenshot(page, "console-dashboard")

        # The queue, then the case the rules opened.
        page.locator("header nav a[href='/console/cases']").click()
        page.locator("#cases-table").wait_for()
        row = page.locator(f"#cases-table tr[data-case='{case['case_id']}']")
        assert "共用设备或身份" in row.inner_text() and "待处理" in row.inner_text()  # the typology, named
        screenshot(page, "console-cases")
        row.locator("a.case-link").click()
        page.locator("#decision-card").wait_for()
        assert page.url.endswith(f"/console/case#{case['case_id']}")
        assert page.locator("#decision-action").inner_text() == "人工审核"
        hit = page.locator("#rule-hits tr[data-rule=device_many_accounts]")
        detail = world.client.get(f"/v1/operator/risk/decisions/{case['decision_id']}", headers=ops).json()
        assert f"设备 30 天内的账户数：{detail['features']['device_accounts_30d']}" in hit.inner_text()
        assert "共用设备或身份" in page.locator("#decision-typologies").inner_text()
        trigger = page.locator("#events-table tr.trigger")
        assert trigger.count() == 1 and "借款" in trigger.inner_text() and "farm-phone" in trigger.inner_text()
        assert page.locator("#decisions-table tr.trigger").count() == 1
        assert page.locator("#account-status").inner_text() == "正常"

        # Work it: a note, assigned to me.
        page.fill("#note-text", "called the customer, no answer")
        page.locator("#add-note").click()
        page.locator("#notes li", has_text="called the customer, no answer").wait_for()
        page.locator("#assign").click()
        page.locator("#case-assignee", has_text="operator:alice").wait_for()

        # Freeze the account from the case, with a reason; the page shows the account frozen.
        page.fill("#account-reason", "device shared by an account farm")
        page.locator("#freeze").click()
        page.locator("#account-status", has_text="已冻结").wait_for()
        assert "账户已冻结" in page.locator("#account-result").inner_text()
        account = world.client.get(f"/v1/operator/accounts/{world.li_account}", headers=ops).json()
        assert account["status"] == "frozen"
        refused = top_up(world, "while-frozen")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "account_frozen"
        freezes = audit_of(world, "account.freeze")
        assert [(a.actor, json.loads(a.details)["reason"]) for a in freezes] == [
            ("operator:alice", "device shared by an account farm")
        ]
        page.locator("#events-table td[data-kind='account.freeze']", has_text="冻结账户").first.wait_for()
        screenshot(page, "console-case")

        # The analyst who froze cannot unfreeze: the API's refusal, with the roles it needs.
        page.fill("#account-reason", "I changed my mind")
        page.locator("#unfreeze").click()
        page.locator("#account-result[data-code=forbidden]").wait_for()
        said = page.locator("#account-result").inner_text()
        assert "您没有权限进行此操作" in said and "合规专员 / 管理员" in said and "风控分析师" in said
        assert world.client.get(f"/v1/operator/accounts/{world.li_account}", headers=ops).json()["status"] == "frozen"
        assert page.errors == []

        # A compliance officer signs in by pasting a token, opens the case and unfreezes.
        officer = new_page(browser, world.base_url, viewport=DESKTOP, lang="zh", camera_allowed=False)
        officer.goto("/console/")
        officer.fill("#token", world.operator_token("compliance_officer"))
        officer.locator("#sign-in").click()
        officer.locator("#who", has_text="carol · 合规专员").wait_for()
        officer.goto(f"/console/case#{case['case_id']}")
        officer.locator("#account-status", has_text="已冻结").wait_for()
        officer.fill("#account-reason", "customer verified in branch with ID")
        officer.locator("#unfreeze").click()
        officer.locator("#account-status", has_text="正常").wait_for()
        assert world.client.get(f"/v1/operator/accounts/{world.li_account}", headers=ops).json()["status"] == "active"
        assert top_up(world, "after-unfreeze").status_code == 201
        assert [(a.actor, json.loads(a.details)["reason"]) for a in audit_of(world, "account.unfreeze")] == [
            ("operator:carol", "customer verified in branch with ID")
        ]

        # The analyst closes the case with an outcome; the queue's filters find it where it belongs.
        page.reload()
        page.locator("#account-status", has_text="正常").wait_for()
        page.select_option("#outcome", "false_positive")
        page.fill("#close-note", "family tablet, customer verified in branch")
        page.locator("#close-case").click()
        page.locator("#case-status", has_text="已结案").wait_for()
        closed = world.client.get(f"/v1/operator/risk/cases/{case['case_id']}", headers=ops).json()
        assert (closed["status"], closed["outcome"]) == ("closed", "false_positive")
        page.goto("/console/cases")
        page.locator("#cases-count", has_text="共 0 个案件").wait_for()  # not-closed cases by default: none left
        page.select_option("#status", "closed")
        page.locator(f"#cases-table tr[data-case='{case['case_id']}']").wait_for()
        page.select_option("#assignee", "nobody")
        page.locator("#cases-count", has_text="共 0 个案件").wait_for()  # it was assigned to alice
        page.select_option("#assignee", "me")
        assert "operator:alice" in page.locator(f"#cases-table tr[data-case='{case['case_id']}']").inner_text()
        assert officer.errors == [] and page.errors == []


def test_lookup_masks_reveal_is_audited_and_the_audit_chain_verifies(world):
    with chromium(None) as browser:
        page = signed_in(browser, world, "compliance_officer", "/console/accounts")
        page.fill("#q", LI.mobile)
        page.locator("#search").click()
        card = page.locator("section.account")
        card.wait_for()
        assert card.count() == 1
        assert card.locator(".masked-mobile").inner_text() == "139****5432"
        assert card.locator(".masked-name").inner_text() == "李*"
        assert card.locator(".masked-id-number").inner_text() == LI.id_number[:4] + "**********" + LI.id_number[-4:]
        assert card.locator(".account-status").inner_text() == "正常"
        body = page.locator("body").inner_text()
        assert LI.name not in body and LI.id_number not in body and LI.mobile not in body

        # Reveal: a reason first (too short is refused here), the warning that it is audited.
        card.locator("button.reveal").click()
        assert "审计" in card.locator(".reveal-form").inner_text()
        card.locator(".reveal-reason").fill("abc")
        card.locator(".reveal-confirm").click()
        assert "至少 5 个字" in card.locator(".reveal-error").inner_text()
        assert audit_of(world, "account.reveal") == []
        card.locator(".reveal-reason").fill("customer complaint 2026-77 by phone")
        card.locator(".reveal-confirm").click()
        card.locator(".revealed").wait_for()
        assert (
            card.locator(".revealed-name").inner_text(),
            card.locator(".revealed-id-number").inner_text(),
            card.locator(".revealed-mobile").inner_text(),
        ) == (LI.name, LI.id_number, LI.mobile)
        [record] = audit_of(world, "account.reveal")
        assert (record.actor, record.subject) == ("operator:carol", f"account:{world.li_account}")
        assert json.loads(record.details)["reason"] == "customer complaint 2026-77 by phone"
        assert card.locator(".revealed").get_attribute("data-audit-seq") == str(record.seq)
        assert f"#{record.seq}" in card.locator(".revealed").inner_text()
        screenshot(page, "console-accounts")

        # The audit chain, verified from the console: intact, with every record counted.
        page.locator("header nav a[href='/console/audit']").click()
        page.locator("#verify").click()
        page.locator("#audit-result[data-ok=true]").wait_for()
        total = world.client.get("/v1/operator/audit/verify", headers=world.hs["admin"]).json()["records_total"]
        assert page.locator("#audit-summary").inner_text() == f"审计链完整：已校验 {total} 条记录。"
        screenshot(page, "console-audit")

        # A row edited behind the service's back: the console names the record and what happened, in English too.
        with world.app.state.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'operator:nobody' WHERE seq = 2"))
        page.locator("#verify").click()
        page.locator("#audit-result[data-ok=false]").wait_for()
        assert page.locator("#audit-summary").inner_text() == "审计链在第 2 条记录处断裂。"
        assert "被修改" in page.locator("#audit-problem").inner_text()
        page.locator("#lang").click()
        assert page.locator("#audit-summary").inner_text() == "The audit chain is broken at record 2."
        assert (
            page.locator("#audit-problem").inner_text() == "Record 2 was altered: its content does not match its hash."
        )
        assert page.locator("header nav a[href='/console/']").inner_text() == "Dashboard"
        assert page.locator("#who").inner_text() == "carol · Compliance officer"
        screenshot(page, "console-audit-broken-en")
        assert page.errors == []

        # A risk analyst may look up but not reveal, nor verify: the refusal says which roles may.
        analyst = signed_in(browser, world, "risk_analyst", "/console/accounts", lang="en")
        analyst.fill("#q", LI.user)
        analyst.locator("#search").click()
        analyst.locator("section.account button.reveal").click()
        analyst.locator(".reveal-reason").fill("just curious about this one")
        analyst.locator(".reveal-confirm").click()
        analyst.locator(".reveal-error [data-code=forbidden]").wait_for()
        said = analyst.locator(".reveal-error").inner_text()
        assert "You are not allowed to do this." in said and "Compliance officer / Admin" in said
        assert len(audit_of(world, "account.reveal")) == 1
        analyst.locator("header nav a[href='/console/audit']").click()
        analyst.locator("#verify").click()
        analyst.locator("#audit-result[data-code=forbidden]").wait_for()
        assert analyst.errors == []


def test_english_phone_layout_expired_token_and_lost_network(world):
    case = open_a_review_case(world)
    with chromium(None) as browser:
        # English on a phone: the dashboard's texts and chart labels, nothing wider than the screen.
        page = signed_in(browser, world, "risk_analyst", "/console/", viewport=PHONE, lang="en")
        page.locator("#decisions-svg").wait_for()
        assert page.locator("#page h1").inner_text() == "Today"
        assert page.locator("#fig-decisions h2").inner_text() == "Risk decisions"
        assert "Hour (UTC+8)" in page.locator("#decisions-svg").inner_html()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "console-dashboard-phone-en")
        page.locator("#lang").click()  # and back to Chinese, re-drawn
        assert page.locator("#fig-decisions h2").inner_text() == "风控决策"
        assert "小时（UTC+8）" in page.locator("#decisions-svg").inner_html()
        page.locator("#lang").click()

        # The case page on the phone: everything readable without scrolling sideways (wide tables
        # scroll inside their own box).
        page.goto(f"/console/case#{case['case_id']}")
        page.locator("#rule-hits").wait_for()
        assert page.locator("#decision-action").inner_text() == "Review"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "console-case-phone-en")
        page.goto("/console/")
        page.locator("#decisions-svg").wait_for()

        # The network goes: the figures stay, the failure says nothing was changed.
        page.route("**/v1/operator/dashboard*", lambda route: route.abort())
        page.fill("#day", "2026-01-02")
        page.locator("#dash-error[data-code=network_error]").wait_for()
        assert "The network failed" in page.locator("#dash-error").inner_text()
        page.unroute("**/v1/operator/dashboard*")

        # The token is revoked (or expires) while the page is open: the next call says so, and
        # the sign-in form comes back.
        with world.app.state.sessions() as s:
            s.execute(
                delete(Credential).where(Credential.token_hash == secret_hash(world.operator_token("risk_analyst")))
            )
            s.commit()
        page.fill("#day", "2026-01-03")
        page.locator("#dash-error[data-code=unauthenticated]").wait_for()
        assert "Your sign-in is no longer valid." in page.locator("#dash-error").inner_text()
        page.locator("#signin #sign-in").wait_for()
        assert page.evaluate("sessionStorage.getItem('facetrust.operator')") is None
        assert page.errors == []

        # An expired token handed over in the link: the sign-in form, with why.
        with world.app.state.sessions() as s:
            expired, _ = create_operator_token(s, "old", "risk_analyst", dt.timedelta(seconds=-1))
            s.commit()
        stale = new_page(browser, world.base_url, viewport=PHONE, lang="zh", camera_allowed=False)
        stale.goto(f"/console/cases#token={expired}")
        stale.locator("#signin-error[data-code=unauthenticated]").wait_for()
        assert "登录已失效" in stale.locator("#signin-error").inner_text()
        assert stale.locator("#page").is_hidden()
        assert stale.errors == []


# --- issue 22, items 10 and 11: the console at 1440 px in the operator's language ------------

WIDE = {"width": 1440, "height": 900}

# The browser's measurements: a box whose content is wider than the box itself (clipped, or
# spilling out of its card), and an element's rendered line count.
OVERFLOWING = """(selector) => [...document.querySelectorAll(selector)].flatMap((card) =>
  [card, ...card.querySelectorAll('*')].filter((e) => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
    && getComputedStyle(e).display !== 'inline').map((e) => (card.id || '') + ' ' + e.tagName + '.' + e.className
    + ' ' + e.scrollWidth + '>' + e.clientWidth)
  .concat([...card.querySelectorAll('*')].filter((e) => {
    const box = card.getBoundingClientRect(), r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1);
  }).map((e) => (card.id || '') + ' ' + e.tagName + ' sticks out')))"""
LINES = """(e) => { const r = document.createRange(); r.selectNodeContents(e);
  return new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top))).size; }"""

BIG = {
    "zh": ("风控决策", "额度 ¥20,000.00", "共用设备或身份"),
    "en": ("Risk decisions", "limit ¥20,000.00", "Shared device or identity"),
}


def seed_browsable_log(world) -> None:
    """45 records of one kind by one operator, a second apart, behind everything the flows wrote."""
    from facetrust.security import audit

    at = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
    with world.app.state.sessions() as s:
        for i in range(45):
            record = audit.append(
                s,
                actor="operator:zed",
                action="test.browse",
                subject=f"account:acc{i % 3}",
                details={"i": i, "amount_fen": 12_345 + i},
            )
            record.at = at + dt.timedelta(seconds=i)
        s.commit()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_console_at_1440_fits_its_figures_formats_events_and_browses_the_audit_log(world, lang):
    case = open_a_review_case(world)
    seed_browsable_log(world)
    zh = lang == "zh"
    with chromium(None) as browser:
        # The dashboard, with figures as large as a busy day's: every card holds its content.
        page = signed_in(browser, world, "risk_analyst", "/console/", viewport=WIDE, lang=lang)

        def busy_day(route):
            body = route.fetch().json()
            body["payments"]["paid"] = {"count": 123_456, "amount_fen": 987_654_321_09}
            body["payments"]["declined"] = {"count": 54_321, "amount_fen": 12_345_678_90}
            body["credit"]["loan"] = {"count": 4_321, "amount_fen": 123_456_789_01}
            body["decisions"] = {"approve": 123_456, "step_up": 23_456, "review": 3_456, "decline": 456, "freeze": 56}
            body["liveness"].update(passed=234_567, failed=12_345)
            body["real_name"] = {"passed": 34_567, "failed": 4_567}
            route.fulfill(json=body)

        page.route("**/v1/operator/dashboard*", busy_day)
        page.reload()
        page.locator("#fig-decisions dd[data-action=approve]", has_text="123456").wait_for()
        assert page.locator("#fig-decisions h2").inner_text() == BIG[lang][0]
        assert page.evaluate(OVERFLOWING, "#figures .card") == []
        assert_no_axe_violations(page, f"the dashboard at 1440 px ({lang})")
        screenshot(page, f"console-dashboard-1440-{lang}")

        # The case: typologies, event kinds and outcomes, rule descriptions and features in the
        # page's language; dates on one line; money in yuan.
        page.goto(f"/console/case#{case['case_id']}")
        page.locator("#events-table").wait_for()
        body = page.locator("#page").inner_text()
        assert BIG[lang][2] in page.locator("#case-card").inner_text()
        assert "shared_device_or_identity" not in body and "limit_fen" not in body
        assert ("设备关联多个账户" if zh else "Device shared by accounts") in page.locator(
            "#decision-reasons"
        ).inner_text()
        hit = page.locator("#rule-hits tr[data-rule=device_many_accounts]")
        assert (
            "该设备 30 天内被 3 个及以上账户使用" if zh else "three or more accounts used this device"
        ) in hit.inner_text()
        detail = world.client.get(
            f"/v1/operator/risk/decisions/{case['decision_id']}", headers=world.hs["risk_analyst"]
        )
        accounts = detail.json()["features"]["device_accounts_30d"]
        said = "设备 30 天内的账户数：" if zh else "Accounts on the device, 30 days: "
        assert hit.locator("[data-feature=device_accounts_30d]").inner_text() == f"{said}{accounts}"
        trigger = page.locator("#events-table tr.trigger")
        assert trigger.locator("td[data-kind=loan]").inner_text().startswith("借款" if zh else "Loan")
        assert trigger.locator("td[data-outcome=review]").inner_text() == ("人工审核" if zh else "Review")
        loan = page.locator("#events-table td.event-data", has_text="¥").first
        assert BIG[lang][1] in loan.inner_text()  # {limit_fen: 2000000} as the line's limit in yuan
        passed = page.locator("#events-table td[data-outcome=passed]").first
        assert passed.inner_text() == ("通过" if zh else "Passed")
        dates = page.locator("#events-table td.when, #decisions-table td.when")
        assert dates.count() >= 3
        for i in range(dates.count()):
            assert page.evaluate(LINES, dates.nth(i).element_handle()) == 1, dates.nth(i).inner_text()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDE["width"]
        screenshot(page, f"console-case-1440-{lang}")
        assert_no_axe_violations(page, f"a case at 1440 px ({lang})")
        assert page.errors == []

        # The audit log, browsed as a compliance officer: filtered to one kind, 20 a page, next and
        # previous; every record once, in order; the times on one line.
        officer = signed_in(browser, world, "compliance_officer", "/console/audit", viewport=WIDE, lang=lang)
        officer.locator("#log-table").wait_for()
        assert officer.locator("#log-table tbody tr").count() == 20  # the newest, unfiltered
        # An action the service records, named in the page's language (its code beside it, for the filter).
        officer.fill("#log-kind", "credit.line")
        officer.locator("#log-search").click()
        showing(officer, 1, action="credit.line")
        action = officer.locator("#log-table td.audit-action").inner_text()
        assert action.startswith("设置信用额度" if zh else "Credit line set") and "credit.line" in action
        details = officer.locator("#log-table td.event-data").inner_text()
        assert ("额度 ¥20,000.00" if zh else "limit ¥20,000.00") in details  # {limit_fen: 2000000}
        officer.fill("#log-kind", "test.browse")
        officer.fill("#log-actor", "operator:zed")
        officer.locator("#log-search").click()
        showing(officer, 20, action="test.browse")
        seen: list[int] = []
        for page_number, size in ((1, 20), (2, 20), (3, 5)):
            officer.locator(f"#log-status[data-page='{page_number}']").wait_for()
            rows = officer.locator("#log-table tbody tr")
            assert rows.count() == size
            seqs = [int(rows.nth(i).get_attribute("data-seq")) for i in range(size)]
            assert all(a > b for a, b in zip(seqs, seqs[1:]))  # newest first
            seen += seqs
            assert officer.locator("#log-prev").is_disabled() == (page_number == 1)
            assert officer.locator("#log-next").is_disabled() == (page_number == 3)
            when = officer.locator("#log-table td.when").first
            assert officer.evaluate(LINES, when.element_handle()) == 1
            if page_number < 3:
                officer.locator("#log-next").click()
        assert len(set(seen)) == 45
        with world.app.state.sessions() as s:
            expected = s.execute(
                select(AuditRecord.seq).where(AuditRecord.action == "test.browse").order_by(AuditRecord.at.desc())
            ).scalars()
            assert seen == list(expected)
        last = officer.locator("#log-table tbody tr").last
        assert ("金额 ¥123.45" if zh else "amount ¥123.45") in last.inner_text()  # {amount_fen: 12345}
        officer.locator("#log-prev").click()
        officer.locator("#log-status[data-page='2']").wait_for()
        assert [
            int(x)
            for x in officer.locator("#log-table tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.seq)")
        ] == seen[20:40]
        # A subject filter by the id alone, and a time window.
        officer.fill("#log-subject", "acc1")
        officer.locator("#log-search").click()
        showing(officer, 15, action="test.browse", subject="account:acc1")
        officer.locator("#log-clear").click()
        officer.fill("#log-kind", "test.browse")
        officer.fill("#log-since", local_input(officer, "2026-05-01T09:00:10Z"))
        officer.fill("#log-until", local_input(officer, "2026-05-01T09:00:20Z"))
        officer.locator("#log-search").click()
        showing(officer, 10, action="test.browse")  # 10 s inclusive to 20 s exclusive
        assert officer.locator("#log-table tbody tr").first.get_attribute("data-seq") == str(seen[-20])
        assert officer.evaluate("document.scrollingElement.scrollWidth") <= WIDE["width"]
        screenshot(officer, f"console-audit-log-1440-{lang}")
        assert_no_axe_violations(officer, f"the audit log, filtered, at 1440 px ({lang})")
        assert officer.errors == []


def showing(page, count: int, **attrs) -> None:
    """Wait until the audit table shows ``count`` rows, each with these data- attributes."""
    page.wait_for_function(
        """([count, attrs]) => { const rows = [...document.querySelectorAll('#log-table tbody tr')];
        return rows.length === count && rows.every((r) => Object.entries(attrs).every(([k, v]) => r.dataset[k] === v)); }""",
        arg=[count, attrs],
    )


def local_input(page, instant: str) -> str:
    """A UTC instant as a datetime-local input's value in the browser's own time zone."""
    return page.evaluate(
        """(iso) => { const d = new Date(iso); const p = (n) => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`; }""",
        instant,
    )
