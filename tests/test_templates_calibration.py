"""Templates keep their model id and refuse cross-model comparison; calibration files round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facetrust.biometrics import calibration
from facetrust.biometrics.errors import CalibrationError, TemplateMismatch
from facetrust.biometrics.templates import Template, similarity


def test_template_bytes_round_trip():
    t = Template("sface-2021dec/align-mesh5", np.arange(1, 129, dtype=np.float32))
    back = Template.from_bytes(t.to_bytes())
    assert back.model_id == t.model_id
    assert np.allclose(back.vector, t.vector) and abs(np.linalg.norm(back.vector) - 1) < 1e-6


def test_templates_of_different_models_refuse_to_compare():
    a = Template("sface-2021dec/align-mesh5", np.ones(128))
    b = Template("sface-2021dec", np.ones(128))
    with pytest.raises(TemplateMismatch) as exc:
        similarity(a, b)
    assert exc.value.code == "template_model_mismatch"


def test_engine_refuses_a_template_of_another_model(engine, lfw_bytes):
    own = engine.analyse(lfw_bytes("Bono/Bono_0001.jpg")).template
    foreign = Template("dlib-resnet-v1", own.vector)
    with pytest.raises(TemplateMismatch):
        engine.compare(own, foreign, "kyc")
    with pytest.raises(TemplateMismatch):
        engine.compare(foreign, foreign, "kyc")


def test_zero_or_non_finite_vectors_are_refused():
    with pytest.raises(ValueError):
        Template("m", np.zeros(128))
    with pytest.raises(ValueError):
        Template("m", np.full(128, np.nan))


def fitted() -> calibration.Calibration:
    rng = np.random.default_rng(7)
    impostors = rng.normal(0.09, 0.09, 2_000_000)
    return calibration.fit(impostors, "sface-2021dec/align-mesh5", {"source": "synthetic test scores"})


def test_threshold_sits_at_the_target_fmr():
    rng = np.random.default_rng(1)
    impostors = rng.normal(0, 1, 1_000_000)
    t = calibration.threshold_at_fmr(impostors, 1e-3)
    assert (impostors > t).mean() <= 1e-3
    assert (impostors >= t).mean() > 1e-3 - 1e-5


def test_calibration_file_round_trips(tmp_path):
    cal = fitted()
    path = tmp_path / "cal.json"
    cal.save(path)
    back = calibration.load(path)
    assert back == cal
    assert back.calibration_id.startswith("cal-")
    assert back.profile("payment").target_fmr == 1e-5
    assert back.threshold_for_fmr(1e-4) == pytest.approx(back.profile("kyc").threshold, abs=1e-9)


def test_edited_calibration_file_is_refused(tmp_path):
    path = tmp_path / "cal.json"
    fitted().save(path)
    data = json.loads(path.read_text())
    data["profiles"]["payment"]["threshold"] = 0.1  # someone loosening a threshold by hand
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="does not match its content"):
        calibration.load(path)


def test_malformed_calibration_file_is_refused(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text("{not json")
    with pytest.raises(CalibrationError):
        calibration.load(path)
    path.write_text(json.dumps({"model_id": "x"}))
    with pytest.raises(CalibrationError, match="malformed"):
        calibration.load(path)


def test_too_few_impostors_cannot_calibrate_a_strict_profile():
    with pytest.raises(CalibrationError, match="resolve only"):
        calibration.fit(np.random.default_rng(0).normal(size=50_000), "m", {})


def test_shipped_calibration_names_its_provenance():
    cal = calibration.load()
    assert cal.model_id == "sface-2021dec/align-mesh5"
    assert set(cal.profiles) == {"kyc", "payment", "credit"}
    assert cal.provenance["impostor_scores"] >= 10 / 1e-5
    assert "LFW" in cal.provenance["source"]


def test_dlib_second_model_makes_its_own_templates(engine, lfw_bytes):
    import cv2

    from facetrust.biometrics import modelfiles
    from facetrust.biometrics.embed import DlibEmbedder

    models = engine.config.models_dir
    dlib_model = DlibEmbedder(
        modelfiles.require(models, "dlib_face_recognition_resnet_model_v1.dat"),
        modelfiles.require(models, "shape_predictor_5_face_landmarks.dat"),
    )

    def template(rel: str) -> Template:
        image = engine.decode(lfw_bytes(rel)).pixels
        face = engine.analyse_pixels(image).subject
        return dlib_model.template(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), face)

    a, b, c = (template(r) for r in ("Bono/Bono_0001.jpg", "Bono/Bono_0002.jpg", "Colin_Powell/Colin_Powell_0001.jpg"))
    assert a.model_id == "dlib-resnet-v1"
    assert similarity(a, b) > similarity(a, c)
    with pytest.raises(TemplateMismatch):
        similarity(a, engine.analyse(lfw_bytes("Bono/Bono_0001.jpg")).template)
