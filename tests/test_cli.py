"""The command line: JSON results and JSON errors with a stable code, never a traceback."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from facetrust.cli import main
from facetrust.settings import get_settings


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_verify_json_match(lfw):
    r = run(
        "verify", str(lfw / "Bono/Bono_0001.jpg"), str(lfw / "Bono/Bono_0002.jpg"), "--profile", "payment", "--json"
    )
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["match"] is True and body["profile"] == "payment" and body["target_fmr"] == 1e-5
    assert {"score", "threshold", "model_id", "calibration_id", "quality"} <= set(body)


@pytest.mark.parametrize(
    "content,code",
    [(b"", "image_empty"), (b"plain text", "image_unreadable"), (b"GIF89a" + b"\0" * 40, "image_format_unsupported")],
)
def test_verify_json_errors(tmp_path, lfw, content, code):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    r = run("verify", str(bad), str(lfw / "Bono/Bono_0001.jpg"), "--json")
    assert r.exit_code == 2
    body = json.loads(r.output)
    assert body["code"] == code and body["message"]
    assert "Traceback" not in r.output


def test_verify_missing_file_and_unknown_profile(tmp_path, lfw):
    r = run("verify", str(tmp_path / "nope.jpg"), str(lfw / "Bono/Bono_0001.jpg"), "--json")
    assert r.exit_code == 2 and json.loads(r.output)["code"] == "file_not_found"
    r = run("verify", str(lfw / "Bono/Bono_0001.jpg"), str(lfw / "Bono/Bono_0002.jpg"), "--profile", "casino", "--json")
    assert r.exit_code == 2 and json.loads(r.output)["code"] == "calibration_invalid"


def test_verify_no_face_lists_reason(tmp_path, lfw):
    import cv2
    import numpy as np

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 100, np.uint8))
    r = run("verify", str(blank), str(lfw / "Bono/Bono_0001.jpg"), "--json")
    body = json.loads(r.output)
    assert r.exit_code == 2 and body["code"] == "face_not_usable" and body["reasons"] == ["no_face"]


def test_models_check_reports_hashes_and_licences():
    r = run("models", "check", "--json")
    assert r.exit_code == 0, r.output
    files = {f["file"]: f for f in json.loads(r.output)["files"]}
    assert files["face_detection_yunet_2023mar.onnx"]["licence"].startswith("MIT")
    assert files["face_recognition_sface_2021dec.onnx"]["licence"].startswith("Apache-2.0")
    assert all(f["status"] == "ok" and f["sha256"] == f["expected_sha256"] for f in files.values())


def test_altered_or_missing_model_file_is_a_clear_error(tmp_path, lfw):
    models = tmp_path / "models"
    shutil.copytree(get_settings().resolved_models_dir, models)
    target = models / "face_recognition_sface_2021dec.onnx"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    (models / "shape_predictor_5_face_landmarks.dat").unlink()
    env = {"FACETRUST_MODELS_DIR": str(models)}
    get_settings.cache_clear()
    try:
        r = run("models", "check", "--json", env=env)
        assert r.exit_code == 2
        status = {f["file"]: f["status"] for f in json.loads(r.output)["files"]}
        assert status["face_recognition_sface_2021dec.onnx"].startswith("hash mismatch")
        assert status["shape_predictor_5_face_landmarks.dat"] == "missing"
        get_settings.cache_clear()
        r = run("verify", str(lfw / "Bono/Bono_0001.jpg"), str(lfw / "Bono/Bono_0002.jpg"), "--json", env=env)
        assert r.exit_code == 2
        body = json.loads(r.output)
        assert body["code"] == "model_file_invalid" and "sha256" in body["message"]
    finally:
        get_settings.cache_clear()
