"""The scale-out 1:N engine: a Milvus collection, through pymilvus ``MilvusClient``.

One URI serves both deployments: a local file path ending in ``.db`` runs Milvus Lite inside this
process (offline; for development, tests and the benchmark), an ``http://host:19530`` URI a Milvus
server or cluster. The collection has the account id as a VARCHAR primary key and the template as
a FLOAT_VECTOR; templates are unit vectors, so the metric is IP (inner product = cosine).

Choices, and why (measured on SFace-like templates; see docs/gallery-bench-milvus.json):

- Recall. Template probes sit far from their best match (a genuine probe at cosine 0.5-0.8, an
  impostor probe at 0.4-0.5 with near-ties for first place), where graph and cell indexes lose the
  true best. Measured with FAISS (what Milvus Lite runs per segment), recall of the exact best among
  the 50 hits, genuine / impostor probes: per 100k vectors, HNSW M=16 at ef 1024 0.98 / 0.94, IVF
  (nlist 128, nprobe 64) 0.99 / 0.92, HNSW M=32, efConstruction=200 at ef 1024 1.000 / 1.000; per
  240k vectors (Milvus Lite's segment size at 1M) that HNSW needs ef 4096 for 0.999 / 0.999 (ef 1024:
  0.994 / 0.988, and recall@1 0.995 end to end at 1M). The defaults are therefore ``HNSW`` M=32,
  efConstruction=200, ef=4096; a server with larger segments needs its own measurement
  (``facetrust bench gallery --engine milvus --milvus-uri http://... --ef N``).
- Re-ranking and exact scores. The search asks for ``candidates`` (50) hits rather than ``k``, with
  their stored float32 vectors (``output_fields``); the cosine is recomputed here and the hits
  re-ranked, so scores do not depend on how the index approximated them.
- Immediacy. Every read runs at consistency level Strong: a delete or upsert acknowledged by the
  server is visible to the next search (the default, Bounded, may serve a search from a view a
  few seconds old, which would let a revoked account be identified). Its price on a Milvus 2.3.5
  standalone server (docs/gallery-bench-milvus-server.json): about 350 ms a search, the wait for
  the server's time tick, against 50 ms at Session or Bounded (ef 4096, 200k rows).
- ``FLAT`` (exact) is a valid ``index_type`` too: no build, exact by construction.
- Kept, not rebuilt. On a server the collection outlives the service process, so :meth:`build`
  (the start-up load from the database) does not drop it: it streams the collection's ids with a
  digest of each stored vector, compares the count and an order-free checksum of (id, digest) with
  the database's, and repairs only the difference: upserts what is missing or was re-enrolled,
  deletes what the database no longer holds (:attr:`last_check` says what it found and did).
  Milvus has no server-side checksum, so the check reads about 40 bytes a row (the vectors stay
  put). A collection of an older layout (no digest field, another dimension or index type) is
  dropped and refilled once. Known window: a key re-enrolled by another process between this
  process's database read and its repair may be deleted as extra until the next start (a missed
  identification, never a false one; the database re-check stays the authority).

Milvus Lite (3.2) is a development stand-in, not a fast engine: each search does pure-Python
bookkeeping over every row (de-duplication and delete masks), about 0.9 s per query at 1M rows
whatever the index (FLAT measured 1.1 s, HNSW 0.95 s). It builds segment indexes in a background
thread and scans by brute force until then, although ``describe_index`` reports the index finished
at once; :meth:`wait_until_indexed` waits for that work (on a server it polls ``describe_index``
for pending rows).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Sequence

import numpy as np

from facetrust.gallery.index import build_input, normalised

STRONG = "Strong"
MAX_LIMIT = 16_384  # the largest top-k Milvus answers

DEFAULT_INDEX = {"index_type": "HNSW", "params": {"M": 32, "efConstruction": 200}}
DEFAULT_SEARCH = {"ef": 4096}
READ_BATCH = 10_000  # rows per page when the start-up check streams the collection's ids


def digest(vector: np.ndarray) -> str:
    """A short digest of one stored (normalised float32) vector: tells a re-enrolment apart."""
    return hashlib.blake2b(np.ascontiguousarray(vector, dtype=np.float32).tobytes(), digest_size=8).hexdigest()


def checksum(pairs: Iterable[tuple[str, str]]) -> str:
    """An order-free checksum of (id, digest) pairs: the sum of their hashes modulo 2**64."""
    total = 0
    for key, dig in pairs:
        total += int.from_bytes(hashlib.blake2b(f"{key}:{dig}".encode(), digest_size=8).digest(), "big")
    return f"{total % 2**64:016x}"


class MilvusIndex:
    name = "milvus"

    def __init__(
        self,
        uri: str,
        collection: str = "facetrust_gallery",
        dim: int = 128,
        index_type: str = DEFAULT_INDEX["index_type"],
        index_params: dict | None = None,
        search_params: dict | None = None,
        candidates: int = 50,
        token: str = "",
        insert_batch: int = 5_000,
        timeout: float | None = 60.0,
    ) -> None:
        from pymilvus import MilvusClient

        self.uri, self.collection, self.dim = uri, collection, dim
        self.index_type = index_type.upper()
        if index_params is None:
            index_params = dict(DEFAULT_INDEX["params"]) if self.index_type == "HNSW" else {}
        if search_params is None:
            search_params = dict(DEFAULT_SEARCH) if self.index_type == "HNSW" else {}
        self.index_params, self.search_params = index_params, search_params
        self.candidates, self.insert_batch, self.timeout = candidates, insert_batch, timeout
        self.client = MilvusClient(uri=uri, token=token)
        self.last_check: dict = {}
        if not self.client.has_collection(collection):
            self._create()
        else:  # kept from an earlier process: loaded for reads (a no-op when it already is)
            self.client.load_collection(collection, timeout=self.timeout)

    # ------------------------------------------------------------------------------ interface

    def build(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Make the collection hold exactly these keys and vectors: check what it holds against
        them (count and checksum) and repair the difference; a new collection is filled. Searches
        are correct at once; they are fast once the index is built (:meth:`wait_until_indexed`)."""
        t0 = time.monotonic()
        keys, vectors = build_input(keys, vectors, self.dim)
        vectors = normalised(vectors)
        wanted = {k: digest(v) for k, v in zip(keys, vectors)}
        want_sum = checksum(wanted.items())
        held = self._held() if self.client.has_collection(self.collection) and self._layout_ok() else None
        if held is None:
            if self.client.has_collection(self.collection):
                self.client.drop_collection(self.collection, timeout=self.timeout)
            self._create()
            held = {}
        held_sum = checksum(held.items())
        report: dict = {
            "database_rows": len(wanted),
            "collection_rows": len(held),
            "database_checksum": want_sum,
            "collection_checksum": held_sum,
            "matched": len(held) == len(wanted) and held_sum == want_sum,
            "inserted": 0,
            "replaced": 0,
            "deleted": 0,
        }
        if not report["matched"]:
            extra = [k for k in held if k not in wanted]
            stale = [i for i, k in enumerate(keys) if held.get(k) != wanted[k]]
            report["inserted"] = sum(1 for i in stale if keys[i] not in held)
            report["replaced"] = len(stale) - report["inserted"]
            report["deleted"] = len(extra)
            for start in range(0, len(extra), self.insert_batch):
                self.client.delete(self.collection, ids=extra[start : start + self.insert_batch], timeout=self.timeout)
            write = self.client.upsert if held else self.client.insert
            for start in range(0, len(stale), self.insert_batch):
                rows = [
                    {"id": keys[i], "vector": vectors[i], "digest": wanted[keys[i]]}
                    for i in stale[start : start + self.insert_batch]
                ]
                write(self.collection, rows, timeout=self.timeout)
            self.client.flush(self.collection, timeout=self.timeout)
        report["seconds"] = round(time.monotonic() - t0, 3)
        self.last_check = report

    def drop(self) -> None:
        """Forget the collection (the benchmark's fresh start; a service never needs it)."""
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection, timeout=self.timeout)
        self._create()

    def add(self, key: str, vector: np.ndarray) -> None:
        v = normalised(np.asarray(vector, dtype=np.float32).reshape(self.dim))
        self.client.upsert(self.collection, [{"id": str(key), "vector": v, "digest": digest(v)}], timeout=self.timeout)

    def remove(self, key: str) -> bool:
        found = self.client.get(
            self.collection, ids=[str(key)], output_fields=["id"], timeout=self.timeout, consistency_level=STRONG
        )
        if not found:
            return False
        self.client.delete(self.collection, ids=[str(key)], timeout=self.timeout)
        return True

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        q = normalised(np.asarray(vector, dtype=np.float32).reshape(self.dim))
        if k <= 0:
            return []
        hits = self.client.search(
            self.collection,
            data=[q.tolist()],
            limit=min(max(k, self.candidates), MAX_LIMIT),
            output_fields=["vector"],
            timeout=self.timeout,
            consistency_level=STRONG,
            search_params={"metric_type": "IP", "params": self.search_params},
        )[0]
        if not hits:
            return []
        keys = [str(h["id"]) for h in hits]
        stored = np.asarray([h["entity"]["vector"] for h in hits], dtype=np.float32)
        scores = stored @ q  # exact cosines from the stored vectors (unit length)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(keys[i], float(scores[i])) for i in order]

    def __len__(self) -> int:
        rows = self.client.query(
            self.collection, filter="", output_fields=["count(*)"], timeout=self.timeout, consistency_level=STRONG
        )
        return int(rows[0]["count(*)"]) if rows else 0

    # -------------------------------------------------------------------------------- details

    def _create(self) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("digest", DataType.VARCHAR, max_length=16)
        index = self.client.prepare_index_params()
        # pymilvus 3 sends build parameters as flat key-value pairs, which Milvus servers read;
        # Milvus Lite 3.2 reads only a JSON "params" entry (the older wire form, which servers
        # still accept) and silently builds with its defaults otherwise. Send both.
        index.add_index(
            field_name="vector",
            index_type=self.index_type,
            metric_type="IP",
            params={**self.index_params, "params": dict(self.index_params)} if self.index_params else {},
        )
        self.client.create_collection(
            self.collection, schema=schema, index_params=index, consistency_level=STRONG, timeout=self.timeout
        )

    def _layout_ok(self) -> bool:
        """Whether the existing collection has this engine's fields, dimension and index type."""
        info = self.client.describe_collection(self.collection, timeout=self.timeout)
        fields = {f["name"]: f for f in info.get("fields", [])}
        if set(fields) != {"id", "vector", "digest"}:
            return False
        dim = (fields["vector"].get("params") or {}).get("dim")
        if dim is not None and int(dim) != self.dim:
            return False
        index = self.client.describe_index(self.collection, "vector", timeout=self.timeout) or {}
        return str(index.get("index_type", self.index_type)).upper() == self.index_type

    def _held(self) -> dict[str, str]:
        """Every (id, digest) the collection holds, streamed page by page."""
        held: dict[str, str] = {}
        iterator = self.client.query_iterator(
            self.collection,
            batch_size=READ_BATCH,
            filter="",
            output_fields=["id", "digest"],
            timeout=self.timeout,
            consistency_level=STRONG,
        )
        try:
            while page := iterator.next():
                held.update((str(r["id"]), str(r["digest"])) for r in page)
        finally:
            iterator.close()
        return held

    def wait_until_indexed(self, timeout: float = 3600.0) -> float:
        """Block until the vector index covers every row; returns the seconds waited."""
        t0 = time.monotonic()
        lite = self._lite_collection()
        if lite is not None:
            lite._wait_for_bg(timeout=timeout)  # noqa: SLF001 (Milvus Lite has no public call for it)
            return time.monotonic() - t0
        while time.monotonic() - t0 < timeout:
            info = self.client.describe_index(self.collection, "vector", timeout=self.timeout) or {}
            if int(info.get("pending_index_rows", 0)) == 0 and info.get("state") in ("Finished", None):
                break
            time.sleep(1.0)
        return time.monotonic() - t0

    def _lite_collection(self):
        """Milvus Lite's own collection object when the URI is a local file, else None."""
        if not self.uri.endswith(".db"):
            return None
        try:
            from milvus_lite.server_manager import server_manager_instance

            entry = server_manager_instance._servers.get(os.path.abspath(self.uri))  # noqa: SLF001
            return entry[1].get_collection(self.collection) if entry else None
        except Exception:  # another Milvus Lite layout: fall back to polling describe_index
            return None

    def stats(self) -> dict:
        """Parameters, for the benchmark report."""
        return {
            "uri": self.uri,
            "collection": self.collection,
            "index_type": self.index_type,
            "index_params": self.index_params,
            "search_params": self.search_params,
            "candidates": self.candidates,
            "consistency_level": STRONG,
            "last_check": self.last_check,
        }

    def close(self) -> None:
        """Close the client; for Milvus Lite also stop its in-process server, which would otherwise
        flush into the data directory at interpreter exit (after a caller may have deleted it)."""
        self.client.close()
        if self.uri.endswith(".db"):
            try:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)
            except ImportError:
                pass
