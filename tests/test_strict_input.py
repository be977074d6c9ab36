"""Strict input (issue 19, items 12 and 13), over HTTP against the real app.

Money, timestamps, ID numbers, card numbers and mobiles are accepted only as their exact JSON type
and in ASCII digits: ``true`` is not 1 fen, ``"100"`` and ``100.0`` are not 100, an ``X-Timestamp``
of ``+ts`` or ``1796_638219`` is not a time, and ``13٨٠٠٠٠٠٠٠٢`` (Arabic-Indic digits) is not a
mobile number. Every refusal leaves nothing behind. And a validation error names only fields the
schema knows, never a key the client made up (which may carry a name and an ID number)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from conftest import copy_database, running_app
from facepay import merchant_terminal
from sqlalchemy import func, select

from facetrust.consent.notices import NOTICES
from facetrust.identity import service
from facetrust.identity.models import Account
from facetrust.payments.models import PaymentIntent
from facetrust.security import signing

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One app for the module (no faces): every probe here is refused, and each test checks its own
    nothing-changed."""
    tmp = tmp_path_factory.mktemp("strict")
    with running_app(tmp, copy_database(tmp)) as (client, app, hs):
        with app.state.sessions() as s:
            admin, _ = service.create_operator_token(s, "root", "admin", dt.timedelta(hours=1))
            hs["tenant_a_id"] = service.tenant_by_api_key(s, hs["a"]["X-Api-Key"]).id
            s.commit()
        hs["admin"] = {"Authorization": f"Bearer {admin}"}
        r = client.post("/v1/accounts", json={"platform_user_id": "u1", "mobile": "13812345678"}, headers=hs["a"])
        assert r.status_code == 201, r.text
        token = client.post("/v1/accounts/u1/tokens", headers=hs["a"]).json()["token"]
        hs["u1"] = {"Authorization": f"Bearer {token}"}
        yield client, app, hs


def refused(r, code: str = "invalid_request", status: int = 422) -> dict:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    return r.json()["error"]


def balance(client, hs) -> int:
    return client.get("/v1/me/wallet", headers=hs["u1"]).json()["balance_fen"]


@pytest.mark.parametrize("amount", [True, "100", 100.0, "1_000", None, [100]])
def test_money_is_an_integer_of_fen_and_nothing_else(world, amount):
    client, _, hs = world
    before = balance(client, hs)
    r = client.post(
        "/v1/accounts/u1/wallet/top-ups", json={"amount_fen": amount, "reference": f"t-{amount!r}"}, headers=hs["a"]
    )
    refused(r)
    assert balance(client, hs) == before


def test_an_integer_of_fen_is_accepted(world):
    client, _, hs = world
    before = balance(client, hs)
    r = client.post("/v1/accounts/u1/wallet/top-ups", json={"amount_fen": 100, "reference": "t-ok"}, headers=hs["a"])
    assert r.status_code == 201, r.text
    assert balance(client, hs) == before + 100


@pytest.mark.parametrize("amount", ["1_000", "+100", " 100", "100.0", "١٠٠"])
def test_money_in_a_query_is_plain_ascii_digits(world, amount):
    client, _, hs = world
    r = client.get(
        "/v1/me/credit/loan-quote",
        params={"product_id": "cash-loan", "amount_fen": amount, "periods": 6},
        headers=hs["u1"],
    )
    refused(r)


@pytest.mark.parametrize("stamp", ["+{ts}", "{head}_{tail}", " {ts}", "{ts} ", "{ts}.0", "arabic", "fullwidth"])
def test_a_terminal_timestamp_is_plain_unix_seconds(world, stamp):
    client, app, hs = world
    terminal = merchant_terminal(client, hs, hs["tenant_a_id"])
    ts = str(int(time.time()))
    value = {"arabic": ts.translate(ARABIC_INDIC), "fullwidth": ts.translate(FULLWIDTH)}.get(
        stamp, stamp.format(ts=ts, head=ts[:4], tail=ts[4:])
    )
    body = json.dumps(
        {"amount_fen": 100, "currency": "CNY", "merchant_order_id": "o-1", "idempotency_key": "k-1"}
    ).encode()
    path, nonce = "/v1/terminal/payment-intents", "n" * 8 + stamp.encode().hex()[:24]
    headers = {
        signing.HEADER_TERMINAL: terminal.id,
        signing.HEADER_TIMESTAMP: value.encode(),
        signing.HEADER_NONCE: nonce,
        signing.HEADER_SIGNATURE: signing.sign(terminal.secret, "POST", path, value, nonce, body),
        "Content-Type": "application/json",
    }
    r = client.post(path, content=body, headers=headers)
    refused(r, "signature_invalid", 401)
    with app.state.sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(PaymentIntent).where(PaymentIntent.terminal_id == terminal.id))
            == 0
        )
    assert terminal.intent(100, "o-1").status_code == 201, "the same terminal and order, a plain timestamp"


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULLWIDTH])
def test_a_mobile_number_is_ascii_digits(world, digits):
    client, app, hs = world
    mobile = "13" + "800000002".translate(digits)  # as the attack sent it: 13٨٠٠٠٠٠٠٠٢
    r = client.post("/v1/accounts", json={"platform_user_id": "arabic", "mobile": mobile}, headers=hs["a"])
    refused(r, "mobile_invalid")
    with app.state.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Account).where(Account.platform_user_id == "arabic")) == 0
    r = client.get("/v1/operator/accounts", params={"q": mobile}, headers=hs["admin"])
    assert r.status_code in (200, 422) and r.json() in ([], r.json()) and "13800000002" not in r.text


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULLWIDTH])
def test_id_and_card_numbers_are_ascii_digits(world, digits):
    client, _, hs = world
    r = client.post(
        "/v1/me/consents/kyc_face_verification",
        json={"notice_version": NOTICES["kyc_face_verification"].version},
        headers=hs["u1"],
    )
    assert r.status_code in (200, 201), r.text
    good = {
        "name": "张伟",
        "id_number": "110105198001010016",
        "card_number": "6222020200112233445",
        "mobile": "13812345678",
    }
    for field, code in (
        ("id_number", "id_number_invalid"),
        ("card_number", "card_number_invalid"),
        ("mobile", "invalid_request"),
    ):
        body = {**good, field: good[field].translate(digits)}
        r = client.post("/v1/me/real-name/bank-card", json=body, headers=hs["u1"])
        refused(r, code)
    assert client.get("/v1/me/real-name", headers=hs["u1"]).json() == []


def test_phone_digits_on_the_capture_page_are_ascii(world):
    client, _, _ = world
    r = client.post(f"/v1/capture/ftc_{'A' * 43}/phone-digits", json={"digits": "1234".translate(ARABIC_INDIC)})
    refused(r)


# --- item 13: validation errors name only fields the schema knows -------------------------------

PERSONAL_KEY = "张伟110105198001010016"


def test_a_validation_error_does_not_echo_a_key_the_client_made_up(world):
    client, _, hs = world
    probes = [
        client.post(
            "/v1/accounts", json={"platform_user_id": "k", "mobile": "13812345678", PERSONAL_KEY: 1}, headers=hs["a"]
        ),
        client.post("/v1/accounts/u1/wallet/top-ups", json={PERSONAL_KEY: "x"}, headers=hs["a"]),
        client.post(
            "/v1/me/real-name/bank-card", json={"name": "x", PERSONAL_KEY: {"13800000002": 1}}, headers=hs["u1"]
        ),
    ]
    for r in probes:
        error = refused(r)
        assert PERSONAL_KEY not in r.text and "110105198001010016" not in r.text and "13800000002" not in r.text
        assert error["fields"], error
        for field in error["fields"]:
            assert set(field) == {"field", "problem"}
    # The fields the schema knows are still named, so a client can fix its request.
    named = {f["field"] for f in refused(probes[1])["fields"]}
    assert {"amount_fen", "reference"} <= named
    unexpected = [f for f in refused(probes[0])["fields"] if f["problem"] == "an unexpected field was sent"]
    assert len(unexpected) == 1 and unexpected[0]["field"] == ""
