"""The face-pay gallery: one index per platform (tenant), rebuilt from the database at start and
kept current on opt-in and revoke, searched with exact re-ranking against the sealed templates.

The database is the authority on who is enrolled: the final candidates of every search are re-scored
with their stored templates, and a candidate whose template is gone (revoked by another process, or
an index that missed an update) is dropped and forgotten by the index. So a revoke is effective the
moment its transaction commits, whatever state an index is in.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from facetrust.biometrics.templates import Template, similarity
from facetrust.gallery.decision import Candidate
from facetrust.gallery.index import GalleryIndex
from facetrust.identity.models import Account
from facetrust.security import template_store
from facetrust.security.envelope import Keyring

PURPOSE = "face_pay"


class Gallery:
    def __init__(self, make_index: Callable[[str], GalleryIndex]) -> None:
        self._make_index = make_index
        self._indexes: dict[str, GalleryIndex] = {}
        self._lock = threading.Lock()

    def _index(self, tenant_id: str) -> GalleryIndex:
        with self._lock:
            if tenant_id not in self._indexes:
                self._indexes[tenant_id] = self._make_index(tenant_id)
            return self._indexes[tenant_id]

    def rebuild(self, session: Session, keyring: Keyring) -> int:
        """Load every face-pay template from the database into the indexes."""
        enrolled = template_store.read_all(session, keyring, PURPOSE, "gallery_rebuild", "system:gallery")
        tenant_of = dict(session.execute(select(Account.id, Account.tenant_id)
                                         .where(Account.id.in_([a for a, _ in enrolled]))).all()) if enrolled else {}
        by_tenant: dict[str, list[tuple[str, Template]]] = defaultdict(list)
        for account_id, template in enrolled:
            by_tenant[tenant_of[account_id]].append((account_id, template))
        for tenant_id, items in by_tenant.items():
            self._index(tenant_id).build([a for a, _ in items], np.stack([t.vector for _, t in items]))
        return len(enrolled)

    def add(self, tenant_id: str, account_id: str, template: Template) -> None:
        self._index(tenant_id).add(account_id, template.vector)

    def remove(self, tenant_id: str, account_id: str) -> None:
        self._index(tenant_id).remove(account_id)

    def size(self, tenant_id: str) -> int:
        return len(self._index(tenant_id))

    def search(self, session: Session, keyring: Keyring, tenant_id: str, probe: Template, k: int,
               reason: str, actor: str) -> list[Candidate]:
        """The best ``k`` enrolled people of this platform, best first, scored exactly against
        their stored templates."""
        index = self._index(tenant_id)
        keys = [key for key, _ in index.search(probe.vector, k)]
        stored = template_store.read_many(session, keyring, keys, PURPOSE, reason, actor)
        for gone in set(keys) - stored.keys():
            index.remove(gone)
        ranked = [Candidate(key, similarity(probe, stored[key])) for key in keys if key in stored]
        return sorted(ranked, key=lambda c: c.score, reverse=True)
