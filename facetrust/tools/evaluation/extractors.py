"""Per-image template extraction for evaluation, ours and the face_recognition peer's.

Both run the same way (the same worker processes and threads per worker, timed per image from the
file's bytes to the template), so that their speed ratio is measured in the same run on the same images. Each
worker builds its models once in its initialiser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SYSTEMS = ("facetrust", "face_recognition")


@dataclass(frozen=True)
class Extracted:
    vector: np.ndarray | None  # None: failure to enrol
    ms: float
    note: str  # why it failed, or the quality reasons it carried


class _FaceTrust:
    def __init__(self, threads: int) -> None:
        from facetrust.bootstrap import face_engine
        from facetrust.settings import get_settings

        settings = get_settings().model_copy(update={"threads": threads})
        self.engine = face_engine(settings)

    def extract(self, path: Path) -> Extracted:
        data = path.read_bytes()
        t0 = time.perf_counter()
        analysis = self.engine.analyse(data)
        ms = (time.perf_counter() - t0) * 1000
        if analysis.template is None:
            return Extracted(None, ms, "no_face")
        return Extracted(analysis.template.vector, ms, ",".join(analysis.quality.reasons))


class _FaceRecognition:
    """The face_recognition library as its users run it: HOG detector at its default one upsample,
    5-point alignment, 128-d encodings compared by Euclidean distance (returned here as a unit-free
    vector; the caller negates distances). Of several faces, the one nearest the centre is used,
    the same rule our pipeline applies."""

    def __init__(self, threads: int) -> None:  # dlib's HOG and ResNet take no thread setting
        import face_recognition  # installed for evaluation only (see README)

        self.fr = face_recognition

    def extract(self, path: Path) -> Extracted:
        t0 = time.perf_counter()
        image = self.fr.load_image_file(str(path))
        locations = self.fr.face_locations(image)
        if not locations:
            return Extracted(None, (time.perf_counter() - t0) * 1000, "no_face")
        cy, cx = image.shape[0] / 2.0, image.shape[1] / 2.0
        loc = min(locations, key=lambda b: ((b[0] + b[2]) / 2 - cy) ** 2 + ((b[1] + b[3]) / 2 - cx) ** 2)
        encoding = self.fr.face_encodings(image, known_face_locations=[loc])[0]
        return Extracted(np.asarray(encoding, dtype=np.float64), (time.perf_counter() - t0) * 1000, "")


_worker: _FaceTrust | _FaceRecognition | None = None


def init_worker(system: str, threads: int) -> None:
    global _worker
    import cv2

    _worker = _FaceTrust(threads) if system == "facetrust" else _FaceRecognition(threads)
    cv2.setNumThreads(threads)  # after the engine, which sets one thread for its own workers


def extract(path: Path) -> Extracted:
    assert _worker is not None, "init_worker was not called in this process"
    return _worker.extract(path)
