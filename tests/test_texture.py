"""The shipped passive PAD model (a small CNN run by OpenCV's dnn module): the crop, loading and
refusal of a bad weights or network file, and on real held-out data (FACETRUST_SHARED_DATA) that it
accepts real faces and scores attacks higher.

Held-out means the subjects and clips listed as test in facetrust/liveness/pad_split.json, which the
shipped weights were not trained on. The colour-LBP helpers are tested too: the training script uses
them for the comparison family.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.biometrics.detect import DetectedFace, choose_subject
from facetrust.liveness import texture
from facetrust.liveness.texture import CNNTextureModel, TextureModel, face_crop
from facetrust.tools.attacks import make_attack, read_input_frames

SPLIT = json.loads((Path(texture.__file__).with_name("pad_split.json")).read_text())
TEST_SUBJECTS = SPLIT["nuaa"]["test_subjects"]


@pytest.fixture(scope="module")
def model() -> TextureModel:
    return TextureModel.load()


@pytest.fixture(scope="module")
def detector():
    from facetrust.biometrics import modelfiles
    from facetrust.biometrics.detect import YuNetDetector
    from facetrust.settings import get_settings

    settings = get_settings()
    return YuNetDetector(
        modelfiles.require(settings.resolved_models_dir, "face_detection_yunet_2023mar.onnx"),
        settings.detector_score_threshold,
        settings.detector_max_side,
    )


def face_of(detector, image: np.ndarray) -> DetectedFace:
    face = choose_subject(detector.detect(image), image.shape)
    assert face is not None
    return face


def crops_of(detector, images: list[np.ndarray]) -> list[np.ndarray]:
    return [face_crop(im, face_of(detector, im)) for im in images]


def nuaa_windows(shared_data: Path, kind: str, per_subject: int = 2) -> list[list[Path]]:
    """``per_subject`` 8-frame captures (consecutive frames of one session) of each held-out subject."""
    out = []
    for subject in TEST_SUBJECTS:
        paths = sorted((shared_data / "nuaa-dev" / kind / subject).glob("*.jpg"))
        sessions: dict[str, list[Path]] = {}
        for p in paths:
            sessions.setdefault("_".join(p.stem.split("_")[:4]), []).append(p)
        groups = [sorted(v, key=lambda p: int(p.stem.split("_")[4])) for _, v in sorted(sessions.items())]
        for g in groups[:per_subject]:
            out.append(g[:8])
    assert out, f"no NUAA {kind} frames for {TEST_SUBJECTS}"
    return out


def capture_score(model, crops: list[np.ndarray]) -> float:
    picked = [crops[i] for i in model.capture_frames(len(crops))]
    return model.sequence_score(model.frame_scores(picked))


# --- crop (no data needed) -------------------------------------------------------------------------


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


def test_capture_frames_are_evenly_spaced_and_include_both_ends():
    assert texture.capture_frames(8) == [0, 4, 7]  # round(3.5) is 4 with numpy's round-half-even
    assert texture.capture_frames(15) == [0, 7, 14]
    assert texture.capture_frames(2) == [0, 1]
    assert texture.capture_frames(0) == []


# --- colour-LBP helpers (the comparison family) ----------------------------------------------------


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


# --- the shipped files -----------------------------------------------------------------------------


def test_the_shipped_passive_model_is_the_cnn_with_its_id_threshold_and_split(model):
    assert TextureModel is CNNTextureModel and isinstance(model, CNNTextureModel)
    digest = re.fullmatch(r"pad-cnn-v1:([0-9a-f]{12})", model.model_id)
    assert digest
    assert hashlib.sha256(texture.DEFAULT_WEIGHTS.read_bytes()).hexdigest().startswith(digest.group(1))
    assert 0.0 < model.threshold < 1.0 and model.window == 8 and model.frames_per_capture == 3
    onnx = texture.DEFAULT_WEIGHTS.with_name(texture.CNN_ONNX_NAME)
    assert onnx.stat().st_size < 2_000_000 and texture.DEFAULT_WEIGHTS.stat().st_size < 100_000
    figures = model.provenance["figures"]
    assert set(figures["leave_one_source_out"]) == {
        "nuaa bona fide",
        "clip bona fide",
        "lfw bona fide",
        "nuaa print",
        "gen print",
        "gen screen",
    }
    assert not set(SPLIT["nuaa"]["train_subjects"]) & set(TEST_SUBJECTS)
    assert not set(SPLIT["face_clips"]["train_clips"]) & set(SPLIT["face_clips"]["test_clips"])


def copy_model(tmp_path: Path, edit=None, reseal: bool = True) -> Path:
    """The shipped JSON and network in ``tmp_path``, the JSON after ``edit``; ``reseal`` recomputes
    the checksum, as a careless or deliberate editor would, so that the structural checks are what
    must refuse the file."""
    shutil.copy(texture.DEFAULT_WEIGHTS.with_name(texture.CNN_ONNX_NAME), tmp_path / texture.CNN_ONNX_NAME)
    data = json.loads(texture.DEFAULT_WEIGHTS.read_text())
    if edit is not None:
        edit(data)
        if reseal:
            data["sha256"] = texture.payload_digest({k: v for k, v in data.items() if k != "sha256"})
    path = tmp_path / texture.CNN_WEIGHTS_NAME
    path.write_text(json.dumps(data))
    return path


def test_a_copy_of_the_shipped_files_loads_with_the_same_scores(tmp_path, model):
    copy = CNNTextureModel.load(copy_model(tmp_path))
    crops = [synthetic_image(s, texture.CROP_SIZE, texture.CROP_SIZE) for s in range(3)]
    np.testing.assert_allclose(copy.frame_scores(crops), model.frame_scores(crops), atol=1e-7)


def test_an_edited_json_is_refused_by_its_checksum(tmp_path):
    with pytest.raises(ValueError, match="checksum"):
        CNNTextureModel.load(copy_model(tmp_path, lambda d: d.__setitem__("threshold", 0.99), reseal=False))


def test_a_changed_or_missing_network_file_is_refused(tmp_path):
    path = copy_model(tmp_path)
    onnx = tmp_path / texture.CNN_ONNX_NAME
    raw = bytearray(onnx.read_bytes())
    raw[-10] ^= 0x01  # one bit of a weight
    onnx.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="does not match the sha256"):
        CNNTextureModel.load(path)
    onnx.unlink()
    with pytest.raises(ValueError, match="missing"):
        CNNTextureModel.load(path)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.__setitem__("threshold", 1.5),
        lambda d: d.__setitem__("window", 0),
        lambda d: d.__setitem__("frames_per_capture", True),
        lambda d: d["crop"].__setitem__("size", 64),  # the runtime would crop differently from training
        lambda d: d["network"].__setitem__("input", [3, 64, 32]),
        lambda d: d["network"].__setitem__("std", 0),
        lambda d: d["network"].__setitem__("colour", "RGB"),
        lambda d: d["network"].__setitem__("file", "../pad_cnn_v1.onnx"),
        lambda d: d["network"].__setitem__("sha256", "0" * 64),
        lambda d: d.__setitem__("format_version", 99),
        lambda d: d.pop("network"),
    ],
)
def test_a_malformed_json_is_refused(tmp_path, edit):
    with pytest.raises(ValueError, match="refused PAD texture weights"):
        CNNTextureModel.load(copy_model(tmp_path, edit))


def test_a_truncated_or_non_json_file_is_refused(tmp_path):
    path = copy_model(tmp_path)
    raw = path.read_bytes()
    for content in (raw[: len(raw) // 2], b"\xff\xfe not json", b"[1, 2, 3]"):
        path.write_bytes(content)
        with pytest.raises(ValueError):
            CNNTextureModel.load(path)


def test_scores_are_probabilities_and_the_same_from_several_threads(model):
    crops = [synthetic_image(s, texture.CROP_SIZE, texture.CROP_SIZE) for s in range(4)]
    alone = model.frame_scores(crops)
    assert alone.shape == (4,) and np.all((alone >= 0) & (alone <= 1))
    assert model.frame_scores([]).shape == (0,)
    np.testing.assert_allclose([model.frame_scores([c])[0] for c in crops], alone, atol=1e-6)  # batch = one by one
    results = {}

    def run(k):
        results[k] = model.frame_scores(crops)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        np.testing.assert_allclose(results[k], alone, atol=1e-6)
    with pytest.raises(ValueError):
        model.frame_scores([crops[0][:64, :64]])


# --- real data -------------------------------------------------------------------------------------


def test_held_out_real_captures_pass_and_score_lower_than_held_out_prints(shared_data, detector, model):
    read = lambda paths: [cv2.imread(str(p)) for p in paths]  # noqa: E731
    real = [capture_score(model, crops_of(detector, read(w))) for w in nuaa_windows(shared_data, "ClientRaw")]
    prints = [capture_score(model, crops_of(detector, read(w))) for w in nuaa_windows(shared_data, "ImposterRaw")]
    assert all(0.0 <= s <= 1.0 for s in real + prints)
    assert not any(model.is_attack(s) for s in real), real  # the threshold is set for few bona fide rejections
    assert np.median(prints) > np.max(real)


def test_frame_score_is_the_score_of_the_crop(shared_data, detector, model):
    path = sorted((shared_data / "nuaa-dev" / "ClientRaw" / TEST_SUBJECTS[0]).glob("*.jpg"))[0]
    image = cv2.imread(str(path))
    face = face_of(detector, image)
    score = model.frame_score(image, face)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(float(model.frame_scores([face_crop(image, face)])[0]), abs=1e-9)
    assert model.sequence_score([score] * 3) == pytest.approx(score)


def test_a_held_out_clip_passes_and_its_generated_attacks_score_higher(shared_data, detector, model):
    clip = shared_data / "face-clips" / f"{SPLIT['face_clips']['test_clips'][0]}.mp4"
    frames = read_input_frames(clip, 16)[::2]
    bona = capture_score(model, crops_of(detector, frames))
    assert not model.is_attack(bona)
    for species in ("print", "screen"):
        attack = make_attack(frames, species, np.random.default_rng(11), n_frames=8)
        assert capture_score(model, crops_of(detector, attack.frames)) > bona, species
