"""The clock and ids every domain uses (kernel: imports nothing of the project)."""

from __future__ import annotations

import datetime as dt
import uuid


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(at: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC."""
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def new_id() -> str:
    """A random 128-bit id, as 32 hex digits: rows and records are named by these, never by a counter
    a client could walk."""
    return uuid.uuid4().hex
