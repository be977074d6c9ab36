"""Tables owned by the liveness package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.clock import new_id, utcnow
from facetrust.store.db import Base


class LivenessSession(Base):
    """One liveness challenge: issued to an account for a purpose, answered once with a capture, and
    (when passed) spent once by the flow that needed it. The decision is stored with its per-check
    reasons and the versions of everything that made it, so it can be explained later."""

    __tablename__ = "liveness_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # None for a face-pay capture until the payer is identified (then the payer's account).
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str | None] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(64))
    actions: Mapped[str] = mapped_column(Text)  # JSON list, in the order they must be performed
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | passed | failed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    score: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[str | None] = mapped_column(Text)  # JSON list of reason codes
    checks: Mapped[str | None] = mapped_column(Text)  # JSON: per check, passed and measures
    versions: Mapped[str | None] = mapped_column(Text)  # JSON: model ids, thresholds version
    frame_count: Mapped[int | None] = mapped_column(Integer)
    # JSON: the quality gate's verdict on the compared frame (enrolment needs it passed).
    reference_quality: Mapped[str | None] = mapped_column(Text)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[str | None] = mapped_column(String(64))  # the flow that spent the pass
    # The live face (template of the most frontal frame), sealed, for the flow that spends the
    # pass to compare; deleted when the pass is spent or expires.
    face_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    face_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(32))


class SeenFrame(Base):
    """The content hash of every frame ever submitted: a frame seen before is a replay."""

    __tablename__ = "liveness_seen_frames"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("liveness_sessions.id"), index=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaptureFingerprint(Base):
    """The content fingerprints of a passed capture's frames (``fingerprint.py``), sealed: a later
    capture that shows the same moments, on any account, is a replay. Deleted after the replay
    window (``FACETRUST_LIVENESS_REPLAY_WINDOW_DAYS``)."""

    __tablename__ = "liveness_fingerprints"

    session_id: Mapped[str] = mapped_column(ForeignKey("liveness_sessions.id"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))


class FingerprintBand(Base):
    """A 16-bit slice of one frame's perceptual hash (with its slice number): the look-up key that
    finds the earlier captures worth opening. A slice of a hash of a blurred face says nothing of
    the face."""

    __tablename__ = "liveness_fingerprint_bands"

    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("liveness_fingerprints.session_id", ondelete="CASCADE"), primary_key=True, index=True
    )
