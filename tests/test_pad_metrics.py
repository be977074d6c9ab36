"""PAD error rates on hand-made scores with known answers: worst-species APCER, the threshold
convention at equality, unscorable sequences, the informative operating points and the report."""

from __future__ import annotations

import json
import math

import pytest

from facetrust.tools.evaluation.pad_metrics import (
    apcer,
    bpcer,
    format_pad_report,
    operating_points,
    pad_report,
)
from facetrust.tools.evaluation.sequences import SequenceStats, iter_sequences


def test_apcer_is_the_worst_species_and_acer_the_mean():
    bona = [0.1, 0.2, 0.3, 0.6, 0.05, 0.15, 0.25, 0.35, 0.45, 0.55]  # 2 of 10 at or above 0.5
    attacks = {
        "print": [0.9, 0.8, 0.4, 0.7],  # 1 of 4 below 0.5
        "screen": [0.9, 0.1, 0.2, 0.6, 0.95],  # 2 of 5 below 0.5
    }
    report = pad_report(bona, attacks, 0.5, window=15)
    assert report["apcer_per_species"]["print"] == {"apcer": 0.25, "sequences": 4, "misclassified": 1, "unscorable": 0}
    assert report["apcer_per_species"]["screen"] == {"apcer": 0.4, "sequences": 5, "misclassified": 2, "unscorable": 0}
    assert report["apcer"] == 0.4 and report["worst_species"] == "screen"
    assert report["bpcer"] == 0.2 and report["bona_fide_rejected"] == 2
    assert report["acer"] == pytest.approx(0.3)
    assert report["sequences"] == {"bona_fide": 10, "attack": 9}
    assert report["threshold"] == 0.5 and report["window"] == 15


def test_a_score_equal_to_the_threshold_is_an_attack():
    assert apcer([0.5, 0.5, 0.4999], 0.5) == (1 / 3, 1)  # the attacks at 0.5 are detected
    assert bpcer([0.5, 0.4999, 0.1, 0.2], 0.5) == (0.25, 1)  # the bona fide at 0.5 is rejected
    report = pad_report([0.5], {"print": [0.5]}, 0.5, window=15)
    assert report["apcer"] == 0.0 and report["bpcer"] == 1.0
    assert report["decision_rule"] == "attack if score >= threshold"


def test_unscorable_attacks_are_detected_and_unscorable_bona_fide_rejected():
    # None and NaN both mean "no face in any frame".
    bona = [0.1, None, 0.2, float("nan")]
    attacks = {"print": [None, 0.1, 0.9, None], "screen": [float("nan")]}
    report = pad_report(bona, attacks, 0.5, window=15)
    assert report["unscorable"] == {"bona_fide": 2, "attack": 3}
    assert report["bpcer"] == 0.5 and report["bona_fide_rejected"] == 2
    assert report["apcer_per_species"]["print"] == {"apcer": 0.25, "sequences": 4, "misclassified": 1, "unscorable": 2}
    assert report["apcer_per_species"]["screen"] == {"apcer": 0.0, "sequences": 1, "misclassified": 0, "unscorable": 1}
    assert report["apcer"] == 0.25 and report["sequences"] == {"bona_fide": 4, "attack": 5}


def test_operating_points_known_answers():
    bona = [0.1, 0.2, 0.3, 0.4]
    attacks = {"print": [0.35, 0.5, 0.6, 0.7]}
    points = operating_points(bona, attacks)
    # APCER <= 1 % needs every attack detected: threshold in (0.3, 0.35], where only 0.4 is rejected.
    at_apcer = points["bpcer_at_apcer"]
    assert at_apcer["apcer"] == 0.0 and at_apcer["bpcer"] == 0.25 and 0.3 < at_apcer["threshold"] <= 0.35
    # BPCER <= 5 % needs every bona fide accepted: threshold in (0.4, 0.5], where 0.35 is missed.
    at_bpcer = points["apcer_at_bpcer"]
    assert at_bpcer["bpcer"] == 0.0 and at_bpcer["apcer"] == 0.25 and 0.4 < at_bpcer["threshold"] <= 0.5


def test_operating_points_use_the_worst_species_and_count_unscorable_as_the_service_does():
    bona = [0.1, 0.2, None]  # one bona fide always rejected: BPCER never below 1/3
    attacks = {"print": [0.8, 0.9], "screen": [0.15, 0.9]}
    points = operating_points(bona, attacks)
    # Detecting the screen attack at 0.15 needs a threshold <= 0.15, which rejects the bona fide 0.2.
    assert points["bpcer_at_apcer"]["apcer"] == 0.0 and points["bpcer_at_apcer"]["bpcer"] == pytest.approx(2 / 3)
    # 5 % BPCER is out of reach: reported as None, not as a made-up figure.
    assert points["apcer_at_bpcer"] == {"bpcer_target": 0.05, "threshold": None, "apcer": None, "bpcer": None}


def test_the_report_carries_the_reading_counts_and_is_plain_json(tmp_path):
    import cv2
    import numpy as np

    def frames(folder, n):
        folder.mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / f"{i}.png"), np.full((32, 32, 3), 90, np.uint8))

    frames(tmp_path / "bona" / "s1", 33)  # two windows, 3 frames dropped
    frames(tmp_path / "attack" / "print" / "p1", 7)
    (tmp_path / "attack" / "print" / "p1" / "7.png").write_bytes(b"broken")
    bona_stats, attack_stats = SequenceStats(), SequenceStats()
    bona = list(iter_sequences(tmp_path / "bona", is_attack=False, stats=bona_stats))
    attack = list(iter_sequences(tmp_path / "attack", is_attack=True, stats=attack_stats))
    assert len(bona) == 2 and [s.species for s in attack] == ["print"]

    report = pad_report([0.1, 0.2], {"print": [0.3]}, 0.5, bona_fide_stats=bona_stats, attack_stats=attack_stats)
    required = {
        "apcer",
        "bpcer",
        "acer",
        "threshold",
        "sequences",
        "apcer_per_species",
        "unscorable",
        "skipped_files",
        "window",
    }
    assert required <= report.keys()
    assert report["skipped_files"] == 1 and report["skipped"][0]["path"].endswith("7.png")
    assert report["dropped_frames"] == 3
    assert (report["window"], report["min_frames"], report["max_video_frames"]) == (15, 5, 150)
    assert report["recordings"] == {"bona_fide": 1, "attack": 1}
    assert report["apcer"] == 1.0 and report["bpcer"] == 0.0 and report["acer"] == 0.5
    assert json.loads(json.dumps(report, allow_nan=False)) == report

    # Reading both sides with different windows, or saying another window, is a mistake.
    with pytest.raises(ValueError):
        pad_report([0.1], {"print": [0.3]}, 0.5, window=10, bona_fide_stats=bona_stats)
    with pytest.raises(ValueError):
        pad_report([0.1], {"print": [0.3]}, 0.5, bona_fide_stats=bona_stats, attack_stats=SequenceStats(window=10))


@pytest.mark.parametrize(
    "bona, attacks, threshold",
    [
        ([], {"print": [0.9]}, 0.5),  # no bona fide
        ([0.1], {}, 0.5),  # no attack
        ([0.1], {"print": [0.9], "screen": []}, 0.5),  # a species with nothing to measure
        ([0.1], {"print": [0.9]}, math.nan),
        ([0.1], {"print": [math.inf]}, 0.5),  # give None, not infinity, for "no score"
    ],
)
def test_undefined_reports_are_refused(bona, attacks, threshold):
    with pytest.raises(ValueError):
        pad_report(bona, attacks, threshold, window=15)


def test_text_summary():
    report = pad_report([0.1, 0.7, None], {"print": [0.9, 0.2], "screen": [None]}, 0.5, window=15)
    text = format_pad_report(report)
    assert "attack if score >= threshold" in text
    assert "APCER  50.00 %  (worst species: print)" in text
    assert "BPCER  66.67 %" in text and "ACER   58.33 %" in text
    assert "1 bona fide (counted as rejected), 1 attack (counted as detected)" in text
    assert "informative only" in text
