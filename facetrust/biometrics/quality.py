"""The quality gate: is this face fit to enrol or to compare, and if not, why not.

Like AWS Rekognition's unindexed-face reasons, the gate returns every reason that applies rather than
the first, so a capture page can tell the person everything to fix at once. Measures are taken on the
aligned 112x112 crop where scale matters (blur, exposure), so the same thresholds hold for a
250-pixel press photo and a 12-megapixel selfie.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from facetrust.biometrics.detect import DetectedFace
from facetrust.biometrics.landmarks import FaceGeometry


class Reason:
    """Stable reason codes (part of the API contract)."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_SMALL = "face_too_small"
    LOW_CONFIDENCE = "low_confidence"
    TOO_BLURRY = "too_blurry"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    EXTREME_POSE = "extreme_pose"
    EYES_CLOSED = "eyes_closed"


MESSAGES = {
    Reason.NO_FACE: "no face was found in the image",
    Reason.MULTIPLE_FACES: "more than one face is in the image; only the person should be in view",
    Reason.FACE_TOO_SMALL: "the face is too small; move closer to the camera",
    Reason.LOW_CONFIDENCE: "the face is not clearly visible",
    Reason.TOO_BLURRY: "the image is too blurry; hold still and keep the camera in focus",
    Reason.TOO_DARK: "the face is too dark; find more light",
    Reason.TOO_BRIGHT: "the face is overexposed; avoid direct light",
    Reason.EXTREME_POSE: "the head is turned or tilted too far; look straight at the camera",
    Reason.EYES_CLOSED: "the eyes appear closed; keep them open",
}


@dataclass(frozen=True)
class QualityThresholds:
    min_face_px: int
    min_detector_confidence: float
    min_sharpness: float
    min_brightness: float
    max_brightness: float
    max_yaw_deg: float
    max_pitch_deg: float
    max_roll_deg: float
    max_eye_closure: float
    second_face_ratio: float


@dataclass(frozen=True)
class QualityReport:
    reasons: list[str]
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.reasons

    def message(self) -> str:
        return "; ".join(MESSAGES[r] for r in self.reasons)


def sharpness(gray_crop: np.ndarray) -> float:
    """Variance of the Laplacian on the aligned crop, after a light smoothing and contrast
    normalisation: low when fine detail is missing. Normalising keeps a dim or washed-out face
    from reading as blurred; the smoothing keeps the quantisation steps of a dark 8-bit image
    (which normalisation would amplify) from reading as detail."""
    gray = cv2.GaussianBlur(gray_crop.astype(np.float64), (0, 0), 1.0)
    gray = (gray - gray.mean()) * (50.0 / max(gray.std(), 1.0))
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def assess(
    faces: list[DetectedFace],
    subject: DetectedFace | None,
    crop: np.ndarray | None,
    geometry: FaceGeometry | None,
    limits: QualityThresholds,
) -> QualityReport:
    if subject is None or crop is None or geometry is None:
        return QualityReport([Reason.NO_FACE])
    reasons: list[str] = []
    others = [f for f in faces if f is not subject]
    largest_other = max((f.area for f in others), default=0.0)
    face_px = min(subject.box[2], subject.box[3])
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    # Exposure is judged on the central face region, not hair or background in the crop's corners.
    centre = gray[28:100, 24:88]
    measures = {
        "face_px": float(face_px),
        "detector_confidence": subject.score,
        "sharpness": sharpness(gray),
        "brightness": float(centre.mean()),
        "yaw": geometry.yaw,
        "pitch": geometry.pitch,
        "roll": geometry.roll,
        "eye_openness": geometry.eye_openness,
        "eye_closure": geometry.blink,
        "other_faces": float(len(others)),
    }
    if largest_other >= limits.second_face_ratio * subject.area:
        reasons.append(Reason.MULTIPLE_FACES)
    if face_px < limits.min_face_px:
        reasons.append(Reason.FACE_TOO_SMALL)
    if subject.score < limits.min_detector_confidence:
        reasons.append(Reason.LOW_CONFIDENCE)
    if measures["sharpness"] < limits.min_sharpness:
        reasons.append(Reason.TOO_BLURRY)
    if measures["brightness"] < limits.min_brightness:
        reasons.append(Reason.TOO_DARK)
    elif measures["brightness"] > limits.max_brightness:
        reasons.append(Reason.TOO_BRIGHT)
    if (
        abs(geometry.yaw) > limits.max_yaw_deg
        or abs(geometry.pitch) > limits.max_pitch_deg
        or abs(geometry.roll) > limits.max_roll_deg
    ):
        reasons.append(Reason.EXTREME_POSE)
    if geometry.blink > limits.max_eye_closure:
        reasons.append(Reason.EYES_CLOSED)
    return QualityReport(reasons, measures)
