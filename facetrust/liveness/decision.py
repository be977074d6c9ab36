"""The liveness decision over one capture: the requested actions, one and the same person
throughout, one continuous live recording, and passive presentation-attack checks, each with its own
reason and measures.

Pure: frames in, decision out; sessions, replay and lockout are the service's business.
The checks and what each one stops:

``faces``     one face in (nearly) every frame; a second face means someone else is in view.
``identity``  the first and last frames match the most frontal one at the ``kyc`` operating point
              (FMR 1e-4): a face swapped in mid-capture fails (and its cut is a splice).
``actions``   the requested actions, in order (``actions.py``). A printed photo cannot blink or open
              its mouth, and cannot turn: the yaw estimate comes from the mesh's depth, which a
              plane's motion (a homography) keeps nearly constant.
``parallax``  a turn or a nod must move the nose tip off the plane of the eyes and face sides: a
              homography fitted to those points predicts where the nose would be if the face were
              flat, and a real head misses that prediction by a tenth of the eye distance or more.
              A tilted photo's apparent nod fails here.
``splice``, ``static``, ``timing``  one continuous live recording (``continuity.py``): no cut and
              re-joined segments, no still picture sent as a burst, timestamps a camera produces.
``texture``   the passive model (``texture.py``): print and screen re-capture change colour and fine
              texture in ways a live face does not. One signal among the others, never the only wall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from facetrust.biometrics.engine import FaceAnalysis, FaceEngine
from facetrust.biometrics.landmarks import NOSE_POINTS, PLANE_POINTS
from facetrust.biometrics.templates import similarity
from facetrust.liveness import actions as actions_mod
from facetrust.liveness import continuity
from facetrust.liveness.actions import ActionThresholds, Series
from facetrust.liveness.checks import Check
from facetrust.liveness.continuity import ContinuityPolicy
from facetrust.liveness.fingerprint import FrameFingerprint, fingerprints
from facetrust.liveness.frames import Frame
from facetrust.liveness.observe import Observed, observe
from facetrust.liveness.texture import TextureModel

DECISION_VERSION = "liveness-decision-2"


@dataclass(frozen=True)
class DecisionPolicy:
    min_face_fraction: float = 0.8
    min_parallax: float = 0.07  # nose-tip miss of the planar prediction, in eye distances
    actions: ActionThresholds = field(default_factory=ActionThresholds)
    continuity: ContinuityPolicy = field(default_factory=ContinuityPolicy)


@dataclass(frozen=True)
class LivenessDecision:
    passed: bool
    score: float  # 0..1, how live the capture looks to the passive checks (1 - attack score)
    checks: dict[str, Check]
    versions: dict[str, str]
    reference_index: int | None  # the most frontal frame, whose face the flows compare
    reference: FaceAnalysis | None
    fingerprints: list[FrameFingerprint] = field(default_factory=list)  # for the replay defence

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks.values() if not c.passed and c.reason]


def series(seen: Observed) -> Series:
    return Series(
        seen.t_ms,
        seen.geometry("yaw"),
        seen.geometry("pitch"),
        seen.geometry("eye_openness"),
        seen.geometry("mouth_openness"),
        seen.geometry("blink"),
        seen.geometry("jaw_open"),
    )


def nose_parallax(reference: np.ndarray, current: np.ndarray, eye_distance: float) -> float:
    """How far the nose misses where a flat face would put it, in eye distances."""
    h, _ = cv2.findHomography(reference[PLANE_POINTS], current[PLANE_POINTS], 0)
    if h is None:
        return 0.0
    predicted = cv2.perspectiveTransform(reference[NOSE_POINTS][None].astype(np.float64), h)[0]
    return float(np.linalg.norm(predicted - current[NOSE_POINTS], axis=1).mean() / max(eye_distance, 1e-6))


def check_faces(seen: Observed, policy: DecisionPolicy) -> Check:
    n = len(seen.views)
    crowded = sum(v.crowded for v in seen.views)
    fraction = len(seen.with_face) / n if n else 0.0
    measures = {"frames": n, "frames_with_face": len(seen.with_face), "frames_with_several_faces": crowded}
    if crowded:
        return Check(False, "multiple_faces", measures)
    if fraction < policy.min_face_fraction:
        return Check(False, "face_not_found", measures)
    return Check(True, None, measures)


def check_identity(engine: FaceEngine, seen: Observed, ref: int) -> Check:
    threshold = engine.calibration.profile("kyc").threshold
    reference = seen.templates[ref]
    others = [t for i, t in seen.templates.items() if i != ref]
    lowest = min((similarity(reference, t) for t in others), default=1.0)  # type: ignore[arg-type]
    measures = {
        "lowest_similarity": round(lowest, 4),
        "threshold": round(threshold, 4),
        "frames_compared": len(others) + 1,
    }
    return Check(lowest > threshold, None if lowest > threshold else "face_changed", measures)


def check_actions(seen: Observed, requested: list[str], policy: DecisionPolicy, ref: int) -> tuple[Check, Check]:
    """The actions check, and the parallax check of its turns and nods."""
    events = actions_mod.detect(series(seen), policy.actions)
    matched = actions_mod.match_in_order(requested, events)
    found = [e.as_dict() if e else None for e in matched]
    missing = [a for a, e in zip(requested, matched) if e is None]
    action_check = Check(
        not missing,
        "action_not_performed" if missing else None,
        {"requested": requested, "matched": found, "missing": missing},
    )
    moves = [e for e in matched if e is not None and e.action in ("turn_left", "turn_right", "nod")]
    if not moves:
        return action_check, Check(True, None, {"applicable": False})
    reference = seen.views[ref].geometry
    parallax = {
        e.action: round(
            nose_parallax(
                reference.points,  # type: ignore[union-attr]
                seen.views[e.peak].geometry.points,  # type: ignore[union-attr]
                reference.eye_distance,  # type: ignore[union-attr]
            ),
            4,
        )
        for e in moves
    }  # type: ignore[union-attr]
    flat = [a for a, p in parallax.items() if p < policy.min_parallax]
    return action_check, Check(
        not flat,
        "planar_motion" if flat else None,
        {"applicable": True, "parallax": parallax, "minimum": policy.min_parallax},
    )


def texture_frames(faces: list[int], ref: int) -> list[int]:
    """The reference frame and the first and last frames with a face: the whole capture's span."""
    return sorted({ref, faces[0], faces[-1]})


def check_texture(engine: FaceEngine, model: TextureModel, seen: Observed, ref: int) -> Check:
    """The passive model on a few frames (its cost is per frame, and one capture's frames are much
    alike), decided by the model's own sequence rule, as its threshold was chosen."""
    chosen = texture_frames(seen.with_face, ref)
    score = model.sequence_score(
        engine.map(lambda i: model.frame_score(seen.frames[i].pixels, seen.views[i].face), chosen)  # type: ignore[arg-type]
    )
    attack = model.is_attack(score)
    return Check(
        not attack,
        "presentation_attack_suspected" if attack else None,
        {"attack_score": round(score, 4), "threshold": model.threshold, "frames": chosen},
    )


def decide(
    engine: FaceEngine, texture: TextureModel, frames: list[Frame], requested: list[str], policy: DecisionPolicy
) -> LivenessDecision:
    seen = observe(engine, frames)
    checks = {"faces": check_faces(seen, policy)}
    ref = seen.most_frontal()
    if ref is not None:
        checks["identity"] = check_identity(engine, seen, ref)
        checks["actions"], checks["parallax"] = check_actions(seen, requested, policy, ref)
        motion = continuity.interval_motion(seen)
        checks["splice"] = continuity.check_splice(motion, policy.continuity)
        checks["static"] = continuity.check_static(seen, policy.continuity)
        checks["timing"] = continuity.check_timing(seen, motion, policy.continuity)
        checks["texture"] = check_texture(engine, texture, seen, ref)
    attack = checks["texture"].measures.get("attack_score", 1.0) if "texture" in checks else 1.0
    return LivenessDecision(
        passed=all(c.passed for c in checks.values()),
        score=round(1.0 - attack, 4),
        checks=checks,
        versions={
            "decision": DECISION_VERSION,
            "detector": engine.detector.model_id,
            "landmarks": engine.landmarks.model_id,
            "embedding": engine.model_id,
            "calibration": engine.calibration.calibration_id,
            "texture": texture.model_id,
        },
        reference_index=ref,
        reference=seen.reference,
        fingerprints=fingerprints(seen),
    )
