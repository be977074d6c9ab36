"""Face detection with YuNet, and the choice of the subject face.

YuNet runs on the image scaled down to a bounded side (it is a 2-core CPU, and faces in a capture
are large); boxes and landmarks are mapped back to the full-resolution image so that alignment uses
every pixel there is. The detector's score threshold is deliberately lower than OpenCV's 0.9
default: on real photos the subject sometimes scores below 0.9 while a background face does not, and
the quality gate applies its own, stricter confidence rule to the chosen face.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facetrust.biometrics.modelpool import ModelPool


@dataclass(frozen=True)
class DetectedFace:
    """One face in full-image pixel coordinates.

    ``landmarks`` are YuNet's five points: right eye, left eye, nose tip, right and left mouth
    corners (right/left from the subject's point of view).
    """

    box: tuple[float, float, float, float]  # x, y, width, height
    landmarks: np.ndarray  # shape (5, 2)
    score: float

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    @property
    def centre(self) -> np.ndarray:
        x, y, w, h = self.box
        return np.array([x + w / 2.0, y + h / 2.0])

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[0] - self.landmarks[1]))


class YuNetDetector:
    """Thread-safe wrapper: OpenCV detector objects are not, so each call borrows one from a pool."""

    model_id = "yunet-2023mar"

    def __init__(self, model_path: Path, score_threshold: float, max_side: int, instances: int = 1) -> None:
        self._max_side = max_side
        self._detector = ModelPool(
            lambda: cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, 0.3, 5000), instances
        )

    def detect(self, image: np.ndarray, max_side: int | None = None) -> list[DetectedFace]:
        """Faces in ``image``, searched at a side of at most ``max_side`` (default: the detector's)."""
        h, w = image.shape[:2]
        scale = min(1.0, (max_side or self._max_side) / max(h, w))
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        with self._detector.use() as det:
            det.setInputSize((small.shape[1], small.shape[0]))
            _, rows = det.detect(small)
        if rows is None:
            return []
        faces = []
        for row in rows:
            box = tuple(float(v) / scale for v in row[:4])
            landmarks = row[4:14].reshape(5, 2).astype(np.float64) / scale
            faces.append(DetectedFace(box=box, landmarks=landmarks, score=float(row[14])))  # type: ignore[arg-type]
        return faces


def choose_subject(faces: list[DetectedFace], image_shape: tuple[int, ...]) -> DetectedFace | None:
    """The face the capture is about: among the faces at least a quarter the size of the largest,
    the one nearest the image centre. Small background faces never win over the subject, and a
    large off-centre bystander does not beat a centred subject.
    """
    if not faces:
        return None
    largest = max(f.area for f in faces)
    candidates = [f for f in faces if f.area >= 0.25 * largest]
    centre = np.array([image_shape[1] / 2.0, image_shape[0] / 2.0])
    return min(candidates, key=lambda f: float(np.linalg.norm(f.centre - centre)))
