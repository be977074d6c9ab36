"""The liveness decision over one capture: the requested actions, one and the same person
throughout, and passive presentation-attack checks, each with its own reason and measures.

Pure: frames in, decision out; sessions, replay and lockout are the service's business.
The checks and what each one stops:

``faces``     one face in (nearly) every frame; a second face means someone else is in view.
``identity``  every frame matches the capture's most frontal frame at the ``kyc`` operating point
              (FMR 1e-4): a face swapped in mid-capture fails.
``actions``   the requested actions, in order (``actions.py``). A printed photo cannot blink or open
              its mouth, and cannot turn: the yaw estimate is a ratio along the eye line, which a
              plane's motion (a homography) keeps nearly constant.
``parallax``  a turn or a nod must move the nose tip off the plane of the eyes and face contour: a
              homography fitted to those points predicts where the nose would be if the face were
              flat, and a real head misses that prediction by a tenth of the eye distance or more.
              A tilted photo's apparent nod fails here.
``texture``   the colour-texture model (``texture.py``): print and screen re-capture change colour
              and fine texture (gamut, halftone, moiré) in ways a live face does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from facetrust.biometrics.engine import FaceAnalysis, FaceEngine
from facetrust.biometrics.quality import Reason
from facetrust.biometrics.templates import similarity
from facetrust.liveness import actions as actions_mod
from facetrust.liveness.actions import ActionThresholds, Series
from facetrust.liveness.frames import Frame
from facetrust.liveness.texture import TextureModel

DECISION_VERSION = "liveness-decision-1"

# Points on or near one plane (face contour at eye level, eye corners) and off it (nose tip, base).
_PLANE_POINTS = [0, 1, 2, 14, 15, 16, 36, 39, 42, 45]
_NOSE_POINTS = [30, 33]


@dataclass(frozen=True)
class DecisionPolicy:
    min_face_fraction: float = 0.8
    min_parallax: float = 0.07  # nose-tip miss of the planar prediction, in eye distances
    actions: ActionThresholds = field(default_factory=ActionThresholds)


@dataclass(frozen=True)
class Check:
    passed: bool
    reason: str | None = None  # the failure's reason code
    measures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "reason": self.reason, "measures": self.measures}


@dataclass(frozen=True)
class LivenessDecision:
    passed: bool
    score: float  # 0..1, how live the capture looks to the passive checks (1 - attack score)
    checks: dict[str, Check]
    versions: dict[str, str]
    reference_index: int | None  # the most frontal frame, whose face the flows compare
    reference: FaceAnalysis | None

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks.values() if not c.passed and c.reason]


@dataclass
class Observed:
    """What the engine saw in each frame of one capture."""

    frames: list[Frame]
    analyses: list[FaceAnalysis]

    @property
    def with_face(self) -> list[int]:
        return [i for i, a in enumerate(self.analyses) if a.geometry is not None]

    def series(self) -> Series:
        def measure(name: str) -> np.ndarray:
            return np.array([getattr(a.geometry, name) if a.geometry else np.nan for a in self.analyses])

        return Series(np.array([f.t_ms for f in self.frames]), measure("yaw"), measure("pitch"),
                      measure("eye_openness"), measure("mouth_openness"))

    def most_frontal(self) -> int | None:
        return min(self.with_face, default=None,
                   key=lambda i: abs(self.analyses[i].geometry.yaw) + abs(self.analyses[i].geometry.pitch))


def observe(engine: FaceEngine, frames: list[Frame]) -> Observed:
    return Observed(frames, engine.analyse_all([f.pixels for f in frames]))


def nose_parallax(reference: np.ndarray, current: np.ndarray) -> float:
    """How far the nose misses where a flat face would put it, in eye distances."""
    eye_distance = float(np.linalg.norm(reference[36:42].mean(0) - reference[42:48].mean(0))) or 1.0
    h, _ = cv2.findHomography(reference[_PLANE_POINTS], current[_PLANE_POINTS], 0)
    if h is None:
        return 0.0
    predicted = cv2.perspectiveTransform(reference[_NOSE_POINTS][None].astype(np.float64), h)[0]
    return float(np.linalg.norm(predicted - current[_NOSE_POINTS], axis=1).mean() / eye_distance)


def check_faces(seen: Observed, policy: DecisionPolicy) -> Check:
    n = len(seen.analyses)
    crowded = sum(Reason.MULTIPLE_FACES in a.quality.reasons for a in seen.analyses)
    fraction = len(seen.with_face) / n if n else 0.0
    measures = {"frames": n, "frames_with_face": len(seen.with_face), "frames_with_several_faces": crowded}
    if crowded:
        return Check(False, "multiple_faces", measures)
    if fraction < policy.min_face_fraction:
        return Check(False, "face_not_found", measures)
    return Check(True, None, measures)


def check_identity(engine: FaceEngine, seen: Observed) -> Check:
    ref = seen.most_frontal()
    if ref is None:
        return Check(False, "face_not_found")
    threshold = engine.calibration.profile("kyc").threshold
    reference = seen.analyses[ref].template
    lowest = min(similarity(reference, seen.analyses[i].template) for i in seen.with_face)  # type: ignore[arg-type]
    measures = {"lowest_similarity": round(lowest, 4), "threshold": round(threshold, 4)}
    return Check(lowest > threshold, None if lowest > threshold else "face_changed", measures)


def check_actions(seen: Observed, requested: list[str], policy: DecisionPolicy) -> tuple[Check, Check]:
    """The actions check, and the parallax check of its turns and nods."""
    events = actions_mod.detect(seen.series(), policy.actions)
    matched = actions_mod.match_in_order(requested, events)
    found = [e.as_dict() if e else None for e in matched]
    missing = [a for a, e in zip(requested, matched) if e is None]
    action_check = Check(not missing, "action_not_performed" if missing else None,
                         {"requested": requested, "matched": found, "missing": missing})
    ref = seen.most_frontal()
    moves = [e for e in matched if e is not None and e.action in ("turn_left", "turn_right", "nod")]
    if ref is None or not moves:
        return action_check, Check(True, None, {"applicable": False})
    points = [seen.analyses[i].geometry.points for i in range(len(seen.analyses))]  # type: ignore[union-attr]
    parallax = {e.action: round(nose_parallax(points[ref], points[e.peak]), 4) for e in moves}
    flat = [a for a, p in parallax.items() if p < policy.min_parallax]
    return action_check, Check(not flat, "planar_motion" if flat else None,
                               {"applicable": True, "parallax": parallax, "minimum": policy.min_parallax})


def check_texture(engine: FaceEngine, model: TextureModel, seen: Observed) -> Check:
    """The model's own sequence rule over the frames with a face, so the service decides exactly
    as the threshold was chosen."""
    if not seen.with_face:
        return Check(False, "face_not_found")
    score = model.sequence_score(engine.map(
        lambda i: model.frame_score(seen.frames[i].pixels, seen.analyses[i].subject), seen.with_face))  # type: ignore[arg-type]
    attack = model.is_attack(score)
    return Check(not attack, "presentation_attack_suspected" if attack else None,
                 {"attack_score": round(score, 4), "threshold": model.threshold})


def decide(engine: FaceEngine, texture: TextureModel, frames: list[Frame], requested: list[str],
           policy: DecisionPolicy) -> LivenessDecision:
    seen = observe(engine, frames)
    faces = check_faces(seen, policy)
    checks = {"faces": faces}
    if seen.with_face:
        checks["identity"] = check_identity(engine, seen)
        checks["actions"], checks["parallax"] = check_actions(seen, requested, policy)
        checks["texture"] = check_texture(engine, texture, seen)
    attack = checks["texture"].measures.get("attack_score", 1.0) if "texture" in checks else 1.0
    ref = seen.most_frontal()
    return LivenessDecision(
        passed=all(c.passed for c in checks.values()),
        score=round(1.0 - attack, 4),
        checks=checks,
        versions={"decision": DECISION_VERSION, "detector": engine.detector.model_id,
                  "landmarks": engine.landmarks.model_id, "embedding": engine.model_id,
                  "calibration": engine.calibration.calibration_id, "texture": texture.model_id},
        reference_index=ref,
        reference=seen.analyses[ref] if ref is not None else None,
    )
