"""The presentation-attack generator: shapes and determinism, the print's planar motion and duller
colours, the screen's moiré, faces that stay detectable, and the data-set writer.

Properties that need a real face use the shared data (FACETRUST_SHARED_DATA) and skip without it;
the others run on synthetic images.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.biometrics.detect import choose_subject
from facetrust.tools.attacks import (
    SPECIES,
    AttackSequence,
    make_attack,
    read_input_frames,
    write_attack_dataset,
)

NUAA_STILLS = [
    "nuaa-dev/ClientRaw/0001/0001_00_00_01_0.jpg",
    "nuaa-dev/ClientRaw/0003/0003_01_00_01_311.jpg",
    "nuaa-dev/ClientRaw/0006/0006_00_00_02_193.jpg",
]


def synthetic_frame(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """A textured colour image: smooth gradients, a few shapes, some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / width * 200, y / height * 200, (x + y) / (width + height) * 255], axis=2)
    image += rng.normal(0, 8, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    cv2.circle(image, (width // 2, height // 2), height // 4, (40, 90, 200), -1)
    cv2.rectangle(image, (20, 20), (80, 70), (230, 230, 230), -1)
    return image


def flat_frame(bgr: tuple[int, int, int], height: int = 120, width: int = 160) -> np.ndarray:
    return np.full((height, width, 3), bgr, np.uint8)


@pytest.fixture(scope="module")
def nuaa(shared_data: Path):
    """Read a NUAA bona fide still by its path under the shared data (a missing one is an error)."""

    def read(rel: str) -> np.ndarray:
        path = shared_data / rel
        assert path.is_file(), f"NUAA still {path} not found in the shared data"
        image = cv2.imread(str(path))
        assert image is not None, path
        return image

    return read


def subject(engine, image: np.ndarray):
    return choose_subject(engine.detector.detect(image), image.shape)


def map_points(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)


def box_corners(box: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = box
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)


def polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def periodicity(frame: np.ndarray, size: int = 128) -> float:
    """How strongly isolated peaks stand out in the spectrum: in overlapping windows of the
    high-passed grey image, the largest ratio of the power in a 3x3 block of frequencies to the
    mean power of the ring around it (out to 11x11); the median over windows.

    Natural images have smooth spectra (ratio about 4-5 here); a periodic pattern is a sharp peak.
    Windows, because moiré on a tilted screen is no single global frequency. Frequencies on the
    8-pixel JPEG block grid are left out: the bona fide JPEG and the re-captured frames share them.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    high = gray - cv2.GaussianBlur(gray, (0, 0), 3)
    window = np.outer(np.hanning(size), np.hanning(size)).astype(np.float32)
    f = np.fft.fftfreq(size)
    fx, fy = f[None, :], f[:, None]

    def on_block_grid(v: np.ndarray) -> np.ndarray:
        return np.abs(v * 8 - np.round(v * 8)) * size / 8 <= 1.01

    radius = np.hypot(fx, fy)
    band = (radius >= 0.04) & (radius <= 0.35) & ~on_block_grid(fx) & ~on_block_grid(fy)
    scores = []
    for y in range(0, high.shape[0] - size + 1, size // 2):
        for x in range(0, high.shape[1] - size + 1, size // 2):
            power = (np.abs(np.fft.fft2(high[y : y + size, x : x + size] * window)) ** 2).astype(np.float32)
            peak = cv2.blur(power, (3, 3), borderType=cv2.BORDER_REFLECT)
            inner = cv2.blur(power, (5, 5), borderType=cv2.BORDER_REFLECT) * 25
            outer = cv2.blur(power, (11, 11), borderType=cv2.BORDER_REFLECT) * 121
            ring = (outer - inner) / (121 - 25)
            scores.append(float((peak / ring)[band].max()))
    return float(np.median(scores))


# --- shapes, determinism, input checks (synthetic, no data needed) ---------------------------------


@pytest.mark.parametrize("species", SPECIES)
def test_frames_have_the_input_size_and_type(species):
    frame = synthetic_frame()
    attack = make_attack([frame], species, np.random.default_rng(1), n_frames=7)
    assert isinstance(attack, AttackSequence) and attack.species == species
    assert len(attack.frames) == 7 and len(attack.homographies) == 7
    for out, h in zip(attack.frames, attack.homographies):
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert h.shape == (3, 3) and np.isfinite(h).all()


@pytest.mark.parametrize("species", SPECIES)
def test_same_seed_same_frames_other_seed_other_frames(species):
    clip = [synthetic_frame(seed=s) for s in range(3)]
    a = make_attack(clip, species, np.random.default_rng(42))
    b = make_attack(clip, species, np.random.default_rng(42))
    c = make_attack(clip, species, np.random.default_rng(43))
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert all(np.array_equal(x, y) for x, y in zip(a.homographies, b.homographies))
    assert not any(np.array_equal(x, y) for x, y in zip(a.frames, c.frames))


def test_screen_replays_the_clip_in_order_and_print_shows_one_frame():
    # Three flat frames: blue, green, red. The screen shows frame i % 3 in output frame i;
    # the print is one photo, so every output frame has the same dominant colour.
    clip = [flat_frame((200, 30, 30)), flat_frame((30, 200, 30)), flat_frame((30, 30, 200))]
    centre = (slice(45, 75), slice(60, 100))
    screen = make_attack(clip, "screen", np.random.default_rng(5), n_frames=8)
    assert [int(np.argmax(f[centre].mean(axis=(0, 1)))) for f in screen.frames] == [i % 3 for i in range(8)]
    printed = make_attack(clip, "print", np.random.default_rng(5), n_frames=8)
    assert len({int(np.argmax(f[centre].mean(axis=(0, 1)))) for f in printed.frames}) == 1


@pytest.mark.parametrize(
    "frames, species, n_frames",
    [
        ([], "print", 15),
        ("not a list", "print", 15),
        ([np.zeros((100, 100), np.uint8)], "print", 15),  # grey, not BGR
        ([np.zeros((100, 100, 3), np.float32)], "screen", 15),  # not uint8
        ([np.zeros((100, 100, 4), np.uint8)], "screen", 15),  # BGRA
        ([np.zeros((100, 100, 3), np.uint8), np.zeros((90, 100, 3), np.uint8)], "screen", 15),
        ([np.zeros((10, 10, 3), np.uint8)], "print", 15),  # too small for a face
        ([np.zeros((100, 100, 3), np.uint8)], "mask", 15),
        ([np.zeros((100, 100, 3), np.uint8)], "print", 0),
    ],
)
def test_bad_input_is_refused(frames, species, n_frames):
    with pytest.raises(ValueError):
        make_attack(frames, species, np.random.default_rng(0), n_frames=n_frames)


# --- properties on a real face ---------------------------------------------------------------------


def test_print_moves_as_a_plane(engine, nuaa):
    photo = nuaa(NUAA_STILLS[0])
    face = subject(engine, photo)
    assert face is not None
    height, width = photo.shape[:2]
    attack = make_attack([photo], "print", np.random.default_rng(0), n_frames=15)

    # The homographies: the face box stays a convex quadrilateral of similar area, mostly in view,
    # moving a little between consecutive frames (smooth hand motion), with real perspective.
    corners = box_corners(face.box)
    quads = [map_points(h, corners) for h in attack.homographies]
    for quad in quads:
        assert 0.6 < polygon_area(quad) / polygon_area(corners) < 1.4
        assert cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2))
        centre = quad.mean(axis=0)
        assert 0 < centre[0] < width and 0 < centre[1] < height
    steps = [np.abs(b - a).max() for a, b in zip(quads, quads[1:])]
    assert min(steps) > 0.1 and max(steps) < 0.05 * np.hypot(width, height)
    assert max(abs(h[2, :2]).max() for h in attack.homographies) > 1e-5  # tilted, not just affine

    # The frames: the detector finds the face where the homography puts it, and the face really
    # moves over the sequence.
    errors, centres = [], []
    for frame, h in zip(attack.frames, attack.homographies):
        found = subject(engine, frame)
        assert found is not None
        predicted = map_points(h, face.landmarks)
        errors.append(np.linalg.norm(found.landmarks - predicted, axis=1).mean() / face.eye_distance)
        centres.append(found.centre)
    assert max(errors) < 0.25
    assert np.ptp(np.array(centres), axis=0).max() > 0.2 * face.eye_distance

    # Every pixel of the face region, not only five landmarks: warping each frame back through the
    # inverse homography lines its face up with the photo's, far better than the frame as it is.
    x, y, w, h = (int(v) for v in face.box)
    region = (slice(y, y + h), slice(x, x + w))
    source_gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    for frame, hom in zip(attack.frames, attack.homographies):
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        back = cv2.warpPerspective(gray, np.linalg.inv(hom), (width, height))
        assert ncc(back[region], source_gray[region]) > 0.9
    raw = [ncc(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[region], source_gray[region]) for f in attack.frames]
    assert np.median(raw) < 0.85


@pytest.mark.parametrize("still", NUAA_STILLS)
def test_print_reduces_saturation_over_the_face(engine, nuaa, still):
    photo = nuaa(still)
    face = subject(engine, photo)
    assert face is not None
    x, y, w, h = face.box
    inner = box_corners((x + 0.2 * w, y + 0.2 * h, 0.6 * w, 0.6 * h))  # skin, not background
    source_mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillConvexPoly(source_mask, inner.astype(np.int32), 1)
    source_s = cv2.cvtColor(photo, cv2.COLOR_BGR2HSV)[..., 1][source_mask > 0].mean()
    attack = make_attack([photo], "print", np.random.default_rng(3))
    for frame, hom in zip(attack.frames, attack.homographies):
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, np.round(map_points(hom, inner)).astype(np.int32), 1)
        printed_s = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)[..., 1][mask > 0].mean()
        assert printed_s < 0.85 * source_s, (printed_s, source_s)


@pytest.mark.parametrize("still", NUAA_STILLS)
def test_screen_shows_a_periodic_moire_pattern(nuaa, still):
    photo = nuaa(still)
    source = periodicity(photo)
    for seed in range(2):
        attack = make_attack([photo], "screen", np.random.default_rng(seed))
        scores = [periodicity(frame) for frame in attack.frames]
        # Measured: source 4-5, screen frames 6-25 (median of a sequence 10-25), the same
        # screen without its moiré 4.4-5.2.
        assert min(scores) > 1.3 * source, (min(scores), source)
        assert np.median(scores) > 2.5 * source, (np.median(scores), source)


@pytest.mark.parametrize("species", SPECIES)
def test_generated_faces_are_still_detected(engine, nuaa, species):
    found = total = 0
    for still in NUAA_STILLS:
        photo = nuaa(still)
        for seed in range(2):
            for frame in make_attack([photo], species, np.random.default_rng(seed)).frames:
                total += 1
                found += subject(engine, frame) is not None
    assert found >= 0.8 * total, f"{found} of {total} frames have a detected face"


# --- the data-set writer ---------------------------------------------------------------------------


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_video_frames_come_from_the_middle(tmp_path):
    video = tmp_path / "clip.avi"
    write_video(video, [flat_frame((5 * k,) * 3) for k in range(40)])
    frames = read_input_frames(video, 10)
    levels = [round(float(f.mean()) / 5) for f in frames]
    assert levels == list(range(15, 25))


def test_unreadable_input_is_an_error(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(ValueError):
        write_attack_dataset([broken], tmp_path / "out", "print", seed=1)
    with pytest.raises(ValueError):
        write_attack_dataset([broken], tmp_path / "out", "hologram", seed=1)


def test_write_attack_dataset_writes_one_folder_per_input(tmp_path):
    image = tmp_path / "still.png"
    cv2.imwrite(str(image), synthetic_frame())
    video = tmp_path / "clip.avi"
    write_video(video, [synthetic_frame(seed=s) for s in range(20)])
    out = tmp_path / "out"
    for species in SPECIES:
        assert write_attack_dataset([image, video], out, species, seed=7, n_frames=6) == 2
        for stem in ("still", "clip"):
            names = sorted(p.name for p in (out / species / stem).iterdir())
            assert names == [f"frame_{i:03d}.jpg" for i in range(6)]
            first = cv2.imread(str(out / species / stem / "frame_000.jpg"))
            assert first is not None and first.shape == (240, 320, 3)
    # One folder per species, one folder of frames per input below it.
    assert sorted(p.name for p in out.iterdir()) == sorted(SPECIES)
    # Same seed, same bytes; a shorter rerun leaves no stale frames behind.
    before = (out / "print" / "still" / "frame_002.jpg").read_bytes()
    assert write_attack_dataset([image], out, "print", seed=7, n_frames=3) == 1
    assert sorted(p.name for p in (out / "print" / "still").iterdir()) == [
        "frame_000.jpg",
        "frame_001.jpg",
        "frame_002.jpg",
    ]
    assert (out / "print" / "still" / "frame_002.jpg").read_bytes() != b""
    write_attack_dataset([image], out, "print", seed=7, n_frames=6)
    assert (out / "print" / "still" / "frame_002.jpg").read_bytes() == before


def test_write_attack_dataset_from_a_real_clip(shared_data, tmp_path):
    clip = shared_data / "face-clips" / "d0.mp4"
    assert write_attack_dataset([clip], tmp_path, "screen", seed=3) == 1
    frames = sorted((tmp_path / "screen" / "d0").glob("frame_*.jpg"))
    assert len(frames) == 15
    assert cv2.imread(str(frames[0])).shape == (512, 512, 3)
