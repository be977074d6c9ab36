"""The face-pay gallery: one index per platform (tenant), loaded from the database at start (an engine
that keeps its index across processes, Milvus, checks it and repairs the difference) and
kept current on opt-in and revoke, searched with exact re-ranking against the sealed templates.

The database is the authority on who is enrolled: the final candidates of every search are re-scored
with their stored templates, and a candidate whose template is gone (revoked by another process, or
an index that missed an update) is dropped and forgotten by the index. So a revoke is effective the
moment its transaction commits, whatever state an index is in.

An enrolment reaches this process's index after its commit (the message bus). Several service
processes over one database also learn each other's: with ``sync_seconds`` set
(``FACETRUST_GALLERY_SYNC_SECONDS``), a search first reads the face-pay templates stored since the
last look (at most every ``sync_seconds``; 0: before every search), an indexed query of the
templates' creation times. It looks back ``SYNC_LOOKBACK`` before the newest it has seen, since a
template created earlier may commit later; ids it already holds are skipped.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facetrust.biometrics.templates import Template, similarity
from facetrust.clock import as_utc
from facetrust.gallery.decision import Candidate
from facetrust.gallery.index import GalleryIndex
from facetrust.identity.models import Account
from facetrust.security import template_store
from facetrust.security.envelope import Keyring
from facetrust.security.models import StoredTemplate

PURPOSE = "face_pay"
SYNC_LOOKBACK = dt.timedelta(seconds=60)  # longer than a transaction that stores a template stays open


class Gallery:
    def __init__(
        self,
        make_index: Callable[[str], GalleryIndex],
        sync_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_index = make_index
        self._indexes: dict[str, GalleryIndex] = {}
        self._lock = threading.Lock()
        self._sync_seconds, self._clock = sync_seconds, clock
        self._sync_lock = threading.Lock()
        self._last_sync = -float("inf")
        self._newest: dt.datetime | None = None  # the newest template creation time seen
        self._seen: dict[str, dt.datetime] = {}  # template ids held, created within the look-back

    def _index(self, tenant_id: str) -> GalleryIndex:
        with self._lock:
            if tenant_id not in self._indexes:
                self._indexes[tenant_id] = self._make_index(tenant_id)
            return self._indexes[tenant_id]

    def rebuild(self, session: Session, keyring: Keyring) -> int:
        """Load every face-pay template from the database into the indexes."""
        with self._sync_lock:  # what is stored from here on is for the next sync
            self._newest = session.execute(
                select(func.max(StoredTemplate.created_at)).where(StoredTemplate.purpose == PURPOSE)
            ).scalar()
        enrolled = template_store.read_all(session, keyring, PURPOSE, "gallery_rebuild", "system:gallery")
        tenant_of = (
            dict(
                session.execute(
                    select(Account.id, Account.tenant_id).where(Account.id.in_([a for a, _ in enrolled]))
                ).all()
            )
            if enrolled
            else {}
        )
        by_tenant: dict[str, list[tuple[str, Template]]] = defaultdict(list)
        for account_id, template in enrolled:
            by_tenant[tenant_of[account_id]].append((account_id, template))
        # A tenant whose last template went while the service was down still has a kept index to
        # empty (an engine that keeps its collection, Milvus, repairs rather than refills).
        for tenant_id in session.execute(select(Account.tenant_id).distinct()).scalars():
            by_tenant.setdefault(tenant_id, [])
        for tenant_id, items in by_tenant.items():
            vectors = np.stack([t.vector for _, t in items]) if items else np.zeros((0, 0), np.float32)
            self._index(tenant_id).build([a for a, _ in items], vectors)
        return len(enrolled)

    def add(self, tenant_id: str, account_id: str, template: Template, template_id: str | None = None) -> None:
        self._index(tenant_id).add(account_id, template.vector)
        if template_id is not None:
            with self._sync_lock:
                self._seen[template_id] = dt.datetime.now(dt.UTC)

    def sync(self, session: Session, keyring: Keyring) -> int:
        """Add the face-pay templates other processes stored since the last look; how many."""
        with self._sync_lock:
            self._last_sync = self._clock()
            query = (
                select(StoredTemplate.id, StoredTemplate.account_id, StoredTemplate.created_at, Account.tenant_id)
                .join(Account, Account.id == StoredTemplate.account_id)
                .where(StoredTemplate.purpose == PURPOSE, StoredTemplate.retain_until.is_(None))
            )
            if self._newest is not None:
                query = query.where(StoredTemplate.created_at > as_utc(self._newest) - SYNC_LOOKBACK)
            rows = session.execute(query).all()
            new = [r for r in rows if r.id not in self._seen]
            if new:
                stored = template_store.read_many(
                    session, keyring, sorted({r.account_id for r in new}), PURPOSE, "gallery_sync", "system:gallery"
                )
                for r in new:
                    if r.account_id in stored:
                        self._index(r.tenant_id).add(r.account_id, stored[r.account_id].vector)
            for r in rows:
                self._seen[r.id] = as_utc(r.created_at)
                self._newest = max(as_utc(r.created_at), as_utc(self._newest)) if self._newest else as_utc(r.created_at)
            if self._newest is not None:
                horizon = as_utc(self._newest) - SYNC_LOOKBACK
                self._seen = {k: v for k, v in self._seen.items() if v > horizon}
            return len(new)

    def remove(self, tenant_id: str, account_id: str) -> None:
        self._index(tenant_id).remove(account_id)

    def size(self, tenant_id: str) -> int:
        return len(self._index(tenant_id))

    def search(
        self,
        session: Session,
        keyring: Keyring,
        tenant_id: str,
        probe: Template,
        k: int,
        reason: str,
        actor: str,
        exclude: Callable[[list[str]], set[str]] | None = None,
    ) -> list[Candidate]:
        """The best ``k`` enrolled people of this platform, best first, scored exactly against
        their stored templates. ``exclude`` names the index's candidates to leave out before any
        template is read (face pay: the people who paused it, issue 24)."""
        if self._sync_seconds is not None and self._clock() - self._last_sync >= self._sync_seconds:
            self.sync(session, keyring)
        index = self._index(tenant_id)
        keys = [key for key, _ in index.search(probe.vector, k)]
        if exclude is not None and keys:
            left_out = exclude(keys)
            keys = [key for key in keys if key not in left_out]
        stored = template_store.read_many(session, keyring, keys, PURPOSE, reason, actor)
        for gone in set(keys) - stored.keys():
            index.remove(gone)
        ranked = [Candidate(key, similarity(probe, stored[key])) for key in keys if key in stored]
        return sorted(ranked, key=lambda c: c.score, reverse=True)
