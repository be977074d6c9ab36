"""Engine and session setup for SQLite (embedded default) and PostgreSQL.

One declarative base for every domain's tables, so that Alembic sees the whole schema.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


class _UtcSQLiteDateTime(SQLITE_DATETIME):
    """SQLite keeps no time zone: a ``DateTime(timezone=True)`` column (always written in UTC) comes
    back naive, and its JSON then carries no offset, unlike PostgreSQL's. Read back, it is UTC again."""

    def result_processor(self, dialect, coltype):  # noqa: ANN001, ANN201
        parse = super().result_processor(dialect, coltype)
        if not self.timezone:
            return parse

        def aware(value):  # noqa: ANN001, ANN202
            value = parse(value) if parse is not None else value
            return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value

        return aware


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        engine.dialect.colspecs = {**engine.dialect.colspecs, sqltypes.DateTime: _UtcSQLiteDateTime}

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _transaction_before_savepoint(conn, _name) -> None:  # noqa: ANN001
            # pysqlite opens a transaction only at the first write. A SAVEPOINT before that opens
            # one of its own, which RELEASE then commits: a rollback or a crash afterwards could
            # not undo it. Open the real transaction first (IMMEDIATE: the savepoint is there to
            # write, so take the write lock now, waiting as any writer does).
            dbapi_conn = conn.connection.dbapi_connection
            if not dbapi_conn.in_transaction:
                dbapi_conn.execute("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def session_factory(engine: Engine, **info: object) -> sessionmaker[Session]:
    """Sessions over ``engine``; ``info`` travels with each session (the app puts its risk engine there)."""
    return sessionmaker(bind=engine, expire_on_commit=False, info=dict(info))


def import_models() -> None:
    """Import every module that defines tables, so Base.metadata is complete."""
    from facetrust.consent import models as _consent  # noqa: F401
    from facetrust.credit import models as _credit  # noqa: F401
    from facetrust.devices import models as _devices  # noqa: F401
    from facetrust.identity import models as _identity  # noqa: F401
    from facetrust.liveness import models as _liveness  # noqa: F401
    from facetrust.payments import models as _payments  # noqa: F401
    from facetrust.risk import models as _risk  # noqa: F401
    from facetrust.security import models as _security  # noqa: F401
    from facetrust.webhooks import models as _webhooks  # noqa: F401


def rowcount(result: Result) -> int:
    """The rows an UPDATE or DELETE changed: the guard of a conditional write (``WHERE status =
    'open'``), whose count says whether this caller won. SQLAlchemy types ``execute``'s answer as a
    plain ``Result``; for these statements it is a ``CursorResult``, which has the count."""
    return cast(CursorResult, result).rowcount
