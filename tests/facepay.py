"""A face-pay world for tests: real people from the shared clips who passed real-name
authentication and switched face pay on, a merchant with a signed terminal, and the steps of a
payment over HTTP.

Every capture is a real take (``capture.py``): a window of the person's clip that shows the actions
its challenge asks, in order. Real-name and enrolment captures show two distinct actions (the
service's floor for them), a payment's capture one quick action (a blink or an open mouth), a
step-up two. A world never hands out two takes that show a moment in common (the replay defence
would refuse the second, on any account); mirrored takes are distinct captures of the same person.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from capture import Take, clip_frames, fix_payment_challenge, material, passed_session, takes_of
from conftest import running_app

from facetrust.consent.notices import NOTICES
from facetrust.identity import idnumber
from facetrust.security import signing


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
    photo_frame: int  # the authority's photo: a frame no take of the clip uses
    mirrored: bool = False  # presents the clip's recordings mirrored first (another capture of the same face)

    def takes(self, kind: str) -> list[Take]:
        """The person's takes of a kind (``payment``: one quick action; ``two``: two distinct
        actions), in the order a world hands them out."""
        return takes_of(self.clip, kind, self.mirrored)


# A woman turning, blinking and opening her mouth (d3), and a man with glasses blinking and opening
# his mouth (d9). d3 holds two two-action takes and one payment take (four and two with mirroring);
# d9 two two-action takes and six payment takes (four and twelve).
ZHANG = Person("zhang", "张伟", id_for("001"), "13812345678", "d3.mp4", 100)
LI = Person("li", "李娜", id_for("002"), "13998765432", "d9.mp4", 250)
# Someone else's ID number presenting Zhang's face: the duplicate identity. Her captures are Zhang's
# recordings, the mirrored ones first (a different capture of the same face), so a world can hold both.
ZHANG_TWIN = Person("twin", "王芳", id_for("003"), "13700001111", "d3.mp4", 110, mirrored=True)


def take_for(app, person: Person, kind: str) -> Take:
    """The next take of ``person`` that no capture of this world has shown."""
    return material(app).take(
        person.takes(kind), f"{person.user}'s {'payment' if kind == 'payment' else 'two-action'} capture"
    )


@dataclass
class Terminal:
    id: str
    secret: str
    client: object
    responses: list = field(default_factory=list)  # every answer a terminal received, for the privacy check

    def call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        secret: str | None = None,
    ):
        raw = json.dumps(body).encode() if body is not None else b""
        headers = signing.headers(
            self.id, secret or self.secret, method, path, raw, timestamp or int(time.time()), nonce
        )
        headers["Content-Type"] = "application/json"
        r = self.client.request(method, path, content=raw, headers=headers)
        self.responses.append(r)
        return r

    def intent(self, amount_fen: int, order: str, key: str | None = None):
        return self.call(
            "POST",
            "/v1/terminal/payment-intents",
            {
                "amount_fen": amount_fen,
                "currency": "CNY",
                "merchant_order_id": order,
                "idempotency_key": key or f"key-{order}",
            },
        )


class FramePool:
    """Hands out each person's next unused payment take (one quick action) or step-up take (two
    actions) in one world, and remembers the last capture body it made."""

    def __init__(self, shared_data: Path, app) -> None:
        self.shared_data = shared_data
        self.app = app
        self.last: dict | None = None

    def payment_take(self, person: Person) -> Take:
        return take_for(self.app, person, "payment")

    def step_up_take(self, person: Person) -> Take:
        return take_for(self.app, person, "two")

    def capture(self, person: Person, nonce: str, count: int | None = None, take: Take | None = None) -> dict:
        """The body of a capture of the person's next payment take (its first ``count`` frames if
        given). For uploads the service refuses before deciding, or whose challenge the caller sets."""
        take = take or self.payment_take(person)
        body = take.burst(self.shared_data, nonce)
        if count is not None:
            body["frames"] = body["frames"][:count]
        self.last = body
        return body

    def answer(self, client, token: str, intent_id: str, view: dict, take: Take):
        """Answer the capture page's current challenge with ``take``: the challenge is fixed to the
        take's actions first (the recording cannot follow a random one), then its frames are posted."""
        fix_payment_challenge(self.app, intent_id, take.actions)
        return client.post(
            f"/v1/capture/{token}/frames", json=self.capture(None, view["challenge"]["nonce"], take=take)
        )


def authority(tmp_path: Path, shared_data: Path, people: list[Person]) -> Path:
    reg = tmp_path / "registry"
    reg.mkdir(exist_ok=True)
    lines = ["name,id_number,photo"]
    for p in people:
        assert not any(
            t.first <= p.photo_frame <= t.last for t in takes_of(p.clip, "payment") + takes_of(p.clip, "two")
        ), f"{p.user}'s photo is a frame of a capture take"
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
    h = {
        "Authorization": "Bearer " + client.post(f"/v1/accounts/{person.user}/tokens", headers=hs["a"]).json()["token"]
    }
    consent(client, h, "kyc_face_verification")
    session_id = passed_session(client, app, h, shared_data, "real_name", take_for(app, person, "two"))
    r = client.post(
        "/v1/me/real-name/face",
        headers=h,
        json={"name": person.name, "id_number": person.id_number, "liveness_session_id": session_id},
    )
    assert r.status_code == 201, r.text
    if fund_fen:
        r = client.post(
            f"/v1/accounts/{person.user}/wallet/top-ups",
            headers=hs["a"],
            json={"amount_fen": fund_fen, "reference": f"fund-{person.user}"},
        )
        assert r.status_code == 201, r.text
    return h


def signed_in_on(client, hs, platform_user_id: str, device: str) -> dict:
    """The platform signs its user in on ``device`` (``X-Device-Id`` with its API key): the token
    carries that device, the only way a device counts for an end user's calls."""
    r = client.post(f"/v1/accounts/{platform_user_id}/tokens", headers={**hs["a"], "X-Device-Id": device})
    assert r.status_code == 201, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


def switch_on(client, app, h, shared_data: Path, person: Person):
    consent(client, h, "face_pay")
    session_id = passed_session(client, app, h, shared_data, "face_pay_enrolment", take_for(app, person, "two"))
    return client.post("/v1/me/face-pay", json={"liveness_session_id": session_id}, headers=h)


def merchant_terminal(client, hs, tenant_id: str, fee_bps: int = 60) -> Terminal:
    r = client.post(
        "/v1/operator/merchants",
        json={"tenant_id": tenant_id, "name": "Vending 7", "fee_bps": fee_bps},
        headers=hs["admin"],
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/operator/merchants/{r.json()['merchant_id']}/terminals", json={"label": "lobby"}, headers=hs["admin"]
    )
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


def pay_with_face(
    client, frames: FramePool, terminal: Terminal, person: Person, amount_fen: int, order: str
) -> tuple[dict, str, dict]:
    """A payment up to the page's answer to the payer's frames: (intent, token, page view). The
    payer answers the page's one-action challenge with their next payment take."""
    intent, token, view = start_payment(client, terminal, amount_fen, order)
    assert len(view["challenge"]["actions"]) == 1, view  # an ordinary payment asks one quick action
    r = frames.answer(client, token, intent["intent_id"], view, frames.payment_take(person))
    assert r.status_code == 200, r.text
    return intent, token, r.json()


def step_up(client, frames: FramePool, person: Person, intent_id: str, token: str, view: dict):
    """Answer a payment's step-up (an active challenge of two or more actions) with the person's next
    two-action take; returns the response."""
    assert view["challenge"] and len(view["challenge"]["actions"]) >= 2, view
    return frames.answer(client, token, intent_id, view, frames.step_up_take(person))


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


def enrolled_world(
    tmp_path: Path,
    database_url: str,
    shared_data: Path,
    people: list[Person],
    enrolled: list[tuple[Person, int]],
    **settings,
):
    """``face_pay_world`` in which each of ``enrolled`` (person, wallet top-up in fen) has registered,
    passed real-name authentication by face and switched face pay on, in that order: built once per
    session for these arguments (conftest's ``world_snapshot``) and copied for the test, with an app of
    its own over the copy. Returns (context, client, app, headers, tenant id, user headers by
    platform user id)."""
    from conftest import app_over, restore, settings_key, world_snapshot

    def build(data_dir: Path, url: str) -> dict:
        ctx, client, app, hs, tenant = face_pay_world(data_dir, url, shared_data, people, **settings)
        try:
            users = {}
            for person, fund_fen in enrolled:
                h = register(client, app, hs, shared_data, person, fund_fen=fund_fen)
                assert switch_on(client, app, h, shared_data, person).status_code == 201
                users[person.user] = h
            return {"hs": hs, "tenant": tenant, "users": users, "used": list(material(app).used)}
        finally:
            ctx.__exit__(None, None, None)

    key = ("face-pay", tuple(people), tuple(enrolled), settings_key(settings))
    snap = world_snapshot(key, build)
    restore(snap, tmp_path, database_url)
    ctx = app_over(tmp_path, database_url, authority_registry=tmp_path / "registry" / "citizens.csv", **settings)
    client, app = ctx.__enter__()
    material(app).used[:] = snap.state["used"]  # the takes the build's captures showed
    hs = {caller: dict(h) for caller, h in snap.state["hs"].items()}
    users = {user: dict(h) for user, h in snap.state["users"].items()}
    return ctx, client, app, hs, snap.state["tenant"], users
