"""`facetrust eval liveness`: the whole liveness decision, as the service makes it for a purpose,
over a folder of captures (``captures.py``), with ISO/IEC 30107-3 style error rates.

Each capture is decided by ``facetrust.liveness.judge.CaptureJudge`` (the capture limits, the
purpose's floor of actions, the replay defences and ``decision.decide``) with its own purpose and
requested actions. Its frames are decoded by the engine's intake, as the service decodes an
uploaded burst (a frame too large for a capture is refused as ``capture_invalid``).

**Order.** The judge remembers the captures it passed, as the service remembers every capture it
has seen, so a replay is judged against what came before it. The bona fide captures are judged
first and the attacks after them, each group in relative-path order: in the world these attacks
imitate, the genuine capture reached the service before anyone replayed, re-encoded or spliced
it, and a replay defence is only tested when the original was seen first. (The other order would
also let an attack that passes make a later genuine capture look like its replay, counting a
bona fide rejection that the attack caused.) Figures therefore depend on the folder's content as
a whole, not capture by capture.

**Rates.** A capture is an attack presentation or a bona fide one by its ``label``; the species
(PAIS) is its ``species``. APCER per species: the fraction of its attack captures that passed;
the reported APCER is the worst species'. BPCER: the fraction of bona fide captures that failed.
The arithmetic is ``pad_metrics.apcer``/``bpcer`` with a failed capture scored 1 and a passed one
0 at the threshold 0.5. Reasons are counted over all captures (a capture failing two checks
counts under both). Time per capture is the judge's call (hashes, capture checks, detection,
landmarks, embedding, texture and every check), wall clock and process CPU time (all threads);
decoding is timed apart.

**Sources never seen.** The replay defence stops a replay or a splice of a capture the service
passed before; an attacker holding a recording the service never saw (a video call, a social
post) meets only the other checks. So every attack stopped by ``frames_replayed`` alone is judged
again by a judge that remembers nothing, and each species also reports
``apcer_if_source_unseen``: the fraction that would have passed had its source never been sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facetrust.liveness.service import FRAMES_REPLAYED
from facetrust.tools.evaluation import pad_metrics
from facetrust.tools.evaluation.captures import Capture, find_captures

ORDER_NOTE = (
    "bona fide captures first, then attacks, each in relative-path order: the judge remembers "
    "the captures it passed (replay defence), as the service has seen a genuine capture before its replays"
)
TIMING_NOTE = (
    "the judge's call per capture (hashes, capture checks, detection, landmarks, embedding, texture, "
    "every check); decoding is timed apart"
)

# Keys of a verdict's checks whose values name a model or rule version.
_VERSION_KEYS = ("version", "versions", "model_id", "calibration_id", "decision_version", "rules_version")


@dataclass(frozen=True)
class Outcome:
    capture: Capture
    passed: bool
    reasons: list[str]
    wall_ms: float
    cpu_ms: float
    decode_ms: float
    passed_if_unseen: bool | None = None  # for an attack stopped only as a replay: a fresh judge's verdict


def _versions(verdict) -> dict:
    """Model and decision versions the verdict carries: a ``versions`` attribute, or version-like
    keys in its checks or their measures."""
    found: dict = {}
    direct = getattr(verdict, "versions", None)
    if isinstance(direct, dict):
        found.update(direct)
    for name, check in (getattr(verdict, "checks", None) or {}).items():
        if not isinstance(check, dict):
            continue
        for scope in (check, check.get("measures") if isinstance(check.get("measures"), dict) else {}):
            for key in _VERSION_KEYS:
                value = scope.get(key)
                if isinstance(value, dict):
                    found.update({str(k): v for k, v in value.items()})
                elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    found[f"{name}.{key}"] = value
    return found


def judge_all(
    judge,
    captures: list[Capture],
    decode: Callable[[bytes], np.ndarray] | None = None,
    refused: tuple[type[Exception], ...] = (),
    progress: bool = True,
    fresh_judge: Callable[[], object] | None = None,
) -> tuple[list[Outcome], dict]:
    """Decide every capture with ``judge`` (bona fide first, then attacks; see the module
    docstring), returning the outcomes in judging order and the versions the verdicts carried.

    ``decode`` turns a frame file's bytes into BGR pixels (the service's intake); an exception of
    a type in ``refused`` is what the service answers ``capture_invalid`` to (e.g. a frame larger
    than a capture allows), and fails that capture; any other decoding failure is a malformed
    capture (``CaptureError``). ``fresh_judge`` makes a judge that remembers nothing, for the
    attacks stopped only as replays (see "Sources never seen")."""
    ordered = [c for c in captures if not c.is_attack] + [c for c in captures if c.is_attack]
    outcomes: list[Outcome] = []
    versions: dict = {}
    for capture in tqdm(ordered, desc="captures", unit="capture", leave=False, disable=not progress):
        t0 = time.perf_counter()
        try:
            frames = capture.load_frames(_refusing(decode, refused) if decode else None)
        except _Refused:  # the service refuses such an upload: the capture fails
            outcomes.append(Outcome(capture, False, ["capture_invalid"], 0.0, 0.0, (time.perf_counter() - t0) * 1000.0))
            continue
        decode_ms = (time.perf_counter() - t0) * 1000.0
        wall, cpu = time.perf_counter(), time.process_time()
        verdict = judge.judge(frames, list(capture.t_ms), capture.purpose, list(capture.actions))
        wall_ms, cpu_ms = (time.perf_counter() - wall) * 1000.0, (time.process_time() - cpu) * 1000.0
        versions.update(_versions(verdict))
        unseen = None
        if fresh_judge and capture.is_attack and list(verdict.reasons) == [FRAMES_REPLAYED]:
            unseen = bool(
                fresh_judge().judge(frames, list(capture.t_ms), capture.purpose, list(capture.actions)).passed
            )
        outcomes.append(
            Outcome(capture, bool(verdict.passed), list(verdict.reasons), wall_ms, cpu_ms, decode_ms, unseen)
        )
    return outcomes, versions


class _Refused(Exception):
    """A frame the service's intake refuses as a capture problem (not a malformed folder)."""


def _refusing(decode: Callable[[bytes], np.ndarray], refused: tuple[type[Exception], ...]):
    def wrapped(data: bytes) -> np.ndarray:
        try:
            return decode(data)
        except refused as exc:
            raise _Refused(str(exc)) from None

    return wrapped


def _ms(values: list[float]) -> dict:
    if not values:
        return {"median": None, "p95": None}
    return {"median": round(float(np.median(values)), 1), "p95": round(float(np.percentile(values, 95)), 1)}


def liveness_report(outcomes: list[Outcome], versions: dict | None = None, models: dict | None = None) -> dict:
    """The evaluation report as plain JSON values (keys: see the CLI's ``--json`` and the README)."""
    bona = [o for o in outcomes if not o.capture.is_attack]
    attacks: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.capture.is_attack:
            attacks.setdefault(o.capture.species, []).append(o)

    def score(o: Outcome) -> float:  # pad_metrics' convention: attack if score >= threshold
        return 0.0 if o.passed else 1.0

    def reasons(group: list[Outcome]) -> dict:
        counts = Counter(r for o in group for r in (o.reasons or (["(none given)"] if not o.passed else [])))
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    per_species = {}
    for species in sorted(attacks):
        group = attacks[species]
        rate, accepted = pad_metrics.apcer([score(o) for o in group], 0.5)
        unseen = sum(o.passed or bool(o.passed_if_unseen) for o in group)
        per_species[species] = {
            "apcer": rate,
            "captures": len(group),
            "accepted": accepted,
            "apcer_if_source_unseen": unseen / len(group),
            "accepted_if_source_unseen": unseen,
            "failures_by_reason": reasons(group),
        }
    worst = max(per_species, key=lambda s: per_species[s]["apcer"]) if per_species else None
    if bona:
        bpcer, rejected = pad_metrics.bpcer([score(o) for o in bona], 0.5)
    else:
        bpcer, rejected = None, 0
    judged = [o for o in outcomes if o.wall_ms > 0.0]
    return {
        "captures": {
            "bona_fide": len(bona),
            "attack": sum(len(g) for g in attacks.values()),
            "per_species": {s: len(g) for s, g in sorted(attacks.items())},
        },
        "apcer": per_species[worst]["apcer"] if worst else None,
        "worst_species": worst,
        "apcer_per_species": per_species,
        "bpcer": bpcer,
        "bona_fide_rejected": rejected,
        "failures_by_reason": {
            "bona_fide": reasons(bona),
            "per_species": {s: v["failures_by_reason"] for s, v in per_species.items()},
        },
        "ms_per_capture": {
            "wall": _ms([o.wall_ms for o in judged]),
            "cpu": _ms([o.cpu_ms for o in judged]),
            "decode_wall": _ms([o.decode_ms for o in outcomes]),
            "captures": len(judged),
            "measures": TIMING_NOTE,
        },
        "versions": versions or {},
        "models": models or {},
        "order": ORDER_NOTE,
        "decision_rule": "a capture is accepted when the judge passes it; APCER: accepted attacks per species; "
        "BPCER: rejected bona fide captures",
        "results": [
            {
                "capture": o.capture.name,
                "label": o.capture.label,
                "species": o.capture.species,
                "purpose": o.capture.purpose,
                "actions": list(o.capture.actions),
                "frames": len(o.capture.frame_paths),
                "passed": o.passed,
                "reasons": o.reasons,
                "passed_if_source_unseen": o.passed_if_unseen,
                "wall_ms": round(o.wall_ms, 1),
                "cpu_ms": round(o.cpu_ms, 1),
            }
            for o in outcomes
        ],
    }


def run(captures_dir: Path, settings=None, progress: bool = True) -> dict:
    """Judge every capture of ``captures_dir`` with the service's engine, texture model and capture
    limits, and report. Raises ``CaptureError`` (exit status 2 on the command line) for a folder
    with no captures or a malformed one; the folder is checked whole before anything is judged."""
    from facetrust.biometrics.errors import DecodedSizeTooLarge
    from facetrust.bootstrap import face_engine
    from facetrust.liveness.judge import CaptureJudge
    from facetrust.liveness.service import capture_limits
    from facetrust.liveness.texture import TextureModel
    from facetrust.settings import get_settings

    captures = find_captures(captures_dir)  # every capture.json checked before any model is loaded
    settings = settings or get_settings()
    engine = face_engine(settings)
    texture = TextureModel.load()
    limits = capture_limits(settings)
    judge = CaptureJudge(engine, texture, limits)

    def decode(data: bytes) -> np.ndarray:
        return engine.decode(data, max_decoded_pixels=limits.max_frame_pixels).pixels

    outcomes, versions = judge_all(
        judge,
        captures,
        decode,
        (DecodedSizeTooLarge,),
        progress,
        fresh_judge=lambda: CaptureJudge(engine, texture, limits),
    )
    models = {
        "detector": getattr(engine.detector, "model_id", None),
        "landmarks": getattr(getattr(engine, "landmarks", None), "model_id", None),
        "embedding": getattr(engine, "model_id", None),
        "texture": getattr(texture, "model_id", None),
    }
    report = liveness_report(outcomes, versions, {k: v for k, v in models.items() if v})
    report["captures_dir"] = str(captures_dir)
    return report


def _pct(value: float | None) -> str:
    return "   n/a  " if value is None else f"{100.0 * value:6.2f} %"


def _reasons_line(counts: dict, limit: int = 4) -> str:
    items = list(counts.items())
    text = ", ".join(f"{r} {n}" for r, n in items[:limit])
    return text + (f", +{len(items) - limit} more" if len(items) > limit else "") if items else "-"


def format_report(report: dict) -> str:
    """A plain-text summary of ``liveness_report`` for the terminal."""
    c = report["captures"]
    lines = [
        f"Liveness evaluation (the service's decision per capture, CaptureJudge): {c['bona_fide']} bona fide, "
        f"{c['attack']} attack captures",
        f"  order: {report['order']}",
        f"  BPCER {_pct(report['bpcer'])}  ({report['bona_fide_rejected']} of {c['bona_fide']} bona fide rejected)"
        f"   reasons: {_reasons_line(report['failures_by_reason']['bona_fide'])}",
        f"  APCER {_pct(report['apcer'])}  (worst species: {report['worst_species'] or '-'})",
        "",
        f"  {'species':<18} {'captures':>8} {'accepted':>8}    APCER   unseen*   failures by reason",
    ]
    for species, row in report["apcer_per_species"].items():
        lines.append(
            f"  {species:<18} {row['captures']:>8} {row['accepted']:>8} {_pct(row['apcer'])} "
            f"{_pct(row['apcer_if_source_unseen'])}   {_reasons_line(row['failures_by_reason'])}"
        )
    lines.append("  * APCER if the attack's source had never been sent (the replay defence could not help)")
    t = report["ms_per_capture"]
    lines += [
        "",
        f"  time per capture ({t['captures']} judged): wall median {t['wall']['median']} ms, p95 {t['wall']['p95']} ms; "
        f"CPU median {t['cpu']['median']} ms, p95 {t['cpu']['p95']} ms; decoding median {t['decode_wall']['median']} ms",
    ]
    if report.get("versions"):
        lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    else:
        lines.append("  versions: not carried by the verdicts")
    if report.get("models"):
        lines.append("  models loaded: " + ", ".join(f"{k} {v}" for k, v in report["models"].items()))
    return "\n".join(lines)
