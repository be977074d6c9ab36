"""Face templates at rest: sealed on write, opened only for a named purpose, every access audited.

The associated data of each ciphertext is ``template:<id>:<account>:<purpose>``, so a sealed
template moved to another account or relabelled with another purpose no longer opens.

Storing and deleting record events (``TemplateStored``, ``TemplatesDeleted``) that the composition
root's handlers follow after commit (the face-pay gallery), whoever called.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from facetrust import messagebus
from facetrust.biometrics.templates import Template
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.identity.models import Account
from facetrust.security import audit
from facetrust.security.envelope import Keyring, Sealed
from facetrust.security.models import RawImage, StoredTemplate
from facetrust.store.db import rowcount

PURPOSES = ("kyc", "face_pay")
# The real-name template is evidence under anti-money-laundering retention: it outlives the account.
EVIDENCE_PURPOSE = "kyc"


@dataclass(frozen=True)
class TemplateStored:
    tenant_id: str
    account_id: str
    purpose: str
    template: Template
    template_id: str


@dataclass(frozen=True)
class TemplatesDeleted:
    tenant_id: str
    account_id: str
    purpose: str


def _tenant(session: Session, account_id: str) -> str:
    account = session.get(Account, account_id)
    if account is None:
        raise ValueError(f"no account {account_id!r}")
    return account.tenant_id


def _aad(row: StoredTemplate) -> bytes:
    return f"template:{row.id}:{row.account_id}:{row.purpose}".encode()


def store(
    session: Session, keyring: Keyring, account_id: str, purpose: str, template: Template, actor: str
) -> StoredTemplate:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown template purpose {purpose!r}")
    row = StoredTemplate(
        id=uuid.uuid4().hex,
        account_id=account_id,
        purpose=purpose,
        model_id=template.model_id,
        ciphertext=b"",
        wrapped_key=b"",
        master_key_id="",
        created_at=dt.datetime.now(dt.UTC),
    )
    sealed = keyring.seal(template.to_bytes(), _aad(row))
    row.ciphertext, row.wrapped_key, row.master_key_id = sealed.ciphertext, sealed.wrapped_key, sealed.master_key_id
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="template.store",
        subject=f"account:{account_id}",
        purpose=purpose,
        details={"template_id": row.id, "model_id": template.model_id},
    )
    messagebus.record(session, TemplateStored(_tenant(session, account_id), account_id, purpose, template, row.id))
    return row


def held(session: Session, account_id: str, purpose: str) -> bool:
    """Whether a template for ``purpose`` is held for use (not as retained evidence). Reads no
    template, so it is not audited: it says only that a later comparison has something to compare with."""
    return (
        session.execute(
            select(StoredTemplate.id)
            .where(
                StoredTemplate.account_id == account_id,
                StoredTemplate.purpose == purpose,
                StoredTemplate.retain_until.is_(None),
            )
            .limit(1)
        ).first()
        is not None
    )


def read(session: Session, keyring: Keyring, account_id: str, purpose: str, reason: str, actor: str) -> Template:
    """The account's template held for ``purpose``. ``reason`` says why it is read (for example
    `credit_confirmation`) and goes into the audit record with the caller."""
    row = session.execute(
        select(StoredTemplate)
        .where(
            StoredTemplate.account_id == account_id,
            StoredTemplate.purpose == purpose,
            StoredTemplate.retain_until.is_(None),
        )  # retained evidence is not for use
        .order_by(StoredTemplate.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise DomainError(ErrorCode.TEMPLATE_NOT_FOUND, f"no face template is held for {purpose}")
    template = Template.from_bytes(keyring.open(Sealed(row.ciphertext, row.wrapped_key, row.master_key_id), _aad(row)))
    audit.append(
        session,
        actor=actor,
        action="template.read",
        subject=f"account:{account_id}",
        purpose=purpose,
        details={"template_id": row.id, "reason": reason},
    )
    return template


def read_many(
    session: Session, keyring: Keyring, account_ids: list[str], purpose: str, reason: str, actor: str
) -> dict[str, Template]:
    """The templates held for ``purpose`` of several accounts (the final candidates of a search), with
    one audit record naming them all. Accounts without one are simply absent from the result."""
    if not account_ids:
        return {}
    rows = (
        session.execute(
            select(StoredTemplate)
            .where(
                StoredTemplate.account_id.in_(account_ids),
                StoredTemplate.purpose == purpose,
                StoredTemplate.retain_until.is_(None),
            )
            .order_by(StoredTemplate.created_at)
        )
        .scalars()
        .all()
    )
    latest = {row.account_id: row for row in rows}  # the newest per account wins
    found = {
        acct: Template.from_bytes(keyring.open(Sealed(r.ciphertext, r.wrapped_key, r.master_key_id), _aad(r)))
        for acct, r in latest.items()
    }
    audit.append(
        session,
        actor=actor,
        action="template.read",
        subject=f"{purpose}:search",
        purpose=purpose,
        details={"template_ids": sorted(r.id for r in latest.values()), "reason": reason},
    )
    return found


def read_all(session: Session, keyring: Keyring, purpose: str, reason: str, actor: str) -> list[tuple[str, Template]]:
    """Every template held for ``purpose`` as (account id, template), e.g. to rebuild the face-pay
    gallery at start; one audit record counts them."""
    rows = (
        session.execute(
            select(StoredTemplate)
            .where(StoredTemplate.purpose == purpose, StoredTemplate.retain_until.is_(None))
            .order_by(StoredTemplate.created_at)
        )
        .scalars()
        .all()
    )
    latest = {row.account_id: row for row in rows}
    out = [
        (acct, Template.from_bytes(keyring.open(Sealed(r.ciphertext, r.wrapped_key, r.master_key_id), _aad(r))))
        for acct, r in latest.items()
    ]
    audit.append(
        session,
        actor=actor,
        action="template.read_all",
        subject=f"{purpose}:all",
        purpose=purpose,
        details={"templates": len(out), "reason": reason},
    )
    return out


def delete_for_purpose(session: Session, account_id: str, purpose: str, actor: str) -> int:
    """Delete every template held for a purpose that has ended (for example a face-pay revoke)."""
    count = rowcount(
        session.execute(
            delete(StoredTemplate).where(StoredTemplate.account_id == account_id, StoredTemplate.purpose == purpose)
        )
    )
    audit.append(
        session,
        actor=actor,
        action="template.delete",
        subject=f"account:{account_id}",
        purpose=purpose,
        details={"deleted": count},
    )
    messagebus.record(session, TemplatesDeleted(_tenant(session, account_id), account_id, purpose))
    return count


def retain_as_evidence(session: Session, account_id: str, retain_until: dt.datetime, actor: str) -> int:
    """At account closure: keep the real-name templates as sealed evidence until ``retain_until``
    (no flow reads them any more; compliance may, see ``read_evidence``)."""
    count = rowcount(
        session.execute(
            update(StoredTemplate)
            .where(StoredTemplate.account_id == account_id, StoredTemplate.purpose == EVIDENCE_PURPOSE)
            .values(retain_until=retain_until),
            execution_options={"synchronize_session": False},
        )
    )
    audit.append(
        session,
        actor=actor,
        action="template.retain",
        subject=f"account:{account_id}",
        purpose=EVIDENCE_PURPOSE,
        details={"templates": count, "retain_until": retain_until.isoformat()},
    )
    return count


@dataclass(frozen=True)
class EvidenceTemplate:
    """What compliance learns of a retained real-name template: that it opens (AES-GCM proves it
    unaltered), what made it and the digest of its contents. The vector itself never leaves."""

    template_id: str
    model_id: str
    created_at: dt.datetime
    retain_until: dt.datetime | None
    sha256: str


def read_evidence(
    session: Session, keyring: Keyring, account_id: str, reason: str, actor: str
) -> list[EvidenceTemplate]:
    """Every real-name template of an account, opened for a compliance officer's stated reason;
    one audit record names the operator, the reason and the templates."""
    rows = (
        session.execute(
            select(StoredTemplate)
            .where(StoredTemplate.account_id == account_id, StoredTemplate.purpose == EVIDENCE_PURPOSE)
            .order_by(StoredTemplate.created_at)
        )
        .scalars()
        .all()
    )
    out = [
        EvidenceTemplate(
            r.id,
            r.model_id,
            r.created_at,
            r.retain_until,
            hashlib.sha256(keyring.open(Sealed(r.ciphertext, r.wrapped_key, r.master_key_id), _aad(r))).hexdigest(),
        )
        for r in rows
    ]
    audit.append(
        session,
        actor=actor,
        action="template.read",
        subject=f"account:{account_id}",
        purpose=EVIDENCE_PURPOSE,
        details={"template_ids": [r.id for r in rows], "reason": reason},
    )
    return out


def purge_retained(session: Session, now: dt.datetime) -> int:
    """Delete retained real-name templates whose retention period has ended."""
    return rowcount(
        session.execute(
            delete(StoredTemplate).where(StoredTemplate.retain_until.is_not(None), StoredTemplate.retain_until < now),
            execution_options={"synchronize_session": False},
        )
    )


def _sealed_columns() -> list[tuple[Any, str, str]]:
    """Every table holding sealed data: the model, its ciphertext column and its wrapped-key column."""
    from facetrust.identity.models import BankCardChallenge, RealNameAuthentication
    from facetrust.liveness.models import LivenessSession
    from facetrust.payments.models import PaymentIntent, Terminal

    return [
        (StoredTemplate, "ciphertext", "wrapped_key"),
        (RawImage, "ciphertext", "wrapped_key"),
        (RealNameAuthentication, "identity_sealed", "identity_wrapped_key"),
        (BankCardChallenge, "identity_sealed", "identity_wrapped_key"),
        (LivenessSession, "face_sealed", "face_wrapped_key"),
        (Terminal, "secret_sealed", "secret_wrapped_key"),
        (PaymentIntent, "capture_token_sealed", "capture_token_wrapped_key"),
    ]


def rewrap_all(session: Session, keyring: Keyring, batch: int = 500) -> int:
    """Re-wrap every data key not under the active master key, committing per batch, so readers
    are never blocked for long and an interrupted rotation resumes where it stopped."""
    done = 0
    for model, ct, wk in _sealed_columns():
        while True:
            rows = (
                session.execute(select(model).where(model.master_key_id != keyring.active).limit(batch)).scalars().all()
            )
            if not rows:
                break
            for row in rows:
                fresh = keyring.rewrap(Sealed(getattr(row, ct), getattr(row, wk), row.master_key_id))
                setattr(row, wk, fresh.wrapped_key)
                row.master_key_id = fresh.master_key_id
            session.commit()
            done += len(rows)
    return done


def count_by_master_key(session: Session) -> dict[str, int]:
    """How many sealed data keys each master key id wraps, over every table that holds sealed data."""
    counts: dict[str, int] = {}
    for model, _, _ in _sealed_columns():
        for key_id, n in session.execute(select(model.master_key_id, func.count()).group_by(model.master_key_id)):
            if key_id is not None:
                counts[key_id] = counts.get(key_id, 0) + n
    return dict(sorted(counts.items()))


def store_raw_image(
    session: Session, keyring: Keyring, account_id: str, purpose: str, image: bytes, retention_days: int
) -> RawImage:
    now = dt.datetime.now(dt.UTC)
    row = RawImage(
        id=uuid.uuid4().hex,
        account_id=account_id,
        purpose=purpose,
        ciphertext=b"",
        wrapped_key=b"",
        master_key_id="",
        created_at=now,
        retain_until=now + dt.timedelta(days=retention_days),
    )
    sealed = keyring.seal(image, f"raw_image:{row.id}:{account_id}:{purpose}".encode())
    row.ciphertext, row.wrapped_key, row.master_key_id = sealed.ciphertext, sealed.wrapped_key, sealed.master_key_id
    session.add(row)
    audit.append(
        session,
        actor=f"account:{account_id}",
        action="raw_image.store",
        subject=f"account:{account_id}",
        purpose=purpose,
        details={"raw_image_id": row.id, "retain_until": row.retain_until.isoformat()},
    )
    return row
