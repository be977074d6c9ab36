"""Real-name authentication, by the method the person chooses: a live face compared with the
identity authority's photo, or bank-card four-element verification. Face is never the only way.

The face compared with the authority's photo is the one proven live: the template of the most
frontal frame of a passed liveness session for ``real_name``, spent by this call. Every attempt that
reaches a decision is stored with its reasons and versions (method, model id, calibration id, the
liveness session) whether it passed or failed; a mismatch counts towards the face-attempt lockout.
Attempts refused earlier (bad input, unknown identity, unusable photo) leave no row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.biometrics.engine import FaceEngine
from facetrust.biometrics.quality import Reason
from facetrust.consent import service as consent
from facetrust.errors import DomainError
from facetrust.identity import idnumber
from facetrust.identity.adapters import BankVerifier, IdentityAuthority, validate_card
from facetrust.identity.models import Account, RealNameAuthentication, utcnow
from facetrust.identity.service import secret_hash
from facetrust.liveness import service as liveness
from facetrust.risk import engine as risk
from facetrust.risk import events
from facetrust.risk.events import EventIn
from facetrust.security import audit, lockout, template_store
from facetrust.security.envelope import Keyring, Sealed


@dataclass
class KycContext:
    engine: FaceEngine
    keyring: Keyring
    authority: IdentityAuthority | None
    bank: BankVerifier | None


def _reference_face(engine: FaceEngine, image: bytes):
    """The authority's photo, analysed. An archive photo is often small or soft, so only a missing or
    ambiguous face refuses it; the quality reasons are the authority's, not the person's, to fix."""
    analysis = engine.analyse(image)
    reasons = analysis.quality.reasons
    if Reason.NO_FACE in reasons:
        raise DomainError(422, "reference_no_face", "no face was found in the reference photo")
    if Reason.MULTIPLE_FACES in reasons:
        raise DomainError(422, "reference_multiple_faces", "the reference photo shows more than one face")
    return analysis


def _identity_aad(record: RealNameAuthentication) -> bytes:
    return f"real_name:{record.id}".encode()


def latest_passed(session: Session, account_id: str) -> RealNameAuthentication | None:
    """The account's most recent passed real-name authentication: the identity it proved."""
    return session.execute(
        select(RealNameAuthentication)
        .where(RealNameAuthentication.account_id == account_id, RealNameAuthentication.outcome == "passed")
        .order_by(RealNameAuthentication.created_at.desc()).limit(1)).scalar_one_or_none()


def proven_identity(keyring: Keyring, record: RealNameAuthentication) -> dict:
    """The sealed name and ID number of a record."""
    return json.loads(keyring.open(Sealed(record.identity_sealed, record.identity_wrapped_key, record.master_key_id),
                                   _identity_aad(record)))


def _check_account(account: Account) -> None:
    if account.status != "active":
        raise DomainError(403, "account_not_active", f"the account is {account.status}")


def _record(session: Session, ctx: KycContext, account: Account, method: str, name: str, id_number: str,
            passed: bool, reasons: list[str], source: str, evidence: bytes, **versions) -> RealNameAuthentication:
    record = RealNameAuthentication(
        account_id=account.id, method=method, outcome="passed" if passed else "failed",
        reasons=json.dumps(reasons), id_number_hash=secret_hash(id_number),
        identity_sealed=b"", identity_wrapped_key=b"", master_key_id="",
        source=source, liveness="passed" if method == "face" else "not_applicable",
        evidence_sha256=hashlib.sha256(evidence).hexdigest(), **versions,
    )
    session.add(record)
    session.flush()
    sealed = ctx.keyring.seal(json.dumps({"name": name, "id_number": id_number}, ensure_ascii=False).encode(),
                              _identity_aad(record))
    record.identity_sealed, record.identity_wrapped_key = sealed.ciphertext, sealed.wrapped_key
    record.master_key_id = sealed.master_key_id
    if passed:
        account.birth_date = idnumber.birth_date(id_number)
        account.real_name_verified_at = utcnow()
    events.emit(session, EventIn("real_name", account_id=account.id, outcome=record.outcome, data={"method": method}))
    audit.append(session, actor=f"account:{account.id}", action=f"real_name.{method}", subject=f"account:{account.id}",
                 purpose="kyc", details={"authentication_id": record.id, "outcome": record.outcome, "reasons": reasons})
    return record


def authenticate_face(session: Session, ctx: KycContext, live: liveness.LivenessContext, account: Account,
                      name: str, id_number: str, liveness_session_id: str | None) -> RealNameAuthentication:
    _check_account(account)
    id_number = idnumber.validate(id_number)
    if not consent.is_granted(session, account.id, "kyc_face_verification"):
        raise DomainError(403, "consent_required", "face real-name authentication needs the kyc_face_verification consent")
    # The age is known only now, from the ID number: a child's face needs a guardian's consent.
    if (idnumber.age_on(idnumber.birth_date(id_number), dt.date.today()) < consent.GUARDIAN_AGE
            and not consent.granted_with_guardian(session, account.id, "kyc_face_verification")):
        raise DomainError(403, "guardian_consent_required",
                          "the ID number shows the holder is under 14: consent again together with a parent or guardian")
    if ctx.authority is None:
        raise DomainError(503, "authority_unavailable", "the identity authority is not configured; use bank-card verification")
    now = utcnow()
    lockout.check(session, account.id, None, now)
    reference = ctx.authority.reference_photo(name, id_number)
    ref = _reference_face(ctx.engine, reference.image)
    proof, live_face = liveness.spend_pass(session, live, account.id, liveness_session_id, "real_name", "real_name.face")
    decision = ctx.engine.compare(live_face, ref.template, "kyc")
    risk.face_attempt(session, "face_verification", account.id, proof.device_id, decision.match, "real_name")
    reasons = [] if decision.match else ["face_mismatch"]
    evidence = live_face.to_bytes() + ref.template.to_bytes() + json.dumps(decision.as_dict()).encode()
    record = _record(session, ctx, account, "face", name, id_number, decision.match, reasons, reference.source,
                     evidence, model_id=decision.model_id, calibration_id=decision.calibration_id,
                     score=decision.score, threshold=decision.threshold, liveness_session_id=proof.id)
    if decision.match:
        # The verified live face: later face checks (credit, face-pay enrolment) compare with it.
        template_store.store(session, ctx.keyring, account.id, "kyc", live_face, f"account:{account.id}")
    else:
        lockout.record_failure(session, live.lockout, "face_verification", account.id, proof.device_id, now)
    return record


def authenticate_bank_card(session: Session, ctx: KycContext, account: Account, name: str, id_number: str,
                           card_number: str, mobile: str) -> RealNameAuthentication:
    _check_account(account)
    id_number = idnumber.validate(id_number)
    card_number = validate_card(card_number)
    if ctx.bank is None:
        raise DomainError(503, "bank_unavailable", "bank verification is not configured; use face verification")
    source = ctx.bank.verify_four_elements(name, id_number, card_number, mobile)
    evidence = json.dumps([source, secret_hash(card_number), secret_hash(id_number)]).encode()
    return _record(session, ctx, account, "bank_card", name, id_number, True, [], source, evidence)


def history(session: Session, account_id: str) -> list[RealNameAuthentication]:
    return list(session.execute(
        select(RealNameAuthentication).where(RealNameAuthentication.account_id == account_id)
        .order_by(RealNameAuthentication.created_at)
    ).scalars())
