"""Synthetic presentation attacks, made from bona fide captures, for tests and evaluation of liveness.

Two attack instrument species are imitated:

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
"""

from __future__ import annotations

import numbers
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SPECIES = ("print", "screen")

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
    homographies: list[np.ndarray]  # the 3x3 homography applied to the presented plane in each frame (source -> output pixels)


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


def make_attack(
    frames: list[np.ndarray], species: str, rng: np.random.Generator, n_frames: int = 15
) -> AttackSequence:
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
    rng: np.random.Generator, n: int, width: int, height: int, limits: MotionLimits
) -> list[np.ndarray]:
    """A smooth random sequence of ``n`` plane homographies inside ``limits``."""
    scale = smooth_path(rng, n, *limits.scale)
    tx = smooth_path(rng, n, -limits.shift * width, limits.shift * width)
    ty = smooth_path(rng, n, -limits.shift * height, limits.shift * height)
    roll = np.radians(smooth_path(rng, n, -limits.roll_deg, limits.roll_deg))
    pitch = np.radians(smooth_path(rng, n, -limits.pitch_deg, limits.pitch_deg))
    yaw = np.radians(smooth_path(rng, n, -limits.yaw_deg, limits.yaw_deg))
    return [
        plane_homography(width, height, scale[i], tx[i], ty[i], roll[i], pitch[i], yaw[i])
        for i in range(n)
    ]


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
    photo = frames[int(rng.integers(len(frames)))]
    height, width = photo.shape[:2]
    printed, paper = print_photo(photo, rng)
    sheet, margin = _paper_border(printed, paper, rng)
    sheet = _bend(sheet, rng)
    mask = np.full(sheet.shape[:2], 255, np.uint8)
    background = _background(photo, rng)
    camera = _Camera(rng, height, width)
    homographies = random_motion(rng, n, width, height, PRINT_MOTION)
    gain = smooth_path(rng, n, 0.8, 1.1)
    grad_x = smooth_path(rng, n, -0.2, 0.2)
    grad_y = smooth_path(rng, n, -0.2, 0.2)
    x, y = _unit_grids(height, width)
    out = []
    for i, h in enumerate(homographies):
        hs = _with_margin(h, margin)
        plane = _warp(sheet, hs, width, height)
        alpha = _warp(mask, hs, width, height)
        light = np.float32(gain[i]) * (1.0 + np.float32(grad_x[i]) * x + np.float32(grad_y[i]) * y)
        out.append(camera.capture(_composite(background, plane, alpha, light)))
    return AttackSequence("print", out, homographies)


def print_photo(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The photo as a cheap colour print would render it (uint8 BGR, same size), and the paper's
    white (BGR, 0-255).

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
    coverage = _halftone(coverage, rng)
    printed = ink + (paper - ink) * (1.0 - coverage)
    printed = cv2.GaussianBlur(printed, (0, 0), rng.uniform(0.6, 1.2))
    printed *= _paper_texture(rng, *photo.shape[:2])[..., None]
    return np.clip(printed * 255.0, 0, 255).astype(np.uint8), paper * 255.0


def _halftone(coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mix a soft amplitude-modulated halftone into the ink coverage of each channel.

    Each ink (here: the complement of B, G, R) has its own screen angle, as in CMY printing; a dot
    is inked where the coverage exceeds the screen's threshold pattern.
    """
    height, width = coverage.shape[:2]
    period = rng.uniform(2.0, 3.5)
    mix = np.float32(rng.uniform(0.25, 0.5))
    base_angle = rng.uniform(0.0, 90.0)
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


def _bend(sheet: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Most of the time, bend the sheet mildly around a vertical or horizontal axis (constant over
    the sequence), seen from the front: the far edges shrink or swell with their depth.

    The bend radius is large (1.5-4 sheet widths), so the central face region moves by well under a
    pixel while the edges move by a few per cent: the returned homography stays right for the face.
    """
    if rng.random() < 0.3:
        return sheet
    height, width = sheet.shape[:2]
    vertical_axis = rng.random() < 0.7  # sheets held at their sides bend around a vertical axis
    span = width if vertical_axis else height
    radius = rng.uniform(1.5, 4.0) * span
    towards = rng.choice([-1.0, 1.0])  # edges curl towards or away from the camera
    distance = FOCAL_PER_SIDE * max(width, height)
    x, y = np.meshgrid(np.arange(width, dtype=np.float32) - width / 2.0,
                       np.arange(height, dtype=np.float32) - height / 2.0)
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
    )


def _make_screen(frames: list[np.ndarray], rng: np.random.Generator, n: int) -> AttackSequence:
    height, width = frames[0].shape[:2]
    look = screen_look(rng, width)
    background = _background(frames[0], rng)
    camera = _Camera(rng, height, width)
    homographies = random_motion(rng, n, width, height, SCREEN_MOTION)
    gain = smooth_path(rng, n, 0.93, 1.05)  # the camera's exposure reacting to the bright screen
    glare_x = smooth_path(rng, n, 0.15, 0.85) * width
    glare_y = smooth_path(rng, n, 0.15, 0.85) * height
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
    return AttackSequence("screen", out, homographies)


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
    the PAD evaluation (``facetrust.evaluation.sequences``), pointed at ``out_dir``, takes the
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
