"""The append-only, hash-chained audit log, and its verification.

Each record's hash covers its fields and the previous record's hash (SHA-256 over canonical JSON),
so `verify` can say exactly where the chain was altered: an edited record no longer matches its own
hash, a removed one leaves a gap in the sequence, and a reordered one no longer links to its
predecessor. The chain proves integrity against edits through the database; it is not a signature,
so an attacker able to rewrite the whole tail could recompute it (anchoring the head hash outside
the database closes that, and is a later step).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, false, select, text, update
from sqlalchemy.orm import Session

from facetrust.security.models import AuditRecord

GENESIS = "0" * 64


def _canonical_time(at: dt.datetime) -> str:
    if at.tzinfo is None:  # SQLite returns naive datetimes; they were stored as UTC
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def record_hash(
    seq: int, at: dt.datetime, actor: str, action: str, subject: str, purpose: str | None, details: str, prev_hash: str
) -> str:
    body = json.dumps(
        [seq, _canonical_time(at), actor, action, subject, purpose, details, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


_PENDING = "audit_pending"


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add a record to the chain as the caller's transaction commits (it commits or rolls back with
    the change it audits). The record's ``seq`` and hashes are set at the commit.

    Why at the commit: extending the chain needs one lock for all writers (two transactions must
    not both extend the same head). Taken in the middle of a request, that lock would be held while
    the request goes on to lock rows, such as ledger accounts, that another request already holds
    while it waits for the chain: a deadlock. Taken as the very last step, the holder only inserts
    and commits, so it never waits for anyone."""
    canonical = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    record = AuditRecord(
        at=dt.datetime.now(dt.UTC), actor=actor, action=action, subject=subject, purpose=purpose, details=canonical
    )
    session.info.setdefault(_PENDING, []).append(record)
    return record


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    """Link the transaction's pending records to the head of the chain, under the chain's lock."""
    if session.in_nested_transaction():  # a savepoint's release: the real commit comes later
        return
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
    else:  # SQLite: a write statement (matching nothing) takes the database's write lock first,
        # so the head is read inside this transaction, after any other appender has committed.
        session.execute(update(AuditRecord).where(false()).values(seq=AuditRecord.seq))
    head = session.execute(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).scalar_one_or_none()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    for record in pending:
        seq += 1
        record.seq, record.prev_hash = seq, prev
        record.hash = prev = record_hash(
            seq, record.at, record.actor, record.action, record.subject, record.purpose, record.details, prev
        )
        session.add(record)
    session.flush()


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction) -> None:  # noqa: ANN001
    """A transaction that ends without committing (rolled back, or closed) takes its records with it."""
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    problem: str | None = None
    at_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "problem": self.problem, "at_seq": self.at_seq}


def verify(session: Session) -> ChainReport:
    """Walk the chain in sequence order and report the first break."""
    expected_seq, prev, count = 1, GENESIS, 0
    for r in session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars():
        count += 1
        if r.seq != expected_seq:
            return ChainReport(False, count, f"record {expected_seq} is missing (next is {r.seq})", expected_seq)
        if r.hash != record_hash(r.seq, r.at, r.actor, r.action, r.subject, r.purpose, r.details, r.prev_hash):
            return ChainReport(False, count, f"record {r.seq} was altered (its content does not match its hash)", r.seq)
        if r.prev_hash != prev:
            return ChainReport(
                False, count, f"record {r.seq} does not follow record {r.seq - 1} (reordered or replaced)", r.seq
            )
        expected_seq, prev = r.seq + 1, r.hash
    return ChainReport(True, count)
