"""Alignment and embedding: SFace as the fast default, the dlib ResNet descriptor as a second model.

SFace expects a 112x112 crop made by a similarity transform of five points (eye centres, nose tip,
mouth corners) onto the ArcFace template. The points come from the MediaPipe mesh (eye centres from
each eye's six contour points, nose tip, outer mouth corners). On the LFW development images
(``facetrust eval lfw``) aligning on the mesh's points gave accuracy 99.33 %, FNMR 0.64 % / 1.12 % at
FMR 1e-3 / 1e-4; on the mean of the mesh's and YuNet's points 99.50 %, 0.66 % / 1.03 %; dlib's
68 points (the previous model) 99.37 %, 0.69 % / 1.09 %. The mesh alone is shipped: a liveness
capture finds its face once and follows it by the mesh, so YuNet's points exist only on some frames,
and every template must be made the same way whether it comes from a still image or a capture.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import dlib
import numpy as np

from facetrust.biometrics.detect import DetectedFace
from facetrust.biometrics.landmarks import FaceGeometry
from facetrust.biometrics.modelpool import ModelPool
from facetrust.biometrics.templates import Template

SFACE_INPUT = 112
# Where the five points land in SFace's input (the ArcFace template), image-left point first.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def dlib_box_from_yunet(face: DetectedFace) -> dlib.rectangle:
    """A HOG-detector-like square box from YuNet's five landmarks: dlib's shape predictors were
    trained on boxes from dlib's own detector, which sit lower and tighter than YuNet's."""
    lm = face.landmarks
    eye_mid = (lm[0] + lm[1]) / 2.0
    mouth_mid = (lm[3] + lm[4]) / 2.0
    eye_to_mouth = float(np.linalg.norm(mouth_mid - eye_mid))
    size = max(eye_to_mouth * 2.3, face.eye_distance * 2.1, 8.0)
    centre = eye_mid + (mouth_mid - eye_mid) * 0.55
    half = size / 2.0
    return dlib.rectangle(
        int(round(centre[0] - half)),
        int(round(centre[1] - half)),
        int(round(centre[0] + half)),
        int(round(centre[1] + half)),
    )


def align(image: np.ndarray, five_points: np.ndarray) -> np.ndarray:
    """The 112x112 BGR crop for SFace: similarity transform of five points onto the template."""
    matrix, _ = cv2.estimateAffinePartial2D(five_points.astype(np.float32), ARCFACE_TEMPLATE, method=cv2.LMEDS)
    if matrix is None:  # degenerate points (all on one spot): fall back to the eye pair alone
        matrix, _ = cv2.estimateAffinePartial2D(five_points[:2].astype(np.float32), ARCFACE_TEMPLATE[:2])
    return cv2.warpAffine(image, matrix, (SFACE_INPUT, SFACE_INPUT), flags=cv2.INTER_LINEAR)


class SFaceEmbedder:
    """SFace 128-d embeddings; thread-safe (a pool of OpenCV networks, ``instances`` at most)."""

    model_id = "sface-2021dec/align-mesh5"

    def __init__(self, model_path: Path, instances: int = 1) -> None:
        self._recognizer = ModelPool(lambda: cv2.FaceRecognizerSF.create(str(model_path), ""), instances)

    def align(self, image: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
        return align(image, geometry.five_points())

    def embed_crop(self, crop: np.ndarray) -> np.ndarray:
        with self._recognizer.use() as recognizer:
            return recognizer.feature(crop).ravel()


class DlibEmbedder:
    """dlib's ResNet descriptor (the one face_recognition uses), aligned by its 5-point model.

    Slow on this CPU (about 90 ms), so it is a second opinion, not the default path.
    """

    model_id = "dlib-resnet-v1"

    def __init__(self, model_path: Path, shape5_path: Path, instances: int = 1) -> None:
        self._models = ModelPool(
            lambda: (dlib.face_recognition_model_v1(str(model_path)), dlib.shape_predictor(str(shape5_path))), instances
        )

    def template(self, rgb: np.ndarray, face: DetectedFace) -> Template:
        with self._models.use() as (model, shape5):
            shape = shape5(rgb, dlib_box_from_yunet(face))
            return Template(self.model_id, np.array(model.compute_face_descriptor(rgb, shape)))
