"""The open-set identification rule: whom a search names, if anyone, and when to ask the payer.

A 1:1 threshold holds a false-match rate per comparison; a search compares the probe with everyone
in the gallery, so the chance that a person who is not enrolled is named as someone who is (the
false-positive identification rate, FPIR) grows about N times the per-comparison rate. The rule
therefore holds a target FPIR per search and derives the per-comparison rate from the gallery size:

- **Direct** identification (no question asked) needs the best score above the threshold for
  ``target_fpir / N``, a clear margin over the second best, and a gallery no larger than
  ``direct_max_gallery``.
- Otherwise, if the best score clears the threshold for ``target_fpir / (N / 10^4)``, the payer is
  asked for the last four digits of their mobile number, which narrow the candidates about
  ten-thousandfold; the candidates with those digits are chosen among.
- Neither threshold is ever below the ``payment`` profile's (FMR 1e-5 per comparison).

Pure: scores in, decision out. The index, the database and the lockout are the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from facetrust.biometrics.calibration import Calibration

RULE_VERSION = "open-set-1"

IDENTIFIED = "identified"
NEEDS_PHONE = "needs_phone"
NOT_IDENTIFIED = "not_identified"


@dataclass(frozen=True)
class OpenSetPolicy:
    target_fpir: float = 1e-3  # per search: someone not enrolled is named as someone enrolled
    margin: float = 0.05  # best minus second-best cosine, for a direct identification
    direct_max_gallery: int = 1000  # above this many enrolled people, always ask for the digits
    candidates: int = 10  # how many of the best the phone step chooses among
    digit_space: int = 10_000  # four digits
    floor_profile: str = "payment"


@dataclass(frozen=True)
class Candidate:
    key: str
    score: float


@dataclass(frozen=True)
class Thresholds:
    direct: float
    with_phone: float
    gallery_size: int
    clamped: bool  # the wanted rate was beyond the calibrated curve; its strictest point is used

    def as_dict(self) -> dict:
        return {
            "direct": round(self.direct, 6),
            "with_phone": round(self.with_phone, 6),
            "gallery_size": self.gallery_size,
            "clamped": self.clamped,
        }


@dataclass(frozen=True)
class Identification:
    outcome: str  # identified | needs_phone | not_identified
    key: str | None
    score: float | None
    candidates: list[Candidate] = field(default_factory=list)  # for the phone step
    reason: str | None = None
    thresholds: Thresholds | None = None

    def as_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "score": None if self.score is None else round(self.score, 6),
            "reason": self.reason,
            "candidates": len(self.candidates),
            "rule": RULE_VERSION,
            "thresholds": self.thresholds.as_dict() if self.thresholds else None,
        }


def _threshold_for(cal: Calibration, fmr: float, floor: float) -> tuple[float, bool]:
    curve = sorted(f for f, _ in cal.fmr_curve)
    clamped = fmr < curve[0]
    fmr = min(max(fmr, curve[0]), curve[-1])
    return max(cal.threshold_for_fmr(fmr), floor), clamped


def thresholds(cal: Calibration, policy: OpenSetPolicy, gallery_size: int) -> Thresholds:
    floor = cal.profile(policy.floor_profile).threshold
    n = max(gallery_size, 1)
    direct, clamped_direct = _threshold_for(cal, policy.target_fpir / n, floor)
    narrowed = max(n / policy.digit_space, 1.0)
    with_phone, clamped_phone = _threshold_for(cal, policy.target_fpir / narrowed, floor)
    direct_used = gallery_size <= policy.direct_max_gallery
    return Thresholds(direct, with_phone, gallery_size, (clamped_direct and direct_used) or clamped_phone)


def identify(ranked: Sequence[Candidate], gallery_size: int, cal: Calibration, policy: OpenSetPolicy) -> Identification:
    """Decide on the search's candidates (exact scores, best first)."""
    t = thresholds(cal, policy, gallery_size)
    ranked = sorted(ranked, key=lambda c: c.score, reverse=True)
    if not ranked or ranked[0].score <= t.with_phone:
        return Identification(
            NOT_IDENTIFIED, None, ranked[0].score if ranked else None, reason="no_match", thresholds=t
        )
    best = ranked[0]
    second = ranked[1].score if len(ranked) > 1 else -1.0
    if gallery_size <= policy.direct_max_gallery and best.score > t.direct and best.score - second >= policy.margin:
        return Identification(IDENTIFIED, best.key, best.score, [best], thresholds=t)
    candidates = [c for c in ranked[: policy.candidates] if c.score > t.with_phone]
    reason = (
        "gallery_large"
        if gallery_size > policy.direct_max_gallery
        else "margin"
        if best.score > t.direct
        else "below_direct_threshold"
    )
    return Identification(NEEDS_PHONE, None, best.score, candidates, reason=reason, thresholds=t)


def choose_by_phone(
    pending: Identification, digits: str, last4_of: Callable[[str], str], policy: OpenSetPolicy
) -> Identification:
    """Choose among the phone step's candidates those whose mobile ends with ``digits``. No one:
    ``wrong_digits`` (a failed attempt). Several with the same digits: the best only with the
    margin, else ``ambiguous``."""
    matching = [c for c in pending.candidates if last4_of(c.key) == digits]
    if not matching:
        return Identification(NOT_IDENTIFIED, None, pending.score, reason="wrong_digits", thresholds=pending.thresholds)
    best = matching[0]
    if len(matching) > 1 and best.score - matching[1].score < policy.margin:
        return Identification(NOT_IDENTIFIED, None, best.score, reason="ambiguous", thresholds=pending.thresholds)
    return Identification(
        IDENTIFIED, best.key, best.score, [best], reason="phone_digits", thresholds=pending.thresholds
    )
