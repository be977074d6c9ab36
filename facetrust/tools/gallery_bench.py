"""`facetrust bench gallery`: speed, recall and memory of a 1:N engine at a realistic gallery size.

The gallery is ``size`` templates: one real SFace template (an LFW image through the real
pipeline) for most real LFW identities, the rest drawn from the synthetic model fitted on those
templates (:mod:`facetrust.tools.gallery_synthetic`). Probes, in about equal thirds:

- real genuine: another LFW image of an enrolled real identity;
- synthetic genuine: a new synthetic capture of an enrolled synthetic person;
- impostors: LFW images of identities held out of the gallery, and new synthetic people.

The reference is an exact NumPy scan (outside the timing). Measured: the latency of one
identification (one ``search``, k=10, one query at a time, after a warm-up), recall@1 and @10
against the exact scan (overall and per probe kind), the build time, and the resident memory of
the process once the benchmark's own copy of the gallery is freed (what the engine holds, plus the
interpreter and libraries; a Milvus server's own memory is not in it). For Milvus, the start-up
check of the kept collection is timed too (a second ``build`` with the same content). Then add,
re-add and remove are timed, and a removed key is checked
never to come back.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from facetrust.gallery.index import GalleryIndex
from facetrust.tools import gallery_synthetic as synthetic

K = 10
WARMUP = 50
HELD_OUT_FRACTION = 0.1  # real identities kept out of the gallery, as real impostors


def _rss_mb() -> float:
    import psutil

    proc = psutil.Process()
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):  # an engine's helper processes count too
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return round(total / 2**20, 1)


@dataclass
class Probes:
    vectors: np.ndarray  # (p, d) float32
    kinds: list[str]  # real_genuine | synthetic_genuine | real_impostor | synthetic_impostor
    mates: list[str | None]  # the enrolled key of the same person, for genuine probes


@dataclass
class Gallery:
    keys: list[str]
    vectors: np.ndarray
    real_enrolled: int
    probes: Probes


def make_gallery(
    model: synthetic.TemplateModel, real: synthetic.RealTemplates, size: int, n_probes: int, seed: int
) -> Gallery:
    """Enrol one real image of most real identities plus synthetic people up to ``size``; draw
    the probes (see the module docstring)."""
    rng = np.random.default_rng(seed)
    identities = sorted(real.identities().items())
    order = rng.permutation(len(identities))
    held = {identities[i][0] for i in order[: int(len(identities) * HELD_OUT_FRACTION)]}
    enrolled = [(name, rows) for name, rows in identities if name not in held][: size // 2]
    n_real = len(enrolled)

    keys = [rng.bytes(16).hex() for _ in range(size)]  # account ids: 32 hex characters
    vectors = np.empty((size, model.dim), dtype=np.float32)
    vectors[:n_real] = real.vectors[[rows[0] for _, rows in enrolled]]
    synth, centres = synthetic.gallery(model, size - n_real, seed + 1)
    vectors[n_real:] = synth
    del synth

    real_genuine = [(rows_i, keys[e]) for e, (_, rows) in enumerate(enrolled) for rows_i in rows[1:]]
    real_impostor = [i for name, rows in identities if name in held for i in rows]
    n_real_gen = min(n_probes // 3, len(real_genuine))
    n_real_imp = min(n_probes // 6, len(real_impostor))
    n_syn_imp = n_probes // 3 - n_real_imp
    n_syn_gen = n_probes - n_real_gen - n_real_imp - n_syn_imp

    parts, kinds, mates = [], [], []
    pick = rng.choice(len(real_genuine), n_real_gen, replace=False)
    parts.append(real.vectors[[real_genuine[i][0] for i in pick]])
    kinds += ["real_genuine"] * n_real_gen
    mates += [real_genuine[i][1] for i in pick]
    chosen = rng.choice(size - n_real, n_syn_gen, replace=False)
    parts.append(model.captures(centres[chosen], rng))
    kinds += ["synthetic_genuine"] * n_syn_gen
    mates += [keys[n_real + i] for i in chosen]
    parts.append(real.vectors[rng.choice(real_impostor, n_real_imp, replace=False)])
    kinds += ["real_impostor"] * n_real_imp
    parts.append(model.captures(model.centres(n_syn_imp, rng), rng))
    kinds += ["synthetic_impostor"] * n_syn_imp
    mates += [None] * (n_real_imp + n_syn_imp)
    return Gallery(keys, vectors, n_real, Probes(np.vstack(parts).astype(np.float32), kinds, mates))


def exact_top(gallery: np.ndarray, probes: np.ndarray, k: int, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The exact top-k rows and cosines of every probe: a NumPy scan in chunks of probes."""
    rows = np.empty((len(probes), k), dtype=np.int64)
    scores = np.empty((len(probes), k), dtype=np.float32)
    for start in range(0, len(probes), chunk):
        s = probes[start : start + chunk] @ gallery.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        rows[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        scores[start : start + chunk] = np.take_along_axis(part_scores, order, axis=1)
    return rows, scores


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
        "max_ms": round(float(a.max()), 3),
    }


def _mutations(engine: GalleryIndex, keys: list[str], probes: np.ndarray, n: int, seed: int) -> dict[str, Any]:
    """Time add (new key), add (existing key: replace) and remove; check that each removed key is
    gone at once and a replaced key answers with its new vector."""
    rng = np.random.default_rng(seed)
    timings: dict[str, list[float]] = {"add_new": [], "replace": [], "remove": []}
    new_keys = [rng.bytes(16).hex() for _ in range(n)]
    for key, v in zip(new_keys, probes[:n]):
        t0 = time.perf_counter()
        engine.add(key, v)
        timings["add_new"].append((time.perf_counter() - t0) * 1000)
    replaced_ok = 0
    victims = [keys[i] for i in rng.choice(len(keys), n, replace=False)]
    for key, v in zip(victims, probes[n : 2 * n]):
        t0 = time.perf_counter()
        engine.add(key, v)
        timings["replace"].append((time.perf_counter() - t0) * 1000)
    for key, v in zip(victims, probes[n : 2 * n]):
        top = engine.search(v, 1)
        replaced_ok += bool(top) and top[0][0] == key and abs(top[0][1] - 1.0) < 1e-4
    gone = 0
    for key, v in zip(new_keys, probes[:n]):
        t0 = time.perf_counter()
        engine.remove(key)
        timings["remove"].append((time.perf_counter() - t0) * 1000)
        gone += all(hit != key for hit, _ in engine.search(v, K))
    return {
        "operations": n,
        **{f"{name}_p50_ms": round(float(np.median(t)), 3) for name, t in timings.items()},
        **{f"{name}_max_ms": round(float(np.max(t)), 3) for name, t in timings.items()},
        "replaced_found_with_new_vector": replaced_ok / n,
        "removed_absent_from_next_search": gone / n,
    }


def make_engine(
    name: str, shortlist: int | None, ef: int | None, milvus_uri: str | None, milvus_index: str
) -> tuple[GalleryIndex, str | None]:
    """The engine under test, and a temporary directory to delete afterwards (or None)."""
    if name == "inprocess":
        from facetrust.gallery.inprocess import InProcessIndex

        return (InProcessIndex(shortlist=shortlist) if shortlist else InProcessIndex()), None
    from facetrust.gallery.milvus import MilvusIndex

    tmp = None
    if milvus_uri is None:
        tmp = tempfile.mkdtemp(prefix="facetrust-bench-milvus-")
        milvus_uri = os.path.join(tmp, "gallery.db")
    search_params = {"ef": ef} if ef else None
    engine = MilvusIndex(milvus_uri, collection="bench_gallery", index_type=milvus_index, search_params=search_params)
    engine.drop()  # a server keeps collections: the build is timed from empty
    return engine, tmp


def run(
    size: int,
    engine_name: str,
    n_probes: int,
    seed: int = 1,
    shortlist: int | None = None,
    ef: int | None = None,
    milvus_uri: str | None = None,
    milvus_index: str = "HNSW",
    workers: int = 2,
    mutations: int = 100,
    echo=print,
) -> dict[str, Any]:
    from facetrust.settings import get_settings

    settings = get_settings()
    images = settings.shared_data / "lfw-dev" / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"no LFW images at {images} (set FACETRUST_SHARED_DATA)")
    echo(f"fitting the template model on real SFace templates of {images} (cached after the first run)")
    model, real = synthetic.load_or_fit(images, settings.data_dir, workers)
    stats = synthetic.compare_statistics(model, real)
    rss_baseline = _rss_mb()

    echo(f"drawing a gallery of {size:,} templates and {n_probes:,} probes")
    g = make_gallery(model, real, size, n_probes, seed)
    probes = g.probes
    t0 = time.perf_counter()
    exact_rows, exact_scores = exact_top(g.vectors, probes.vectors, K)
    exact_s = time.perf_counter() - t0
    numpy_ms = []
    for q in probes.vectors[:20]:  # the exact scan one query at a time, for comparison
        t1 = time.perf_counter()
        s = g.vectors @ q
        np.argpartition(-s, K - 1)[:K]
        numpy_ms.append((time.perf_counter() - t1) * 1000)

    engine, tmp = make_engine(engine_name, shortlist, ef, milvus_uri, milvus_index)
    try:
        echo(f"building the {engine.name} engine")
        t0 = time.perf_counter()
        engine.build(g.keys, g.vectors)
        build_s = time.perf_counter() - t0
        index_wait_s = engine.wait_until_indexed() if hasattr(engine, "wait_until_indexed") else 0.0
        start_check_s = None
        if engine_name == "milvus":  # a process start over the kept collection: check, nothing to repair
            t0 = time.perf_counter()
            engine.build(g.keys, g.vectors)
            start_check_s = time.perf_counter() - t0
        del g.vectors
        gc.collect()
        rss_built = _rss_mb()

        echo(f"timing {len(probes.kinds):,} identifications (k={K}), one at a time")
        for q in probes.vectors[:WARMUP]:
            engine.search(q, K)
        latencies, results = [], []
        for q in probes.vectors:
            t0 = time.perf_counter()
            res = engine.search(q, K)
            latencies.append((time.perf_counter() - t0) * 1000)
            results.append(res)
        rss_searched = _rss_mb()

        report = _score(results, probes, g.keys, exact_rows, exact_scores)
        changes = _mutations(engine, g.keys, probes.vectors, min(mutations, len(probes.kinds) // 2), seed + 2)
        params = engine.stats() if hasattr(engine, "stats") else {}
    finally:
        if hasattr(engine, "close"):
            engine.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    import faiss

    return {
        "engine": engine_name,
        "size": size,
        "probes": len(probes.kinds),
        "k": K,
        "seed": seed,
        **_percentiles(latencies),
        "recall_at_1": report.pop("recall_at_1"),
        "recall_at_10": report.pop("recall_at_10"),
        "build_s": round(build_s, 2),
        "index_wait_s": round(index_wait_s, 2),
        "start_check_s": None if start_check_s is None else round(start_check_s, 2),
        "rss_mb": max(rss_built, rss_searched),
        "rss_baseline_mb": rss_baseline,
        "params": params,
        **report,
        "mutations": changes,
        "numpy_exact_single_query": _percentiles(numpy_ms),
        "exact_reference_s": round(exact_s, 1),
        "gallery": {
            "real_enrolled": g.real_enrolled,
            "synthetic": size - g.real_enrolled,
            "probe_kinds": {k: probes.kinds.count(k) for k in sorted(set(probes.kinds))},
        },
        "template_statistics": stats,
        "synthetic_model": model.provenance,
        "machine": {"cpus": os.cpu_count(), "faiss": faiss.__version__, "numpy": np.__version__},
        "notes": "rss_mb: whole process (and children) after build and searches, the benchmark's own "
        "copy of the gallery freed; rss_baseline_mb: before the gallery was drawn.",
    }


def _score(
    results: list[list[tuple[str, float]]],
    probes: Probes,
    keys: list[str],
    exact_rows: np.ndarray,
    exact_scores: np.ndarray,
) -> dict[str, Any]:
    """Recall against the exact scan (a tie on the exact score counts as found), score error, and
    how often the best match is the probe's mate (a property of the data, for context)."""
    hit1, hit10, errors = [], [], []
    for res, rows, scores in zip(results, exact_rows, exact_scores):
        top_key, top_score = res[0] if res else (None, -2.0)
        hit1.append(top_key == keys[rows[0]] or abs(top_score - float(scores[0])) <= 1e-6)
        if top_key == keys[rows[0]]:
            errors.append(abs(top_score - float(scores[0])))
        hit10.append(len({k for k, _ in res} & {keys[r] for r in rows}) / len(rows))
    kinds = np.array(probes.kinds)
    hit1_a = np.array(hit1)
    by_kind = {k: round(float(hit1_a[kinds == k].mean()), 5) for k in sorted(set(probes.kinds))}
    mate = {}
    for kind in ("real_genuine", "synthetic_genuine"):
        idx = np.flatnonzero(kinds == kind)
        if len(idx):
            mate[kind] = {
                "exact": round(float(np.mean([keys[exact_rows[i][0]] == probes.mates[i] for i in idx])), 4),
                "engine": round(
                    float(np.mean([bool(results[i]) and results[i][0][0] == probes.mates[i] for i in idx])), 4
                ),
            }
    return {
        "recall_at_1": round(float(hit1_a.mean()), 5),
        "recall_at_10": round(float(np.mean(hit10)), 5),
        "recall_at_1_by_kind": by_kind,
        "misses_at_1": int((~hit1_a).sum()),
        "top1_score_max_abs_error": float(max(errors)) if errors else None,
        "rank1_is_mate": mate,
    }


def summary(r: dict[str, Any]) -> str:
    lines = [
        f"{r['engine']} engine, {r['size']:,} templates ({r['gallery']['real_enrolled']:,} real), "
        f"{r['probes']:,} probes, k={r['k']}",
        f"  one identification: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.1f} ms "
        f"(exact NumPy scan: p50 {r['numpy_exact_single_query']['p50_ms']:.1f} ms)",
        f"  recall@1 {r['recall_at_1']:.5f} ({r['misses_at_1']} missed), recall@10 {r['recall_at_10']:.5f}; "
        + ", ".join(f"{k} {v:.4f}" for k, v in r["recall_at_1_by_kind"].items()),
        f"  build {r['build_s']:.1f} s (+ {r['index_wait_s']:.1f} s background index)"
        + (f", start-up check of the kept collection {r['start_check_s']:.1f} s" if r.get("start_check_s") else "")
        + ", "
        f"memory {r['rss_mb']:,.0f} MB resident ({r['rss_baseline_mb']:,.0f} MB before the gallery)",
        "  add {add_new_p50_ms:.2f} ms, re-add {replace_p50_ms:.2f} ms, remove {remove_p50_ms:.2f} ms (p50); "
        "removed key absent from the next search: {removed_absent_from_next_search:.0%}".format(**r["mutations"]),
        f"  parameters: {json.dumps(r['params'])}",
    ]
    t = r["template_statistics"]
    lines.append(
        "  template cosines, real vs synthetic: genuine {:.3f}+-{:.3f} vs {:.3f}+-{:.3f}, "
        "impostor {:.3f}+-{:.3f} vs {:.3f}+-{:.3f}".format(
            t["real"]["genuine"]["mean"],
            t["real"]["genuine"]["std"],
            t["synthetic"]["genuine"]["mean"],
            t["synthetic"]["genuine"]["std"],
            t["real"]["impostor"]["mean"],
            t["real"]["impostor"]["std"],
            t["synthetic"]["impostor"]["mean"],
            t["synthetic"]["impostor"]["std"],
        )
    )
    return "\n".join(lines)
