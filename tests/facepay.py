"""A face-pay world for tests: two real people from the shared clips who passed real-name
authentication and switched face pay on, a merchant with a signed terminal, and the steps of a
payment over HTTP. Every capture uses frames no earlier capture used (the replay defence would
refuse them otherwise)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from facetrust.consent.notices import NOTICES
from facetrust.identity import idnumber
from facetrust.security import signing

from capture import as_burst, clip_frames, passed_session
from conftest import running_app


def id_for(seq: str) -> str:
    first17 = "11010519800101" + seq
    return first17 + idnumber.checksum_char(first17)


@dataclass(frozen=True)
class Person:
    user: str
    name: str
    id_number: str
    mobile: str
    clip: str
    photo_frame: int  # the authority's photo
    real_name_take: tuple  # (clip, start, stop, actions) of a liveness pass for real_name
    enrol_take: tuple  # ... and one for face_pay_enrolment
    pay_frames: tuple[int, int]  # frames of the clip left for payment captures


# A woman turning and blinking (d3), and a man with glasses blinking (d9).
ZHANG = Person("zhang", "张伟", id_for("001"), "13812345678", "d3.mp4", 100,
               ("d3.mp4", 0, 64, ["turn_right", "blink"]), ("d3.mp4", 1, 65, ["turn_right", "blink"]), (66, 104))
LI = Person("li", "李娜", id_for("002"), "13998765432", "d9.mp4", 250,
            ("d9.mp4", 0, 64, ["blink"]), ("d9.mp4", 1, 65, ["blink"]), (100, 580))
# Someone else's ID number presenting Zhang's face: the duplicate identity.
# Her liveness passes are passive (no actions: the test fixes the challenge) on frames no one else uses.
ZHANG_TWIN = Person("twin", "王芳", id_for("003"), "13700001111", "d3.mp4", 110,
                    ("d3.mp4", 300, 330, []), ("d3.mp4", 301, 331, []), (62, 104))


@dataclass
class Terminal:
    id: str
    secret: str
    client: object
    responses: list = field(default_factory=list)  # every answer a terminal received, for the privacy check

    def call(self, method: str, path: str, body: dict | None = None, *, timestamp: int | None = None,
             nonce: str | None = None, secret: str | None = None):
        raw = json.dumps(body).encode() if body is not None else b""
        headers = signing.headers(self.id, secret or self.secret, method, path, raw, timestamp or int(time.time()), nonce)
        headers["Content-Type"] = "application/json"
        r = self.client.request(method, path, content=raw, headers=headers)
        self.responses.append(r)
        return r

    def intent(self, amount_fen: int, order: str, key: str | None = None):
        return self.call("POST", "/v1/terminal/payment-intents",
                         {"amount_fen": amount_fen, "currency": "CNY", "merchant_order_id": order,
                          "idempotency_key": key or f"key-{order}"})


class FramePool:
    """Hands out runs of never-used frames of each person's clip."""

    def __init__(self, shared_data: Path) -> None:
        self.shared_data = shared_data
        self.next = {}

    def capture(self, person: Person, nonce: str, count: int = 8) -> dict:
        start = self.next.get(person.user, person.pay_frames[0])
        assert start + count <= person.pay_frames[1], f"out of unused frames of {person.clip}"
        self.next[person.user] = start + count
        return self.window(person, nonce, start, start + count)

    def window(self, person: Person, nonce: str, start: int, stop: int) -> dict:
        """Frames start..stop-1, e.g. around an action (keep them out of the pool's range)."""
        frames, times = clip_frames(self.shared_data, person.clip, start, stop)
        return as_burst(frames, times, nonce)


def authority(tmp_path: Path, shared_data: Path, people: list[Person]) -> Path:
    reg = tmp_path / "registry"
    reg.mkdir(exist_ok=True)
    lines = ["name,id_number,photo"]
    for p in people:
        frames, _ = clip_frames(shared_data, p.clip, p.photo_frame, p.photo_frame + 1)
        cv2.imwrite(str(reg / f"{p.user}.jpg"), frames[0])
        lines.append(f"{p.name},{p.id_number},{p.user}.jpg")
    (reg / "citizens.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return reg / "citizens.csv"


def consent(client, h, purpose: str) -> None:
    r = client.post(f"/v1/me/consents/{purpose}", json={"notice_version": NOTICES[purpose].version}, headers=h)
    assert r.status_code == 201, r.text


def register(client, app, hs, shared_data: Path, person: Person, fund_fen: int = 0) -> dict:
    """Account, real-name authentication by face, and a wallet top-up; returns the user's headers."""
    r = client.post("/v1/accounts", json={"platform_user_id": person.user, "mobile": person.mobile}, headers=hs["a"])
    assert r.status_code == 201, r.text
    h = {"Authorization": "Bearer " + client.post(f"/v1/accounts/{person.user}/tokens", headers=hs["a"]).json()["token"]}
    consent(client, h, "kyc_face_verification")
    session_id = passed_session(client, app, h, shared_data, "real_name", take=person.real_name_take)
    r = client.post("/v1/me/real-name/face", headers=h,
                    json={"name": person.name, "id_number": person.id_number, "liveness_session_id": session_id})
    assert r.status_code == 201, r.text
    if fund_fen:
        r = client.post(f"/v1/accounts/{person.user}/wallet/top-ups", headers=hs["a"],
                        json={"amount_fen": fund_fen, "reference": f"fund-{person.user}"})
        assert r.status_code == 201, r.text
    return h


def switch_on(client, app, h, shared_data: Path, person: Person):
    consent(client, h, "face_pay")
    session_id = passed_session(client, app, h, shared_data, "face_pay_enrolment", take=person.enrol_take)
    return client.post("/v1/me/face-pay", json={"liveness_session_id": session_id}, headers=h)


def merchant_terminal(client, hs, tenant_id: str, fee_bps: int = 60) -> Terminal:
    r = client.post("/v1/operator/merchants", json={"tenant_id": tenant_id, "name": "Vending 7", "fee_bps": fee_bps},
                    headers=hs["admin"])
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/operator/merchants/{r.json()['merchant_id']}/terminals", json={"label": "lobby"},
                    headers=hs["admin"])
    assert r.status_code == 201, r.text
    return Terminal(r.json()["terminal_id"], r.json()["secret"], client)


def token_of(created: dict) -> str:
    return created["capture_url"].split("#", 1)[1]


def start_payment(client, terminal: Terminal, amount_fen: int, order: str) -> tuple[dict, str, dict]:
    """A terminal intent and the capture page opened with its token: (intent, token, page view)."""
    r = terminal.intent(amount_fen, order)
    assert r.status_code == 201, r.text
    token = token_of(r.json())
    view = client.get(f"/v1/capture/{token}")
    assert view.status_code == 200, view.text
    return r.json(), token, view.json()


def pay_with_face(client, frames: FramePool, terminal: Terminal, person: Person, amount_fen: int,
                  order: str) -> tuple[dict, str, dict]:
    """A payment up to the page's answer to the payer's frames: (intent, token, page view)."""
    intent, token, view = start_payment(client, terminal, amount_fen, order)
    r = client.post(f"/v1/capture/{token}/frames", json=frames.capture(person, view["challenge"]["nonce"]))
    assert r.status_code == 200, r.text
    return intent, token, r.json()


def face_pay_world(tmp_path: Path, database_url: str, shared_data: Path, people: list[Person], **settings):
    """running_app with the authority simulator holding ``people`` and an admin operator."""
    import datetime as dt

    from facetrust.identity import service

    ctx = running_app(tmp_path, database_url, authority_registry=authority(tmp_path, shared_data, people), **settings)
    client, app, hs = ctx.__enter__()
    with app.state.sessions() as s:
        token, _ = service.create_operator_token(s, "root", "admin", dt.timedelta(hours=1))
        tenant_a = service.tenant_by_api_key(s, hs["a"]["X-Api-Key"]).id
        s.commit()
    hs["admin"] = {"Authorization": f"Bearer {token}"}
    return ctx, client, app, hs, tenant_a
