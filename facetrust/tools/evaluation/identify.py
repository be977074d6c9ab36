"""`facetrust eval identify`: the open-set identification error of the payment search on real faces.

A 1:1 figure (FNMR at an FMR) does not say how often face pay names the wrong person: a payment
search compares the payer with everyone enrolled, and the service decides with the open-set rule of
:mod:`facetrust.gallery.decision`. This evaluation runs that very rule, with the shipped calibration
and the default :class:`OpenSetPolicy`, over a labelled image folder:

- Of the identities with 2+ images, a seeded half is enrolled, one image each (the first image in
  which a face is found). Their other images are **genuine** probes.
- Every image of every identity not enrolled (the other half, every single-image identity, and any
  identity that failed to enrol) is an **impostor** probe: a person who is not enrolled tries to pay.
- Each probe is searched exactly (cosine against the whole gallery) and its best candidates go to
  ``decision.identify``. Without the phone step only a direct identification counts. With it, a
  ``needs_phone`` answer is resolved by ``choose_by_phone`` with the true last four digits (genuine)
  or a wrong number (impostor); an extra figure lets the impostor type the best candidate's true
  digits (an attacker who knows the victim's number).

FNIR = genuine probes not correctly identified / genuine probes (a wrong person named, a refusal and
a probe with no face all count). FPIR = impostor probes for which anyone is named / impostor probes
(a probe with no face stays in the denominator: it can name no one).

Extraction (slow, images to vectors) and scoring (fast, vectors to counts) are separate, so the
counting is tested on hand-built vectors.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.biometrics.calibration import Calibration
from facetrust.gallery import decision
from facetrust.gallery.decision import (
    IDENTIFIED,
    NEEDS_PHONE,
    Candidate,
    Identification,
    OpenSetPolicy,
    choose_by_phone,
)

DEFAULT_SEED = 20240611
TARGET_FPIR_WITH_PHONE = 1e-3  # the targets
TARGET_FNIR = 0.05


# ------------------------------------------------------------------------------------ protocol


@dataclass(frozen=True)
class Probe:
    file: str
    vector: np.ndarray | None  # None: no face found (a failure to acquire)
    mate: str | None  # the gallery key this person is enrolled under; None for an impostor


@dataclass(frozen=True)
class Gallery:
    keys: list[str]
    vectors: np.ndarray  # (n, d), L2-normalised rows, in the order of ``keys``
    phones: dict[str, str]  # key -> 11-digit mobile number
    enrol_files: dict[str, str] = field(default_factory=dict)  # key -> the image it was enrolled from

    def last4(self, key: str) -> str:
        return self.phones[key][-4:]

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class Protocol:
    gallery: Gallery
    genuine: list[Probe]
    impostor: list[Probe]
    failed_to_enrol: list[str]  # identities chosen for the gallery in which no image yielded a face


def group_by_identity(files: Sequence[str]) -> dict[str, list[str]]:
    """``Name/Name_0001.jpg`` paths grouped by their folder, each group in file-name order."""
    groups: dict[str, list[str]] = {}
    for f in sorted(files):
        groups.setdefault(f.split("/")[0], []).append(f)
    return groups


def choose_enrolled(groups: Mapping[str, Sequence[str]], seed: int) -> list[str]:
    """A seeded half (rounded down) of the identities with 2+ images: only they can have genuine
    probes, and the other half supplies impostors who look like the enrolled (several images each)."""
    multi = sorted(name for name, files in groups.items() if len(files) >= 2)
    order = np.random.default_rng([seed, 0]).permutation(len(multi))
    return sorted(multi[i] for i in order[: len(multi) // 2])


def random_mobiles(keys: Sequence[str], seed: int) -> dict[str, str]:
    """A seeded mobile number per key, 11 digits starting 13-19. Numbers are drawn independently,
    so two enrolled people may share their last four digits, as they would in the service."""
    rng = np.random.default_rng([seed, 1])
    return {k: f"1{int(rng.integers(3, 10))}{int(rng.integers(0, 10**9)):09d}" for k in sorted(keys)}


def build_protocol(
    groups: Mapping[str, Sequence[str]], vectors: Mapping[str, np.ndarray | None], seed: int
) -> Protocol:
    """Enrol the chosen identities from their first image with a face, and sort every other image
    into genuine or impostor probes. An image without a face stays a probe (a failure to acquire)."""
    chosen = choose_enrolled(groups, seed)
    keys: list[str] = []
    rows: list[np.ndarray] = []
    enrol_files: dict[str, str] = {}
    genuine: list[Probe] = []
    failed: list[str] = []
    for name in chosen:
        enrol = next((f for f in groups[name] if vectors.get(f) is not None), None)
        if enrol is None:
            failed.append(name)
            continue
        keys.append(name)
        rows.append(np.asarray(vectors[enrol], dtype=np.float32))
        enrol_files[name] = enrol
        genuine += [Probe(f, vectors.get(f), name) for f in groups[name] if f != enrol]
    enrolled = set(keys)
    impostor = [Probe(f, vectors.get(f), None) for name in sorted(groups) if name not in enrolled for f in groups[name]]
    matrix = np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    gallery = Gallery(keys, matrix, random_mobiles(keys, seed), enrol_files)
    return Protocol(gallery, genuine, impostor, failed)


# --------------------------------------------------------------------------------------- search


def search(gallery: Gallery, probes: Sequence[Probe], k: int) -> list[list[Candidate] | None]:
    """Exact top-``k`` candidates of each probe (cosine: one matrix product), best first; None for
    a probe with no face. Ties keep gallery order, so the result is deterministic."""
    out: list[list[Candidate] | None] = [None] * len(probes)
    have = [i for i, p in enumerate(probes) if p.vector is not None]
    if not have or len(gallery) == 0:
        return [None if p.vector is None else [] for p in probes]
    x = np.vstack([np.asarray(probes[i].vector, dtype=np.float32) for i in have])
    scores = x.astype(np.float64) @ gallery.vectors.astype(np.float64).T
    k = min(k, len(gallery))
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    for row, i in enumerate(have):
        out[i] = [Candidate(gallery.keys[j], float(scores[row, j])) for j in order[row]]
    return out


def mate_score(gallery: Gallery, probe: Probe) -> float | None:
    """The genuine probe's score against its own enrolled template (whatever its rank)."""
    if probe.vector is None or probe.mate is None:
        return None
    j = gallery.keys.index(probe.mate)
    return float(np.asarray(probe.vector, dtype=np.float64) @ gallery.vectors[j].astype(np.float64))


def wrong_digits(draw: int, avoid: str) -> str:
    """The four digits of a random draw (0-9999), moved on by one if they equal ``avoid``: the
    impostor types their own number, never the best candidate's. They may still equal another
    candidate's digits; that residual risk is part of the figure."""
    d = draw % 10_000
    if f"{d:04d}" == avoid:
        d = (d + 1) % 10_000
    return f"{d:04d}"


# ------------------------------------------------------------------------------------- counting


@dataclass
class GenuineTally:
    correct: int = 0
    wrong_identity: int = 0  # someone else named: a false negative and a false positive at once
    not_identified: int = 0
    no_face: int = 0  # failures to acquire, counted as misses

    @property
    def total(self) -> int:
        return self.correct + self.wrong_identity + self.not_identified + self.no_face

    def add(self, result: Identification, mate: str) -> None:
        if result.outcome != IDENTIFIED:
            self.not_identified += 1
        elif result.key == mate:
            self.correct += 1
        else:
            self.wrong_identity += 1

    def fnir(self) -> float | None:
        return None if self.total == 0 else (self.total - self.correct) / self.total


@dataclass
class ImpostorTally:
    identified: int = 0  # someone enrolled was named: a false positive
    not_identified: int = 0
    no_face: int = 0  # in the denominator; cannot be a false positive

    @property
    def total(self) -> int:
        return self.identified + self.not_identified + self.no_face

    def add(self, result: Identification) -> None:
        if result.outcome == IDENTIFIED:
            self.identified += 1
        else:
            self.not_identified += 1

    def fpir(self) -> float | None:
        return None if self.total == 0 else self.identified / self.total


def _direct(first: Identification) -> Identification:
    """Without the phone step a ``needs_phone`` answer names no one."""
    if first.outcome == NEEDS_PHONE:
        return Identification(
            decision.NOT_IDENTIFIED, None, first.score, reason="phone_step_unavailable", thresholds=first.thresholds
        )
    return first


def _quantiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    v = np.asarray(values, dtype=np.float64)
    points = {
        "min": 0,
        "p1": 1,
        "p5": 5,
        "p25": 25,
        "median": 50,
        "p75": 75,
        "p95": 95,
        "p99": 99,
        "p99.9": 99.9,
        "max": 100,
    }
    return {name: round(float(np.percentile(v, q)), 6) for name, q in points.items()}


def evaluate(protocol: Protocol, cal: Calibration, policy: OpenSetPolicy, seed: int) -> dict[str, Any]:
    """Run every probe through the service's rule and count the outcomes (see the module doc)."""
    gallery = protocol.gallery
    n = len(gallery)
    t = decision.thresholds(cal, policy, n)
    g_direct, g_phone = GenuineTally(), GenuineTally()
    i_direct, i_phone, i_informed = ImpostorTally(), ImpostorTally(), ImpostorTally()
    phone_step = Counter()
    reasons: dict[str, Counter] = {"genuine": Counter(), "impostor": Counter()}
    genuine_mate, genuine_rank1_mate, impostor_top1 = [], 0, []

    for probe, ranked in zip(protocol.genuine, search(gallery, protocol.genuine, policy.candidates)):
        if ranked is None:
            g_direct.no_face += 1
            g_phone.no_face += 1
            continue
        genuine_mate.append(mate_score(gallery, probe))
        genuine_rank1_mate += bool(ranked) and ranked[0].key == probe.mate
        first = decision.identify(ranked, n, cal, policy)
        reasons["genuine"][first.reason or first.outcome] += 1
        g_direct.add(_direct(first), probe.mate)
        if first.outcome == NEEDS_PHONE:
            phone_step["genuine"] += 1
            first = choose_by_phone(first, gallery.last4(probe.mate), gallery.last4, policy)
        g_phone.add(first, probe.mate)

    rng = np.random.default_rng([seed, 2])
    for _probe, ranked in zip(protocol.impostor, search(gallery, protocol.impostor, policy.candidates)):
        draw = int(rng.integers(0, 10_000))  # one draw per probe, so the stream does not depend on outcomes
        if ranked is None:
            for tally in (i_direct, i_phone, i_informed):
                tally.no_face += 1
            continue
        if ranked:
            impostor_top1.append(ranked[0].score)
        first = decision.identify(ranked, n, cal, policy)
        reasons["impostor"][first.reason or first.outcome] += 1
        i_direct.add(_direct(first))
        if first.outcome != NEEDS_PHONE:
            i_phone.add(first)
            i_informed.add(first)
            continue
        phone_step["impostor"] += 1
        victim = gallery.last4(first.candidates[0].key)
        i_phone.add(choose_by_phone(first, wrong_digits(draw, avoid=victim), gallery.last4, policy))
        i_informed.add(choose_by_phone(first, victim, gallery.last4, policy))

    fpir_phone, fnir_phone = i_phone.fpir(), g_phone.fnir()
    return {
        "fpir": i_direct.fpir(),
        "fnir": g_direct.fnir(),
        "fpir_with_phone": fpir_phone,
        "fnir_with_phone": fnir_phone,
        "fpir_informed_attacker": i_informed.fpir(),
        "gallery_size": n,
        "targets": {
            "fpir_with_phone_max": TARGET_FPIR_WITH_PHONE,
            "fnir_max": TARGET_FNIR,
            "fpir_with_phone_met": fpir_phone is not None and fpir_phone <= TARGET_FPIR_WITH_PHONE,
            "fnir_with_phone_met": fnir_phone is not None and fnir_phone <= TARGET_FNIR,
            "fnir_without_phone_met": g_direct.fnir() is not None and g_direct.fnir() <= TARGET_FNIR,
        },
        "counts": {
            "gallery_size": n,
            "failures_to_enrol": len(protocol.failed_to_enrol),
            "genuine_probes": g_direct.total,
            "impostor_probes": i_direct.total,
            "genuine_no_face": g_direct.no_face,
            "impostor_no_face": i_direct.no_face,
            "phone_step_genuine": phone_step["genuine"],
            "phone_step_impostor": phone_step["impostor"],
        },
        "genuine": {"without_phone": asdict(g_direct), "with_phone": asdict(g_phone)},
        "impostor": {
            "without_phone": asdict(i_direct),
            "with_phone": asdict(i_phone),
            "informed_attacker": asdict(i_informed),
        },
        "first_decision_reasons": {k: dict(sorted(v.items())) for k, v in reasons.items()},
        "scores": {
            "genuine_mate": _quantiles(genuine_mate),
            "genuine_rank1_is_mate": genuine_rank1_mate,
            "genuine_mate_at_or_below_with_phone_threshold": int(sum(s <= t.with_phone for s in genuine_mate)),
            "genuine_mate_at_or_below_direct_threshold": int(sum(s <= t.direct for s in genuine_mate)),
            "impostor_top1": _quantiles(impostor_top1),
            "impostor_top1_above_with_phone_threshold": int(sum(s > t.with_phone for s in impostor_top1)),
            "impostor_top1_above_direct_threshold": int(sum(s > t.direct for s in impostor_top1)),
        },
        "thresholds": t.as_dict(),
        "policy": asdict(policy),
        "rule": decision.RULE_VERSION,
        "calibration_id": cal.calibration_id,
        "model_id": cal.model_id,
        "seed": seed,
        "failed_to_enrol": protocol.failed_to_enrol,
    }


# ------------------------------------------------------------------------------------ real data


def run(images_dir: Path, workers: int, threads: int, seed: int, limit_identities: int | None) -> dict[str, Any]:
    """Extract every image's template with the service's engine, then score the protocol."""
    from facetrust.biometrics import calibration
    from facetrust.tools.evaluation import lfw

    files = lfw.list_images(images_dir)
    groups = group_by_identity(files)
    if limit_identities is not None:
        groups = {name: groups[name] for name in sorted(groups)[:limit_identities]}
        files = [f for name in groups for f in groups[name]]
    if not files:
        raise ValueError(f"no images under {images_dir}")
    t0 = time.perf_counter()
    results = lfw.extract_all("facetrust", images_dir, files, workers, threads)
    seconds = time.perf_counter() - t0
    vectors = {f: r.vector for f, r in zip(files, results)}
    report = evaluate(build_protocol(groups, vectors, seed), calibration.load(), OpenSetPolicy(), seed)
    report["dataset"] = {
        "images_dir": str(images_dir),
        "images": len(files),
        "identities": len(groups),
        "identities_with_2_or_more": sum(len(fs) >= 2 for fs in groups.values()),
        "limit_identities": limit_identities,
        "no_face_images": sum(v is None for v in vectors.values()),
    }
    report["extraction"] = {
        "seconds": round(seconds, 1),
        "ms_per_image_median": round(float(np.median([r.ms for r in results])), 2),
        "workers": workers,
        "threads_per_worker": threads,
    }
    return report


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.3f}%"


def summary(r: dict[str, Any]) -> str:
    c, t, g, i = r["counts"], r["thresholds"], r["genuine"], r["impostor"]
    ok = lambda met: "meets" if met else "MISSES"  # noqa: E731
    return "\n".join(
        [
            f"gallery {c['gallery_size']} (failures to enrol {c['failures_to_enrol']}); "
            f"{c['genuine_probes']} genuine probes ({c['genuine_no_face']} no face), "
            f"{c['impostor_probes']} impostor probes ({c['impostor_no_face']} no face)",
            f"rule {r['rule']}, thresholds direct {t['direct']:.4f} / with phone {t['with_phone']:.4f}"
            f"{' (clamped)' if t['clamped'] else ''}; model {r['model_id']}, calibration {r['calibration_id']}",
            f"without phone step: FPIR {_pct(r['fpir'])}, FNIR {_pct(r['fnir'])} "
            f"(wrong identity named {g['without_phone']['wrong_identity']})",
            f"with phone step:    FPIR {_pct(r['fpir_with_phone'])} "
            f"[{ok(r['targets']['fpir_with_phone_met'])} <= {_pct(TARGET_FPIR_WITH_PHONE)}], "
            f"FNIR {_pct(r['fnir_with_phone'])} [{ok(r['targets']['fnir_with_phone_met'])} <= {_pct(TARGET_FNIR)}] "
            f"(wrong identity named {g['with_phone']['wrong_identity']})",
            f"informed attacker (types the best candidate's digits): FPIR {_pct(r['fpir_informed_attacker'])} "
            f"({i['informed_attacker']['identified']} of {c['impostor_probes']})",
            f"phone step asked in {c['phone_step_genuine']} genuine and {c['phone_step_impostor']} impostor searches",
        ]
    )
