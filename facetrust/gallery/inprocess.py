"""The default 1:N engine: a compressed flat scan for a shortlist, then exact re-ranking.

Why this design (measured at 1,000,000 SFace-like templates on 2 cores; see docs/gallery-bench-*.json):

- An exact float32 scan reads 512 MB per query: 19-48 ms, memory-bound, too slow for a payment.
- Graph indexes (HNSW) recall the true best match poorly on templates: a genuine probe sits at
  cosine 0.5-0.8 from its enrolled template, far away in angle, where greedy graph walks get lost.
- A scan of every stored vector cannot miss anyone, so it is kept, over compressed codes: FAISS
  "fast scan" product quantisation with 4-bit codes (``PQ64x4fs``: 64 sub-quantisers of 2 dims, 32
  bytes a vector, 32 MB at 1M) scores all vectors with SIMD table look-ups in about 1.5 ms. Its
  scores are approximate (errors of a few hundredths of cosine), so it only picks a shortlist (by
  default 1,000 candidates), which is re-ranked with the exact float32 vectors. The true best
  match is missed only if quantisation error pushes it below a thousand others. Measured at 1M
  (``facetrust bench gallery``, 3,000 real and synthetic probes): p50 1.7 ms, p99 1.9 ms per
  search, recall@1 1.0 against exact search, 0.86 GB resident for the whole process, 3 s build.
- 8-bit scalar quantisation (no fast kernel for single queries: 30 ms) and 128 sub-quantisers
  (6 ms, no better recall) were measured and rejected.

Changes are immediate and O(1): a vector lives in one slot (row of the float32 matrix, position
in the packed codes). Re-enrolling overwrites the slot's code in place; removing moves the last
slot into the freed one and shrinks the index by one, so nothing is ever tombstoned and no removed
key can come back. FAISS exposes the packed layout through its ``CodePacker``; the fast-scan index
ORs new codes into its blocks, so a vacated position is zeroed before it is released.

Below ``quantise_above`` vectors (50,000 by default) the exact scan is already fast (about 1 ms) and
no codes are kept; the codes are trained and built the first time the gallery reaches that size.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import faiss
import numpy as np

from facetrust.gallery.index import build_input, normalised

MIN_TRAIN = 1_000  # product quantisation needs some data to learn its 16 centroids per sub-space


class _FastScanCodes:
    """4-bit product-quantisation codes of the slots 0..n-1, in FAISS's packed fast-scan layout,
    with slot-level writes. Not thread-safe: the owning index holds its lock."""

    def __init__(self, dim: int, subquantizers: int) -> None:
        self.index = faiss.IndexPQFastScan(dim, subquantizers, 4, faiss.METRIC_INNER_PRODUCT)
        self.packer = self.index.get_CodePacker()
        self.bbs = int(self.index.bbs)

    def train(self, sample: np.ndarray) -> None:
        self.index.train(np.ascontiguousarray(sample, dtype=np.float32))

    def append(self, vectors: np.ndarray) -> None:
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def _encode(self, vector: np.ndarray) -> np.ndarray:
        code = np.empty((1, self.packer.code_size), dtype=np.uint8)
        x = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        self.index.compute_codes(faiss.swig_ptr(code), 1, faiss.swig_ptr(x))
        return code[0]

    def _block(self, slot: int) -> np.ndarray:
        """The packed block holding ``slot`` (a view, re-taken each time: adds may reallocate)."""
        size = int(self.packer.block_size)
        whole = faiss.rev_swig_ptr(self.index.codes.get(), self.index.codes.size())
        start = (slot // self.bbs) * size
        return whole[start : start + size]

    def _write(self, slot: int, code: np.ndarray) -> None:
        self.packer.pack_1_c(faiss.swig_ptr(code), slot % self.bbs, faiss.swig_ptr(self._block(slot)))

    def _read(self, slot: int) -> np.ndarray:
        code = np.empty(self.packer.code_size, dtype=np.uint8)
        self.packer.unpack_1_c(faiss.swig_ptr(self._block(slot)), slot % self.bbs, faiss.swig_ptr(code))
        return code

    def overwrite(self, slot: int, vector: np.ndarray) -> None:
        self._write(slot, self._encode(vector))

    def move_last_to(self, slot: int) -> None:
        """Copy the last slot's code into ``slot`` and drop the last slot."""
        last = int(self.index.ntotal) - 1
        if slot != last:
            self._write(slot, self._read(last))
        # The fast-scan add ORs codes into place: a released position must be all zero bits.
        self._write(last, np.zeros(self.packer.code_size, dtype=np.uint8))
        self.index.ntotal = last
        self.index.ntotal2 = -(-last // self.bbs) * self.bbs

    def shortlist(self, query: np.ndarray, r: int) -> np.ndarray:
        """Slots of the ``r`` best approximate scores (fewer if the index is smaller)."""
        r = min(r, int(self.index.ntotal))
        _, ids = self.index.search(query.reshape(1, -1), r)
        ids = ids[0]
        return ids[ids >= 0]

    @property
    def nbytes(self) -> int:
        return int(self.index.codes.size())


class InProcessIndex:
    """Exact-scored 1:N search over a compressed scan; see the module docstring for why.

    ``shortlist``: candidates re-ranked exactly per search (recall against speed).
    ``subquantizers``: 4-bit sub-quantisers per vector (code bytes = subquantizers / 2).
    ``quantise_above``: below this many vectors, scan the float32 vectors exactly instead.
    ``threads``: OpenMP threads for training and bulk encoding. Searches run with one: a single
    query's fast scan does not split across threads, and concurrent request threads then do not
    oversubscribe the cores.
    """

    name = "inprocess"

    def __init__(
        self,
        dim: int = 128,
        shortlist: int = 1000,
        subquantizers: int = 64,
        quantise_above: int = 50_000,
        train_size: int = 100_000,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        if dim % 2 or dim % subquantizers:
            raise ValueError("dim must be a multiple of subquantizers")
        self.dim, self.shortlist, self.subquantizers = dim, shortlist, subquantizers
        self.quantise_above, self.train_size, self.seed = max(quantise_above, MIN_TRAIN), train_size, seed
        self.threads = threads or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._vectors = np.empty((0, dim), dtype=np.float32)  # rows 0..n-1 live; the rest spare
        self._keys: list[str] = []  # slot -> key
        self._slots: dict[str, int] = {}  # key -> slot
        self._codes: _FastScanCodes | None = None

    # ------------------------------------------------------------------------------ interface

    def __len__(self) -> int:
        return len(self._keys)

    def build(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        keys, vectors = build_input(keys, vectors, self.dim)
        n = len(keys)
        store = np.empty((n + n // 16 + 1024, self.dim), dtype=np.float32)  # headroom for enrolments
        for start in range(0, n, 65_536):  # normalise in chunks: no second full-size temporary
            stop = min(n, start + 65_536)
            store[start:stop] = normalised(vectors[start:stop])
        codes = self._quantise(store[:n]) if n >= self.quantise_above else None
        with self._lock:
            self._vectors, self._keys, self._codes = store, keys, codes
            self._slots = {k: i for i, k in enumerate(keys)}

    def add(self, key: str, vector: np.ndarray) -> None:
        v = normalised(np.asarray(vector, dtype=np.float32).reshape(self.dim))
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None:  # re-enrolment: replace in place
                self._vectors[slot] = v
                if self._codes is not None:
                    self._codes.overwrite(slot, v)
                return
            slot = len(self._keys)
            if slot == len(self._vectors):
                self._grow()
            self._vectors[slot] = v
            self._keys.append(key)
            self._slots[key] = slot
            if self._codes is not None:
                self._codes.append(v[None])
            elif len(self._keys) >= self.quantise_above:
                self._codes = self._quantise(self._vectors[: len(self._keys)])

    def remove(self, key: str) -> bool:
        with self._lock:
            slot = self._slots.pop(key, None)
            if slot is None:
                return False
            last = len(self._keys) - 1
            if slot != last:  # the last slot moves into the freed one
                moved = self._keys[last]
                self._vectors[slot] = self._vectors[last]
                self._keys[slot] = moved
                self._slots[moved] = slot
            self._keys.pop()
            if self._codes is not None:
                self._codes.move_last_to(slot)
            return True

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        q = normalised(np.asarray(vector, dtype=np.float32).reshape(self.dim))
        if k <= 0:
            return []
        with self._lock:
            n = len(self._keys)
            if n == 0:
                return []
            if self._codes is None:
                slots = np.arange(n)
                scores = self._vectors[:n] @ q
            else:
                slots = self._codes.shortlist(q, max(self.shortlist, k))
                scores = self._vectors[slots] @ q  # exact cosines of the shortlist
            top = _top(scores, k)
            return [(self._keys[int(slots[i])], float(scores[i])) for i in top]

    # -------------------------------------------------------------------------------- details

    def _quantise(self, vectors: np.ndarray) -> _FastScanCodes:
        """Train the codes on a sample and encode every vector (with all threads, then back to one)."""
        codes = _FastScanCodes(self.dim, self.subquantizers)
        rng = np.random.default_rng(self.seed)
        sample = (
            vectors
            if len(vectors) <= self.train_size
            else vectors[np.sort(rng.choice(len(vectors), self.train_size, replace=False))]
        )
        faiss.omp_set_num_threads(self.threads)
        try:
            codes.train(sample)
            for start in range(0, len(vectors), 262_144):
                codes.append(vectors[start : start + 262_144])
        finally:
            faiss.omp_set_num_threads(1)
        return codes

    def _grow(self) -> None:
        grown = np.empty((max(1024, len(self._vectors) * 5 // 4), self.dim), dtype=np.float32)
        grown[: len(self._keys)] = self._vectors[: len(self._keys)]
        self._vectors = grown

    def stats(self) -> dict:
        """Sizes and parameters, for the benchmark report."""
        return {
            "vectors": len(self),
            "shortlist": self.shortlist,
            "subquantizers": self.subquantizers,
            "codes": f"PQ{self.subquantizers}x4fs" if self._codes is not None else "none (exact scan)",
            "code_mb": round((self._codes.nbytes if self._codes else 0) / 2**20, 1),
            "float32_mb": round(self._vectors.nbytes / 2**20, 1),
            "quantise_above": self.quantise_above,
        }


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")
