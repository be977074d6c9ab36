"""The biometric engine: image bytes in; face, quality, template and calibrated decisions out.

One object holds the loaded models (they are expensive to load, cheap to call) and is safe to share
between threads. Everything here is a pure function of its inputs and the model files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from facetrust.biometrics import calibration as calibration_mod
from facetrust.biometrics import modelfiles
from facetrust.biometrics.calibration import Calibration
from facetrust.biometrics.detect import DetectedFace, YuNetDetector, choose_subject
from facetrust.biometrics.embed import SFaceEmbedder
from facetrust.biometrics.errors import CalibrationError, FaceNotUsable, TemplateMismatch
from facetrust.biometrics.intake import DecodedImage, decode_image
from facetrust.biometrics.landmarks import FaceGeometry, LandmarkModel
from facetrust.biometrics.quality import QualityReport, QualityThresholds, Reason, assess
from facetrust.biometrics.templates import Template, similarity
from facetrust.biometrics.turns import Turns

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class FaceAnalysis:
    """Everything the engine saw in one image. ``template`` is set whenever a face was found,
    even one that failed the quality gate: callers decide whether soft reasons are acceptable."""

    width: int
    height: int
    faces_found: int
    subject: DetectedFace | None
    geometry: FaceGeometry | None
    quality: QualityReport
    template: Template | None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def require_usable(self) -> Template:
        """The template, or FaceNotUsable with every quality reason."""
        if self.template is None or not self.quality.passed:
            raise FaceNotUsable(self.quality.message() or "no usable face", list(self.quality.reasons))
        return self.template


@dataclass(frozen=True)
class MatchDecision:
    match: bool
    score: float
    threshold: float
    profile: str
    target_fmr: float
    model_id: str
    calibration_id: str

    def as_dict(self) -> dict:
        return {
            "match": self.match,
            "score": round(self.score, 6),
            "threshold": round(self.threshold, 6),
            "profile": self.profile,
            "target_fmr": self.target_fmr,
            "model_id": self.model_id,
            "calibration_id": self.calibration_id,
        }


@dataclass(frozen=True)
class EngineConfig:
    """What the engine reads: its model files, its workers, the detector's and the intake's limits and
    the quality gate. The engine takes this, not the service's settings, so it stays a library that
    imports nothing of the service (``facetrust.bootstrap.engine_config`` makes it from settings)."""

    models_dir: Path
    threads: int
    detector_score_threshold: float
    detector_max_side: int
    max_image_bytes: int
    max_image_pixels: int
    min_image_side: int
    quality: QualityThresholds


class FaceEngine:
    def __init__(self, config: EngineConfig, calibration: Calibration | None = None) -> None:
        # The cores are shared out by images, not inside one: OpenCV runs single-threaded and the
        # engine's ``threads`` workers take whole images, first come first served. Splitting each
        # network over both cores cost about a tenth more CPU per image, and when concurrent requests
        # each split theirs, every request shared every core and all of them finished late.
        cv2.setNumThreads(1)
        self.workers = max(1, config.threads)
        models_dir = config.models_dir
        self._workers = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="face")
        self.turns = Turns()  # whole jobs of several ``map`` rounds (a capture) take turns
        self.detector = YuNetDetector(
            modelfiles.require(models_dir, "face_detection_yunet_2023mar.onnx"),
            config.detector_score_threshold,
            config.detector_max_side,
            self.workers,
        )
        self.landmarks = LandmarkModel(modelfiles.require(models_dir, "face_landmarker.task"), self.workers)
        self.embedder = SFaceEmbedder(
            modelfiles.require(models_dir, "face_recognition_sface_2021dec.onnx"), self.workers
        )
        self._calibration = calibration
        self.config = config
        self.limits = config.quality

    @property
    def calibration(self) -> Calibration:
        """The decision thresholds; loaded on first use, since extraction alone needs none."""
        if self._calibration is None:
            self._calibration = calibration_mod.load()
        if self._calibration.model_id != self.embedder.model_id:
            raise CalibrationError(
                f"calibration {self._calibration.calibration_id} is for model "
                f"{self._calibration.model_id}, not {self.embedder.model_id}"
            )
        return self._calibration

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def decode(self, data: bytes, max_decoded_pixels: int | None = None) -> DecodedImage:
        return decode_image(
            data,
            max_bytes=self.config.max_image_bytes,
            max_pixels=self.config.max_image_pixels,
            min_side=self.config.min_image_side,
            max_decoded_pixels=max_decoded_pixels,
        )

    def analyse_pixels(self, image: np.ndarray) -> FaceAnalysis:
        """Detect, choose the subject, align, measure quality and embed one BGR image."""
        t0 = time.perf_counter()
        faces = self.detector.detect(image)
        subject = choose_subject(faces, image.shape)
        timings = {"detect": (time.perf_counter() - t0) * 1000}
        if subject is None:
            height, width = image.shape[:2]
            return FaceAnalysis(width, height, 0, None, None, QualityReport([Reason.NO_FACE]), None, timings)
        return self.analyse_face(image, faces, subject, None, timings)

    def analyse_face(
        self,
        image: np.ndarray,
        faces: list[DetectedFace],
        subject: DetectedFace,
        geometry: FaceGeometry | None = None,
        timings: dict[str, float] | None = None,
    ) -> FaceAnalysis:
        """Landmarks (unless already measured), alignment, quality and template of a face already
        found: a liveness capture finds and tracks its face once and embeds only the frames it needs."""
        timings = timings if timings is not None else {}
        t1 = time.perf_counter()
        geometry = geometry or self.landmarks.geometry(image, subject)
        crop = self.embedder.align(image, geometry)
        report = assess(faces, subject, crop, geometry, self.limits)
        t2 = time.perf_counter()
        timings["quality"] = (t2 - t1) * 1000
        template = Template(self.embedder.model_id, self.embedder.embed_crop(crop))
        timings["embed"] = (time.perf_counter() - t2) * 1000
        height, width = image.shape[:2]
        return FaceAnalysis(width, height, len(faces), subject, geometry, report, template, timings)

    def embed(self, image: np.ndarray, geometry: FaceGeometry) -> Template:
        """The template of a face whose landmarks are known, without judging its quality."""
        return Template(self.embedder.model_id, self.embedder.embed_crop(self.embedder.align(image, geometry)))

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` on the engine's workers, results in order. The items of one call
        are queued together, so a capture's frames are done before those of a capture that came
        later (a request waits for its turn, then gets every core)."""
        return list(self._workers.map(fn, items))

    def analyse_all(self, images: list[np.ndarray]) -> list[FaceAnalysis]:
        return self.map(self.analyse_pixels, images)

    def analyse(self, data: bytes) -> FaceAnalysis:
        t0 = time.perf_counter()
        decoded = self.decode(data)
        decode_ms = (time.perf_counter() - t0) * 1000
        analysis = self.analyse_pixels(decoded.pixels)
        analysis.timings_ms["decode"] = decode_ms
        return analysis

    def compare(self, a: Template, b: Template, profile: str) -> MatchDecision:
        prof = self.calibration.profile(profile)
        if a.model_id != self.calibration.model_id:
            raise TemplateMismatch(
                f"template of model {a.model_id!r} cannot be scored with a calibration for "
                f"{self.calibration.model_id!r}; re-enrol the face with the current model"
            )
        score = similarity(a, b)  # also refuses b of another model
        return MatchDecision(
            match=score > prof.threshold,
            score=score,
            threshold=prof.threshold,
            profile=prof.name,
            target_fmr=prof.target_fmr,
            model_id=a.model_id,
            calibration_id=self.calibration.calibration_id,
        )


@dataclass(frozen=True)
class Verification:
    decision: MatchDecision
    quality: tuple[QualityReport, QualityReport]

    def as_dict(self) -> dict:
        return {
            **self.decision.as_dict(),
            "quality": [
                {"passed": q.passed, "reasons": q.reasons, "measures": {k: round(v, 3) for k, v in q.measures.items()}}
                for q in self.quality
            ],
        }


def verify(engine: FaceEngine, image_a: bytes, image_b: bytes, profile: str) -> Verification:
    """1:1 verification of two images. A missing face is an error; softer quality problems are
    reported beside the decision so the caller's policy (strict for enrolment, lenient for an
    archive photo) decides what to do with them."""
    engine.calibration.profile(profile)  # unknown profile: fail before the expensive work
    analyses = [engine.analyse(image_a), engine.analyse(image_b)]
    for which, analysis in zip(("first", "second"), analyses):
        if analysis.template is None:
            raise FaceNotUsable(f"no face was found in the {which} image", [Reason.NO_FACE])
    decision = engine.compare(analyses[0].template, analyses[1].template, profile)  # type: ignore[arg-type]
    return Verification(decision, (analyses[0].quality, analyses[1].quality))
