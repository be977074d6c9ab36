"""Templates at rest: sealed, purpose-bound, audited on every read, readable after key rotation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from facetrust.biometrics.templates import Template
from facetrust.cli import main
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.security import template_store
from facetrust.security.envelope import Keyring, KeyUnavailable
from facetrust.security.models import AuditRecord, StoredTemplate
from facetrust.settings import get_settings
from facetrust.store.db import make_engine, session_factory
from facetrust.store.migrate import upgrade


@pytest.fixture()
def store(tmp_path, database_url, monkeypatch):
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    keyring_path = tmp_path / "keys.json"
    with sessions() as s:
        tenant, _ = service.create_tenant(s, "shop")
        account = service.register_account(s, tenant, "u1", "13812345678")
        s.commit()
    monkeypatch.setenv("FACETRUST_DATABASE_URL", database_url)
    monkeypatch.setenv("FACETRUST_KEYRING_PATH", str(keyring_path))
    get_settings.cache_clear()
    yield sessions, account.id, keyring_path
    get_settings.cache_clear()
    engine.dispose()


def a_template() -> Template:
    return Template("sface-2021dec/align-mesh5", np.random.default_rng(5).normal(size=128))


def test_sealed_at_rest_and_unreadable_without_the_key(store, tmp_path):
    sessions, account_id, path = store
    t = a_template()
    with sessions() as s:
        template_store.store(s, Keyring.load_or_create(path), account_id, "face_pay", t, "test")
        s.commit()
        row = s.execute(select(StoredTemplate)).scalar_one()
        assert t.vector.astype("<f4").tobytes()[:64] not in row.ciphertext
        with pytest.raises(KeyUnavailable):
            template_store.read(s, Keyring.load_or_create(tmp_path / "other.json"), account_id, "face_pay", "t", "x")


def test_read_needs_the_purpose_and_is_audited(store):
    sessions, account_id, path = store
    ring = Keyring.load_or_create(path)
    with sessions() as s:
        template_store.store(s, ring, account_id, "face_pay", a_template(), "test")
        s.commit()
        back = template_store.read(s, ring, account_id, "face_pay", "payment_identification", "operator:x")
        assert np.allclose(back.vector, a_template().vector)
        with pytest.raises(DomainError) as exc:
            template_store.read(s, ring, account_id, "kyc", "curiosity", "operator:x")
        assert exc.value.code == "template_not_found"
        s.commit()
        reads = s.execute(select(AuditRecord).where(AuditRecord.action == "template.read")).scalars().all()
        assert [(r.actor, r.purpose, json.loads(r.details)["reason"]) for r in reads] == [
            ("operator:x", "face_pay", "payment_identification")
        ]


def test_rotation_rewraps_and_templates_stay_readable(store):
    sessions, account_id, path = store
    ring = Keyring.load_or_create(path)
    with sessions() as s:
        template_store.store(s, ring, account_id, "kyc", a_template(), "test")
        s.commit()
    r = CliRunner().invoke(main, ["keys", "rotate"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out == {"provider": "file", "active_key": "mk-2", "rewrapped": 1}
    with sessions() as s:
        assert s.execute(select(StoredTemplate)).scalar_one().master_key_id == "mk-2"
        # The service's keyring still holds only mk-1 in memory; it picks mk-2 up from the file.
        back = template_store.read(s, ring, account_id, "kyc", "credit_confirmation", "test")
        assert np.allclose(back.vector, a_template().vector)


def test_delete_for_purpose(store):
    sessions, account_id, path = store
    ring = Keyring.load_or_create(path)
    with sessions() as s:
        template_store.store(s, ring, account_id, "kyc", a_template(), "test")
        template_store.store(s, ring, account_id, "face_pay", a_template(), "test")
        assert template_store.delete_for_purpose(s, account_id, "face_pay", "test") == 1
        s.commit()
        assert [r.purpose for r in s.execute(select(StoredTemplate)).scalars()] == ["kyc"]


def test_withdrawing_a_consent_deletes_the_templates_held_for_it(store):
    from facetrust.consent import service as consent
    from facetrust.consent.notices import NOTICES
    from facetrust.identity.models import Account

    sessions, account_id, path = store
    ring = Keyring.load_or_create(path)
    with sessions() as s:
        account = s.get(Account, account_id)
        for purpose in ("face_pay", "kyc_face_verification"):
            consent.grant(s, account, purpose, NOTICES[purpose].version, "app")
        template_store.store(s, ring, account_id, "kyc", a_template(), "test")
        template_store.store(s, ring, account_id, "face_pay", a_template(), "test")
        consent.withdraw(s, account, "kyc_face_verification", "app")
        assert {r.purpose for r in s.execute(select(StoredTemplate)).scalars()} == {"kyc", "face_pay"}
        consent.withdraw(s, account, "face_pay", "app")
        s.commit()
        # The real-name template is AML evidence and stays; the face-pay one ends with its consent.
        assert [r.purpose for r in s.execute(select(StoredTemplate)).scalars()] == ["kyc"]
