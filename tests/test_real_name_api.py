"""Real-name authentication over HTTP, both methods. The live face is a passed liveness capture cut
from a shared face clip; the authority simulator holds another frame of that person, or an LFW face."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest
from capture import clip_frames, passed_session
from conftest import running_app

from facetrust.clock import as_utc
from facetrust.consent.notices import NOTICES
from facetrust.identity import idnumber, models
from facetrust.identity.models import Account, RealNameAuthentication


def id_for(seq: str) -> str:
    first17 = "11010519800101" + seq
    return first17 + idnumber.checksum_char(first17)


ZHANG, NOFACE, CROWD = id_for("001"), id_for("002"), id_for("003")
OTHER = id_for("007")
BANK_ID = id_for("004")
ZHANG_CARD = "6222020200112233446"
WANG = {"name": "王芳", "id_number": BANK_ID, "card_number": "4111 1111 1111 1111", "mobile": "13912345678"}


def id_photo(shared_data, path) -> None:
    """The authority's photo of the clip's person: a frontal frame well away from the captures."""
    frames, _ = clip_frames(shared_data, "d3.mp4", 100, 101)
    cv2.imwrite(str(path), frames[0])


@pytest.fixture()
def kyc_app(tmp_path, database_url, lfw, shared_data):
    reg = tmp_path / "registry"
    reg.mkdir()
    id_photo(shared_data, reg / "zhang.jpg")
    (reg / "other.jpg").write_bytes((lfw / "Jiang_Zemin/Jiang_Zemin_0001.jpg").read_bytes())
    cv2.imwrite(str(reg / "blank.png"), np.full((250, 250, 3), 120, np.uint8))
    crowd = np.hstack(
        [cv2.imread(str(lfw / "Bono/Bono_0001.jpg")), cv2.imread(str(lfw / "Colin_Powell/Colin_Powell_0001.jpg"))]
    )
    cv2.imwrite(str(reg / "crowd.png"), crowd)
    (reg / "citizens.csv").write_text(
        "name,id_number,photo\n"
        f"张伟,{ZHANG},zhang.jpg\n李明,{OTHER},other.jpg\n无脸,{NOFACE},blank.png\n两人,{CROWD},crowd.png\n",
        encoding="utf-8",
    )
    (reg / "bank.csv").write_text(
        f"bank,card_number,name,id_number,mobile\nSim Bank,4111111111111111,王芳,{BANK_ID},13912345678\n"
        f"Sim Bank,{ZHANG_CARD},张伟,{ZHANG},13812345678\n",
        encoding="utf-8",
    )
    with running_app(
        tmp_path, database_url, authority_registry=reg / "citizens.csv", bank_registry=reg / "bank.csv"
    ) as (client, app, h):
        client.post("/v1/accounts", json={"platform_user_id": "u1", "mobile": "13812345678"}, headers=h["a"])
        token = client.post("/v1/accounts/u1/tokens", headers=h["a"]).json()["token"]
        yield client, app, {"Authorization": f"Bearer {token}"}, shared_data


def consent(client, h):
    r = client.post(
        "/v1/me/consents/kyc_face_verification",
        json={"notice_version": NOTICES["kyc_face_verification"].version},
        headers=h,
    )
    assert r.status_code == 201


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def face(ctx, id_number: str = ZHANG, name: str = "张伟", session_id: str | None = None):
    """Pass a liveness check for real_name (unless a session is given: each pass a capture of its own
    stretch of the clip, see capture.passed_session), then authenticate with it."""
    client, app, h, shared_data = ctx
    session_id = session_id or passed_session(client, app, h, shared_data, "real_name")
    return client.post(
        "/v1/me/real-name/face",
        headers=h,
        json={"name": name, "id_number": id_number, "liveness_session_id": session_id},
    )


def rows(app) -> list[RealNameAuthentication]:
    with app.state.sessions() as s:
        return s.query(RealNameAuthentication).all()


def test_same_person_is_accepted_and_recorded(kyc_app, lfw):
    client, app, h, _ = kyc_app
    consent(client, h)
    r = face(kyc_app)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["outcome"] == "passed" and body["liveness"] == "passed" and body["liveness_session_id"]
    assert body["model_id"] == "sface-2021dec/align-mesh5" and body["calibration_id"].startswith("cal-")
    assert "simulated" in body["source"]
    # A stable code for the page's own words (issue 22, item 10): no English text on a Chinese page.
    assert (body["source_code"], body["source_bank"]) == ("simulated_citizen_registry", None)
    assert ZHANG not in r.text and "张伟" not in r.text
    history = client.get("/v1/me/real-name", headers=h).json()
    assert [x["outcome"] for x in history] == ["passed"]
    with app.state.sessions() as s:
        account = s.query(Account).one()
        assert account.birth_date.isoformat() == "1980-01-01" and account.real_name_verified_at
        record = s.query(RealNameAuthentication).one()
        assert ZHANG.encode() not in record.identity_sealed  # the identity is stored sealed


def test_different_person_is_rejected_and_the_decision_kept(kyc_app, lfw):
    client, app, h, _ = kyc_app
    consent(client, h)
    r = face(kyc_app, OTHER, "李明")
    assert r.status_code == 422 and r.json()["error"]["code"] == "face_mismatch"
    [record] = rows(app)
    assert record.outcome == "failed" and record.score < record.threshold
    assert r.json()["error"]["authentication_id"] == record.id


@pytest.mark.parametrize(
    "id_number,name,status,code,spent",
    [
        (id_for("009"), "张伟", 422, "identity_mismatch", True),
        (ZHANG, "胡锦涛", 422, "identity_mismatch", True),
        (ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1"), "张伟", 422, "id_number_invalid", False),
        (NOFACE, "无脸", 422, "reference_no_face", True),
        (CROWD, "两人", 422, "reference_multiple_faces", True),
    ],
)
def test_identity_and_reference_errors(kyc_app, lfw, id_number, name, status, code, spent):
    from facetrust.security.models import FailedFaceAttempt

    client, app, h, _ = kyc_app
    consent(client, h)
    session_id = passed_session(client, app, h, kyc_app[3], "real_name")
    r = face(kyc_app, id_number, name, session_id)
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert rows(app) == []  # refused before a decision: no authentication record
    with app.state.sessions() as s:  # a question the registry answered costs the pass and an attempt
        assert s.query(FailedFaceAttempt).count() == (1 if spent else 0)
    r = face(kyc_app, session_id=session_id)
    assert r.status_code == (403 if spent else 201), r.text


def test_the_registry_answers_only_a_spent_pass_and_every_question_counts(kyc_app, lfw):
    """Issue 19, item 10: with a made-up liveness session id, face real-name told a wrong name
    (`identity_name_mismatch`), an unknown ID number (`identity_unknown`) and the right name
    (`liveness_required`) apart, spending nothing and counting nothing. Now the pass is checked and
    spent before the registry is asked, both mismatches get one code, and each counts against the
    account and the device."""
    from facetrust.security.models import FailedFaceAttempt

    client, app, h, shared_data = kyc_app
    consent(client, h)
    for id_number, name in ((ZHANG, "胡锦涛"), (id_for("009"), "张伟"), (ZHANG, "张伟")):
        r = face(kyc_app, id_number, name, "0" * 32)
        assert r.status_code == 403 and r.json()["error"]["code"] == "liveness_required", r.text
    with app.state.sessions() as s:
        assert s.query(FailedFaceAttempt).count() == 0
    from facetrust.liveness.models import LivenessSession

    answers = []
    for id_number, name in ((ZHANG, "胡锦涛"), (id_for("009"), "张伟")):
        session_id = passed_session(client, app, h, shared_data, "real_name")
        with app.state.sessions() as s:  # the pass was made on a known device
            s.get(LivenessSession, session_id).device_id = "phone-1"
            s.commit()
        r = face(kyc_app, id_number, name, session_id)
        answers.append((r.status_code, r.json()["error"]["code"], r.json()["error"]["message"]))
        r = face(kyc_app, session_id=session_id)  # the question spent the pass
        assert r.status_code == 403 and r.json()["error"]["code"] == "liveness_required"
    assert answers[0] == answers[1] and answers[0][:2] == (422, "identity_mismatch"), answers
    with app.state.sessions() as s:
        failures = s.query(FailedFaceAttempt).all()
        assert [f.kind for f in failures] == ["identity_check", "identity_check"]
        assert {(f.account_id, f.device_id) for f in failures} == {(s.query(Account).one().id, "phone-1")}
    assert rows(app) == []


def test_the_live_face_must_be_a_fresh_unspent_pass_for_real_name(kyc_app):
    import datetime as dt

    from facetrust.liveness.models import LivenessSession

    client, app, h, shared_data = kyc_app
    consent(client, h)
    r = client.post("/v1/me/real-name/face", headers=h, json={"name": "张伟", "id_number": ZHANG})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert face(kyc_app, session_id="0" * 32).json()["error"]["code"] == "liveness_required"
    pending = client.post("/v1/me/liveness-sessions", json={"purpose": "real_name"}, headers=h).json()["session_id"]
    assert face(kyc_app, session_id=pending).json()["error"]["code"] == "liveness_required"
    client.post("/v1/me/consents/face_pay", json={"notice_version": NOTICES["face_pay"].version}, headers=h)
    other_purpose = client.post("/v1/me/liveness-sessions", json={"purpose": "face_pay_enrolment"}, headers=h)
    r = face(kyc_app, session_id=other_purpose.json()["session_id"])
    assert r.status_code == 403 and "face_pay_enrolment" in r.json()["error"]["message"]
    stale = passed_session(client, app, h, shared_data, "real_name")
    with app.state.sessions() as s:
        s.get(LivenessSession, stale).decided_at -= dt.timedelta(minutes=6)
        s.commit()
    assert face(kyc_app, session_id=stale).json()["error"]["code"] == "liveness_required"
    fresh = passed_session(client, app, h, shared_data, "real_name")  # another stretch of the clip
    assert face(kyc_app, session_id=fresh).status_code == 201
    r = face(kyc_app, session_id=fresh)  # a pass is spent once
    assert r.status_code == 403 and r.json()["error"]["code"] == "liveness_required"
    assert len(rows(app)) == 1


def test_face_method_needs_its_own_consent(kyc_app, lfw):
    client, app, h, _ = kyc_app
    client.post("/v1/me/consents/face_pay", json={"notice_version": NOTICES["face_pay"].version}, headers=h)
    r = face(kyc_app, session_id="0" * 32)
    assert r.status_code == 403 and r.json()["error"]["code"] == "consent_required"


def bank_code(app, challenge_id: str) -> str:
    """The code the simulated bank texted to the card's reserved mobile (only a test can read it)."""
    with app.state.sessions() as s:
        reference = s.get(models.BankCardChallenge, challenge_id).bank_reference
    return app.state.kyc.bank.code_sent_for_tests(reference)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def bank_card(client, app, h, body):
    """Both steps of bank-card authentication: the four elements, then the texted code."""
    r = client.post("/v1/me/real-name/bank-card", json=body, headers=h)
    if r.status_code != 202:
        return r
    challenge = r.json()["challenge_id"]
    return client.post(
        f"/v1/me/real-name/bank-card/{challenge}/confirm", json={"code": bank_code(app, challenge)}, headers=h
    )


def test_bank_card_method(kyc_app):
    client, app, h, _ = kyc_app
    body = WANG
    for change, status, code in [
        ({"mobile": "13900000000"}, 422, "bank_elements_mismatch"),
        ({"card_number": "4111111111111112"}, 422, "card_number_invalid"),
        ({"card_number": "5500000000000004"}, 404, "bank_card_unknown"),
        ({"id_number": "110105198001010010"}, 422, "id_number_invalid"),
    ]:
        r = client.post("/v1/me/real-name/bank-card", json={**body, **change}, headers=h)
        assert r.status_code == status and r.json()["error"]["code"] == code, (change, r.text)
    assert rows(app) == []
    r = client.post("/v1/me/real-name/bank-card", json=body, headers=h)
    assert r.status_code == 202 and r.json()["status"] == "code_sent", r.text  # nothing decided yet
    assert "simulated" in r.json()["source"] and "no text message" in r.json()["source"]
    assert (r.json()["source_code"], r.json()["source_bank"]) == ("simulated_bank_registry", "Sim Bank")
    challenge = r.json()["challenge_id"]
    assert rows(app) == [] and client.get("/v1/me/real-name", headers=h).json() == []
    code = bank_code(app, challenge)
    assert code not in r.text
    r = client.post(f"/v1/me/real-name/bank-card/{challenge}/confirm", json={"code": code}, headers=h)
    assert r.status_code == 201 and r.json()["outcome"] == "passed" and r.json()["method"] == "bank_card"
    assert r.json()["liveness"] == "not_applicable"
    assert (r.json()["source_code"], r.json()["source_bank"]) == ("simulated_bank_registry", "Sim Bank")
    r = client.post(f"/v1/me/real-name/bank-card/{challenge}/confirm", json={"code": code}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "bank_challenge_closed"  # a code is used once
    assert len(rows(app)) == 1


def test_bank_card_needs_the_code_texted_to_the_cards_mobile(kyc_app):
    """Issue 19, item 1: knowing a person's name, ID number, card and mobile is not enough; the code
    the bank texts to the card's reserved mobile completes the authentication, five tries at most."""
    import datetime as dt

    client, app, h, _ = kyc_app
    start = client.post("/v1/me/real-name/bank-card", json=WANG, headers=h)
    assert start.status_code == 202, start.text
    challenge = start.json()["challenge_id"]
    code = bank_code(app, challenge)
    confirm = f"/v1/me/real-name/bank-card/{challenge}/confirm"
    r = client.post(confirm, json={"code": "12345"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    for left in (4, 3, 2, 1):
        r = client.post(confirm, json={"code": wrong(code)}, headers=h)
        assert r.status_code == 422 and r.json()["error"]["code"] == "bank_code_wrong", r.text
        assert r.json()["error"]["attempts_left"] == left
    r = client.post(confirm, json={"code": wrong(code)}, headers=h)
    assert r.status_code == 429 and r.json()["error"]["code"] == "bank_code_attempts_exhausted"
    r = client.post(confirm, json={"code": code}, headers=h)  # the right code, too late
    assert r.status_code == 409 and r.json()["error"]["code"] == "bank_challenge_closed"
    assert rows(app) == []
    with app.state.sessions() as s:
        row = s.get(models.BankCardChallenge, challenge)
        assert (row.status, row.attempts, row.identity_sealed) == ("failed", 5, None)
        assert s.query(Account).one().real_name_id_hash is None

    late = client.post("/v1/me/real-name/bank-card", json=WANG, headers=h).json()["challenge_id"]
    with app.state.sessions() as s:
        s.get(models.BankCardChallenge, late).expires_at -= dt.timedelta(minutes=6)
        s.commit()
    r = client.post(f"/v1/me/real-name/bank-card/{late}/confirm", json={"code": bank_code(app, late)}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "bank_code_expired"
    r = client.post(f"/v1/me/real-name/bank-card/{'0' * 32}/confirm", json={"code": code}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "bank_challenge_not_found"
    assert rows(app) == []
    # five codes a day per account and per card: five tries each at a six-digit code, no more
    for _ in range(3):
        assert client.post("/v1/me/real-name/bank-card", json=WANG, headers=h).status_code == 202
    r = client.post("/v1/me/real-name/bank-card", json=WANG, headers=h)
    assert r.status_code == 429 and r.json()["error"]["code"] == "bank_code_requests_exhausted"
    with app.state.sessions() as s:
        assert s.query(models.BankCardChallenge).count() == 5


def operator(app, role: str) -> dict:
    import datetime as dt

    from facetrust.identity import service

    with app.state.sessions() as s:
        token, _ = service.create_operator_token(s, f"op-{role}", role, dt.timedelta(hours=1))
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_verified_identity_cannot_be_switched(kyc_app, lfw):
    """Issue 19, item 1: an account authenticated by face as one person then passed bank-card
    authentication as another. Now the second identity is refused before the bank is asked, the
    refusal opens a case, and only a compliance officer's audited release lets the account change."""
    from facetrust.risk.models import RiskCase
    from facetrust.security.models import AuditRecord

    client, app, h, _ = kyc_app
    consent(client, h)
    assert face(kyc_app).status_code == 201  # 张伟
    account_id = client.get("/v1/me", headers=h).json()["account_id"]
    r = client.post("/v1/me/real-name/bank-card", json=WANG, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "real_name_identity_bound", r.text
    analyst, compliance = operator(app, "risk_analyst"), operator(app, "compliance_officer")
    view = client.get(f"/v1/operator/accounts/{account_id}", headers=analyst).json()
    assert view["name_masked"] == "张*" and view["real_name_method"] == "face"
    with app.state.sessions() as s:
        assert s.query(models.BankCardChallenge).count() == 0  # no code was sent
        assert [r.outcome for r in s.query(RealNameAuthentication)] == ["passed"]
        case = s.query(RiskCase).one()
        assert case.account_id == account_id and "identity_change" in case.typologies
        assert s.query(AuditRecord).filter_by(action="real_name.identity_change_refused").count() == 1
    # the same person may authenticate again, by the other method
    same = {"name": "张伟", "id_number": ZHANG, "card_number": ZHANG_CARD, "mobile": "13812345678"}
    assert bank_card(client, app, h, same).status_code == 201
    # a change of identity is an operator's reviewed decision
    reason = {"reason": "case reviewed: the ID card was replaced"}
    r = client.post(f"/v1/operator/accounts/{account_id}/real-name/release", json=reason, headers=analyst)
    assert r.status_code == 403
    assert client.post("/v1/me/real-name/bank-card", json=WANG, headers=h).status_code == 409
    r = client.post(f"/v1/operator/accounts/{account_id}/real-name/release", json=reason, headers=compliance)
    assert r.status_code == 200, r.text
    with app.state.sessions() as s:
        released = s.query(AuditRecord).filter_by(action="real_name.binding_released").one()
        assert released.actor == "operator:op-compliance_officer" and "replaced" in released.details
    assert bank_card(client, app, h, WANG).status_code == 201
    assert client.get(f"/v1/operator/accounts/{account_id}", headers=analyst).json()["name_masked"] == "王*"
    r = client.post("/v1/me/real-name/bank-card", json={**same, "card_number": ZHANG_CARD}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "real_name_identity_bound"


def test_retention_rule(kyc_app, lfw, monkeypatch):
    import datetime as dt

    from click.testing import CliRunner

    from facetrust.cli import main
    from facetrust.identity import retention
    from facetrust.security.models import StoredTemplate
    from facetrust.settings import get_settings

    client, app, h, _ = kyc_app
    consent(client, h)
    assert face(kyc_app).status_code == 201
    r = client.delete("/v1/me/real-name", headers=h)  # account open: kept until 5 years after closing
    assert r.status_code == 409 and r.json()["error"]["code"] == "retention_period_active"

    r = client.delete("/v1/me", headers=h)
    assert r.status_code == 200
    until = dt.datetime.fromisoformat(r.json()["real_name_evidence_retained_until"])
    assert 5 * 365 <= (until - dt.datetime.now(dt.UTC)).days <= 5 * 366
    with app.state.sessions() as s:
        # the face-pay purpose ends with the account; the real-name (kyc) template is evidence
        assert [t.purpose for t in s.query(StoredTemplate)] == ["kyc"]
        assert s.query(RealNameAuthentication).count() == 1  # the evidence stays
    assert client.get("/v1/me", headers=h).status_code == 401  # credentials are gone too

    monkeypatch.setenv("FACETRUST_DATABASE_URL", str(app.state.engine.url.render_as_string(hide_password=False)))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(main, ["retention", "purge"])
        assert r.exit_code == 0 and json.loads(r.output) == {"purged": 0}  # still inside the period
    finally:
        get_settings.cache_clear()
    with app.state.sessions() as s:
        assert retention.purge_expired(s, now=until + dt.timedelta(days=1)) == 2  # the record and the template
        s.commit()
        assert s.query(RealNameAuthentication).count() == 0 and s.query(StoredTemplate).count() == 0


def test_kyc_template_is_kept_for_the_aml_period_and_read_only_by_compliance(kyc_app, lfw):
    """Issue 19, item 5: the README and the consent notice say the real-name face template is kept
    for the AML period; closing the account deleted it. Now it stays sealed until the period ends,
    no flow reads it, a compliance officer reads it (digest only) for a purpose with an audit record,
    and `retention purge` deletes it when the period is over."""
    import datetime as dt

    from facetrust.identity import retention
    from facetrust.security.models import AuditRecord, StoredTemplate

    client, app, h, _ = kyc_app
    consent(client, h)
    assert face(kyc_app).status_code == 201
    account_id = client.get("/v1/me", headers=h).json()["account_id"]
    r = client.delete("/v1/me", headers=h)
    assert r.status_code == 200
    until = dt.datetime.fromisoformat(r.json()["real_name_evidence_retained_until"])
    with app.state.sessions() as s:
        [kept] = s.query(StoredTemplate).all()
        assert kept.purpose == "kyc" and kept.retain_until is not None
        assert abs((as_utc(kept.retain_until) - until).total_seconds()) < 1
    url = f"/v1/operator/accounts/{account_id}/real-name/evidence"
    body = {"purpose": "aml_investigation", "reason": "STR 2026-118: suspicious transfers"}
    for role in ("risk_analyst", "admin"):
        assert client.post(url, json=body, headers=operator(app, role)).status_code == 403
    compliance = operator(app, "compliance_officer")
    r = client.post(url, json={"purpose": "curiosity", "reason": "just looking"}, headers=compliance)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = client.post(url, json=body, headers=compliance)
    assert r.status_code == 200, r.text
    evidence = r.json()
    assert evidence["account_status"] == "closed" and [x["outcome"] for x in evidence["records"]] == ["passed"]
    [template] = evidence["templates"]
    assert template["template_id"] == kept.id and len(template["sha256"]) == 64 and template["retain_until"]
    with app.state.sessions() as s:
        read = s.query(AuditRecord).filter_by(action="template.read", actor="operator:op-compliance_officer").one()
        assert read.purpose == "kyc" and "STR 2026-118" in read.details and kept.id in read.details
        assert s.query(AuditRecord).filter_by(action="real_name.evidence_read").one().seq == evidence["audit_seq"]
        assert retention.purge_expired(s, now=until - dt.timedelta(days=1)) == 0  # still inside the period
        assert retention.purge_expired(s, now=until + dt.timedelta(days=1)) == 2
        s.commit()
        assert s.query(StoredTemplate).count() == 0
        assert s.query(AuditRecord).filter_by(action="template.purge").count() == 1
    r = client.post(url, json=body, headers=compliance)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_real_name_evidence"


def test_compliance_lookup_is_audited(kyc_app, lfw):
    import datetime as dt

    from facetrust.identity import service
    from facetrust.security.models import AuditRecord

    client, app, h, _ = kyc_app
    consent(client, h)
    assert face(kyc_app).status_code == 201
    account_id = client.get("/v1/me", headers=h).json()["account_id"]
    with app.state.sessions() as s:
        token, _ = service.create_operator_token(s, "carol", "compliance_officer", dt.timedelta(hours=1))
        s.commit()
    r = client.get(f"/v1/operator/accounts/{account_id}/real-name", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and [x["outcome"] for x in r.json()] == ["passed"]
    assert ZHANG not in r.text
    with app.state.sessions() as s:
        lookup = s.query(AuditRecord).filter_by(action="real_name.lookup").one()
        assert lookup.actor == "operator:carol" and lookup.subject == f"account:{account_id}"
    r = client.get("/v1/operator/accounts/nope/real-name", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "account_not_found"


def test_raw_images_only_when_turned_on_and_then_sealed(kyc_app):
    import datetime as dt

    from facetrust.identity import retention
    from facetrust.security.models import RawImage

    client, app, h, _ = kyc_app  # default settings: nothing kept
    consent(client, h)
    assert face(kyc_app).status_code == 201
    with app.state.sessions() as s:
        assert s.query(RawImage).count() == 0

    app.state.liveness.raw_image_retention_days = 30  # as FACETRUST_STORE_RAW_IMAGES=1 sets it
    assert face(kyc_app).status_code == 201
    with app.state.sessions() as s:
        row = s.query(RawImage).one()  # the capture's most frontal frame, sealed
        assert row.purpose == "real_name" and b"JFIF" not in row.ciphertext
        until = row.retain_until if row.retain_until.tzinfo else row.retain_until.replace(tzinfo=dt.UTC)
        assert 29 <= (until - dt.datetime.now(dt.UTC)).days <= 30
        assert retention.purge_expired(s, now=until + dt.timedelta(seconds=1)) == 1
        s.commit()
        assert s.query(RawImage).count() == 0


def test_child_face_needs_guardian_consent(tmp_path, database_url, shared_data):
    import datetime as dt

    today = dt.date.today()
    first17 = f"110105{today.year - 9}0101" + "005"
    child_id = first17 + idnumber.checksum_char(first17)
    parent17 = "11010519800101" + "006"
    reg = tmp_path / "reg"
    reg.mkdir()
    id_photo(shared_data, reg / "kid.jpg")
    (reg / "citizens.csv").write_text(f"name,id_number,photo\n小明,{child_id},kid.jpg\n", encoding="utf-8")
    with running_app(tmp_path, database_url, authority_registry=reg / "citizens.csv") as (client, app, hh):
        client.post("/v1/accounts", json={"platform_user_id": "kid", "mobile": "13812345678"}, headers=hh["a"])
        h = {"Authorization": f"Bearer {client.post('/v1/accounts/kid/tokens', headers=hh['a']).json()['token']}"}
        consent(client, h)  # consented alone: the age is not known yet
        ctx = (client, app, h, shared_data)
        session_id = passed_session(client, app, h, shared_data, "real_name")
        r = face(ctx, child_id, "小明", session_id)
        assert r.status_code == 403 and r.json()["error"]["code"] == "guardian_consent_required"
        guardian = {"name": "王女士", "relation": "mother", "id_number": parent17 + idnumber.checksum_char(parent17)}
        client.delete("/v1/me/consents/kyc_face_verification", headers=h)
        r = client.post(
            "/v1/me/consents/kyc_face_verification",
            headers=h,
            json={"notice_version": NOTICES["kyc_face_verification"].version, "guardian": guardian},
        )
        assert r.status_code == 201
        assert face(ctx, child_id, "小明", session_id).status_code == 201


def test_a_childs_guardian_is_checked_when_the_age_becomes_known(tmp_path, database_url, shared_data):
    """Issue 19, item 2: a consent given before the age was known skipped the guardian check, and an
    "11-year-old guardian" whose ID was the child's own let the child's face real-name pass. Now a
    guardian must be an adult other than the child, checked when the consent is given and again when
    real-name authentication reveals the age, whatever was accepted before."""
    import datetime as dt

    from facetrust.consent.models import ConsentEvent
    from facetrust.identity.service import secret_hash

    def born_id(years: int, seq: str) -> str:
        first17 = f"110105{dt.date.today().year - years}0101" + seq
        return first17 + idnumber.checksum_char(first17)

    child_id, eleven_id, parent_id = born_id(9, "005"), born_id(11, "007"), id_for("006")
    reg = tmp_path / "reg"
    reg.mkdir()
    id_photo(shared_data, reg / "kid.jpg")
    (reg / "citizens.csv").write_text(f"name,id_number,photo\n小明,{child_id},kid.jpg\n", encoding="utf-8")
    with running_app(tmp_path, database_url, authority_registry=reg / "citizens.csv") as (client, app, hh):
        client.post("/v1/accounts", json={"platform_user_id": "kid", "mobile": "13812345678"}, headers=hh["a"])
        h = {"Authorization": f"Bearer {client.post('/v1/accounts/kid/tokens', headers=hh['a']).json()['token']}"}
        ctx = (client, app, h, shared_data)

        def grant(purpose, guardian_id=None):
            body = {"notice_version": NOTICES[purpose].version}
            if guardian_id:
                body["guardian"] = {"name": "监护人", "relation": "mother", "id_number": guardian_id}
            return client.post(f"/v1/me/consents/{purpose}", headers=h, json=body)

        assert grant("face_pay").status_code == 201  # alone: the age is not known yet
        for guardian_id in (child_id, eleven_id):  # the child's own ID; an 11-year-old "guardian"
            r = grant("kyc_face_verification", guardian_id)
            assert r.status_code == 422 and r.json()["error"]["code"] == "guardian_not_adult", r.text
        # a grant accepted before the fix: the child's own ID as the guardian, its age never checked
        with app.state.sessions() as s:
            account_id = s.query(Account).one().id
            s.add(
                ConsentEvent(
                    account_id=account_id,
                    purpose="kyc_face_verification",
                    action="grant",
                    notice_version=NOTICES["kyc_face_verification"].version,
                    channel="app",
                    guardian_name="小明",
                    guardian_relation="self",
                    guardian_id_hash=secret_hash(child_id),
                )
            )
            s.commit()
        session_id = passed_session(client, app, h, shared_data, "real_name")
        r = face(ctx, child_id, "小明", session_id)
        assert r.status_code == 403 and r.json()["error"]["code"] == "guardian_consent_required", r.text
        assert rows(app) == []
        assert grant("kyc_face_verification", parent_id).status_code == 201
        assert face(ctx, child_id, "小明", session_id).status_code == 201
        granted = client.get("/v1/me/consents", headers=h).json()["granted"]
        # the age is known now: the face-pay consent given alone no longer counts
        assert granted == {"kyc_face_verification": True, "face_pay": False, "credit_face_verification": False}
        r = client.post("/v1/me/face-pay", headers=h, json={"liveness_session_id": "0" * 32})
        assert r.status_code == 403 and r.json()["error"]["code"] == "consent_required", r.text
