"""What must follow a commit follows it, whoever made the change: the face-pay gallery learns of a
template stored or deleted by a job or a command (a session of the app's own, no route involved),
and of nothing that was rolled back."""

from __future__ import annotations

import numpy as np

from facetrust.biometrics.templates import Template
from facetrust.consent import service as consent
from facetrust.consent.notices import NOTICES
from facetrust.identity import service
from facetrust.identity.models import Tenant
from facetrust.security import template_store


def a_template(seed: int) -> Template:
    vector = np.random.default_rng(seed).normal(size=128)
    return Template("sface-2021dec/align-mesh5", vector / np.linalg.norm(vector))


def test_the_gallery_follows_committed_template_changes_and_ignores_rolled_back_ones(app_ctx):
    _, app, _ = app_ctx
    gallery, keyring = app.state.gallery, app.state.keyring
    with app.state.sessions() as s:
        tenant = s.query(Tenant).filter_by(name="shop-a").one()
        account = service.register_account(s, tenant, "u-1", "13800000001")
        consent.grant(s, account, "face_pay", NOTICES["face_pay"].version, "app")
        s.commit()
        tenant_id, account_id = tenant.id, account.id
    assert gallery.size(tenant_id) == 0

    # A template stored and rolled back: the gallery never sees it.
    with app.state.sessions() as s:
        template_store.store(s, keyring, account_id, "face_pay", a_template(1), "job")
        s.rollback()
    assert gallery.size(tenant_id) == 0

    # Stored and committed (a job, no route): the gallery has it. A kyc template is not its business.
    with app.state.sessions() as s:
        template_store.store(s, keyring, account_id, "kyc", a_template(2), "job")
        template_store.store(s, keyring, account_id, "face_pay", a_template(3), "job")
        assert gallery.size(tenant_id) == 0  # not before the commit
        s.commit()
    assert gallery.size(tenant_id) == 1

    # The consent withdrawn by a command (the service, its own session): out of the gallery on commit.
    with app.state.sessions() as s:
        consent.withdraw(s, s.get(type(account), account_id), "face_pay", "cli")
        assert gallery.size(tenant_id) == 1
        s.commit()
    assert gallery.size(tenant_id) == 0


def test_a_failing_handler_does_not_undo_the_commit_nor_stop_the_others(app_ctx, caplog):
    from facetrust.messagebus import MessageBus, record

    _, app, _ = app_ctx
    seen = []
    bus = MessageBus()
    bus.on(str, lambda e: 1 / 0)
    bus.on(str, seen.append)
    sessions = app.state.sessions.__class__(bind=app.state.engine)  # a factory of its own
    bus.install(sessions)
    with sessions() as s:
        record(s, "happened")
        s.commit()
    assert seen == ["happened"]
    assert any(
        r.message == "event handler failed" and getattr(r, "error", "") == "ZeroDivisionError" for r in caplog.records
    )
