"""Presentation attack detection error rates over sequences, as ISO/IEC 30107-3 defines them.

Conventions (used by every function here):

* A score is "higher means more likely an attack". A sequence is classified **attack when
  score >= threshold**, bona fide when score < threshold; a score equal to the threshold is an
  attack.
* An unscorable sequence (the scorer found no face in any frame: its ``no_face`` result) is given as
  ``None`` (NaN is accepted too). The service refuses a session with no face, so ISO's rule for
  presentations the system rejects applies: an unscorable **attack counts as detected** (not an
  APCER error) and an unscorable **bona fide counts as rejected** (a BPCER error). How many of each
  there were is reported, since a high count means the figures say more about the face detector than
  about the liveness check.
* APCER is computed per attack instrument species (PAIS): the fraction of that species' attack
  sequences classified bona fide. The reported APCER is the worst species' (ISO/IEC 30107-3 asks
  for the APCER of the worst PAIS); BPCER is the fraction of bona fide sequences classified attack;
  ACER = (APCER + BPCER) / 2.

The headline figures are at the shipped threshold, which is never re-tuned on the evaluated data.
``operating_points`` gives, for information only, the figures at thresholds chosen on this very data
(BPCER where APCER <= 1 %, APCER where BPCER <= 5 %).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from facetrust.tools.evaluation.sequences import SequenceStats

Score = float | None

DECISION_RULE = "attack if score >= threshold"
UNSCORABLE_POLICY = (
    "no face in any frame: the session is refused, so an unscorable attack counts as detected "
    "and an unscorable bona fide as rejected (a BPCER error)"
)


def split_scores(scores: Sequence[Score]) -> tuple[np.ndarray, int]:
    """(the finite scores as float64, the number of unscorable ones: None or NaN)."""
    values = [float(s) for s in scores if s is not None and not math.isnan(float(s))]
    if any(math.isinf(v) for v in values):
        raise ValueError("scores must be finite; give None for an unscorable sequence")
    return np.asarray(values, dtype=np.float64), len(scores) - len(values)


def apcer(attack_scores: Sequence[Score], threshold: float) -> tuple[float, int]:
    """(APCER, misclassified) of one species: attacks scored below the threshold, over all its
    attack sequences; unscorable attacks count as detected."""
    scored, unscorable = split_scores(attack_scores)
    total = scored.size + unscorable
    if total == 0:
        raise ValueError("no attack sequences for this species")
    missed = int((scored < threshold).sum())
    return missed / total, missed


def bpcer(bona_fide_scores: Sequence[Score], threshold: float) -> tuple[float, int]:
    """(BPCER, rejected): bona fide sequences scored at or above the threshold, plus the unscorable
    ones (refused), over all bona fide sequences."""
    scored, unscorable = split_scores(bona_fide_scores)
    total = scored.size + unscorable
    if total == 0:
        raise ValueError("no bona fide sequences")
    rejected = int((scored >= threshold).sum()) + unscorable
    return rejected / total, rejected


def operating_points(
    bona_fide_scores: Sequence[Score],
    attack_scores_by_species: Mapping[str, Sequence[Score]],
    apcer_target: float = 0.01,
    bpcer_target: float = 0.05,
) -> dict:
    """For information only: BPCER at the threshold where (worst-species) APCER <= ``apcer_target``,
    and APCER at the threshold where BPCER <= ``bpcer_target``, with those thresholds.

    The thresholds are tuned on the data being evaluated, so these figures are optimistic and never
    replace the ones at the shipped threshold. Among the thresholds meeting a target, the one with
    the lowest other error is chosen. A target that no threshold meets (e.g. more than 5 % of bona
    fide sequences unscorable) gives None values.
    """
    bona, bona_unscorable = split_scores(bona_fide_scores)
    bona = np.sort(bona)
    n_bona = bona.size + bona_unscorable
    species = {name: split_scores(s) for name, s in attack_scores_by_species.items()}
    if n_bona == 0 or not species or any(v.size + u == 0 for v, u in species.values()):
        raise ValueError("need bona fide sequences and at least one attack sequence per species")

    # The error rates only change at score values: trying every score, a point between each two
    # neighbouring scores and one above the highest covers every distinct outcome.
    values = np.unique(np.concatenate([bona] + [v for v, _ in species.values()]))
    if values.size == 0:  # nothing scorable: every threshold gives the same figures
        values = np.array([0.0])
    candidates = np.concatenate([values, (values[:-1] + values[1:]) / 2.0, [np.nextafter(values[-1], np.inf)]])
    candidates.sort()
    # BPCER(t): bona fide at or above t, plus the unscorable ones.
    bpcers = (bona.size - np.searchsorted(bona, candidates, side="left") + bona_unscorable) / n_bona
    # APCER(t): per species, attacks below t; the worst species.
    apcers = np.max(
        [np.searchsorted(np.sort(v), candidates, side="left") / (v.size + u) for v, u in species.values()],
        axis=0,
    )

    def best(feasible: np.ndarray, primary: np.ndarray, secondary: np.ndarray) -> dict:
        if not feasible.any():
            return {"threshold": None, "apcer": None, "bpcer": None}
        idx = np.flatnonzero(feasible)
        i = idx[np.lexsort((secondary[idx], primary[idx]))[0]]
        return {"threshold": float(candidates[i]), "apcer": float(apcers[i]), "bpcer": float(bpcers[i])}

    return {
        "bpcer_at_apcer": {"apcer_target": apcer_target, **best(apcers <= apcer_target, bpcers, apcers)},
        "apcer_at_bpcer": {"bpcer_target": bpcer_target, **best(bpcers <= bpcer_target, apcers, bpcers)},
    }


def pad_report(
    bona_fide_scores: Sequence[Score],
    attack_scores_by_species: Mapping[str, Sequence[Score]],
    threshold: float,
    *,
    window: int | None = None,
    bona_fide_stats: SequenceStats | None = None,
    attack_stats: SequenceStats | None = None,
) -> dict:
    """The PAD evaluation report as plain JSON values.

    ``bona_fide_scores``: one score per bona fide sequence (None = unscorable);
    ``attack_scores_by_species``: species -> one score per attack sequence of it. ``threshold`` is
    the shipped operating threshold. The reading counts (skipped files, dropped frames, window
    parameters) come from the two folders' ``SequenceStats``; ``window`` is only needed without
    them, and must agree with them. Raises ValueError with no bona fide or no attack sequences
    (the error rates would be undefined, and a report of nothing must not look like a pass).

    Keys: ``apcer`` (worst species), ``bpcer``, ``acer``, ``threshold``, ``decision_rule``,
    ``worst_species``, ``sequences`` {bona_fide, attack}, ``bona_fide_rejected`` (BPCER errors,
    unscorable included), ``apcer_per_species`` {species: {apcer, sequences, misclassified,
    unscorable}}, ``unscorable`` {bona_fide, attack}, ``unscorable_policy``, ``skipped_files``,
    ``dropped_frames``, ``short_sequences``, ``videos_capped``, ``window``, ``min_frames``,
    ``max_video_frames``, ``recordings`` {bona_fide, attack}, ``skipped`` (list of {path, reason}),
    ``informative`` (``operating_points``: tuned on this data, for information only).
    """
    threshold = float(threshold)
    if not math.isfinite(threshold):
        raise ValueError("the threshold must be a finite number")
    if not attack_scores_by_species:
        raise ValueError("no attack sequences to evaluate")
    empty = sorted(name for name, scores in attack_scores_by_species.items() if len(scores) == 0)
    if empty:
        raise ValueError(f"species without any attack sequence (APCER undefined): {empty}")
    if len(bona_fide_scores) == 0:
        raise ValueError("no bona fide sequences to evaluate")

    per_species = {}
    for name in sorted(attack_scores_by_species):
        scores = attack_scores_by_species[name]
        rate, missed = apcer(scores, threshold)
        per_species[name] = {
            "apcer": rate,
            "sequences": len(scores),
            "misclassified": missed,
            "unscorable": split_scores(scores)[1],
        }
    worst = max(per_species, key=lambda name: per_species[name]["apcer"])  # ties: first by name
    worst_apcer = per_species[worst]["apcer"]
    bona_rate, rejected = bpcer(bona_fide_scores, threshold)

    stats = [s for s in (bona_fide_stats, attack_stats) if s is not None]
    params = {(s.window, s.min_frames, s.max_video_frames) for s in stats}
    if len(params) > 1:
        raise ValueError(f"the two folders were read with different windowing: {sorted(params)}")
    if stats:
        window_, min_frames, max_video_frames = params.pop()
        if window is not None and window != window_:
            raise ValueError(f"window={window} but the sequences were read with window={window_}")
    else:
        window_, min_frames, max_video_frames = window, None, None
        if window_ is None:
            raise ValueError("give the window length, or the SequenceStats of the reading")

    def total(attr: str) -> int:
        return sum(getattr(s, attr) for s in stats)

    def side(s: SequenceStats | None) -> int | None:
        return None if s is None else s.recordings

    return {
        "apcer": worst_apcer,
        "bpcer": bona_rate,
        "acer": (worst_apcer + bona_rate) / 2.0,
        "threshold": threshold,
        "decision_rule": DECISION_RULE,
        "worst_species": worst,
        "sequences": {
            "bona_fide": len(bona_fide_scores),
            "attack": sum(v["sequences"] for v in per_species.values()),
        },
        "bona_fide_rejected": rejected,
        "apcer_per_species": per_species,
        "unscorable": {
            "bona_fide": split_scores(bona_fide_scores)[1],
            "attack": sum(v["unscorable"] for v in per_species.values()),
        },
        "unscorable_policy": UNSCORABLE_POLICY,
        "skipped_files": total("skipped_files"),
        "dropped_frames": total("dropped_frames"),
        "short_sequences": total("short_sequences"),
        "videos_capped": total("videos_capped"),
        "window": window_,
        "min_frames": min_frames,
        "max_video_frames": max_video_frames,
        "recordings": {"bona_fide": side(bona_fide_stats), "attack": side(attack_stats)},
        "skipped": [{"path": p, "reason": r} for s in stats for p, r in s.skipped],
        "informative": operating_points(bona_fide_scores, attack_scores_by_species),
    }


def _percent(value: float | None) -> str:
    return "not reachable" if value is None else f"{100.0 * value:6.2f} %"


def format_pad_report(report: dict) -> str:
    """A short plain-text summary of ``pad_report``'s result for the terminal."""
    lines = [
        f"PAD evaluation (ISO/IEC 30107-3) at threshold {report['threshold']:g} ({report['decision_rule']})",
        f"  APCER {_percent(report['apcer'])}  (worst species: {report['worst_species']})",
        f"  BPCER {_percent(report['bpcer'])}  ({report['bona_fide_rejected']} of "
        f"{report['sequences']['bona_fide']} bona fide sequences rejected)",
        f"  ACER  {_percent(report['acer'])}",
        "",
        f"  {'species':<20} {'sequences':>9} {'missed':>7} {'unscorable':>10}    APCER",
    ]
    for name, row in report["apcer_per_species"].items():
        lines.append(
            f"  {name:<20} {row['sequences']:>9} {row['misclassified']:>7} {row['unscorable']:>10} "
            f"{_percent(row['apcer'])}"
        )
    unscorable = report["unscorable"]
    lines += [
        "",
        f"  unscorable (no face): {unscorable['bona_fide']} bona fide (counted as rejected), "
        f"{unscorable['attack']} attack (counted as detected)",
        f"  windows of {report['window']} frames"
        + (f", last window kept from {report['min_frames']} frames" if report.get("min_frames") else "")
        + (f", at most {report['max_video_frames']} frames per video" if report.get("max_video_frames") else ""),
        f"  skipped files: {report['skipped_files']}, dropped frames: {report['dropped_frames']}, "
        f"videos capped: {report['videos_capped']}",
    ]
    info = report.get("informative")
    if info:
        at_a, at_b = info["bpcer_at_apcer"], info["apcer_at_bpcer"]
        lines.append(
            "  informative only (thresholds tuned on this data): "
            f"BPCER {_percent(at_a['bpcer']).strip()} at APCER <= {100 * at_a['apcer_target']:g} %; "
            f"APCER {_percent(at_b['apcer']).strip()} at BPCER <= {100 * at_b['bpcer_target']:g} %"
        )
    return "\n".join(lines)
