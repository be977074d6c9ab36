"""Calibrated decision thresholds, chosen from an impostor score distribution.

A threshold means nothing on its own; what a relying party needs is the false-match rate it buys.
Each use profile names its target FMR, and the threshold is the impostor-score quantile for it,
measured on labelled data whose provenance the calibration file records. The file's id is a hash of
its content, so every decision can name exactly which calibration it used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.biometrics.errors import CalibrationError

# Use profiles and the false-match rate each is held to.
PROFILE_TARGET_FMR: dict[str, float] = {
    "kyc": 1e-4,  # live selfie vs the identity authority's photo
    "payment": 1e-5,  # face pay
    "credit": 1e-5,  # installment and loan confirmation
}

# Operating points stored in the file's FMR curve, for callers that need other rates (1:N search).
CURVE_FMRS = [10.0**-k for k in (1, 2, 3, 4, 5, 6)] + [3e-2, 3e-3, 3e-4, 3e-5, 3e-6]

SHIPPED = "default.json"


@dataclass(frozen=True)
class Profile:
    name: str
    target_fmr: float
    threshold: float


@dataclass(frozen=True)
class Calibration:
    model_id: str
    profiles: dict[str, Profile]
    fmr_curve: list[tuple[float, float]]  # (fmr, threshold), fmr descending
    provenance: dict[str, Any]
    calibration_id: str

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise CalibrationError(
                f"unknown profile {name!r}; known profiles: {', '.join(sorted(self.profiles))}"
            ) from None

    def threshold_for_fmr(self, fmr: float) -> float:
        """Threshold for any FMR inside the measured curve (log-linear interpolation)."""
        curve = sorted(self.fmr_curve)  # ascending fmr, descending threshold
        fmrs = np.log10([f for f, _ in curve])
        thresholds = [t for _, t in curve]
        if not fmrs[0] <= np.log10(fmr) <= fmrs[-1]:
            raise CalibrationError(f"FMR {fmr:g} is outside the calibrated range {curve[0][0]:g}..{curve[-1][0]:g}")
        return float(np.interp(np.log10(fmr), fmrs, thresholds))

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration_id": self.calibration_id,
            "model_id": self.model_id,
            "score": "cosine similarity of L2-normalised templates",
            "profiles": {
                p.name: {"target_fmr": p.target_fmr, "threshold": p.threshold} for p in self.profiles.values()
            },
            "fmr_curve": [{"fmr": f, "threshold": t} for f, t in self.fmr_curve],
            "provenance": self.provenance,
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def _content_id(body: dict[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in body.items() if k != "calibration_id"}, sort_keys=True)
    return "cal-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def from_dict(data: dict[str, Any]) -> Calibration:
    try:
        profiles = {
            name: Profile(name, float(p["target_fmr"]), float(p["threshold"])) for name, p in data["profiles"].items()
        }
        curve = [(float(c["fmr"]), float(c["threshold"])) for c in data["fmr_curve"]]
        cal = Calibration(
            model_id=str(data["model_id"]),
            profiles=profiles,
            fmr_curve=curve,
            provenance=dict(data["provenance"]),
            calibration_id=str(data["calibration_id"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"calibration file is malformed: {exc}") from exc
    if cal.calibration_id != _content_id(cal.to_dict()):
        raise CalibrationError(f"calibration {cal.calibration_id} does not match its content (edited by hand?)")
    return cal


def load(path: Path | None = None) -> Calibration:
    """Load a calibration file, or the one shipped with the package."""
    if path is None:
        text = resources.files("facetrust.biometrics").joinpath("calibration", SHIPPED).read_text()
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise CalibrationError(f"cannot read calibration file {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"calibration file is not valid JSON: {exc}") from exc
    return from_dict(data)


def threshold_at_fmr(impostor_scores: np.ndarray, fmr: float) -> float:
    """The threshold with at most ``fmr`` of the impostor scores strictly above it."""
    scores = np.sort(np.asarray(impostor_scores, dtype=np.float64))
    if scores.size == 0:
        raise CalibrationError("no impostor scores to set a threshold from")
    allowed = int(np.floor(fmr * scores.size))
    return float(scores[max(scores.size - allowed - 1, 0)])


def fit(
    impostor_scores: np.ndarray,
    model_id: str,
    provenance: dict[str, Any],
    profiles: dict[str, float] | None = None,
) -> Calibration:
    """Build a calibration from impostor scores; refuses FMRs the sample cannot resolve."""
    profiles = profiles or PROFILE_TARGET_FMR
    n = int(np.asarray(impostor_scores).size)
    # At least 10 impostor scores must lie above a threshold for its FMR to mean anything.
    usable = [f for f in CURVE_FMRS if f * n >= 10]
    for name, fmr in profiles.items():
        if fmr * n < 10:
            raise CalibrationError(
                f"profile {name} needs FMR {fmr:g}, but {n} impostor scores resolve only down to {10 / max(n, 1):.1e}"
            )
    curve = sorted(((f, threshold_at_fmr(impostor_scores, f)) for f in usable), reverse=True)
    body: dict[str, Any] = {
        "model_id": model_id,
        "profiles": {
            name: {"target_fmr": fmr, "threshold": threshold_at_fmr(impostor_scores, fmr)}
            for name, fmr in profiles.items()
        },
        "fmr_curve": [{"fmr": f, "threshold": t} for f, t in curve],
        "provenance": {**provenance, "impostor_scores": n},
    }
    body["score"] = "cosine similarity of L2-normalised templates"
    body["calibration_id"] = _content_id(body)
    return from_dict(body)
