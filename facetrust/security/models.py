"""Tables owned by the security package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from facetrust.store.db import Base


class AuditRecord(Base):
    """One entry of the append-only, hash-chained audit log.

    ``seq`` numbers the chain without gaps; ``prev_hash`` is the previous record's ``hash``, and
    ``hash`` covers every other field, so an edited, removed or reordered record breaks the chain.
    """

    __tablename__ = "audit_log"
    # The console browses the log newest first by (time, seq): security/audit.browse.
    __table_args__ = (Index("ix_audit_log_at_seq", "at", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)
    purpose: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON; never face data
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class StoredTemplate(Base):
    """A face template, sealed: AES-256-GCM under its own data key, wrapped by a master key. The
    purpose and model id are in the clear (they decide who may read it and what it compares with);
    the vector never is."""

    __tablename__ = "face_templates"
    __table_args__ = (Index("ix_face_templates_purpose_created", "purpose", "created_at"),)  # the gallery's sync

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # kyc | face_pay
    model_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Set when the account closes, on the real-name (kyc) template only: it is then evidence under
    # the anti-money-laundering period, read by compliance alone, and purged after this moment.
    retain_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RawImage(Base):
    """A captured image, kept only when the deployment turns FACETRUST_STORE_RAW_IMAGES on:
    sealed like a template, and deleted by the purge once ``retain_until`` passes."""

    __tablename__ = "raw_images"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    retain_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class FailedFaceAttempt(Base):
    """A failed liveness or face-verification attempt, counted for the lockout."""

    __tablename__ = "failed_face_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    device_id: Mapped[str | None] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # liveness | face_verification | identity_check
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class Lockout(Base):
    """Face attempts refused for an account or a device until ``until``."""

    __tablename__ = "lockouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(160), index=True)  # account:<id> | device:<id>
    until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RateLimitHit(Base):
    """One request counted against one rate-limit subject (its digest), for the database store that
    several service processes share (``security/ratelimit.py::DatabaseWindows``). Rows older than a
    window are deleted as the store goes."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32))
    at: Mapped[float] = mapped_column(Float)  # epoch seconds: every process reads the same wall clock
