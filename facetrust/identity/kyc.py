"""Real-name authentication, by the method the person chooses: a live face compared with the
identity authority's photo, or bank-card four-element verification. Face is never the only way.

Every attempt that reaches a decision is stored with its reasons and versions (method, model id,
calibration id, liveness status) whether it passed or failed. Attempts refused earlier (bad input,
unknown identity, unusable photo) leave no row.
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
from facetrust.security import audit, template_store
from facetrust.security.envelope import Keyring

LIVENESS_NOT_PERFORMED = "not_performed"


@dataclass
class KycContext:
    engine: FaceEngine
    keyring: Keyring
    authority: IdentityAuthority | None
    bank: BankVerifier | None
    raw_image_retention_days: int | None = None  # None: raw images are not kept


def _usable_face(engine: FaceEngine, image: bytes, which: str, strict: bool):
    """The analysis of one image, with distinct codes for the failures a person can fix."""
    analysis = engine.analyse(image)
    reasons = analysis.quality.reasons
    if Reason.NO_FACE in reasons:
        raise DomainError(422, f"{which}_no_face", f"no face was found in the {which} photo")
    if Reason.MULTIPLE_FACES in reasons:
        raise DomainError(422, f"{which}_multiple_faces", f"the {which} photo shows more than one face")
    if strict and reasons:
        raise DomainError(422, "face_not_usable", analysis.quality.message(), reasons=reasons)
    return analysis


def _check_account(account: Account) -> None:
    if account.status != "active":
        raise DomainError(403, "account_not_active", f"the account is {account.status}")


def _record(session: Session, ctx: KycContext, account: Account, method: str, name: str, id_number: str,
            passed: bool, reasons: list[str], source: str, evidence: bytes, **versions) -> RealNameAuthentication:
    record = RealNameAuthentication(
        account_id=account.id, method=method, outcome="passed" if passed else "failed",
        reasons=json.dumps(reasons), id_number_hash=secret_hash(id_number),
        identity_sealed=b"", identity_wrapped_key=b"", master_key_id="",
        source=source, liveness=LIVENESS_NOT_PERFORMED if method == "face" else "not_applicable",
        evidence_sha256=hashlib.sha256(evidence).hexdigest(), **versions,
    )
    session.add(record)
    session.flush()
    sealed = ctx.keyring.seal(json.dumps({"name": name, "id_number": id_number}, ensure_ascii=False).encode(),
                              f"real_name:{record.id}".encode())
    record.identity_sealed, record.identity_wrapped_key = sealed.ciphertext, sealed.wrapped_key
    record.master_key_id = sealed.master_key_id
    if passed:
        account.birth_date = idnumber.birth_date(id_number)
        account.real_name_verified_at = utcnow()
    audit.append(session, actor=f"account:{account.id}", action=f"real_name.{method}", subject=f"account:{account.id}",
                 purpose="kyc", details={"authentication_id": record.id, "outcome": record.outcome, "reasons": reasons})
    return record


def authenticate_face(session: Session, ctx: KycContext, account: Account, name: str, id_number: str,
                      selfie: bytes) -> RealNameAuthentication:
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
    reference = ctx.authority.reference_photo(name, id_number)
    live = _usable_face(ctx.engine, selfie, "selfie", strict=True)
    ref = _usable_face(ctx.engine, reference.image, "reference", strict=False)
    decision = ctx.engine.compare(live.template, ref.template, "kyc")
    reasons = [] if decision.match else ["face_mismatch"]
    evidence = live.template.to_bytes() + ref.template.to_bytes() + json.dumps(decision.as_dict()).encode()
    record = _record(session, ctx, account, "face", name, id_number, decision.match, reasons, reference.source,
                     evidence, model_id=decision.model_id, calibration_id=decision.calibration_id,
                     score=decision.score, threshold=decision.threshold)
    if ctx.raw_image_retention_days is not None:
        template_store.store_raw_image(session, ctx.keyring, account.id, "kyc", selfie, ctx.raw_image_retention_days)
    if decision.match:
        # The verified live face: later face checks (credit, face-pay enrolment) compare with it.
        template_store.store(session, ctx.keyring, account.id, "kyc", live.template, f"account:{account.id}")
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
