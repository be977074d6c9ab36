"""Two service processes over one database, each addressed directly on its own port, agree on what
one process would: a terminal's nonce is used once in all of them, and face failures spread over both
lock the account (the lockout is rows). Rate limits and the gallery: tests/test_serve_workers.py,
tests/test_rate_limits.py, tests/test_gallery_sync.py."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from capture import as_burst, clip_frames
from crashworld import Service
from facepay import Terminal

from facetrust.consent.notices import NOTICES

pytestmark = pytest.mark.system
SHARED = {"FACETRUST_RATE_LIMIT_STORE": "database", "FACETRUST_GALLERY_SYNC_SECONDS": "0"}


@pytest.fixture()
def two(tmp_path, database_url):
    """Processes A and B over one database and one data folder (one keyring), and the CLI's tenant
    and admin."""
    a, b = Service(tmp_path, database_url, **SHARED), Service(tmp_path, database_url, **SHARED)
    tenant = json.loads(a.cli("tenants", "create", "shop").stdout)
    admin = json.loads(a.cli("operators", "token", "root", "--role", "admin").stdout)["token"]
    a.start(timeout=240)
    b.start(timeout=240)
    try:
        with httpx.Client(base_url=a.url, timeout=60) as ca, httpx.Client(base_url=b.url, timeout=60) as cb:
            yield ca, cb, tenant, {"Authorization": f"Bearer {admin}"}
    finally:
        a.stop()
        b.stop()


def test_a_nonce_is_used_once_across_processes(two):
    ca, cb, tenant, admin = two
    merchant = ca.post(
        "/v1/operator/merchants",
        json={"tenant_id": tenant["tenant_id"], "name": "Vending", "fee_bps": 60},
        headers=admin,
    ).json()["merchant_id"]
    made = cb.post(f"/v1/operator/merchants/{merchant}/terminals", json={"label": "lobby"}, headers=admin).json()
    body = {"amount_fen": 500, "currency": "CNY", "merchant_order_id": "o-1", "idempotency_key": "k-1"}
    at = int(time.time())
    first = Terminal(made["terminal_id"], made["secret"], ca).call(
        "POST", "/v1/terminal/payment-intents", body, timestamp=at, nonce="nonce-0001"
    )
    assert first.status_code == 201, first.text
    again = Terminal(made["terminal_id"], made["secret"], cb).call(
        "POST", "/v1/terminal/payment-intents", body, timestamp=at, nonce="nonce-0001"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "nonce_reused", again.text


def test_face_failures_spread_over_two_processes_lock_the_account(two, shared_data):
    ca, cb, tenant, _ = two
    key = {"X-Api-Key": tenant["api_key"]}
    assert (
        ca.post("/v1/accounts", json={"platform_user_id": "u1", "mobile": "13812345678"}, headers=key).status_code
        == 201
    )
    h = {"Authorization": "Bearer " + cb.post("/v1/accounts/u1/tokens", headers=key).json()["token"]}
    assert (
        ca.post(
            "/v1/me/consents/kyc_face_verification",
            json={"notice_version": NOTICES["kyc_face_verification"].version},
            headers=h,
        ).status_code
        == 201
    )
    for attempt in range(5):  # a third of a second of a real face: no challenge action in it
        client = (ca, cb)[attempt % 2]
        created = client.post("/v1/me/liveness-sessions", json={"purpose": "real_name"}, headers=h).json()
        frames, times = clip_frames(shared_data, "d3.mp4", 40 * attempt, 40 * attempt + 8)
        r = client.post(
            f"/v1/me/liveness-sessions/{created['session_id']}/capture",
            json=as_burst(frames, times, created["nonce"]),
            headers=h,
        )
        assert r.status_code == 200 and r.json()["status"] == "failed", r.text
    for client in (ca, cb):
        r = client.post("/v1/me/liveness-sessions", json={"purpose": "real_name"}, headers=h)
        assert r.status_code == 429 and r.json()["error"]["code"] == "face_attempts_locked", r.text
