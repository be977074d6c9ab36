"""The consent ledger over HTTP: purposes stand alone, withdrawals are recorded not deleted,
the current notice must be named, and an under-14 account needs a guardian's consent."""

from __future__ import annotations

import datetime as dt

import pytest

from facetrust.consent.notices import NOTICES
from facetrust.identity import idnumber
from facetrust.identity.models import Account


@pytest.fixture()
def user(app_ctx):
    client, app, h = app_ctx
    assert (
        client.post(
            "/v1/accounts", json={"platform_user_id": "u1", "mobile": "13812345678"}, headers=h["a"]
        ).status_code
        == 201
    )
    token = client.post("/v1/accounts/u1/tokens", headers=h["a"]).json()["token"]
    return client, app, {"Authorization": f"Bearer {token}"}


def grant(client, headers, purpose, **extra):
    body = {"notice_version": NOTICES[purpose].version, "channel": "app", **extra}
    return client.post(f"/v1/me/consents/{purpose}", json=body, headers=headers)


def test_notices_are_shown_per_purpose(user):
    client, _, h = user
    notices = {n["purpose"]: n for n in client.get("/v1/consent-notices", headers=h).json()}
    assert set(notices) == {"kyc_face_verification", "face_pay", "credit_face_verification"}
    assert all(n["zh"] and n["en"] and n["version"] for n in notices.values())


def test_consent_to_one_purpose_never_implies_another(user):
    client, _, h = user
    state = grant(client, h, "kyc_face_verification").json()
    assert state["granted"] == {"kyc_face_verification": True, "face_pay": False, "credit_face_verification": False}


def test_withdrawal_is_recorded_and_history_kept(user):
    client, _, h = user
    grant(client, h, "face_pay")
    state = client.delete("/v1/me/consents/face_pay", headers=h).json()
    assert state["granted"]["face_pay"] is False
    assert [e["action"] for e in state["history"]] == ["grant", "withdraw"]
    again = client.delete("/v1/me/consents/face_pay", headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "consent_not_granted"
    assert [e["action"] for e in grant(client, h, "face_pay").json()["history"]] == ["grant", "withdraw", "grant"]


def test_repeated_grant_changes_nothing(user):
    client, _, h = user
    grant(client, h, "face_pay")
    assert len(grant(client, h, "face_pay").json()["history"]) == 1


def test_outdated_notice_unknown_purpose_and_bad_channel(user):
    client, _, h = user
    r = client.post("/v1/me/consents/face_pay", json={"notice_version": "2020-01-01"}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "notice_outdated"
    assert r.json()["error"]["current_version"] == NOTICES["face_pay"].version
    r = client.post("/v1/me/consents/marketing", json={"notice_version": "x"}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "purpose_unknown"
    r = grant(client, h, "face_pay", channel="carrier-pigeon")
    assert r.status_code == 422 and r.json()["error"]["code"] == "channel_invalid"


def _set_birth_date(app, born: dt.date) -> None:
    # Real-name authentication sets the birth date from the ID number; it is set directly here.
    with app.state.sessions() as s:
        account = s.query(Account).one()
        account.birth_date = born
        s.commit()


def years_ago(n: int) -> dt.date:
    today = dt.date.today()
    try:
        return today.replace(year=today.year - n)
    except ValueError:  # 29 February
        return today.replace(year=today.year - n, day=28)


def _id_number(born: dt.date) -> str:
    first17 = "110105" + born.strftime("%Y%m%d") + "002"
    return first17 + idnumber.checksum_char(first17)


def test_under_14_needs_an_adult_guardian(user):
    client, app, h = user
    _set_birth_date(app, years_ago(10))
    r = grant(client, h, "kyc_face_verification")
    assert r.status_code == 422 and r.json()["error"]["code"] == "guardian_consent_required"
    minor = {"name": "李雷", "relation": "brother", "id_number": _id_number(years_ago(16))}
    r = grant(client, h, "kyc_face_verification", guardian=minor)
    assert r.status_code == 422 and r.json()["error"]["code"] == "guardian_not_adult"
    bad = {**minor, "id_number": "110105198001010021"}
    assert grant(client, h, "kyc_face_verification", guardian=bad).json()["error"]["code"] == "id_number_invalid"
    parent = {"name": "韩梅梅", "relation": "mother", "id_number": _id_number(dt.date(1985, 3, 2))}
    r = grant(client, h, "kyc_face_verification", guardian=parent)
    assert r.status_code == 201 and r.json()["history"][0]["with_guardian"] is True
    assert parent["id_number"] not in r.text


def test_fourteen_year_old_consents_alone(user):
    client, app, h = user
    _set_birth_date(app, years_ago(14) - dt.timedelta(days=1))
    assert grant(client, h, "face_pay").status_code == 201


def test_only_the_user_may_consent(app_ctx, user):
    client, _, _ = user
    _, _, h = app_ctx
    for who in ("a", "op"):
        r = client.post("/v1/me/consents/face_pay", json={"notice_version": "x"}, headers=h[who])
        assert r.status_code in (401, 403)


def test_a_guardian_is_checked_even_before_the_age_is_known(user):
    """Issue 19, item 2: with no real-name authentication yet (age unknown), a guardian given with a
    consent was not checked at all. Now a guardian is always an adult, and never the holder."""
    from facetrust.identity.service import secret_hash

    client, app, h = user
    child = {"name": "小明", "relation": "self", "id_number": _id_number(years_ago(11))}
    r = grant(client, h, "kyc_face_verification", guardian=child)
    assert r.status_code == 422 and r.json()["error"]["code"] == "guardian_not_adult"
    adult = {"name": "韩梅梅", "relation": "self", "id_number": _id_number(dt.date(1985, 3, 2))}
    with app.state.sessions() as s:  # real-name authentication bound the account to this ID number
        s.query(Account).one().real_name_id_hash = secret_hash(adult["id_number"])
        s.commit()
    r = grant(client, h, "kyc_face_verification", guardian=adult)
    assert r.status_code == 422 and r.json()["error"]["code"] == "guardian_is_account_holder"
    assert client.get("/v1/me/consents", headers=h).json()["history"] == []
