"""Getting back into an account on a new device, over HTTP (issue 24, item 4).

Li (the credit world: real-name authenticated by face, a funded wallet, a credit line) signs in on
her old phone, which binds it, then on a new one. From the new one she reads but cannot let money
leave until she proves it is her there: a live face check (a real capture of her clip) compared
with her real-name face, then a cool-down; or, when the face check cannot prove her, a review by
an operator. Zhang's face presented on her account fails and counts towards the lockout.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from capture import new_session, passed_session
from creditworld import CNY, World, error, mint_pass
from facepay import LI, ZHANG, signed_in_on, take_for

from facetrust.clock import utcnow
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.risk.models import RiskCase
from facetrust.security import lockout
from facetrust.security.models import AuditRecord, FailedFaceAttempt

OLD, NEW = "li-old-phone", "li-new-phone"


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    w = World(tmp_path, database_url, shared_data)
    assert w.grant(20_000 * CNY).status_code == 200
    yield w
    w.close()


def phones(world: World) -> tuple[dict, dict]:
    """Li signed in on her old phone first (it becomes the account's device), then on a new one."""
    return signed_in_on(world.client, world.hs, LI.user, OLD), signed_in_on(world.client, world.hs, LI.user, NEW)


def draw(world: World, h: dict, session_id: str, key: str):
    return world.client.post(
        "/v1/me/credit/loans",
        headers=h,
        json={
            "product_id": "cash-loan-annuity",
            "amount_fen": 500 * CNY,
            "periods": 12,
            "liveness_session_id": session_id,
            "idempotency_key": key,
        },
    )


def rebind_by_face(world: World, h: dict, face=LI):
    session_id = passed_session(
        world.client, world.app, h, world.shared_data, "device_rebind", take_for(world.app, face, "two")
    )
    return world.client.post(
        "/v1/me/device/rebind", headers=h, json={"method": "face", "liveness_session_id": session_id}
    )


def audit_records(world: World, action: str) -> list[AuditRecord]:
    with world.app.state.sessions() as s:
        return s.query(AuditRecord).filter(AuditRecord.action == action).order_by(AuditRecord.seq).all()


def test_a_new_device_reads_but_money_cannot_leave_from_it(world):
    old, new = phones(world)
    status = world.client.get("/v1/me/device", headers=new).json()
    assert status["bound"] is False and status["can_move_money"] is False
    assert status["rebind_methods"] == ["face", "bank_card", "review"]
    assert world.client.get("/v1/me/device", headers=old).json()["can_move_money"] is True
    # Reading works from the new device.
    assert world.client.get("/v1/me/wallet", headers=new).status_code == 200
    assert world.client.get("/v1/me/credit", headers=new).status_code == 200
    # A loan, an installment purchase and switching face pay on are refused before any face check.
    r = draw(world, new, "0" * 32, "from-new")
    assert r.status_code == 403 and error(r) == "device_not_bound", r.text
    checkout = world.checkout(1_000 * CNY, "order-new-phone")
    r = world.client.post(
        f"/v1/me/credit/checkouts/{checkout['checkout_id']}/confirm",
        headers=new,
        json={"product_id": "mall-installment-fee", "periods": 12, "liveness_session_id": "0" * 32},
    )
    assert r.status_code == 403 and error(r) == "device_not_bound", r.text
    r = world.client.post("/v1/me/face-pay", headers=new, json={"liveness_session_id": "0" * 32})
    assert r.status_code == 403 and error(r) == "device_not_bound", r.text
    # Closing the account is not for an unbound device either.
    r = world.client.delete("/v1/me", headers=new)
    assert r.status_code == 403 and error(r) == "device_not_bound", r.text
    assert world.wallet() == 20_000 * CNY


def test_a_live_face_rebinds_the_new_device_tells_the_old_one_and_money_waits_the_cool_down(world):
    old, new = phones(world)
    r = rebind_by_face(world, new)
    assert r.status_code == 201, r.text
    body = r.json()
    until = dt.datetime.fromisoformat(body["cooldown_until"])
    assert body["method"] == "face" and dt.timedelta(hours=23.9) < until - utcnow() <= dt.timedelta(hours=24)

    # The old phone is told (and is no longer the account's device); the new one is not.
    told = world.client.get("/v1/me/notifications", headers=old).json()
    assert [n["kind"] for n in told] == ["device_rebound"]
    assert told[0]["data"]["method"] == "face"
    assert dt.datetime.fromisoformat(told[0]["data"]["cooldown_until"]) == until
    assert world.client.get("/v1/me/notifications", headers=new).json() == []
    assert world.client.get("/v1/me/device", headers=old).json()["bound"] is False
    status = world.client.get("/v1/me/device", headers=new).json()
    assert status["bound"] is True and status["can_move_money"] is False and status["cooldown_until"]

    # During the cool-down money does not leave from the new phone: the code and when it ends.
    r = draw(world, new, world.face_pass("loan"), "in-cool-down")
    assert r.status_code == 403 and error(r) == "device_cooling_down", r.text
    assert dt.datetime.fromisoformat(r.json()["error"]["until"]) == until
    # After it, it does.
    world.app.state.devices.clock = lambda: utcnow() + dt.timedelta(hours=24, minutes=1)
    assert world.client.get("/v1/me/device", headers=new).json()["can_move_money"] is True
    r = draw(world, new, world.face_pass("loan"), "after-cool-down")
    assert r.status_code == 201, r.text
    # The old phone is now the one that cannot move money.
    assert error(draw(world, old, "0" * 32, "from-old")) == "device_not_bound"

    # Audited: the re-binding, and the real-name face read for it, with its reason.
    rebinds = audit_records(world, "device.rebind")
    assert len(rebinds) == 1 and rebinds[0].subject == f"account:{world.account_id}"
    details = json.loads(rebinds[0].details)
    assert details["device_id"] == NEW and details["previous_device_id"] == OLD and details["method"] == "face"
    reads = [r for r in audit_records(world, "template.read") if json.loads(r.details)["reason"] == "device_rebind"]
    assert len(reads) == 1 and reads[0].purpose == "kyc" and reads[0].actor == f"account:{world.account_id}"
    # The risk engine decided it.
    decisions = world.client.get(
        f"/v1/operator/accounts/{world.account_id}/risk-decisions", headers=world.hs["op"]
    ).json()
    assert any(d["event_kind"] == "device_rebind" and d["decision"] == "approve" for d in decisions), decisions


def test_another_persons_face_fails_counts_towards_the_lockout_and_a_review_binds(world):
    old, new = phones(world)
    r = rebind_by_face(world, new, face=ZHANG)
    assert r.status_code == 403 and error(r) == "face_mismatch", r.text
    assert r.json()["error"]["attempts_left"] == world.app.state.settings.lockout_max_failures - 1
    with world.app.state.sessions() as s:
        failures = s.query(FailedFaceAttempt).filter(FailedFaceAttempt.account_id == world.account_id).all()
        assert [(f.device_id, f.kind) for f in failures] == [(NEW, "face_verification")]
        # More failures (as if more faces were tried) lock the account's face checks.
        policy = world.app.state.liveness.lockout
        for _ in range(policy.max_failures - 1):
            lockout.record_failure(s, policy, "face_verification", world.account_id, NEW, utcnow())
        s.commit()
    assert len(audit_records(world, "device.rebind_failed")) == 1
    r = world.client.post("/v1/me/device/rebind", headers=new, json={"method": "face", "liveness_session_id": "0" * 32})
    assert r.status_code == 429 and error(r) == "face_attempts_locked", r.text
    assert world.client.get("/v1/me/device", headers=new).json()["bound"] is False

    # The way out: a person reviews it. Asking twice answers the same review.
    note = "new phone, my face was refused; call me on 13800138000"
    r = world.client.post("/v1/me/device/rebind/review", headers=new, json={"note": note})
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    review_id = r.json()["review_id"]
    again = world.client.post("/v1/me/device/rebind/review", headers=new, json={})
    assert again.json()["review_id"] == review_id
    listed = world.client.get("/v1/operator/device-reviews?status=pending", headers=world.hs["op"]).json()
    assert [x["review_id"] for x in listed] == [review_id] and listed[0]["device_id"] == NEW
    assert listed[0]["note"] == "new phone, my face was refused; call me on 138****8000"  # typed: masked
    case = world.client.get(f"/v1/operator/risk/cases/{listed[0]['case_id']}", headers=world.hs["op"]).json()
    assert case["account_id"] == world.account_id and "device_rebind_review" in case["typologies"]

    decide = f"/v1/operator/device-reviews/{review_id}/decision"
    r = world.client.post(decide, headers=world.hs["op"], json={"decision": "approve", "reason": "called her back"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    assert r.json()["decided_by"].startswith("operator:")
    again = world.client.post(decide, headers=world.hs["op"], json={"decision": "deny", "reason": "changed my mind"})
    assert again.status_code == 409 and error(again) == "device_review_decided"
    status = world.client.get("/v1/me/device", headers=new).json()
    assert status["bound"] is True and status["review"]["status"] == "approved" and status["cooldown_until"]
    assert [n["kind"] for n in world.client.get("/v1/me/notifications", headers=old).json()] == ["device_rebound"]
    approved = audit_records(world, "device.review_approved")
    assert len(approved) == 1 and json.loads(approved[0].details)["reason"] == "called her back"
    assert json.loads(audit_records(world, "device.rebind")[0].details)["method"] == "review"


def test_a_denied_review_keeps_the_device_unbound(world):
    _, new = phones(world)
    review_id = world.client.post("/v1/me/device/rebind/review", headers=new, json={}).json()["review_id"]
    r = world.client.post(
        f"/v1/operator/device-reviews/{review_id}/decision",
        headers=world.hs["op"],
        json={"decision": "deny", "reason": "the caller could not answer"},
    )
    assert r.status_code == 200 and r.json()["status"] == "denied", r.text
    assert world.client.get("/v1/me/device", headers=new).json()["bound"] is False
    assert [n["kind"] for n in world.client.get("/v1/me/notifications", headers=new).json()] == ["device_review_denied"]
    assert error(draw(world, new, "0" * 32, "after-denial")) == "device_not_bound"


def test_rebinding_again_and_again_goes_to_review(world):
    _, new = phones(world)
    with world.app.state.sessions() as s:
        for days in (2, 4):
            events.emit(
                s,
                EventIn(
                    "device_rebind",
                    account_id=world.account_id,
                    device_id=f"phone-{days}",
                    outcome="passed",
                    at=utcnow() - dt.timedelta(days=days),
                ),
            )
        s.commit()
    r = rebind_by_face(world, new)
    assert r.status_code == 403 and error(r) == "risk_declined" and r.json()["error"]["held_for_review"], r.text
    assert world.client.get("/v1/me/device", headers=new).json()["bound"] is False
    with world.app.state.sessions() as s:
        case = s.query(RiskCase).filter(RiskCase.account_id == world.account_id).one()
        assert "device_rebind_churn" in json.loads(case.typologies)


def test_only_the_account_holder_rebinds_and_only_risk_operators_decide(world):
    _, new = phones(world)
    # Another account (signed in on a new device of its own) cannot use Li's face check.
    r = world.client.post(
        "/v1/accounts", json={"platform_user_id": "mallory", "mobile": "13700002222"}, headers=world.hs["a"]
    )
    assert r.status_code == 201, r.text
    signed_in_on(world.client, world.hs, "mallory", "mallory-1")
    mallory = signed_in_on(world.client, world.hs, "mallory", "mallory-2")
    lis = new_session(world.client, world.app, new, "device_rebind")
    r = world.client.post(
        "/v1/me/device/rebind", headers=mallory, json={"method": "face", "liveness_session_id": lis["session_id"]}
    )
    assert r.status_code == 409 and error(r) == "kyc_face_required", r.text  # Mallory has no face on file
    assert world.client.get("/v1/me/notifications", headers=mallory).json() == []
    # Li's own face pass proves the device it was made on, not another one.
    elsewhere = mint_pass(world.app, world.shared_data, world.account_id, "device_rebind", LI, 1)
    r = world.client.post(
        "/v1/me/device/rebind", headers=new, json={"method": "face", "liveness_session_id": elsewhere}
    )
    assert r.status_code == 403 and error(r) == "liveness_required", r.text
    # The bound device has nothing to rebind; a token without a device cannot name one.
    old = signed_in_on(world.client, world.hs, LI.user, OLD)
    r = world.client.post("/v1/me/device/rebind/review", headers=old, json={})
    assert r.status_code == 409 and error(r) == "device_already_bound"
    r = world.client.post("/v1/me/device/rebind/review", headers=world.h, json={})
    assert r.status_code == 422 and error(r) == "device_id_required"
    # A bank-card proof must be a fresh bank-card authentication of this account.
    r = world.client.post("/v1/me/device/rebind", headers=new, json={"method": "bank_card", "authentication_id": "x"})
    assert r.status_code == 403 and error(r) == "device_rebind_proof_invalid"

    review_id = world.client.post("/v1/me/device/rebind/review", headers=new, json={}).json()["review_id"]
    decide = f"/v1/operator/device-reviews/{review_id}/decision"
    body = {"decision": "approve", "reason": "looks fine to me"}
    for caller in (new, world.hs["a"]):
        r = world.client.post(decide, headers=caller, json=body)
        assert r.status_code in (401, 403) and error(r) in ("forbidden", "unauthenticated"), r.text
    from test_authorisation_matrix import operator_token

    compliance = operator_token(world.app, "carol", "compliance_officer")
    assert error(world.client.post(decide, headers=compliance, json=body)) == "forbidden"
    assert world.client.get("/v1/operator/device-reviews", headers=compliance).status_code == 200
    assert world.client.get("/v1/me/device", headers=new).json()["bound"] is False
    r = world.client.post(decide, headers=world.hs["admin"], json={"decision": "approve", "reason": "ok"})
    assert r.status_code == 422 and error(r) == "reason_required"


def test_the_bank_card_method_with_its_one_time_code_rebinds_once(tmp_path, database_url, shared_data):
    from test_real_name_api import bank_card

    bank = tmp_path / "bank.csv"
    bank.write_text(
        f"bank,card_number,name,id_number,mobile\nSim Bank,6222020200112233446,{LI.name},{LI.id_number},{LI.mobile}\n",
        encoding="utf-8",
    )
    world = World(tmp_path, database_url, shared_data, bank_registry=bank)
    try:
        _, new = phones(world)
        element = {
            "name": LI.name,
            "id_number": LI.id_number,
            "card_number": "6222020200112233446",
            "mobile": LI.mobile,
        }
        r = bank_card(world.client, world.app, new, element)
        assert r.status_code == 201 and r.json()["method"] == "bank_card", r.text
        proof = {"method": "bank_card", "authentication_id": r.json()["authentication_id"]}
        r = world.client.post("/v1/me/device/rebind", headers=new, json=proof)
        assert r.status_code == 201 and r.json()["method"] == "bank_card", r.text
        assert world.client.get("/v1/me/device", headers=new).json()["bound"] is True
        # The same verification does not bind another device.
        tablet = signed_in_on(world.client, world.hs, LI.user, "li-tablet")
        r = world.client.post("/v1/me/device/rebind", headers=tablet, json=proof)
        assert r.status_code == 403 and error(r) == "device_rebind_proof_invalid", r.text
        # Nor does one older than a few minutes.
        r = bank_card(world.client, world.app, tablet, element)
        assert r.status_code == 201, r.text
        world.app.state.devices.clock = lambda: utcnow() + dt.timedelta(minutes=11)
        r = world.client.post(
            "/v1/me/device/rebind",
            headers=tablet,
            json={"method": "bank_card", "authentication_id": r.json()["authentication_id"]},
        )
        assert r.status_code == 403 and error(r) == "device_rebind_proof_invalid", r.text
        assert json.loads(audit_records(world, "device.rebind")[0].details)["method"] == "bank_card"
    finally:
        world.close()
