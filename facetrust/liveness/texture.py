"""Passive presentation-attack detection from the colour texture of the face.

A face re-captured from paper or a screen has passed through a second imaging chain (printer ink
and paper, or a display's gamut, gamma and pixel grid) before reaching the camera. That leaves
traces in the *chrominance* texture of the face that a live face does not have, and that a
grey-level texture descriptor largely misses: colour-texture analysis after Boulkenafet, Komulainen
and Hadid (2015, "Face anti-spoofing based on color texture analysis", ICIP) describes a face crop
by uniform LBP histograms of each channel of two colour spaces that separate luminance from
chrominance (HSV and YCbCr) and classifies them with a linear model.

Here the model is a logistic regression on standardised features, trained offline by
``scripts/train_pad_texture.py`` and shipped as a small JSON file (``pad_texture_v1.json``) that is
applied with numpy alone: the runtime needs only numpy and OpenCV. The score of a frame is the
probability that it shows an attack; a capture is decided on the mean of the frame scores over a
window of up to ``window`` consecutive frames, compared with the shipped ``threshold``. This is one
liveness signal among several; see ``docs/pad-texture.md`` for the data, the error rates measured
on held-out subjects and what the model cannot be expected to catch.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from facetrust.biometrics.detect import DetectedFace

DEFAULT_WEIGHTS = Path(__file__).with_name("pad_texture_v1.json")

FORMAT = "facetrust-pad-texture"
FORMAT_VERSION = 1
MODEL_NAME = "colour-lbp-v1"

# The crop: the detector's box made square on its longer side, enlarged a little so that the whole
# face is inside it but little background is (the background and the hands or sheet edges around a
# face are cues of the data set, not of attacks in general), resampled with area averaging. 192 px
# keeps most of the face's native detail at webcam distances (NUAA faces are about 200 px wide):
# the re-capture traces (halftone, moire, second blur and noise) are fine texture, and in CV on the
# training subjects the error fell steadily from 64 to 192 px (docs/pad-texture.md).
CROP_SIZE = 192
CROP_ENLARGE = 1.2

COLOUR_SPACES = ("HSV", "YCrCb")
_COLOUR_CODES = {"HSV": cv2.COLOR_BGR2HSV, "YCrCb": cv2.COLOR_BGR2YCrCb}

# Neighbours of the square 8-neighbourhood at distance r, in circular order (the 3x3 LBP of Ojala
# et al. for r = 1 and its dilated form for larger r): no interpolation, so cheap and exactly
# reproducible between the training script and the runtime.
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _uniform_table() -> np.ndarray:
    """8-bit LBP code -> bin: the 58 uniform codes (at most two 0/1 transitions around the circle)
    get a bin each, in code order, and every other code shares bin 58."""
    table = np.full(256, 58, dtype=np.int64)
    nxt = 0
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        if sum(bits[i] != bits[(i + 1) % 8] for i in range(8)) <= 2:
            table[code] = nxt
            nxt += 1
    return table


_UNIFORM = _uniform_table()
LBP_BINS = 59


@dataclass(frozen=True)
class FeatureSpec:
    """What the feature vector is made of; stored in the weights file so that the runtime computes
    exactly the features the classifier was trained on."""

    radii: tuple[int, ...] = (1, 2)  # one uniform LBP(8, r) histogram per channel per radius
    sqrt_hist: bool = True  # Hellinger map of the histograms: a linear model on histograms does better
    spectrum_bands: int = 0  # log-power bands of the luminance spectrum (screen moiré, print blur); 0 = none

    @property
    def n_features(self) -> int:
        return len(COLOUR_SPACES) * 3 * len(self.radii) * LBP_BINS + self.spectrum_bands

    def to_dict(self) -> dict[str, Any]:
        return {
            "colour_spaces": list(COLOUR_SPACES),
            "lbp_points": 8,
            "lbp_radii": list(self.radii),
            "lbp_mapping": "uniform-59",
            "sqrt_hist": self.sqrt_hist,
            "spectrum_bands": self.spectrum_bands,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "FeatureSpec":
        if not isinstance(data, dict):
            raise ValueError("'features' must be an object")
        if data.get("colour_spaces") != list(COLOUR_SPACES) or data.get("lbp_points") != 8 \
                or data.get("lbp_mapping") != "uniform-59":
            raise ValueError(f"unsupported feature spec {data!r}: this runtime computes uniform LBP(8, r) "
                             f"on {list(COLOUR_SPACES)}")
        radii = data.get("lbp_radii")
        if not isinstance(radii, list) or not radii or not all(
                isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 4 for r in radii):
            raise ValueError(f"'lbp_radii' must be a non-empty list of integers 1..4, not {radii!r}")
        bands = data.get("spectrum_bands")
        if not isinstance(bands, int) or isinstance(bands, bool) or not 0 <= bands <= 32:
            raise ValueError(f"'spectrum_bands' must be an integer 0..32, not {bands!r}")
        sqrt_hist = data.get("sqrt_hist")
        if not isinstance(sqrt_hist, bool):
            raise ValueError("'sqrt_hist' must be true or false")
        return cls(radii=tuple(radii), sqrt_hist=sqrt_hist, spectrum_bands=bands)


def face_crop(image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
    """The square CROP_SIZE x CROP_SIZE BGR crop the model expects.

    Parts of the enlarged box outside the image are filled by replicating the edge, so that a face
    at the border still gives a crop of the usual scale instead of a stretched one.
    """
    if not isinstance(image_bgr, np.ndarray) or image_bgr.dtype != np.uint8 or image_bgr.ndim != 3 \
            or image_bgr.shape[2] != 3:
        raise ValueError("image_bgr must be a uint8 BGR image of shape (height, width, 3)")
    x, y, w, h = (float(v) for v in face.box)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise ValueError(f"invalid face box {face.box!r}")
    side = max(w, h) * CROP_ENLARGE
    x0 = int(round(x + w / 2.0 - side / 2.0))
    y0 = int(round(y + h / 2.0 - side / 2.0))
    s = max(2, int(round(side)))
    height, width = image_bgr.shape[:2]
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(width, x0 + s), min(height, y0 + s)
    if cx1 <= cx0 or cy1 <= cy0:
        raise ValueError(f"face box {face.box!r} lies outside the {width}x{height} image")
    region = image_bgr[cy0:cy1, cx0:cx1]
    pads = (cy0 - y0, y0 + s - cy1, cx0 - x0, x0 + s - cx1)
    if any(pads):
        region = cv2.copyMakeBorder(region, *pads, cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if s >= CROP_SIZE else cv2.INTER_LINEAR
    return cv2.resize(region, (CROP_SIZE, CROP_SIZE), interpolation=interpolation)


def lbp_histograms(image: np.ndarray, radius: int) -> np.ndarray:
    """Normalised 59-bin uniform LBP(8, radius) histogram of each channel of a uint8 image
    (height x width x channels); shape (channels, 59). A neighbour equal to the centre counts as 1.

    The comparisons run in OpenCV on all channels at once: with numpy this was most of a frame's
    time at this crop size.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    r = radius
    h, w, c = image.shape
    centre = image[r:h - r, r:w - r]
    code = np.zeros(centre.shape, dtype=np.uint8)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        neighbour = image[r + dy * r:h - r + dy * r, r + dx * r:w - r + dx * r]
        ge = cv2.compare(neighbour, centre, cv2.CMP_GE).reshape(code.shape)  # 255 where >=
        code |= ge & np.uint8(1 << bit)
    out = np.empty((c, LBP_BINS), dtype=np.float64)
    for i in range(c):
        counts = cv2.calcHist([code], [i], None, [256], [0, 256]).ravel()
        out[i] = np.bincount(_UNIFORM, weights=counts, minlength=LBP_BINS)
    return out / out.sum(axis=1, keepdims=True)


def _band_index(size: int, bands: int) -> np.ndarray:
    """Per rfft2 coefficient of a size x size image, its radial band (0..bands-1), or -1 for the DC
    term and the corners beyond the Nyquist circle."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.sqrt(fx**2 + fy**2) / 0.5  # 1.0 at Nyquist
    index = np.floor(radius * bands).astype(np.int64)
    index[(radius <= 0) | (radius >= 1.0)] = -1
    return index


_BAND_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def spectrum_features(luma: np.ndarray, bands: int) -> np.ndarray:
    """Log power of the (Hann-windowed) luminance in ``bands`` radial frequency bands, relative to
    their mean, so that overall contrast and brightness drop out and the shape of the spectrum is
    left: a print is short of high frequencies, a screen's moiré adds a peak."""
    size = luma.shape[0]
    key = (size, bands)
    if key not in _BAND_CACHE:
        window = np.outer(np.hanning(size), np.hanning(size))
        _BAND_CACHE[key] = (_band_index(size, bands), window)
    index, window = _BAND_CACHE[key]
    signal = luma.astype(np.float64)
    signal = (signal - signal.mean()) * window
    power = np.abs(np.fft.rfft2(signal)) ** 2
    valid = index >= 0
    sums = np.bincount(index[valid], weights=power[valid], minlength=bands)
    counts = np.bincount(index[valid], minlength=bands)
    logp = np.log(sums / np.maximum(counts, 1) + 1e-6)
    return logp - logp.mean()


def extract_features(crop: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """The feature vector of one face crop (BGR uint8, as ``face_crop`` makes it)."""
    if crop.shape != (CROP_SIZE, CROP_SIZE, 3) or crop.dtype != np.uint8:
        raise ValueError(f"expected a {CROP_SIZE}x{CROP_SIZE} BGR uint8 crop, got {crop.shape} {crop.dtype}")
    return features_any_size(crop, spec)


def features_any_size(crop: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """``extract_features`` without the crop-size check, for the training script's crop-size study."""
    converted = [cv2.cvtColor(crop, _COLOUR_CODES[name]) for name in COLOUR_SPACES]
    channels = np.concatenate(converted, axis=2)
    # Order: colour space, channel, radius (each block one 59-bin histogram).
    hist = np.stack([lbp_histograms(channels, r) for r in spec.radii], axis=1).ravel()
    if spec.sqrt_hist:
        hist = np.sqrt(hist)
    if spec.spectrum_bands:
        luma = converted[COLOUR_SPACES.index("YCrCb")][:, :, 0]
        hist = np.concatenate([hist, spectrum_features(luma, spec.spectrum_bands)])
    return hist


def _finite_list(data: dict, key: str, length: int) -> np.ndarray:
    value = data.get(key)
    if not isinstance(value, list) or len(value) != length or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"'{key}' must be a list of {length} numbers")
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"'{key}' holds non-finite values")
    return array


def payload_digest(payload: dict) -> str:
    """SHA-256 of the weights file's content without its checksum, in a canonical JSON form: it
    catches a file edited or truncated after training (integrity, not authenticity)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class TextureModel:
    """The shipped colour-texture classifier: feature extraction, standardisation and a logistic
    regression, with the operating threshold chosen on the training subjects."""

    def __init__(self, payload: dict, file_sha256: str) -> None:
        self.spec = FeatureSpec.from_dict(payload["features"])
        n = self.spec.n_features
        self.mean = _finite_list(payload["scaler"], "mean", n)
        self.scale = _finite_list(payload["scaler"], "scale", n)
        if np.any(self.scale <= 0):
            raise ValueError("'scale' values must be positive")
        self.coef = _finite_list(payload["classifier"], "coef", n)
        intercept = payload["classifier"].get("intercept")
        if not isinstance(intercept, (int, float)) or isinstance(intercept, bool) or not math.isfinite(intercept):
            raise ValueError("'intercept' must be a finite number")
        self.intercept = float(intercept)
        # Folding the scaler into the weights: one dot product per frame at run time.
        self._w = self.coef / self.scale
        self._b = self.intercept - float(self._w @ self.mean)
        self.threshold: float = float(payload["threshold"])
        self.window: int = int(payload["window"])
        self.model_id: str = f"{MODEL_NAME}:{file_sha256[:12]}"
        self.provenance: dict = payload.get("provenance", {})

    @classmethod
    def load(cls, path: Path | None = None) -> "TextureModel":
        """The model in ``path`` (default: the shipped weights). A file that is not exactly what the
        training script writes is refused with ValueError: a silently mis-read model would give
        plausible-looking but meaningless scores."""
        path = Path(path) if path is not None else DEFAULT_WEIGHTS
        raw = path.read_bytes()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a valid JSON weights file ({exc})") from exc
        try:
            return cls(cls._validated(data), hashlib.sha256(raw).hexdigest())
        except ValueError as exc:
            raise ValueError(f"{path}: refused PAD texture weights: {exc}") from exc

    @staticmethod
    def _validated(data: Any) -> dict:
        if not isinstance(data, dict):
            raise ValueError("the top level must be an object")
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"expected format {FORMAT!r} version {FORMAT_VERSION}, got "
                             f"{data.get('format')!r} version {data.get('format_version')!r}")
        payload = {k: v for k, v in data.items() if k != "sha256"}
        if data.get("sha256") != payload_digest(payload):
            raise ValueError("checksum mismatch: the file was changed after training")
        for key in ("features", "crop", "scaler", "classifier"):
            if not isinstance(data.get(key), dict):
                raise ValueError(f"'{key}' must be an object")
        crop = data["crop"]
        if crop.get("size") != CROP_SIZE or crop.get("enlarge") != CROP_ENLARGE:
            raise ValueError(f"crop spec {crop!r} differs from this runtime's "
                             f"(size {CROP_SIZE}, enlarge {CROP_ENLARGE})")
        if data["classifier"].get("type") != "logistic":
            raise ValueError("'classifier.type' must be 'logistic'")
        threshold = data.get("threshold")
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0.0 < threshold < 1.0:
            raise ValueError(f"'threshold' must be a number strictly between 0 and 1, not {threshold!r}")
        window = data.get("window")
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ValueError(f"'window' must be a positive integer, not {window!r}")
        return data

    def features(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([extract_features(c, self.spec) for c in crops]) if len(crops) else \
            np.zeros((0, self.spec.n_features))

    def frame_scores(self, crops: list[np.ndarray]) -> np.ndarray:
        """Attack probability (0..1) of each crop made by ``face_crop``."""
        z = self.features(crops) @ self._w + self._b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def frame_score(self, image_bgr: np.ndarray, face: DetectedFace) -> float:
        """Attack probability (0..1) of one frame's face."""
        return float(self.frame_scores([face_crop(image_bgr, face)])[0])

    def sequence_score(self, frame_scores: Sequence[float]) -> float:
        """The score a capture is decided on: the mean frame score over its last ``window`` frames.
        Averaging is what makes the threshold hold: single frames are much noisier."""
        scores = np.asarray(frame_scores, dtype=np.float64)[-self.window:]
        if scores.size == 0:
            raise ValueError("no frame scores")
        return float(scores.mean())

    def is_attack(self, sequence_score: float) -> bool:
        return sequence_score >= self.threshold
