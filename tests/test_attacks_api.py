"""Attacks on the HTTP API's doors: terminal request signing, user and operator tokens, and the
payer's one-time capture tokens.

Why: the money moves behind these doors, and an attacker does not need to break the cryptography to
get through one; a replayed request, a reused nonce, a signature moved to another path, a terminal
of one shop asking about another shop's payment, a token that should be dead, or a guessed link will
do. Each attack here gets the exact status and stable code it must get, and the database afterwards
is compared with before, row for row (every table): a refused request leaves nothing behind. The one
documented exception is a terminal's nonce, which is committed before the request's work so that a
replay of a request that then failed is still refused.

What other tests already cover, and so is not repeated here: a wrong secret, a stale timestamp, a
reused nonce with a new body, a changed amount and a missing signature (tests/test_face_pay_api.py);
which caller kinds each route admits (tests/test_authorisation_matrix.py); an expired token on
``GET /v1/me`` and one tenant minting tokens for another's user (tests/test_identity_api.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time

import pytest
from facepay import ZHANG, FramePool, face_pay_world, pay_with_face, register, switch_on, token_of
from sqlalchemy import select, text

from facetrust.consent.notices import NOTICES
from facetrust.identity import service
from facetrust.security import signing
from facetrust.store.db import Base, import_models

INTENTS = "/v1/terminal/payment-intents"
QUIET = dict(
    rate_limit_auth_per_minute=0,
    rate_limit_face_per_minute=0,
    rate_limit_capture_per_minute=0,
    rate_limit_terminal_per_minute=0,
    rate_limit_operator_per_minute=0,
    rate_limit_ip_per_minute=0,
    lockout_max_failures=10**6,
)


# --- the world and its helpers ------------------------------------------------------------------


class World:
    """Two platforms (tenants a and b), a merchant on each, two terminals at a's merchant and one at
    b's, a user of each platform, and operators of every role."""

    def __init__(self, client, app, hs):
        self.client, self.app, self.hs = client, app, hs
        self.ops = {role: self._operator(role) for role in ("risk_analyst", "compliance_officer", "admin")}
        with app.state.sessions() as s:
            self.tenant = {name: service.tenant_by_api_key(s, hs[name]["X-Api-Key"]).id for name in ("a", "b")}
        self.terminal_a = self._terminal("a")
        self.terminal_a2 = self._terminal("a", merchant_id=self.terminal_a["merchant_id"])
        self.terminal_b = self._terminal("b")
        self.user_a = self._user("a", "alice", "13812345678")
        self.user_b = self._user("b", "bob", "13987654321")

    def _operator(self, role: str) -> dict:
        with self.app.state.sessions() as s:
            token, _ = service.create_operator_token(s, f"op-{role}", role, dt.timedelta(hours=1))
            s.commit()
        return {"Authorization": f"Bearer {token}"}

    def _terminal(self, tenant: str, merchant_id: str | None = None) -> dict:
        admin = self.ops["admin"]
        if merchant_id is None:
            r = self.client.post(
                "/v1/operator/merchants",
                json={"tenant_id": self.tenant[tenant], "name": f"shop {tenant}"},
                headers=admin,
            )
            assert r.status_code == 201, r.text
            merchant_id = r.json()["merchant_id"]
        r = self.client.post(f"/v1/operator/merchants/{merchant_id}/terminals", json={"label": "till"}, headers=admin)
        assert r.status_code == 201, r.text
        return r.json()

    def _user(self, tenant: str, user: str, mobile: str) -> dict:
        r = self.client.post("/v1/accounts", json={"platform_user_id": user, "mobile": mobile}, headers=self.hs[tenant])
        assert r.status_code == 201, r.text
        token = self.client.post(f"/v1/accounts/{user}/tokens", headers=self.hs[tenant]).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    # terminal requests, with every part under the test's control
    def signed(
        self,
        terminal: dict,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        secret: str | None = None,
    ) -> dict:
        return signing.headers(
            terminal["terminal_id"],
            secret or terminal["secret"],
            method,
            path,
            body,
            int(time.time()) if timestamp is None else timestamp,
            nonce,
        )

    def send(self, method: str, path: str, body: bytes, headers: dict):
        return self.client.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})

    def new_intent(self, terminal: dict, order: str, amount_fen: int = 500):
        body = intent_body(order, amount_fen)
        r = self.send("POST", INTENTS, body, self.signed(terminal, "POST", INTENTS, body))
        assert r.status_code == 201, r.text
        return r.json()


def intent_body(order: str, amount_fen: int = 500, currency: str = "CNY") -> bytes:
    return json.dumps(
        {"amount_fen": amount_fen, "currency": currency, "merchant_order_id": order, "idempotency_key": f"key-{order}"}
    ).encode()


def database_state(app) -> dict[str, str]:
    """Per table, a digest of every row: two states compare equal only if no row was added, removed
    or changed anywhere."""
    import_models()
    state = {}
    with app.state.sessions() as s:
        for table in Base.metadata.sorted_tables:
            rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
            state[table.name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return state


def changed_tables(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status and response.json()["error"]["code"] == code, (
        response.status_code,
        response.text,
    )


@pytest.fixture()
def world(app_quiet):
    client, app, hs = app_quiet
    return World(client, app, hs)


@pytest.fixture()
def app_quiet(tmp_path, database_url):
    """running_app with the rate limits and the lockout out of reach: they are tested elsewhere, and
    here they would answer 429 before the attack under test is judged."""
    from conftest import running_app

    with running_app(tmp_path, database_url, **QUIET) as ctx:
        yield ctx


# --- 1. terminal request signing ----------------------------------------------------------------


def test_a_replayed_request_is_refused_and_changes_nothing(world):
    body = intent_body("replay-1")
    headers = world.signed(world.terminal_a, "POST", INTENTS, body)
    assert world.send("POST", INTENTS, body, headers).status_code == 201
    before = database_state(world.app)
    refused(world.send("POST", INTENTS, body, headers), 409, "nonce_reused")  # the same bytes, byte for byte
    assert changed_tables(before, database_state(world.app)) == set()


def test_a_nonce_spent_by_a_failed_request_cannot_be_used_again(world):
    """The nonce is committed before the work: a request refused after authentication (here for its
    currency) has still used its nonce up, so its corrected replay is refused too."""
    usd = intent_body("fail-1", currency="USD")
    refused(
        world.send("POST", INTENTS, usd, world.signed(world.terminal_a, "POST", INTENTS, usd, nonce="nonce-0001")),
        422,
        "currency_unsupported",
    )
    before = database_state(world.app)
    cny = intent_body("fail-1")
    refused(
        world.send("POST", INTENTS, cny, world.signed(world.terminal_a, "POST", INTENTS, cny, nonce="nonce-0001")),
        409,
        "nonce_reused",
    )
    assert changed_tables(before, database_state(world.app)) == set()
    with world.app.state.sessions() as s:
        assert s.execute(text("SELECT COUNT(*) FROM payment_intents")).scalar_one() == 0


def _tamper(world, name: str, body: bytes, headers: dict) -> tuple[str, bytes, dict]:
    """One attack on a correctly signed POST of ``body`` to the intents path: (path, body, headers)."""
    other = world.terminal_a2
    now = int(headers[signing.HEADER_TIMESTAMP])
    resigned = lambda **kw: world.signed(world.terminal_a, "POST", INTENTS, body, **kw)  # noqa: E731
    without = lambda header: {k: v for k, v in headers.items() if k != header}  # noqa: E731
    return {
        "body-with-trailing-space": (INTENTS, body + b" ", headers),
        "body-keys-reordered": (INTENTS, json.dumps(dict(reversed(list(json.loads(body).items())))).encode(), headers),
        "body-removed": (INTENTS, b"", headers),
        "path-with-query-added": (INTENTS + "?amount_fen=1", body, headers),
        "terminal-id-of-a-sibling-terminal": (
            INTENTS,
            body,
            {**headers, signing.HEADER_TERMINAL: other["terminal_id"]},
        ),
        "terminal-id-unknown": (INTENTS, body, {**headers, signing.HEADER_TERMINAL: "0" * 32}),
        "timestamp-moved-one-second": (INTENTS, body, {**headers, signing.HEADER_TIMESTAMP: str(now + 1)}),
        "nonce-changed": (INTENTS, body, {**headers, signing.HEADER_NONCE: "another-nonce-01"}),
        "signature-truncated": (
            INTENTS,
            body,
            {**headers, signing.HEADER_SIGNATURE: headers[signing.HEADER_SIGNATURE][:-2]},
        ),
        "signature-of-a-sibling-terminals-secret": (INTENTS, body, resigned(secret=other["secret"])),
        "signature-of-another-platforms-terminal": (INTENTS, body, resigned(secret=world.terminal_b["secret"])),
        "signature-empty": (INTENTS, body, {**headers, signing.HEADER_SIGNATURE: ""}),
        "no-terminal-id": (INTENTS, body, without(signing.HEADER_TERMINAL)),
        "no-timestamp": (INTENTS, body, without(signing.HEADER_TIMESTAMP)),
        "no-nonce": (INTENTS, body, without(signing.HEADER_NONCE)),
        "no-signature": (INTENTS, body, without(signing.HEADER_SIGNATURE)),
        # Ten seconds past the 300 s window: ``now`` is the signed header's whole second (up to one
        # behind the clock), and a loaded machine sends the request seconds later (301 flaked so).
        "timestamp-310-seconds-old": (INTENTS, body, resigned(timestamp=now - 310)),
        "timestamp-310-seconds-ahead": (INTENTS, body, resigned(timestamp=now + 310)),
        "timestamp-before-1970": (INTENTS, body, resigned(timestamp=-86400)),
        "timestamp-not-a-number": (INTENTS, body, {**resigned(), signing.HEADER_TIMESTAMP: "soon"}),
        "timestamp-beyond-any-calendar": (INTENTS, body, {**resigned(), signing.HEADER_TIMESTAMP: "9" * 30}),
        "timestamp-with-a-fraction": (INTENTS, body, {**resigned(), signing.HEADER_TIMESTAMP: f"{now}.5"}),
        "nonce-too-short": (INTENTS, body, resigned(nonce="1234567")),
        "nonce-too-long": (INTENTS, body, resigned(nonce="n" * 65)),
    }[name]


TAMPERING = {
    "body-with-trailing-space": (401, "signature_invalid"),
    "body-keys-reordered": (401, "signature_invalid"),
    "body-removed": (401, "signature_invalid"),
    "path-with-query-added": (401, "signature_invalid"),
    "terminal-id-of-a-sibling-terminal": (401, "signature_invalid"),
    "terminal-id-unknown": (401, "terminal_unknown"),
    "timestamp-moved-one-second": (401, "signature_invalid"),
    "nonce-changed": (401, "signature_invalid"),
    "signature-truncated": (401, "signature_invalid"),
    "signature-of-a-sibling-terminals-secret": (401, "signature_invalid"),
    "signature-of-another-platforms-terminal": (401, "signature_invalid"),
    "signature-empty": (401, "signature_missing"),
    "no-terminal-id": (401, "signature_missing"),
    "no-timestamp": (401, "signature_missing"),
    "no-nonce": (401, "signature_missing"),
    "no-signature": (401, "signature_missing"),
    "timestamp-310-seconds-old": (401, "signature_stale"),
    "timestamp-310-seconds-ahead": (401, "signature_stale"),
    "timestamp-before-1970": (401, "signature_invalid"),  # a sign is not Unix seconds (issue 19, item 12)
    "timestamp-not-a-number": (401, "signature_invalid"),
    "timestamp-beyond-any-calendar": (401, "signature_invalid"),
    "timestamp-with-a-fraction": (401, "signature_invalid"),
    "nonce-too-short": (401, "signature_invalid"),
    "nonce-too-long": (401, "signature_invalid"),
}


@pytest.mark.parametrize("attack", sorted(TAMPERING))
def test_tampered_terminal_requests_are_refused_and_change_nothing(world, attack):
    body = intent_body(f"tamper-{attack}")
    path, sent_body, headers = _tamper(world, attack, body, world.signed(world.terminal_a, "POST", INTENTS, body))
    before = database_state(world.app)
    status, code = TAMPERING[attack]
    refused(world.send("POST", path, sent_body, headers), status, code)
    assert changed_tables(before, database_state(world.app)) == set()  # not even a nonce: refused before it


def test_what_the_signature_does_not_cover_may_vary(world):
    """Header names in any case and order, the signature's hex in upper case, and a clock a little
    off (inside the 300 s skew) are one terminal's ordinary variations, not attacks."""
    for n, variant in enumerate(("recased", "uppercase-signature", "clock-299-s-behind", "clock-299-s-ahead")):
        body = intent_body(f"ok-{n}")
        timestamp = int(time.time()) + {"clock-299-s-behind": -299, "clock-299-s-ahead": 299}.get(variant, 0)
        headers = world.signed(world.terminal_a, "POST", INTENTS, body, timestamp=timestamp)
        if variant == "recased":
            headers = {k.lower() if i % 2 else k.upper(): v for i, (k, v) in enumerate(reversed(list(headers.items())))}
        if variant == "uppercase-signature":
            headers[signing.HEADER_SIGNATURE] = headers[signing.HEADER_SIGNATURE].upper()
        r = world.send("POST", INTENTS, body, headers)
        assert r.status_code == 201, (variant, r.text)


def test_a_signature_moved_to_another_path_does_not_verify(world):
    mine, other = world.new_intent(world.terminal_a, "path-1"), world.new_intent(world.terminal_a, "path-2")
    before = database_state(world.app)
    read_mine = world.signed(world.terminal_a, "GET", f"{INTENTS}/{mine['intent_id']}")
    refused(world.send("GET", f"{INTENTS}/{other['intent_id']}", b"", read_mine), 401, "signature_invalid")
    refund = json.dumps({"refund_id": "refund-001", "amount_fen": 100}).encode()
    for_refund = world.signed(world.terminal_a, "POST", f"{INTENTS}/{mine['intent_id']}/refunds", refund)
    refused(
        world.send("POST", INTENTS, refund, for_refund), 401, "signature_invalid"
    )  # the body of a refund as an intent
    refused(world.send("POST", f"{INTENTS}/{other['intent_id']}/refunds", refund, for_refund), 401, "signature_invalid")
    as_get = world.signed(world.terminal_a, "GET", f"{INTENTS}/{mine['intent_id']}/refunds", refund)
    refused(world.send("POST", f"{INTENTS}/{mine['intent_id']}/refunds", refund, as_get), 401, "signature_invalid")
    assert changed_tables(before, database_state(world.app)) == set()


@pytest.fixture()
def paid_world(tmp_path, database_url, shared_data):
    """A real face payment at platform a's merchant, and the world of terminals around it."""
    ctx, client, app, hs, tenant_a = face_pay_world(tmp_path, database_url, shared_data, [ZHANG], **QUIET)
    try:
        frames = FramePool(shared_data, app)
        hz = register(client, app, hs, shared_data, ZHANG, fund_fen=50_000)
        assert switch_on(client, app, hz, shared_data, ZHANG).status_code == 201
        world = World(client, app, hs)
        from facepay import Terminal

        terminal = Terminal(world.terminal_a["terminal_id"], world.terminal_a["secret"], client)
        intent, _, view = pay_with_face(client, frames, terminal, ZHANG, 1_000, "paid-1")
        assert view["status"] == "paid", view
        yield world, intent, hz
    finally:
        ctx.__exit__(None, None, None)


def test_another_platforms_terminal_can_neither_read_nor_refund_a_payment(paid_world):
    world, intent, payer = paid_world
    path = f"{INTENTS}/{intent['intent_id']}"
    balance = world.client.get("/v1/me/wallet", headers=payer).json()["balance_fen"]
    before = database_state(world.app)
    refused(world.send("GET", path, b"", world.signed(world.terminal_b, "GET", path)), 404, "intent_not_found")
    refund = json.dumps({"refund_id": "steal-0001", "amount_fen": 1_000}).encode()
    refused(
        world.send(
            "POST", f"{path}/refunds", refund, world.signed(world.terminal_b, "POST", f"{path}/refunds", refund)
        ),
        404,
        "intent_not_found",
    )
    # The attacker's terminal authenticated, so only its two nonces were written; no money moved.
    assert changed_tables(before, database_state(world.app)) == {"terminal_nonces"}
    assert world.client.get("/v1/me/wallet", headers=payer).json()["balance_fen"] == balance
    # The payment's own terminal still sees it paid and unrefunded.
    mine = world.send("GET", path, b"", world.signed(world.terminal_a, "GET", path))
    assert mine.status_code == 200 and mine.json()["status"] == "paid" and mine.json()["refunded_fen"] == 0


# --- 2. user and operator tokens ----------------------------------------------------------------


def _consent_body(purpose: str = "face_pay") -> dict:
    return {"notice_version": NOTICES[purpose].version}


def test_an_expired_token_changes_nothing(world):
    from facetrust.identity.models import Tenant

    with world.app.state.sessions() as s:
        token, _ = service.mint_user_token(s, s.get(Tenant, world.tenant["a"]), "alice", dt.timedelta(seconds=-1))
        s.commit()
    expired = {"Authorization": f"Bearer {token}"}
    before = database_state(world.app)
    refused(
        world.client.post("/v1/me/consents/face_pay", json=_consent_body(), headers=expired), 401, "unauthenticated"
    )
    refused(
        world.client.post("/v1/me/liveness-sessions", json={"purpose": "real_name"}, headers=expired),
        401,
        "unauthenticated",
    )
    refused(world.client.delete("/v1/me", headers=expired), 401, "unauthenticated")
    assert changed_tables(before, database_state(world.app)) == set()


def test_a_closed_accounts_token_is_dead_and_no_new_one_is_issued(world):
    """Closing deletes the account's credentials. Before the fix, the platform could mint it a new
    token, and with it the closed account granted itself consents."""
    r = world.client.delete("/v1/me", headers=world.user_a)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    before = database_state(world.app)
    refused(world.client.get("/v1/me", headers=world.user_a), 401, "unauthenticated")
    refused(
        world.client.post("/v1/me/consents/face_pay", json=_consent_body(), headers=world.user_a),
        401,
        "unauthenticated",
    )
    refused(world.client.delete("/v1/me", headers=world.user_a), 401, "unauthenticated")
    refused(world.client.post("/v1/accounts/alice/tokens", headers=world.hs["a"]), 409, "account_closed")
    assert changed_tables(before, database_state(world.app)) == set()


GARBLED = {
    "random": "Bearer ftu_" + secrets.token_urlsafe(32),
    "last-character-changed": None,  # filled from a real token
    "no-scheme": None,
    "basic-scheme": None,
    "empty-bearer": "Bearer ",
    "bearer-only": "Bearer",
    "api-key-as-bearer": None,
    "very-long": "Bearer " + "A" * 10_000,
    "two-tokens": None,
    "control-characters": "Bearer ftu_\x01\x02\x7f",
}


@pytest.mark.parametrize("kind", sorted(GARBLED))
def test_forged_and_garbled_bearer_tokens(world, kind):
    real = world.user_a["Authorization"].removeprefix("Bearer ")
    value = (
        GARBLED[kind]
        or {
            "last-character-changed": "Bearer " + real[:-1] + ("A" if real[-1] != "A" else "B"),
            "no-scheme": real,
            "basic-scheme": "Basic " + real,
            "api-key-as-bearer": "Bearer " + world.hs["a"]["X-Api-Key"],
            "two-tokens": f"Bearer {real} {real}",
        }[kind]
    )
    before = database_state(world.app)
    for method, path, body in (
        ("GET", "/v1/me", None),
        ("POST", "/v1/me/consents/face_pay", _consent_body()),
        ("DELETE", "/v1/me", None),
    ):
        refused(world.client.request(method, path, json=body, headers={"Authorization": value}), 401, "unauthenticated")
    assert changed_tables(before, database_state(world.app)) == set()


def test_a_platform_cannot_reach_another_platforms_users(world):
    """Platform b's key on platform a's user: the user does not exist for b (the same 404 as a
    user nobody registered), and nothing is written."""
    before = database_state(world.app)
    refused(
        world.client.post(
            "/v1/accounts/alice/wallet/top-ups", json={"amount_fen": 100, "reference": "r-1"}, headers=world.hs["b"]
        ),
        404,
        "account_not_found",
    )
    checkout = {
        "merchant_id": world.terminal_a["merchant_id"],
        "merchant_order_id": "o-1",
        "amount_fen": 100_000,
        "category": "phones",
    }
    refused(
        world.client.post("/v1/accounts/alice/credit/checkouts", json=checkout, headers=world.hs["b"]),
        404,
        "account_not_found",
    )
    # A user's bearer token is not a platform's key, even for the user's own account.
    refused(world.client.post("/v1/accounts/alice/tokens", headers=world.user_a), 401, "unauthenticated")
    refused(
        world.client.post(
            "/v1/accounts/alice/wallet/top-ups", json={"amount_fen": 100, "reference": "r-2"}, headers=world.user_a
        ),
        401,
        "unauthenticated",
    )
    assert changed_tables(before, database_state(world.app)) == set()


def test_a_user_cannot_touch_another_platforms_users_records(world):
    consent = world.client.post(
        "/v1/me/consents/kyc_face_verification", json=_consent_body("kyc_face_verification"), headers=world.user_b
    )
    assert consent.status_code == 201, consent.text
    session = world.client.post("/v1/me/liveness-sessions", json={"purpose": "real_name"}, headers=world.user_b).json()
    before = database_state(world.app)
    refused(
        world.client.get(f"/v1/me/liveness-sessions/{session['session_id']}", headers=world.user_a),
        404,
        "liveness_session_not_found",
    )
    refused(
        world.client.post(
            f"/v1/me/liveness-sessions/{session['session_id']}/capture",
            json={"nonce": session["nonce"], "frames": [{"t_ms": 0, "image_base64": "AAAA"}]},
            headers=world.user_a,
        ),
        404,
        "liveness_session_not_found",
    )
    assert changed_tables(before, database_state(world.app)) == set()
    mine = world.client.get(f"/v1/me/liveness-sessions/{session['session_id']}", headers=world.user_b).json()
    assert mine["status"] == "pending"  # untouched by the other platform's user


def test_user_tokens_on_operator_routes_and_operators_beyond_their_role(world):
    """Each refusal is 403 forbidden and leaves the account, the merchants and the audit log as they were."""
    account_b = world.client.get("/v1/me", headers=world.user_b).json()["account_id"]
    frozen = world.client.post(
        f"/v1/operator/accounts/{account_b}/freeze",
        json={"reason": "test: suspected fraud"},
        headers=world.ops["risk_analyst"],
    )
    assert frozen.status_code == 200, frozen.text
    account_a = world.client.get("/v1/me", headers=world.user_a).json()["account_id"]
    attempts = [
        (world.user_a, "POST", f"/v1/operator/accounts/{account_a}/freeze", {"reason": "freeze myself"}),
        (world.user_a, "POST", f"/v1/operator/accounts/{account_b}/unfreeze", {"reason": "let my friend go"}),
        (world.user_a, "POST", f"/v1/operator/accounts/{account_a}/reveal", {"reason": "show me"}),
        (world.user_a, "POST", "/v1/operator/merchants", {"tenant_id": world.tenant["a"], "name": "mine"}),
        (world.ops["risk_analyst"], "POST", f"/v1/operator/accounts/{account_b}/unfreeze", {"reason": "not my role"}),
        (world.ops["risk_analyst"], "POST", f"/v1/operator/accounts/{account_a}/reveal", {"reason": "not my role"}),
        (world.ops["risk_analyst"], "POST", "/v1/operator/merchants", {"tenant_id": world.tenant["a"], "name": "x"}),
        (
            world.ops["compliance_officer"],
            "POST",
            f"/v1/operator/accounts/{account_a}/freeze",
            {"reason": "not my role"},
        ),
        (
            world.ops["compliance_officer"],
            "PUT",
            f"/v1/operator/accounts/{account_a}/credit-line",
            {"limit_fen": 1_000_000, "reason": "not my role"},
        ),
        (
            world.ops["compliance_officer"],
            "POST",
            f"/v1/operator/merchants/{world.terminal_a['merchant_id']}/terminals",
            {"label": "rogue"},
        ),
    ]
    before = database_state(world.app)
    for headers, method, path, body in attempts:
        refused(world.client.request(method, path, json=body, headers=headers), 403, "forbidden")
    assert changed_tables(before, database_state(world.app)) == set()
    assert world.client.get("/v1/me", headers=world.user_b).json()["status"] == "frozen"


# --- 3. the payer's capture tokens ---------------------------------------------------------------


def test_guessed_capture_tokens_find_nothing_and_change_nothing(world):
    real = token_of(world.new_intent(world.terminal_a, "guess-1"))
    near_miss = real[:-1] + ("A" if real[-1] != "A" else "B")
    before = database_state(world.app)
    for guess in ("ftc_" + secrets.token_urlsafe(32), near_miss, real.upper(), "ftc_", "x", "ftc_" + "A" * 43):
        refused(world.client.get(f"/v1/capture/{guess}"), 404, "capture_session_not_found")
        refused(
            world.client.post(f"/v1/capture/{guess}/frames", json={"nonce": "n", "frames": []}),
            404,
            "capture_session_not_found",
        )
        refused(
            world.client.post(f"/v1/capture/{guess}/phone-digits", json={"digits": "1234"}),
            404,
            "capture_session_not_found",
        )
    assert changed_tables(before, database_state(world.app)) == set()


def test_identifiers_do_not_cross_doors(world):
    """An intent id is not a capture token, and a capture token is not an intent id."""
    intent = world.new_intent(world.terminal_a, "doors-1")
    token = token_of(intent)
    before = database_state(world.app)
    refused(world.client.get(f"/v1/capture/{intent['intent_id']}"), 404, "capture_session_not_found")
    path = f"{INTENTS}/{token}"
    refused(world.send("GET", path, b"", world.signed(world.terminal_a, "GET", path)), 404, "intent_not_found")
    assert changed_tables(before, database_state(world.app)) == {"terminal_nonces"}


def test_a_capture_token_is_dead_once_its_payment_is_decided(world):
    intent = world.new_intent(world.terminal_a, "decided-1")
    token = token_of(intent)
    page = world.client.get(f"/v1/capture/{token}").json()
    # A wrong nonce voids the challenge and declines the payment (README, Liveness).
    r = world.client.post(f"/v1/capture/{token}/frames", json={"nonce": "not-the-nonce", "frames": []})
    assert r.status_code == 200 and r.json()["status"] == "declined" and r.json()["decline_reason"] == "liveness_failed"
    before = database_state(world.app)
    refused(
        world.client.post(f"/v1/capture/{token}/frames", json={"nonce": page["challenge"]["nonce"], "frames": []}),
        409,
        "capture_not_expected",
    )
    refused(
        world.client.post(f"/v1/capture/{token}/phone-digits", json={"digits": "5678"}),
        409,
        "phone_digits_not_expected",
    )
    assert changed_tables(before, database_state(world.app)) == set()
    view = world.client.get(f"/v1/capture/{token}").json()
    assert view["status"] == "declined" and view["challenge"] is None


def test_another_payments_token_cannot_answer_this_payments_challenge(world):
    """The token names the payment: a challenge's nonce sent with another payment's token is that
    other payment's wrong nonce, and this payment keeps its challenge."""
    target, other = world.new_intent(world.terminal_a, "mine-1"), world.new_intent(world.terminal_a, "other-1")
    target_page = world.client.get(f"/v1/capture/{token_of(target)}").json()
    world.client.get(f"/v1/capture/{token_of(other)}")
    with world.app.state.sessions() as s:
        target_row = s.execute(text("SELECT * FROM payment_intents WHERE id = :id"), {"id": target["intent_id"]}).one()
    r = world.client.post(
        f"/v1/capture/{token_of(other)}/frames", json={"nonce": target_page["challenge"]["nonce"], "frames": []}
    )
    assert r.status_code == 200 and r.json()["status"] == "declined"
    with world.app.state.sessions() as s:
        assert (
            s.execute(text("SELECT * FROM payment_intents WHERE id = :id"), {"id": target["intent_id"]}).one()
            == target_row
        )
        assert s.execute(text("SELECT COUNT(*) FROM ledger_transactions")).scalar_one() == 0
    again = world.client.get(f"/v1/capture/{token_of(target)}").json()
    assert again["status"] == "awaiting_face" and again["challenge"]["nonce"] == target_page["challenge"]["nonce"]
