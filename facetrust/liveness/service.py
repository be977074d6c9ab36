"""Liveness sessions: issue a random challenge, decide one capture, and let one flow spend a pass.

A session is bound to an account, a purpose and (when the client names one) a device. It can be
answered once, before it expires, with the nonce it was issued with; a pass can be spent once, by a
flow of the same purpose, within a few minutes. The live face of a pass is kept sealed until then,
so the flow compares the face that was actually proven live, not a separately uploaded photo.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import cv2
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facetrust import metrics
from facetrust.biometrics.engine import FaceEngine
from facetrust.biometrics.templates import Template
from facetrust.clock import as_utc, utcnow
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.liveness import decision as decision_mod
from facetrust.liveness import fingerprint
from facetrust.liveness.actions import ACTIONS
from facetrust.liveness.decision import DecisionPolicy, LivenessDecision
from facetrust.liveness.fingerprint import FrameFingerprint, ReplayPolicy
from facetrust.liveness.frames import CaptureLimits, Frame
from facetrust.liveness.models import CaptureFingerprint, FingerprintBand, LivenessSession, SeenFrame
from facetrust.liveness.texture import TextureModel
from facetrust.risk import engine as risk
from facetrust.security import audit, lockout, template_store
from facetrust.security.envelope import Keyring, Sealed
from facetrust.security.lockout import LockoutPolicy
from facetrust.settings import Settings
from facetrust.store.db import rowcount

# What each liveness purpose is for, and the consent that must be in force to process the face.
PURPOSE_CONSENT = {
    "real_name": "kyc_face_verification",
    "face_pay_enrolment": "face_pay",
    "payment": "face_pay",
    "installment": "credit_face_verification",
    "loan": "credit_face_verification",
    "device_rebind": "kyc_face_verification",  # compared with the real-name face (facetrust/devices/rebind.py)
}

# The fewest actions a capture for each purpose may ask: a still image cannot perform one. These are
# the product's floors: settings choose how many actions are asked above them, never fewer (settings
# that try are refused at start), and a capture whose challenge is below its floor is never passed,
# whatever set the challenge.
ACTION_FLOOR = {"payment": 1, "real_name": 2, "face_pay_enrolment": 2, "installment": 2, "loan": 2, "device_rebind": 2}
STEP_UP_FLOOR = 2  # a payment's step-up (over a limit, or asked by the risk engine)
# A face payment's one action is one a person does in a moment, looking at the screen.
QUICK_ACTIONS = ("blink", "open_mouth")
CHALLENGE_TOO_WEAK = "challenge_too_weak"

# Protocol failures: answered with their own 4xx code (after the failure is stored), unlike a
# decided liveness failure, which is answered 200 with the decision.
NONCE_MISMATCH = "nonce_mismatch"
FRAMES_REPLAYED = "frames_replayed"


@dataclass
class LivenessContext:
    engine: FaceEngine
    texture: TextureModel
    keyring: Keyring
    policy: DecisionPolicy
    limits: CaptureLimits
    lockout: LockoutPolicy
    session_ttl: dt.timedelta
    pass_valid_for: dt.timedelta
    action_count: tuple[int, int]  # for every purpose but an ordinary face payment
    payment_actions: int
    replay_window: dt.timedelta  # how long a passed capture's fingerprints are kept and compared
    replay: ReplayPolicy = ReplayPolicy()
    raw_image_retention_days: int | None = None  # None: no capture frame is kept

    @classmethod
    def from_settings(cls, settings: Settings, engine: FaceEngine, keyring: Keyring) -> LivenessContext:
        return cls(
            engine=engine,
            texture=TextureModel.load(instances=max(1, settings.threads)),
            keyring=keyring,
            policy=DecisionPolicy(),
            limits=capture_limits(settings),
            lockout=LockoutPolicy(
                settings.lockout_max_failures,
                dt.timedelta(seconds=settings.lockout_window_seconds),
                dt.timedelta(seconds=settings.lockout_seconds),
                settings.terminal_cooldown_after_failures,
                dt.timedelta(seconds=settings.terminal_cooldown_seconds),
                dt.timedelta(seconds=settings.terminal_cooldown_max_seconds),
            ),
            session_ttl=dt.timedelta(seconds=settings.liveness_session_seconds),
            pass_valid_for=dt.timedelta(seconds=settings.liveness_pass_valid_seconds),
            action_count=(settings.liveness_min_actions, settings.liveness_max_actions),
            payment_actions=settings.liveness_payment_actions,
            replay_window=dt.timedelta(days=settings.liveness_replay_window_days),
            raw_image_retention_days=settings.raw_image_retention_days if settings.store_raw_images else None,
        )


def capture_limits(settings: Settings) -> CaptureLimits:
    return CaptureLimits(
        settings.liveness_min_frames,
        settings.liveness_max_frames,
        settings.liveness_max_frame_pixels,
        settings.liveness_max_fps,
        settings.liveness_session_seconds * 1000,
        settings.liveness_max_video_bytes,
    )


def _face_aad(row: LivenessSession) -> bytes:
    return f"liveness_face:{row.id}:{row.account_id}:{row.purpose}".encode()


def random_actions(ctx: LivenessContext, purpose: str, step_up: bool = False) -> list[str]:
    """Distinct actions in a random order, from the operating system's randomness: a replayed
    recording has to show exactly these, in this order. An ordinary face payment asks for one quick
    action; everything else, a payment's step-up included, for min..max of all the actions. Never
    fewer than the purpose's floor, whatever the settings say."""
    rng = secrets.SystemRandom()
    if purpose == "payment" and not step_up:
        return rng.sample(QUICK_ACTIONS, max(ACTION_FLOOR["payment"], min(ctx.payment_actions, len(QUICK_ACTIONS))))
    low = max(ctx.action_count[0], STEP_UP_FLOOR if purpose == "payment" else ACTION_FLOOR[purpose])
    return rng.sample(ACTIONS, rng.randint(low, max(low, ctx.action_count[1])))


def create_session(
    session: Session,
    ctx: LivenessContext,
    account: Account,
    purpose: str,
    device_id: str | None,
    actions: list[str] | None = None,
) -> LivenessSession:
    """Issue a challenge. ``actions`` fixes it (tests and evaluation only; the API never passes it)."""
    from facetrust.consent import service as consent

    if purpose not in PURPOSE_CONSENT:
        raise DomainError(
            ErrorCode.LIVENESS_PURPOSE_UNKNOWN, f"unknown liveness purpose; one of: {', '.join(PURPOSE_CONSENT)}"
        )  # never echo input
    if account.status != "active":
        raise DomainError(ErrorCode.ACCOUNT_NOT_ACTIVE, f"the account is {account.status}")
    if lockout.is_terminal(device_id):  # a machine is only throttled; a phone claiming to be one is not
        raise DomainError(ErrorCode.DEVICE_ID_INVALID, "a device id may not begin with 'terminal:'")
    if not consent.is_granted(session, account.id, PURPOSE_CONSENT[purpose]):
        raise DomainError(
            ErrorCode.CONSENT_REQUIRED, f"a liveness check for {purpose} needs the {PURPOSE_CONSENT[purpose]} consent"
        )
    now = utcnow()
    lockout.check(session, account.id, device_id, now)
    row = LivenessSession(
        account_id=account.id,
        purpose=purpose,
        device_id=device_id,
        nonce=secrets.token_urlsafe(24),
        actions=json.dumps(actions if actions is not None else random_actions(ctx, purpose)),
        created_at=now,
        expires_at=now + ctx.session_ttl,
    )
    session.add(row)
    session.flush()
    return row


def create_payment_capture(
    session: Session, ctx: LivenessContext, device_id: str, account_id: str | None, actions: list[str]
) -> LivenessSession:
    """A capture for a face payment, issued to a terminal's capture page rather than to an account:
    the payer is not known until the face is identified (``account_id`` is set only for a step-up
    check of someone already identified). Consent is checked on the identified payer (only people
    who switched face pay on can be identified)."""
    now = utcnow()
    lockout.check(session, account_id, device_id, now, ctx.lockout)
    row = LivenessSession(
        account_id=account_id,
        purpose="payment",
        device_id=device_id,
        nonce=secrets.token_urlsafe(24),
        actions=json.dumps(actions),
        created_at=now,
        expires_at=now + ctx.session_ttl,
    )
    session.add(row)
    session.flush()
    return row


def get_own(session: Session, account_id: str, session_id: str) -> LivenessSession:
    row = session.get(LivenessSession, session_id)
    if row is None or row.account_id != account_id:  # another account's session does not exist for you
        raise DomainError(ErrorCode.LIVENESS_SESSION_NOT_FOUND, "no such liveness session")
    return row


def check_open(row: LivenessSession, now: dt.datetime) -> None:
    """Refuse a session that was already answered, or has expired, with distinct codes."""
    if row.status != "pending":
        raise DomainError(
            ErrorCode.LIVENESS_SESSION_USED, "this liveness session was already answered; start a new one"
        )
    if now > as_utc(row.expires_at):
        raise DomainError(ErrorCode.LIVENESS_SESSION_EXPIRED, "this liveness session has expired; start a new one")


def _replayed(session: Session, frames: list[Frame]) -> bool:
    hashes = [f.sha256 for f in frames]
    if len(set(hashes)) != len(hashes):
        return True  # the same picture twice in one capture is not a camera
    return session.execute(select(SeenFrame.sha256).where(SeenFrame.sha256.in_(hashes)).limit(1)).first() is not None


def _fingerprint_aad(session_id: str) -> bytes:
    return f"liveness_fingerprint:{session_id}".encode()


def replayed_content(
    session: Session, ctx: LivenessContext, prints: list[FrameFingerprint], now: dt.datetime
) -> tuple[str | None, int]:
    """The earlier passed capture, on any account and within the replay window, whose frames this
    capture shows again (noise, re-compression and resizing included), or None; and how many
    earlier captures' fingerprints were opened to find out (only those sharing a hash slice)."""
    bands = sorted({b for p in prints for b in p.bands()})
    if not bands:
        return None, 0
    candidates = (
        session.execute(
            select(CaptureFingerprint)
            .join(FingerprintBand, FingerprintBand.session_id == CaptureFingerprint.session_id)
            .where(FingerprintBand.band.in_(bands), CaptureFingerprint.created_at >= now - ctx.replay_window)
            .distinct()
        )
        .scalars()
        .all()
    )
    for opened, row in enumerate(candidates, start=1):
        old = fingerprint.unpack(
            ctx.keyring.open(Sealed(row.sealed, row.wrapped_key, row.master_key_id), _fingerprint_aad(row.session_id))
        )
        if fingerprint.is_replay(prints, old, ctx.replay):
            return row.session_id, opened
    return None, len(candidates)


def _keep_fingerprints(
    session: Session, ctx: LivenessContext, row: LivenessSession, prints: list[FrameFingerprint], now: dt.datetime
) -> None:
    sealed = ctx.keyring.seal(fingerprint.pack(prints), _fingerprint_aad(row.id))
    session.add(
        CaptureFingerprint(
            session_id=row.id,
            created_at=now,
            sealed=sealed.ciphertext,
            wrapped_key=sealed.wrapped_key,
            master_key_id=sealed.master_key_id,
        )
    )
    session.flush()
    session.add_all(FingerprintBand(band=b, session_id=row.id) for b in sorted({b for p in prints for b in p.bands()}))


def purge_fingerprints(session: Session, before: dt.datetime) -> int:
    """Delete the content fingerprints of captures passed before ``before`` (the replay window's
    start): they are kept for the replay defence only."""
    old = select(CaptureFingerprint.session_id).where(CaptureFingerprint.created_at < before)
    session.execute(
        delete(FingerprintBand).where(FingerprintBand.session_id.in_(old)),
        execution_options={"synchronize_session": False},
    )
    deleted = rowcount(
        session.execute(
            delete(CaptureFingerprint).where(CaptureFingerprint.created_at < before),
            execution_options={"synchronize_session": False},
        )
    )
    if deleted:
        audit.append(
            session,
            actor="retention",
            action="liveness_fingerprint.purge",
            subject="retention",
            details={"deleted": deleted},
        )
    return deleted


def _remember(session: Session, row: LivenessSession, frames: list[Frame], now: dt.datetime) -> bool:
    """Record the frames as seen; False if a racing capture recorded one of them first."""
    try:
        with session.begin_nested():
            session.add_all(SeenFrame(sha256=h, session_id=row.id, seen_at=now) for h in {f.sha256 for f in frames})
    except IntegrityError:
        return False
    return True


def _finish(
    session: Session,
    ctx: LivenessContext,
    row: LivenessSession,
    passed: bool,
    reasons: list[str],
    now: dt.datetime,
    result: LivenessDecision | None = None,
    frame_count: int | None = None,
    audit_details: dict | None = None,
) -> None:
    """Store the outcome, claiming the session atomically: of two submissions racing on one
    session, only the first to commit decides it."""
    values = {
        "status": "passed" if passed else "failed",
        "decided_at": now,
        "reasons": json.dumps(reasons),
        "frame_count": frame_count,
    }
    if result is not None:
        values.update(
            score=result.score,
            checks=json.dumps({k: c.as_dict() for k, c in result.checks.items()}),
            versions=json.dumps(result.versions),
        )
    claimed = rowcount(
        session.execute(
            update(LivenessSession)
            .where(LivenessSession.id == row.id, LivenessSession.status == "pending")
            .values(**values)
        )
    )
    if claimed != 1:
        raise DomainError(
            ErrorCode.LIVENESS_SESSION_USED, "this liveness session was already answered; start a new one"
        )
    metrics.LIVENESS_DECISIONS.labels(row.purpose, values["status"]).inc()
    session.refresh(row)
    if passed and result is not None and result.reference is not None:
        quality = result.reference.quality
        row.reference_quality = json.dumps({"passed": quality.passed, "reasons": list(quality.reasons)})
        sealed = ctx.keyring.seal(result.reference.template.to_bytes(), _face_aad(row))  # type: ignore[union-attr]
        row.face_sealed, row.face_wrapped_key, row.master_key_id = (
            sealed.ciphertext,
            sealed.wrapped_key,
            sealed.master_key_id,
        )
    counted = row.account_id if passed else failing_account(row)
    risk.face_attempt(session, "liveness", counted, row.device_id, passed, row.purpose)
    if not passed:
        lockout.record_failure(session, ctx.lockout, "liveness", counted, row.device_id, now)
    who = f"account:{row.account_id}" if row.account_id else f"device:{row.device_id}"
    audit.append(
        session,
        actor=who,
        action="liveness.decide",
        subject=who,
        purpose=row.purpose,
        details={
            "session_id": row.id,
            "outcome": row.status,
            "reasons": reasons,
            "live_face_sealed": row.face_sealed is not None,
            **({"score": result.score, "versions": result.versions} if result else {}),
            **(audit_details or {}),
        },
    )


def failing_account(row: LivenessSession) -> str | None:
    """Whose failure a failed capture is. In the app it is the signed-in account's own attempt. At
    a machine it is nobody's but the machine's: a payment's step-up names the payer it identified,
    but whoever stands at the machine may answer it, and until the capture passes nobody has
    proven to be anyone. Counted on the account, a stranger's wrong nonces had the risk engine stop
    the victim's own payments (issue 19)."""
    return None if row.purpose == "payment" else row.account_id


def submit(
    session: Session, ctx: LivenessContext, row: LivenessSession, nonce: str, read_frames: Callable[[], list[Frame]]
) -> LivenessSession:
    """Decide one capture for a pending session. ``read_frames`` decodes and checks the upload; it
    runs only after the session is known to be open, and a malformed upload (which it refuses with
    a 4xx) leaves the session open. Returns the decided session; a tampered nonce or replayed
    frames fail it with the reason ``nonce_mismatch`` or ``frames_replayed``."""
    now = utcnow()
    lockout.check(session, row.account_id, row.device_id, now, ctx.lockout)
    check_open(row, now)
    if not hmac.compare_digest(nonce.encode(), row.nonce.encode()):
        _finish(session, ctx, row, False, [NONCE_MISMATCH], now)
        return row
    # Decided before the frames are remembered: remembering them is this transaction's first write,
    # and on SQLite the first write takes the database's one write lock until the commit. Held
    # through the analysis, it queued every other request's writes behind a capture's CPU work.
    # A racing capture of the same frames that remembers them first still makes this one a replay.
    frames: list[Frame] = read_frames()  # outside the turn: a slow video must not hold up others
    requested = json.loads(row.actions)
    if len(requested) < ACTION_FLOOR[row.purpose]:
        _finish(session, ctx, row, False, [CHALLENGE_TOO_WEAK], now, frame_count=len(frames))
        return row
    replayed = _replayed(session, frames)
    if not replayed:
        with ctx.engine.turns.turn():  # the analysis, first come first served
            result = decision_mod.decide(ctx.engine, ctx.texture, frames, requested, ctx.policy)
    fingerprints_opened = 0  # the audit record says how many earlier captures' fingerprints were read
    if not replayed and result.passed:
        replay_of, fingerprints_opened = replayed_content(session, ctx, result.fingerprints, now)
        replayed = replay_of is not None
    opened = {"fingerprints_opened": fingerprints_opened}
    if replayed or not _remember(session, row, frames, now):
        _finish(session, ctx, row, False, [FRAMES_REPLAYED], now, frame_count=len(frames), audit_details=opened)
        return row
    _finish(session, ctx, row, result.passed, result.reasons, now, result, len(frames), audit_details=opened)
    if result.passed:
        _keep_fingerprints(session, ctx, row, result.fingerprints, now)
    if (
        result.passed
        and ctx.raw_image_retention_days is not None
        and result.reference_index is not None
        and row.account_id is not None
    ):
        ok, jpeg = cv2.imencode(".jpg", frames[result.reference_index].pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if ok:
            template_store.store_raw_image(
                session, ctx.keyring, row.account_id, row.purpose, jpeg.tobytes(), ctx.raw_image_retention_days
            )
    return row


def spend_pass(
    session: Session,
    ctx: LivenessContext,
    account_id: str | None,
    session_id: str | None,
    purpose: str,
    used_by: str,
    max_age: dt.timedelta | None = None,
) -> tuple[LivenessSession, Template]:
    """The live face of a passed session of this account and purpose, decided within the pass's
    validity (or ``max_age``, if shorter) and not yet spent; the session is marked spent and its
    sealed face deleted. Anything else is 403 ``liveness_required``."""
    if not session_id:
        raise DomainError(ErrorCode.LIVENESS_REQUIRED, f"this needs a passed liveness session for {purpose}")
    row = session.get(LivenessSession, session_id)
    now = utcnow()
    problem = None
    if row is None or row.account_id != account_id:
        problem = "no such liveness session for this account"
    elif row.purpose != purpose:
        problem = f"the liveness session was made for {row.purpose}, not {purpose}"
    elif row.status != "passed":
        problem = f"the liveness session is {row.status}, not passed"
    elif row.used_at is not None:
        problem = "the liveness session was already used"
    elif now - as_utc(row.decided_at) > min(ctx.pass_valid_for, max_age or ctx.pass_valid_for):  # type: ignore[arg-type]
        problem = "the liveness pass is too old; do a new liveness check"
    if problem:
        raise DomainError(ErrorCode.LIVENESS_REQUIRED, problem)
    spent = rowcount(
        session.execute(
            update(LivenessSession)
            .where(LivenessSession.id == row.id, LivenessSession.used_at.is_(None))
            .values(used_at=now, used_by=used_by)
        )
    )
    if spent != 1:
        raise DomainError(ErrorCode.LIVENESS_REQUIRED, "the liveness session was already used")
    session.refresh(row)
    face = Template.from_bytes(
        ctx.keyring.open(Sealed(row.face_sealed, row.face_wrapped_key, row.master_key_id), _face_aad(row))
    )
    row.face_sealed = row.face_wrapped_key = row.master_key_id = None
    who = f"account:{account_id}" if account_id else f"device:{row.device_id}"
    audit.append(
        session,
        actor=who,
        action="template.read",
        subject=who,
        purpose=purpose,
        details={"liveness_session_id": row.id, "reason": used_by},
    )
    return row, face
