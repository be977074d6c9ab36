"""The liveness decision over one capture, exactly as the service makes it for a purpose, without a
database: for evaluation (``facetrust eval liveness``) and benchmarks.

It applies what the service applies before and around ``decision.decide``: the capture limits
(frame count, size, timestamps), the purpose's floor of requested actions, the exact-pixel replay
check and the content-fingerprint replay check against every capture it has passed before (held in
memory here, in the database in the service).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facetrust.biometrics.engine import FaceEngine
from facetrust.errors import DomainError
from facetrust.liveness import decision as decision_mod
from facetrust.liveness import fingerprint
from facetrust.liveness.decision import DecisionPolicy
from facetrust.liveness.fingerprint import FrameFingerprint, ReplayPolicy
from facetrust.liveness.frames import CaptureLimits, Frame, check_capture, content_hash
from facetrust.liveness.service import ACTION_FLOOR, CHALLENGE_TOO_WEAK, FRAMES_REPLAYED
from facetrust.liveness.texture import TextureModel


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: list[str]
    checks: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)


class CaptureJudge:
    """Decides captures one after another, remembering the ones it passed (replay defence)."""

    def __init__(
        self,
        engine: FaceEngine,
        texture: TextureModel,
        limits: CaptureLimits,
        policy: DecisionPolicy | None = None,
        replay: ReplayPolicy | None = None,
    ) -> None:
        self.engine, self.texture, self.limits = engine, texture, limits
        self.policy = policy or DecisionPolicy()
        self.replay = replay or ReplayPolicy()
        self._seen: set[str] = set()
        self._passed: list[list[FrameFingerprint]] = []

    def judge(self, frames: list[np.ndarray], t_ms: list[float], purpose: str, actions: list[str]) -> Verdict:
        try:
            captured = check_capture([Frame(f, float(t), content_hash(f)) for f, t in zip(frames, t_ms)], self.limits)
        except DomainError as refused:
            return Verdict(False, [refused.code])
        if len(actions) < ACTION_FLOOR[purpose]:
            return Verdict(False, [CHALLENGE_TOO_WEAK])
        hashes = {f.sha256 for f in captured}
        if len(hashes) != len(captured) or hashes & self._seen:
            return Verdict(False, [FRAMES_REPLAYED])
        result = decision_mod.decide(self.engine, self.texture, captured, actions, self.policy)
        checks = {k: c.as_dict() for k, c in result.checks.items()}
        if not result.passed:
            return Verdict(False, result.reasons, checks, result.versions)
        if any(fingerprint.is_replay(result.fingerprints, old, self.replay) for old in self._passed):
            return Verdict(False, [FRAMES_REPLAYED], checks, result.versions)
        self._seen |= hashes
        self._passed.append(result.fingerprints)
        return Verdict(True, [], checks, result.versions)
