"""Real-name authentication, by the method the person chooses: a live face compared with the
identity authority's photo, or bank-card four-element verification completed with the one-time code
the bank texts to the card's reserved mobile. Face is never the only way.

An account is bound to one identity: the first passed authentication sets the ID number (its hash)
the account belongs to, and every later authentication must name the same ID number. Naming another
is refused (409 ``real_name_identity_bound``), audited, and opens a case: changing a person's
identity is for an operator to review, who may release the binding (audited, with a reason).

The face compared with the authority's photo is the one proven live: the template of the most
frontal frame of a passed liveness session for ``real_name``, spent by this call. Every attempt that
reaches a decision is stored with its reasons and versions (method, model id, calibration id, the
liveness session) whether it passed or failed; a mismatch counts towards the face-attempt lockout.
Attempts refused earlier (bad input, unknown identity, unusable photo) leave no authentication
record; but the identity authority is asked only after the pass is spent, and a question it cannot
answer with a usable photo counts as a failed attempt too, so it is no free name/ID oracle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from facetrust.biometrics.engine import FaceEngine
from facetrust.biometrics.quality import Reason
from facetrust.clock import as_utc, utcnow
from facetrust.consent import service as consent
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError, RecordedRefusal
from facetrust.identity import idnumber
from facetrust.identity.adapters import BankVerifier, IdentityAuthority, validate_card
from facetrust.identity.models import BANK_CODE_MAX_ATTEMPTS, Account, BankCardChallenge, RealNameAuthentication
from facetrust.identity.service import mask_name, secret_hash
from facetrust.liveness import service as liveness
from facetrust.risk import cases, events
from facetrust.risk import engine as risk
from facetrust.risk.events import EventIn
from facetrust.security import audit, lockout, template_store
from facetrust.security.envelope import Keyring, Sealed
from facetrust.store.db import rowcount
from facetrust.webhooks import outbox


@dataclass
class KycContext:
    engine: FaceEngine
    keyring: Keyring
    authority: IdentityAuthority | None
    bank: BankVerifier | None
    bank_code_valid_for: dt.timedelta = dt.timedelta(minutes=5)
    bank_code_requests_per_day: int = 5


def _reference_face(engine: FaceEngine, image: bytes):
    """The authority's photo, analysed. An archive photo is often small or soft, so only a missing or
    ambiguous face refuses it; the quality reasons are the authority's, not the person's, to fix."""
    analysis = engine.analyse(image)
    reasons = analysis.quality.reasons
    if Reason.NO_FACE in reasons:
        raise DomainError(ErrorCode.REFERENCE_NO_FACE, "no face was found in the reference photo")
    if Reason.MULTIPLE_FACES in reasons:
        raise DomainError(ErrorCode.REFERENCE_MULTIPLE_FACES, "the reference photo shows more than one face")
    return analysis


def _identity_aad(record: RealNameAuthentication) -> bytes:
    return f"real_name:{record.id}".encode()


def latest_passed(session: Session, account_id: str) -> RealNameAuthentication | None:
    """The account's most recent passed real-name authentication: the identity it proved."""
    return session.execute(
        select(RealNameAuthentication)
        .where(RealNameAuthentication.account_id == account_id, RealNameAuthentication.outcome == "passed")
        .order_by(RealNameAuthentication.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def proven_identity(keyring: Keyring, record: RealNameAuthentication) -> dict:
    """The sealed name and ID number of a record."""
    return json.loads(
        keyring.open(
            Sealed(record.identity_sealed, record.identity_wrapped_key, record.master_key_id), _identity_aad(record)
        )
    )


def _check_account(account: Account) -> None:
    if account.status != "active":
        raise DomainError(ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {account.status}")


def _check_binding(session: Session, account: Account, id_hash: str) -> str:
    """``id_hash`` (of an ID number), if the account may authenticate as it: the account is not yet
    bound, or bound to this same ID number. Another ID number is refused before any outside
    institution is asked; the refusal is audited and opens a case (kept: a ``RecordedRefusal``)."""
    if account.real_name_id_hash is None or account.real_name_id_hash == id_hash:
        return id_hash
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="real_name.identity_change_refused",
        subject=f"account:{account.id}",
        purpose="kyc",
        details={},
    )
    cases.open_case(
        session,
        account.id,
        None,
        None,
        ["identity_change"],
        note="a real-name authentication named another ID number than the one this account is bound to",
    )
    raise RecordedRefusal(
        ErrorCode.REAL_NAME_IDENTITY_BOUND,
        "this account's real name is already verified for another person; changing it needs a "
        "review by customer service",
    )


def _bind(session: Session, account: Account, id_hash: str) -> None:
    """Bind the account to the identity it has just proven, as a compare-and-set on the account
    row: of two authentications of different people racing on one unbound account, one wins and
    the other is refused (and rolled back)."""
    bound = rowcount(
        session.execute(
            update(Account)
            .where(
                Account.id == account.id, or_(Account.real_name_id_hash.is_(None), Account.real_name_id_hash == id_hash)
            )
            .values(real_name_id_hash=id_hash),
            execution_options={"synchronize_session": False},
        )
    )
    if bound != 1:
        raise DomainError(
            ErrorCode.REAL_NAME_IDENTITY_BOUND,
            "this account's real name is already verified for another person; changing it needs a "
            "review by customer service",
        )
    account.real_name_id_hash = id_hash


def release_binding(session: Session, account: Account, operator: str, reason: str) -> None:
    """An operator's reviewed decision that the account may prove another identity: the binding is
    cleared (the records of the old one stay as evidence), audited with the reason."""
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(ErrorCode.REASON_REQUIRED, "say why this account may change identity (5 characters or more)")
    if account.real_name_id_hash is None:
        raise DomainError(ErrorCode.REAL_NAME_NOT_BOUND, "the account is not bound to an identity")
    account.real_name_id_hash = None
    audit.append(
        session,
        actor=operator,
        action="real_name.binding_released",
        subject=f"account:{account.id}",
        purpose="compliance",
        details={"reason": reason},
    )


def _record(
    session: Session,
    ctx: KycContext,
    account: Account,
    method: str,
    name: str,
    id_number: str,
    passed: bool,
    reasons: list[str],
    source: str,
    evidence: bytes,
    **versions,
) -> RealNameAuthentication:
    record = RealNameAuthentication(
        account_id=account.id,
        method=method,
        outcome="passed" if passed else "failed",
        reasons=json.dumps(reasons),
        id_number_hash=secret_hash(id_number),
        identity_sealed=b"",
        identity_wrapped_key=b"",
        master_key_id="",
        source=source,
        liveness="passed" if method == "face" else "not_applicable",
        evidence_sha256=hashlib.sha256(evidence).hexdigest(),
        **versions,
    )
    session.add(record)
    session.flush()
    sealed = ctx.keyring.seal(
        json.dumps({"name": name, "id_number": id_number}, ensure_ascii=False).encode(), _identity_aad(record)
    )
    record.identity_sealed, record.identity_wrapped_key = sealed.ciphertext, sealed.wrapped_key
    record.master_key_id = sealed.master_key_id
    if passed:
        _bind(session, account, record.id_number_hash)
        account.birth_date = idnumber.birth_date(id_number)
        account.real_name_verified_at = utcnow()
    events.emit(session, EventIn("real_name", account_id=account.id, outcome=record.outcome, data={"method": method}))
    audit.append(
        session,
        actor=f"account:{account.id}",
        action=f"real_name.{method}",
        subject=f"account:{account.id}",
        purpose="kyc",
        details={"authentication_id": record.id, "outcome": record.outcome, "reasons": reasons},
    )
    if passed:
        outbox.enqueue(
            session,
            account.tenant_id,
            outbox.REAL_NAME_COMPLETED,
            {
                **outbox.account_ref(account),
                "authentication_id": record.id,
                "method": method,
                "status": "passed",
                "name_masked": mask_name(name),
            },
        )
    return record


def _ask_authority(
    session: Session,
    ctx: KycContext,
    live: liveness.LivenessContext,
    account: Account,
    device_id: str | None,
    name: str,
    id_number: str,
    now: dt.datetime,
):
    """The authority's photo for the name and ID number, analysed. Every question that does not end
    in a usable photo counts as a failed attempt of the account and the device (the face-attempt
    lockout), and the spent pass is kept (``RecordedRefusal``). An unknown ID number and a name
    that does not match it are answered alike, so the registry cannot be used to look people up."""
    try:
        lockout.check(session, None, device_id, now)
    except DomainError as exc:
        raise RecordedRefusal(exc.code, exc.message, status=exc.status, **exc.extra) from None
    try:
        reference = ctx.authority.reference_photo(name, id_number)  # type: ignore[union-attr]
        return reference, _reference_face(ctx.engine, reference.image)
    except DomainError as exc:
        if exc.status >= 500:  # the authority is down: nothing was learnt, nothing is kept (rolled back)
            raise
        lockout.record_failure(session, live.lockout, "identity_check", account.id, device_id, now)
        risk.face_attempt(session, "face_verification", account.id, device_id, False, "real_name")
        audit.append(
            session,
            actor=f"account:{account.id}",
            action="real_name.identity_check_failed",
            subject=f"account:{account.id}",
            purpose="kyc",
            details={},
        )
        if exc.code in (ErrorCode.IDENTITY_UNKNOWN, ErrorCode.IDENTITY_NAME_MISMATCH):
            raise RecordedRefusal(
                ErrorCode.IDENTITY_MISMATCH, "the identity authority could not confirm this name and ID number together"
            ) from None
        raise RecordedRefusal(exc.code, exc.message, status=exc.status, **exc.extra) from None


def authenticate_face(
    session: Session,
    ctx: KycContext,
    live: liveness.LivenessContext,
    account: Account,
    name: str,
    id_number: str,
    liveness_session_id: str | None,
) -> RealNameAuthentication:
    _check_account(account)
    id_number = idnumber.validate(id_number)
    id_hash = _check_binding(session, account, secret_hash(id_number))
    # The age is known only now, from the ID number: a child's face needs a guardian's consent, with
    # an adult guardian who is not the child, whatever was accepted when the age was unknown.
    if consent.is_child(idnumber.birth_date(id_number)):
        if not consent.granted_for_child(session, account.id, "kyc_face_verification", id_hash):
            raise DomainError(
                ErrorCode.GUARDIAN_CONSENT_REQUIRED,
                "the ID number shows the holder is under 14: consent again together with an adult parent or guardian",
                status=403,
            )
    elif not consent.is_granted(session, account.id, "kyc_face_verification"):
        raise DomainError(
            ErrorCode.CONSENT_REQUIRED, "face real-name authentication needs the kyc_face_verification consent"
        )
    if ctx.authority is None:
        raise DomainError(
            ErrorCode.AUTHORITY_UNAVAILABLE, "the identity authority is not configured; use bank-card verification"
        )
    now = utcnow()
    lockout.check(session, account.id, None, now)
    # The registry is asked only for the holder of a fresh pass, which the question spends: a
    # made-up session learns nothing about which names and ID numbers exist.
    proof, live_face = liveness.spend_pass(
        session, live, account.id, liveness_session_id, "real_name", "real_name.face"
    )
    reference, ref = _ask_authority(session, ctx, live, account, proof.device_id, name, id_number, now)
    decision = ctx.engine.compare(live_face, ref.template, "kyc")
    risk.face_attempt(session, "face_verification", account.id, proof.device_id, decision.match, "real_name")
    reasons = [] if decision.match else ["face_mismatch"]
    evidence = live_face.to_bytes() + ref.template.to_bytes() + json.dumps(decision.as_dict()).encode()
    record = _record(
        session,
        ctx,
        account,
        "face",
        name,
        id_number,
        decision.match,
        reasons,
        reference.source,
        evidence,
        model_id=decision.model_id,
        calibration_id=decision.calibration_id,
        score=decision.score,
        threshold=decision.threshold,
        liveness_session_id=proof.id,
    )
    if decision.match:
        # The verified live face: later face checks (credit, face-pay enrolment) compare with it.
        template_store.store(session, ctx.keyring, account.id, "kyc", live_face, f"account:{account.id}")
    else:
        lockout.record_failure(session, live.lockout, "face_verification", account.id, proof.device_id, now)
    return record


def _challenge_aad(challenge: BankCardChallenge) -> bytes:
    return f"bank_card_challenge:{challenge.id}:{challenge.account_id}".encode()


def _check_code_requests(session: Session, ctx: KycContext, account_id: str, card_hash: str) -> None:
    """At most ``bank_code_requests_per_day`` codes in 24 hours for the account and for the card:
    five tries at a six-digit code each, so guessing one stays hopeless however many accounts try."""
    since = utcnow() - dt.timedelta(days=1)
    for column, value in ((BankCardChallenge.account_id, account_id), (BankCardChallenge.card_hash, card_hash)):
        sent = session.execute(
            select(func.count())
            .select_from(BankCardChallenge)
            .where(column == value, BankCardChallenge.created_at >= since)
        ).scalar_one()
        if sent >= ctx.bank_code_requests_per_day:
            raise DomainError(
                ErrorCode.BANK_CODE_REQUESTS_EXHAUSTED,
                "too many bank-card verifications today; try again tomorrow or use face verification",
            )


def start_bank_card(
    session: Session, ctx: KycContext, account: Account, name: str, id_number: str, card_number: str, mobile: str
) -> BankCardChallenge:
    """The first step of bank-card authentication: the bank checks the four elements and texts a
    one-time code to the card's reserved mobile. Nothing is decided yet; knowing someone's four
    elements is not enough without their phone."""
    _check_account(account)
    id_number = idnumber.validate(id_number)
    card_number = validate_card(card_number)
    if ctx.bank is None:
        raise DomainError(ErrorCode.BANK_UNAVAILABLE, "bank verification is not configured; use face verification")
    id_hash = _check_binding(session, account, secret_hash(id_number))
    card_hash = secret_hash(card_number)
    _check_code_requests(session, ctx, account.id, card_hash)
    sent = ctx.bank.send_code(name, id_number, card_number, mobile)
    challenge = BankCardChallenge(
        account_id=account.id,
        id_number_hash=id_hash,
        card_hash=card_hash,
        identity_sealed=b"",
        identity_wrapped_key=b"",
        master_key_id="",
        bank_reference=sent.reference,
        source=sent.source,
        attempts=0,
        status="pending",
        expires_at=utcnow() + ctx.bank_code_valid_for,
    )
    session.add(challenge)
    session.flush()
    sealed = ctx.keyring.seal(
        json.dumps({"name": name, "id_number": id_number}, ensure_ascii=False).encode(), _challenge_aad(challenge)
    )
    challenge.identity_sealed, challenge.identity_wrapped_key = sealed.ciphertext, sealed.wrapped_key
    challenge.master_key_id = sealed.master_key_id
    audit.append(
        session,
        actor=f"account:{account.id}",
        action="real_name.bank_card.code_sent",
        subject=f"account:{account.id}",
        purpose="kyc",
        details={"challenge_id": challenge.id},
    )
    return challenge


def _wrong_code(session: Session, challenge: BankCardChallenge) -> RecordedRefusal:
    """Count a wrong code (compare-and-set, so concurrent guesses each count); the last allowed one
    closes the challenge."""
    attempts = challenge.attempts + 1
    status = "failed" if attempts >= BANK_CODE_MAX_ATTEMPTS else "pending"
    counted = rowcount(
        session.execute(
            update(BankCardChallenge)
            .where(
                BankCardChallenge.id == challenge.id,
                BankCardChallenge.attempts == challenge.attempts,
                BankCardChallenge.status == "pending",
            )
            .values(attempts=attempts, status=status),
            execution_options={"synchronize_session": False},
        )
    )
    if counted != 1 or status == "failed":
        session.execute(
            update(BankCardChallenge)
            .where(BankCardChallenge.id == challenge.id)
            .values(status="failed", identity_sealed=None, identity_wrapped_key=None, master_key_id=None),
            execution_options={"synchronize_session": False},
        )
        audit.append(
            session,
            actor=f"account:{challenge.account_id}",
            action="real_name.bank_card.code_exhausted",
            subject=f"account:{challenge.account_id}",
            purpose="kyc",
            details={"challenge_id": challenge.id},
        )
        return RecordedRefusal(
            ErrorCode.BANK_CODE_ATTEMPTS_EXHAUSTED,
            "too many wrong codes; start the bank-card verification again for a new code",
        )
    return RecordedRefusal(
        ErrorCode.BANK_CODE_WRONG,
        "the code is not the one the bank sent",
        attempts_left=BANK_CODE_MAX_ATTEMPTS - attempts,
    )


def confirm_bank_card(
    session: Session, ctx: KycContext, account: Account, challenge_id: str, code: str
) -> RealNameAuthentication:
    """The second step: the code the bank texted to the card's reserved mobile completes the
    authentication. A wrong code is counted (at most five, then the challenge is closed); an old
    or closed challenge is refused."""
    _check_account(account)
    challenge = session.get(BankCardChallenge, challenge_id)
    if challenge is None or challenge.account_id != account.id:
        raise DomainError(ErrorCode.BANK_CHALLENGE_NOT_FOUND, "no such bank-card verification for this account")
    if challenge.status != "pending":
        raise DomainError(ErrorCode.BANK_CHALLENGE_CLOSED, "this bank-card verification is finished; start a new one")
    if utcnow() > as_utc(challenge.expires_at):
        raise DomainError(ErrorCode.BANK_CODE_EXPIRED, "the code has expired; start the bank-card verification again")
    if ctx.bank is None:
        raise DomainError(ErrorCode.BANK_UNAVAILABLE, "bank verification is not configured; use face verification")
    if not ctx.bank.check_code(challenge.bank_reference, code):
        raise _wrong_code(session, challenge)
    _check_binding(session, account, challenge.id_number_hash)  # bound meanwhile by another method?
    closed = rowcount(
        session.execute(
            update(BankCardChallenge)
            .where(BankCardChallenge.id == challenge.id, BankCardChallenge.status == "pending")
            .values(status="passed"),
            execution_options={"synchronize_session": False},
        )
    )
    if closed != 1:
        raise DomainError(ErrorCode.BANK_CHALLENGE_CLOSED, "this bank-card verification is finished; start a new one")
    identity = json.loads(
        ctx.keyring.open(
            Sealed(challenge.identity_sealed, challenge.identity_wrapped_key, challenge.master_key_id),
            _challenge_aad(challenge),
        )
    )
    session.execute(
        update(BankCardChallenge)
        .where(BankCardChallenge.id == challenge.id)
        .values(identity_sealed=None, identity_wrapped_key=None, master_key_id=None),
        execution_options={"synchronize_session": False},
    )
    evidence = json.dumps([challenge.source, challenge.card_hash, challenge.id_number_hash, challenge.id]).encode()
    return _record(
        session,
        ctx,
        account,
        "bank_card",
        identity["name"],
        identity["id_number"],
        True,
        [],
        challenge.source,
        evidence,
    )


def history(session: Session, account_id: str) -> list[RealNameAuthentication]:
    return list(
        session.execute(
            select(RealNameAuthentication)
            .where(RealNameAuthentication.account_id == account_id)
            .order_by(RealNameAuthentication.created_at)
        ).scalars()
    )
