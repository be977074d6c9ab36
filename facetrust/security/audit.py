"""The append-only, hash-chained audit log, and its verification.

Each record's hash covers its fields and the previous record's hash (SHA-256 over canonical JSON),
so `verify` can say exactly where the chain was altered: an edited record no longer matches its own
hash, a removed one leaves a gap in the sequence, and a reordered one no longer links to its
predecessor. The chain proves integrity against edits through the database; it is not a signature,
so an attacker able to rewrite the whole tail could recompute it (anchoring the head hash outside
the database closes that, and is a later step).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, event, false, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
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


# ---------------------------------------------------------------------------------------------
# browsing the log (the console's audit page)

BROWSE_LIMIT_MAX = 200

# Keys whose values are face data or could hold it: the log is written never to hold any, and a
# page that shows it must not become the place where one leaks if a writer ever slips.
_FACE_KEYS = frozenset({"embedding", "vector", "template", "image", "photo", "frame", "frames", "face"})
# A mainland ID number (17 digits and a check character), a bank card number (12 to 19 digits) or
# a mobile number inside free text, such as an operator's typed reason; not part of a longer word
# or a hex digest. The log's writers put none there, but a reason is typed by a person.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")
_CARD_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{8,15}(\d{4})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1\d{2})\d{4}(\d{4})(?![0-9A-Za-z])")


def mask_text(value: str) -> str:
    """Masked as the console masks them elsewhere: an ID number keeps its first and last four
    (1101**********0016), a card its last four, a mobile 138****0000."""
    value = _ID_NUMBER.sub(lambda m: f"{m.group(1)}**********{m.group(2)}", value)
    value = _CARD_NUMBER.sub(lambda m: f"****{m.group(1)}", value)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", value)


def masked(value: Any) -> Any:
    """Details as an operator may see them: face data dropped, ID and card numbers masked."""
    if isinstance(value, dict):
        return {k: "[withheld]" if k.lower() in _FACE_KEYS else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


@dataclass(frozen=True)
class AuditFilter:
    kind: str | None = None  # an action, or an action's prefix: "risk.case" matches risk.case.close
    actor: str | None = None  # exact
    subject: str | None = None  # exact ("account:<id>"), or the id alone after the colon
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    next_cursor: str | None  # None: this is the last page


def _utc(at: dt.datetime) -> dt.datetime:
    """In UTC, as the column is written: SQLite compares the UTC wall time it stored (its binding
    drops the zone), PostgreSQL compares instants. A naive value is taken as UTC."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def encode_cursor(record: AuditRecord) -> str:
    raw = f"{_utc(record.at).isoformat(timespec='microseconds')}|{record.seq}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The (time, seq) after which the next page starts; ValueError for anything this service did
    not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, seq = raw.split("|")
        return _utc(dt.datetime.fromisoformat(at)), int(seq)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor this service gave") from exc


def browse(
    session: Session, where: AuditFilter, cursor: str | None, limit: int, within: ColumnElement[bool] | None = None
) -> AuditPage:
    """One page of the log, newest first, in a stable order (time, then sequence number): keyset
    paging, so a page follows from where the last one ended (no record twice, none skipped, even
    while new records are appended at the head). DomainError ``time_range_invalid`` for a range
    that ends before it starts, ``cursor_invalid`` for a cursor this service did not give."""
    if where.since and where.until and _utc(where.since) >= _utc(where.until):
        raise DomainError(ErrorCode.TIME_RANGE_INVALID, "since must be before until")
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError:
        raise DomainError(ErrorCode.CURSOR_INVALID, "the cursor is not one this service gave") from None
    query = select(AuditRecord)
    if within is not None:  # a tenant operator's scope (facetrust/identity/scope.py, audit_clause)
        query = query.where(within)
    if where.kind:
        query = query.where(
            or_(AuditRecord.action == where.kind, AuditRecord.action.startswith(where.kind + ".", autoescape=True))
        )
    if where.actor:
        query = query.where(AuditRecord.actor == where.actor)
    if where.subject:
        query = query.where(
            or_(
                AuditRecord.subject == where.subject, AuditRecord.subject.endswith(":" + where.subject, autoescape=True)
            )
        )
    if where.since:
        query = query.where(AuditRecord.at >= _utc(where.since))
    if where.until:
        query = query.where(AuditRecord.at < _utc(where.until))
    if after:
        at, seq = after
        query = query.where(or_(AuditRecord.at < at, and_(AuditRecord.at == at, AuditRecord.seq < seq)))
    rows = list(
        session.execute(query.order_by(AuditRecord.at.desc(), AuditRecord.seq.desc()).limit(limit + 1)).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, encode_cursor(rows[-1]) if more else None)
