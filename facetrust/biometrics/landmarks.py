"""Dense landmarks (MediaPipe's 478-point face mesh) and what they tell: head pose, eye openness,
mouth opening, and the blendshape scores of a blink and an open jaw.

The mesh model (Face Mesh V2, ``face_landmarks_detector.tflite``) and the blendshape model
(Blendshape V2, ``face_blendshapes.tflite``) come from Google's ``face_landmarker.task`` bundle and
run on LiteRT. MediaPipe's own pipeline finds the face with its BlazeFace detector first (about
38 ms a frame here); we already have YuNet's box and eyes, so the mesh runs on the same crop
MediaPipe would make from a detection (a square 1.5 times the face, rotated so the eyes are level,
resampled to 256x256): about 6 ms a frame for both models on one core. The blendshape model reads
146 of the mesh's points and answers 52 expression scores in 0..1; ``eyeBlinkLeft/Right`` and
``jawOpen`` are the ones the actions use.

Measured on the hand-labelled shared face clips (``facetrust eval actions``, README), against dlib's
68-point model which this replaces on the request path: see the README's liveness figures.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facetrust.biometrics.detect import DetectedFace
from facetrust.biometrics.modelpool import ModelPool

INPUT_SIDE = 256
ROI_SCALE = 1.5  # MediaPipe's face ROI: the detection box enlarged 1.5 times

# The 146 points the blendshape model reads (kLandmarksSubsetIdxs in MediaPipe's
# face_blendshapes_graph.cc), and the outputs used here (kBlendshapeNames order).
BLENDSHAPE_POINTS = np.array(
    [
        0,
        1,
        4,
        5,
        6,
        7,
        8,
        10,
        13,
        14,
        17,
        21,
        33,
        37,
        39,
        40,
        46,
        52,
        53,
        54,
        55,
        58,
        61,
        63,
        65,
        66,
        67,
        70,
        78,
        80,
        81,
        82,
        84,
        87,
        88,
        91,
        93,
        95,
        103,
        105,
        107,
        109,
        127,
        132,
        133,
        136,
        144,
        145,
        146,
        148,
        149,
        150,
        152,
        153,
        154,
        155,
        157,
        158,
        159,
        160,
        161,
        162,
        163,
        168,
        172,
        173,
        176,
        178,
        181,
        185,
        191,
        195,
        197,
        234,
        246,
        249,
        251,
        263,
        267,
        269,
        270,
        276,
        282,
        283,
        284,
        285,
        288,
        291,
        293,
        295,
        296,
        297,
        300,
        308,
        310,
        311,
        312,
        314,
        317,
        318,
        321,
        323,
        324,
        332,
        334,
        336,
        338,
        356,
        361,
        362,
        365,
        373,
        374,
        375,
        377,
        378,
        379,
        380,
        381,
        382,
        384,
        385,
        386,
        387,
        388,
        389,
        390,
        397,
        398,
        400,
        402,
        405,
        409,
        415,
        454,
        466,
        468,
        469,
        470,
        471,
        472,
        473,
        474,
        475,
        476,
        477,
    ]
)
EYE_BLINK_LEFT, EYE_BLINK_RIGHT, JAW_OPEN = 9, 10, 25

# Mesh indices. "Right" is the subject's right (the image's left in an unmirrored frame).
RIGHT_EYE = (33, 160, 158, 133, 153, 144)  # outer corner, upper lid x2, inner corner, lower lid x2
LEFT_EYE = (263, 387, 385, 362, 380, 373)
NOSE_TIP = 1
CHEEK_RIGHT, CHEEK_LEFT = 234, 454  # the face's sides at the cheekbones
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
MOUTH_RIGHT_INNER, MOUTH_LEFT_INNER = 78, 308
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
# Points on or near one plane (face sides at eye level and below, eye corners) and off it (nose):
# the parallax check asks whether a turn moves the nose off the plane those points define.
PLANE_POINTS = np.array([127, 234, 93, 356, 454, 323, 33, 133, 362, 263])
NOSE_POINTS = np.array([1, 2])
# Points that move with the skull, not with expressions: forehead, nose, temples and cheekbones (no
# eyelids, eye corners, brows, lips or jaw, which the actions move, or which an edit of a still
# picture imitating an action would move).
RIGID_POINTS = np.array([10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 109, 338, 67, 297, 127, 356, 234, 454, 116, 345])
# The parts of the face the actions move: both eyes with their brows, and the mouth with the chin.
EYE_REGIONS = (
    np.array([33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246, 70, 63, 105, 66, 107]),
    np.array([263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466, 300, 293, 334, 296, 336]),
)
MOUTH_REGION = np.array(
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185, 152]
)

# The forehead-to-nose line of a face looking straight ahead leans back by this much in the mesh's
# depth (median over 300 LFW development images): subtracted so that such a face has pitch 0.
_NEUTRAL_PITCH_DEG = 4.0
FOREHEAD, SUBNASALE = 10, 2


@dataclass(frozen=True)
class FaceGeometry:
    points: np.ndarray  # (478, 2) image pixels
    yaw: float  # degrees, positive = subject turned to their right (nose toward the image left)
    pitch: float  # degrees, positive = looking up
    roll: float  # degrees, positive = head tilted clockwise in the image
    eye_openness: float  # mean eye aspect ratio of both eyes
    mouth_openness: float  # inner-lip gap over mouth width
    blink: float  # mean of the eyeBlinkLeft/Right blendshapes, 0..1
    jaw_open: float  # the jawOpen blendshape, 0..1
    presence: float  # the mesh model's face-presence score, 0..1

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.points[list(RIGHT_EYE)].mean(0) - self.points[list(LEFT_EYE)].mean(0)))

    def five_points(self) -> np.ndarray:
        """Eye centres, nose tip and mouth corners in YuNet's order (image-left eye first)."""
        return np.array(
            [
                self.points[list(RIGHT_EYE)].mean(0),
                self.points[list(LEFT_EYE)].mean(0),
                self.points[NOSE_TIP],
                self.points[MOUTH_RIGHT],
                self.points[MOUTH_LEFT],
            ],
            dtype=np.float32,
        )


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupova and Cech's EAR over six eye points: about 0.3 open, under 0.15 shut."""
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = 2.0 * np.linalg.norm(eye[0] - eye[3])
    return float(vertical / horizontal) if horizontal > 0 else 0.0


def yaw_pitch(mesh: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch in degrees from the mesh's 3D points (x, y in the level crop, z its depth in
    the same unit, smaller is nearer), using rigid points only: the line between the face's sides
    at the cheekbones turns with the yaw, the line from forehead to nose base with the pitch.

    The mesh's own depth is used rather than a 2D model of the head: a cylinder fitted to the 2D
    points read the turns of the labelled clips with a per-frame AUC of 0.825, the 3D lines 0.845,
    and the 2D pitch moved with the yaw (a 40 degree turn read as a 30 degree nod)."""
    sides = mesh[CHEEK_LEFT] - mesh[CHEEK_RIGHT]
    yaw = float(np.degrees(np.arctan2(-sides[2], sides[0])))
    up = mesh[FOREHEAD] - mesh[SUBNASALE]
    pitch = float(np.degrees(np.arctan2(up[2], -up[1]))) - _NEUTRAL_PITCH_DEG
    return yaw, pitch


def face_square(five: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The face's centre, side and in-plane angle (degrees) from five points (eyes, nose, mouth
    corners), by one rule whether the points are YuNet's or the mesh's: a capture's face is found
    by YuNet once and then followed by the mesh, and a region that changed with the source of its
    points would move the mesh's answer on a still face (it did, by 10 % in scale). The constants
    put the square where YuNet's box is, on average over 500 LFW and NUAA faces: its centre 0.35 of
    the way from the eyes' midpoint to the mouth's, its side 2.8 times the larger of the eye distance
    and the eye-to-mouth distance (the larger, so that a turn or a nod does not shrink it)."""
    eyes = (five[0] + five[1]) / 2.0
    mouth = (five[3] + five[4]) / 2.0
    centre = eyes + 0.35 * (mouth - eyes)
    side = 2.8 * max(float(np.linalg.norm(mouth - eyes)), float(np.linalg.norm(five[1] - five[0])), 3.0)
    angle = float(np.degrees(np.arctan2(five[1][1] - five[0][1], five[1][0] - five[0][0])))
    return centre, side, angle


def roi_transform(five: np.ndarray) -> np.ndarray:
    """The 2x3 affine map from image pixels to the mesh model's 256x256 input: the face square
    enlarged 1.5 times (MediaPipe's region of interest), turned so the eyes are level."""
    centre, side, angle = face_square(five)
    warp = np.asarray(
        cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, INPUT_SIDE / (side * ROI_SCALE)),
        dtype=np.float64,
    )
    warp[:, 2] += INPUT_SIDE / 2.0 - centre
    return warp


class _Models:
    """One thread's LiteRT interpreters (an interpreter is not safe to share between threads)."""

    def __init__(self, mesh: bytes, blendshapes: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.mesh = Interpreter(model_content=mesh, num_threads=1)
        self.mesh.allocate_tensors()
        self.mesh_in = self.mesh.get_input_details()[0]["index"]
        self.mesh_out = [d["index"] for d in self.mesh.get_output_details()[:2]]  # points, presence logit
        self.shapes = Interpreter(model_content=blendshapes, num_threads=1)
        self.shapes.allocate_tensors()
        self.shapes_in = self.shapes.get_input_details()[0]["index"]
        self.shapes_out = self.shapes.get_output_details()[0]["index"]


class LandmarkModel:
    model_id = "mediapipe-facemesh-v2+blendshapes-v2"

    def __init__(self, task_path: Path, instances: int = 1) -> None:
        with zipfile.ZipFile(task_path) as bundle:
            mesh, shapes = bundle.read("face_landmarks_detector.tflite"), bundle.read("face_blendshapes.tflite")
        self._models = ModelPool(lambda: _Models(mesh, shapes), instances)

    def geometry(self, image_bgr: np.ndarray, face: DetectedFace) -> FaceGeometry:
        """The mesh on the face whose five points are given (YuNet's, or the previous frame's mesh),
        mapped back to image coordinates, and what it measures."""
        warp = roi_transform(face.landmarks)
        crop = cv2.warpAffine(
            image_bgr, warp, (INPUT_SIDE, INPUT_SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        back = cv2.invertAffineTransform(warp)
        with self._models.use() as m:
            m.mesh.set_tensor(m.mesh_in, (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)[None])
            m.mesh.invoke()
            mesh = m.mesh.get_tensor(m.mesh_out[0]).reshape(478, 3).copy()  # the tensor is the interpreter's
            presence = float(1.0 / (1.0 + np.exp(-float(m.mesh.get_tensor(m.mesh_out[1]).ravel()[0]))))
            points = np.hstack([mesh[:, :2], np.ones((478, 1), np.float32)]).astype(np.float64) @ back.T
            m.shapes.set_tensor(m.shapes_in, points[BLENDSHAPE_POINTS][None].astype(np.float32))
            m.shapes.invoke()
            scores = m.shapes.get_tensor(m.shapes_out).ravel().copy()
        yaw, pitch = yaw_pitch(mesh)
        eyes = (points[list(RIGHT_EYE)].mean(0), points[list(LEFT_EYE)].mean(0))
        roll = float(np.degrees(np.arctan2(eyes[1][1] - eyes[0][1], eyes[1][0] - eyes[0][0])))
        ear = (eye_aspect_ratio(points[list(RIGHT_EYE)]) + eye_aspect_ratio(points[list(LEFT_EYE)])) / 2.0
        mouth_width = float(np.linalg.norm(points[MOUTH_RIGHT_INNER] - points[MOUTH_LEFT_INNER])) or 1.0
        mouth_gap = float(np.linalg.norm(points[UPPER_LIP_INNER] - points[LOWER_LIP_INNER]))
        return FaceGeometry(
            points,
            yaw,
            pitch,
            roll,
            ear,
            mouth_gap / mouth_width,
            float((scores[EYE_BLINK_LEFT] + scores[EYE_BLINK_RIGHT]) / 2.0),
            float(scores[JAW_OPEN]),
            presence,
        )
