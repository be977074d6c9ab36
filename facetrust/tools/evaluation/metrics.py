"""Verification error metrics, computed the way the LFW protocol and ISO/IEC 19795 describe.

Scores are "higher means more alike" throughout; a system whose native score is a distance is
negated before it gets here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from facetrust.biometrics.calibration import threshold_at_fmr


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold that maximises accuracy on the given pairs (midpoint between scores)."""
    order = np.argsort(scores)
    s, y = scores[order], same[order].astype(np.int64)
    # accuracy if the threshold sits just above s[i]: pairs 0..i are "different"
    correct_below = np.cumsum(1 - y)
    correct_above = y.sum() - np.cumsum(y)
    acc = correct_below + correct_above
    i = int(np.argmax(acc))
    upper = s[i + 1] if i + 1 < len(s) else s[i] + 1e-6
    return float((s[i] + upper) / 2.0)


def fold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> list[float]:
    """Per fold: threshold chosen on the other folds, accuracy measured on this one."""
    result = []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        t = best_threshold(scores[train], same[train])
        result.append(float(((scores[test] > t) == same[test]).mean()))
    return result


def fnmr_at_fmr(genuine: np.ndarray, impostor: np.ndarray, fmr: float) -> tuple[float, float]:
    """(FNMR, threshold) at the threshold where the impostor FMR is ``fmr``."""
    t = threshold_at_fmr(impostor, fmr)
    return float((genuine <= t).mean()), t


def det_curve(genuine: np.ndarray, impostor: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(FMR, FNMR) arrays over thresholds spanning the impostor tail, for a DET plot."""
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    n = imp.size
    fmrs = np.logspace(np.log10(max(1.0 / n, 1e-7)), 0, points)
    thresholds = np.array([imp[max(n - int(np.floor(f * n)) - 1, 0)] for f in fmrs])
    fnmrs = np.searchsorted(gen, thresholds, side="right") / gen.size
    return fmrs, fnmrs


def cosine_blocks(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Scores of rows against all images, for L2-normalised templates."""
    x32 = x.astype(np.float32)
    return lambda rows: x32[rows] @ x32.T


def negated_distance_blocks(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Scores of rows against all images for a Euclidean system (higher = more alike)."""
    sq = (x**2).sum(axis=1)
    return lambda rows: -np.sqrt(np.maximum(sq[rows, None] + sq[None, :] - 2 * x[rows] @ x.T, 0))


def all_pair_scores(
    block_scores: Callable[[np.ndarray], np.ndarray],
    valid: np.ndarray,
    labels: np.ndarray,
    max_impostors: int,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Genuine and impostor scores over every pair of images (upper triangle).

    Images that failed to enrol score -inf against everything (a failure is a non-match, for genuine
    pairs an error). When there are more cross-identity pairs than ``max_impostors``, a uniform random
    sample of that size is kept. Returns (genuine, impostor, genuine index pairs, impostor index pairs).
    """
    n = len(valid)
    rng = np.random.default_rng(seed)
    keep = min(1.0, max_impostors / max(n * (n - 1) // 2, 1))
    gen, imp, gen_idx, imp_idx = [], [], [], []
    block = 512
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        s = block_scores(rows).astype(np.float32)
        s[~valid[rows]] = -np.inf
        s[:, ~valid] = -np.inf
        i, j = np.nonzero(np.arange(n)[None, :] > rows[:, None])
        same = labels[rows[i]] == labels[j]
        gen.append(s[i[same], j[same]])
        gen_idx.append(np.stack([rows[i[same]], j[same]], axis=1))
        ii, jj = i[~same], j[~same]
        if keep < 1.0:
            pick = rng.random(ii.size) < keep
            ii, jj = ii[pick], jj[pick]
        imp.append(s[ii, jj])
        imp_idx.append(np.stack([rows[ii], jj], axis=1).astype(np.int32))
    return (
        np.concatenate(gen),
        np.concatenate(imp),
        np.concatenate(gen_idx),
        np.concatenate(imp_idx),
    )
