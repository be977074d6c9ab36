"""Which Milvus a test runs against: Milvus Lite in a file under the test's folder (always there),
or a real Milvus standalone server when FACETRUST_TEST_MILVUS_URI names one (``scripts/milvus.sh
start DIR`` prints it; scripts/test.sh starts one for the run).

Without the URI the server tests skip with a reason, unless FACETRUST_REQUIRE_DATA is set (CI sets
it), in which case they fail: a silently skipped suite proves nothing (the pattern of conftest.py's
shared face data). A server outlives the tests, so each test uses collections of its own names.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from conftest import absent

KINDS = ["lite", "server"]


def server_uri() -> str:
    uri = os.environ.get("FACETRUST_TEST_MILVUS_URI")
    if not uri:
        absent("no Milvus server: set FACETRUST_TEST_MILVUS_URI (scripts/milvus.sh start DIR prints it)")
    return uri


def milvus_uri(kind: str, tmp_path: Path, name: str = "gallery") -> str:
    """A Milvus Lite file under ``tmp_path`` (kind "lite"), or the test server (kind "server")."""
    return str(tmp_path / f"{name}.db") if kind == "lite" else server_uri()


def unique_collection(prefix: str = "test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def drop_collection(uri: str, collection: str) -> None:
    """Remove a test's collection from a server (a Lite file goes with its folder)."""
    if uri.endswith(".db"):
        return
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri)
    try:
        if client.has_collection(collection):
            client.drop_collection(collection)
    finally:
        client.close()
