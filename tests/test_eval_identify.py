"""`facetrust eval identify`: the open-set counting on hand-built vectors, and one small real run.

The hand-built cases use the shipped calibration and the default policy, as the evaluation does: at
a gallery of a few people both thresholds sit at the payment floor (about 0.474), so a score of 1.0
with a clear margin is a direct identification, two near-identical enrolled people force the phone
step (margin), and a score of 0 is no match.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from facetrust.biometrics import calibration
from facetrust.cli import main
from facetrust.gallery import decision
from facetrust.gallery.decision import OpenSetPolicy
from facetrust.tools.evaluation import identify as ev
from facetrust.tools.evaluation.identify import Gallery, Probe, Protocol

DIM = 16
CAL = calibration.load()
POLICY = OpenSetPolicy()


def unit(*weights: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)


def axis(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    return v


# Five enrolled people: A, B, C on their own axes; T1 and T2 "twins" at cosine 0.98 on axes 3-4.
TWIN1 = unit(0, 0, 0, 1.0, 0.0)
TWIN2 = unit(0, 0, 0, 0.98, np.sqrt(1 - 0.98**2))


def gallery(phones: dict[str, str] | None = None) -> Gallery:
    keys = ["A", "B", "C", "T1", "T2"]
    vectors = np.vstack([axis(0), axis(1), axis(2), TWIN1, TWIN2])
    phones = phones or {
        "A": "13800000001",
        "B": "13800000002",
        "C": "13800000003",
        "T1": "13900001111",
        "T2": "13900002222",
    }
    return Gallery(keys, vectors, phones)


def evaluate(genuine: list[Probe], impostor: list[Probe], g: Gallery | None = None, seed: int = 1) -> dict:
    return ev.evaluate(Protocol(g or gallery(), genuine, impostor, []), CAL, POLICY, seed)


def test_small_gallery_thresholds_are_the_payment_floor():
    t = decision.thresholds(CAL, POLICY, 5)
    floor = CAL.profile("payment").threshold
    assert t.direct == t.with_phone == floor


def test_genuine_probe_identical_to_its_enrolment_is_identified_directly():
    r = evaluate([Probe("A/2", axis(0), "A"), Probe("B/2", axis(1), "B")], [])
    assert r["fnir"] == 0.0 and r["fnir_with_phone"] == 0.0
    assert r["genuine"]["without_phone"]["correct"] == 2
    assert r["counts"]["phone_step_genuine"] == 0
    assert r["first_decision_reasons"]["genuine"] == {"identified": 2}


def test_impostor_with_low_scores_is_not_identified():
    r = evaluate([], [Probe("X/1", axis(7), None), Probe("Y/1", unit(0.3, 0.3, 0.3, 0, 0, 0, 0, 1), None)])
    assert r["fpir"] == r["fpir_with_phone"] == r["fpir_informed_attacker"] == 0.0
    assert r["impostor"]["with_phone"]["not_identified"] == 2
    assert r["counts"]["impostor_probes"] == 2


def test_impostor_that_looks_like_an_enrolled_person_is_a_false_positive_in_every_mode():
    r = evaluate([], [Probe("X/1", axis(0), None), Probe("Y/1", axis(7), None)])
    assert r["fpir"] == r["fpir_with_phone"] == r["fpir_informed_attacker"] == 0.5


def test_margin_forces_the_phone_step_and_true_digits_resolve_it():
    r = evaluate([Probe("T1/2", TWIN1, "T1"), Probe("T2/2", TWIN2, "T2")], [])
    assert r["counts"]["phone_step_genuine"] == 2
    assert r["first_decision_reasons"]["genuine"] == {"margin": 2}
    assert r["fnir"] == 1.0  # without the phone step a needs_phone answer names no one
    assert r["genuine"]["without_phone"]["not_identified"] == 2
    assert r["fnir_with_phone"] == 0.0 and r["genuine"]["with_phone"]["correct"] == 2


def test_wrong_digits_never_identify_and_the_informed_attacker_does():
    # An impostor between the twins: both above the threshold, no margin: the phone step is asked.
    probe = Probe("X/1", unit(0, 0, 0, 1.0, 0.1), None)
    for seed in range(50):
        r = evaluate([], [probe], seed=seed)
        assert r["counts"]["phone_step_impostor"] == 1
        assert r["fpir"] == 0.0
        assert r["fpir_with_phone"] == 0.0, seed
        assert r["fpir_informed_attacker"] == 1.0


def test_informed_attacker_is_refused_when_the_candidates_share_the_digits():
    phones = {"A": "13800000001", "B": "13800000002", "C": "13800000003", "T1": "13900005555", "T2": "15900005555"}
    r = evaluate([], [Probe("X/1", unit(0, 0, 0, 1.0, 0.1), None)], gallery(phones))
    assert r["fpir_informed_attacker"] == 0.0  # choose_by_phone: ambiguous, no margin between them


def test_wrong_digits_differ_from_the_victims():
    assert ev.wrong_digits(1234, "1234") == "1235"
    assert ev.wrong_digits(9999, "9999") == "0000"
    assert ev.wrong_digits(42, "1234") == "0042"
    assert all(ev.wrong_digits(d, "0777") != "0777" for d in range(10_000))


def test_wrong_identity_is_counted_apart_and_as_a_miss():
    r = evaluate([Probe("B/2", axis(2), "B"), Probe("A/2", axis(0), "A")], [])
    assert r["genuine"]["without_phone"] == {"correct": 1, "wrong_identity": 1, "not_identified": 0, "no_face": 0}
    assert r["genuine"]["with_phone"]["wrong_identity"] == 1
    assert r["fnir"] == r["fnir_with_phone"] == 0.5


def test_failures_to_acquire_are_misses_for_genuine_and_never_false_positives():
    genuine = [Probe("A/2", axis(0), "A"), Probe("A/3", None, "A"), Probe("B/2", None, "B"), Probe("C/2", axis(2), "C")]
    impostor = [
        Probe("X/1", None, None),
        Probe("Y/1", axis(0), None),
        Probe("Z/1", None, None),
        Probe("W/1", axis(8), None),
    ]
    r = evaluate(genuine, impostor)
    assert r["counts"]["genuine_no_face"] == 2 and r["counts"]["impostor_no_face"] == 2
    assert r["counts"]["genuine_probes"] == 4 and r["counts"]["impostor_probes"] == 4
    assert r["fnir"] == r["fnir_with_phone"] == 0.5
    assert r["fpir"] == r["fpir_with_phone"] == 0.25  # only Y; the two without a face are in the denominator
    assert r["impostor"]["with_phone"] == {"identified": 1, "not_identified": 1, "no_face": 2}


def test_a_gallery_above_the_direct_limit_always_asks_for_the_digits():
    rng = np.random.default_rng(0)
    n = POLICY.direct_max_gallery + 1
    vectors = rng.standard_normal((n, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = [f"p{i}" for i in range(n)]
    g = Gallery(keys, vectors, ev.random_mobiles(keys, seed=3))
    r = ev.evaluate(Protocol(g, [Probe("p7/2", vectors[7], "p7")], [], []), CAL, POLICY, 1)
    assert r["first_decision_reasons"]["genuine"] == {"gallery_large": 1}
    assert r["fnir"] == 1.0 and r["fnir_with_phone"] == 0.0
    assert r["thresholds"]["gallery_size"] == n


def test_protocol_split_enrolment_fallback_and_phones():
    groups = ev.group_by_identity(
        [
            "D/D_0002.jpg",
            "D/D_0001.jpg",
            "E/E_0001.jpg",
            "E/E_0002.jpg",
            "E/E_0003.jpg",
            "F/F_0001.jpg",
            "F/F_0002.jpg",
            "G/G_0001.jpg",
            "G/G_0002.jpg",
            "S/S_0001.jpg",
        ]
    )
    assert groups["D"] == ["D/D_0001.jpg", "D/D_0002.jpg"]
    chosen = ev.choose_enrolled(groups, seed=5)
    assert len(chosen) == 2 and set(chosen) <= {"D", "E", "F", "G"} and "S" not in chosen
    assert chosen == ev.choose_enrolled(groups, seed=5)
    first, second = chosen
    vectors = {f: axis(i) for i, f in enumerate(sorted(f for fs in groups.values() for f in fs))}
    vectors[groups[first][0]] = None  # the first enrolment image has no face: the next one is used
    for f in groups[second]:
        vectors[f] = None  # no image of this one has a face: a failure to enrol
    p = ev.build_protocol(groups, vectors, seed=5)
    assert p.gallery.keys == [first] and p.failed_to_enrol == [second]
    assert p.gallery.enrol_files[first] == groups[first][1]
    assert [q.file for q in p.genuine] == [f for f in groups[first] if f != groups[first][1]]
    assert all(q.mate == first for q in p.genuine)
    not_enrolled = [n for n in sorted(groups) if n != first]
    assert [q.file for q in p.impostor] == [f for n in not_enrolled for f in groups[n]]
    assert all(q.mate is None for q in p.impostor)
    phone = p.gallery.phones[first]
    assert len(phone) == 11 and phone[0] == "1" and phone[1] in "3456789" and phone.isdigit()
    assert ev.random_mobiles(["a", "b"], 9) == ev.random_mobiles(["a", "b"], 9)


def test_eval_identify_command_on_a_few_lfw_identities(tmp_path, shared_data):
    src = shared_data / "lfw-dev" / "images"
    multi = ["Bono", "Colin_Powell", "Hu_Jintao", "Jiang_Zemin", "Tony_Blair", "AJ_Cook"]
    multi = [n for n in multi if len(list((src / n).glob("*.jpg"))) >= 2][:4]
    singles = sorted(d.name for d in src.iterdir() if d.is_dir() and len(list(d.iterdir())) == 1)[:3]
    images = tmp_path / "images"
    copied = 0
    for n in multi + singles:
        (images / n).mkdir(parents=True)
        for f in sorted((src / n).glob("*.jpg"))[:3]:
            (images / n / f.name).write_bytes(f.read_bytes())
            copied += 1
    out = tmp_path / "identify.json"
    r = CliRunner().invoke(
        main, ["eval", "identify", "--images", str(images), "--json", str(out), "--workers", "1", "--seed", "11"]
    )
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert len(multi) == 4
    assert report["gallery_size"] == 2 and report["counts"]["failures_to_enrol"] == 0
    groups = {n: sorted(p.name for p in (images / n).iterdir()) for n in multi + singles}
    enrolled_images = sum(len(groups[n]) for n in ev.choose_enrolled(groups, 11))
    assert report["counts"]["genuine_probes"] == enrolled_images - 2
    assert report["counts"]["impostor_probes"] == copied - enrolled_images
    assert report["counts"]["genuine_no_face"] == report["counts"]["impostor_no_face"] == 0
    # well-separated famous faces: every genuine probe named correctly, no impostor named
    assert report["fnir_with_phone"] == 0.0 and report["fpir_with_phone"] == 0.0
    assert report["fpir"] == 0.0 and report["fpir_informed_attacker"] == 0.0
    assert report["thresholds"]["with_phone"] == pytest.approx(CAL.profile("payment").threshold, abs=1e-6)
    assert report["rule"] == decision.RULE_VERSION and report["calibration_id"] == CAL.calibration_id
    assert report["scores"]["genuine_mate"]["min"] > report["thresholds"]["with_phone"]
    assert "FPIR" in r.output and "FNIR" in r.output


def test_both_thresholds_follow_the_gallery_size():
    """Issue 19, item 17: with 1e-3 false-positive identifications allowed per search, a gallery of
    n people allows 1e-3/n per comparison for a direct identification, and 1e-3/(n/10^4) once four
    phone digits narrow the candidates; the stricter rate is a higher threshold."""
    floor = CAL.profile("payment").threshold  # FMR 1e-5 per comparison
    strict = CAL.threshold_for_fmr(1e-6)
    assert strict > floor + 0.1
    direct = {n: decision.thresholds(CAL, POLICY, n).direct for n in (1, 100, 300, 1000)}
    assert direct[1] == direct[100] == floor  # 1e-3/100 = 1e-5: the floor itself
    assert floor < direct[300] < strict and direct[1000] == strict
    phone = {n: decision.thresholds(CAL, POLICY, n).with_phone for n in (1000, 10**6, 3 * 10**6, 10**7)}
    assert phone[1000] == phone[10**6] == floor  # 1e-3/(10^6/10^4) = 1e-5
    assert floor < phone[3 * 10**6] < strict and phone[10**7] == strict

    between = (floor + strict) / 2
    one = [decision.Candidate("A", between)]
    assert decision.identify(one, 1, CAL, POLICY).outcome == decision.IDENTIFIED
    at_1000 = decision.identify(one, 1000, CAL, POLICY)
    assert (at_1000.outcome, at_1000.reason) == (decision.NEEDS_PHONE, "below_direct_threshold")
    assert decision.identify(one, 10**6, CAL, POLICY).outcome == decision.NEEDS_PHONE
    assert decision.identify(one, 10**7, CAL, POLICY).outcome == decision.NOT_IDENTIFIED
