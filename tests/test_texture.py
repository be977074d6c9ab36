"""The colour-texture PAD model: the crop, the LBP features, refusal of a bad weights file, and on the
real held-out data (FACETRUST_SHARED_DATA) that it separates bona fide frames from attacks.

Held-out means the subjects and clips listed as test in facetrust/liveness/pad_split.json, which the
shipped weights were not trained on. No figure is hard-coded here: the tests compare groups.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.biometrics.detect import DetectedFace, choose_subject
from facetrust.liveness import texture
from facetrust.liveness.attacks import make_attack, read_input_frames
from facetrust.liveness.texture import TextureModel, face_crop

SPLIT = json.loads((Path(texture.__file__).with_name("pad_split.json")).read_text())
TEST_SUBJECTS = SPLIT["nuaa"]["test_subjects"]


@pytest.fixture(scope="module")
def model() -> TextureModel:
    return TextureModel.load()


def face_of(engine, image: np.ndarray) -> DetectedFace:
    face = choose_subject(engine.detector.detect(image), image.shape)
    assert face is not None
    return face


def nuaa_sample(shared_data: Path, kind: str, step: int) -> list[Path]:
    """Every ``step``-th frame of each held-out subject's ClientRaw or ImposterRaw folder."""
    paths = []
    for subject in TEST_SUBJECTS:
        paths.extend(sorted((shared_data / "nuaa-dev" / kind / subject).glob("*.jpg"))[::step])
    assert paths, f"no NUAA {kind} frames for {TEST_SUBJECTS}"
    return paths


def scores_of(engine, model: TextureModel, images: list[np.ndarray]) -> np.ndarray:
    return model.frame_scores([face_crop(im, face_of(engine, im)) for im in images])


# --- crop and features (no data needed) ------------------------------------------------------------


def synthetic_image(seed: int = 0, height: int = 240, width: int = 320) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_crop_has_the_model_size_even_at_the_image_border():
    image = synthetic_image()
    for box in [(100.0, 60.0, 80.0, 90.0), (-30.0, -20.0, 90.0, 100.0), (280.0, 200.0, 70.0, 70.0)]:
        crop = face_crop(image, DetectedFace(box=box, landmarks=np.zeros((5, 2)), score=0.9))
        assert crop.shape == (texture.CROP_SIZE, texture.CROP_SIZE, 3) and crop.dtype == np.uint8


def test_crop_refuses_a_box_outside_the_image_or_a_bad_image():
    image = synthetic_image()
    with pytest.raises(ValueError):
        face_crop(image, DetectedFace(box=(500.0, 500.0, 50.0, 50.0), landmarks=np.zeros((5, 2)), score=0.9))
    with pytest.raises(ValueError):
        face_crop(image, DetectedFace(box=(10.0, 10.0, 0.0, 50.0), landmarks=np.zeros((5, 2)), score=0.9))
    with pytest.raises(ValueError):
        face_crop(image[:, :, 0], DetectedFace(box=(10.0, 10.0, 50.0, 50.0), landmarks=np.zeros((5, 2)), score=0.9))


def reference_lbp(channel: np.ndarray, r: int) -> np.ndarray:
    """Textbook uniform LBP(8, r) on the square neighbourhood, one pixel at a time."""
    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    hist = np.zeros(59)
    uniform = [c for c in range(256) if sum(((c >> i) & 1) != ((c >> ((i + 1) % 8)) & 1) for i in range(8)) <= 2]
    index = {c: i for i, c in enumerate(uniform)}
    h, w = channel.shape
    for y in range(r, h - r):
        for x in range(r, w - r):
            code = sum(1 << b for b, (dy, dx) in enumerate(offsets) if channel[y + dy * r, x + dx * r] >= channel[y, x])
            hist[index.get(code, 58)] += 1
    return hist / hist.sum()


@pytest.mark.parametrize("radius", [1, 2])
def test_lbp_matches_a_plain_reference(radius):
    image = synthetic_image(3, 24, 20)
    image[5:15, 4:12] = 128  # flat patch: ties between neighbour and centre count as 1
    fast = texture.lbp_histograms(image, radius)
    for c in range(3):
        np.testing.assert_allclose(fast[c], reference_lbp(image[:, :, c], radius), atol=1e-12)


def test_features_have_the_declared_length(model):
    crop = synthetic_image(1, texture.CROP_SIZE, texture.CROP_SIZE)
    assert texture.extract_features(crop, model.spec).shape == (model.spec.n_features,)
    with pytest.raises(ValueError):
        texture.extract_features(crop[:64, :64], model.spec)


# --- the weights file ------------------------------------------------------------------------------


def test_shipped_model_loads_with_its_id_threshold_and_split(model):
    digest = re.fullmatch(r"colour-lbp-v1:([0-9a-f]{12})", model.model_id)
    assert digest
    import hashlib

    assert hashlib.sha256(texture.DEFAULT_WEIGHTS.read_bytes()).hexdigest().startswith(digest.group(1))
    assert 0.0 < model.threshold < 1.0 and model.window >= 1
    assert model.provenance["train_subjects"] == SPLIT["nuaa"]["train_subjects"]
    assert model.provenance["train_clips"] == SPLIT["face_clips"]["train_clips"]
    assert not set(SPLIT["nuaa"]["train_subjects"]) & set(TEST_SUBJECTS)
    assert not set(SPLIT["face_clips"]["train_clips"]) & set(SPLIT["face_clips"]["test_clips"])
    assert texture.DEFAULT_WEIGHTS.stat().st_size < 100_000


def rewritten(tmp_path: Path, edit, reseal: bool) -> Path:
    """The shipped weights after ``edit``; ``reseal`` recomputes the checksum, as a careless or
    deliberate editor would, so that the structural checks are what must refuse the file."""
    data = json.loads(texture.DEFAULT_WEIGHTS.read_text())
    edit(data)
    if reseal:
        data["sha256"] = texture.payload_digest({k: v for k, v in data.items() if k != "sha256"})
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(data))
    return path


def test_an_edited_weights_file_is_refused(tmp_path):
    def nudge(data):
        data["classifier"]["coef"][3] += 0.5

    with pytest.raises(ValueError, match="checksum"):
        TextureModel.load(rewritten(tmp_path, nudge, reseal=False))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["classifier"]["coef"].pop(),  # wrong length
        lambda d: d["scaler"]["scale"].__setitem__(0, 0.0),  # division by zero
        lambda d: d["scaler"]["mean"].__setitem__(0, "x"),
        lambda d: d.__setitem__("threshold", 1.5),
        lambda d: d.__setitem__("window", 0),
        lambda d: d["crop"].__setitem__("size", 64),  # the runtime would crop differently from training
        lambda d: d["features"].__setitem__("lbp_radii", [1, 9]),
        lambda d: d["features"].__setitem__("colour_spaces", ["RGB"]),
        lambda d: d.__setitem__("format_version", 99),
        lambda d: d.pop("classifier"),
    ],
)
def test_a_malformed_weights_file_is_refused(tmp_path, edit):
    with pytest.raises(ValueError, match="refused PAD texture weights|not a valid JSON"):
        TextureModel.load(rewritten(tmp_path, edit, reseal=True))


def test_a_truncated_or_non_json_file_is_refused(tmp_path):
    raw = texture.DEFAULT_WEIGHTS.read_bytes()
    for content in (raw[: len(raw) // 2], b"\xff\xfe not json", b"[1, 2, 3]"):
        path = tmp_path / "w.json"
        path.write_bytes(content)
        with pytest.raises(ValueError):
            TextureModel.load(path)


# --- real data -------------------------------------------------------------------------------------


def test_held_out_real_frames_score_lower_than_held_out_prints(shared_data, engine, model):
    real = scores_of(engine, model, [cv2.imread(str(p)) for p in nuaa_sample(shared_data, "ClientRaw", 6)])
    prints = scores_of(engine, model, [cv2.imread(str(p)) for p in nuaa_sample(shared_data, "ImposterRaw", 8)])
    assert np.all((real >= 0) & (real <= 1)) and np.all((prints >= 0) & (prints <= 1))
    assert real.mean() < prints.mean()
    assert np.median(real) < model.threshold <= np.median(prints)
    assert np.mean(prints >= model.threshold) > np.mean(real >= model.threshold)


def test_frame_score_is_the_score_of_the_crop(shared_data, engine, model):
    image = cv2.imread(str(nuaa_sample(shared_data, "ClientRaw", 50)[0]))
    face = face_of(engine, image)
    score = model.frame_score(image, face)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(float(model.frame_scores([face_crop(image, face)])[0]), abs=1e-12)
    assert model.sequence_score([score] * 3) == pytest.approx(score)


def test_generated_attacks_of_a_held_out_clip_score_higher_than_its_frames(shared_data, engine, model):
    clip = shared_data / "face-clips" / f"{SPLIT['face_clips']['test_clips'][0]}.mp4"
    frames = read_input_frames(clip, 15)[::3]
    bona = scores_of(engine, model, frames)
    for species in ("print", "screen"):
        attack = make_attack(frames, species, np.random.default_rng(11), n_frames=5)
        attacked = scores_of(engine, model, attack.frames)
        assert model.sequence_score(attacked) > model.sequence_score(bona), species
