"""Which gallery engine a deployment runs, from the settings: one index per platform (tenant)."""

from __future__ import annotations

from collections.abc import Callable

from facetrust.gallery.index import GalleryIndex
from facetrust.settings import Settings


def index_factory(settings: Settings) -> Callable[[str], GalleryIndex]:
    if settings.gallery_engine == "milvus":
        from facetrust.gallery.milvus import MilvusIndex

        uri = settings.gallery_milvus_uri or str(settings.data_dir / "gallery-milvus.db")
        return lambda tenant_id: MilvusIndex(uri=uri, collection=f"face_pay_{tenant_id}")
    from facetrust.gallery.inprocess import InProcessIndex

    return lambda tenant_id: InProcessIndex()
