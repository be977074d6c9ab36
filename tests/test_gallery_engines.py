"""The 1:N engines through their common interface: exact top-1 with exact cosines, replace on
re-add, immediate and final removal, empty galleries, k beyond the size; the in-process engine's
compressed codes after churn and under concurrent use; the synthetic template generator."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from milvusworld import drop_collection, milvus_uri, unique_collection

from facetrust.gallery.inprocess import InProcessIndex
from facetrust.tools import gallery_synthetic as synthetic
from facetrust.tools.gallery_synthetic import TemplateModel

DIM = 128


def toy_model(seed: int = 0) -> TemplateModel:
    """Template-like vectors without the real data: a shared mean direction and anisotropic
    between-person spread (impostor cosine about 0.1), captures at genuine cosine about 0.7."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    mean = rng.standard_normal(DIM)
    mean *= np.sqrt(0.1) / np.linalg.norm(mean)
    decay = 1 / np.sqrt(np.arange(1, DIM + 1))
    between = rotation @ np.diag(np.sqrt(0.6 * decay / decay.sum())) @ rotation.T
    within = np.eye(DIM) * np.sqrt(0.3 / DIM)
    return TemplateModel(mean.astype(np.float32), between.astype(np.float32), within.astype(np.float32), 0.3, "toy")


@pytest.fixture(scope="module")
def data():
    """2,000 enrolled vectors with keys, and 40 genuine probes of enrolled people."""
    model = toy_model()
    rng = np.random.default_rng(1)
    vectors, centres = synthetic.gallery(model, 2000, seed=2)
    keys = [rng.bytes(16).hex() for _ in range(len(vectors))]
    probes = model.captures(centres[:40], rng)
    return keys, vectors, probes


ENGINES = ["inprocess-exact", "inprocess-pq", "milvus", "milvus-server"]


@pytest.fixture(params=ENGINES)
def make(request, tmp_path):
    """A factory of empty engines of one kind (Milvus Lite in a file under tmp_path; the test
    server of FACETRUST_TEST_MILVUS_URI, in collections of this test's own)."""
    made, collections = [], []

    def factory():
        if request.param == "inprocess-exact":
            engine = InProcessIndex()  # small galleries are scanned exactly
        elif request.param == "inprocess-pq":
            # codes at any size, and a short shortlist so the exact re-ranking really matters
            engine = InProcessIndex(quantise_above=0, shortlist=64)
        else:
            from facetrust.gallery.milvus import MilvusIndex

            uri = milvus_uri("lite" if request.param == "milvus" else "server", tmp_path, f"gallery{len(made)}")
            collections.append((uri, unique_collection()))
            engine = MilvusIndex(*collections[-1])
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        if hasattr(engine, "close"):
            engine.close()
    for uri, collection in collections:
        drop_collection(uri, collection)


def exact(keys, vectors, q):
    scores = vectors @ q
    order = np.argsort(-scores)
    return [(keys[i], float(scores[i])) for i in order]


def test_search_returns_the_exact_best_with_exact_cosines(make, data):
    keys, vectors, probes = data
    engine = make()
    engine.build(keys, vectors)
    assert len(engine) == len(keys)
    for q in probes:
        got = engine.search(q, 5)
        want = exact(keys, vectors, q / np.linalg.norm(q))
        assert len(got) == 5
        assert got[0][0] == want[0][0]
        assert got[0][1] == pytest.approx(want[0][1], abs=1e-5)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        by_key = dict(want)
        for key, score in got:  # every returned score is that key's exact cosine
            assert score == pytest.approx(by_key[key], abs=1e-5)


def test_add_replaces_an_existing_key_and_enrols_a_new_one(make, data):
    keys, vectors, probes = data
    engine = make()
    engine.build(keys, vectors)
    target = keys[3]
    engine.add(target, probes[20])  # re-enrol key 3 with another face
    assert len(engine) == len(keys)
    hit = engine.search(probes[20], 1)[0]
    assert hit[0] == target and hit[1] == pytest.approx(1.0, abs=1e-5)
    assert all(k != target or s < 0.99 for k, s in engine.search(vectors[3], 10))  # old vector gone

    engine.add("f" * 32, probes[21])
    assert len(engine) == len(keys) + 1
    assert engine.search(probes[21], 1)[0][0] == "f" * 32


def test_remove_is_immediate_and_the_key_never_comes_back(make, data):
    keys, vectors, probes = data
    engine = make()
    engine.build(keys, vectors)
    gone = keys[0]
    assert engine.search(vectors[0], 1)[0][0] == gone
    assert engine.remove(gone) is True
    assert gone not in [k for k, _ in engine.search(vectors[0], 10)]
    assert engine.remove(gone) is False
    assert len(engine) == len(keys) - 1
    # Churn after the removal (the in-process engine moves slots around) must not revive it.
    for i in range(1, 6):
        engine.remove(keys[-i])
        engine.add(keys[i], probes[i])
    engine.add("e" * 32, probes[30])
    assert gone not in [k for k, _ in engine.search(vectors[0], 50)]
    assert len(engine) == len(keys) - 5
    # The slot that moved into key 0's place still answers for its own key.
    assert engine.search(vectors[10], 1)[0][0] == keys[10]


def test_empty_index_and_k_beyond_the_size(make, data):
    keys, vectors, probes = data
    engine = make()
    assert len(engine) == 0
    assert engine.search(probes[0], 10) == []
    assert engine.remove(keys[0]) is False

    engine.build(keys[:5], vectors[:5])
    got = engine.search(probes[0], 50)
    assert sorted(k for k, _ in got) == sorted(keys[:5])
    assert [k for k, _ in got] == [k for k, _ in exact(keys[:5], vectors[:5], probes[0] / np.linalg.norm(probes[0]))]

    engine.build([], np.zeros((0, DIM), np.float32))
    assert len(engine) == 0 and engine.search(probes[0], 3) == []


# ------------------------------------------------------------------------- the Milvus engine only


@pytest.mark.parametrize("kind", ["lite", "server"])
def test_milvus_collection_is_kept_across_restarts_and_repaired(kind, data, tmp_path):
    """A process start checks the kept collection against the database (count and checksum of ids
    and vector digests) and repairs the difference; it never drops and refills it. While the
    service was down: one account revoked, one enrolled, one re-enrolled with another face."""
    from facetrust.gallery.milvus import MilvusIndex

    keys, vectors, probes = data
    uri, collection = milvus_uri(kind, tmp_path), unique_collection()
    try:
        first = MilvusIndex(uri, collection=collection)
        first.build(keys, vectors)
        assert first.last_check["collection_rows"] == 0 and first.last_check["inserted"] == len(keys)
        first.close()

        again = MilvusIndex(uri, collection=collection)  # a restart with nothing changed
        again.build(keys, vectors)
        assert again.last_check["matched"] and again.last_check["collection_rows"] == len(keys)
        assert (again.last_check["inserted"], again.last_check["replaced"], again.last_check["deleted"]) == (0, 0, 0)
        again.close()

        # Down time: keys[0] revoked, "a" * 32 enrolled, keys[1] re-enrolled with probes[5]'s face.
        now_keys = [*keys[1:], "a" * 32]
        now_vectors = np.vstack([vectors[1:], probes[6:7]])
        now_vectors[0] = probes[5]
        restarted = MilvusIndex(uri, collection=collection)
        assert len(restarted) == len(keys)  # the collection was kept as it was
        restarted.build(now_keys, now_vectors)
        check = restarted.last_check
        assert not check["matched"] and check["collection_rows"] == len(keys)
        assert check["database_checksum"] != check["collection_checksum"]
        assert (check["inserted"], check["replaced"], check["deleted"]) == (1, 1, 1)
        assert len(restarted) == len(now_keys)
        assert keys[0] not in [k for k, _ in restarted.search(vectors[0], 10)]  # gone at once
        assert restarted.search(probes[6], 1)[0] == ("a" * 32, pytest.approx(1.0, abs=1e-5))
        assert restarted.search(probes[5], 1)[0] == (keys[1], pytest.approx(1.0, abs=1e-5))
        assert all(k != keys[1] or s < 0.99 for k, s in restarted.search(vectors[1], 10))  # old face gone
        restarted.build(now_keys, now_vectors)
        assert restarted.last_check["matched"]
        restarted.close()
    finally:
        drop_collection(uri, collection)


def test_milvus_collection_of_an_older_layout_is_refilled(data, tmp_path):
    """A collection without the digest field (this engine before it kept collections) is dropped and
    refilled once, then kept."""
    from pymilvus import DataType, MilvusClient

    from facetrust.gallery.milvus import MilvusIndex

    keys, vectors, _ = data
    uri = str(tmp_path / "old.db")
    client = MilvusClient(uri=uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    client.create_collection("old", schema=schema, index_params=index)
    client.insert("old", [{"id": k, "vector": v} for k, v in zip(keys[:10], vectors[:10])])
    client.close()

    engine = MilvusIndex(uri, collection="old")
    engine.build(keys[:20], vectors[:20])
    assert engine.last_check["collection_rows"] == 0 and engine.last_check["inserted"] == 20
    assert len(engine) == 20 and engine.search(vectors[15], 1)[0][0] == keys[15]
    engine.close()


# ------------------------------------------------------------------- the in-process engine only


def _codes_match_vectors(engine: InProcessIndex) -> bool:
    """Each slot's packed code is the encoding of the vector in that slot; released positions are 0."""
    codes = engine._codes  # noqa: SLF001 (checking the packed layout is the point)
    n = len(engine)
    for slot in range(n):
        if not np.array_equal(codes._read(slot), codes._encode(engine._vectors[slot])):  # noqa: SLF001
            return False
    padded = -(-n // codes.bbs) * codes.bbs
    return all(not codes._read(slot).any() for slot in range(n, padded))  # noqa: SLF001


def test_inprocess_codes_stay_consistent_through_churn(data):
    keys, vectors, probes = data
    engine = InProcessIndex(quantise_above=0, shortlist=32)
    engine.build(keys, vectors)
    rng = np.random.default_rng(3)
    live = dict(zip(keys, vectors))
    for step in range(300):
        key = keys[int(rng.integers(len(keys)))]
        if step % 3 == 0:
            engine.remove(key)
            live.pop(key, None)
        else:
            v = probes[step % len(probes)] + rng.standard_normal(DIM).astype(np.float32) * 0.05
            v /= np.linalg.norm(v)
            engine.add(key, v)
            live[key] = v
    assert len(engine) == len(live)
    assert _codes_match_vectors(engine)
    live_keys = list(live)
    matrix = np.stack([live[k] for k in live_keys])
    for q in probes[:10]:
        assert engine.search(q, 1)[0][0] == exact(live_keys, matrix, q / np.linalg.norm(q))[0][0]


def test_inprocess_quantises_once_the_gallery_grows(data):
    keys, vectors, _ = data
    engine = InProcessIndex(quantise_above=1500)
    engine.build(keys[:1000], vectors[:1000])
    assert engine.stats()["codes"].startswith("none")
    for k, v in zip(keys[1000:], vectors[1000:]):
        engine.add(k, v)
    assert engine.stats()["codes"] == "PQ64x4fs" and _codes_match_vectors(engine)
    assert engine.search(vectors[1700], 1)[0][0] == keys[1700]


def test_inprocess_concurrent_searches_with_changes(data):
    keys, vectors, probes = data
    engine = InProcessIndex(quantise_above=0, shortlist=64)
    engine.build(keys, vectors)
    errors: list[BaseException] = []

    def searcher(offset: int) -> None:
        try:
            for i in range(200):
                got = engine.search(probes[(i + offset) % len(probes)], 5)
                assert len(got) == 5 and got[0][1] >= got[-1][1]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for i in range(200):
        engine.remove(keys[i])
        engine.add(f"{i:032x}", vectors[i])
    for t in threads:
        t.join()
    assert not errors
    assert len(engine) == len(keys) and _codes_match_vectors(engine)
    assert engine.search(vectors[5], 1)[0][0] == f"{5:032x}"


# ------------------------------------------------------------------------ synthetic templates


def test_synthetic_gallery_is_normalised_and_reproducible():
    model = toy_model()
    a, centres = synthetic.gallery(model, 1000, seed=4, chunk=300)
    b, _ = synthetic.gallery(model, 1000, seed=4, chunk=300)
    assert a.dtype == np.float32 and a.shape == (1000, DIM) and centres.shape == (1000, DIM)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert not np.array_equal(a[:300], synthetic.gallery(model, 300, seed=5)[0])
    assert np.array_equal(a, b)


def test_synthetic_model_fitted_on_real_templates_resembles_them(engine, lfw, tmp_path):
    """Fit on ~150 real SFace templates (identities with several LFW images): the synthetic
    genuine and impostor cosines land near the real ones, which sit where SFace's do."""
    from facetrust.tools.evaluation.lfw import list_images

    by_name: dict[str, list[str]] = {}
    for rel in list_images(lfw):
        by_name.setdefault(rel.split("/")[0], []).append(rel)
    files = [f for name in sorted(by_name) if len(by_name[name]) >= 3 for f in by_name[name][:3]][:150]
    rows = [(f, engine.analyse((lfw / f).read_bytes()).template) for f in files]
    rows = [(f, t.vector) for f, t in rows if t is not None]
    real = synthetic.RealTemplates(
        [f for f, _ in rows], [f.split("/")[0] for f, _ in rows], np.stack([v for _, v in rows]), engine.model_id
    )
    model = synthetic.fit(real, shrinkage=0.5)
    stats = synthetic.compare_statistics(model, real)
    r, s = stats["real"], stats["synthetic"]

    assert 0.5 < r["genuine"]["mean"] < 0.85 and -0.05 < r["impostor"]["mean"] < 0.25  # SFace on LFW
    assert 0.5 < s["genuine"]["mean"] < 0.85
    assert abs(s["genuine"]["mean"] - r["genuine"]["mean"]) < 0.08
    assert abs(s["impostor"]["mean"] - r["impostor"]["mean"]) < 0.05
    assert 0.6 < s["impostor"]["std"] / r["impostor"]["std"] < 1.5
    assert s["genuine"]["p01"] > s["impostor"]["p99"] - 0.1  # genuine and impostor stay apart

    model.save(tmp_path / "model.npz")
    again = TemplateModel.load(tmp_path / "model.npz")
    assert again.spread == model.spread and np.array_equal(again.within, model.within)
