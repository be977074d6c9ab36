"""`facetrust eval pad`: presentation-attack detection figures (ISO/IEC 30107-3) and action
detection rates, with the service's own decision code and its shipped threshold.

Each sequence (see ``sequences.py``) goes through ``decision.decide`` exactly as a liveness capture
does; its attack score is the passive texture score, and it is classified an attack at the texture
model's shipped threshold. The threshold is never tuned here. The time each decision took is
reported too (detection, landmarks, embedding and texture of every frame).

With face clips and their hand labels, it also reports how often each action detector fires on
the labelled actions, and the bona fide rejection rate of the whole decision when the challenge
asks for exactly what the clip shows.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from facetrust.biometrics.engine import FaceEngine
from facetrust.liveness import decision as decision_mod
from facetrust.liveness.decision import DecisionPolicy
from facetrust.liveness.frames import Frame, content_hash
from facetrust.liveness.texture import TextureModel
from facetrust.tools.evaluation import pad_metrics
from facetrust.tools.evaluation.sequences import NUAA_NAME, Sequence, SequenceStats, iter_sequences

LABELS_FILE = Path(__file__).with_name("face_clips_labels.json")
# Labelled actions that are challenge actions (a nod is asked as one action, look up then down).
CHALLENGE_ACTIONS = ("blink", "turn_left", "turn_right", "open_mouth")
# Frames of context around a labelled action, as a capture would have before and after it.
CONTEXT_FRAMES = 15


@dataclass
class Scorer:
    engine: FaceEngine
    texture: TextureModel
    policy: DecisionPolicy
    max_frames: int = 90  # the longest capture the service accepts (FACETRUST_LIVENESS_MAX_FRAMES)

    def decide(self, frames: list[np.ndarray], times: list[float], requested: list[str]):
        captured = [Frame(f, t, content_hash(f)) for f, t in zip(frames, times)]
        return decision_mod.decide(self.engine, self.texture, captured, requested, self.policy)


def _subject(seq: Sequence) -> str | None:
    match = NUAA_NAME.match(seq.source[0].stem) if seq.source else None
    return match.group(1) if match else None


def _score_side(
    scorer: Scorer,
    root: Path,
    is_attack: bool,
    species: str | None,
    subjects: set[str] | None,
    window: int,
    timings: list[float],
) -> tuple[dict[str, list[float | None]], SequenceStats]:
    """Attack scores per species (bona fide under one key), None for a sequence without a face."""
    stats = SequenceStats()
    scores: dict[str, list[float | None]] = defaultdict(list)
    label = "attack" if is_attack else "bona fide"
    for seq in tqdm(
        iter_sequences(root, is_attack=is_attack, species=species, window=window, stats=stats),
        desc=label,
        unit="seq",
        leave=False,
    ):
        if subjects is not None and _subject(seq) not in subjects:
            continue
        t0 = time.perf_counter()
        # Frames of a recording window are a few hundred ms apart at most; 15 fps is assumed.
        result = scorer.decide(seq.frames, [i * 1000.0 / 15 for i in range(len(seq.frames))], [])
        timings.append((time.perf_counter() - t0) * 1000.0)
        texture = result.checks.get("texture")
        attack_score = texture.measures.get("attack_score") if texture else None
        scores[seq.species or "bona_fide"].append(attack_score)
    return scores, stats


def run_pad(
    scorer: Scorer, bona_fide: Path, attack: Path, species: str | None, subjects: set[str] | None, window: int
) -> dict:
    timings: list[float] = []
    bona, bona_stats = _score_side(scorer, bona_fide, False, None, subjects, window, timings)
    attacks, attack_stats = _score_side(scorer, attack, True, species, subjects, window, timings)
    report = pad_metrics.pad_report(
        bona.get("bona_fide", []),
        dict(attacks),
        scorer.texture.threshold,
        bona_fide_stats=bona_stats,
        attack_stats=attack_stats,
    )
    report["model_id"] = scorer.texture.model_id
    report["subjects"] = sorted(subjects) if subjects else "all"
    report["decision_ms"] = {
        "median": round(float(np.median(timings)), 1),
        "p95": round(float(np.percentile(timings, 95)), 1),
        "sequences": len(timings),
        "frames_per_sequence": window,
    }
    return report


def _clip_frames(path: Path) -> tuple[list[np.ndarray], list[float]]:
    capture = cv2.VideoCapture(str(path))
    frames, times = [], []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
        times.append(float(capture.get(cv2.CAP_PROP_POS_MSEC)))
    capture.release()
    return frames, times


def _labelled(events: list[dict]) -> list[tuple[str, int, int]]:
    """Challenge actions among a clip's labels; a look up followed by a look down is a nod."""
    out = [(e["action"], e["start_frame"], e["end_frame"]) for e in events if e["action"] in CHALLENGE_ACTIONS]
    ups = [e for e in events if e["action"] == "look_up"]
    for up in ups:
        down = next((e for e in events if e["action"] == "look_down" and e["start_frame"] >= up["start_frame"]), None)
        if down is not None:
            out.append(("nod", up["start_frame"], down["end_frame"]))
    return sorted(out, key=lambda e: e[1])


def run_actions(scorer: Scorer, clips_dir: Path, labels_file: Path = LABELS_FILE) -> dict:
    """Per labelled action: a window of the clip around it (the action with context before and
    after, as a capture would hold) is analysed; the detector fires correctly when it finds that
    action peaking inside the labelled span. The same window, decided in full with a challenge of
    exactly that action, gives the decision's bona fide rejections."""
    clips = json.loads(labels_file.read_text(encoding="utf-8"))["clips"]
    fired: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rejected, decided, reasons = 0, 0, defaultdict(int)
    for name, label in tqdm(sorted(clips.items()), desc="clips", unit="clip", leave=False):
        path = clips_dir / name
        if not path.exists():
            continue
        frames, times = _clip_frames(path)
        for action, start, end in _labelled(label["events"]):
            a, b = max(0, start - CONTEXT_FRAMES), min(len(frames), end + CONTEXT_FRAMES + 1)
            if b - a > scorer.max_frames:
                continue  # longer than one capture may be
            result = scorer.decide(frames[a:b], [t - times[a] for t in times[a:b]], [action])
            matched = result.checks.get("actions")
            hit = bool(matched and matched.passed)
            fired[action][0] += hit
            fired[action][1] += 1
            decided += 1
            if not result.passed:
                rejected += 1
                for reason in result.reasons:
                    reasons[reason] += 1
    return {
        "action_detection": {
            a: {"detected": d, "labelled": n, "rate": round(d / n, 4) if n else None}
            for a, (d, n) in sorted(fired.items())
        },
        "decision_bpcer": {
            "rejected": rejected,
            "windows": decided,
            "bpcer": round(rejected / decided, 4) if decided else None,
            "reasons": dict(reasons),
        },
    }


def signal_aucs(engine: FaceEngine, clips_dir: Path) -> dict:
    """Per-frame AUC of the landmark signals the action detectors read, on every frame of the
    labelled clips (``actions_auc.py``)."""
    from facetrust.tools.evaluation import actions_auc

    def measure(image: np.ndarray, face) -> dict[str, float]:
        g = engine.landmarks.geometry(image, face)
        return {
            "blink": g.blink,
            "ear": g.eye_openness,
            "mouth": g.mouth_openness,
            "jaw": g.jaw_open,
            "yaw": abs(g.yaw),
        }

    measured = actions_auc.measure_clips(engine.detector, measure, clips_dir)
    return actions_auc.auc_report(
        measured, {"blink": {"blink": 1, "ear": -1}, "open_mouth": {"mouth": 1, "jaw": 1}, "turn": {"yaw": 1}}
    )


def format_actions(report: dict) -> str:
    lines = ["action detection on labelled bona fide clip windows:"]
    for action, r in report["action_detection"].items():
        lines.append(f"  {action:<11} {r['detected']}/{r['labelled']} detected ({r['rate']:.1%})")
    for action, signals in report.get("signal_auc", {}).items():
        lines.append(f"  per-frame AUC, {action}: " + ", ".join(f"{k} {v['auc']}" for k, v in signals.items()))
    d = report["decision_bpcer"]
    if d["windows"]:
        lines.append(
            f"full decision, challenge = the labelled action: BPCER {d['bpcer']:.1%} "
            f"({d['rejected']}/{d['windows']} windows rejected; reasons {d['reasons']})"
        )
    return "\n".join(lines)
