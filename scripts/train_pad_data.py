"""The face crops the passive PAD models are trained and measured on (used by train_pad_texture.py).

Every usable frame becomes one ``facetrust.liveness.texture.face_crop`` (192 x 192, box x1.2), with
what it is and where it came from:

- ``domain``: the capture chain the *face* went through before any attack: ``nuaa`` (one webcam,
  640x480), ``clip`` (the nine stock/studio face clips) or ``lfw`` (press-photo stills, 250x250).
- ``group``: the split unit: the NUAA subject, the clip, or the LFW identity.
- ``species``: ``bona fide``, ``print`` (NUAA's real printed photos and generated prints), ``screen``
  (generated screen replays), or the injection-style captures made of real camera frames, which are
  measured but never trained on: ``still`` (one real frame repeated with a little noise and jitter),
  ``noise`` (a real window replayed with added noise and re-compression) and ``splice`` (half a
  window from one recording, half from another; it reuses the bona fide crops, see ``splices``).
- ``generated``: made here with ``facetrust.tools.attacks.make_attack`` from bona fide frames of
  the same group (on the same side of every split as its source).
- ``recording``: frames of one recording, in order; windows are cut from it (``window_slices``).

Nothing here decides anything; the protocol is in train_pad_texture.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from facetrust.biometrics.detect import choose_subject
from facetrust.liveness import texture
from facetrust.tools.attacks import make_attack

SEED = 20240611
WINDOW = 8  # frames per capture window (a capture is about 8-15 frames)
MIN_FRAMES = 4  # a remainder shorter than this at the end of a recording is dropped
CLIP_STRIDE = 2  # the clips are 25-30 fps; every 2nd frame is about a 12-15 fps capture
GEN_WINDOWS_PER_RECORDING = 4  # generated print/screen windows per species from this many windows of a recording
INJECT_WINDOWS_PER_RECORDING = 2  # still-injection / noise-replay windows per recording
LFW_IDENTITIES = 1200  # one still of each of this many identities (a fixed seeded sample)
LFW_GEN_EVERY = 6  # one print and one screen attack from every 6th sampled still
LFW_INJECT_EVERY = 12
CACHE_VERSION = 5

BONA, PRINT, SCREEN = "bona fide", "print", "screen"
STILL, NOISE, SPLICE = "still", "noise", "splice"
INJECTION = (STILL, NOISE, SPLICE)

NUAA_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)_(\d+)$")


def window_slices(n: int, window: int = WINDOW, min_frames: int = MIN_FRAMES) -> list[slice]:
    """Consecutive windows of a recording of n frames: a short remainder is dropped unless the
    recording has no full window."""
    if n <= window:
        return [slice(0, n)] if n else []
    out = [slice(i, i + window) for i in range(0, n - window + 1, window)]
    rest = n % window
    if rest >= min_frames:
        out.append(slice(n - rest, n))
    return out


def spread(items: list, k: int) -> list:
    """At most k items, evenly spaced over the list."""
    if len(items) <= k:
        return list(items)
    return [items[int(round(i))] for i in np.linspace(0, len(items) - 1, k)]


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def make_detector():
    """The service's face detector (YuNet, with the service's settings), without the rest of the
    engine: the passive model needs only the face box."""
    from facetrust.biometrics import modelfiles
    from facetrust.biometrics.detect import YuNetDetector
    from facetrust.settings import get_settings

    settings = get_settings()
    return YuNetDetector(
        modelfiles.require(settings.resolved_models_dir, "face_detection_yunet_2023mar.onnx"),
        settings.detector_score_threshold,
        settings.detector_max_side,
    )


def detect_crop(detector, image: np.ndarray):
    face = choose_subject(detector.detect(image), image.shape)
    if face is None:
        return None, 0.0
    return texture.face_crop(image, face), float(max(face.box[2], face.box[3]))


def nuaa_recordings(data: Path) -> dict[tuple[str, str], list[Path]]:
    """(ClientRaw|ImposterRaw, subject_glasses_pos_session) -> frame paths in picNo order."""
    groups: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for kind in ("ClientRaw", "ImposterRaw"):
        for path in sorted((data / "nuaa-dev" / kind).glob("*/*.jpg")):
            m = NUAA_NAME.match(path.stem)
            if not m:
                continue
            groups.setdefault((kind, "_".join(m.groups()[:4])), []).append((int(m.group(5)), path))
    return {k: [p for _, p in sorted(v)] for k, v in sorted(groups.items())}


def clip_frames(path: Path, stride: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames, i = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if i % stride == 0:
            frames.append(frame)
        i += 1
    capture.release()
    return frames


def lfw_sample(data: Path) -> list[tuple[str, Path]]:
    """(identity, image) for a fixed seeded sample of LFW_IDENTITIES identities, one image each."""
    people = sorted(p for p in (data / "lfw-dev" / "images").iterdir() if p.is_dir())
    rng = np.random.default_rng(SEED)
    chosen = sorted(rng.choice(len(people), size=min(LFW_IDENTITIES, len(people)), replace=False))
    out = []
    for i in chosen:
        images = sorted(people[i].glob("*.jpg"))
        out.append((people[i].name, images[int(rng.integers(len(images)))]))
    return out


def still_injection(frame: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """One real frame sent n times, each with a little sensor-like noise and a sub-pixel jitter so
    that no two frames have the same bytes (what a still injected past the camera looks like)."""
    h, w = frame.shape[:2]
    out = []
    for _ in range(n):
        m = np.float32([[1, 0, rng.uniform(-1.5, 1.5)], [0, 1, rng.uniform(-1.5, 1.5)]])
        moved = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        noisy = moved.astype(np.float32) + rng.normal(0.0, rng.uniform(1.0, 2.5), moved.shape)
        out.append(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    return out


def noise_replay(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A real capture replayed with added noise and a JPEG re-encoding (defeats exact-byte replay
    checks; the pixels are still those of a real camera)."""
    sigma, quality = rng.uniform(2.0, 5.0), int(rng.integers(70, 92))
    out = []
    for frame in frames:
        noisy = np.clip(frame.astype(np.float32) + rng.normal(0.0, sigma, frame.shape) + 0.5, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    return out


class Builder:
    def __init__(self, detector) -> None:
        self.detector = detector
        self.rows: dict[str, list] = {
            k: [] for k in ("crops", "domain", "group", "species", "generated", "recording", "face_width")
        }
        self.missed: dict[str, int] = {}

    def add_frames(self, frames, domain, group, species, generated, recording) -> list[np.ndarray]:
        """Detect and crop each frame; returns the frames in which a face was found."""
        kept = []
        for frame in frames:
            crop, width = detect_crop(self.detector, frame)
            if crop is None:
                key = f"{domain} {'gen ' if generated else ''}{species}"
                self.missed[key] = self.missed.get(key, 0) + 1
                continue
            for k, v in zip(self.rows, (crop, domain, group, species, generated, recording, width)):
                self.rows[k].append(v)
            kept.append(frame)
        return kept

    def derived(
        self, frames: list[np.ndarray], domain: str, group: str, recording: str, gen_windows: int, inject_windows: int
    ) -> None:
        """Generated print and screen attacks and the injection-style captures from one bona fide
        recording's usable frames."""
        slices = window_slices(len(frames))
        for sl in spread(slices, gen_windows):
            for species in (PRINT, SCREEN):
                name = f"{recording}[{sl.start}:{sl.stop}]#{species}"
                attack = make_attack(frames[sl], species, rng_for(name), WINDOW)
                self.add_frames(attack.frames, domain, group, species, True, "gen:" + name)
        for sl in spread(slices, inject_windows):
            name = f"{recording}[{sl.start}:{sl.stop}]"
            rng = rng_for(name + "#still")
            still = frames[sl][int(rng.integers(len(frames[sl])))]
            self.add_frames(still_injection(still, rng, WINDOW), domain, group, STILL, False, f"still:{name}")
            self.add_frames(
                noise_replay(frames[sl], rng_for(name + "#noise")), domain, group, NOISE, False, f"noise:{name}"
            )

    def arrays(self) -> dict[str, np.ndarray]:
        out = {k: np.array(v) for k, v in self.rows.items()}
        out["crops"] = np.stack(self.rows["crops"])
        out["generated"] = out["generated"].astype(bool)
        out["face_width"] = out["face_width"].astype(np.float64)
        out["missed"] = np.array(json.dumps(self.missed))
        return out


def build(data: Path, detector, log) -> dict[str, np.ndarray]:
    b = Builder(detector)
    t0 = time.perf_counter()
    for (kind, key), paths in nuaa_recordings(data).items():
        species = BONA if kind == "ClientRaw" else PRINT
        frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
        kept = b.add_frames(frames, "nuaa", key[:4], species, False, f"nuaa:{kind}/{key}")
        if species == BONA:
            b.derived(kept, "nuaa", key[:4], f"nuaa:{key}", GEN_WINDOWS_PER_RECORDING, INJECT_WINDOWS_PER_RECORDING)
    log(f"  NUAA and what was made from it: {len(b.rows['crops'])} crops ({time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    for path in sorted((data / "face-clips").glob("*.mp4")):
        kept = b.add_frames(clip_frames(path, CLIP_STRIDE), "clip", path.stem, BONA, False, f"clip:{path.stem}")
        b.derived(kept, "clip", path.stem, f"clip:{path.stem}", GEN_WINDOWS_PER_RECORDING, INJECT_WINDOWS_PER_RECORDING)
    log(f"  + face clips: {len(b.rows['crops'])} crops ({time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    for i, (identity, path) in enumerate(lfw_sample(data)):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        kept = b.add_frames([image], "lfw", identity, BONA, False, f"lfw:{path.stem}")
        if kept:
            b.derived(
                kept, "lfw", identity, f"lfw:{path.stem}", int(i % LFW_GEN_EVERY == 0), int(i % LFW_INJECT_EVERY == 0)
            )
    log(f"  + LFW stills: {len(b.rows['crops'])} crops ({time.perf_counter() - t0:.0f} s)")
    return b.arrays()


def load(data: Path, detector, cache: Path | None, log) -> dict[str, np.ndarray]:
    """The crops, from the cache folder when a matching file is there (the key covers every
    parameter that changes them)."""
    key = hashlib.sha256(
        json.dumps(
            [
                CACHE_VERSION,
                SEED,
                WINDOW,
                MIN_FRAMES,
                CLIP_STRIDE,
                GEN_WINDOWS_PER_RECORDING,
                INJECT_WINDOWS_PER_RECORDING,
                LFW_IDENTITIES,
                LFW_GEN_EVERY,
                LFW_INJECT_EVERY,
                texture.CROP_SIZE,
                texture.CROP_ENLARGE,
                str(data.resolve()),
            ]
        ).encode()
    ).hexdigest()[:16]
    path = cache / f"pad-crops-{key}.npz" if cache is not None else None
    if path is not None and path.exists():
        log(f"  crops from the cache {path}")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    arrays = build(data, detector, log)
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)  # uncompressed: crops barely compress and loading must be fast
    return arrays


def windows(d: dict[str, np.ndarray], mask: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the capture windows (consecutive usable frames of one recording) among ``mask``."""
    out = []
    idx = np.flatnonzero(mask)
    rec = d["recording"][idx]
    for r in dict.fromkeys(rec):  # first-seen order: frames were stored in recording order
        members = idx[rec == r]
        out.extend(members[sl] for sl in window_slices(len(members)))
    return out


def splices(d: dict[str, np.ndarray], mask: np.ndarray) -> list[np.ndarray]:
    """Splice captures among the bona fide frames of ``mask``: the first half of one bona fide
    window followed by the second half of a window of another group in the same domain (two real
    captures cut together). Deterministic; at most 2 per recording; none for LFW stills."""
    out = []
    for domain in ("nuaa", "clip"):
        sel = mask & (d["species"] == BONA) & (d["domain"] == domain)
        wins = [w for w in windows(d, sel) if len(w) == WINDOW]
        if len(wins) < 2:
            continue
        by_rec: dict[str, list[np.ndarray]] = {}
        for w in wins:
            by_rec.setdefault(d["recording"][w[0]], []).append(w)
        rng = rng_for(f"splice:{domain}:{len(wins)}")
        for ws in by_rec.values():
            others = [w for w in wins if d["group"][w[0]] != d["group"][ws[0][0]]]
            if not others:
                continue
            for w in spread(ws, 2):
                other = others[int(rng.integers(len(others)))]
                out.append(np.concatenate([w[: WINDOW // 2], other[WINDOW // 2 :]]))
    return out
