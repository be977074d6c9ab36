"""Content fingerprints of a capture's frames, and whether one capture replays another.

The exact-pixel hash of a frame stops a capture sent twice as it was; one noise level of change on
every pixel defeats it. A replay is caught by what the frames show instead: each frame with a face
leaves a fingerprint of its aligned face (a 64-bit perceptual hash: the signs of the low-frequency
DCT of the face warped onto a fixed layout by the mesh's five points, so resizing, shifting,
cropping, noise and re-compression leave it nearly unchanged) and of the head's state (pose,
blink, mouth opening). Two captures of one person a minute apart look alike to the hash, but not to
the state as well in frame after frame, in order: a person never repeats their pose to a degree and
their blink to a tenth over a whole capture, and a replay always does.

A fingerprint is not a face image or a template: 64 sign bits of a blurred face and five numbers.
The service stores them sealed (``service.py``), with 16-bit slices of the hash as the look-up key,
and deletes them after the replay window.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from facetrust.biometrics.embed import ARCFACE_TEMPLATE
from facetrust.liveness.observe import Observed

SIDE = 32  # the aligned face the hash is taken from
BANDS = 4  # 16-bit slices of the hash, each a look-up key
_TEMPLATE = (ARCFACE_TEMPLATE * (SIDE / 112.0)).astype(np.float32)
_RECORD = struct.Struct("<Q4f")  # hash, yaw, pitch, blink, mouth


@dataclass(frozen=True)
class ReplayPolicy:
    """When a frame shows the same moment as another, and a capture replays another. Measured on 36
    real captures cut from the shared clips and 36 noise replays of them (noise, resizing by
    0.9-1.1, shifts, re-compression at quality 70-95): the replays matched 46-100 % of their frames
    to their source, in order (5th percentile 59 %); real captures of the same person in the same
    recording, seconds apart, at most 35 %, and two still stretches of one clip 23 %. Looser bounds
    (1 degree, 12 bits, a mouth to 0.05) caught replays by a wider margin but matched such a pair of
    real stretches at 62 %: a person paying twice at one machine must not be their own replay."""

    max_hash_distance: int = 8  # bits of 64
    max_pose_deg: float = 0.75  # yaw and pitch
    max_blink: float = 0.06
    max_mouth: float = 0.03
    min_matched_fraction: float = 0.45  # of the new capture's frames, matched in order


@dataclass(frozen=True)
class FrameFingerprint:
    phash: int
    # yaw, pitch, blink, mouth. Not the roll: rotating a replayed picture changes it at will, while
    # the hash (of the face aligned upright) does not see a rotation.
    state: tuple[float, float, float, float]

    def bands(self) -> list[int]:
        """The look-up keys: band number in the high bits, the 16-bit slice in the low ones."""
        return [(b << 16) | ((self.phash >> (16 * b)) & 0xFFFF) for b in range(BANDS)]


def perceptual_hash(face: np.ndarray) -> int:
    """64 bits: the sign of each of the 8x8 lowest DCT coefficients against their median."""
    coeffs = cv2.dct(face.astype(np.float32))[:8, :8].ravel()
    bits = coeffs > np.median(coeffs[1:])
    return int(np.packbits(bits).view(">u8")[0])


def fingerprints(seen: Observed) -> list[FrameFingerprint]:
    out = []
    for i in seen.with_face:
        g = seen.views[i].geometry
        m, _ = cv2.estimateAffinePartial2D(g.five_points(), _TEMPLATE)  # type: ignore[union-attr]
        if m is None:
            continue
        grey = cv2.cvtColor(seen.frames[i].pixels, cv2.COLOR_BGR2GRAY)
        face = cv2.warpAffine(grey, m, (SIDE, SIDE), flags=cv2.INTER_AREA)
        out.append(FrameFingerprint(perceptual_hash(face), (g.yaw, g.pitch, g.blink, g.mouth_openness)))  # type: ignore[union-attr]
    return out


def pack(prints: list[FrameFingerprint]) -> bytes:
    return b"".join(_RECORD.pack(p.phash, *p.state) for p in prints)


def unpack(data: bytes) -> list[FrameFingerprint]:
    return [FrameFingerprint(h, tuple(state)) for h, *state in _RECORD.iter_unpack(data)]  # type: ignore[arg-type]


def _same_moment(a: FrameFingerprint, b: FrameFingerprint, policy: ReplayPolicy) -> bool:
    return (
        bin(a.phash ^ b.phash).count("1") <= policy.max_hash_distance
        and abs(a.state[0] - b.state[0]) <= policy.max_pose_deg
        and abs(a.state[1] - b.state[1]) <= policy.max_pose_deg
        and abs(a.state[2] - b.state[2]) <= policy.max_blink
        and abs(a.state[3] - b.state[3]) <= policy.max_mouth
    )


def _longest_chain(matches: list[list[int]]) -> int:
    """The longest chain of new frames whose matched old frames strictly increase (patience
    sorting; each new frame's matches are taken in decreasing order so it adds at most one)."""
    tails: list[int] = []
    for row in matches:
        for j in sorted(row, reverse=True):
            k = int(np.searchsorted(tails, j))
            tails[k : k + 1] = [j]
    return len(tails)


def replay_fraction(new: list[FrameFingerprint], old: list[FrameFingerprint], policy: ReplayPolicy) -> float:
    """The share of the new capture's frames that show moments of the old one in the old one's
    order, or in reverse (a recording played backwards answers a challenge in the other order)."""
    if not new or not old:
        return 0.0
    matches = [[j for j, b in enumerate(old) if _same_moment(a, b, policy)] for a in new]
    backwards = [[len(old) - 1 - j for j in row] for row in matches]
    return max(_longest_chain(matches), _longest_chain(backwards)) / len(new)


def is_replay(new: list[FrameFingerprint], old: list[FrameFingerprint], policy: ReplayPolicy) -> bool:
    return replay_fraction(new, old, policy) >= policy.min_matched_fraction
