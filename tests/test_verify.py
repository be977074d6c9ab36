"""1:1 verification on real LFW faces at every use profile."""

from __future__ import annotations

import numpy as np
import pytest

from facetrust.biometrics.calibration import PROFILE_TARGET_FMR
from facetrust.biometrics.engine import verify
from facetrust.biometrics.errors import CalibrationError, FaceNotUsable

SAME = [
    ("Colin_Powell/Colin_Powell_0001.jpg", "Colin_Powell/Colin_Powell_0002.jpg"),
    ("Bono/Bono_0001.jpg", "Bono/Bono_0002.jpg"),
    ("Jiang_Zemin/Jiang_Zemin_0001.jpg", "Jiang_Zemin/Jiang_Zemin_0002.jpg"),
]
DIFFERENT = [
    ("Colin_Powell/Colin_Powell_0001.jpg", "Bono/Bono_0001.jpg"),
    ("Jiang_Zemin/Jiang_Zemin_0001.jpg", "Colin_Powell/Colin_Powell_0002.jpg"),
    ("Bono/Bono_0002.jpg", "Jiang_Zemin/Jiang_Zemin_0002.jpg"),
]


@pytest.mark.parametrize("profile", sorted(PROFILE_TARGET_FMR))
@pytest.mark.parametrize("a,b", SAME)
def test_same_person_matches(engine, lfw_bytes, profile, a, b):
    result = verify(engine, lfw_bytes(a), lfw_bytes(b), profile)
    d = result.decision
    assert d.match and d.score > d.threshold
    assert d.profile == profile and d.target_fmr == PROFILE_TARGET_FMR[profile]
    assert d.model_id == engine.model_id
    assert d.calibration_id == engine.calibration.calibration_id


@pytest.mark.parametrize("profile", sorted(PROFILE_TARGET_FMR))
@pytest.mark.parametrize("a,b", DIFFERENT)
def test_different_people_do_not_match(engine, lfw_bytes, profile, a, b):
    d = verify(engine, lfw_bytes(a), lfw_bytes(b), profile).decision
    assert not d.match and d.score <= d.threshold


def test_stricter_profiles_have_higher_thresholds(engine):
    cal = engine.calibration
    assert cal.profile("payment").threshold > cal.profile("kyc").threshold
    assert cal.profile("credit").threshold >= cal.profile("kyc").threshold


def test_pairs_file_sample(engine, shared_data):
    """Over the first 60 pairs of fold 1 (30 same, 30 different), at the kyc profile, every
    different pair is rejected and nearly all same pairs are accepted."""
    from facetrust.tools.evaluation.lfw import parse_pairs

    pairs = parse_pairs(shared_data / "lfw-dev" / "pairs_dev.txt")
    same = [p for p in pairs if p.fold == 0 and p.same][:30]
    diff = [p for p in pairs if p.fold == 0 and not p.same][:30]
    images = shared_data / "lfw-dev" / "images"
    cache: dict[str, object] = {}

    def template(rel: str):
        if rel not in cache:
            cache[rel] = engine.analyse((images / rel).read_bytes()).template
        return cache[rel]

    accepted = [engine.compare(template(p.a), template(p.b), "kyc").match for p in same]
    rejected = [not engine.compare(template(p.a), template(p.b), "kyc").match for p in diff]
    assert all(rejected)
    assert np.mean(accepted) >= 0.9


def test_quality_reasons_are_reported_with_the_decision(engine, lfw_bytes):
    import cv2

    blurred = cv2.GaussianBlur(cv2.imdecode(np.frombuffer(lfw_bytes(SAME[0][1]), np.uint8), 1), (0, 0), 3)
    ok, png = cv2.imencode(".png", blurred)
    result = verify(engine, lfw_bytes(SAME[0][0]), png.tobytes(), "kyc").as_dict()
    assert result["quality"][0]["passed"] is True
    assert "too_blurry" in result["quality"][1]["reasons"]


def test_image_without_a_face_is_an_error(engine, lfw_bytes):
    import cv2

    ok, blank = cv2.imencode(".png", np.full((200, 200, 3), 90, np.uint8))
    with pytest.raises(FaceNotUsable) as exc:
        verify(engine, lfw_bytes(SAME[0][0]), blank.tobytes(), "kyc")
    assert exc.value.reasons == ["no_face"] and "second" in exc.value.message


def test_unknown_profile_is_an_error(engine, lfw_bytes):
    with pytest.raises(CalibrationError):
        verify(engine, lfw_bytes(SAME[0][0]), lfw_bytes(SAME[0][1]), "casino")
