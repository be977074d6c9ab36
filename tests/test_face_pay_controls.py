"""The person's own controls on face pay (issue 24), over HTTP with real faces: their own limits
enforced to the fen before any money moves, a pause that keeps the template but stops every
terminal from matching them, and a dispute of a payment they do not recognise that opens one risk
case and freezes nothing."""

from __future__ import annotations

import pytest
from creditworld import quiet_rules
from facepay import LI, ZHANG, FramePool, enrolled_world, merchant_terminal, pay_with_face
from sqlalchemy import func, select

from facetrust.payments.models import LedgerTransaction
from facetrust.risk.models import RiskCase, RiskEvent
from facetrust.security.models import AuditRecord, StoredTemplate


@pytest.fixture()
def paying(tmp_path, database_url, shared_data):
    """Li and Zhang, real-name authenticated, face pay on, funded; a terminal; rules that approve
    everything (these tests are about the person's controls, not risk)."""
    ctx, client, app, hs, tenant, users = enrolled_world(
        tmp_path,
        database_url,
        shared_data,
        [ZHANG, LI],
        [(LI, 100_000), (ZHANG, 100_000)],
        risk_rules_path=quiet_rules(tmp_path),
    )
    yield client, app, hs, FramePool(shared_data, app), merchant_terminal(client, hs, tenant), users
    ctx.__exit__(None, None, None)


def balance(client, h) -> int:
    return client.get("/v1/me/wallet", headers=h).json()["balance_fen"]


def code(r) -> str:
    return r.json()["error"]["code"]


def account_id(client, h) -> str:
    return client.get("/v1/me", headers=h).json()["account_id"]


def test_own_limits_are_enforced_to_the_fen_before_money_moves(paying):
    client, app, hs, frames, terminal, users = paying
    hl = users[LI.user]
    r = client.put("/v1/me/face-pay/limits", headers=hl, json={"transaction_limit_fen": 1000, "daily_limit_fen": 1500})
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["own_transaction_limit_fen"] == 1000 and status["own_daily_limit_fen"] == 1500
    assert status["transaction_limit_fen"] == 200_000  # the platform's, unchanged

    # Per payment: exactly at the limit pays, one fen above is declined with its own reason.
    _, _, view = pay_with_face(client, frames, terminal, LI, 1000, "at-limit")
    assert view["status"] == "paid", view
    before = balance(client, hl)
    with app.state.sessions() as s:
        postings = s.scalar(select(func.count()).select_from(LedgerTransaction))
    intent, _, view = pay_with_face(client, frames, terminal, LI, 1001, "above-limit")
    assert view["status"] == "declined" and view["decline_reason"] == "own_limit_exceeded", view
    assert balance(client, hl) == before
    with app.state.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LedgerTransaction)) == postings  # no money moved
    # A declined payment cannot be disputed: nothing was taken.
    r = client.post(f"/v1/me/face-pay/payments/{intent['intent_id']}/dispute", headers=hl)
    assert r.status_code == 409 and code(r) == "payment_not_disputable"

    # Daily: 1000 spent, so 500 more reaches the limit exactly, and one fen more is declined.
    _, _, view = pay_with_face(client, frames, terminal, LI, 500, "to-daily")
    assert view["status"] == "paid", view
    _, _, view = pay_with_face(client, frames, terminal, LI, 1, "over-daily")
    assert view["status"] == "declined" and view["decline_reason"] == "own_limit_exceeded", view
    assert balance(client, hl) == 100_000 - 1500

    # Cleared, the platform's limits apply again.
    r = client.put("/v1/me/face-pay/limits", headers=hl, json={"transaction_limit_fen": None, "daily_limit_fen": None})
    assert r.status_code == 200 and r.json()["own_transaction_limit_fen"] is None
    with app.state.sessions() as s:
        assert s.scalar(select(func.count()).where(AuditRecord.action == "face_pay.own_limits")) == 2


def test_own_limits_above_the_platforms_or_inconsistent_are_refused(paying):
    client, app, hs, frames, terminal, users = paying
    hl = users[LI.user]
    platform = client.get("/v1/me/face-pay", headers=hl).json()
    at = {"transaction_limit_fen": platform["transaction_limit_fen"], "daily_limit_fen": platform["daily_limit_fen"]}
    assert client.put("/v1/me/face-pay/limits", headers=hl, json=at).status_code == 200  # at the platform's: allowed
    for body in (
        {"transaction_limit_fen": platform["transaction_limit_fen"] + 1},
        {"daily_limit_fen": platform["daily_limit_fen"] + 1},
    ):
        r = client.put("/v1/me/face-pay/limits", headers=hl, json=body)
        assert r.status_code == 422 and code(r) == "own_limit_above_platform", r.text
    r = client.put("/v1/me/face-pay/limits", headers=hl, json={"transaction_limit_fen": 2000, "daily_limit_fen": 1999})
    assert r.status_code == 422 and code(r) == "own_limits_inconsistent"
    for bad in (0, -1, "100", 10.5):
        r = client.put("/v1/me/face-pay/limits", headers=hl, json={"transaction_limit_fen": bad})
        assert r.status_code == 422, (bad, r.text)
    # The refusals changed nothing.
    assert client.get("/v1/me/face-pay", headers=hl).json()["own_transaction_limit_fen"] == at["transaction_limit_fen"]


def test_a_pause_stops_every_terminal_and_resume_restores_without_enrolment(paying):
    client, app, hs, frames, terminal, users = paying
    hl = users[LI.user]
    li = account_id(client, hl)
    r = client.put("/v1/me/face-pay/pause", headers=hl, json={"paused": True})
    assert r.status_code == 200 and r.json()["paused"] is True and r.json()["enabled"] is True, r.text
    with app.state.sessions() as s:  # the template is kept
        assert s.scalar(
            select(func.count()).where(StoredTemplate.account_id == li, StoredTemplate.purpose == "face_pay")
        )

    _, _, view = pay_with_face(client, frames, terminal, LI, 700, "while-paused")
    assert view["status"] == "declined" and view["decline_reason"] == "not_recognised", view
    assert view["payer_name_masked"] is None
    assert balance(client, hl) == 100_000
    with app.state.sessions() as s:  # the search did not even read her template
        reads = (
            s.execute(
                select(AuditRecord.details).where(AuditRecord.subject == "face_pay:search").order_by(AuditRecord.seq)
            )
            .scalars()
            .all()
        )
        ids = s.execute(select(StoredTemplate.id).where(StoredTemplate.account_id == li)).scalars().all()
        assert reads and not any(i in d for d in reads[-1:] for i in ids)

    assert client.put("/v1/me/face-pay/pause", headers=hl, json={"paused": True}).status_code == 200  # idempotent
    r = client.put("/v1/me/face-pay/pause", headers=hl, json={"paused": False})
    assert r.status_code == 200 and r.json()["paused"] is False
    _, _, view = pay_with_face(client, frames, terminal, LI, 700, "after-resume")
    assert view["status"] == "paid" and view["payer_name_masked"] == "李*", view
    assert balance(client, hl) == 100_000 - 700
    with app.state.sessions() as s:
        actions = s.execute(
            select(AuditRecord.action).where(
                AuditRecord.subject == f"account:{li}", AuditRecord.action.in_(("face_pay.pause", "face_pay.resume"))
            )
        ).scalars()
        assert list(actions) == ["face_pay.pause", "face_pay.resume"]


def test_pause_without_face_pay_is_refused(paying):
    client, app, hs, frames, terminal, users = paying
    hl = users[LI.user]
    assert client.delete("/v1/me/face-pay", headers=hl).status_code == 200
    r = client.put("/v1/me/face-pay/pause", headers=hl, json={"paused": True})
    assert r.status_code == 409 and code(r) == "face_pay_not_enabled"


def test_a_dispute_opens_one_case_freezes_nothing_and_only_the_payer_may_file_it(paying):
    client, app, hs, frames, terminal, users = paying
    hl, hz = users[LI.user], users[ZHANG.user]
    li = account_id(client, hl)
    intent, _, view = pay_with_face(client, frames, terminal, LI, 800, "not-me")
    assert view["status"] == "paid", view
    url = f"/v1/me/face-pay/payments/{intent['intent_id']}/dispute"

    # Someone else's payment, or none at all: the same 404, and nothing recorded.
    r = client.post(url, headers=hz)
    assert r.status_code == 404 and code(r) == "intent_not_found"
    r = client.post(f"/v1/me/face-pay/payments/{'0' * 32}/dispute", headers=hl)
    assert r.status_code == 404 and code(r) == "intent_not_found"

    with app.state.sessions() as s:
        cases_before = s.scalar(select(func.count()).select_from(RiskCase))
    first = client.post(url, headers=hl)
    assert first.status_code == 201 and first.json()["case_opened"] is True, first.text
    again = client.post(url, headers=hl)
    assert again.status_code == 200 and again.json()["dispute_id"] == first.json()["dispute_id"]

    with app.state.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RiskCase)) == cases_before + 1
        case = s.execute(select(RiskCase).where(RiskCase.account_id == li)).scalar_one()
        assert "disputed_face_payment" in case.typologies and case.status == "open"
        assert s.scalar(select(func.count()).where(RiskEvent.kind == "face_pay.dispute")) == 1
        assert s.scalar(select(func.count()).where(AuditRecord.action == "face_pay.dispute")) == 1
    me = client.get("/v1/me", headers=hl).json()
    assert me["status"] == "active"  # nothing frozen
    assert client.get("/v1/me/face-pay", headers=hl).json()["paused"] is False
    payments = client.get("/v1/me/wallet", headers=hl).json()["payments"]
    assert [p["disputed"] for p in payments if p["intent_id"] == intent["intent_id"]] == [True]
    assert balance(client, hl) == 100_000 - 800  # a dispute moves no money by itself


# A rule set whose one rule freezes the account on any dispute: the dispute obeys the rules.
FREEZE_ON_DISPUTE = """
version: test-freeze-on-dispute-1
description: freezes the account on any disputed face payment (a test of 'unless the rules say so')
rules:
  - {id: any_dispute, description: any dispute, description_zh: 任何争议, applies_to: [face_pay.dispute],
     when: {feature: amount_fen, op: ">", value: 0}, score: 1, reasons: [dispute.any]}
typologies:
  - {id: disputed, description: a dispute, description_zh: 争议, rules: [any_dispute], min_score: 1, action: freeze}
"""


def test_a_dispute_freezes_only_when_the_rules_say_so(tmp_path, database_url, shared_data):
    rules = tmp_path / "freeze-on-dispute.yaml"
    rules.write_text(FREEZE_ON_DISPUTE)
    ctx, client, app, hs, tenant, users = enrolled_world(
        tmp_path, database_url, shared_data, [ZHANG, LI], [(LI, 100_000), (ZHANG, 100_000)], risk_rules_path=rules
    )
    try:
        hl = users[LI.user]
        frames, terminal = FramePool(shared_data, app), merchant_terminal(client, hs, tenant)
        intent, _, view = pay_with_face(client, frames, terminal, LI, 800, "not-me")
        assert view["status"] == "paid", view
        r = client.post(f"/v1/me/face-pay/payments/{intent['intent_id']}/dispute", headers=hl)
        assert r.status_code == 201, r.text
        assert client.get("/v1/me", headers=hl).json()["status"] == "frozen"
        with app.state.sessions() as s:  # the freeze's case and the dispute's are one
            (case,) = s.execute(select(RiskCase).where(RiskCase.account_id == account_id(client, hl))).scalars()
            assert "disputed_face_payment" in case.typologies
    finally:
        ctx.__exit__(None, None, None)
