"""Several service processes over one database: each one's face-pay gallery learns the templates
the others stored (``FACETRUST_GALLERY_SYNC_SECONDS``), and a revoke anywhere is effective at once
(the re-check against the stored templates). Here two apps over one database play the processes."""

from __future__ import annotations

import datetime as dt

import numpy as np
from conftest import running_app, shared_face_engine
from fastapi.testclient import TestClient
from sqlalchemy import update

from facetrust.api.app import create_app
from facetrust.biometrics.templates import Template
from facetrust.consent import service as consent
from facetrust.consent.notices import NOTICES
from facetrust.gallery.service import SYNC_LOOKBACK
from facetrust.identity import service
from facetrust.identity.models import Account, Tenant
from facetrust.security import template_store
from facetrust.security.models import AuditRecord, StoredTemplate
from facetrust.settings import Settings


def a_template(seed: int) -> Template:
    vector = np.random.default_rng(seed).normal(size=128)
    return Template("sface-2021dec/align-mesh5", vector / np.linalg.norm(vector))


def enrol(app, tenant_id: str, uid: str, seed: int) -> str:
    """A face-pay template stored through ``app`` (as its enrolment would), committed."""
    with app.state.sessions() as s:
        account = service.register_account(s, s.get(Tenant, tenant_id), uid, "13800000001")
        consent.grant(s, account, "face_pay", NOTICES["face_pay"].version, "app")
        template_store.store(s, app.state.keyring, account.id, "face_pay", a_template(seed), "test")
        s.commit()
        return account.id


def found(app, tenant_id: str, seed: int) -> list[str]:
    with app.state.sessions() as s:
        return [
            c.key
            for c in app.state.gallery.search(s, app.state.keyring, tenant_id, a_template(seed), 3, "test", "test")
            if c.score > 0.99
        ]


def test_an_enrolment_in_one_process_is_found_by_the_other_and_a_revoke_is_effective_in_both(tmp_path, database_url):
    with running_app(tmp_path, database_url, gallery_sync_seconds=0) as (_, app_a, _):
        settings = app_a.state.settings
        with app_a.state.sessions() as s:
            tenant_id = s.query(Tenant).filter_by(name="shop-a").one().id
        b = create_app(
            Settings(
                data_dir=tmp_path, database_url=database_url, models_dir=settings.models_dir, gallery_sync_seconds=0
            ),
            shared_face_engine(),
        )
        lone = create_app(
            Settings(data_dir=tmp_path, database_url=database_url, models_dir=settings.models_dir), shared_face_engine()
        )
        with TestClient(b), TestClient(lone):  # started: galleries rebuilt from the (empty) database
            first = enrol(app_a, tenant_id, "u-1", 1)
            assert found(app_a, tenant_id, 1) == [first]  # its own, after the commit
            assert found(b, tenant_id, 1) == [first]  # the other process's, at its next search
            assert found(lone, tenant_id, 1) == []  # a process that does not look (one-process mode)
            with b.state.sessions() as s:
                reads = s.query(AuditRecord).filter_by(action="template.read", actor="system:gallery").count()
            assert found(b, tenant_id, 1) == [first]
            with b.state.sessions() as s:  # known templates are not read again
                assert s.query(AuditRecord).filter_by(action="template.read", actor="system:gallery").count() == reads

            # Revoked through A: B no longer finds them, at once.
            with app_a.state.sessions() as s:
                consent.withdraw(s, s.get(Account, first), "face_pay", "app")
                s.commit()
            assert found(b, tenant_id, 1) == []

            # A template created earlier than the newest B has seen, but committed later (a slow
            # transaction): still found, within the look-back.
            enrol(app_a, tenant_id, "u-2", 2)
            assert found(b, tenant_id, 2)
            late = enrol(app_a, tenant_id, "u-3", 3)
            with app_a.state.sessions() as s:
                s.execute(
                    update(StoredTemplate)
                    .where(StoredTemplate.account_id == late)
                    .values(created_at=dt.datetime.now(dt.UTC) - SYNC_LOOKBACK / 2)
                )
                s.commit()
            assert found(b, tenant_id, 3) == [late]
