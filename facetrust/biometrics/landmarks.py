"""Dense (68-point) landmarks and what they tell: head pose, eye openness, mouth opening.

dlib's shape predictor was trained on boxes from dlib's own HOG detector, which sit lower and
tighter on the face than YuNet's. Feeding it YuNet's box as-is shifts every point, so the box is
rebuilt from YuNet's eye and mouth landmarks into the shape the predictor expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import dlib
import numpy as np

from facetrust.biometrics.detect import DetectedFace
from facetrust.biometrics.perthread import PerThread

# Nose-tip drop below the eye line, in inter-ocular distances, of a face looking straight ahead
# (median over LFW development images), and the nose's depth in the same unit (anthropometric).
_NEUTRAL_NOSE_DROP = 0.55
_NOSE_DEPTH = 0.55


@dataclass(frozen=True)
class FaceGeometry:
    points: np.ndarray  # (68, 2)
    yaw: float  # degrees, positive = subject turned to their right (nose toward the image left)
    pitch: float  # degrees, positive = looking up
    roll: float  # degrees, positive = head tilted clockwise in the image
    eye_openness: float  # mean eye aspect ratio of both eyes
    mouth_openness: float  # inner-lip gap over mouth width


def dlib_box_from_yunet(face: DetectedFace) -> dlib.rectangle:
    """A HOG-detector-like square box from YuNet's five landmarks."""
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


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupova and Cech's EAR over the six points of one eye: about 0.3 open, under 0.15 shut."""
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = 2.0 * np.linalg.norm(eye[0] - eye[3])
    return float(vertical / horizontal) if horizontal > 0 else 0.0


def roll_degrees(face: DetectedFace) -> float:
    """In-plane tilt from YuNet's eye landmarks: positive when the subject's left eye (image
    right) sits lower. YuNet finds eyes at any tilt, unlike the 68-point model."""
    right_eye, left_eye = face.landmarks[0], face.landmarks[1]
    return float(np.degrees(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])))


def yaw_pitch(points: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch in degrees from upright 68-point landmarks, using rigid points only.

    Yaw treats the head as a cylinder: the nose sits between the face contour's two sides at eye
    level, and turning the head by t moves it off-centre by sin(t). Pitch compares how far the
    nose tip drops below the eye line with a straight-ahead face. Mouth and chin are not used, so
    an open mouth does not read as a turned head (a full 3D fit on them did exactly that).
    """
    nose = points[30]
    right_side = nose[0] - points[1][0]
    left_side = points[15][0] - nose[0]
    width = right_side + left_side
    yaw = float(np.degrees(np.arcsin(np.clip((left_side - right_side) / width, -1, 1)))) if width > 0 else 0.0
    eyes = (points[36:42].mean(axis=0), points[42:48].mean(axis=0))
    iod = float(np.linalg.norm(eyes[1] - eyes[0])) or 1.0
    drop = (nose[1] - (eyes[0][1] + eyes[1][1]) / 2.0) / iod
    pitch = float(np.degrees(np.arcsin(np.clip((_NEUTRAL_NOSE_DROP - drop) / _NOSE_DEPTH, -1, 1))))
    return yaw, pitch


class LandmarkModel:
    model_id = "dlib-shape-predictor-68"

    def __init__(self, model_path: Path) -> None:
        self._predictor = PerThread(lambda: dlib.shape_predictor(str(model_path)))

    def geometry(self, rgb: np.ndarray, face: DetectedFace) -> FaceGeometry:
        """Landmarks found on a roll-corrected crop (the 68-point model expects an upright face),
        then mapped back to image coordinates."""
        roll = roll_degrees(face)
        eye_mid = (face.landmarks[0] + face.landmarks[1]) / 2.0
        side = int(max(face.box[2], face.box[3], 16) * 2.2)
        warp = cv2.getRotationMatrix2D((float(eye_mid[0]), float(eye_mid[1])), roll, 1.0)
        warp[:, 2] += (side / 2.0) - eye_mid
        upright = cv2.warpAffine(rgb, warp, (side, side), flags=cv2.INTER_LINEAR)
        moved = np.hstack([face.landmarks, np.ones((5, 1))]) @ warp.T
        upright_face = DetectedFace(face.box, moved, face.score)
        shape = self._predictor.get()(upright, dlib_box_from_yunet(upright_face))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        # YuNet's eye points lag behind a strong tilt; what tilt is left shows in dlib's eyes.
        residual = np.degrees(np.arctan2(*(points[42:48].mean(0) - points[36:42].mean(0))[::-1]))
        roll += float(residual)
        yaw, pitch = yaw_pitch(points)
        ear = (eye_aspect_ratio(points[36:42]) + eye_aspect_ratio(points[42:48])) / 2.0
        mouth_width = float(np.linalg.norm(points[60] - points[64])) or 1.0
        mouth_gap = float(np.linalg.norm(points[62] - points[66]))
        back = cv2.invertAffineTransform(warp)
        image_points = np.hstack([points, np.ones((68, 1))]) @ back.T
        return FaceGeometry(image_points, yaw, pitch, roll, ear, mouth_gap / mouth_width)
