"""What the engine sees in one capture, with the least work per frame.

A capture is one face filmed for a second or two, so it is found once and then followed: YuNet
runs on the first frame (and on the last, so a second face that walked in is seen; at a 240 side it
saw a face in a stock shot's background that a 320 side does not), and every other frame's face region comes from the previous frame's mesh, as MediaPipe's own
tracker does. The mesh runs on every frame (the actions, the continuity and the stillness checks
read it). Embeddings run only where the decision needs them: the most frontal frame (the face the
flows compare) and the first and last frames (one person throughout; a face swapped in between is
also a splice). Measured on 512x480 frames, one core: YuNet 5-7 ms at a 320 side, the
mesh with its blendshapes 6-7 ms, an embedding with its quality measures about 20 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from facetrust.biometrics.detect import DetectedFace, choose_subject
from facetrust.biometrics.engine import FaceAnalysis, FaceEngine
from facetrust.biometrics.landmarks import FaceGeometry, face_square
from facetrust.biometrics.templates import Template
from facetrust.liveness.frames import Frame

DETECT_SIDE = 320  # a capture's face fills much of the frame: a 320 side finds it at a quarter the cost
MIN_PRESENCE = 0.5  # the mesh's own face-presence score below which the track is lost
THUMB_SIZE = (64, 48)  # the whole frame, small: background and light between frames


@dataclass(frozen=True)
class FrameView:
    """One frame of a capture: its face (None if none), how it was found, and a small grey
    thumbnail of the whole frame."""

    face: DetectedFace | None
    geometry: FaceGeometry | None
    detected: bool  # YuNet ran on this frame (else the face was tracked from the previous one)
    faces_found: int  # by YuNet on this frame; 1 for a tracked face
    crowded: bool  # YuNet saw a second face at least ``second_face_ratio`` the subject's size
    thumb: np.ndarray  # float32 THUMB_SIZE grey


@dataclass
class Observed:
    frames: list[Frame]
    views: list[FrameView]
    reference: FaceAnalysis | None = None  # the most frontal frame: quality and template
    templates: dict[int, Template] = field(default_factory=dict)  # every embedded frame's template

    @property
    def with_face(self) -> list[int]:
        return [i for i, v in enumerate(self.views) if v.geometry is not None]

    def most_frontal(self) -> int | None:
        return min(
            self.with_face,
            default=None,
            key=lambda i: abs(self.views[i].geometry.yaw) + abs(self.views[i].geometry.pitch),  # type: ignore[union-attr]
        )

    def geometry(self, name: str) -> np.ndarray:
        """One per-frame measure of the subject's geometry, NaN where a frame had no face."""
        return np.array([getattr(v.geometry, name) if v.geometry else np.nan for v in self.views])

    @property
    def t_ms(self) -> np.ndarray:
        return np.array([f.t_ms for f in self.frames])


# The tracked region stays put until the face has moved this much (fractions of its side, degrees):
# on a face that holds still, every frame's mesh then sees the same crop, so the mesh's own jitter
# (0.12 px at a 70 px eye distance when the region followed every frame, 0.08 px when it stayed)
# is not mistaken for motion, nor motion hidden by it.
ROI_HOLD_SHIFT, ROI_HOLD_SCALE, ROI_HOLD_DEG = 0.02, 0.02, 1.0


def tracked_face(geometry: FaceGeometry, previous: DetectedFace) -> DetectedFace:
    """Where the face is in the next frame, from this frame's mesh (as MediaPipe derives its next
    region of interest from the landmarks): the mesh's five points and the square they define, or
    the previous region while the face stays within it."""
    five = geometry.five_points().astype(np.float64)
    centre, side, angle = face_square(five)
    old_centre, old_side, old_angle = face_square(previous.landmarks)
    if (
        np.linalg.norm(centre - old_centre) < ROI_HOLD_SHIFT * old_side
        and abs(side / old_side - 1.0) < ROI_HOLD_SCALE
        and abs(angle - old_angle) < ROI_HOLD_DEG
    ):
        return previous
    return DetectedFace((centre[0] - side / 2.0, centre[1] - side / 2.0, side, side), five, previous.score)


def _thumb(pixels: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def _detect(engine: FaceEngine, pixels: np.ndarray) -> tuple[DetectedFace | None, int, bool]:
    faces = engine.detector.detect(pixels, DETECT_SIDE)
    subject = choose_subject(faces, pixels.shape)
    if subject is None:
        return None, 0, False
    ratio = engine.limits.second_face_ratio
    crowded = any(f is not subject and f.area >= ratio * subject.area for f in faces)
    return subject, len(faces), crowded


def _settled(engine: FaceEngine, pixels: np.ndarray, face: DetectedFace) -> tuple[DetectedFace, FaceGeometry]:
    """The mesh of a face YuNet found, run once on YuNet's points and again on its own: every
    frame's mesh then comes from a region its own kind of points defined (YuNet's mouth corners sit
    higher than the mesh's, and a still face's first frame jumped by 0.4 px against the rest)."""
    first = engine.landmarks.geometry(pixels, face)
    own = tracked_face(first, DetectedFace(face.box, first.five_points().astype(np.float64), face.score))
    return own, engine.landmarks.geometry(pixels, own)


def _follow(engine: FaceEngine, frames: list[Frame], detect_last: bool) -> list[FrameView]:
    """One worker's run of consecutive frames: detect on the first, track through the rest (and
    detect again where the track is lost). With ``detect_last`` YuNet also looks at the last frame,
    for a second face only."""
    views: list[FrameView] = []
    previous: FrameView | None = None
    for k, frame in enumerate(frames):
        face, geometry, found, crowded, detected = None, None, 1, False, False
        if previous is not None and previous.geometry is not None:
            face = tracked_face(previous.geometry, previous.face)  # type: ignore[arg-type]
            geometry = engine.landmarks.geometry(frame.pixels, face)
        if geometry is None or geometry.presence < MIN_PRESENCE:
            face, found, crowded = _detect(engine, frame.pixels)
            detected = True
            face, geometry = _settled(engine, frame.pixels, face) if face is not None else (None, None)
            if geometry is not None and geometry.presence < MIN_PRESENCE:
                face, geometry = None, None
        elif detect_last and k == len(frames) - 1:
            _, found, crowded = _detect(engine, frame.pixels)
            detected = True
        previous = FrameView(face, geometry, detected, found, crowded, _thumb(frame.pixels))
        views.append(previous)
    return views


def observe(engine: FaceEngine, frames: list[Frame]) -> Observed:
    """Find the face once and follow it through the frames in order, then embed the most frontal
    frame and the first and last frames with a face (on the engine's workers, together). Both ends:
    with only the end farther from the most frontal frame, a face swapped in on the nearer side
    went unseen by the identity check.

    One chain, not one per worker: each chain costs a detection and a second mesh pass to settle
    it (about 14 ms of CPU), and a capture's CPU is what a busy terminal fleet pays for."""
    views = _follow(engine, frames, True)
    seen = Observed(frames, views)
    ref = seen.most_frontal()
    if ref is not None:
        ends = [i for i in (seen.with_face[0], seen.with_face[-1]) if i != ref]

        def embed(i: int):
            view = views[i]
            if i == ref:  # the face the flows compare: its quality is judged too
                return engine.analyse_face(frames[i].pixels, [view.face], view.face, view.geometry)  # type: ignore[list-item, arg-type]
            return engine.embed(frames[i].pixels, view.geometry)  # type: ignore[arg-type]

        reference, *others = engine.map(embed, [ref, *sorted(set(ends))])
        seen.reference = reference
        seen.templates = {ref: reference.template, **dict(zip(sorted(set(ends)), others))}
    return seen
