"""No personal data, and no face data, in anything a terminal or an error answer can show.

Why: a vending machine's terminal and the capture page on its screen are in a public place, run by
a merchant; an error answer goes to whoever sent the request, often someone probing with another
person's details. DESIGN: "Face data never appears in logs, error messages or responses to
merchants"; README (Face pay): the terminal "never sees a face, a template, an account id, a name or
a phone number".

The test drives real face payments (two real people from the shared clips, the phone-digit step,
a wrong-digits decline, refunds) and then a request that fails in every way we could think of:
malformed and mistyped bodies that carry personal data, domain refusals answering someone probing
with another person's name, ID number, card and mobile, and authentication refusals. A recording
client keeps every exchange. Then every answer a terminal received, every answer of the capture
page (it is shown on the terminal's screen), and every error answer anywhere, body and headers, is
searched for:

- the test people's full names, ID numbers and mobile numbers (facepay.ZHANG and facepay.LI), and
  the mistyped variants of them that the probes sent;
- face data: base64 image markers (``/9j/`` JPEG, ``iVBOR`` PNG, ``UklGR`` WebP) and slices of every
  ``image_base64`` the test sent;
- the enrolled face-pay templates: their vectors' bytes in base64 and hex, and their first values;
- for the terminal and capture-page answers, also every account id.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass

import cv2
import pytest
from facepay import (
    LI,
    ZHANG,
    FramePool,
    consent,
    face_pay_world,
    merchant_terminal,
    pay_with_face,
    register,
    start_payment,
    switch_on,
)

from facetrust.identity import adapters
from facetrust.security import template_store

QUIET = dict(
    rate_limit_auth_per_minute=0,
    rate_limit_face_per_minute=0,
    rate_limit_capture_per_minute=0,
    rate_limit_terminal_per_minute=0,
    rate_limit_operator_per_minute=0,
    rate_limit_ip_per_minute=0,
    lockout_max_failures=10**6,
)
FACE_MARKERS = ("/9j/", "iVBOR", "UklGR")


@dataclass
class Exchange:
    method: str
    path: str
    request: dict  # the keyword arguments sent (json, content, headers)
    response: object

    @property
    def text(self) -> str:
        """What the caller could read: the body and every header."""
        headers = "\n".join(f"{k}: {v}" for k, v in self.response.headers.items())
        return f"{headers}\n{self.response.text}"

    @property
    def seen_by_terminal(self) -> bool:
        return self.path.startswith(("/v1/terminal/", "/v1/capture/"))

    @property
    def is_error(self) -> bool:
        return self.response.status_code >= 400


class RecordingClient:
    """The test client, keeping every request it sent and every answer it got."""

    def __init__(self, client) -> None:
        self.client = client
        self.exchanges: list[Exchange] = []

    def request(self, method: str, url: str, **kwargs):
        response = self.client.request(method, url, **kwargs)
        self.exchanges.append(Exchange(method, url.split("?", 1)[0], kwargs, response))
        return response

    def get(self, url: str, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs):
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs):
        return self.request("DELETE", url, **kwargs)


def sent_images(exchanges: list[Exchange]) -> list[str]:
    """Every image_base64 / video_base64 value the test sent."""
    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("image_base64", "video_base64") and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for exchange in exchanges:
        walk(exchange.request.get("json"))
    return found


def luhn_complete(first: str) -> str:
    return next(first + d for d in "0123456789" if adapters.luhn_ok(first + d))


LI_CARD = luhn_complete("622202020011223")


def mistyped_id(id_number: str) -> str:
    """The same ID number with its check character changed: what a typing probe sends."""
    return id_number[:-1] + ("1" if id_number[-1] != "1" else "2")


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    bank = tmp_path / "bank.csv"
    bank.write_text(
        f"bank,card_number,name,id_number,mobile\nICBC,{LI_CARD},{LI.name},{LI.id_number},{LI.mobile}\n",
        encoding="utf-8",
    )
    # One enrolled person more than the direct limit: every payment asks for the phone digits.
    ctx, client, app, hs, tenant = face_pay_world(
        tmp_path, database_url, shared_data, [ZHANG, LI], bank_registry=bank, face_pay_direct_max_gallery=1, **QUIET
    )
    try:
        yield RecordingClient(client), app, hs, tenant, FramePool(shared_data, app)
    finally:
        ctx.__exit__(None, None, None)


def face_frame_b64(shared_data, person, index: int, fmt: str = ".jpg", scale: float = 1.0) -> str:
    from capture import clip_frames

    frames, _ = clip_frames(shared_data, person.clip, index, index + 1)
    frame = frames[0] if scale == 1.0 else cv2.resize(frames[0], None, fx=scale, fy=scale)
    return base64.b64encode(cv2.imencode(fmt, frame)[1].tobytes()).decode()


def test_no_personal_or_face_data_reaches_a_terminal_or_any_error(world):
    rec, app, hs, tenant, frames = world
    shared = frames.shared_data
    # --- real payments --------------------------------------------------------------------------
    hz = register(rec, app, hs, shared, ZHANG, fund_fen=100_000)
    assert switch_on(rec, app, hz, shared, ZHANG).status_code == 201
    hl = register(rec, app, hs, shared, LI, fund_fen=10_000)
    assert switch_on(rec, app, hl, shared, LI).status_code == 201
    terminal = merchant_terminal(rec, hs, tenant)

    paid, paid_token, view = pay_with_face(rec, frames, terminal, ZHANG, 800, "leak-1")
    assert view["step"] == "phone_digits", view
    r = rec.post(f"/v1/capture/{paid_token}/phone-digits", json={"digits": ZHANG.mobile[-4:]})
    assert r.json()["status"] == "paid", r.text
    assert terminal.call("GET", f"/v1/terminal/payment-intents/{paid['intent_id']}").json()["status"] == "paid"

    declined, declined_token, view = pay_with_face(rec, frames, terminal, LI, 500, "leak-2")
    wrong = "0000" if LI.mobile[-4:] != "0000" else "1111"
    r = rec.post(f"/v1/capture/{declined_token}/phone-digits", json={"digits": wrong})
    assert r.json()["decline_reason"] == "phone_digits_wrong", r.text
    terminal.call("GET", f"/v1/terminal/payment-intents/{declined['intent_id']}")

    refunds = f"/v1/terminal/payment-intents/{paid['intent_id']}/refunds"
    assert terminal.call("POST", refunds, {"refund_id": "refund-0001", "amount_fen": 300}).status_code == 201
    # --- terminal refusals ----------------------------------------------------------------------
    assert terminal.call("POST", refunds, {"refund_id": "refund-0002", "amount_fen": 999}).status_code == 422
    assert terminal.call("POST", refunds, {"refund_id": "refund-0001", "amount_fen": 301}).status_code == 409
    assert terminal.call("POST", refunds, {"refund_id": "x", "amount_fen": -5, "payer": ZHANG.name}).status_code == 422
    assert terminal.intent(800, "leak-1", key="key-leak-1b").status_code == 409  # the order is paid
    assert (
        terminal.call(
            "POST",
            "/v1/terminal/payment-intents",
            {"amount_fen": 100, "currency": "CNY", "merchant_order_id": "leak-3", "idempotency_key": "key-leak-3"},
            nonce="same-nonce-1",
        ).status_code
        == 201
    )
    assert (
        terminal.call("GET", f"/v1/terminal/payment-intents/{declined['intent_id']}", nonce="same-nonce-1").status_code
        == 409
    )
    assert terminal.call("GET", "/v1/terminal/payment-intents/" + "0" * 32).status_code == 404
    assert (
        terminal.call("GET", f"/v1/terminal/payment-intents/{paid['intent_id']}", secret="fts_wrong").status_code == 401
    )
    assert (
        terminal.call(
            "GET", f"/v1/terminal/payment-intents/{paid['intent_id']}", timestamp=int(time.time()) - 3600
        ).status_code
        == 401
    )
    # --- capture-page refusals, with a real face in every upload ---------------------------------
    _, open_token, open_view = start_payment(rec, terminal, 700, "leak-4")
    nonce = open_view["challenge"]["nonce"]
    face = face_frame_b64(shared, ZHANG, 40)
    uploads = {
        "too few frames": [face] * 3,
        "a GIF": [face_frame_b64(shared, ZHANG, 41, ".gif")] * 8,
        "too small": [face_frame_b64(shared, ZHANG, 42, ".png", scale=0.05)] * 8,
        "truncated": [face[: len(face) // 2 // 4 * 4]] * 8,
        "sizes differ": [face, face_frame_b64(shared, ZHANG, 43, scale=0.5)] * 4,
        "not base64": [face + "*"] * 8,
    }
    for name, images in uploads.items():
        body = {"nonce": nonce, "frames": [{"t_ms": 40.0 * i, "image_base64": b64} for i, b64 in enumerate(images)]}
        assert rec.post(f"/v1/capture/{open_token}/frames", json=body).status_code in (413, 422), name
    too_long = {"nonce": nonce, "frames": [{"t_ms": 0, "image_base64": face * (4_000_000 // len(face) + 1)}]}
    assert rec.post(f"/v1/capture/{open_token}/frames", json=too_long).status_code == 422
    wrong_type = {"nonce": nonce, "frames": [{"t_ms": "soon", "image_base64": face}], "payer": ZHANG.name}
    assert rec.post(f"/v1/capture/{open_token}/frames", json=wrong_type).status_code == 422
    assert rec.post(f"/v1/capture/{open_token}/phone-digits", json={"digits": ZHANG.mobile}).status_code == 422
    assert rec.post(f"/v1/capture/{open_token}/phone-digits", json={"digits": ZHANG.mobile[-4:]}).status_code == 409
    assert rec.post(f"/v1/capture/{paid_token}/frames", json={**frames.last, "nonce": nonce}).status_code == 409
    assert rec.get("/v1/capture/ftc_" + "A" * 43).status_code == 404
    # --- a probe with other people's details ----------------------------------------------------
    assert (
        rec.post(
            "/v1/accounts", json={"platform_user_id": "mallory", "mobile": "13700009999"}, headers=hs["a"]
        ).status_code
        == 201
    )
    hm = {"Authorization": "Bearer " + rec.post("/v1/accounts/mallory/tokens", headers=hs["a"]).json()["token"]}
    consent(rec, hm, "kyc_face_verification")
    probes = [
        ("/v1/me/real-name/face", {"name": ZHANG.name, "id_number": ZHANG.id_number, "liveness_session_id": "0" * 32}),
        (
            "/v1/me/real-name/face",
            {"name": ZHANG.name, "id_number": mistyped_id(ZHANG.id_number), "liveness_session_id": "0" * 32},
        ),
        (
            "/v1/me/real-name/bank-card",
            {"name": LI.name, "id_number": LI.id_number, "card_number": LI_CARD, "mobile": "13700009999"},
        ),
        (
            "/v1/me/real-name/bank-card",
            {"name": ZHANG.name, "id_number": LI.id_number, "card_number": LI_CARD, "mobile": LI.mobile},
        ),
        (
            "/v1/me/real-name/bank-card",
            {
                "name": LI.name,
                "id_number": LI.id_number,
                "card_number": LI_CARD[:6] + str((int(LI_CARD[6]) + 1) % 10) + LI_CARD[7:],
                "mobile": LI.mobile,
            },
        ),
        (
            "/v1/me/real-name/bank-card",
            {
                "name": LI.name,
                "id_number": LI.id_number,
                "card_number": luhn_complete("622202020099887"),
                "mobile": LI.mobile,
            },
        ),
        (
            "/v1/me/real-name/bank-card",
            {"name": LI.name, "id_number": mistyped_id(LI.id_number), "card_number": LI_CARD, "mobile": LI.mobile},
        ),
        (
            "/v1/me/real-name/bank-card",
            {"name": LI.name, "id_number": LI.id_number + "X", "card_number": LI_CARD, "mobile": LI.mobile},
        ),
        (
            "/v1/me/real-name/bank-card",
            {"name": LI.name, "id_number": LI.id_number, "card_number": LI_CARD, "mobile": int(LI.mobile)},
        ),
        ("/v1/me/liveness-sessions", {"purpose": ZHANG.name}),
        ("/v1/me/consents/face_pay", {"notice_version": ZHANG.id_number}),
    ]
    for path, body in probes:
        r = rec.post(path, json=body, headers=hm)
        assert 400 <= r.status_code < 500 and r.status_code != 401, (path, r.status_code, r.text)
    # malformed JSON full of personal data
    raw = f'{{"name": "{LI.name}", "id_number": "{LI.id_number}", "mobile": "{LI.mobile}",'.encode()
    assert (
        rec.post("/v1/me/real-name/bank-card", content=raw, headers={**hm, "Content-Type": "application/json"}).json()[
            "error"
        ]["code"]
        == "malformed_json"
    )
    # the platform's back end, probing and mistyping
    for body in (
        {"platform_user_id": ZHANG.user, "mobile": ZHANG.mobile},  # exists
        {"platform_user_id": "eve", "mobile": ZHANG.mobile[:-1]},  # too short
        {"platform_user_id": "eve", "mobile": "1" + ZHANG.mobile[1:-1] + "X"},
        {"platform_user_id": ZHANG.name, "mobile": ZHANG.mobile},  # not an allowed id
        {"platform_user_id": "eve", "mobile": "12" + ZHANG.mobile[2:]},  # not a mobile prefix
        {"platform_user_id": "eve", "mobile": LI.mobile, "id_number": LI.id_number, "name": LI.name},
    ):
        r = rec.post("/v1/accounts", json=body, headers=hs["a"])
        assert r.status_code in (409, 422), r.text
    assert (
        rec.post(
            f"/v1/accounts/{LI.user}/wallet/top-ups", json={"amount_fen": 1, "reference": LI.id_number}, headers=hs["b"]
        ).status_code
        == 404
    )
    # --- authentication and role refusals -------------------------------------------------------
    assert rec.get("/v1/me", headers={"Authorization": f"Bearer {LI.id_number}"}).status_code == 401
    assert rec.get("/v1/me/wallet", headers=hs["a"]).status_code == 401
    assert rec.post(f"/v1/accounts/{ZHANG.user}/tokens", headers=hz).status_code == 401
    account_zhang = rec.get("/v1/me", headers=hz).json()["account_id"]
    assert (
        rec.post(
            f"/v1/operator/accounts/{account_zhang}/reveal", json={"reason": "curious"}, headers=hs["op"]
        ).status_code
        == 403
    )  # a risk analyst may not reveal
    assert (
        rec.post(f"/v1/operator/accounts/{account_zhang}/reveal", json={"reason": "x"}, headers=hs["admin"]).status_code
        == 422
    )  # a reason too short to audit
    assert (
        rec.get("/v1/operator/accounts", params={"q": ZHANG.id_number + "0" * 200}, headers=hs["op"]).status_code == 422
    )
    assert (
        rec.post(f"/v1/operator/accounts/{account_zhang}/freeze", json={"reason": ZHANG.name}, headers=hz).status_code
        == 403
    )

    # --- what must not be found -----------------------------------------------------------------
    people = (ZHANG, LI)
    personal = (
        [p.name for p in people]
        + [p.id_number for p in people]
        + [p.mobile for p in people]
        + [mistyped_id(p.id_number) for p in people]
        + [mistyped_id(p.id_number)[:17] for p in people]
        + [ZHANG.mobile[:-1], "1" + ZHANG.mobile[1:-1] + "X", "12" + ZHANG.mobile[2:], LI_CARD, LI_CARD[7:]]
    )
    face_slices = [
        image[i : i + 48] for image in sent_images(rec.exchanges) for i in (64, len(image) // 2) if len(image) > 200
    ]
    assert len(face_slices) > 100  # the real captures above are in the list
    with app.state.sessions() as s:
        from facetrust.identity.models import Account

        account_ids = [a.id for a in s.query(Account).all()]
        templates = template_store.read_all(s, app.state.keyring, "face_pay", "privacy_test", "test")
        s.rollback()  # the audit record of this read is not part of the system's own story
    assert len(templates) == 2
    template_traces = []
    for _, template in templates:
        vector = template.vector.astype("<f4").tobytes()
        template_traces += [
            base64.b64encode(vector[:24]).decode(),
            vector[:16].hex(),
            repr(float(template.vector[0])),
            repr(float(template.vector[1])),
        ]
    forbidden_everywhere = personal + list(FACE_MARKERS) + face_slices + template_traces

    terminal_doors, codes = set(), set()
    for exchange in rec.exchanges:
        if not (exchange.seen_by_terminal or exchange.is_error):
            continue
        text = exchange.text
        forbidden = forbidden_everywhere + (account_ids if exchange.seen_by_terminal else [])
        leaked = [secret for secret in forbidden if secret in text]
        assert not leaked, f"{exchange.method} {exchange.path} -> {exchange.response.status_code} shows {leaked[:3]}"
        if exchange.is_error:
            error = exchange.response.json()["error"]
            codes.add(error["code"])
            assert set(error) <= {"code", "message", "fields", "reasons", "retry_after_seconds"}, error
            # Validation errors name the field and the problem, never the value sent.
            for field in error.get("fields", []):
                assert set(field) == {"field", "problem"}, field
        if exchange.seen_by_terminal:
            terminal_doors.add((exchange.method, re.sub(r"/(ftc_[\w-]+|[0-9a-f]{32})", "/{id}", exchange.path)))

    # The refusals above really happened, of every kind.
    assert {"invalid_request", "malformed_json"} <= codes, codes
    assert {"unauthenticated", "forbidden", "signature_invalid", "signature_stale", "nonce_reused"} <= codes, codes
    assert {
        "liveness_required",
        "id_number_invalid",
        "bank_elements_mismatch",
        "bank_card_unknown",
        "card_number_invalid",
        "account_exists",
        "mobile_invalid",
        "account_not_found",
        "refund_exceeds_payment",
        "idempotency_key_reused",
        "order_already_open",
        "capture_invalid",
        "image_format_unsupported",
        "image_too_small",
        "image_unreadable",
        "capture_not_expected",
        "phone_digits_not_expected",
        "capture_session_not_found",
        "intent_not_found",
    } <= codes, codes
    # ... and every door a terminal or its screen uses was checked, in its answers and its refusals.
    assert terminal_doors == {
        ("POST", "/v1/terminal/payment-intents"),
        ("GET", "/v1/terminal/payment-intents/{id}"),
        ("POST", "/v1/terminal/payment-intents/{id}/refunds"),
        ("GET", "/v1/capture/{id}"),
        ("POST", "/v1/capture/{id}/frames"),
        ("POST", "/v1/capture/{id}/phone-digits"),
    }, terminal_doors
