"""The person's copy of their data (PIPL Art. 45; issue 24): ``GET /v1/me/export`` over HTTP, for
Li, who passed real-name authentication by face, switched face pay on, paid at a terminal (partly
refunded), disputed a payment and took a loan, with Zhang's payments interleaved with hers. Every
section is there; nothing of Zhang's is; no template, vector or full ID number anywhere; the
export is audited and rate-limited."""

from __future__ import annotations

import base64
import json

import pytest
from creditworld import mint_pass, quiet_rules
from facepay import LI, ZHANG, FramePool, consent, enrolled_world, merchant_terminal, pay_with_face
from sqlalchemy import func, select

from facetrust.clock import new_id
from facetrust.identity.export import FORMAT, FORMAT_VERSION
from facetrust.identity.models import Account
from facetrust.payments.models import PaymentIntent
from facetrust.risk import cases, events
from facetrust.risk.events import EventIn
from facetrust.risk.models import RiskCase, RiskDecision
from facetrust.security.envelope import Sealed
from facetrust.security.models import AuditRecord, StoredTemplate
from facetrust.security.template_store import _aad


@pytest.fixture()
def lived(tmp_path, database_url, shared_data):
    """The enrolled world (as tests/test_face_pay_controls.py's), then a life: Li and Zhang pay in
    turn at one terminal, Li's payment is partly refunded and her other disputed, she takes a loan."""
    ctx, client, app, hs, tenant, users = enrolled_world(
        tmp_path,
        database_url,
        shared_data,
        [ZHANG, LI],
        [(LI, 100_000), (ZHANG, 100_000)],
        risk_rules_path=quiet_rules(tmp_path),
    )
    frames = FramePool(shared_data, app)
    terminal = merchant_terminal(client, hs, tenant)
    hl, hz = users[LI.user], users[ZHANG.user]
    li = client.get("/v1/me", headers=hl).json()["account_id"]
    zhang = client.get("/v1/me", headers=hz).json()["account_id"]
    paid = {}
    for person, amount, order in ((LI, 1250, "li-1"), (ZHANG, 990, "zhang-1"), (LI, 480, "li-2")):
        intent, _, view = pay_with_face(client, frames, terminal, person, amount, order)
        assert view["status"] == "paid", view
        paid[order] = intent["intent_id"]
    r = terminal.call(
        "POST", f"/v1/terminal/payment-intents/{paid['li-1']}/refunds", {"refund_id": "r-1", "amount_fen": 250}
    )
    assert r.status_code == 201, r.text
    assert client.post(f"/v1/me/face-pay/payments/{paid['li-2']}/dispute", headers=hl).status_code == 201
    assert client.post(f"/v1/me/face-pay/payments/{paid['zhang-1']}/dispute", headers=hz).status_code == 201
    r = client.put(
        f"/v1/operator/accounts/{li}/credit-line", headers=hs["op"], json={"limit_fen": 500_000, "reason": "op-secret"}
    )
    assert r.status_code == 200, r.text
    consent(client, hl, "credit_face_verification")
    session_id = mint_pass(app, shared_data, li, "loan", LI, 1)
    r = client.post(
        "/v1/me/credit/loans",
        headers=hl,
        json={
            "product_id": "cash-loan-annuity",
            "amount_fen": 300_000,
            "periods": 6,
            "liveness_session_id": session_id,
            "idempotency_key": "loan-1",
        },
    )
    assert r.status_code == 201, r.text
    # A refusal by risk control, as the engine stores one, with an operator's note on its case.
    with app.state.sessions() as s:
        event = events.emit(s, EventIn("payment", account_id=li, amount_fen=99_900, ref="x"))
        version = s.execute(select(RiskDecision.rule_set_version)).scalars().first()
        decision = RiskDecision(
            id=new_id(),
            event_seq=event.seq,
            account_id=li,
            decision="decline",
            score=9.5,
            rules=json.dumps(["burst_rule_internal"]),
            typologies=json.dumps(["card_testing_internal"]),
            reasons=json.dumps(["velocity.account_10m", "device.new_for_account"]),
            features=json.dumps({"account_payments_10m": 7}),
            rule_set_version=version,
        )
        s.add(decision)
        s.flush()
        case = cases.open_case(s, li, None, decision.id, ["card_testing_internal"])
        cases.add_note(s, case, "operator:carol", "operator-note-secret: looks like a mule")
        s.commit()
    yield client, app, hs, users, {"li": li, "zhang": zhang, "paid": paid, "loan": r.json()}
    ctx.__exit__(None, None, None)


def export(client, h) -> dict:
    r = client.get("/v1/me/export", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    return r.json()


def number_lists(value, found: list) -> list:
    """Every list of 16 or more numbers anywhere in the document (a vector would be one)."""
    if isinstance(value, list):
        if len(value) >= 16 and all(isinstance(v, int | float) for v in value):
            found.append(value)
        for v in value:
            number_lists(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            number_lists(v, found)
    return found


def test_the_export_holds_every_section_of_the_persons_data(lived):
    client, app, hs, users, ids = lived
    body = export(client, users[LI.user])
    assert body["format"] == FORMAT and body["format_version"] == FORMAT_VERSION and body["generated_at"]

    account = body["account"]
    assert account["account_id"] == ids["li"] and account["platform_user_id"] == LI.user
    assert account["mobile_masked"] == "139****5432" and account["real_name_verified_at"]

    granted = {(c["purpose"], c["action"]) for c in body["consents"]}
    assert {("kyc_face_verification", "grant"), ("face_pay", "grant"), ("credit_face_verification", "grant")} <= granted
    assert all(c["notice_version"] and c["notice"]["zh"] and c["notice"]["en"] for c in body["consents"])

    (real_name,) = body["real_name"]
    assert real_name["method"] == "face" and real_name["outcome"] == "passed" and real_name["source"]
    assert real_name["id_number_masked"] == LI.id_number[:4] + "*" * 10 + LI.id_number[-4:]
    assert real_name["name_masked"] == "李*" and real_name["at"]

    assert {t["purpose"] for t in body["face_templates"]["held"]} == {"kyc", "face_pay"}
    face_pay = body["face_pay"]
    assert face_pay["enrolled"] is True and face_pay["paused"] is False
    assert [d["intent_id"] for d in face_pay["disputes"]] == [ids["paid"]["li-2"]]
    assert {s["purpose"] for s in body["liveness_checks"]} >= {"real_name", "face_pay_enrolment", "payment", "loan"}

    payments = {p["intent_id"]: p for p in body["payments"]}
    assert set(payments) == {ids["paid"]["li-1"], ids["paid"]["li-2"]}
    assert payments[ids["paid"]["li-1"]]["amount_fen"] == 1250 and payments[ids["paid"]["li-1"]]["refunded_fen"] == 250
    assert payments[ids["paid"]["li-1"]]["merchant"] == "Vending 7"
    assert [(r["intent_id"], r["amount_fen"]) for r in body["refunds"]] == [(ids["paid"]["li-1"], 250)]
    assert body["wallet"]["balance_fen"] == client.get("/v1/me/wallet", headers=users[LI.user]).json()["balance_fen"]

    credit = body["credit"]
    assert credit["line"]["limit_fen"] == 500_000 and credit["line"]["used_fen"] == 300_000
    (plan,) = credit["plans"]
    assert plan["kind"] == "loan" and plan["principal_fen"] == 300_000 and len(plan["installments"]) == 6
    assert sum(i["principal_fen"] for i in plan["installments"]) == 300_000
    assert plan["repayments"] == []

    (refusal,) = body["risk_refusals"]
    assert refusal["decision"] == "decline" and refusal["amount_fen"] == 99_900
    assert "declined" in refusal["text"]["en"] and "¥999.00" in refusal["text"]["en"]
    assert "short time" in refusal["text"]["en"] and "device" in refusal["text"]["en"]
    assert "拒绝" in refusal["text"]["zh"]

    reads = body["face_template_reads"]
    by_reason = {r["reason"] for r in reads}
    assert {"face_pay_enrolment", "face_pay_identification"} <= by_reason, by_reason
    at_terminal = [r for r in reads if r["by"]["kind"] == "terminal"]
    assert at_terminal and all(r["by"]["merchant"] == "Vending 7" and r["purpose"] == "face_pay" for r in at_terminal)
    # Zhang's payment read Li's template too (the search weighs every close candidate): she is told.
    assert len([r for r in at_terminal if r["reason"] == "face_pay_identification"]) >= 3
    assert all(r["at"] and r["purpose"] for r in reads)
    # Zhang's enrolment checked her face against the gallery, Li's template among it: said, not who.
    others = [r for r in reads if r["by"]["kind"] == "another_user_enrolment"]
    assert [r["reason"] for r in others] == ["duplicate_identity_check"]
    assert {r["by"]["kind"] for r in reads} >= {"you", "terminal", "another_user_enrolment"}

    with app.state.sessions() as s:
        (record,) = s.execute(select(AuditRecord).where(AuditRecord.action == "data.export")).scalars()
        assert record.subject == f"account:{ids['li']}" and record.actor == f"account:{ids['li']}"
    assert len(export(client, users[LI.user])["previous_exports"]) == 1


def test_no_template_vector_or_full_id_number_and_no_rule_internals(lived):
    client, app, hs, users, ids = lived
    r = client.get("/v1/me/export", headers=users[LI.user])
    text, body = r.text, r.json()
    for secret in (LI.id_number, ZHANG.id_number, LI.name, ZHANG.name, LI.id_number[4:14]):
        assert secret not in text, secret
    for internal in (
        "burst_rule_internal",
        "card_testing_internal",
        "velocity.account_10m",
        "account_payments_10m",
        "operator-note-secret",
        "carol",
        "op-secret",
        '"score"',
        '"threshold"',
        '"identification"',  # a payment's search result names the other candidates
        '"candidates"',
    ):
        assert internal not in text, internal
    assert number_lists(body, []) == []
    with app.state.sessions() as s:
        rows = s.execute(select(StoredTemplate)).scalars().all()
        keyring = app.state.keyring
        for row in rows:
            raw = keyring.open(Sealed(row.ciphertext, row.wrapped_key, row.master_key_id), _aad(row))
            for blob in (raw, row.ciphertext, row.wrapped_key):
                for encoded in (blob.hex(), base64.b64encode(blob).decode(), base64.urlsafe_b64encode(blob).decode()):
                    assert encoded[:40] not in text
    for word in ("ciphertext", "wrapped_key", "vector", "embedding"):
        assert word not in text


def test_two_people_never_see_each_others_data(lived):
    client, app, hs, users, ids = lived
    mine, theirs = export(client, users[LI.user]), export(client, users[ZHANG.user])
    with app.state.sessions() as s:
        li, zhang = s.get(Account, ids["li"]), s.get(Account, ids["zhang"])
        intents = {i.id: i for i in s.execute(select(PaymentIntent)).scalars()}
        templates = {t.id: t.account_id for t in s.execute(select(StoredTemplate)).scalars()}
    own_text, their_text = json.dumps(mine, ensure_ascii=False), json.dumps(theirs, ensure_ascii=False)
    for text, me, other in ((own_text, li, zhang), (their_text, zhang, li)):
        assert me.id in text
        for leak in (other.id, other.mobile, other.mobile[-4:] + '"', other.platform_user_id + '"'):
            assert leak not in text, leak
        for intent_id, intent in intents.items():
            assert (intent_id in text) == (intent.payer_account_id == me.id), intent_id
            if intent.transaction_id:
                assert (intent.transaction_id in text) == (intent.payer_account_id == me.id)
        for template_id, owner in templates.items():
            assert (template_id in text) == (owner == me.id)
    assert theirs["credit"]["line"] is None and theirs["credit"]["plans"] == []
    assert theirs["risk_refusals"] == [] and theirs["refunds"] == []
    assert [d["intent_id"] for d in theirs["face_pay"]["disputes"]] == [ids["paid"]["zhang-1"]]
    assert {p["amount_fen"] for p in theirs["payments"]} == {990}


def test_the_export_needs_the_users_own_token_and_is_rate_limited(lived):
    client, app, hs, users, ids = lived
    r = client.get("/v1/me/export")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = client.get("/v1/me/export", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = client.get("/v1/me/export", headers=hs["op"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = client.get("/v1/me/export", headers=hs["a"])
    assert r.status_code == 401
    limit = app.state.settings.rate_limit_export_per_minute
    answers = [client.get("/v1/me/export", headers=users[LI.user]).status_code for _ in range(limit + 1)]
    assert answers == [200] * limit + [429]
    with app.state.sessions() as s:  # every export made is audited; the refused one is not
        assert s.scalar(select(func.count()).where(AuditRecord.action == "data.export")) == limit
        assert s.scalar(select(func.count()).select_from(RiskCase)) >= 1
