"""A savepoint taken before a transaction's first write must still roll back with the transaction
(pysqlite would otherwise let the savepoint's release commit it, and a crash could not undo it)."""

from __future__ import annotations

from sqlalchemy import select

from facetrust.identity.models import Tenant
from facetrust.store.db import make_engine, session_factory
from facetrust.store.migrate import upgrade


def test_a_savepoint_before_the_first_write_rolls_back_with_its_transaction(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    try:
        with sessions() as s:
            s.execute(select(Tenant)).all()  # a read first, as a request does
            with s.begin_nested():
                s.add(Tenant(name="half-written", api_key_hash="0" * 64))
            with sessions() as other:  # another connection must not see it before the commit
                assert other.execute(select(Tenant).where(Tenant.name == "half-written")).first() is None
            s.rollback()
        with sessions() as s:
            assert s.execute(select(Tenant).where(Tenant.name == "half-written")).first() is None
            with s.begin_nested():
                s.add(Tenant(name="kept", api_key_hash="1" * 64))
            s.commit()
        with sessions() as s:
            assert s.execute(select(Tenant.name)).scalars().all() == ["kept"]
    finally:
        engine.dispose()
