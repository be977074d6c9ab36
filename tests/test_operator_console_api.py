"""The operator console's API: account lookup masks personal data; a reveal needs a role and a
reason and leaves an audit record naming both (never the data); the audit chain verifies over HTTP
exactly as the command line does, and finds a tampered row; the dashboard counts a known day's rows
exactly (boundaries at local midnight, hour by hour) and counts real flows where they belong; a
case's events and a decision's rule hits explain a real review decision."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections import Counter

import pytest
from conftest import running_app
from creditworld import CNY, World, error
from facepay import LI, ZHANG, FramePool, merchant_terminal, pay_with_face, signed_in_on, switch_on
from sqlalchemy import func, select, text

from facetrust.clock import as_utc
from facetrust.credit.models import CreditPlan
from facetrust.identity.models import Account, RealNameAuthentication
from facetrust.liveness.models import LivenessSession
from facetrust.payments.models import PaymentIntent
from facetrust.risk.dashboard import business_day
from facetrust.risk.events import EventIn, emit
from facetrust.risk.models import RiskCase, RiskDecision
from facetrust.security.models import AuditRecord


def operator_token(app, name: str, role: str) -> dict:
    from facetrust.identity import service

    with app.state.sessions() as s:
        token, _ = service.create_operator_token(s, name, role, dt.timedelta(hours=1))
        s.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    """Li registered and real-name authenticated by face (creditworld), Zhang with a bare account."""
    w = World(tmp_path, database_url, shared_data)
    r = w.client.post("/v1/accounts", json={"platform_user_id": ZHANG.user, "mobile": ZHANG.mobile}, headers=w.hs["a"])
    assert r.status_code == 201, r.text
    w.hs["compliance"] = operator_token(w.app, "carol", "compliance_officer")
    yield w
    w.close()


def audit_rows(world, action: str) -> list[AuditRecord]:
    with world.app.state.sessions() as s:
        return list(
            s.execute(select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)).scalars()
        )


def masked_id(id_number: str) -> str:
    return id_number[:4] + "**********" + id_number[-4:]


# --- who is signed in -------------------------------------------------------------------------


def test_operator_me_names_the_operator_and_role(world):
    assert world.client.get("/v1/operator/me", headers=world.hs["op"]).json() == {
        "name": "alice",
        "role": "risk_analyst",
        "tenant_id": None,  # a token from the command line: a platform operator
    }
    assert world.client.get("/v1/operator/me", headers=world.hs["admin"]).json() == {
        "name": "root",
        "role": "admin",
        "tenant_id": None,
    }
    r = world.client.get("/v1/operator/me", headers=world.h)  # a user's token
    assert r.status_code == 403 and error(r) == "forbidden"
    r = world.client.get("/v1/operator/me", headers={"Authorization": "Bearer ftu_expired-or-unknown"})
    assert r.status_code == 401 and error(r) == "unauthenticated"


# --- lookup -----------------------------------------------------------------------------------


def test_lookup_finds_by_each_key_and_masks_personal_data(world):
    assert world.grant(5_000 * CNY).status_code == 200
    keys = {"platform user id": LI.user, "account id": world.account_id, "mobile": LI.mobile, "ID number": LI.id_number}
    for what, q in keys.items():
        r = world.client.get("/v1/operator/accounts", params={"q": q}, headers=world.hs["op"])
        assert r.status_code == 200, (what, r.text)
        assert [a["account_id"] for a in r.json()] == [world.account_id], what
        for secret in (LI.mobile, LI.name, LI.id_number):
            assert secret not in r.text, (what, secret)
    li = r.json()[0]
    assert li["mobile_masked"] == LI.mobile[:3] + "****" + LI.mobile[-4:] == "139****5432"
    assert li["name_masked"] == "李*"
    assert li["id_number_masked"] == masked_id(LI.id_number) and li["id_number_masked"].startswith("1101****")
    assert (li["status"], li["real_name"], li["real_name_method"], li["face_pay"]) == (
        "active",
        "verified",
        "face",
        False,
    )
    assert li["real_name_verified_at"] is not None and li["tenant_name"] == "shop-a"
    assert li["credit"] == {"limit_fen": 5_000 * CNY, "used_fen": 0, "available_fen": 5_000 * CNY, "active_plans": 0}

    zhang = world.client.get("/v1/operator/accounts", params={"q": ZHANG.mobile}, headers=world.hs["op"]).json()
    assert len(zhang) == 1 and zhang[0]["platform_user_id"] == ZHANG.user
    assert (zhang[0]["name_masked"], zhang[0]["id_number_masked"], zhang[0]["real_name"], zhang[0]["credit"]) == (
        None,
        None,
        "none",
        None,
    )
    assert zhang[0]["mobile_masked"] == "138****5678"

    # Exact matches only: a prefix or another person's number finds nobody.
    for q in (LI.mobile[:7], LI.user[:1], ZHANG.id_number, "0" * 32):
        assert world.client.get("/v1/operator/accounts", params={"q": q}, headers=world.hs["op"]).json() == [], q

    one = world.client.get(f"/v1/operator/accounts/{world.account_id}", headers=world.hs["compliance"])
    assert one.status_code == 200 and one.json() == li
    missing = world.client.get(f"/v1/operator/accounts/{'f' * 32}", headers=world.hs["op"])
    assert missing.status_code == 404 and error(missing) == "account_not_found"
    assert world.client.get("/v1/operator/accounts", params={"q": LI.user}, headers=world.h).status_code == 403
    assert world.client.get("/v1/operator/accounts", params={"q": LI.user}, headers=world.hs["a"]).status_code == 401
    assert world.client.get("/v1/operator/accounts", headers=world.hs["op"]).status_code == 422  # q is required


def test_lookup_shows_frozen_status_and_face_pay(world):
    assert switch_on(world.client, world.app, world.h, world.shared_data, LI).status_code == 201
    r = world.client.post(
        f"/v1/operator/accounts/{world.account_id}/freeze",
        headers=world.hs["op"],
        json={"reason": "suspected takeover"},
    )
    assert r.status_code == 200, r.text
    li = world.client.get(f"/v1/operator/accounts/{world.account_id}", headers=world.hs["op"]).json()
    assert (li["status"], li["face_pay"]) == ("frozen", True)


# --- reveal -----------------------------------------------------------------------------------


def test_reveal_needs_a_role_and_a_reason_and_is_audited_without_the_data(world, caplog):
    url = f"/v1/operator/accounts/{world.account_id}/reveal"
    before = len(audit_rows(world, "account.reveal"))
    assert before == 0

    as_analyst = world.client.post(url, json={"reason": "chargeback dispute 4711"}, headers=world.hs["op"])
    assert as_analyst.status_code == 403 and error(as_analyst) == "forbidden"
    for body in ({}, {"reason": ""}, {"reason": "why"}, {"reason": "      "}):
        r = world.client.post(url, json=body, headers=world.hs["compliance"])
        assert r.status_code == 422, (body, r.text)
    assert audit_rows(world, "account.reveal") == []  # no refused attempt left a record

    caplog.set_level(logging.DEBUG)
    r = world.client.post(url, json={"reason": "police request 2026-118"}, headers=world.hs["compliance"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["mobile"], body["name"], body["id_number"]) == (LI.mobile, LI.name, LI.id_number)
    rows = audit_rows(world, "account.reveal")
    assert len(rows) == 1 and body["audit_seq"] == rows[0].seq
    row = rows[0]
    assert (row.actor, row.subject, row.purpose) == ("operator:carol", f"account:{world.account_id}", "compliance")
    assert json.loads(row.details) == {"reason": "police request 2026-118", "fields": ["mobile", "name", "id_number"]}
    for secret in (LI.mobile, LI.name, LI.id_number):
        assert secret not in row.details and secret not in row.subject
        assert all(secret not in record.getMessage() for record in caplog.records), secret

    # An account that never proved its identity reveals only its mobile, and says so in the record.
    zhang_id = world.client.get("/v1/operator/accounts", params={"q": ZHANG.user}, headers=world.hs["op"]).json()[0][
        "account_id"
    ]
    r = world.client.post(
        f"/v1/operator/accounts/{zhang_id}/reveal", json={"reason": "customer called in"}, headers=world.hs["admin"]
    )
    assert r.status_code == 200 and (r.json()["mobile"], r.json()["name"], r.json()["id_number"]) == (
        ZHANG.mobile,
        None,
        None,
    )
    assert json.loads(audit_rows(world, "account.reveal")[-1].details)["fields"] == ["mobile"]
    assert audit_rows(world, "account.reveal")[-1].actor == "operator:root"
    assert world.client.get("/v1/operator/audit/verify", headers=world.hs["admin"]).json()["ok"] is True


# --- audit verification -----------------------------------------------------------------------


def test_audit_verify_over_http_agrees_with_the_cli_and_finds_a_tampered_row(world):
    def cli_report() -> dict:
        result = world.cli("audit", "verify", "--json")
        return json.loads(result.output)

    r = world.client.get("/v1/operator/audit/verify", headers=world.hs["compliance"])
    assert r.status_code == 200, r.text
    ok = r.json()
    with world.app.state.sessions() as s:
        total = s.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
    assert total > 5  # registration, tokens, real-name, consents ... all audited
    assert (ok["ok"], ok["records_checked"], ok["records_total"], ok["at_seq"], ok["problem"], ok["problem_code"]) == (
        True,
        total,
        total,
        None,
        None,
        None,
    )
    assert cli_report() == {"ok": True, "records": total, "problem": None, "at_seq": None}
    assert world.client.get("/v1/operator/audit/verify", headers=world.hs["op"]).status_code == 403

    with world.app.state.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET subject = 'account:someone-else' WHERE seq = 3"))
    bad = world.client.get("/v1/operator/audit/verify", headers=world.hs["admin"]).json()
    assert (bad["ok"], bad["at_seq"], bad["records_checked"], bad["records_total"], bad["problem_code"]) == (
        False,
        3,
        3,
        total,
        "altered",
    )
    assert "record 3" in bad["problem"]
    assert cli_report() == {"ok": False, "records": 3, "problem": bad["problem"], "at_seq": 3}

    with world.app.state.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    gone = world.client.get("/v1/operator/audit/verify", headers=world.hs["admin"]).json()
    assert (gone["ok"], gone["at_seq"], gone["problem_code"], gone["records_total"]) == (False, 2, "missing", total - 1)


# --- audit browsing ---------------------------------------------------------------------------

AUDIT_T0 = dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC)


def seed_audit(world) -> None:
    """24 records at known times, three to a minute (ties on time, ordered by sequence number), by
    two operators about two accounts; one carries a typed ID number, a mobile and a face-data key."""
    from facetrust.security import audit

    with world.app.state.sessions() as s:
        for i in range(24):
            record = audit.append(
                s,
                actor="operator:alice" if i % 2 else "operator:carol",
                action="risk.case.close" if i % 3 == 0 else ("risk.case.assign" if i % 3 == 1 else "account.freeze"),
                subject=f"account:acc{i % 4}",
                details={"i": i},
            )
            record.at = AUDIT_T0 + dt.timedelta(minutes=i // 3)
        typed = audit.append(
            s,
            actor="operator:carol",
            action="account.freeze",
            subject="account:acc9",
            details={"reason": f"ID {LI.id_number} mobile {LI.mobile}", "embedding": [0.1, 0.2]},
        )
        typed.at = AUDIT_T0 + dt.timedelta(hours=1)
        s.commit()


def browse(world, headers=None, **params):
    r = world.client.get("/v1/operator/audit", params=params, headers=headers or world.hs["compliance"])
    assert r.status_code == 200, r.text
    return r.json()


def expected_order(world, **where) -> list[int]:
    """The seq of every record in the page order (time, then seq, newest first), filtered in Python."""
    with world.app.state.sessions() as s:
        rows = list(s.execute(select(AuditRecord)).scalars())
    since, until = where.get("since"), where.get("until")
    rows = [
        r
        for r in rows
        if (since is None or as_utc(r.at) >= since)
        and (until is None or as_utc(r.at) < until)
        and all(getattr(r, k) == v for k, v in where.items() if k in ("actor", "subject"))
    ]
    return [r.seq for r in sorted(rows, key=lambda r: (as_utc(r.at), r.seq), reverse=True)]


def all_pages(world, limit: int, **params) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = browse(world, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        pages.append([r["seq"] for r in page["records"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


def test_audit_browsing_pages_through_the_whole_log_in_a_stable_order(world):
    seed_audit(world)
    pages = all_pages(world, 7)
    seen = [seq for page in pages for seq in page]
    assert seen == expected_order(world)  # every record once, none skipped, newest first
    assert all(len(p) == 7 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 7
    # Appending at the head while paging does not shift the pages after the cursor.
    first = browse(world, limit=5)
    world.client.post(
        f"/v1/operator/accounts/{world.account_id}/reveal", json={"reason": "dispute 2026-7"}, headers=world.hs["admin"]
    )
    second = browse(world, limit=5, cursor=first["next_cursor"])
    assert [r["seq"] for r in second["records"]] == expected_order(world)[6:11]  # one new record at the head


def test_audit_browsing_filters_by_kind_actor_subject_and_time(world):
    seed_audit(world)
    window = {"since": AUDIT_T0 + dt.timedelta(minutes=2), "until": AUDIT_T0 + dt.timedelta(minutes=5)}
    by_time = browse(world, since=window["since"].isoformat(), until=window["until"].isoformat())["records"]
    assert [r["seq"] for r in by_time] == expected_order(world, **window)
    assert len(by_time) == 9  # minutes 2, 3 and 4: three records each; minute 5 is excluded
    # since is inclusive, until exclusive, in any time zone the caller writes
    beijing = (window["since"].astimezone(BEIJING).isoformat(), window["until"].astimezone(BEIJING).isoformat())
    assert browse(world, since=beijing[0], until=beijing[1])["records"] == by_time

    closes = browse(world, kind="risk.case.close", limit=200)["records"]
    assert len(closes) == 8 and {r["action"] for r in closes} == {"risk.case.close"}
    cases = browse(world, kind="risk.case", limit=200)["records"]  # a prefix at a dot
    assert len(cases) == 16 and {r["action"] for r in cases} == {"risk.case.close", "risk.case.assign"}
    assert browse(world, kind="risk.ca")["records"] == []  # not a prefix at a dot

    alice = browse(world, actor="operator:alice", limit=200)["records"]
    assert [r["seq"] for r in alice] == expected_order(world, actor="operator:alice") and len(alice) == 12
    acc1 = browse(world, subject="account:acc1", limit=200)["records"]
    assert [r["seq"] for r in acc1] == expected_order(world, subject="account:acc1") and len(acc1) == 6
    assert browse(world, subject="acc1", limit=200)["records"] == acc1  # the id alone
    combined = browse(world, actor="operator:alice", subject="account:acc1", kind="risk.case", limit=200)["records"]
    assert {(r["actor"], r["subject"]) for r in combined} == {("operator:alice", "account:acc1")}
    assert len(combined) == 4  # i = 1, 9, 13, 21 (5 and 17 are freezes)
    # Filters and paging together: the filtered set once, in order.
    assert [s for p in all_pages(world, 5, actor="operator:alice") for s in p] == expected_order(
        world, actor="operator:alice"
    )


def test_audit_browsing_masks_typed_personal_data_and_withholds_face_data(world):
    seed_audit(world)
    body = browse(world, subject="acc9")
    (record,) = body["records"]
    text_of = json.dumps(body)
    assert LI.id_number not in text_of and LI.mobile not in text_of
    assert LI.id_number[:4] + "**********" + LI.id_number[-4:] in record["details"]["reason"]
    assert LI.mobile[:3] + "****" + LI.mobile[-4:] in record["details"]["reason"]
    assert record["details"]["embedding"] == "[withheld]"
    # The records the flows wrote themselves (registration, real name, consents) show none either.
    everything = json.dumps(browse(world, limit=200))
    for secret in (LI.id_number, LI.mobile, LI.name):
        assert secret not in everything, secret


def test_audit_browsing_is_for_compliance_and_admins_and_refuses_bad_parameters(world):
    seed_audit(world)
    url = "/v1/operator/audit"
    assert world.client.get(url).status_code == 401
    r = world.client.get(url, headers={"Authorization": "Bearer ftu_unknown"})
    assert r.status_code == 401 and error(r) == "unauthenticated"
    for who in (world.h, world.hs["op"]):  # a user; a risk analyst
        r = world.client.get(url, headers=who)
        assert r.status_code == 403 and error(r) == "forbidden"
    assert world.client.get(url, headers=world.hs["admin"]).status_code == 200

    def refused(params: dict) -> tuple[int, str]:
        r = world.client.get(url, params=params, headers=world.hs["compliance"])
        return r.status_code, error(r)

    for params in ({"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"since": "yesterday"}, {"kind": "x" * 65}):
        assert refused(params) == (422, "invalid_request"), params
    for cursor in ("nonsense", "bm9wZQ", "!!"):
        assert refused({"cursor": cursor}) == (422, "cursor_invalid"), cursor
    t = AUDIT_T0.isoformat()
    assert refused({"since": t, "until": t}) == (422, "time_range_invalid")


# --- the dashboard: a known day ---------------------------------------------------------------

DAY = dt.date(2026, 3, 10)
BEIJING = dt.timezone(dt.timedelta(hours=8))


def local(hour: int, minute: int = 0, second: int = 0, micro: int = 0, day: dt.date = DAY) -> dt.datetime:
    """A moment of the business day (UTC+8), as the UTC time the columns store."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=BEIJING).astimezone(dt.UTC)


YESTERDAY, TOMORROW = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1)


def test_dashboard_counts_a_known_day_exactly(tmp_path, database_url):
    with running_app(tmp_path, database_url) as (client, app, hs):
        admin = operator_token(app, "root", "admin")
        accounts = []
        for n in range(3):
            r = client.post(
                "/v1/accounts", json={"platform_user_id": f"u{n}", "mobile": f"1380000000{n}"}, headers=hs["a"]
            )
            accounts.append(r.json()["account_id"])
        tenant_id = _tenant_id(app)
        merchant_id = client.post(
            "/v1/operator/merchants", headers=admin, json={"tenant_id": tenant_id, "name": "m"}
        ).json()["merchant_id"]
        terminal_id = client.post(
            f"/v1/operator/merchants/{merchant_id}/terminals", json={"label": "t"}, headers=admin
        ).json()["terminal_id"]
        version = app.state.risk.ruleset.version

        with app.state.sessions() as s:

            def intent(status: str, amount: int, decided: dt.datetime | None) -> None:
                s.add(
                    PaymentIntent(
                        merchant_id=merchant_id,
                        terminal_id=terminal_id,
                        merchant_order_id=secrets.token_hex(4),
                        idempotency_key=secrets.token_hex(8),
                        request_sha256="0" * 64,
                        amount_fen=amount,
                        currency="CNY",
                        status=status,
                        capture_token_hash=secrets.token_hex(32),
                        capture_token_sealed=b"",
                        capture_token_wrapped_key=b"",
                        master_key_id="k",
                        expires_at=local(23),
                        decided_at=decided,
                    )
                )

            def plan(kind: str, principal: int, at: dt.datetime) -> None:
                s.add(
                    CreditPlan(
                        account_id=accounts[0],
                        tenant_id=tenant_id,
                        kind=kind,
                        product_id="p",
                        terms="{}",
                        principal_fen=principal,
                        periods=6,
                        apr="0.1",
                        start_date=DAY,
                        outstanding_principal_fen=principal,
                        idempotency_key=secrets.token_hex(8),
                        liveness_session_id=secrets.token_hex(16),
                        face_score=0.9,
                        face_threshold=0.5,
                        face_model_id="m",
                        face_calibration_id="c",
                        transaction_id="t",
                        created_at=at,
                    )
                )

            def real_name(outcome: str, at: dt.datetime) -> None:
                s.add(
                    RealNameAuthentication(
                        account_id=accounts[1],
                        method="bank_card",
                        outcome=outcome,
                        reasons="[]",
                        id_number_hash="0" * 64,
                        identity_sealed=b"",
                        identity_wrapped_key=b"",
                        master_key_id="k",
                        source="test",
                        liveness="not_applicable",
                        evidence_sha256="0" * 64,
                        created_at=at,
                    )
                )

            def liveness(purpose: str, status: str, decided: dt.datetime | None) -> None:
                s.add(
                    LivenessSession(
                        account_id=accounts[2],
                        purpose=purpose,
                        nonce="n",
                        actions='["blink", "open_mouth"]',
                        status=status,
                        expires_at=local(23),
                        decided_at=decided,
                    )
                )

            def decision(action: str, at: dt.datetime) -> None:
                event = emit(s, EventIn("payment", account_id=accounts[0], amount_fen=100, at=at))
                s.add(
                    RiskDecision(
                        event_seq=event.seq,
                        account_id=accounts[0],
                        decision=action,
                        score=0.0,
                        rules="[]",
                        typologies="[]",
                        reasons="[]",
                        features="{}",
                        rule_set_version=version,
                        at=at,
                    )
                )

            # Payments, by when they were decided: the first moment of the day counts, the last
            # moment of the day before and the first of the next do not; nor do undecided or expired.
            intent("paid", 1_000, local(0))
            intent("paid", 2_500, local(9, 30))
            intent("declined", 700, local(9, 45))
            intent("declined", 300, local(23, 59, 59, 999_999))
            intent("paid", 9_999, local(23, 59, 59, 999_999, day=YESTERDAY))
            intent("paid", 8_888, local(0, day=TOMORROW))
            intent("expired", 5_000, local(10))
            intent("awaiting_face", 4_000, None)
            # Credit plans opened.
            plan("installment", 600_000, local(10))
            plan("loan", 100_000, local(11))
            plan("loan", 50_000, local(12, 30))
            plan("loan", 70_000, local(12, day=YESTERDAY))
            # Real-name authentications.
            real_name("passed", local(8))
            real_name("passed", local(8, 5))
            real_name("failed", local(8, 1))
            real_name("failed", local(20, day=YESTERDAY))
            # Liveness sessions, by when decided.
            liveness("real_name", "passed", local(8))
            liveness("real_name", "passed", local(8, 4))
            for minute in (1, 2, 3):
                liveness("payment", "passed", local(9, minute))
            liveness("payment", "failed", local(9, 10))
            liveness("loan", "failed", local(13, 1))
            liveness("loan", "failed", local(13, 2))
            liveness("loan", "passed", local(13, 3))
            liveness("loan", "pending", None)
            liveness("loan", "failed", local(23, day=YESTERDAY))
            # Risk decisions.
            decision("approve", local(9, 30))
            decision("approve", local(9, 45))
            decision("approve", local(10))
            decision("step_up", local(10, 30))
            decision("review", local(11))
            decision("decline", local(11, 15))
            decision("freeze", local(12))
            decision("approve", local(23, day=YESTERDAY))
            # Cases (two not closed) and one frozen account, whenever they happened.
            for status in ("open", "assigned", "closed"):
                s.add(RiskCase(account_id=accounts[0], typologies="[]", status=status))
            s.get(Account, accounts[1]).status = "frozen"
            s.commit()

        r = client.get("/v1/operator/dashboard", params={"day": DAY.isoformat()}, headers=hs["op"])
        assert r.status_code == 200, r.text
        d = r.json()
        assert (d["day"], d["utc_offset_hours"]) == ("2026-03-10", 8)
        assert d["start"].startswith("2026-03-09T16:00:00") and d["end"].startswith("2026-03-10T16:00:00")
        assert d["payments"] == {
            "paid": {"count": 2, "amount_fen": 3_500},
            "declined": {"count": 2, "amount_fen": 1_000},
        }
        assert d["credit"] == {
            "installment": {"count": 1, "amount_fen": 600_000},
            "loan": {"count": 2, "amount_fen": 150_000},
        }
        assert d["real_name"] == {"passed": 2, "failed": 1}
        assert d["decisions"] == {"approve": 3, "step_up": 1, "review": 1, "decline": 1, "freeze": 1}
        assert d["liveness"] == {"purpose": "all", "passed": 6, "failed": 3, "failure_rate": pytest.approx(3 / 9)}
        assert d["liveness_by_purpose"] == [
            {"purpose": "loan", "passed": 1, "failed": 2, "failure_rate": pytest.approx(2 / 3)},
            {"purpose": "payment", "passed": 3, "failed": 1, "failure_rate": pytest.approx(1 / 4)},
            {"purpose": "real_name", "passed": 2, "failed": 0, "failure_rate": 0.0},
        ]
        assert (d["open_cases"], d["frozen_accounts"]) == (2, 1)

        hours = d["hours"]
        assert [h["hour"] for h in hours] == list(range(24))
        busy = {
            h["hour"]: h
            for h in hours
            if h["payments_paid"] or h["payments_declined"] or h["liveness_total"] or any(h["decisions"].values())
        }
        assert sorted(busy) == [0, 8, 9, 10, 11, 12, 13, 23]
        assert (busy[0]["payments_paid"], busy[0]["payments_declined"]) == (1, 0)
        assert (busy[9]["payments_paid"], busy[9]["payments_declined"]) == (1, 1)
        assert (busy[23]["payments_paid"], busy[23]["payments_declined"]) == (0, 1)
        assert busy[9]["decisions"] == {"approve": 2, "step_up": 0, "review": 0, "decline": 0, "freeze": 0}
        assert busy[10]["decisions"] == {"approve": 1, "step_up": 1, "review": 0, "decline": 0, "freeze": 0}
        assert busy[11]["decisions"] == {"approve": 0, "step_up": 0, "review": 1, "decline": 1, "freeze": 0}
        assert busy[12]["decisions"]["freeze"] == 1
        assert [(h, busy[h]["liveness_total"], busy[h]["liveness_failed"]) for h in (8, 9, 13)] == [
            (8, 2, 0),
            (9, 4, 1),
            (13, 3, 2),
        ]
        assert sum(h["liveness_total"] for h in hours) == 9

        # The day before holds exactly the rows placed in it.
        before = client.get("/v1/operator/dashboard", params={"day": YESTERDAY.isoformat()}, headers=hs["op"]).json()
        assert before["payments"]["paid"] == {"count": 1, "amount_fen": 9_999}
        assert before["hours"][23]["payments_paid"] == 1 and before["hours"][23]["liveness_failed"] == 1
        assert (before["credit"]["loan"], before["real_name"], before["decisions"]["approve"]) == (
            {"count": 1, "amount_fen": 70_000},
            {"passed": 0, "failed": 1},
            1,
        )

        # Without a day: today at UTC+8.
        today = client.get("/v1/operator/dashboard", headers=hs["op"]).json()
        assert today["day"] == dt.datetime.now(BEIJING).date().isoformat()
        assert client.get("/v1/operator/dashboard", headers=hs["a"]).status_code == 401


def _tenant_id(app) -> str:
    with app.state.sessions() as s:
        return s.execute(text("SELECT id FROM tenants WHERE name = 'shop-a'")).scalar_one()


# --- the dashboard: real flows ----------------------------------------------------------------


def figures(d: dict) -> Counter:
    """The figures of one day's dashboard that the real flows touch, flat, so two days can be added."""
    c = Counter({("real_name", k): v for k, v in d["real_name"].items()})
    for group in ("credit", "payments"):
        for k, f in d[group].items():
            c[group, k, "count"], c[group, k, "amount_fen"] = f["count"], f["amount_fen"]
    c.update({("decisions", k): v for k, v in d["decisions"].items()})
    for p in d["liveness_by_purpose"]:
        c["liveness", p["purpose"], "passed"], c["liveness", p["purpose"], "failed"] = p["passed"], p["failed"]
    c["open_cases"], c["frozen_accounts"] = d["open_cases"], d["frozen_accounts"]
    c["hours", "payments_paid"] = sum(h["payments_paid"] for h in d["hours"])
    c["hours", "decisions"] = sum(sum(h["decisions"].values()) for h in d["hours"])
    return c


def test_dashboard_counts_real_flows_where_they_belong(world):
    """Li's real-name check (in the fixture), a loan confirmed by her face, face pay switched on and
    one face payment: each lands in its figure. The figures of every business day the test spans are
    added up, so a run across midnight in Beijing counts the same."""
    with world.app.state.sessions() as s:  # the fixture's real-name check is the first flow
        first_day = business_day(as_utc(s.execute(select(func.min(RealNameAuthentication.created_at))).scalar_one()), 8)
    assert world.grant(20_000 * CNY).status_code == 200
    r = world.loan(3_000 * CNY, world.face_pass("loan"), "dash-loan")
    assert r.status_code == 201, r.text
    assert switch_on(world.client, world.app, world.h, world.shared_data, LI).status_code == 201
    frames = FramePool(world.shared_data, world.app)  # takes no earlier capture of this world used
    terminal = merchant_terminal(world.client, world.hs, world.tenant)
    _, _, view = pay_with_face(world.client, frames, terminal, LI, 1_250, "dash-pay")
    assert view["status"] == "paid", view

    last_day = business_day(dt.datetime.now(dt.UTC), 8)
    days = {first_day, last_day}
    seen = sum(
        (
            figures(
                world.client.get(
                    "/v1/operator/dashboard", params={"day": day.isoformat()}, headers=world.hs["op"]
                ).json()
            )
            for day in days
        ),
        Counter(),
    )
    assert seen == Counter(
        {
            ("real_name", "passed"): 1,
            ("credit", "loan", "count"): 1,
            ("credit", "loan", "amount_fen"): 3_000 * CNY,
            ("payments", "paid", "count"): 1,
            ("payments", "paid", "amount_fen"): 1_250,
            ("decisions", "approve"): 2,  # the loan, the payment
            ("liveness", "real_name", "passed"): 1,
            ("liveness", "loan", "passed"): 1,
            ("liveness", "face_pay_enrolment", "passed"): 1,
            ("liveness", "payment", "passed"): 1,
            ("hours", "payments_paid"): 1,
            ("hours", "decisions"): 2,
        }
    )  # every other figure (failures, declines, cases, frozen accounts) is zero


# --- a case's evidence ------------------------------------------------------------------------


def test_case_events_and_decision_detail_explain_a_real_review(world):
    assert world.grant(20_000 * CNY).status_code == 200
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
    session_id = world.face_pass("loan")
    r = world.client.post(
        "/v1/me/credit/loans",
        headers=signed_in_on(world.client, world.hs, LI.user, "farm-phone"),
        json={
            "product_id": "cash-loan",
            "amount_fen": 100_000,
            "periods": 6,
            "liveness_session_id": session_id,
            "idempotency_key": "farm",
        },
    )
    assert r.status_code == 403 and error(r) == "risk_declined", r.text
    case = world.client.get("/v1/operator/risk/cases", headers=world.hs["op"]).json()[0]

    events = world.client.get(f"/v1/operator/risk/cases/{case['case_id']}/events", headers=world.hs["op"])
    assert events.status_code == 200, events.text
    events = events.json()
    triggers = [e for e in events if e["trigger"]]
    assert len(triggers) == 1
    trigger = triggers[0]
    assert (
        trigger["kind"],
        trigger["device_id"],
        trigger["amount_fen"],
        trigger["decision"],
        trigger["decision_id"],
    ) == ("loan", "farm-phone", 100_000, "review", case["decision_id"])
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)  # newest first
    assert {e["account_id"] for e in events} == {world.account_id}
    assert "real_name" in {e["kind"] for e in events}

    detail = world.client.get(f"/v1/operator/risk/decisions/{case['decision_id']}", headers=world.hs["compliance"])
    assert detail.status_code == 200, detail.text
    detail = detail.json()
    assert (detail["decision"], detail["event"]["seq"], detail["event"]["kind"]) == ("review", trigger["seq"], "loan")
    rule = next(r for r in detail["rules"] if r["id"] == "device_many_accounts")
    assert rule["features"] == {"device_accounts_30d": detail["features"]["device_accounts_30d"]}
    assert rule["features"]["device_accounts_30d"] >= 4 and rule["description"] and rule["score"] > 0
    assert [(t["id"], t["action"]) for t in detail["typologies"]] == [("shared_device_or_identity", "review")]
    # Both languages of each description, for the console to show the operator's own.
    assert rule["description_zh"] == "该设备 30 天内被 3 个及以上账户使用"
    assert rule["description"].startswith("three or more accounts")
    assert detail["typologies"][0]["description_zh"] == "多个账户共用同一设备、人脸、收货地址或 IP"
    missing = world.client.get(f"/v1/operator/risk/decisions/{'0' * 32}", headers=world.hs["op"])
    assert missing.status_code == 404 and error(missing) == "decision_not_found"
    gone = world.client.get(f"/v1/operator/risk/cases/{'0' * 32}/events", headers=world.hs["op"])
    assert gone.status_code == 404 and error(gone) == "case_not_found"
