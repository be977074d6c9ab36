"""Face pay over HTTP, with real faces from the shared clips: opt-in, payment, revoke; the duplicate
identity; terminal signatures, nonces and idempotency; the phone-digit step; limits and step-up;
refunds; the ledger after random payments. Every answer a terminal received is checked for personal
and face data at the end of each test."""

from __future__ import annotations

import json
import random
import time

import pytest
from capture import fix_payment_challenge
from click.testing import CliRunner
from creditworld import quiet_rules
from facepay import (
    LI,
    ZHANG,
    ZHANG_TWIN,
    FramePool,
    face_pay_world,
    merchant_terminal,
    pay_with_face,
    register,
    start_payment,
    step_up,
    switch_on,
)
from fastapi.testclient import TestClient
from milvusworld import server_uri

from facetrust.cli import main as cli
from facetrust.payments import ledger
from facetrust.payments.models import LedgerTransaction, PaymentIntent
from facetrust.risk.models import RiskCase, RiskEvent
from facetrust.security.models import FailedFaceAttempt, StoredTemplate

TERMINAL_KEYS = {
    "intent_id",
    "merchant_order_id",
    "amount_fen",
    "currency",
    "status",
    "transaction_id",
    "payer_name_masked",
    "refunded_fen",
    "created_at",
    "expires_at",
    "decided_at",
    "capture_url",
}


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    """A factory: world(**settings) -> (client, app, headers, tenant id, frame pool)."""
    opened = []

    def make(**settings):
        ctx, client, app, hs, tenant = face_pay_world(
            tmp_path, database_url, shared_data, [ZHANG, LI, ZHANG_TWIN], **settings
        )
        opened.append(ctx)
        return client, app, hs, tenant, FramePool(shared_data, app)

    yield make
    for ctx in opened:
        ctx.__exit__(None, None, None)


def assert_terminal_saw_nothing_personal(terminal, app) -> None:
    """No face data, account id, name, ID number or phone number in any answer a terminal got."""
    with app.state.sessions() as s:
        from facetrust.identity.models import Account

        account_ids = [a.id for a in s.query(Account).all()]
        mobiles = [a.mobile for a in s.query(Account).all()]
    secrets = (
        account_ids
        + mobiles
        + [p.name for p in (ZHANG, LI, ZHANG_TWIN)]
        + [p.id_number for p in (ZHANG, LI, ZHANG_TWIN)]
    )
    assert terminal.responses
    for r in terminal.responses:
        text = r.text
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked to a terminal in {text}"
        body = r.json()
        if "error" in body:
            assert set(body["error"]) <= {"code", "message", "fields", "retry_after_seconds"}
            continue
        shapes = [body] + ([body["payment"]] if "payment" in body else [])
        for shape in shapes:
            extra = set(shape) - TERMINAL_KEYS - {"refund_id", "amount_fen", "transaction_id", "payment"}
            assert not extra, f"unexpected fields for a terminal: {extra}"
        masked = body.get("payer_name_masked") or (body.get("payment") or {}).get("payer_name_masked")
        assert masked is None or masked.endswith("*") and len(masked) >= 2


def ledger_ok(app) -> dict:
    with app.state.sessions() as s:
        report = ledger.check(s)
    assert report.ok, report.problems
    return report.as_dict()


@pytest.mark.parametrize("engine", ["inprocess", "milvus", "milvus-server"])
def test_opt_in_pay_revoke_then_cannot_pay(world, engine):
    """On each gallery engine: the in-process one, Milvus Lite, and a real Milvus server
    (FACETRUST_TEST_MILVUS_URI; tests/milvusworld.py)."""
    settings = (
        {"gallery_engine": "milvus", "gallery_milvus_uri": server_uri()}
        if engine == "milvus-server"
        else {"gallery_engine": engine}
    )
    client, app, hs, tenant, frames = world(**settings)
    hz = register(client, app, hs, frames.shared_data, ZHANG, fund_fen=100_000)
    assert client.get("/v1/me/face-pay", headers=hz).json()["enabled"] is False
    r = switch_on(client, app, hz, frames.shared_data, ZHANG)
    assert r.status_code == 201, r.text
    assert r.json()["enabled"] is True and r.json()["consent_granted"] is True
    hl = register(client, app, hs, frames.shared_data, LI)
    assert switch_on(client, app, hl, frames.shared_data, LI).status_code == 201
    assert app.state.gallery.size(tenant) == 2
    terminal = merchant_terminal(client, hs, tenant)

    intent, token, view = pay_with_face(client, frames, terminal, ZHANG, 1250, "order-1")
    assert view["status"] == "paid" and view["payer_name_masked"] == "张*", json.dumps(view)
    seen = terminal.call("GET", f"/v1/terminal/payment-intents/{intent['intent_id']}").json()
    assert seen["status"] == "paid" and seen["transaction_id"] and seen["payer_name_masked"] == "张*"
    assert seen["capture_url"] is None
    assert client.get("/v1/me/wallet", headers=hz).json()["balance_fen"] == 100_000 - 1250

    # A restarted service rebuilds the gallery from the database.
    from facetrust.api.app import create_app

    with TestClient(create_app(app.state.settings, app.state.kyc.engine)) as restarted:
        assert restarted.app.state.gallery.size(tenant) == 2
        if engine != "inprocess":  # Milvus keeps the collection: checked against the database, kept as it was
            check = restarted.app.state.gallery._index(tenant).last_check  # noqa: SLF001
            assert check["matched"] and check["collection_rows"] == 2 and check["inserted"] == 0

    # The same capture again (a double submission) cannot pay twice.
    again = client.post(f"/v1/capture/{token}/frames", json={**frames.last, "nonce": "whatever"})
    assert again.status_code == 409
    with app.state.sessions() as s:
        assert s.query(LedgerTransaction).filter_by(kind="payment").count() == 1

    # Revoke: gone from the gallery and the database when the call returns; the KYC record stays.
    r = client.delete("/v1/me/face-pay", headers=hz)
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["consent_granted"] is False
    assert app.state.gallery.size(tenant) == 1
    with app.state.sessions() as s:
        zhang = _account_id(s, ZHANG)
        assert s.query(StoredTemplate).filter_by(purpose="face_pay", account_id=zhang).count() == 0
        assert s.query(StoredTemplate).filter_by(purpose="kyc", account_id=zhang).count() == 1
    assert client.get("/v1/me/real-name", headers=hz).json()[0]["outcome"] == "passed"

    intent, _, view = pay_with_face(client, frames, terminal, ZHANG, 1250, "order-2")
    assert (
        view["status"] == "declined"
        and view["decline_reason"] == "not_recognised"
        and view["payer_name_masked"] is None
    )
    seen = terminal.call("GET", f"/v1/terminal/payment-intents/{intent['intent_id']}").json()
    assert seen["status"] == "declined" and seen["payer_name_masked"] is None and seen["transaction_id"] is None
    assert client.get("/v1/me/wallet", headers=hz).json()["balance_fen"] == 100_000 - 1250
    ledger_ok(app)
    assert_terminal_saw_nothing_personal(terminal, app)


def _account_id(s, person) -> str:
    from facetrust.identity.models import Account

    return s.query(Account).filter_by(platform_user_id=person.user).one().id


def test_a_face_already_enrolled_for_another_identity_is_refused_and_raised(world):
    client, app, hs, tenant, frames = world()
    hz = register(client, app, hs, frames.shared_data, ZHANG)
    assert switch_on(client, app, hz, frames.shared_data, ZHANG).status_code == 201
    ht = register(client, app, hs, frames.shared_data, ZHANG_TWIN)
    r = switch_on(client, app, ht, frames.shared_data, ZHANG_TWIN)
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_identity", r.text
    assert app.state.gallery.size(tenant) == 1
    with app.state.sessions() as s:
        twin = _account_id(s, ZHANG_TWIN)
        events = s.query(RiskEvent).filter_by(kind="face_pay.duplicate_identity").all()
        assert [e.account_id for e in events] == [twin]
        assert json.loads(events[0].data)["other_accounts"] == [_account_id(s, ZHANG)]
        case = s.query(RiskCase).filter_by(account_id=twin).one()  # the case goes to review
        assert json.loads(case.typologies) == ["duplicate_identity"] and case.status == "open"
        assert s.query(StoredTemplate).filter_by(purpose="face_pay", account_id=twin).count() == 0
    assert client.get("/v1/me/face-pay", headers=ht).json()["enabled"] is False


def test_a_retry_racing_its_first_request_gets_that_intent_not_order_already_open(world, monkeypatch):
    """The interleaving a terminal's timed-out retry can meet: its key lookup ran before the first
    request committed, and its open-order check after. It is the same request, so the same intent."""
    from facetrust.payments import intents

    client, app, hs, tenant, _ = world()
    terminal = merchant_terminal(client, hs, tenant)
    first = terminal.intent(500, "o-1", key="idem-0001")
    assert first.status_code == 201
    real_by_key, misses = intents._by_key, []

    def committed_a_moment_later(session, terminal_id, key):
        if not misses:
            misses.append(key)
            return None
        return real_by_key(session, terminal_id, key)

    monkeypatch.setattr(intents, "_by_key", committed_a_moment_later)
    retry = terminal.intent(500, "o-1", key="idem-0001")
    assert misses == ["idem-0001"]
    assert retry.status_code == 200 and retry.json()["intent_id"] == first.json()["intent_id"]
    misses.clear()
    changed = terminal.intent(900, "o-1", key="idem-0001")
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "idempotency_key_reused"
    other_key = terminal.intent(500, "o-1", key="idem-0002")
    assert other_key.status_code == 409 and other_key.json()["error"]["code"] == "order_already_open"
    with app.state.sessions() as s:
        assert s.query(PaymentIntent).filter_by(merchant_order_id="o-1").count() == 1


def test_terminal_signatures_nonces_and_idempotency(world):
    client, app, hs, tenant, _ = world()
    terminal = merchant_terminal(client, hs, tenant)
    first = terminal.intent(500, "o-1", key="idem-0001")
    assert first.status_code == 201 and first.json()["status"] == "awaiting_face"
    replay = terminal.intent(500, "o-1", key="idem-0001")
    assert replay.status_code == 200 and replay.json()["intent_id"] == first.json()["intent_id"]
    assert replay.json()["capture_url"] == first.json()["capture_url"]
    changed = terminal.intent(900, "o-1", key="idem-0001")
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "idempotency_key_reused"

    body = {"amount_fen": 100, "currency": "CNY", "merchant_order_id": "o-2", "idempotency_key": "idem-0002"}
    path = "/v1/terminal/payment-intents"
    bad = terminal.call("POST", path, body, secret="fts_not-the-secret")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "signature_invalid"
    stale = terminal.call("POST", path, body, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "signature_stale"
    ok = terminal.call("POST", path, body, nonce="nonce-used-once")
    assert ok.status_code == 201
    reused = terminal.call("POST", path, {**body, "idempotency_key": "idem-0003"}, nonce="nonce-used-once")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "nonce_reused"
    # A signed body swapped for another (a changed amount) does not verify.
    from facetrust.security import signing

    raw = json.dumps(body).encode()
    headers = signing.headers(terminal.id, terminal.secret, "POST", path, raw, int(time.time()))
    tampered = client.post(
        path,
        content=json.dumps({**body, "amount_fen": 1}).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    terminal.responses.append(tampered)
    assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "signature_invalid"
    top_up = {"amount_fen": 500, "reference": "bank-transfer-77"}
    client.post("/v1/accounts", json={"platform_user_id": "u9", "mobile": "13811112222"}, headers=hs["a"])
    assert client.post("/v1/accounts/u9/wallet/top-ups", json=top_up, headers=hs["a"]).status_code == 201
    repeat = client.post("/v1/accounts/u9/wallet/top-ups", json=top_up, headers=hs["a"])
    assert repeat.status_code == 200 and repeat.json()["balance_fen"] == 500
    assert (
        client.post("/v1/accounts/u9/wallet/top-ups", json={**top_up, "amount_fen": 900}, headers=hs["a"]).json()[
            "error"
        ]["code"]
        == "idempotency_key_reused"
    )
    unsigned = client.post(path, json=body)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "signature_missing"
    wrong_currency = terminal.call("POST", path, {**body, "currency": "USD", "idempotency_key": "idem-0004"})
    assert wrong_currency.status_code == 422 and wrong_currency.json()["error"]["code"] == "currency_unsupported"
    # Another merchant's terminal cannot read this merchant's payment.
    other = merchant_terminal(client, hs, tenant)
    assert other.call("GET", f"{path}/{first.json()['intent_id']}").status_code == 404
    with app.state.sessions() as s:
        assert s.query(PaymentIntent).count() == 2  # o-1 once, o-2 once; nothing from refused requests
    assert_terminal_saw_nothing_personal(terminal, app)


def test_phone_digits_choose_among_candidates_and_wrong_digits_count_as_failures(world):
    client, app, hs, tenant, frames = world(face_pay_direct_max_gallery=1)  # two enrolled: always ask
    hz = register(client, app, hs, frames.shared_data, ZHANG, fund_fen=10_000)
    assert switch_on(client, app, hz, frames.shared_data, ZHANG).status_code == 201
    hl = register(client, app, hs, frames.shared_data, LI)
    assert switch_on(client, app, hl, frames.shared_data, LI).status_code == 201
    terminal = merchant_terminal(client, hs, tenant)

    intent, token, view = pay_with_face(client, frames, terminal, ZHANG, 800, "p-1")
    assert view["status"] == "needs_input" and view["step"] == "phone_digits", view
    assert (
        terminal.call("GET", f"/v1/terminal/payment-intents/{intent['intent_id']}").json()["status"]
        == "needs_payer_input"
    )
    assert client.post(f"/v1/capture/{token}/phone-digits", json={"digits": "12a4"}).status_code == 422
    r = client.post(f"/v1/capture/{token}/phone-digits", json={"digits": ZHANG.mobile[-4:]})
    assert r.status_code == 200 and r.json()["status"] == "paid" and r.json()["payer_name_masked"] == "张*"

    intent, token, view = pay_with_face(client, frames, terminal, ZHANG, 800, "p-2")
    assert view["step"] == "phone_digits"
    r = client.post(
        f"/v1/capture/{token}/phone-digits",
        json={"digits": LI.mobile[-4:] if LI.mobile[-4:] != ZHANG.mobile[-4:] else "0000"},
    )
    assert (
        r.status_code == 200 and r.json()["status"] == "declined" and r.json()["decline_reason"] == "phone_digits_wrong"
    )
    with app.state.sessions() as s:
        failures = s.query(FailedFaceAttempt).filter_by(kind="face_pay_phone_digits").all()
        assert [f.device_id for f in failures] == [f"terminal:{terminal.id}"]
    assert client.get("/v1/me/wallet", headers=hz).json()["balance_fen"] == 10_000 - 800
    assert_terminal_saw_nothing_personal(terminal, app)


def test_limits_ask_for_an_active_check_or_decline(world):
    client, app, hs, tenant, frames = world(face_pay_transaction_limit_yuan=30, face_pay_daily_limit_yuan=50)
    hl = register(client, app, hs, frames.shared_data, LI, fund_fen=100_000)
    assert switch_on(client, app, hl, frames.shared_data, LI).status_code == 201
    terminal = merchant_terminal(client, hs, tenant)

    for order in ("l-1", "l-2"):  # under the limits: one quick action
        _, _, view = pay_with_face(client, frames, terminal, LI, 2000, order)
        assert view["status"] == "paid", view
    # 40 yuan spent today: another 20 goes over the 50 daily limit, so a step-up is asked: a new
    # challenge of two or more actions, answered with a two-action take of Li.
    intent, token, view = pay_with_face(client, frames, terminal, LI, 2000, "l-3")
    assert view["status"] == "needs_input" and view["step"] == "step_up" and len(view["challenge"]["actions"]) >= 2, (
        view
    )
    r = step_up(client, frames, LI, intent["intent_id"], token, view)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text

    # Over the per-transaction limit: the challenge is a step-up's from the start.
    intent, token, view = start_payment(client, terminal, 3500, "l-4")
    assert len(view["challenge"]["actions"]) >= 2, view
    r = step_up(client, frames, LI, intent["intent_id"], token, view)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert client.get("/v1/me/face-pay", headers=hl).json()["spent_today_fen"] == 9500
    assert_terminal_saw_nothing_personal(terminal, app)


def test_over_the_limit_is_declined_when_step_up_is_off(world):
    client, app, hs, tenant, frames = world(face_pay_transaction_limit_yuan=30, face_pay_over_limit="decline")
    hl = register(client, app, hs, frames.shared_data, LI, fund_fen=100_000)
    assert switch_on(client, app, hl, frames.shared_data, LI).status_code == 201
    terminal = merchant_terminal(client, hs, tenant)
    _, _, view = pay_with_face(client, frames, terminal, LI, 3500, "d-1")
    assert view["status"] == "declined" and view["decline_reason"] == "limit_exceeded", view
    assert client.get("/v1/me/wallet", headers=hl).json()["balance_fen"] == 100_000
    assert_terminal_saw_nothing_personal(terminal, app)


def test_refunds_full_partial_and_idempotent(world):
    client, app, hs, tenant, frames = world()
    hz = register(client, app, hs, frames.shared_data, ZHANG, fund_fen=50_000)
    assert switch_on(client, app, hz, frames.shared_data, ZHANG).status_code == 201
    terminal = merchant_terminal(client, hs, tenant, fee_bps=60)
    intent, _, view = pay_with_face(client, frames, terminal, ZHANG, 10_000, "r-1")
    assert view["status"] == "paid"
    path = f"/v1/terminal/payment-intents/{intent['intent_id']}/refunds"
    first = terminal.call("POST", path, {"refund_id": "refund-01", "amount_fen": 3333})
    assert first.status_code == 201 and first.json()["payment"]["refunded_fen"] == 3333
    again = terminal.call("POST", path, {"refund_id": "refund-01", "amount_fen": 3333})
    assert again.status_code == 200 and again.json()["transaction_id"] == first.json()["transaction_id"]
    assert terminal.call("POST", path, {"refund_id": "refund-01", "amount_fen": 10}).status_code == 409
    too_much = terminal.call("POST", path, {"refund_id": "refund-02", "amount_fen": 6668})
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "refund_exceeds_payment"
    rest = terminal.call("POST", path, {"refund_id": "refund-03", "amount_fen": 6667})
    assert rest.status_code == 201 and rest.json()["payment"]["refunded_fen"] == 10_000
    assert client.get("/v1/me/wallet", headers=hz).json()["balance_fen"] == 50_000
    with app.state.sessions() as s:
        merchant_id = s.get(PaymentIntent, intent["intent_id"]).merchant_id
        assert ledger.balance(s, ledger.MERCHANT, merchant_id) == 0
        assert ledger.balance(s, ledger.PLATFORM_FEES, tenant) == 0  # the 60 fen fee went back in parts
    ledger_ok(app)
    assert_terminal_saw_nothing_personal(terminal, app)


def test_ledger_checks_out_after_random_payments_and_refunds(world, database_url, monkeypatch, tmp_path):
    # Twelve payments in a minute are a velocity burst that the default rules rightly step up;
    # this test is about the books, so it runs under a rule set that approves everything.
    client, app, hs, tenant, frames = world(risk_rules_path=quiet_rules(tmp_path))
    hl = register(client, app, hs, frames.shared_data, LI, fund_fen=20_000)
    assert switch_on(client, app, hl, frames.shared_data, LI).status_code == 201
    terminal = merchant_terminal(client, hs, tenant, fee_bps=38)
    rng = random.Random(5)
    paid, expected_balance = [], 20_000
    for n in range(12):
        amount = rng.randint(1, 4_000)
        intent, _, view = pay_with_face(client, frames, terminal, LI, amount, f"x-{n}")
        if amount <= expected_balance:
            assert view["status"] == "paid", view
            expected_balance -= amount
            paid.append([intent["intent_id"], amount, 0])
        else:
            assert view["status"] == "declined" and view["decline_reason"] == "insufficient_funds"
        if paid and rng.random() < 0.6:
            target = rng.choice(paid)
            part = rng.randint(1, target[1] - target[2]) if target[1] > target[2] else 0
            if part:
                r = terminal.call(
                    "POST",
                    f"/v1/terminal/payment-intents/{target[0]}/refunds",
                    {"refund_id": f"rf-{n}-{target[2]}", "amount_fen": part},
                )
                assert r.status_code == 201, r.text
                target[2] += part
                expected_balance += part
    assert client.get("/v1/me/wallet", headers=hl).json()["balance_fen"] == expected_balance
    monkeypatch.setenv("FACETRUST_DATABASE_URL", database_url)
    from facetrust.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["ledger", "check", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and report["transactions"] >= 1 + len(paid) and report["problems"] == []
    assert_terminal_saw_nothing_personal(terminal, app)


def test_bad_captures_change_nothing_and_expired_payments_refuse_frames(world):
    client, app, hs, tenant, frames = world()
    terminal = merchant_terminal(client, hs, tenant)
    intent, token, view = start_payment(client, terminal, 300, "b-1")
    nonce = view["challenge"]["nonce"]
    corrupt = client.post(
        f"/v1/capture/{token}/frames", json={"nonce": nonce, "frames": [{"t_ms": 0, "image_base64": "***"}] * 8}
    )
    assert corrupt.status_code == 422 and corrupt.json()["error"]["code"] == "capture_invalid"
    not_an_image = client.post(
        f"/v1/capture/{token}/frames",
        json={"nonce": nonce, "frames": [{"t_ms": i * 40, "image_base64": "aGVsbG8="} for i in range(8)]},
    )
    assert not_an_image.status_code == 422
    too_few = frames.capture(LI, nonce, count=3)
    assert client.post(f"/v1/capture/{token}/frames", json=too_few).json()["error"]["code"] == "capture_invalid"
    assert client.post("/v1/capture/ftc_unknown/frames", json=too_few).status_code == 404
    again = client.get(f"/v1/capture/{token}").json()
    assert again["status"] == "awaiting_face" and again["challenge"]["session_id"] == view["challenge"]["session_id"]
    with app.state.sessions() as s:
        s.get(PaymentIntent, intent["intent_id"]).expires_at = s.get(PaymentIntent, intent["intent_id"]).created_at
        s.commit()
    r = client.post(f"/v1/capture/{token}/frames", json=frames.capture(LI, nonce))
    assert r.status_code == 410 and r.json()["error"]["code"] == "payment_expired"
    assert terminal.call("GET", f"/v1/terminal/payment-intents/{intent['intent_id']}").json()["status"] == "expired"
    ledger_ok(app)
    assert_terminal_saw_nothing_personal(terminal, app)


def test_two_captures_racing_with_the_same_frames_pay_once(world):
    """A replay sent while the real capture is being decided: one pays, the other is refused 409."""
    from concurrent.futures import ThreadPoolExecutor

    client, app, hs, tenant, frames = world()
    hl = register(client, app, hs, frames.shared_data, LI, fund_fen=10_000)
    assert switch_on(client, app, hl, frames.shared_data, LI).status_code == 201
    terminal = merchant_terminal(client, hs, tenant)
    pages = [start_payment(client, terminal, 100, f"race-{n}") for n in range(2)]
    take = frames.payment_take(LI)
    for intent, _, _ in pages:  # both pages ask what the one take shows
        fix_payment_challenge(app, intent["intent_id"], take.actions)
    burst = frames.capture(LI, "set-below", take=take)
    bodies = [{**burst, "nonce": view["challenge"]["nonce"]} for _, _, view in pages]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda i: client.post(f"/v1/capture/{pages[i][1]}/frames", json=bodies[i]), range(2)))
    codes = sorted(r.status_code for r in answers)
    assert codes in ([200, 409], [200, 200]), [r.text for r in answers]
    outcomes = [r.json().get("status") or r.json()["error"]["code"] for r in answers]
    assert outcomes.count("paid") == 1, outcomes  # the other: liveness_frames_replayed, or declined as a replay
    assert client.get("/v1/me/wallet", headers=hl).json()["balance_fen"] == 10_000 - 100
    ledger_ok(app)


# --- the open-set rule's gallery size (issue 19, item 17) -----------------------------------------


def test_the_direct_threshold_rises_with_the_size_of_the_gallery_searched(world):
    """One payer, paying at a gallery of one and again at a gallery of about a thousand (the others
    synthetic templates, far from her face): each stored identification names its gallery size, and
    the larger gallery asks for a higher score before naming her without a question, since the
    false-positive identification rate held per search grows with every person compared."""
    import numpy as np

    client, app, hs, tenant, frames = world(face_pay_direct_max_gallery=5_000)
    hz = register(client, app, hs, frames.shared_data, ZHANG, fund_fen=10_000)
    assert switch_on(client, app, hz, frames.shared_data, ZHANG).status_code == 201
    terminal = merchant_terminal(client, hs, tenant)

    def pay(order: str) -> tuple[dict, dict]:
        intent, _, view = pay_with_face(client, frames, terminal, ZHANG, 100, order)
        with app.state.sessions() as s:
            return json.loads(s.get(PaymentIntent, intent["intent_id"]).identification), view

    small, small_view = pay("g-1")
    index = app.state.gallery._index(tenant)  # noqa: SLF001  the tenant's index, to enrol synthetic people
    rng = np.random.default_rng(17)
    for n in range(999):
        index.add(f"synthetic-{n:04d}", rng.standard_normal(index.dim).astype(np.float32))
    large, large_view = pay("g-2")

    assert small["thresholds"]["gallery_size"] == 1
    assert 990 <= large["thresholds"]["gallery_size"] <= 1000  # a search drops the keys it finds no template for
    floor = app.state.face_pay.engine.calibration.profile("payment").threshold
    assert small["thresholds"]["direct"] == round(floor, 6)  # 1e-3 per search over one person: below the floor
    assert large["thresholds"]["direct"] > small["thresholds"]["direct"] + 0.1  # 1e-3 over ~1000: about 1e-6 each
    assert large["thresholds"]["with_phone"] == small["thresholds"]["with_phone"]  # four digits cover 10^4
    assert small["outcome"] == "identified" and small_view["status"] == "paid"
    # At the larger gallery she is named directly only if her score clears its higher threshold.
    expected = "identified" if large["score"] > large["thresholds"]["direct"] else "needs_phone"
    assert large["outcome"] == expected, large
