"""Rate limits over HTTP: each budget refuses the request after its limit inside a minute with 429
``rate_limited``, ``retry_after_seconds`` and a ``Retry-After`` header; another caller, device or IP
is not affected; once the window has moved on the caller is let through again. Time moves by an
injected clock, never by sleeping. (The face-attempt lockout is a different refusal: its own test
file; here only its new Retry-After header.)"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from conftest import running_app, shared_face_engine
from facepay import merchant_terminal
from sqlalchemy import select

from facetrust.clock import utcnow
from facetrust.consent.notices import NOTICES
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.security.models import Lockout, RateLimitHit
from facetrust.security.ratelimit import DatabaseWindows, MemoryWindows, RateLimiter

PER_CALLER, PER_IP = 3, 5
LIMITS = {f"rate_limit_{b}_per_minute": PER_CALLER for b in ("auth", "face", "capture", "terminal", "operator")}


class Clock:
    """Monotonic seconds that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def limiter_over(store: str, app, clock) -> RateLimiter:
    """The app's limiter with a test clock: counting in this process, or in the app's database."""
    return RateLimiter(DatabaseWindows(app.state.sessions) if store == "database" else None, clock=clock)


@pytest.fixture(params=["memory", "database"])
def world(request, tmp_path, database_url):
    clock = Clock()
    with running_app(tmp_path, database_url, rate_limit_ip_per_minute=PER_IP, **LIMITS) as (client, app, hs):
        app.state.rate_limiter = limiter_over(request.param, app, clock)
        with app.state.sessions() as s:
            admin, _ = service.create_operator_token(s, "root", "admin", dt.timedelta(hours=1))
            hs["tenant_a_id"] = service.tenant_by_api_key(s, hs["a"]["X-Api-Key"]).id
            s.commit()
        hs["admin"] = {"Authorization": f"Bearer {admin}"}
        yield client, app, hs, clock


def assert_limited(r) -> int:
    """A rate-limit refusal, well formed; returns its wait in seconds."""
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "rate_limited" and error["message"]
    wait = error["retry_after_seconds"]
    assert isinstance(wait, int) and wait >= 1 and r.headers["Retry-After"] == str(wait)
    return wait


def accounts(client, hs, *uids: str) -> None:
    for uid in uids:
        r = client.post("/v1/accounts", json={"platform_user_id": uid, "mobile": "13812345678"}, headers=hs["a"])
        assert r.status_code == 201, r.text


def mint(client, hs, uid: str, **headers):
    return client.post(f"/v1/accounts/{uid}/tokens", headers={**hs["a"], **headers})


def user(client, hs, uid: str) -> dict:
    """An account holder with the real-name consent, so liveness sessions for real_name are issued."""
    accounts(client, hs, uid)
    h = {"Authorization": f"Bearer {mint(client, hs, uid).json()['token']}"}
    r = client.post(
        "/v1/me/consents/kyc_face_verification",
        json={"notice_version": NOTICES["kyc_face_verification"].version},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return h


def new_liveness(client, h, **headers):
    return client.post("/v1/me/liveness-sessions", json={"purpose": "real_name"}, headers={**h, **headers})


def test_token_minting_is_limited_per_platform_user_then_free_again_after_the_window(world):
    client, _, hs, clock = world
    accounts(client, hs, "u1", "u2")
    for _ in range(PER_CALLER):
        assert mint(client, hs, "u1").status_code == 201
    wait = assert_limited(mint(client, hs, "u1"))
    assert wait == 60  # all three hits are at this instant
    assert mint(client, hs, "u2").status_code == 201  # another user of the same platform
    clock.now += 59
    assert assert_limited(mint(client, hs, "u1")) == 1
    clock.now += 1
    assert mint(client, hs, "u1").status_code == 201


def test_token_minting_is_limited_per_device_and_per_forwarded_client_ip(world):
    client, _, hs, _ = world
    accounts(client, hs, *(f"d{n}" for n in range(PER_CALLER + 1)), *(f"i{n}" for n in range(PER_IP + 1)))
    for n in range(PER_CALLER):  # one phone signing in as several users
        assert mint(client, hs, f"d{n}", **{"X-Device-Id": "phone-9"}).status_code == 201
    assert_limited(mint(client, hs, f"d{PER_CALLER}", **{"X-Device-Id": "phone-9"}))
    assert mint(client, hs, f"d{PER_CALLER}", **{"X-Device-Id": "phone-10"}).status_code == 201
    for n in range(PER_IP):  # one address signing in as several users
        assert mint(client, hs, f"i{n}", **{"X-Client-Ip": "203.0.113.7"}).status_code == 201
    assert_limited(mint(client, hs, f"i{PER_IP}", **{"X-Client-Ip": "203.0.113.7"}))
    assert mint(client, hs, f"i{PER_IP}", **{"X-Client-Ip": "203.0.113.8"}).status_code == 201
    # The platform's back end itself is the peer of every call: without X-Client-Ip no IP is counted.
    for n in range(PER_IP + 1):
        assert mint(client, hs, f"i{n}").status_code == 201


def test_an_unauthenticated_call_is_refused_before_it_counts(world):
    client, _, hs, _ = world
    accounts(client, hs, "u1")
    for _ in range(PER_CALLER + 2):
        r = client.post("/v1/accounts/u1/tokens", headers={"X-Api-Key": "wrong"})
        assert r.status_code == 401
    assert mint(client, hs, "u1").status_code == 201


def test_face_budget_spans_the_face_routes_of_one_account_and_the_window_slides(world):
    client, _, hs, clock = world
    victim, other = user(client, hs, "victim"), user(client, hs, "other")
    assert new_liveness(client, victim).status_code == 201
    clock.now += 30
    bank = {
        "name": "张伟",
        "id_number": "110105198001010016",
        "card_number": "6222020200112233445",
        "mobile": "13812345678",
    }
    assert client.post("/v1/me/real-name/bank-card", json=bank, headers=victim).status_code != 429
    assert client.post("/v1/me/face-pay", json={"liveness_session_id": "0" * 32}, headers=victim).status_code != 429
    for r in (
        new_liveness(client, victim),
        client.post(f"/v1/me/liveness-sessions/{'0' * 32}/capture", json={}, headers=victim),
        client.post("/v1/me/real-name/face", json={}, headers=victim),
    ):
        assert assert_limited(r) == 30  # the first hit leaves the window in 30 s
    assert new_liveness(client, other).status_code == 201
    assert client.get("/v1/me/liveness-sessions/" + "0" * 32, headers=victim).status_code == 404  # reads are free
    clock.now += 30  # the first hit is out; the two at +30 s are not
    assert new_liveness(client, victim).status_code == 201
    assert assert_limited(new_liveness(client, victim)) == 30


def test_capture_page_is_limited_per_token_and_per_ip(world):
    client, app, _, _ = world
    a, b, c = ("ftc_" + ch * 43 for ch in "ABC")
    peers = {ip: from_peer(app, ip) for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.9")}

    def digits(token: str, ip: str = "192.0.2.1"):
        return peers[ip].post(f"/v1/capture/{token}/phone-digits", json={"digits": "1234"})

    for _ in range(PER_CALLER):
        assert digits(a).status_code == 404  # no such payment, but the attempt counts
    assert_limited(digits(a))
    assert_limited(peers["192.0.2.9"].post(f"/v1/capture/{a}/frames", json={}))
    assert client.get(f"/v1/capture/{a}").status_code == 404  # opening the page is not limited
    for _ in range(PER_IP - PER_CALLER):  # token guessing from one address runs into the IP limit
        assert digits(b).status_code == 404
    assert_limited(digits(c))
    assert digits(c, ip="192.0.2.2").status_code == 404


def test_payment_intents_are_limited_per_terminal(world):
    client, _, hs, clock = world
    first, second = (merchant_terminal(client, hs, hs["tenant_a_id"]) for _ in range(2))
    assert first.call("POST", "/v1/terminal/payment-intents", {"amount_fen": 100}, secret="x" * 43).status_code == 401
    for n in range(PER_CALLER):
        assert first.intent(100, f"o{n}").status_code == 201
    assert_limited(first.intent(100, "over"))
    assert second.intent(100, "o0").status_code == 201
    clock.now += 60
    assert first.intent(100, "over").status_code == 201


def test_operator_lookups_are_limited_per_operator(world):
    client, app, hs, _ = world
    with app.state.sessions() as s:
        carol, _ = service.create_operator_token(s, "carol", "compliance_officer", dt.timedelta(hours=1))
        s.commit()
    for _ in range(PER_CALLER):
        assert client.get("/v1/operator/accounts", params={"q": "13812345678"}, headers=hs["op"]).status_code == 200
    assert_limited(client.get("/v1/operator/accounts/" + "0" * 32, headers=hs["op"]))
    r = client.get("/v1/operator/accounts", params={"q": "13812345678"}, headers={"Authorization": f"Bearer {carol}"})
    assert r.status_code == 200


def test_face_attempt_lockout_also_says_retry_after_in_a_header(world):
    client, app, hs, _ = world
    h = user(client, hs, "locked")
    account_id = client.get("/v1/me", headers=h).json()["account_id"]
    with app.state.sessions() as s:
        s.add(Lockout(subject=f"account:{account_id}", until=utcnow() + dt.timedelta(minutes=10), created_at=utcnow()))
        s.commit()
    r = new_liveness(client, h)
    assert r.status_code == 429 and r.json()["error"]["code"] == "face_attempts_locked"
    assert r.headers["Retry-After"] == str(r.json()["error"]["retry_after_seconds"])


def test_the_limiter_keeps_digests_not_subjects_and_forgets_idle_ones():
    store, clock = MemoryWindows(), Clock()
    store.SWEEP_EVERY = 4
    limiter = RateLimiter(store, clock=clock)
    for n in range(4):
        limiter.check("face", [(f"ip:203.0.113.{n}", 2), ("device:phone-1", 0)])  # 0: that limit is off
    assert len(store._hits) == 4 and not any("203.0.113" in key or "phone" in key for key in store._hits)  # noqa: SLF001
    clock.now += 61
    for _ in range(4):
        limiter.check("face", [("ip:203.0.113.9", 10)])
    assert len(store._hits) == 1  # noqa: SLF001  the idle keys were swept


def test_the_database_store_trims_old_rows_and_keeps_only_digests(app_ctx):
    _, app, _ = app_ctx
    store, clock = DatabaseWindows(app.state.sessions), Clock()
    store.SWEEP_EVERY = 4
    limiter = RateLimiter(store, clock=clock)
    for n in range(4):
        limiter.check("face", [(f"ip:203.0.113.{n}", 2)])
    with app.state.sessions() as s:
        keys = s.scalars(select(RateLimitHit.key)).all()
    assert len(keys) == 4 and not any("203.0.113" in key for key in keys)
    clock.now += 61
    for _ in range(4):
        limiter.check("face", [("ip:203.0.113.9", 10)])
    with app.state.sessions() as s:
        assert len(s.scalars(select(RateLimitHit.key)).all()) == 4  # the idle keys' rows were swept


def test_two_service_processes_over_one_database_share_one_limit(tmp_path, database_url):
    """Two apps (as two processes would be) over the same database, counting in it: a caller who
    alternates between them still gets the limit once, not once per process."""
    from fastapi.testclient import TestClient

    from facetrust.api.app import create_app
    from facetrust.settings import Settings

    shared = {"rate_limit_store": "database", "rate_limit_ip_per_minute": PER_IP, **LIMITS}
    with running_app(tmp_path, database_url, **shared) as (client_a, app_a, hs):
        other = create_app(
            Settings(
                data_dir=tmp_path, database_url=database_url, models_dir=app_a.state.settings.models_dir, **shared
            ),
            shared_face_engine(),
        )
        with TestClient(other, raise_server_exceptions=False) as client_b:
            accounts(client_a, hs, "u1")
            answers = [mint(client, hs, "u1").status_code for client in (client_a, client_b) * PER_CALLER]
    assert answers[:PER_CALLER] == [201] * PER_CALLER and set(answers[PER_CALLER:]) == {429}, answers


@pytest.mark.parametrize("store", ["memory", "database"])
def test_retry_after_is_the_time_until_the_oldest_hit_in_the_window_expires(store, app_ctx):
    clock = Clock()
    limiter = limiter_over(store, app_ctx[1], clock)
    limits = [("account:a", 2)]
    limiter.check("face", limits)
    clock.now += 12.5
    limiter.check("face", limits)
    clock.now += 10
    with pytest.raises(DomainError) as refused:
        limiter.check("face", limits)
    assert refused.value.extra["retry_after_seconds"] == math.ceil(60 - 22.5)


# --- whose address and whose device (issue 19, item 9) ------------------------------------------


def from_peer(app, host: str):
    """Another connection to the same running app, from ``host``."""
    from fastapi.testclient import TestClient

    return TestClient(app, raise_server_exceptions=False, client=(host, 50001))


def device_token(client, hs, uid: str, device: str) -> dict:
    """The platform's back end signs its user in on ``device``: the token carries the device it vouched for."""
    r = mint(client, hs, uid, **{"X-Device-Id": device})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_users_own_x_client_ip_is_ignored_the_connection_counts(world):
    client, app, hs, _ = world
    people = [user(client, hs, f"r{n}") for n in range(PER_IP + 1)]
    peer = from_peer(app, "198.51.100.77")
    for n, h in enumerate(people[:PER_IP]):  # a new made-up address on every call
        assert new_liveness(peer, h, **{"X-Client-Ip": f"203.0.113.{n}"}).status_code == 201
    assert_limited(new_liveness(peer, people[PER_IP], **{"X-Client-Ip": "203.0.113.99"}))
    # Naming someone else's address spends nothing of theirs: their own connection is still free.
    victim = from_peer(app, "203.0.113.99")
    assert new_liveness(victim, people[PER_IP]).status_code == 201


def test_x_forwarded_for_counts_only_behind_a_listed_proxy(tmp_path, database_url):
    with running_app(
        tmp_path, database_url, rate_limit_ip_per_minute=PER_IP, trusted_proxies=["10.0.0.0/8"], **LIMITS
    ) as (client, app, hs):
        app.state.rate_limiter = RateLimiter(clock=Clock())
        people = [user(client, hs, f"x{n}") for n in range(PER_IP + 2)]
        proxy = from_peer(app, "10.1.2.3")
        # Behind the listed proxy each user's own address (the last one the proxy appended) counts...
        for n, h in enumerate(people[:PER_IP]):
            assert new_liveness(proxy, h, **{"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.{n}"}).status_code == 201
        # ...and an entry forged in front of the one the proxy wrote changes nothing.
        for n, h in enumerate(people[:PER_IP]):
            assert new_liveness(proxy, h, **{"X-Forwarded-For": f"1.2.3.{n}, 203.0.113.50"}).status_code == 201
        assert_limited(new_liveness(proxy, people[PER_IP], **{"X-Forwarded-For": "9.9.9.9, 203.0.113.50"}))
        # A caller that is not a listed proxy cannot name an address: its own connection counts.
        stranger = from_peer(app, "198.51.100.8")
        others = [user(client, hs, f"y{n}") for n in range(PER_IP + 1)]
        for n, h in enumerate(others[:PER_IP]):
            assert new_liveness(stranger, h, **{"X-Forwarded-For": f"192.0.2.{100 + n}"}).status_code == 201
        assert_limited(new_liveness(stranger, others[PER_IP], **{"X-Forwarded-For": "192.0.2.200"}))


def test_a_device_counts_only_as_the_platform_vouched_for_it(world):
    client, app, hs, clock = world
    accounts(client, hs, *(f"k{n}" for n in range(PER_CALLER + 1)))
    on_kiosk = [device_token(client, hs, f"k{n}", "kiosk-1") for n in range(PER_CALLER)]
    clock.now += 61  # token minting on one device has its own budget
    on_kiosk.append(device_token(client, hs, f"k{PER_CALLER}", "kiosk-1"))
    for h in on_kiosk:
        r = client.post(
            "/v1/me/consents/kyc_face_verification",
            headers=h,
            json={"notice_version": NOTICES["kyc_face_verification"].version},
        )
        assert r.status_code == 201, r.text
    for n, h in enumerate(on_kiosk[:PER_CALLER]):
        assert new_liveness(client, h, **{"X-Device-Id": f"made-up-{n}"}).status_code == 201
    # The kiosk's budget is spent, whatever device name the user's own request makes up.
    assert_limited(new_liveness(client, on_kiosk[PER_CALLER], **{"X-Device-Id": "own-phone"}))
    # And a device name a user makes up spends no one's budget: a user on that device is still free.
    elsewhere = from_peer(app, "198.51.100.9")
    for n in range(PER_CALLER + 1):
        assert new_liveness(elsewhere, user(client, hs, f"m{n}"), **{"X-Device-Id": "kiosk-2"}).status_code == 201
    assert new_liveness(from_peer(app, "198.51.100.10"), device_token(client, hs, "m0", "kiosk-2")).status_code == 201


def test_the_risk_engine_keeps_only_vouched_devices_and_addresses_and_knows_their_source(world):
    from sqlalchemy import select

    from facetrust.liveness.models import LivenessSession
    from facetrust.risk.models import RiskEvent

    client, app, hs, _ = world
    accounts(client, hs, "v1")
    r = mint(client, hs, "v1", **{"X-Device-Id": "phone-v1", "X-Client-Ip": "203.0.113.5"})
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert mint(client, hs, "v1", **{"X-Client-Ip": "not-an-ip"}).status_code == 201
    consent = client.post(
        "/v1/me/consents/kyc_face_verification",
        headers=h,
        json={"notice_version": NOTICES["kyc_face_verification"].version},
    )
    assert consent.status_code == 201
    created = new_liveness(
        from_peer(app, "198.51.100.20"), h, **{"X-Device-Id": "someone-elses-phone", "X-Client-Ip": "192.0.2.66"}
    )
    assert created.status_code == 201
    with app.state.sessions() as s:
        logins = s.execute(select(RiskEvent).where(RiskEvent.kind == "login").order_by(RiskEvent.seq)).scalars().all()
        assert [(e.device_id, e.ip, json.loads(e.data)) for e in logins] == [
            ("phone-v1", "203.0.113.5", {"device_source": "platform", "ip_source": "platform"}),
            (None, None, {}),
        ]
        assert s.get(LivenessSession, created.json()["session_id"]).device_id == "phone-v1"
        claimed = s.execute(select(RiskEvent).where(RiskEvent.device_id == "someone-elses-phone")).scalars().all()
        assert claimed == []
