"""`facetrust eval lfw`: the LFW protocol on a pairs file plus all-pairs error rates at low FMR.

(a) Fold-wise accuracy on the pairs file: for each fold, the threshold is chosen on the other folds.
(b) FNMR at FMR 1e-3 and 1e-4 over every same-identity image pair in the image folder (genuine) and
    every cross-identity pair, or a stated random sample of them (impostor).
(c) Failures to enrol: images in which no face was found. They score as non-matches against every
    image, so a genuine pair involving one counts as a false non-match.
(d) Median ms per image for the whole pipeline, bytes to template.
(e) With a peer, the same for the peer system, computed in the same run on the same images.
An optional subset of identities (East-Asian by default when the folder's sibling list exists) gets
its own false-match rate at the global thresholds, to expose demographic differentials.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from facetrust.tools.evaluation import extractors, metrics

FMR_POINTS = (1e-3, 1e-4)


@dataclass(frozen=True)
class Pair:
    a: str  # relative image path
    b: str
    same: bool
    fold: int


def image_path(name: str, number: int) -> str:
    return f"{name}/{name}_{number:04d}.jpg"


def parse_pairs(path: Path) -> list[Pair]:
    """LFW pairs format: a header ``<folds> <pairs per class>``, then per fold the same-person lines
    (``name i j``) followed by the different-people lines (``name1 i name2 j``)."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    folds, per_class = int(lines[0][0]), int(lines[0][1])
    body = lines[1:]
    if len(body) != folds * per_class * 2:
        raise ValueError(f"{path} declares {folds} folds of {per_class}+{per_class} pairs but has {len(body)} lines")
    pairs = []
    for n, parts in enumerate(body):
        fold = n // (2 * per_class)
        if len(parts) == 3:
            pairs.append(Pair(image_path(parts[0], int(parts[1])), image_path(parts[0], int(parts[2])), True, fold))
        elif len(parts) == 4:
            pairs.append(Pair(image_path(parts[0], int(parts[1])), image_path(parts[2], int(parts[3])), False, fold))
        else:
            raise ValueError(f"{path}: line {n + 2} is not a pair: {' '.join(parts)}")
    return pairs


def list_images(images_dir: Path) -> list[str]:
    return sorted(
        f"{d.name}/{f.name}"
        for d in images_dir.iterdir()
        if d.is_dir()
        for f in d.iterdir()
        if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    )


def extract_all(
    system: str, images_dir: Path, files: list[str], workers: int, threads: int
) -> list[extractors.Extracted]:
    ctx = multiprocessing.get_context("spawn")
    paths = [images_dir / f for f in files]
    with ctx.Pool(workers, initializer=extractors.init_worker, initargs=(system, threads)) as pool:
        results = list(
            tqdm(
                pool.imap(extractors.extract, paths, chunksize=8),
                total=len(paths),
                desc=f"{system:>16}",
                unit="img",
                disable=None,  # a bar on a terminal, silence in logs and CI
            )
        )
    return results


def evaluate_system(
    results: list[extractors.Extracted],
    files: list[str],
    pairs: list[Pair],
    distance: bool,
    subset: set[str],
    max_impostors: int,
) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    index = {f: i for i, f in enumerate(files)}
    dim = next(r.vector.size for r in results if r.vector is not None)
    valid = np.array([r.vector is not None for r in results])
    x = np.zeros((len(files), dim), dtype=np.float64)
    for i, r in enumerate(results):
        if r.vector is not None:
            x[i] = r.vector
    if not distance:
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def pair_score(i: int, j: int) -> float:
        if not (valid[i] and valid[j]):
            return -np.inf
        return -float(np.linalg.norm(x[i] - x[j])) if distance else float(x[i] @ x[j])

    missing = [p for p in pairs if p.a not in index or p.b not in index]
    if missing:
        raise ValueError(f"{len(missing)} pair images are not in the image folder, e.g. {missing[0].a}")
    scores = np.array([pair_score(index[p.a], index[p.b]) for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    accs = metrics.fold_accuracy(scores, same, folds)

    labels = np.array([f.split("/")[0] for f in files])
    blocks = metrics.negated_distance_blocks(x) if distance else metrics.cosine_blocks(x)
    gen, imp, gen_idx, imp_idx = metrics.all_pair_scores(blocks, valid, labels, max_impostors)

    report: dict[str, Any] = {
        "accuracy": {"mean": float(np.mean(accs)), "std": float(np.std(accs)), "folds": accs},
        "fnmr_at_fmr": {},
        "threshold_at_fmr": {},
        "pairs": {"genuine": int(gen.size), "impostor": int(imp.size)},
        "failure_to_enrol": {
            "count": int((~valid).sum()),
            "rate": float((~valid).mean()),
            "scored_as": "non-match against every image (a genuine pair with one is a false non-match)",
        },
        "ms_per_image": {
            "median": float(np.median([r.ms for r in results])),
            "mean": float(np.mean([r.ms for r in results])),
            "p95": float(np.percentile([r.ms for r in results], 95)),
        },
        "score": "negated Euclidean distance" if distance else "cosine similarity",
    }
    thresholds = {}
    for fmr in FMR_POINTS:
        fnmr, t = metrics.fnmr_at_fmr(gen, imp, fmr)
        report["fnmr_at_fmr"][str(fmr)] = fnmr
        report["threshold_at_fmr"][str(fmr)] = t
        thresholds[fmr] = t
    if subset:
        in_subset = np.isin(labels, sorted(subset))
        sub_imp = imp[in_subset[imp_idx[:, 0]] & in_subset[imp_idx[:, 1]]]
        sub_gen = gen[in_subset[gen_idx[:, 0]]]
        report["subset"] = {
            "identities": int(len(set(labels[in_subset]))),
            "images": int(in_subset.sum()),
            "impostor_pairs": int(sub_imp.size),
            "genuine_pairs": int(sub_gen.size),
            "fmr_at_global_threshold": {
                str(f): float((sub_imp > t).mean()) if sub_imp.size else None for f, t in thresholds.items()
            },
            "fnmr_at_global_threshold": {
                str(f): float((sub_gen <= t).mean()) if sub_gen.size else None for f, t in thresholds.items()
            },
        }
    return report, (gen, imp)


def default_subset_file(images_dir: Path) -> Path | None:
    candidate = images_dir.parent / "east_asian_identities.txt"
    return candidate if candidate.is_file() else None


def run(
    pairs_file: Path,
    images_dir: Path,
    peer: str | None,
    subset_file: Path | None,
    workers: int,
    threads: int,
    max_impostors: int,
    plot: Path | None,
) -> dict[str, Any]:
    pairs = parse_pairs(pairs_file)
    files = list_images(images_dir)
    subset = set(subset_file.read_text().split()) if subset_file else set()
    systems = [("facetrust", False)] + ([(peer, True)] if peer else [])
    report: dict[str, Any] = {
        "dataset": {
            "pairs_file": str(pairs_file),
            "images_dir": str(images_dir),
            "images": len(files),
            "identities": len({f.split("/")[0] for f in files}),
            "pairs": len(pairs),
            "folds": len({p.fold for p in pairs}),
            "subset_file": str(subset_file) if subset_file else None,
        },
        "workers": workers,
        "threads_per_worker": threads,
    }
    curves = {}
    for system, distance in systems:
        results = extract_all(system, images_dir, files, workers, threads)
        sys_report, (gen, imp) = evaluate_system(results, files, pairs, distance, subset, max_impostors)
        curves[system] = metrics.det_curve(gen, imp)
        if system == "facetrust":
            report.update(sys_report)
            from facetrust.biometrics.calibration import load

            cal = load()
            report["model_id"] = cal.model_id
            report["calibration_id"] = cal.calibration_id
        else:
            report["peer"] = {"name": system, **sys_report}
    if peer:
        report["speedup_vs_peer"] = report["peer"]["ms_per_image"]["median"] / report["ms_per_image"]["median"]
    if plot:
        from facetrust.tools.evaluation.plot import det_plot

        det_plot(curves, plot)
    return report


def _system_lines(name: str, r: dict[str, Any]) -> list[str]:
    lines = [
        f"{name}:",
        f"  accuracy          {100 * r['accuracy']['mean']:.2f}% +- {100 * r['accuracy']['std']:.2f}",
        f"  FNMR @ FMR 1e-3   {100 * r['fnmr_at_fmr']['0.001']:.2f}%",
        f"  FNMR @ FMR 1e-4   {100 * r['fnmr_at_fmr']['0.0001']:.2f}%",
        f"  failure to enrol  {r['failure_to_enrol']['count']} images",
        f"  ms per image      median {r['ms_per_image']['median']:.1f}, mean {r['ms_per_image']['mean']:.1f}",
    ]
    sub = r.get("subset")
    if sub:
        fmr = sub["fmr_at_global_threshold"]
        fmt = lambda v: "n/a" if v is None else f"{v:.2e}"  # noqa: E731
        lines.append(
            f"  subset ({sub['identities']} identities, {sub['impostor_pairs']} impostor pairs): "
            f"FMR at global 1e-3 threshold {fmt(fmr['0.001'])}, at 1e-4 {fmt(fmr['0.0001'])}"
        )
    return lines


def summary(report: dict[str, Any]) -> str:
    d = report["dataset"]
    lines = [
        f"{d['images']} images, {d['identities']} identities; {d['pairs']} pairs in {d['folds']} folds; "
        f"{report['pairs']['genuine']} genuine and {report['pairs']['impostor']} impostor all-pairs",
        *_system_lines(f"facetrust ({report['model_id']}, {report['calibration_id']})", report),
    ]
    if "peer" in report:
        lines += _system_lines(f"peer: {report['peer']['name']}", report["peer"])
        lines.append(f"speed-up vs peer (median ms per image): {report['speedup_vs_peer']:.1f}x")
    return "\n".join(lines)
