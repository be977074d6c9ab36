"""Synthetic presentation attacks, made from bona fide captures, for tests and evaluation of liveness.

Two presentation attack instrument species, ``print`` and ``screen``, are imitated either from
input stills or clips (``write_attack_dataset``: folders of frames) or from a folder of bona fide
captures (``write_capture_attacks``: capture folders, see "Presentation attacks as captures"
below); three attacks on the capture itself are made from a folder of bona fide captures
(``still_injection``, ``noise_replay``, ``splice``: ``write_capture_attacks``, described at the end
of this docstring). The presentation species:

``print``
    One frame of the bona fide input becomes a printed photo: reduced colour gamut and saturation,
    lower contrast, an ink black above zero and a warm (yellowish) paper white, a soft CMY halftone
    screen, ink spread (blur) and paper texture noise, optionally a white paper border and a mild
    constant cylindrical bend. The sheet is then held in front of the camera: it moves as a plane
    (a smooth random sequence of homographies: scale, translation, in-plane rotation, tilt up/down
    and left/right through a pinhole camera), under slowly changing light (gain and a gradient).
``screen``
    Each output frame shows bona fide frame i (the input is cycled; a still shows the same frame)
    re-rendered through a phone/tablet screen: a display gamma/contrast curve, a raised black level
    and a blue-ish white point, moiré (the point-sampled aliasing of the screen's RGB subpixel
    stripes and pixel rows by the camera's pixel grid, so the beat pattern changes with the screen's
    pose), a soft elliptical glare that drifts, optionally a dark bezel. The screen moves as a plane,
    like the print but less.

Both are composited over a background, and then re-captured by a camera: slight defocus blur,
Gaussian sensor noise and JPEG re-compression at quality 70-90. The background is the source frame
itself, heavily blurred (the camera focuses on the near sheet, not on the room), shifted and darkened:
it has the colours of the real scene without adding a second sharp face.

``AttackSequence.homographies[i]`` maps the source frame's pixels (the photo, or the replayed frame,
without its paper margin or bezel) to output pixels in frame i. The print's bend is not in it: it is
mild enough to move the central face region by well under a pixel.

What it does NOT model: real paper reflectance and the specular and angular (viewing-angle colour,
polarisation) properties of real screens; real printers' and cameras' colour pipelines (colour
management, auto exposure and white balance, rolling shutter, the camera's own denoising and
sharpening); cut-out photos with holes for the eyes or mouth, curved photo masks worn on the face,
3D masks, make-up; deepfakes and video streams injected past the camera; real hands or fingers
holding the sheet, its shadow, the screen's UI. Motion is a smooth sum of slow sinusoids at an
assumed 15 frames per second, not measured human hand motion. A detector that finds these attacks
may be finding this generator's artefacts; figures measured on generated attacks are useful for
regression tests and first sanity checks, and are no substitute for real attack data.

Speed (measured on the 2-core development machine, Xeon, 640x480 input, ``n_frames=15``, two OpenCV
threads, median of 10 runs): ``print`` 0.15 s, ``screen`` 0.22 s per sequence.

``AttackSequence.params`` records the generator's draws for the sequence (the print's colour,
halftone, margin and bend or the screen's tone curve, moiré, glare and bezel; the range of each
pose parameter; the light; the camera's blur, noise and JPEG quality), JSON-ready.

Presentation attacks as captures (``write_capture_attacks`` with ``print`` or ``screen``; input: a
captures folder, of which only the bona fide captures are used; output: capture folders under
``OUT/<species>/<source capture's path, "/" as "__">/``, deterministic for a seed, each frame
checked to differ once written from the others and from every source frame, the generator's draws
in ``generator``). The frame count, ``t_ms``, ``purpose`` and ``actions`` are the source's: the
attacker is asked the same challenge.

``screen``
    The capture's own recording replayed on a phone or tablet held in front of the camera: output
    frame i shows source frame i (frames of another size than the first are resized to it) through
    the screen pipeline above. The replayed person performs the challenge (blinks, opens the mouth,
    turns), so the source's ``events`` are kept; only passive checks (texture: moiré, glare, tone,
    re-capture) and the parallax measured during a turn or nod can tell it from the real capture.
    ``replay_of`` names the source capture. The screen's motion is generated per frame index at
    ASSUMED_FPS, not from ``t_ms``.
``print``
    A print of one frame of the capture (``choose_still``: the most frontal face by the detector's
    five landmarks, ties nearest the middle; the middle frame without a detector or a face;
    ``still_frame`` and ``still_choice`` record which) held as a sheet in front of the camera
    through the print pipeline above, for the capture's frame count. A print cannot perform the
    requested actions: the capture measures that the decision refuses it. ``print_of`` names the
    source capture.

Attacks on the capture (input: a captures folder, ``facetrust.tools.evaluation.captures``; only its bona
fide captures are used; output: attack captures in the same format under
``OUT/<species>/<source capture's path, "/" as "__">[__<mode>]/``, deterministic for a seed). They
imitate an attacker who controls what the capture page sends (a hooked page, a virtual camera, a
replayed request), not one in front of the camera: no lens, screen or paper is simulated, and the
frames reach the service as the attacker wrote them (JPEG at quality 95 on disk). Every output is
checked to hold no two frames with the same pixels and no frame with the pixels of its source
frame, so an exact pixel hash does not stop them by accident.

``still_injection``
    One frame of the capture (the most frontal by the detector's five landmarks, else the middle
    one) sent as every frame, the capture's frame count, each copy with a small, different edit so
    that no two are the same picture. The variant, drawn per capture from the seed and recorded in
    ``variant``: ``noise`` (uniform +-1..2 per pixel), ``pixels`` (a few 2x2-pixel blocks changed),
    ``jpeg`` (re-compressed at a different quality in 70-95, twice for long captures), ``jitter``
    (a smooth sub-pixel to 2 px shift with tiny rotation and scale, like a phone on a stand or in a
    hand), ``fake_action`` (+-1 noise, and each requested action faked in its share of the frames
    by warping the still: the eyes squashed vertically on 3 frames for a blink, the lower lip and
    chin stretched down with a dark opening for open_mouth, the nose region pushed sideways for a
    turn and up then down for a nod; needs the detector's landmarks, else ``noise`` is used). The
    source's t_ms, purpose and actions are kept: the attacker answers the same challenge.
    Not imitated: a still re-rendered by a face-animation model (a deepfake performs real 3D-looking
    motion); the fake actions are crude 2D warps.
``noise_replay``
    The whole capture sent again after per-frame changes that defeat byte and pixel hashes: +-1..3
    noise, JPEG re-compression at 70-95 (per frame), a resize by 0.9-1.1 and a shift of up to 4 px
    (cropped or edge-padded back to the size), and half of the time a brightness change of up to
    6 %. Same actions and t_ms; ``purpose`` is drawn among those whose action floor the actions meet
    (payment 1, the others 2): the attacker reuses it for another flow. ``replay_of`` names the
    source capture. Not imitated: re-encoding as video, or re-filming a screen (that is ``screen``).
``splice``
    A challenge answered by cutting and reordering a recording: (``reorder``) a capture with
    labelled ``events`` of at least two different actions has its action segments (each with 4
    frames of context, split midway between neighbouring actions) concatenated in another order,
    and requests the actions in that order; (``join``) captures cut from the same ``recording``: a
    segment holding an action of one and one holding another action of the other, requesting
    [a1, a2]; (``halves``) a capture without ``events`` cut into halves that are swapped (actions
    unchanged). The output t_ms are regular at the source's median interval (the attacker declares
    a steady camera); ``spliced_from`` names the sources and ``cuts`` the frame indices where a new
    segment starts. The frames are the source's pixels, cut, each with one 8x8 block changed by a
    few grey levels, and written again: an attacker holding the recording sends frames never sent
    before, so a splice is not stopped merely by the exact pixel hash of its source or of another
    splice of the same source. Not imitated: smoothing across the cuts (cross-fades, interpolation).
"""

from __future__ import annotations

import numbers
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # the capture format is a tool's, imported when used
    from facetrust.tools.evaluation.captures import Capture

SPECIES = ("print", "screen")
CAPTURE_SPECIES = ("still_injection", "noise_replay", "splice")
STILL_VARIANTS = ("noise", "pixels", "jpeg", "jitter", "fake_action")
SPLICE_CONTEXT = 4  # frames of context kept around an action segment

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm")

# Motion speeds are defined in seconds at this frame rate, so a longer sequence moves no faster.
ASSUMED_FPS = 15.0

# Focal length in units of the frame's larger side: about a 53 degree field of view, a webcam's.
FOCAL_PER_SIDE = 1.0

# Quality used when writing the generated frames to disk: high, so that the written file adds little
# to the generator's own simulated JPEG re-capture.
WRITE_JPEG_QUALITY = 95


@dataclass(frozen=True)
class AttackSequence:
    species: str
    frames: list[np.ndarray]  # BGR uint8, all the same size as the input frames
    homographies: list[
        np.ndarray
    ]  # the 3x3 homography applied to the presented plane in each frame (source -> output pixels)
    # The generator's draws for this sequence (print/paper or screen look, motion ranges, light,
    # camera), JSON-ready; recorded as the attack captures' ``generator``.
    params: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class MotionLimits:
    """How far a held sheet or device moves: the face must stay in view and at a similar scale."""

    scale: tuple[float, float]
    shift: float  # largest translation, as a fraction of the frame's width / height
    roll_deg: float
    pitch_deg: float
    yaw_deg: float


PRINT_MOTION = MotionLimits(scale=(0.86, 1.05), shift=0.06, roll_deg=8.0, pitch_deg=20.0, yaw_deg=25.0)
SCREEN_MOTION = MotionLimits(scale=(0.9, 1.03), shift=0.04, roll_deg=5.0, pitch_deg=10.0, yaw_deg=12.0)


def make_attack(frames: list[np.ndarray], species: str, rng: np.random.Generator, n_frames: int = 15) -> AttackSequence:
    """Imitate a ``species`` attack made with the bona fide ``frames``; deterministic for a seed."""
    _check_input(frames, species, n_frames)
    if species == "print":
        return _make_print(list(frames), rng, int(n_frames))
    return _make_screen(list(frames), rng, int(n_frames))


def _check_input(frames: list[np.ndarray], species: str, n_frames: int) -> None:
    if species not in SPECIES:
        raise ValueError(f"unknown attack species {species!r}; expected one of {SPECIES}")
    if isinstance(n_frames, bool) or not isinstance(n_frames, numbers.Integral) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, not {n_frames!r}")
    if not isinstance(frames, (list, tuple)) or len(frames) == 0:
        raise ValueError("frames must be a non-empty list of BGR images")
    first = frames[0]
    for i, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise ValueError(f"frame {i} is not a uint8 numpy array")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {i} has shape {frame.shape}; expected (height, width, 3) BGR")
        if frame.shape != first.shape:
            raise ValueError(f"frame {i} has shape {frame.shape}, frame 0 has {first.shape}")
    if min(first.shape[:2]) < 32:
        raise ValueError(f"frames of {first.shape[1]}x{first.shape[0]} are too small to hold a face")


# --- motion of the presented plane ----------------------------------------------------------------


def smooth_path(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """``n`` values inside [low, high] that change smoothly, like a hand: a random offset plus two
    slow sinusoids (0.2-1.0 Hz at ASSUMED_FPS) with random phases."""
    t = np.arange(n) / ASSUMED_FPS
    centre, half = (low + high) / 2.0, (high - low) / 2.0
    offset = rng.uniform(-0.5, 0.5) * half
    freq = rng.uniform(0.2, 1.0, 2)
    phase = rng.uniform(0.0, 2.0 * np.pi, 2)
    weight = rng.uniform(0.3, 1.0, 2)
    wave = (weight[:, None] * np.sin(2.0 * np.pi * freq[:, None] * t + phase[:, None])).sum(0)
    return centre + offset + (half - abs(offset)) * wave / weight.sum()


def plane_homography(
    width: int, height: int, scale: float, tx: float, ty: float, roll: float, pitch: float, yaw: float
) -> np.ndarray:
    """The homography (source -> output pixels) of a frame-sized plane seen by a pinhole camera.

    The plane is centred on the optical axis at the depth where it appears at ``scale``, rotated by
    ``roll`` (in-plane), ``pitch`` (tilt up/down) and ``yaw`` (tilt left/right), in radians, and its
    image is shifted by (tx, ty) pixels. Perspective follows from the rotation, so tilting makes the
    near side larger, as with a real sheet.
    """
    f = FOCAL_PER_SIDE * max(width, height)
    cx, cy = width / 2.0, height / 2.0
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cyw, syw = np.cos(yaw), np.sin(yaw)
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    ry = np.array([[cyw, 0.0, syw], [0.0, 1.0, 0.0], [-syw, 0.0, cyw]])
    r = rz @ rx @ ry
    plane_to_camera = np.column_stack([r[:, 0], r[:, 1], [0.0, 0.0, f / scale]])
    intrinsics = np.array([[f, 0.0, cx + tx], [0.0, f, cy + ty], [0.0, 0.0, 1.0]])
    centre_source = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    h = intrinsics @ plane_to_camera @ centre_source
    return h / h[2, 2]


def random_motion(
    rng: np.random.Generator, n: int, width: int, height: int, limits: MotionLimits, params: dict | None = None
) -> list[np.ndarray]:
    """A smooth random sequence of ``n`` plane homographies inside ``limits``. ``params``, when
    given, receives the range (min, max) each pose parameter went through, under ``"motion"``."""
    scale = smooth_path(rng, n, *limits.scale)
    tx = smooth_path(rng, n, -limits.shift * width, limits.shift * width)
    ty = smooth_path(rng, n, -limits.shift * height, limits.shift * height)
    roll_deg = smooth_path(rng, n, -limits.roll_deg, limits.roll_deg)
    pitch_deg = smooth_path(rng, n, -limits.pitch_deg, limits.pitch_deg)
    yaw_deg = smooth_path(rng, n, -limits.yaw_deg, limits.yaw_deg)
    if params is not None:
        paths = {
            "scale": scale,
            "tx_px": tx,
            "ty_px": ty,
            "roll_deg": roll_deg,
            "pitch_deg": pitch_deg,
            "yaw_deg": yaw_deg,
        }
        params["motion"] = {k: [_r(v.min()), _r(v.max())] for k, v in paths.items()}
    roll, pitch, yaw = np.radians(roll_deg), np.radians(pitch_deg), np.radians(yaw_deg)
    return [plane_homography(width, height, scale[i], tx[i], ty[i], roll[i], pitch[i], yaw[i]) for i in range(n)]


def _r(value, digits: int = 4):
    """A number, or a sequence of numbers, rounded for a JSON record."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_r(v, digits) for v in value]
    return round(float(value), digits)


def _with_margin(h: np.ndarray, margin: int) -> np.ndarray:
    """The homography of a sheet that holds the source image at offset (margin, margin)."""
    shift = np.array([[1.0, 0.0, -margin], [0.0, 1.0, -margin], [0.0, 0.0, 1.0]])
    return h @ shift


# --- background and camera, shared by both species -------------------------------------------------


def _background(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The room behind the sheet: the source frame, far out of focus, shifted and darker (float32)."""
    h, w = frame.shape[:2]
    dx, dy = (rng.uniform(0.15, 0.3, 2) * rng.choice([-1, 1], 2) * (w, h)).astype(int)
    shifted = np.roll(frame, (dy, dx), axis=(0, 1))
    tiny = cv2.resize(shifted, (max(2, w // 24), max(2, h // 24)), interpolation=cv2.INTER_AREA)
    blurred = cv2.resize(tiny, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return blurred * np.float32(rng.uniform(0.55, 0.85))


class _Camera:
    """Re-capture: defocus blur, sensor noise and JPEG, with per-sequence settings."""

    def __init__(self, rng: np.random.Generator, height: int, width: int) -> None:
        self.blur_sigma = float(rng.uniform(0.5, 1.1))
        self.noise_sigma = float(rng.uniform(1.5, 3.5))
        self.jpeg_quality = int(rng.integers(70, 91))
        self.pad = 16
        # One bank of noise, read at a random offset per frame: independent-looking noise for each
        # frame at the cost of one draw (drawing 0.9 M normals per frame would dominate the run time).
        self.noise = rng.standard_normal((height + self.pad, width + self.pad, 3), dtype=np.float32)
        self.noise *= np.float32(self.noise_sigma)
        self.rng = rng
        self.height, self.width = height, width

    @property
    def params(self) -> dict:
        return {
            "blur_sigma": _r(self.blur_sigma),
            "noise_sigma": _r(self.noise_sigma),
            "jpeg_quality": self.jpeg_quality,
        }

    def capture(self, scene: np.ndarray) -> np.ndarray:
        """A float32 BGR scene as the camera delivers it: a uint8 JPEG-decoded frame."""
        blurred = cv2.GaussianBlur(scene, (0, 0), self.blur_sigma)
        oy, ox = self.rng.integers(0, self.pad + 1, 2)
        blurred += self.noise[oy : oy + self.height, ox : ox + self.width]
        pixels = np.clip(blurred, 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise RuntimeError("JPEG encoding failed")
        return cv2.imdecode(data, cv2.IMREAD_COLOR)


def _composite(background: np.ndarray, plane: np.ndarray, alpha: np.ndarray, light: np.ndarray) -> np.ndarray:
    """The lit plane over the background, blended by its (anti-aliased) coverage. ``light`` is a
    float32 gain field, one channel or three."""
    lit = plane.astype(np.float32)
    lit *= light if light.ndim == 3 else _three(light)
    lit -= background
    lit *= _three(alpha.astype(np.float32) * np.float32(1.0 / 255.0))
    lit += background
    return lit


def _three(field: np.ndarray) -> np.ndarray:
    """A one-channel float32 field repeated into three (much faster than numpy broadcasting)."""
    return cv2.cvtColor(field, cv2.COLOR_GRAY2BGR)


def _warp(image: np.ndarray, h: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.warpPerspective(
        image, h, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def _unit_grids(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates scaled to [-0.5, 0.5], as broadcastable row and column vectors."""
    x = (np.arange(width, dtype=np.float32) / width - 0.5)[None, :]
    y = (np.arange(height, dtype=np.float32) / height - 0.5)[:, None]
    return x, y


# --- print ----------------------------------------------------------------------------------------


def _make_print(frames: list[np.ndarray], rng: np.random.Generator, n: int) -> AttackSequence:
    photo_index = int(rng.integers(len(frames)))
    photo = frames[photo_index]
    height, width = photo.shape[:2]
    params: dict = {"photo_frame": photo_index}
    printed, paper = print_photo(photo, rng, params)
    sheet, margin = _paper_border(printed, paper, rng)
    params["margin_px"] = margin
    sheet = _bend(sheet, rng, params)
    mask = np.full(sheet.shape[:2], 255, np.uint8)
    background = _background(photo, rng)
    camera = _Camera(rng, height, width)
    homographies = random_motion(rng, n, width, height, PRINT_MOTION, params)
    gain = smooth_path(rng, n, 0.8, 1.1)
    grad_x = smooth_path(rng, n, -0.2, 0.2)
    grad_y = smooth_path(rng, n, -0.2, 0.2)
    params["light"] = {
        "gain": [_r(gain.min()), _r(gain.max())],
        "gradient_x": [_r(grad_x.min()), _r(grad_x.max())],
        "gradient_y": [_r(grad_y.min()), _r(grad_y.max())],
    }
    params["camera"] = camera.params
    x, y = _unit_grids(height, width)
    out = []
    for i, h in enumerate(homographies):
        hs = _with_margin(h, margin)
        plane = _warp(sheet, hs, width, height)
        alpha = _warp(mask, hs, width, height)
        light = np.float32(gain[i]) * (1.0 + np.float32(grad_x[i]) * x + np.float32(grad_y[i]) * y)
        out.append(camera.capture(_composite(background, plane, alpha, light)))
    return AttackSequence("print", out, homographies, params)


def print_photo(
    photo: np.ndarray, rng: np.random.Generator, params: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The photo as a cheap colour print would render it (uint8 BGR, same size), and the paper's
    white (BGR, 0-255). ``params``, when given, receives the draws under ``"print"``.

    Prints cannot reach the camera's gamut: colours are duller, the darkest ink is dark grey and the
    brightest tone is the paper, which is warmer than a screen white. The halftone and ink spread
    are what a close camera can resolve of the printer's dot pattern.
    """
    img = photo.astype(np.float32) * np.float32(1.0 / 255.0)
    gray = img @ np.array([0.114, 0.587, 0.299], np.float32)
    saturation = np.float32(rng.uniform(0.5, 0.75))
    img = gray[..., None] + saturation * (img - gray[..., None])
    paper = np.array([rng.uniform(0.78, 0.85), rng.uniform(0.86, 0.91), rng.uniform(0.9, 0.95)], np.float32)
    ink = np.float32(rng.uniform(0.08, 0.15))
    dot_gain = np.float32(rng.uniform(1.05, 1.25))  # ink spreads: mid-tones print darker
    tone = np.clip(img, 0.0, 1.0) ** dot_gain
    coverage = 1.0 - tone  # how much ink each channel gets
    halftone: dict = {}
    coverage = _halftone(coverage, rng, halftone)
    printed = ink + (paper - ink) * (1.0 - coverage)
    ink_spread = rng.uniform(0.6, 1.2)
    printed = cv2.GaussianBlur(printed, (0, 0), ink_spread)
    if params is not None:
        params["print"] = {
            "saturation": _r(saturation),
            "paper_bgr": _r(paper * 255.0, 1),
            "ink": _r(ink),
            "dot_gain": _r(dot_gain),
            **halftone,
            "ink_spread_sigma": _r(ink_spread),
        }
    printed *= _paper_texture(rng, *photo.shape[:2])[..., None]
    return np.clip(printed * 255.0, 0, 255).astype(np.uint8), paper * 255.0


def _halftone(coverage: np.ndarray, rng: np.random.Generator, params: dict | None = None) -> np.ndarray:
    """Mix a soft amplitude-modulated halftone into the ink coverage of each channel.

    Each ink (here: the complement of B, G, R) has its own screen angle, as in CMY printing; a dot
    is inked where the coverage exceeds the screen's threshold pattern.
    """
    height, width = coverage.shape[:2]
    period = rng.uniform(2.0, 3.5)
    mix = np.float32(rng.uniform(0.25, 0.5))
    base_angle = rng.uniform(0.0, 90.0)
    if params is not None:
        params.update(halftone_period_px=_r(period), halftone_mix=_r(mix), halftone_angle_deg=_r(base_angle, 2))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty_like(coverage)
    for c, angle in enumerate((15.0, 75.0, 0.0)):
        a = np.radians(base_angle + angle)
        k = np.float32(2.0 * np.pi / period)
        u = (xx * np.float32(np.cos(a)) + yy * np.float32(np.sin(a))) * k
        v = (yy * np.float32(np.cos(a)) - xx * np.float32(np.sin(a))) * k
        threshold = 0.5 + 0.25 * (np.cos(u) + np.cos(v))
        dots = np.clip((coverage[..., c] - threshold) * 3.0 + 0.5, 0.0, 1.0)
        out[..., c] = (1.0 - mix) * coverage[..., c] + mix * dots
    return out


def _paper_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A multiplicative field near 1: blotchy fibres at low frequency plus fine grain."""
    coarse = rng.standard_normal((max(2, height // 16), max(2, width // 16)), dtype=np.float32)
    coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.standard_normal((height, width), dtype=np.float32)
    return 1.0 + np.float32(0.015) * coarse + np.float32(0.01) * fine


def _paper_border(printed: np.ndarray, paper: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Half the time, a paper-white margin around the photo; returns the sheet and margin width."""
    if rng.random() < 0.5:
        return printed, 0
    margin = int(rng.uniform(0.02, 0.06) * max(printed.shape[:2]))
    white = [float(v) for v in paper]
    sheet = cv2.copyMakeBorder(printed, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=white)
    return sheet, margin


def _bend(sheet: np.ndarray, rng: np.random.Generator, params: dict | None = None) -> np.ndarray:
    """Most of the time, bend the sheet mildly around a vertical or horizontal axis (constant over
    the sequence), seen from the front: the far edges shrink or swell with their depth.

    The bend radius is large (1.5-4 sheet widths), so the central face region moves by well under a
    pixel while the edges move by a few per cent: the returned homography stays right for the face.
    """
    if params is not None:
        params["bend"] = None
    if rng.random() < 0.3:
        return sheet
    height, width = sheet.shape[:2]
    vertical_axis = rng.random() < 0.7  # sheets held at their sides bend around a vertical axis
    span = width if vertical_axis else height
    radius = rng.uniform(1.5, 4.0) * span
    towards = rng.choice([-1.0, 1.0])  # edges curl towards or away from the camera
    if params is not None:
        params["bend"] = {
            "axis": "vertical" if vertical_axis else "horizontal",
            "radius_sheet_sides": _r(radius / span),
            "edges": "towards" if towards > 0 else "away",
        }
    distance = FOCAL_PER_SIDE * max(width, height)
    x, y = np.meshgrid(
        np.arange(width, dtype=np.float32) - width / 2.0, np.arange(height, dtype=np.float32) - height / 2.0
    )
    across, along = (x, y) if vertical_axis else (y, x)
    projected = np.clip(across, -0.999 * radius, 0.999 * radius)
    arc = radius * np.arcsin(projected / radius)  # position on the flat sheet
    depth = radius - np.sqrt(radius**2 - projected**2)
    magnify = distance / (distance - towards * depth)
    src_across = arc / magnify
    src_along = along / magnify
    sx, sy = (src_across, src_along) if vertical_axis else (src_along, src_across)
    map_x = (sx + width / 2.0).astype(np.float32)
    map_y = (sy + height / 2.0).astype(np.float32)
    return cv2.remap(sheet, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# --- screen ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenLook:
    """Per-sequence properties of the replay device."""

    lut: np.ndarray  # 256x1x3 uint8 tone curve per channel: gamma, black level, white point
    grid_freq: float  # subpixel stripes per source pixel, near an integer so that it beats
    stripe_amp: float
    row_amp: float
    glare_peak: float
    glare_axes: tuple[float, float]  # fraction of the frame's width
    glare_angle: float
    bezel: int
    bezel_level: int
    # What the tone curve was made from (recorded; ``lut`` is what is applied).
    gamma: float = 1.0
    black_level: float = 0.0
    white_bgr: tuple[float, float, float] = (255.0, 255.0, 255.0)

    @property
    def params(self) -> dict:
        return {
            "gamma": _r(self.gamma),
            "black_level": _r(self.black_level, 2),
            "white_bgr": _r(self.white_bgr, 2),
            "subpixel_stripes_per_pixel": _r(self.grid_freq),
            "stripe_amplitude": _r(self.stripe_amp),
            "row_amplitude": _r(self.row_amp),
            "glare_peak": _r(self.glare_peak, 2),
            "glare_axes": _r(self.glare_axes),
            "glare_angle_rad": _r(self.glare_angle),
            "bezel_px": self.bezel,
            "bezel_level": self.bezel_level,
        }


def screen_look(rng: np.random.Generator, width: int) -> ScreenLook:
    gamma = rng.uniform(0.8, 1.25)
    black = rng.uniform(8.0, 22.0)
    white = 255.0 * rng.uniform(0.9, 1.0) * np.array([1.0, rng.uniform(0.93, 0.98), rng.uniform(0.84, 0.93)])
    levels = (np.arange(256) / 255.0) ** gamma
    lut = black + (white[None, :] - black) * levels[:, None]
    near = float(rng.choice([1.0, 2.0]))
    detune = rng.uniform(0.08, 0.2) * rng.choice([-1.0, 1.0])
    bezel = int(rng.uniform(0.03, 0.07) * width) if rng.random() < 0.7 else 0
    return ScreenLook(
        lut=np.clip(lut, 0, 255).astype(np.uint8).reshape(256, 1, 3),
        grid_freq=near + detune,
        stripe_amp=float(rng.uniform(0.04, 0.1)),
        row_amp=float(rng.uniform(0.02, 0.06)),
        glare_peak=float(rng.uniform(40.0, 110.0)),
        glare_axes=(float(rng.uniform(0.15, 0.35)), float(rng.uniform(0.08, 0.2))),
        glare_angle=float(rng.uniform(0.0, np.pi)),
        bezel=bezel,
        bezel_level=int(rng.integers(10, 35)),
        gamma=float(gamma),
        black_level=float(black),
        white_bgr=(float(white[0]), float(white[1]), float(white[2])),
    )


def _make_screen(frames: list[np.ndarray], rng: np.random.Generator, n: int) -> AttackSequence:
    height, width = frames[0].shape[:2]
    look = screen_look(rng, width)
    background = _background(frames[0], rng)
    camera = _Camera(rng, height, width)
    params: dict = {"screen": look.params}
    homographies = random_motion(rng, n, width, height, SCREEN_MOTION, params)
    gain = smooth_path(rng, n, 0.93, 1.05)  # the camera's exposure reacting to the bright screen
    glare_x = smooth_path(rng, n, 0.15, 0.85) * width
    glare_y = smooth_path(rng, n, 0.15, 0.85) * height
    params["light"] = {"gain": [_r(gain.min()), _r(gain.max())]}
    params["camera"] = camera.params
    b = look.bezel
    device_mask = np.full((height + 2 * b, width + 2 * b), 255, np.uint8)
    active_mask = np.full((height, width), 255, np.uint8)
    out = []
    for i, h in enumerate(homographies):
        shown = cv2.LUT(frames[i % len(frames)], look.lut)
        device = cv2.copyMakeBorder(shown, b, b, b, b, cv2.BORDER_CONSTANT, value=[look.bezel_level] * 3)
        hs = _with_margin(h, b)
        plane = _warp(device, hs, width, height)
        alpha = _warp(device_mask, hs, width, height)
        active = _warp(active_mask, h, width, height).astype(np.float32) * np.float32(1.0 / 255.0)
        light = moire_pattern(h, width, height, look, active)
        light += np.float32(1.0)
        light *= np.float32(gain[i])
        scene = _composite(background, plane, alpha, light)
        glare = _glare(width, height, glare_x[i], glare_y[i], look)
        glare *= alpha.astype(np.float32) * np.float32(1.0 / 255.0)
        scene += _three(glare)
        out.append(camera.capture(scene))
    return AttackSequence("screen", out, homographies, params)


def moire_pattern(
    h: np.ndarray, width: int, height: int, look: ScreenLook, coverage: np.ndarray | None = None
) -> np.ndarray:
    """The relative brightness change (float32, height x width x 3) that the screen's pixel grid
    makes in each camera pixel, weighted by ``coverage`` (the active screen area, in [0, 1]).

    The screen's R, G, B subpixel stripes repeat ``grid_freq`` times per source pixel along x (the
    three colours a third of a period apart) and its pixel rows as often along y. Evaluating that
    grid at each camera pixel's centre (mapped back to the screen through the homography) is the
    camera's point sampling: frequencies above the camera's Nyquist limit fold into a slow beat whose
    period and angle change with the screen's pose. Only the fundamental of each grid is kept.
    """
    inv = np.linalg.inv(h).astype(np.float32)
    x = np.arange(width, dtype=np.float32)[None, :]
    y = np.arange(height, dtype=np.float32)[:, None]
    freq = np.float32(look.grid_freq)
    w = (inv[2, 0] * x + inv[2, 1] * y + inv[2, 2]) / freq
    # Grid phases in cycles, reduced to one period before the trigonometry (float32 keeps about
    # 1e-4 of a cycle at these coordinates: far below what a camera pixel can show).
    cycles_u = (inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]) / w
    cycles_v = (inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]) / w
    cycles_u -= np.floor(cycles_u)
    cycles_v -= np.floor(cycles_v)
    two_pi = np.float32(2.0 * np.pi)
    cos_u, sin_u = cv2.polarToCart(None, cycles_u * two_pi)
    rows = cv2.polarToCart(None, cycles_v * two_pi)[0] * np.float32(look.row_amp)
    if coverage is not None:
        cos_u *= coverage
        sin_u *= coverage
        rows *= coverage
    channels = []
    for shift in (0.0, 2.0 * np.pi / 3.0, 4.0 * np.pi / 3.0):  # B, G, R stripes
        stripes = cos_u * np.float32(look.stripe_amp * np.cos(shift))
        stripes -= sin_u * np.float32(look.stripe_amp * np.sin(shift))
        stripes += rows
        channels.append(stripes)
    return cv2.merge(channels)


def _glare(width: int, height: int, cx: float, cy: float, look: ScreenLook) -> np.ndarray:
    """A soft elliptical highlight (added grey levels), the reflection of a lamp on the glass.
    Computed at a quarter of the resolution and enlarged: it has no fine detail."""
    step = 4
    sw, sh = max(2, width // step), max(2, height // step)
    x = (np.arange(sw, dtype=np.float32) * step - np.float32(cx))[None, :]
    y = (np.arange(sh, dtype=np.float32) * step - np.float32(cy))[:, None]
    ca, sa = np.float32(np.cos(look.glare_angle)), np.float32(np.sin(look.glare_angle))
    a = np.float32(look.glare_axes[0] * width)
    b = np.float32(look.glare_axes[1] * width)
    along, across = (x * ca + y * sa) / a, (y * ca - x * sa) / b
    small = np.float32(look.glare_peak) * np.exp(-(along**2 + across**2))
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


# --- writing a data set ---------------------------------------------------------------------------


def read_input_frames(path: Path, n_frames: int) -> list[np.ndarray]:
    """The bona fide frames of one input: an image, or up to ``n_frames`` consecutive frames from
    the middle of a video. Raises ValueError when nothing can be read."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read an image from {path}")
        return [image]
    capture = cv2.VideoCapture(str(path))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        start = max(0, (total - n_frames) // 2)
        # Read and drop rather than seek: seeking in compressed video lands on key frames.
        for _ in range(start):
            if not capture.grab():
                break
        frames = []
        while len(frames) < n_frames:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"cannot read any video frame from {path}")
    return frames


def _input_rng(seed: int, name: str) -> np.random.Generator:
    """One generator per input, from the seed and the input's name: an input's attack does not
    change when other inputs are added or reordered."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def write_attack_dataset(inputs: list[Path], out_dir: Path, species: str, seed: int, n_frames: int = 15) -> int:
    """Write one attack sequence per input and return the number of sequences written.

    Each input is an image file, or a video file (.mp4/.avi/.mov/.webm, read with cv2.VideoCapture:
    up to ``n_frames`` consecutive frames from its middle). Its attack goes to
    ``out_dir/<species>/<input stem>/frame_000.jpg ...``: the species is a folder of its own so that
    the PAD evaluation (``facetrust.tools.evaluation.sequences``), pointed at ``out_dir``, takes the
    species from the name of the attack folder's immediate subfolder, and generating the other
    species into the same ``out_dir`` adds a second species beside it. A rerun replaces the frames
    of that input's folder.
    """
    if species not in SPECIES:
        raise ValueError(f"unknown attack species {species!r}; expected one of {SPECIES}")
    paths = [Path(p) for p in inputs]
    stems = [p.stem for p in paths]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(f"inputs with the same name would share an output folder: {duplicates}")
    written = 0
    for path in paths:
        frames = read_input_frames(path, n_frames)
        attack = make_attack(frames, species, _input_rng(seed, path.name), n_frames)
        folder = Path(out_dir) / species / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("frame_*.jpg"):  # a previous, longer run must not leave extra frames
            stale.unlink()
        for i, frame in enumerate(attack.frames):
            target = folder / f"frame_{i:03d}.jpg"
            if not cv2.imwrite(str(target), frame, [cv2.IMWRITE_JPEG_QUALITY, WRITE_JPEG_QUALITY]):
                raise OSError(f"cannot write {target}")
        written += 1
    return written


# --- attacks on the capture: still injection, noise replay, splice --------------------------------


@dataclass(frozen=True)
class CaptureAttack:
    name: str  # the output folder's name under OUT/<species>/
    frames: list[np.ndarray]  # BGR uint8
    meta: dict  # its capture.json


def _out_name(capture_name: str) -> str:
    return capture_name.replace("/", "__") if capture_name not in ("", ".") else "capture"


def _written_hash(frame: np.ndarray) -> str:
    """The pixel hash of a frame as it will be read back from disk (JPEG quality 95, decoded)."""
    from facetrust.liveness.frames import content_hash
    from facetrust.tools.evaluation.captures import encode_frame

    return content_hash(cv2.imdecode(np.frombuffer(encode_frame(frame), np.uint8), cv2.IMREAD_COLOR))


def _distinct(frames: list[np.ndarray], rng: np.random.Generator, forbidden: set[str]) -> list[np.ndarray]:
    """The frames, each nudged (a random 8x8 block brightened or darkened by 3-6 levels) until it
    stays distinct, once written and read back, from the others and from the ``forbidden`` hashes."""
    seen = set(forbidden)
    out = []
    for frame in frames:
        digest = _written_hash(frame)
        while digest in seen:
            frame = _nudge(frame, rng)
            digest = _written_hash(frame)
        seen.add(digest)
        out.append(frame)
    return out


def _noise(frame: np.ndarray, rng: np.random.Generator, amplitude: int) -> np.ndarray:
    delta = rng.integers(-amplitude, amplitude + 1, frame.shape, dtype=np.int16)
    return np.clip(frame.astype(np.int16) + delta, 0, 255).astype(np.uint8)


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def _subject_landmarks(detector, frame: np.ndarray):
    """The subject's five YuNet landmarks in a frame (None without a face or detector)."""
    if detector is None:
        return None
    from facetrust.biometrics.detect import choose_subject

    subject = choose_subject(detector.detect(frame), frame.shape)
    return None if subject is None else np.asarray(subject.landmarks, dtype=np.float64)


def _frontalness(landmarks: np.ndarray) -> float:
    """How far the nose sits off the eyes' midpoint along the eye line, in eye distances (0 when
    frontal): a cheap yaw measure from the five landmarks."""
    axis = landmarks[1] - landmarks[0]
    distance = float(np.linalg.norm(axis)) or 1.0
    return abs(float(np.dot(landmarks[2] - (landmarks[0] + landmarks[1]) / 2.0, axis / distance))) / distance


def choose_still(frames: list[np.ndarray], detector=None) -> tuple[int, np.ndarray | None]:
    """(index, landmarks) of the frame to inject: the most frontal one with a face (ties: nearest
    the middle), or the middle frame without a detector or a face."""
    middle = len(frames) // 2
    best: tuple[tuple[float, int], int, np.ndarray] | None = None
    if detector is not None:
        for i, frame in enumerate(frames):
            landmarks = _subject_landmarks(detector, frame)
            if landmarks is None:
                continue
            key = (round(_frontalness(landmarks), 3), abs(i - middle))
            if best is None or key < best[0]:
                best = (key, i, landmarks)
    if best is None:
        return middle, None
    return best[1], best[2]


def _displace(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    field: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """``image`` with the pixels inside ``box`` (x0, y0, x1, y1) resampled: output (x, y) takes the
    source at (x + dx, y + dy), with (dx, dy) = field(x, y) (float32 coordinate grids)."""
    h, w = image.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return image
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = field(xx, yy)
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def _gauss(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-(((xx - cx) / sx) ** 2) - ((yy - cy) / sy) ** 2).astype(np.float32)


def squash_eyes(image: np.ndarray, landmarks: np.ndarray, factor: float) -> np.ndarray:
    """Both eye regions squashed vertically to ``factor`` of their height at the eye centre (the
    lids seem to close), fading out smoothly around them. ``factor`` >= 0.35 keeps the mapping
    from folding."""
    distance = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    sx, sy = 0.3 * distance, 0.22 * distance
    k = np.float32(1.0 / factor - 1.0)
    for cx, cy in landmarks[:2]:

        def field(xx, yy, cx=cx, cy=cy):
            weight = _gauss(xx, yy, cx, cy, sx, sy)
            return np.zeros_like(xx), (yy - np.float32(cy)) * k * weight

        image = _displace(image, (cx - 3 * sx, cy - 3 * sy, cx + 3 * sx, cy + 3 * sy), field)
    return image


def open_mouth(image: np.ndarray, landmarks: np.ndarray, amount: float) -> np.ndarray:
    """The lower lip and chin stretched down by ``amount`` mouth widths (at most 0.4), with a dark
    opening painted between the lips."""
    mouth = (landmarks[3] + landmarks[4]) / 2.0
    width = float(np.linalg.norm(landmarks[3] - landmarks[4])) or 1.0
    shift = np.float32(amount * width)
    ramp, fall = np.float32(0.5 * width), np.float32(1.3 * width)

    def field(xx, yy):
        below = yy - np.float32(mouth[1])
        profile = np.where(
            below < 0, 0.0, np.where(below < ramp, below / ramp, np.clip(1.0 - (below - ramp) / fall, 0.0, 1.0))
        )
        across = np.exp(-(((xx - np.float32(mouth[0])) / np.float32(0.55 * width)) ** 2))
        return np.zeros_like(xx), (-shift * profile * across).astype(np.float32)

    out = _displace(
        image, (mouth[0] - 1.6 * width, mouth[1] - 0.2 * width, mouth[0] + 1.6 * width, mouth[1] + 2.0 * width), field
    )
    # The opening: a soft dark ellipse between the lips, as tall as the stretch.
    h, w = out.shape[:2]
    mask = np.zeros((h, w), np.float32)
    centre = (int(round(mouth[0])), int(round(mouth[1] + shift / 2.0)))
    axes = (max(1, int(0.3 * width)), max(1, int(shift * 0.45)))
    cv2.ellipse(mask, centre, axes, 0.0, 0.0, 360.0, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.05 * width))[..., None] * np.float32(0.85)
    dark = np.array([35.0, 30.0, 60.0], np.float32)  # a dim red-brown mouth interior (BGR)
    return np.clip(out.astype(np.float32) * (1.0 - mask) + dark * mask, 0, 255).astype(np.uint8)


def move_nose(image: np.ndarray, landmarks: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The central face region (nose and mouth) pushed by (dx, dy) eye distances, fading out
    towards the face's edges: a 2D imitation of a head turn (dx) or nod (dy)."""
    distance = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    cx, cy = landmarks[2]
    sx, sy = 0.6 * distance, 0.8 * distance

    def field(xx, yy):
        weight = _gauss(xx, yy, cx, cy, sx, sy)
        return np.float32(-dx * distance) * weight, np.float32(-dy * distance) * weight

    return _displace(image, (cx - 3 * sx, cy - 3 * sy, cx + 3 * sx, cy + 3 * sy), field)


# Per-frame strength of each faked action, centred on its share of the capture.
_FAKE_PROFILES: dict[str, list[float]] = {
    "blink": [0.7, 0.38, 0.7],  # eye height factor
    "open_mouth": [0.15, 0.3, 0.4, 0.4, 0.3, 0.15],  # mouth widths of stretch
    "turn_left": [0.1, 0.2, 0.3, 0.35, 0.3, 0.2, 0.1],  # eye distances: nose to the image's right
    "turn_right": [-0.1, -0.2, -0.3, -0.35, -0.3, -0.2, -0.1],
    "nod": [-0.1, -0.2, -0.25, -0.2, -0.1, 0.0, 0.1, 0.2, 0.25, 0.2, 0.1],  # up (negative y), then down
}


def fake_actions(frames: list[np.ndarray], landmarks: np.ndarray, actions: list[str]) -> list[np.ndarray]:
    """Each requested action faked on the still copies in ``frames``, in order, each centred on its
    share of the frames (the frames are changed in place of a copy list)."""
    out = list(frames)
    n = len(out)
    for k, action in enumerate(actions):
        profile = _FAKE_PROFILES[action]
        centre = int((k + 0.5) * n / len(actions))
        first = max(0, min(n - len(profile), centre - len(profile) // 2))
        for j, strength in enumerate(profile):
            i = first + j
            if i >= n:
                break
            if action == "blink":
                out[i] = squash_eyes(out[i], landmarks, strength)
            elif action == "open_mouth":
                out[i] = open_mouth(out[i], landmarks, strength)
            elif action == "nod":
                out[i] = move_nose(out[i], landmarks, 0.0, strength)
            else:
                out[i] = move_nose(out[i], landmarks, strength, 0.0)
    return out


def _jitter(frame: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` copies of ``frame``, each shifted by a smooth sub-pixel to 2 px path and turned and
    scaled very slightly (a phone on a stand, or in a hand)."""
    h, w = frame.shape[:2]
    dx, dy = smooth_path(rng, n, -2.0, 2.0), smooth_path(rng, n, -2.0, 2.0)
    angle, scale = smooth_path(rng, n, -0.4, 0.4), smooth_path(rng, n, 0.995, 1.005)
    out = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(angle[i]), float(scale[i]))
        m[:, 2] += (dx[i], dy[i])
        out.append(cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return out


def make_still_injection(
    capture: Capture, frames: list[np.ndarray], rng: np.random.Generator, detector=None, variant: str | None = None
) -> CaptureAttack:
    """One still of the capture repeated to its frame count, each copy edited a little (see the
    module docstring); ``variant`` forces one of STILL_VARIANTS, else the rng draws it."""
    from facetrust.liveness.frames import content_hash

    variant = variant or str(rng.choice(STILL_VARIANTS))
    if variant not in STILL_VARIANTS:
        raise ValueError(f"unknown still injection variant {variant!r}; expected one of {STILL_VARIANTS}")
    index, landmarks = choose_still(frames, detector)
    still, n = frames[index], len(frames)
    note = None
    if variant == "fake_action" and (landmarks is None or not capture.actions):
        note = "no face landmarks to fake the actions with" if landmarks is None else "no action requested"
        variant = "noise"
    if variant == "noise":
        amplitude = int(rng.integers(1, 3))
        out = [_noise(still, rng, amplitude) for _ in range(n)]
    elif variant == "pixels":
        out = []
        h, w = still.shape[:2]
        for _ in range(n):
            copy = still.copy()
            for _ in range(int(rng.integers(2, 7))):
                y, x = int(rng.integers(0, h - 1)), int(rng.integers(0, w - 1))
                change = int(rng.choice([-1, 1]) * rng.integers(10, 41))
                copy[y : y + 2, x : x + 2] = np.clip(copy[y : y + 2, x : x + 2].astype(np.int16) + change, 0, 255)
            out.append(copy)
    elif variant == "jpeg":
        qualities = [int(q) for q in rng.permutation(np.arange(70, 96))]
        out = []
        for i in range(n):
            first, again = qualities[i % len(qualities)], i // len(qualities)
            image = _jpeg(still, first)
            for _ in range(again):  # more frames than qualities: compress again at another quality
                image = _jpeg(image, int(rng.integers(70, 96)))
            out.append(image)
    elif variant == "jitter":
        out = _jitter(still, rng, n)
    else:  # fake_action
        out = fake_actions([_noise(still, rng, 1) for _ in range(n)], landmarks, list(capture.actions))
    source_hashes = {content_hash(f) for f in frames}
    meta = {
        "label": "attack",
        "species": "still_injection",
        "purpose": capture.purpose,
        "actions": list(capture.actions),
        "t_ms": list(capture.t_ms),
        "variant": variant,
        "still_frame": index,
        "source": f"frame {index} of capture {capture.name}",
    }
    if note:
        meta["variant_note"] = f"fake_action not possible ({note}); noise used"
    return CaptureAttack(_out_name(capture.name), _distinct(out, rng, source_hashes), meta)


def make_noise_replay(capture: Capture, frames: list[np.ndarray], rng: np.random.Generator) -> CaptureAttack:
    """The whole capture again, every frame changed enough to defeat byte and pixel hashes, for a
    purpose whose action floor its actions meet (see the module docstring)."""
    from facetrust.liveness.frames import content_hash
    from facetrust.tools.evaluation.captures import PURPOSE_MIN_ACTIONS, PURPOSES

    h, w = frames[0].shape[:2]
    amplitude = int(rng.integers(1, 4))
    scale = float(rng.uniform(0.9, 1.1))
    shift = [int(v) for v in rng.integers(-4, 5, 2)]
    brightness = float(rng.uniform(0.94, 1.06)) if rng.random() < 0.5 else 1.0
    qualities = [int(q) for q in rng.integers(70, 96, len(frames))]
    out = []
    for frame, quality in zip(frames, qualities):
        image = frame
        if brightness != 1.0:
            image = cv2.convertScaleAbs(image, alpha=brightness)
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        image = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        # Crop or edge-pad back to the size, the content shifted by a few pixels.
        left, top = (sw - w) // 2 - shift[0], (sh - h) // 2 - shift[1]
        pad = max(0, -left, -top, left + w - sw, top + h - sh)
        if pad:
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        image = image[top + pad : top + pad + h, left + pad : left + pad + w]
        out.append(_jpeg(_noise(image, rng, amplitude), quality))
    choices = [p for p in PURPOSES if len(capture.actions) >= PURPOSE_MIN_ACTIONS[p]]
    purpose = str(rng.choice(choices)) if choices else capture.purpose
    meta = {
        "label": "attack",
        "species": "noise_replay",
        "purpose": purpose,
        "actions": list(capture.actions),
        "t_ms": list(capture.t_ms),
        "replay_of": capture.name,
        "transform": {
            "noise": amplitude,
            "scale": round(scale, 4),
            "shift_px": shift,
            "brightness": round(brightness, 4),
            "jpeg_quality": [min(qualities), max(qualities)],
        },
        "source": f"capture {capture.name}, every frame changed",
    }
    return CaptureAttack(_out_name(capture.name), _distinct(out, rng, {content_hash(f) for f in frames}), meta)


def _same_size(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The frames, any of another size than the first resized to it (as a screen or a print shows
    whatever it is given at its own size)."""
    h, w = frames[0].shape[:2]
    return [f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]


def make_screen_replay(capture: Capture, frames: list[np.ndarray], rng: np.random.Generator) -> CaptureAttack:
    """The capture's recording played on a screen held in front of the camera (``make_attack``'s
    screen), one output frame per source frame, with the source's purpose, actions, t_ms and
    events: the replayed person performs the challenge."""
    from facetrust.liveness.frames import content_hash

    sequence = make_attack(_same_size(frames), "screen", rng, n_frames=len(frames))
    meta = {
        "label": "attack",
        "species": "screen",
        "purpose": capture.purpose,
        "actions": list(capture.actions),
        "t_ms": list(capture.t_ms),
        "replay_of": capture.name,
        "source": f"capture {capture.name} replayed on a screen held in front of the camera, frame for frame",
        "generator": sequence.params,
    }
    if capture.events:
        meta["events"] = capture.events
    return CaptureAttack(
        _out_name(capture.name), _distinct(sequence.frames, rng, {content_hash(f) for f in frames}), meta
    )


def make_print_attack(
    capture: Capture, frames: list[np.ndarray], rng: np.random.Generator, detector=None
) -> CaptureAttack:
    """A print of one frame of the capture (``choose_still``: the most frontal, else the middle one)
    held in front of the camera (``make_attack``'s print) for the capture's frame count, with its
    purpose, actions and t_ms: the print cannot perform them."""
    from facetrust.liveness.frames import content_hash

    index, landmarks = choose_still(frames, detector)
    sequence = make_attack([frames[index]], "print", rng, n_frames=len(frames))
    generator = {k: v for k, v in sequence.params.items() if k != "photo_frame"}
    meta = {
        "label": "attack",
        "species": "print",
        "purpose": capture.purpose,
        "actions": list(capture.actions),
        "t_ms": list(capture.t_ms),
        "still_frame": index,
        "print_of": capture.name,
        "still_choice": "middle" if landmarks is None else "most frontal",
        "source": f"frame {index} of capture {capture.name}, printed and held in front of the camera",
        "generator": generator,
    }
    return CaptureAttack(
        _out_name(capture.name), _distinct(sequence.frames, rng, {content_hash(f) for f in frames}), meta
    )


def _events_of(capture: Capture) -> list[tuple[str, int, int]]:
    return sorted(((e["action"], int(e["start"]), int(e["end"])) for e in capture.events), key=lambda e: (e[1], e[2]))


def _regular_t_ms(capture: Capture, n: int) -> list[float]:
    """``n`` timestamps at the source capture's median frame interval, from 0."""
    step = float(np.median(np.diff(capture.t_ms))) if len(capture.t_ms) > 1 else 1000.0 / ASSUMED_FPS
    return [round(i * step, 3) for i in range(n)]


def action_segments(
    events: list[tuple[str, int, int]], n: int, context: int = SPLICE_CONTEXT
) -> list[tuple[str, int, int, int, int]]:
    """(action, first, last, event start, event end) of the capture's segments to reorder: the first
    event of each action that does not overlap the one kept before it, with ``context`` frames on
    each side, split midway between neighbouring events so that no frame is in two segments."""
    kept: list[tuple[str, int, int]] = []
    for action, start, end in events:
        if any(action == k[0] for k in kept) or (kept and start <= kept[-1][2]):
            continue
        kept.append((action, start, end))
    segments = []
    for i, (action, start, end) in enumerate(kept):
        first, last = max(0, start - context), min(n - 1, end + context)
        if i > 0:
            first = max(first, (kept[i - 1][2] + start) // 2 + 1)
        if i + 1 < len(kept):
            last = min(last, (end + kept[i + 1][1]) // 2)
        segments.append((action, first, last, start, end))
    return segments


def _splice_meta(
    capture: Capture, actions: list[str], n: int, sources: list[str], cuts: list[int], mode: str, events: list[dict]
) -> dict:
    return {
        "label": "attack",
        "species": "splice",
        "purpose": capture.purpose,
        "actions": actions,
        "t_ms": _regular_t_ms(capture, n),
        "spliced_from": sources,
        "cuts": cuts,
        "mode": mode,
        "events": events,
        "source": f"segments of {', '.join(sources)}",
    }


def _unique_pixels(frames: list[np.ndarray]) -> bool:
    from facetrust.liveness.frames import content_hash

    return len({content_hash(f) for f in frames}) == len(frames)


def _nudge(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``frame`` with one random 8x8 block brightened or darkened by 3-6 grey levels."""
    frame = frame.copy()
    h, w = frame.shape[:2]
    y, x = int(rng.integers(0, max(1, h - 8))), int(rng.integers(0, max(1, w - 8)))
    block = frame[y : y + 8, x : x + 8].astype(np.int16) + int(rng.choice([-1, 1]) * rng.integers(3, 7))
    frame[y : y + 8, x : x + 8] = np.clip(block, 0, 255).astype(np.uint8)
    return frame


def _not_the_source(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The spliced frames, each with one 8x8 block changed by a few grey levels (``_nudge``) and
    checked to differ, once written, from its source frame. Several splices reuse one source's
    frames, and JPEG re-compression at quality 95 of a decoded quality-95 frame often gives back
    its exact pixels: unchanged, a splice would share frames with its source and with the other
    splices of it, and the exact pixel hash would stop it whenever one of those had been passed
    before, whatever its cuts. An attacker holding the recording sends frames never sent before."""
    from facetrust.liveness.frames import content_hash

    return _distinct([_nudge(f, rng) for f in frames], rng, {content_hash(f) for f in frames})


def splice_reorder(capture: Capture, frames: list[np.ndarray], rng: np.random.Generator) -> CaptureAttack | None:
    """The capture's action segments in another order, requesting the actions in that order
    (None with fewer than two actions among its events)."""
    segments = action_segments(_events_of(capture), len(frames))
    if len(segments) < 2:
        return None
    order = list(range(len(segments)))[::-1]
    if len(segments) > 2:
        order = [int(i) for i in rng.permutation(len(segments))]
        while order == sorted(order):
            order = [int(i) for i in rng.permutation(len(segments))]
    out, cuts, events = [], [], []
    for i in order:
        action, first, last, start, end = segments[i]
        if out:
            cuts.append(len(out))
        events.append({"action": action, "start": len(out) + start - first, "end": len(out) + end - first})
        out.extend(frames[first : last + 1])
    actions = [segments[i][0] for i in order]
    meta = _splice_meta(capture, actions, len(out), [capture.name], cuts, "reorder", events)
    return CaptureAttack(f"{_out_name(capture.name)}__reorder", _not_the_source(out, rng), meta)


def _segment(capture: Capture, n: int, prefer: str | None, avoid: str | None) -> tuple[str, int, int, int, int] | None:
    """An event of the capture (the one of action ``prefer`` if any, else the first not of action
    ``avoid``) with ``SPLICE_CONTEXT`` frames around it."""
    events = [e for e in _events_of(capture) if e[0] != avoid]
    if not events:
        return None
    action, start, end = next((e for e in events if e[0] == prefer), events[0])
    return action, max(0, start - SPLICE_CONTEXT), min(n - 1, end + SPLICE_CONTEXT), start, end


def splice_join(
    first: Capture,
    first_frames: list[np.ndarray],
    partners: list[Capture],
    load: Callable[[Capture], list[np.ndarray]],
    rng: np.random.Generator,
) -> CaptureAttack | None:
    """A segment with an action of ``first`` followed by a segment with another action from one of
    ``partners`` (captures of the same recording, tried in a seeded order), requesting both.
    ``load(capture)`` gives a partner's frames. None when no partner has another action."""
    a = _segment(first, len(first_frames), first.actions[0] if first.actions else None, None)
    if a is None:
        return None
    for i in rng.permutation(len(partners)):
        other = partners[int(i)]
        other_frames = load(other)
        b = _segment(other, len(other_frames), other.actions[0] if other.actions else None, a[0])
        if b is None:
            continue
        seg_a, seg_b = first_frames[a[1] : a[2] + 1], other_frames[b[1] : b[2] + 1]
        out = seg_a + seg_b
        if seg_a[0].shape != seg_b[0].shape or not _unique_pixels(out):
            continue  # another size, or overlapping frames of the recording: not a usable pair
        events = [
            {"action": a[0], "start": a[3] - a[1], "end": a[4] - a[1]},
            {"action": b[0], "start": len(seg_a) + b[3] - b[1], "end": len(seg_a) + b[4] - b[1]},
        ]
        meta = _splice_meta(first, [a[0], b[0]], len(out), [first.name, other.name], [len(seg_a)], "join", events)
        name = f"{_out_name(first.name)}__join__{_out_name(other.name).split('__')[-1]}"
        return CaptureAttack(name, _not_the_source(out, rng), meta)
    return None


def splice_halves(capture: Capture, frames: list[np.ndarray], rng: np.random.Generator) -> CaptureAttack | None:
    """The capture's two halves swapped (for a capture without ``events``); actions unchanged."""
    n = len(frames)
    if n < 2:
        return None
    half = n // 2
    out = frames[half:] + frames[:half]
    meta = _splice_meta(capture, list(capture.actions), n, [capture.name], [n - half], "halves", [])
    del meta["events"]
    return CaptureAttack(f"{_out_name(capture.name)}__halves", _not_the_source(out, rng), meta)


def write_capture_attacks(captures_dir: Path, out_dir: Path, species: str, seed: int, detector=None) -> dict:
    """Make ``species`` attacks (CAPTURE_SPECIES, or the presentation SPECIES print and screen) from
    every bona fide capture of the captures folder ``captures_dir`` and write them under
    ``out_dir/<species>/<name>/``. ``detector`` (``FaceEngine.detector``) finds the most frontal
    frame (and its landmarks) of the still injection and of the print; without it the middle frame
    is taken and the fake_action variant falls back to noise.

    Returns {"written": n, "by_kind": {variant or mode (print, screen: the species): n}, "sources":
    bona fide captures read, "not_used": captures that gave no attack}. Raises ``CaptureError`` (a
    ValueError) for a malformed folder or one without bona fide captures, ValueError for an unknown
    species.
    """
    from collections import Counter

    from facetrust.tools.evaluation.captures import CaptureError, find_captures, write_capture

    if species not in CAPTURE_SPECIES + SPECIES:
        raise ValueError(f"unknown capture attack species {species!r}; expected one of {CAPTURE_SPECIES + SPECIES}")
    sources = [c for c in find_captures(captures_dir) if not c.is_attack]
    if not sources:
        raise CaptureError(f"{captures_dir}: no bona fide captures to make attacks from")
    kinds: Counter = Counter()
    not_used = 0
    cache: dict[str, list[np.ndarray]] = {}

    def load(capture: Capture) -> list[np.ndarray]:
        if capture.name not in cache:
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            cache[capture.name] = capture.load_frames()
        return cache[capture.name]

    by_recording: dict[str, list] = {}
    for capture in sources:
        if capture.recording is not None:
            by_recording.setdefault(capture.recording, []).append(capture)
    for capture in sources:
        rng = _input_rng(seed, f"{species}:{capture.name}")
        frames = load(capture)
        if species == "still_injection":
            made = [make_still_injection(capture, frames, rng, detector)]
        elif species == "noise_replay":
            made = [make_noise_replay(capture, frames, rng)]
        elif species == "screen":
            made = [make_screen_replay(capture, frames, rng)]
        elif species == "print":
            made = [make_print_attack(capture, frames, rng, detector)]
        elif "events" not in capture.meta:
            made = [splice_halves(capture, frames, rng)]
        else:
            partners = [c for c in by_recording.get(capture.recording or "", []) if c.name != capture.name]
            made = [splice_reorder(capture, frames, rng), splice_join(capture, frames, partners, load, rng)]
        made = [m for m in made if m is not None]
        if not made:
            not_used += 1
        for attack in made:
            write_capture(Path(out_dir) / species / attack.name, attack.frames, attack.meta)
            kinds[attack.meta.get("variant") or attack.meta.get("mode") or species] += 1
    return {
        "written": sum(kinds.values()),
        "by_kind": dict(sorted(kinds.items())),
        "sources": len(sources),
        "not_used": not_used,
    }
