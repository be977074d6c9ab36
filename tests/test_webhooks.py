"""Signed webhooks to the platform's back end (issue 24, item 2): the outbox written in the change's
own transaction, the signature a receiver verifies, retries with backoff, dead deliveries, the
delivery log and replays (audited, per tenant), no personal data in any payload, and no event lost
when the service is SIGKILLed between the commit and the send."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import httpx
import pytest
from conftest import running_app
from sqlalchemy import select

from facetrust.identity.models import Account
from facetrust.security.models import AuditRecord
from facetrust.webhooks import outbox, signing
from facetrust.webhooks.delivery import Policy, backoff
from facetrust.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from facetrust.webhooks.receiver import Receiver

# Quick retries for the tests: the n-th retry after about 0.05 * 2**(n-1) s.
FAST = {
    "webhooks_poll_seconds": 0.05,
    "webhooks_retry_base_seconds": 0.05,
    "webhooks_retry_max_seconds": 0.4,
    "webhooks_max_attempts": 4,
}


def wait_for(check, timeout: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def events(app, kind: str | None = None) -> list[WebhookEvent]:
    with app.state.sessions() as s:
        query = select(WebhookEvent).order_by(WebhookEvent.created_at)
        if kind:
            query = query.where(WebhookEvent.kind == kind)
        return list(s.execute(query).scalars())


def endpoint(client, h, url: str, **body) -> dict:
    r = client.post("/v1/webhooks/endpoints", json={"url": url, **body}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def account(client, h, user: str = "u1", mobile: str = "13812345678") -> tuple[str, dict]:
    r = client.post("/v1/accounts", json={"platform_user_id": user, "mobile": mobile}, headers=h)
    assert r.status_code == 201, r.text
    token = client.post(f"/v1/accounts/{user}/tokens", headers=h).json()["token"]
    return r.json()["account_id"], {"Authorization": f"Bearer {token}"}


def admin_headers(app, name: str = "root", role: str = "admin") -> dict:
    from facetrust.identity import service

    with app.state.sessions() as s:
        token, _ = service.create_operator_token(s, name, role, dt.timedelta(hours=1))
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def freeze(client, hs, account_id: str) -> None:
    r = client.post(f"/v1/operator/accounts/{account_id}/freeze", json={"reason": "test freeze"}, headers=hs["op"])
    assert r.status_code == 200, r.text


# --- the signature ---------------------------------------------------------------------------------


def test_the_signature_verifies_and_any_change_breaks_it():
    secret, body, ts = signing.new_secret(), b'{"id":"e1","kind":"payment.paid"}', int(time.time())
    headers = signing.headers(secret, "e1", "payment.paid", body, ts)
    assert headers["X-FaceTrust-Signature"].startswith("v1=")
    assert signing.verify(secret, headers, body)
    assert signing.verify(secret, {k.lower(): v for k, v in headers.items()}, body)  # any header case
    assert not signing.verify(secret, headers, body + b" ")  # the body
    assert not signing.verify("whsec_other", headers, body)  # the secret
    assert not signing.verify(secret, {**headers, "X-FaceTrust-Event-Id": "e2"}, body)  # the id
    assert not signing.verify(secret, {**headers, "X-FaceTrust-Timestamp": str(ts + 1)}, body)  # the time
    assert not signing.verify(secret, headers, body, now=ts + 301)  # signed too long ago
    assert not signing.verify(secret, {**headers, "X-FaceTrust-Signature": "deadbeef"}, body)
    assert not signing.verify(secret, {}, body)
    # The scheme as documented, computed independently.
    import hashlib
    import hmac

    expected = hmac.new(secret.encode(), f"{ts}.e1.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-FaceTrust-Signature"] == f"v1={expected}"


def test_backoff_doubles_with_jitter_up_to_its_cap():
    policy = Policy(base_seconds=10, max_seconds=300)
    lows = [backoff(policy, n, rng=lambda: 0.0) for n in range(1, 8)]
    highs = [backoff(policy, n, rng=lambda: 1.0) for n in range(1, 8)]
    assert lows == [5, 10, 20, 40, 80, 150, 150] and highs == [10, 20, 40, 80, 160, 300, 300]
    assert len({round(backoff(policy, 3), 6) for _ in range(20)}) > 1  # jittered


def test_a_payload_naming_personal_or_face_data_is_refused(database_url, tmp_path):
    with running_app(tmp_path, database_url, webhooks_dispatch=False) as (_, app, _):
        with app.state.sessions() as s:
            for bad in ({"name": "李娜"}, {"x": {"id_number": "1"}}, {"template": [0.1]}, {"frames": []}, {"b": b"x"}):
                with pytest.raises(ValueError):
                    outbox.enqueue(s, "t", outbox.PAYMENT_PAID, bad)
            with pytest.raises(ValueError):
                outbox.enqueue(s, "t", "payment.teleported", {})


# --- endpoints -------------------------------------------------------------------------------------


def test_an_endpoint_secret_is_shown_once_and_kept_sealed(database_url, tmp_path):
    with running_app(tmp_path, database_url, webhooks_dispatch=False) as (client, app, hs):
        created = endpoint(
            client, hs["a"], "https://api.shop.example/hooks", kinds=["payment.paid", "payment.refunded"]
        )
        assert created["secret"].startswith("whsec_") and created["kinds"] == ["payment.paid", "payment.refunded"]
        listed = client.get("/v1/webhooks/endpoints", headers=hs["a"]).json()
        assert [e["endpoint_id"] for e in listed] == [created["endpoint_id"]] and "secret" not in listed[0]
        assert client.get("/v1/webhooks/endpoints", headers=hs["b"]).json() == []  # the other platform's
        with app.state.sessions() as s:
            row = s.get(WebhookEndpoint, created["endpoint_id"])
            assert created["secret"].encode() not in row.secret_sealed + row.secret_wrapped_key
            assert s.execute(select(AuditRecord).where(AuditRecord.action == "webhook.endpoint.create")).scalar_one()
        bad = ("ftp://x.example/", "https://", "http://user:pw@x.example/", "http://0.0.0.0/", "not a url")
        for url in (*bad, "http://169.254.169.254/latest/meta-data", "http://[ff02::1]/", "http://x.example:99999/"):
            r = client.post("/v1/webhooks/endpoints", json={"url": url}, headers=hs["a"])
            assert r.status_code == 422 and r.json()["error"]["code"] in ("webhook_url_invalid", "invalid_request"), url
        r = client.post(
            "/v1/webhooks/endpoints", json={"url": "https://x.example/", "kinds": ["nope"]}, headers=hs["a"]
        )
        assert r.status_code == 422
        other = client.delete(f"/v1/webhooks/endpoints/{created['endpoint_id']}", headers=hs["b"])
        assert other.status_code == 404 and other.json()["error"]["code"] == "webhook_endpoint_not_found"
        gone = client.delete(f"/v1/webhooks/endpoints/{created['endpoint_id']}", headers=hs["a"])
        assert gone.status_code == 200 and gone.json()["status"] == "disabled"
        for _ in range(5):
            endpoint(client, hs["a"], "https://api.shop.example/more")
        r = client.post("/v1/webhooks/endpoints", json={"url": "https://x.example/"}, headers=hs["a"])
        assert r.status_code == 409 and r.json()["error"]["code"] == "webhook_endpoint_limit"


# --- the outbox, in the change's transaction -------------------------------------------------------


def test_events_land_in_the_outbox_with_their_change_and_not_without_it(database_url, tmp_path):
    from facetrust.consent import service as consent
    from facetrust.consent.notices import NOTICES
    from facetrust.risk import engine as risk

    with running_app(tmp_path, database_url, webhooks_dispatch=False) as (client, app, hs):
        hook = endpoint(client, hs["a"], "https://api.shop.example/hooks")
        endpoint(client, hs["a"], "https://api.shop.example/payments-only", kinds=["payment.paid"])
        account_id, h = account(client, hs["a"])
        r = client.post("/v1/me/consents/face_pay", json={"notice_version": NOTICES["face_pay"].version}, headers=h)
        assert r.status_code == 201, r.text

        # A change rolled back leaves no event; the same change committed leaves exactly one.
        with app.state.sessions() as s:
            consent.withdraw(s, s.get(Account, account_id), "face_pay", "app")
            risk.freeze(s, s.get(Account, account_id), "operator:alice", "rolled back")
            s.flush()
            assert s.execute(select(WebhookEvent)).scalars().all()  # there, inside the transaction
            s.rollback()
        assert events(app) == []
        with app.state.sessions() as s:
            assert s.execute(select(WebhookDelivery)).scalars().all() == []

        r = client.delete("/v1/me/consents/face_pay", headers=h)
        assert r.status_code == 200, r.text
        freeze(client, hs, account_id)
        r = client.post(
            f"/v1/operator/accounts/{account_id}/unfreeze", json={"reason": "cleared"}, headers=admin_headers(app)
        )
        assert r.status_code == 200, r.text
        kinds = [e.kind for e in events(app)]
        assert kinds == ["consent.withdrawn", "account.frozen", "account.unfrozen"]
        withdrawn = json.loads(events(app, "consent.withdrawn")[0].body)
        assert withdrawn["data"] == {
            "account_id": account_id,
            "platform_user_id": "u1",
            "purpose": "face_pay",
            "channel": "app",
            "consent_event_id": withdrawn["data"]["consent_event_id"],
        }
        frozen = json.loads(events(app, "account.frozen")[0].body)["data"]
        assert frozen == {"account_id": account_id, "platform_user_id": "u1", "status": "frozen", "by": "operator"}
        with app.state.sessions() as s:  # one delivery each, to the endpoint that takes every kind
            deliveries = s.execute(select(WebhookDelivery)).scalars().all()
            assert len(deliveries) == 3 and {d.endpoint_id for d in deliveries} == {hook["endpoint_id"]}
            assert {d.status for d in deliveries} == {"pending"}
        # A refused change (frozen accounts change no consent) leaves no event either.
        freeze(client, hs, account_id)
        before = len(events(app))
        r = client.post("/v1/me/consents/face_pay", json={"notice_version": NOTICES["face_pay"].version}, headers=h)
        assert r.status_code == 403
        assert len(events(app)) == before


# --- delivery, retries, dead, the log, replays ----------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_until_it_accepts(database_url, tmp_path):
    with running_app(tmp_path, database_url, **FAST) as (client, app, hs):
        receiver = Receiver(statuses=[500, 503]).start()
        try:
            receiver.secret = endpoint(client, hs["a"], receiver.url)["secret"]
            account_id, _ = account(client, hs["a"])
            freeze(client, hs, account_id)
            log = wait_for(
                lambda: (
                    [d for d in client.get("/v1/webhooks/deliveries", headers=hs["a"]).json()]
                    if any(
                        d["status"] == "delivered"
                        for d in client.get("/v1/webhooks/deliveries", headers=hs["a"]).json()
                    )
                    else None
                ),
                what="the delivery",
            )
        finally:
            receiver.stop()
        (delivery,) = log
        assert delivery["kind"] == "account.frozen" and delivery["attempts"] == 3
        assert [a["status_code"] for a in delivery["log"]] == [500, 503, 200]
        first, second, third = delivery["log"]
        assert first["next_attempt_at"] and second["next_attempt_at"] and third["next_attempt_at"] is None
        gap = [
            dt.datetime.fromisoformat(a["next_attempt_at"]) - dt.datetime.fromisoformat(a["at"])
            for a in (first, second)
        ]
        assert dt.timedelta(seconds=0.025) <= gap[0] <= dt.timedelta(seconds=0.05)  # base/2 .. base
        assert dt.timedelta(seconds=0.05) <= gap[1] <= dt.timedelta(seconds=0.1)  # doubled
        assert all(a["latency_ms"] >= 0 for a in delivery["log"])
        # Every attempt carried the same event id and body, each signed and verified.
        assert {r.event_id for r in receiver.received} == {delivery["event_id"]} and len(receiver.received) == 3
        assert all(r.verified for r in receiver.received)
        assert receiver.received[0].body == delivery["event"] and delivery["event"]["id"] == delivery["event_id"]


def test_a_receiver_that_never_accepts_ends_dead_and_an_operator_replays_it(database_url, tmp_path):
    with running_app(tmp_path, database_url, **FAST) as (client, app, hs):
        receiver = Receiver(statuses=[500] * 4).start()
        try:
            receiver.secret = endpoint(client, hs["a"], receiver.url)["secret"]
            account_id, _ = account(client, hs["a"])
            freeze(client, hs, account_id)

            def dead():
                found = client.get("/v1/webhooks/deliveries", params={"status": "dead"}, headers=hs["a"]).json()
                return found[0] if found else None

            delivery = wait_for(dead, what="a dead delivery")
            assert delivery["attempts"] == 4 and [a["status_code"] for a in delivery["log"]] == [500] * 4
            assert delivery["log"][-1]["next_attempt_at"] is None and delivery["next_attempt_at"] is None
            time.sleep(0.5)
            assert len(receiver.received) == 4  # and no more

            # Another platform neither sees nor replays it; a user or a compliance officer cannot replay.
            url = f"/v1/webhooks/deliveries/{delivery['delivery_id']}"
            assert client.get(url, headers=hs["b"]).status_code == 404
            r = client.post(url + "/replay", json={"reason": "try again"}, headers=hs["b"])
            assert r.status_code == 404 and r.json()["error"]["code"] == "webhook_delivery_not_found"
            assert client.get("/v1/webhooks/deliveries", headers=hs["b"]).json() == []
            operator_url = f"/v1/operator/webhooks/deliveries/{delivery['delivery_id']}/replay"
            compliance = admin_headers(app, "carol", "compliance_officer")
            assert client.post(operator_url, json={"reason": "try again"}, headers=compliance).status_code == 403
            assert client.post(operator_url, json={"reason": "try again"}, headers=hs["a"]).status_code == 401

            # The operator replays: a new delivery of the same event, sent and accepted, audited.
            r = client.post(operator_url, json={"reason": "receiver fixed"}, headers=hs["op"])
            assert r.status_code == 202, r.text
            replay = r.json()
            assert replay["replay_of"] == delivery["delivery_id"] and replay["event_id"] == delivery["event_id"]
            wait_for(
                lambda: (
                    client.get(f"/v1/webhooks/deliveries/{replay['delivery_id']}", headers=hs["a"]).json()["status"]
                    == "delivered"
                ),
                what="the replay",
            )
        finally:
            receiver.stop()
        assert [r.event_id for r in receiver.delivered()] == [delivery["event_id"]]
        with app.state.sessions() as s:
            audited = s.execute(select(AuditRecord).where(AuditRecord.action == "webhook.replay")).scalar_one()
            assert (
                audited.actor == "operator:alice" and audited.subject == f"webhook_delivery:{delivery['delivery_id']}"
            )
            assert json.loads(audited.details)["reason"] == "receiver fixed"
        seen = client.get("/v1/operator/webhooks/deliveries", headers=hs["op"]).json()
        assert {d["delivery_id"] for d in seen} == {delivery["delivery_id"], replay["delivery_id"]}


def test_a_platform_replays_its_own_delivery_and_a_disabled_endpoint_gets_nothing(database_url, tmp_path):
    with running_app(tmp_path, database_url, **FAST) as (client, app, hs):
        receiver = Receiver().start()
        try:
            hook = endpoint(client, hs["a"], receiver.url)
            receiver.secret = hook["secret"]
            account_id, _ = account(client, hs["a"])
            freeze(client, hs, account_id)
            delivered = wait_for(
                lambda: client.get("/v1/webhooks/deliveries", params={"status": "delivered"}, headers=hs["a"]).json(),
                what="the delivery",
            )[0]
            r = client.post(
                f"/v1/webhooks/deliveries/{delivered['delivery_id']}/replay",
                json={"reason": "lost it"},
                headers=hs["a"],
            )
            assert r.status_code == 202
            wait_for(lambda: len(receiver.delivered()) == 2, what="the replay")
            assert {x.event_id for x in receiver.delivered()} == {delivered["event_id"]}  # dedupe by it
            client.delete(f"/v1/webhooks/endpoints/{hook['endpoint_id']}", headers=hs["a"])
            r = client.post(
                f"/v1/webhooks/deliveries/{delivered['delivery_id']}/replay", json={"reason": "again"}, headers=hs["a"]
            )
            assert r.status_code == 409 and r.json()["error"]["code"] == "webhook_endpoint_disabled"
            client.post(
                f"/v1/operator/accounts/{account_id}/unfreeze", json={"reason": "ok"}, headers=admin_headers(app)
            )
            time.sleep(0.5)
        finally:
            receiver.stop()
        assert len(receiver.received) == 2  # nothing for the unfreeze: no active endpoint
        with app.state.sessions() as s:
            audited = s.execute(select(AuditRecord).where(AuditRecord.action == "webhook.replay")).scalar_one()
            assert audited.actor.startswith("tenant:")


def test_two_dispatchers_claiming_together_send_each_delivery_once(database_url, tmp_path):
    """Claims are exclusive: dispatchers racing over the same due deliveries each take different ones."""
    import threading

    from facetrust.webhooks.delivery import Dispatcher

    with running_app(tmp_path, database_url, webhooks_dispatch=False) as (client, app, hs):
        receiver = Receiver().start()
        try:
            receiver.secret = endpoint(client, hs["a"], receiver.url)["secret"]
            for i in range(12):
                account_id, _ = account(client, hs["a"], f"u{i}", f"138{i:08d}")
                freeze(client, hs, account_id)
            policy = Policy(batch=3, base_seconds=0.05, max_seconds=0.1)
            dispatchers = [Dispatcher(app.state.sessions, app.state.keyring, policy) for _ in range(3)]

            def drain(d: Dispatcher) -> None:
                while d.run_once():
                    pass

            threads = [threading.Thread(target=drain, args=(d,)) for d in dispatchers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            for d in dispatchers:
                d.stop()
        finally:
            receiver.stop()
        ids = [r.event_id for r in receiver.delivered()]
        assert len(ids) == 12 and len(set(ids)) == 12


# --- the face flows' events, and no personal data in any of them ------------------------------------

PERSONAL = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def assert_nothing_personal(app, people) -> None:
    """Every event body: no ID-number pattern, no forbidden key, no person's full name or ID number,
    no mobile number."""
    bodies = [e.body for e in events(app)]
    assert bodies
    for body in bodies:
        assert not PERSONAL.search(body), body
        for person in people:
            assert person.id_number not in body and person.name not in body and person.mobile not in body, body

        def keys(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    yield k
                    yield from keys(v)
            elif isinstance(node, list):
                for v in node:
                    yield from keys(v)

        assert not set(keys(json.loads(body))) & outbox.FORBIDDEN_KEYS, body


def test_credit_events_checkout_loan_repaid_overdue_and_real_name(tmp_path, database_url, shared_data):
    from creditworld import CNY, World
    from facepay import LI, ZHANG

    from facetrust.webhooks.scans import overdue

    world = World(tmp_path, database_url, shared_data)
    try:
        real_name = events(world.app, "real_name.completed")  # Li's, from the world's registration
        assert len(real_name) == 1
        data = json.loads(real_name[0].body)["data"]
        assert data["name_masked"] == "李*" and data["method"] == "face" and data["platform_user_id"] == LI.user

        assert world.grant(10_000 * CNY).status_code == 200
        checkout = world.checkout(3_000 * CNY, "mi-hook-1")
        r = world.confirm(checkout["checkout_id"], world.face_pass("installment"), periods=3)
        assert r.status_code == 201, r.text
        checkout_plan = r.json()["plan_id"]
        (confirmed,) = events(world.app, "checkout.confirmed")
        data = json.loads(confirmed.body)["data"]
        assert data["checkout_id"] == checkout["checkout_id"] and data["amount_fen"] == 300_000
        assert data["plan_id"] == checkout_plan and data["merchant_order_id"] == "mi-hook-1"
        assert json.loads(confirmed.body)["tenant_id"] == world.tenant

        r = world.loan(2_000 * CNY, world.face_pass("loan"), "loan-hook-1", periods=3)
        assert r.status_code == 201, r.text
        loan_plan = r.json()["plan_id"]
        (drawn,) = events(world.app, "loan.drawn")
        assert json.loads(drawn.body)["data"]["plan_id"] == loan_plan
        assert json.loads(drawn.body)["data"]["amount_fen"] == 200_000

        # Months pass: an installment of the checkout's plan is overdue; scans report it once.
        world.clock.to(dt.date(2027, 1, 5))
        with world.app.state.sessions() as s:
            found = overdue(s, world.app.state.credit.today())
            s.commit()
        with world.app.state.sessions() as s:
            assert overdue(s, world.app.state.credit.today()) == 0
            s.commit()
        assert found == 2  # the first installment of each plan
        late = [json.loads(e.body)["data"] for e in events(world.app, "plan.overdue")]
        assert {d["plan_id"] for d in late} == {checkout_plan, loan_plan}
        assert all(d["installment_number"] == 1 and d["days_overdue"] > 0 for d in late)

        r = world.repay(loan_plan, "payoff", "payoff-hook-1")
        assert r.status_code == 201, r.text
        (repaid,) = events(world.app, "plan.repaid")
        assert json.loads(repaid.body)["data"] == {
            "plan_id": loan_plan,
            "account_id": world.account_id,
            "platform_user_id": LI.user,
            "plan_kind": "loan",
            "principal_fen": 200_000,
            "status": "paid_off",
        }
        assert_nothing_personal(world.app, [LI, ZHANG])
    finally:
        world.close()


def test_face_payment_paid_declined_and_refunded(tmp_path, database_url, shared_data):
    from facepay import LI, ZHANG, FramePool, enrolled_world, merchant_terminal, pay_with_face

    ctx, client, app, hs, tenant, users = enrolled_world(
        tmp_path, database_url, shared_data, [ZHANG, LI], [(ZHANG, 5_000)], webhooks_dispatch=False
    )
    try:
        frames = FramePool(shared_data, app)
        terminal = merchant_terminal(client, hs, tenant, fee_bps=60)
        intent, _, view = pay_with_face(client, frames, terminal, ZHANG, 1_000, "order-hook-1")
        assert view["status"] == "paid", view
        (paid,) = events(app, "payment.paid")
        body = json.loads(paid.body)
        assert body["tenant_id"] == tenant and body["kind"] == "payment.paid"
        assert body["data"]["payment_id"] == intent["intent_id"] and body["data"]["amount_fen"] == 1_000
        assert body["data"]["status"] == "paid" and body["data"]["fee_fen"] == 6
        assert body["data"]["payer_name_masked"] == "张*" and body["data"]["platform_user_id"] == ZHANG.user

        path = f"/v1/terminal/payment-intents/{intent['intent_id']}/refunds"
        assert terminal.call("POST", path, {"refund_id": "rf-1", "amount_fen": 400}).status_code == 201
        assert terminal.call("POST", path, {"refund_id": "rf-1", "amount_fen": 400}).status_code == 200  # idempotent
        (refunded,) = events(app, "payment.refunded")
        data = json.loads(refunded.body)["data"]
        assert data["amount_fen"] == 400 and data["refunded_fen"] == 400 and data["status"] == "partially_refunded"

        # More than the wallet holds: declined, and reported as such.
        intent, _, view = pay_with_face(client, frames, terminal, ZHANG, 4_500, "order-hook-2")
        assert view["status"] == "declined", view
        (declined,) = events(app, "payment.declined")
        data = json.loads(declined.body)["data"]
        assert data["payment_id"] == intent["intent_id"] and data["decline_reason"] == view["decline_reason"]
        assert_nothing_personal(app, [ZHANG, LI])
    finally:
        ctx.__exit__(None, None, None)


# --- durability: killed between the commit and the send --------------------------------------------


@pytest.mark.system
def test_an_event_committed_before_a_sigkill_is_delivered_after_the_restart(tmp_path, database_url):
    """The service commits a freeze (and its outbox row) and is SIGKILLed before it sends anything:
    its dispatcher is held off the first time, and then the receiver hangs while the second
    process is sending, and that one is killed too. After each restart the one event is
    delivered, with its one event id, at least once."""
    from crashworld import DbApp, Service, operator_headers

    receiver = Receiver().start()
    db = DbApp(database_url)
    service = Service(tmp_path, database_url, FACETRUST_WEBHOOKS_DISPATCH="false")
    try:
        hs = operator_headers(db)
        service.start()
        url = service.url
        import httpx

        r = httpx.post(url + "/v1/webhooks/endpoints", json={"url": receiver.url}, headers=hs["a"])
        assert r.status_code == 201, r.text
        receiver.secret = r.json()["secret"]
        r = httpx.post(url + "/v1/accounts", json={"platform_user_id": "k1", "mobile": "13812345678"}, headers=hs["a"])
        account_id = r.json()["account_id"]
        r = httpx.post(
            url + f"/v1/operator/accounts/{account_id}/freeze", json={"reason": "before kill"}, headers=hs["op"]
        )
        assert r.status_code == 200, r.text
        service.kill()  # committed, never sent
        assert receiver.received == []
        with db.state.sessions() as s:
            (event,) = s.execute(select(WebhookEvent)).scalars().all()
            (delivery,) = s.execute(select(WebhookDelivery)).scalars().all()
            assert delivery.status == "pending" and delivery.attempts == 0
        event_id = event.id

        # Second life: the receiver hangs, and the process is killed while it is sending.
        receiver.hold.set()
        service.env.update(
            FACETRUST_WEBHOOKS_DISPATCH="true",
            FACETRUST_WEBHOOKS_POLL_SECONDS="0.1",
            FACETRUST_WEBHOOKS_LEASE_SECONDS="2",
        )
        service.start()
        wait_for(lambda: len(receiver.received) or _claimed(db), what="a claim")
        time.sleep(0.3)
        service.kill()
        receiver.hold.clear()
        with db.state.sessions() as s:
            (delivery,) = s.execute(select(WebhookDelivery)).scalars().all()
            assert delivery.status == "delivering" and delivery.attempts == 0  # claimed, its outcome never written

        # Third life: the lease runs out and the event is delivered.
        service.start()
        wait_for(lambda: _status(db) == "delivered", timeout=60, what="the delivery after the restart")
    finally:
        service.stop()
        receiver.stop()
        db.close()
    assert {r.event_id for r in receiver.received} == {event_id}
    assert all(r.verified for r in receiver.received)
    assert len(receiver.delivered()) >= 1


def _claimed(db) -> bool:
    return _status(db) == "delivering"


def _status(db) -> str:
    with db.state.sessions() as s:
        return s.execute(select(WebhookDelivery.status)).scalar_one()


# --- the command line ------------------------------------------------------------------------------


def test_the_command_line_adds_an_endpoint_delivers_shows_the_log_and_replays(database_url, tmp_path):
    from click.testing import CliRunner

    from facetrust.cli import main as cli
    from facetrust.settings import get_settings

    def run(*args: str):
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(
                cli, list(args), env={"FACETRUST_DATABASE_URL": database_url, "FACETRUST_DATA_DIR": str(tmp_path)}
            )
        finally:
            get_settings.cache_clear()

    with running_app(tmp_path, database_url, webhooks_dispatch=False) as (client, app, hs):
        receiver = Receiver().start()
        try:
            with app.state.sessions() as s:
                tenant_id = _tenant(s, "shop-a")
            added = run("webhooks", "add", tenant_id, receiver.url, "--kind", "account.frozen")
            assert added.exit_code == 0, added.output
            receiver.secret = json.loads(added.output)["secret"]
            assert run("webhooks", "add", tenant_id, "ftp://x").exit_code == 2
            listed = json.loads(run("webhooks", "list", tenant_id).output)
            assert [e["kinds"] for e in listed] == [["account.frozen"]] and "secret" not in listed[0]
            account_id, _ = account(client, hs["a"])
            freeze(client, hs, account_id)
            sent = run("webhooks", "deliver", "--once")
            assert sent.exit_code == 0 and json.loads(sent.output)["attempts"] == 1, sent.output
            assert [r.kind for r in receiver.delivered()] == ["account.frozen"]
            (logged,) = json.loads(run("webhooks", "log", "--tenant", tenant_id).output)
            assert logged["status"] == "delivered" and logged["log"][0]["status_code"] == 200
            again = run("webhooks", "replay", logged["delivery_id"], "--operator", "dave", "--reason", "lost")
            assert again.exit_code == 0, again.output
            assert json.loads(run("webhooks", "deliver", "--once").output)["attempts"] == 1
            assert [r.event_id for r in receiver.delivered()] == [logged["event_id"]] * 2
            missing = run("webhooks", "replay", "0" * 32, "--operator", "dave", "--reason", "x")
            assert missing.exit_code == 2 and "webhook_delivery_not_found" in missing.output
        finally:
            receiver.stop()
        with app.state.sessions() as s:
            audited = s.execute(select(AuditRecord).where(AuditRecord.action == "webhook.replay")).scalar_one()
            assert audited.actor == "operator:dave"


def _tenant(s, name: str) -> str:
    from facetrust.identity.models import Tenant

    return s.execute(select(Tenant.id).where(Tenant.name == name)).scalar_one()


def test_an_attempt_that_fails_unexpectedly_is_recorded_not_left_to_its_lease(database_url, tmp_path, monkeypatch):
    from facetrust.webhooks import delivery
    from facetrust.webhooks.delivery import Dispatcher

    with running_app(tmp_path, database_url, webhooks_dispatch=False) as (client, app, hs):
        endpoint(client, hs["a"], "https://api.shop.example/hooks")
        account_id, _ = account(client, hs["a"])
        freeze(client, hs, account_id)

        def broken(keyring, endpoint):  # noqa: ANN001, ANN202
            raise RuntimeError("the key will not open")

        monkeypatch.setattr(delivery, "open_secret", broken)
        dispatcher = Dispatcher(app.state.sessions, app.state.keyring, Policy(base_seconds=60))
        try:
            assert dispatcher.run_once() == 1
        finally:
            dispatcher.stop()
        with app.state.sessions() as s:
            (row,) = s.execute(select(WebhookDelivery)).scalars().all()
            assert (row.status, row.attempts, row.last_error, row.lease_token) == ("pending", 1, "RuntimeError", None)


def test_a_name_that_resolves_to_the_metadata_service_is_never_posted_to(database_url, tmp_path, monkeypatch):
    """An endpoint added under a public-looking name that later resolves to a link-local address
    (where cloud metadata services answer) gets no POST: the attempt is recorded as refused and
    retried like a failure, in case the name is pointed back."""
    import socket

    from facetrust.webhooks.delivery import Dispatcher

    with running_app(tmp_path, database_url, webhooks_dispatch=False) as (client, app, hs):
        endpoint(client, hs["a"], "https://hooks.shop.example/in")
        account_id, _ = account(client, hs["a"])
        freeze(client, hs, account_id)
        real = socket.getaddrinfo

        def resolve(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if host == "hooks.shop.example":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 443))]
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        posted = []
        dispatcher = Dispatcher(
            app.state.sessions,
            app.state.keyring,
            Policy(base_seconds=60),
            transport=httpx.MockTransport(lambda request: posted.append(request) or httpx.Response(200)),
        )
        try:
            assert dispatcher.run_once() == 1
        finally:
            dispatcher.stop()
        assert posted == []
        with app.state.sessions() as s:
            (row,) = s.execute(select(WebhookDelivery)).scalars().all()
            assert (row.status, row.attempts, row.last_error) == ("pending", 1, "address_refused")
