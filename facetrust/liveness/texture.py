"""Passive presentation-attack detection from the texture of the face crop.

A face re-captured from paper or a screen has passed through a second imaging chain (printer ink
and paper, or a display's gamut, gamma and pixel grid) before reaching the camera, and that leaves
traces in the colour and fine texture of the face that a live face does not have.

Two model families share one crop (``face_crop``) and one interface (``load``, ``model_id``,
``threshold``, ``window``, ``frame_score``, ``frame_scores``, ``sequence_score``, ``is_attack``):

- ``CNNTextureModel`` (shipped, ``pad_cnn_v1.json`` + ``pad_cnn_v1.onnx``): a small CNN on the crop
  resized to 64 px, trained by ``scripts/train_pad_texture.py`` with PyTorch and run here with
  OpenCV's dnn module.
- ``ColourLBPModel``: colour-texture analysis after Boulkenafet, Komulainen and Hadid (2015, "Face
  anti-spoofing based on color texture analysis", ICIP): uniform LBP histograms of HSV and YCbCr
  and a logistic regression, applied with numpy. The training script trains it with the same
  protocol for comparison; its figures are in ``docs/pad-texture.md``.

``TextureModel`` is the shipped family: ``TextureModel.load()`` gives the shipped passive model.
The score of a frame is the probability that it shows an attack; a capture is decided on the mean of
its scored frames' scores (a few evenly spaced frames: ``capture_frames``), compared with the
shipped ``threshold``, which was chosen so that real faces of a capture domain left out of training
are rarely rejected. It is one liveness signal among several; see ``docs/pad-texture.md`` for the
data, the leave-one-source-out figures and what the model cannot be expected to catch.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import cv2
import numpy as np

from facetrust.biometrics.detect import DetectedFace

HERE = Path(__file__).parent
LBP_WEIGHTS_NAME = "pad_texture_v2.json"
CNN_WEIGHTS_NAME = "pad_cnn_v1.json"
CNN_ONNX_NAME = "pad_cnn_v1.onnx"

FORMAT = "facetrust-pad-texture"
FORMAT_VERSION = 2
MODEL_NAME = "colour-lbp-v2"
CNN_FORMAT = "facetrust-pad-cnn"
CNN_FORMAT_VERSION = 1
CNN_MODEL_NAME = "pad-cnn-v1"
CNN_MAX_BYTES = 2_000_000

# The crop: the detector's box made square on its longer side, enlarged a little so that the whole
# face is inside it but little background is (the background and the hands or sheet edges around a
# face are cues of the data set, not of attacks in general), resampled with area averaging. 192 px
# keeps most of the face's native detail at webcam distances (NUAA faces are about 200 px wide):
# the re-capture traces (halftone, moire, second blur and noise) are fine texture, and in CV on the
# training subjects the error fell steadily from 64 to 192 px (docs/pad-texture.md).
CROP_SIZE = 192
CROP_ENLARGE = 1.2


def crop_spec() -> dict:
    """The crop as the weights files record it (and the runtime checks)."""
    return {
        "size": CROP_SIZE,
        "enlarge": CROP_ENLARGE,
        "colour": "BGR",
        "resample": "INTER_AREA (INTER_LINEAR when enlarging)",
        "outside": "edge replicated",
    }


def capture_frames(n: int, k: int = 3) -> list[int]:
    """Positions of the ``k`` evenly spaced frames (first and last included) that a capture of ``n``
    frames with a face is scored on; all of them when n <= k. The threshold was chosen for the
    mean of 3 such frames of an 8-frame capture."""
    if n <= k:
        return list(range(n))
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, k)})


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
    def from_dict(cls, data: Any) -> FeatureSpec:
        if not isinstance(data, dict):
            raise ValueError("'features' must be an object")
        if (
            data.get("colour_spaces") != list(COLOUR_SPACES)
            or data.get("lbp_points") != 8
            or data.get("lbp_mapping") != "uniform-59"
        ):
            raise ValueError(
                f"unsupported feature spec {data!r}: this runtime computes uniform LBP(8, r) on {list(COLOUR_SPACES)}"
            )
        radii = data.get("lbp_radii")
        if (
            not isinstance(radii, list)
            or not radii
            or not all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 4 for r in radii)
        ):
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
    if (
        not isinstance(image_bgr, np.ndarray)
        or image_bgr.dtype != np.uint8
        or image_bgr.ndim != 3
        or image_bgr.shape[2] != 3
    ):
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
    centre = image[r : h - r, r : w - r]
    code = np.zeros(centre.shape, dtype=np.uint8)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        neighbour = image[r + dy * r : h - r + dy * r, r + dx * r : w - r + dx * r]
        ge = np.asarray(cv2.compare(neighbour, centre, cv2.CMP_GE), dtype=np.uint8).reshape(code.shape)  # 255 where >=
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
    if (
        not isinstance(value, list)
        or len(value) != length
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
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


def _check_common(data: dict) -> None:
    """Threshold, window and crop spec, shared by both families' files."""
    crop = data.get("crop")
    if not isinstance(crop, dict) or crop.get("size") != CROP_SIZE or crop.get("enlarge") != CROP_ENLARGE:
        raise ValueError(f"crop spec {crop!r} differs from this runtime's (size {CROP_SIZE}, enlarge {CROP_ENLARGE})")
    threshold = data.get("threshold")
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0.0 < threshold < 1.0:
        raise ValueError(f"'threshold' must be a number strictly between 0 and 1, not {threshold!r}")
    for key in ("window", "frames_per_capture"):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"'{key}' must be a positive integer, not {value!r}")


def _read_sealed(path: Path, fmt: str, version: int) -> tuple[dict, str]:
    """The JSON object in ``path`` after the format and checksum checks, and the file's sha256."""
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a valid JSON weights file ({exc})") from exc
    try:
        if not isinstance(data, dict):
            raise ValueError("the top level must be an object")
        if data.get("format") != fmt or data.get("format_version") != version:
            raise ValueError(
                f"expected format {fmt!r} version {version}, got "
                f"{data.get('format')!r} version {data.get('format_version')!r}"
            )
        payload = {k: v for k, v in data.items() if k != "sha256"}
        if data.get("sha256") != payload_digest(payload):
            raise ValueError("checksum mismatch: the file was changed after training")
        _check_common(data)
    except ValueError as exc:
        raise ValueError(f"{path}: refused PAD texture weights: {exc}") from exc
    return data, hashlib.sha256(raw).hexdigest()


class _Sequence:
    """The capture rule shared by both families."""

    threshold: float
    window: int
    frames_per_capture: int

    def frame_score(self, image_bgr: np.ndarray, face: DetectedFace) -> float:
        """Attack probability (0..1) of one frame's face."""
        return float(self.frame_scores([face_crop(image_bgr, face)])[0])

    def frame_scores(self, crops: Sequence[np.ndarray]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def capture_frames(self, n: int) -> list[int]:
        """Which of a capture's ``n`` frames (with a face) to score: ``frames_per_capture`` evenly spaced."""
        return capture_frames(n, self.frames_per_capture)

    def sequence_score(self, frame_scores: Sequence[float]) -> float:
        """The score a capture is decided on: the mean of the scores given (at most the last
        ``window``). The threshold was chosen for the mean of ``frames_per_capture`` evenly spaced
        frames (``capture_frames``); the mean of all 8 frames of a capture gave about the same
        error rates (docs/pad-texture.md)."""
        scores = np.asarray(frame_scores, dtype=np.float64)[-self.window :]
        if scores.size == 0:
            raise ValueError("no frame scores")
        return float(scores.mean())

    def is_attack(self, sequence_score: float) -> bool:
        return sequence_score >= self.threshold


class ColourLBPModel(_Sequence):
    """The colour-LBP family: feature extraction, standardisation and a logistic regression."""

    def __init__(self, payload: dict, file_sha256: str) -> None:
        for key in ("features", "scaler", "classifier"):
            if not isinstance(payload.get(key), dict):
                raise ValueError(f"'{key}' must be an object")
        if payload["classifier"].get("type") != "logistic":
            raise ValueError("'classifier.type' must be 'logistic'")
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
        self.frames_per_capture: int = int(payload["frames_per_capture"])
        self.model_id: str = f"{MODEL_NAME}:{file_sha256[:12]}"
        self.provenance: dict = payload.get("provenance", {})

    @classmethod
    def load(cls, path: Path | None = None) -> ColourLBPModel:
        """The model in ``path`` (default: ``pad_texture_v2.json`` beside this module, which the
        training script writes only with ``--ship lbp``: it is not shipped). A file that is not
        exactly what the training script writes is refused with ValueError: a silently mis-read
        model would give plausible-looking but meaningless scores."""
        path = Path(path) if path is not None else HERE / LBP_WEIGHTS_NAME
        data, digest = _read_sealed(path, FORMAT, FORMAT_VERSION)
        try:
            return cls(data, digest)
        except ValueError as exc:
            raise ValueError(f"{path}: refused PAD texture weights: {exc}") from exc

    def features(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return (
            np.stack([extract_features(c, self.spec) for c in crops])
            if len(crops)
            else np.zeros((0, self.spec.n_features))
        )

    def frame_scores(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Attack probability (0..1) of each crop made by ``face_crop``."""
        z = self.features(crops) @ self._w + self._b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def _finite_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class CNNTextureModel(_Sequence):
    """The small CNN: the crop resized to the network's input, scaled, and one forward pass of the
    shipped ONNX network in OpenCV's dnn module (network objects are not thread-safe: a call borrows
    one from a pool). The JSON file holds the network's sha256; the ONNX bytes are checked against it
    before OpenCV reads them, and the model id is the JSON file's hash."""

    def __init__(self, payload: dict, file_sha256: str, onnx: bytes, instances: int = 1) -> None:
        from facetrust.biometrics.modelpool import ModelPool

        net = payload.get("network")
        if not isinstance(net, dict):
            raise ValueError("'network' must be an object")
        shape = net.get("input")
        if not (
            isinstance(shape, list)
            and len(shape) == 3
            and shape[0] == 3
            and shape[1] == shape[2]
            and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
            and 16 <= shape[1] <= CROP_SIZE
        ):
            raise ValueError(f"'network.input' must be [3, n, n] with 16 <= n <= {CROP_SIZE}, not {shape!r}")
        if net.get("layout") != "NCHW" or net.get("colour") != "BGR":
            raise ValueError("this runtime feeds NCHW BGR input")
        mean, std = net.get("mean"), net.get("std")
        if not (_finite_number(mean) and _finite_number(std)) or std <= 0:
            raise ValueError("'network.mean' and 'network.std' must be finite numbers, std > 0")
        self.input_size = int(shape[1])
        self._scale = 1.0 / (255.0 * float(std))
        self._shift = float(mean) / float(std)
        self._onnx = onnx
        self._nets = ModelPool(self._make_net, instances)  # makes one now: an unreadable network fails at load
        self.threshold: float = float(payload["threshold"])
        self.window: int = int(payload["window"])
        self.frames_per_capture: int = int(payload["frames_per_capture"])
        self.model_id: str = f"{CNN_MODEL_NAME}:{file_sha256[:12]}"
        self.provenance: dict = payload.get("provenance", {})

    def _make_net(self):
        try:
            return cv2.dnn.readNetFromONNX(np.frombuffer(self._onnx, dtype=np.uint8))
        except cv2.error as exc:
            raise ValueError(f"OpenCV cannot read the network: {exc}") from exc

    @classmethod
    def load(cls, path: Path | None = None, instances: int = 1) -> CNNTextureModel:
        """The model described by ``path`` (default: ``pad_cnn_v1.json`` beside this module) and its
        network file, which must sit beside it. Refused with ValueError: a JSON file that is not
        exactly what the training script wrote (checksum, format, ranges), a network file that is
        missing, too large or not the one the JSON names by sha256."""
        path = Path(path) if path is not None else HERE / CNN_WEIGHTS_NAME
        data, digest = _read_sealed(path, CNN_FORMAT, CNN_FORMAT_VERSION)
        try:
            net = data.get("network")
            if not isinstance(net, dict):
                raise ValueError("'network' must be an object")
            name = net.get("file")
            if not isinstance(name, str) or Path(name).name != name or not name.endswith(".onnx"):
                raise ValueError(f"'network.file' must be a plain .onnx file name, not {name!r}")
            onnx_path = path.with_name(name)
            if not onnx_path.is_file():
                raise ValueError(f"network file {onnx_path} is missing")
            if onnx_path.stat().st_size > CNN_MAX_BYTES:
                raise ValueError(f"network file {onnx_path} is larger than {CNN_MAX_BYTES} bytes")
            onnx = onnx_path.read_bytes()
            if hashlib.sha256(onnx).hexdigest() != net.get("sha256"):
                raise ValueError(f"network file {onnx_path} does not match the sha256 in {path.name}")
            return cls(data, digest, onnx, instances)
        except ValueError as exc:
            raise ValueError(f"{path}: refused PAD texture weights: {exc}") from exc

    def inputs(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """The network's input blob (N x 3 x n x n float32) for crops made by ``face_crop``."""
        for c in crops:
            if not isinstance(c, np.ndarray) or c.shape != (CROP_SIZE, CROP_SIZE, 3) or c.dtype != np.uint8:
                raise ValueError(f"expected {CROP_SIZE}x{CROP_SIZE} BGR uint8 crops")
        n = self.input_size
        small = np.stack([cv2.resize(c, (n, n), interpolation=cv2.INTER_AREA) for c in crops])
        blob = small.astype(np.float32) * np.float32(self._scale) - np.float32(self._shift)
        return np.ascontiguousarray(blob.transpose(0, 3, 1, 2))

    def frame_scores(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Attack probability (0..1) of each crop made by ``face_crop``."""
        if len(crops) == 0:
            return np.zeros(0)
        with self._nets.use() as net:
            net.setInput(self.inputs(crops))
            out = np.asarray(net.forward(), dtype=np.float64).reshape(len(crops))
        return np.clip(out, 0.0, 1.0)


# The shipped passive model: what the decision code loads with ``TextureModel.load()``.
TextureModel = CNNTextureModel
DEFAULT_WEIGHTS = HERE / CNN_WEIGHTS_NAME
