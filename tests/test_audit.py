"""The hash-chained audit log: appends verify; edits, deletions and reorderings are found and located."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from facetrust.cli import main
from facetrust.security import audit
from facetrust.settings import get_settings
from facetrust.store.db import make_engine, session_factory
from facetrust.store.migrate import upgrade


@pytest.fixture()
def db(database_url, monkeypatch):
    url = database_url
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        for i in range(5):
            audit.append(
                s,
                actor="operator:1",
                action="template.read",
                subject=f"account:{i}",
                purpose="face_pay",
                details={"n": i},
            )
        s.commit()
    monkeypatch.setenv("FACETRUST_DATABASE_URL", url)
    get_settings.cache_clear()
    yield sessions, engine
    get_settings.cache_clear()
    engine.dispose()


def tamper(engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql))


def check(sessions) -> audit.ChainReport:
    with sessions() as s:
        return audit.verify(s)


def test_intact_chain_verifies(db):
    sessions, _ = db
    report = check(sessions)
    assert report.ok and report.records == 5
    r = CliRunner().invoke(main, ["audit", "verify", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True


def test_edited_record_is_found(db):
    sessions, engine = db
    tamper(engine, "UPDATE audit_log SET subject='account:99' WHERE seq=3")
    report = check(sessions)
    assert not report.ok and report.at_seq == 3 and "altered" in report.problem
    r = CliRunner().invoke(main, ["audit", "verify"])
    assert r.exit_code == 2 and "record 3" in r.output


def test_deleted_record_is_found(db):
    sessions, engine = db
    tamper(engine, "DELETE FROM audit_log WHERE seq=2")
    report = check(sessions)
    assert not report.ok and report.at_seq == 2 and "missing" in report.problem


def test_reordered_records_are_found(db):
    sessions, engine = db
    # Swap records 2 and 4 wholesale (their sequence numbers stay where they were).
    tamper(engine, "UPDATE audit_log SET seq=-2 WHERE seq=2")
    tamper(engine, "UPDATE audit_log SET seq=2 WHERE seq=4")
    tamper(engine, "UPDATE audit_log SET seq=4 WHERE seq=-2")
    report = check(sessions)
    assert not report.ok and report.at_seq == 2


def test_edited_details_of_the_head_record_are_found(db):
    sessions, engine = db
    tamper(engine, "UPDATE audit_log SET details='changed' WHERE seq=5")
    assert check(sessions).at_seq == 5


def test_append_rolls_back_with_its_transaction(db):
    sessions, _ = db
    with sessions() as s:
        audit.append(s, actor="x", action="y", subject="z")
        s.rollback()
    report = check(sessions)
    assert report.ok and report.records == 5
