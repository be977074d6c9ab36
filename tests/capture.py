"""Liveness captures for tests, cut from the shared face clips (real people), and the steps that
get an account a passed liveness session over HTTP.

**Takes.** Every capture a test sends is a *take*: a window of a hand-labelled clip around labelled
actions, sampled at 12.5-15 fps (every second frame; one window every frame, 30 fps), that answers a
challenge of the actions it really shows, in order: one quick action (a blink or an open mouth) for
a face payment, two distinct actions for real name, enrolment, a payment's step-up and credit.
The catalogue (``catalogue``) is built the way ``facetrust captures from-clips`` builds its bona fide
captures (``facetrust.tools.evaluation.captures``): candidate windows around each labelled challenge
action with half a second of context (``plan_windows``), placed so that no two share a frame of the
clip and none holds a labelled edit (``place_windows``, ``labelled_cuts``: d6 and d10 have jump
cuts). Two-action windows that ``plan_windows`` does not propose (it pairs only turns and nods with
a neighbour) are added by hand from the labels (``PAIRS``): d3's turn right + blink and turn left +
turn right, d9's blink + open mouth and open mouth + blink (and d6's and d18's, for the load tools).

**Mirrored takes.** ``Take.mirror()`` is the same window flipped left to right (``cv2.flip(frame,
1)``), with turn_left and turn_right swapped (a person's own left is the image's right in the
mirror). It is a different capture of the same person: every picture differs, and so does the head's
pose (the yaw changes sign), so the replay defence rightly sees no moment of the original in it,
while the face still matches the person. Mirroring doubles the material; nothing else may: the
even and odd frames of one window, or two overlapping windows, show the same moments, and the
service refuses the second as ``frames_replayed``.

**One world, distinct stretches.** ``material(app)`` is the ledger of the takes handed out in one
test world (one app, one database): it hands a person the next take that overlaps no take handed
out before in that world (same clip, same orientation, a shared frame), so every passed capture in
a world shows its own stretch of a recording. Takes are handed out in the catalogue's order, and
that order matters once: d9's two two-action stretches (a very still man, two seconds apart) look
alike enough that the defence takes the first for a replay when it comes after the second, in the
same orientation (58 % of its frames matched, the bound is 55 %; the other way round, 20 %), so the
first is always handed out first.
"""

from __future__ import annotations

import base64
import functools
import json
import weakref
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from facetrust.liveness.models import LivenessSession
from facetrust.liveness.service import QUICK_ACTIONS
from facetrust.tools.evaluation import captures as clips_mod

LABELS_FILE = Path(clips_mod.__file__).with_name("face_clips_labels.json")
SWAP = {"turn_left": "turn_right", "turn_right": "turn_left"}


def clip_frames(
    shared_data: Path, clip: str, start: int, stop: int, step: int = 1
) -> tuple[list[np.ndarray], list[float]]:
    """Frames start..stop-1 (every step-th) of a clip, with their timestamps from the first one."""
    capture = cv2.VideoCapture(str(shared_data / "face-clips" / clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames, times, index = [], [], 0
    while index < stop:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= start and (index - start) % step == 0:
            frames.append(frame)
            times.append((index - start) * 1000.0 / fps)
        index += 1
    capture.release()
    return frames, times


def jpeg_b64(frame: np.ndarray, quality: int = 92) -> str:
    return base64.b64encode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()).decode()


def as_burst(frames: list[np.ndarray], times: list[float], nonce: str) -> dict:
    """The capture request body: JPEG frames with timestamps, as a phone's capture page sends them."""
    return {"nonce": nonce, "frames": [{"t_ms": t, "image_base64": jpeg_b64(f)} for f, t in zip(frames, times)]}


# --- takes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Take:
    """A window of a labelled clip (frames ``first``..``last`` inclusive, every ``step``-th) that
    answers the challenge ``actions``; ``shows`` is every labelled challenge action inside it, in
    order, as (action, first frame, last frame) of the clip."""

    clip: str
    first: int
    last: int
    step: int
    actions: tuple[str, ...]
    shows: tuple[tuple[str, int, int], ...] = field(default=(), compare=False)
    mirrored: bool = False

    @property
    def name(self) -> str:
        return f"{Path(self.clip).stem}{'~mirrored' if self.mirrored else ''}:{self.first}-{self.last}:{'+'.join(self.actions)}"

    @property
    def frame_count(self) -> int:
        return (self.last - self.first) // self.step + 1

    def mirror(self) -> Take:
        """The same window flipped left to right: another capture of the same person (see the module)."""
        return replace(
            self,
            mirrored=not self.mirrored,
            actions=tuple(SWAP.get(a, a) for a in self.actions),
            shows=tuple((SWAP.get(a, a), s, e) for a, s, e in self.shows),
        )

    def overlaps(self, other: Take) -> bool:
        """Whether the two show a moment in common: one clip, one orientation, a shared frame."""
        return (
            self.clip == other.clip
            and self.mirrored == other.mirrored
            and self.first <= other.last
            and other.first <= self.last
        )

    def frames(self, shared_data: Path) -> tuple[list[np.ndarray], list[float]]:
        frames, times = clip_frames(shared_data, self.clip, self.first, self.last + 1, self.step)
        assert len(frames) == self.frame_count, f"{self.name}: the clip ended early"
        if self.mirrored:
            frames = [cv2.flip(f, 1) for f in frames]
        return frames, times

    def burst(self, shared_data: Path, nonce: str, variant: int = 0) -> dict:
        """The capture request body for this take (JPEG quality 92; encoded once per process).

        ``variant`` > 0 is for tools that replay a recording on purpose (a load or crash test): the
        same frames with a faint, seeded noise of at most one grey level, so that their decoded
        pixels differ from every earlier replay's. It does not hide the replay from the content
        fingerprints; such a tool must forget those itself, and say why."""
        encoded = _encoded(self, shared_data) if not variant else encode_take(self, shared_data, variant)
        return {"nonce": nonce, "frames": [{"t_ms": t, "image_base64": b} for t, b in encoded]}


def encode_take(take: Take, shared_data: Path, variant: int = 0) -> tuple[tuple[float, str], ...]:
    """(timestamp, base64 JPEG) of each frame of the take, with the faint noise of ``variant``."""
    frames, times = take.frames(shared_data)
    if variant:
        rng = np.random.default_rng(variant)
        frames = [
            np.clip(f.astype(np.int16) + rng.integers(-1, 2, f.shape, dtype=np.int16), 0, 255).astype(np.uint8)
            for f in frames
        ]
    return tuple((t, jpeg_b64(f)) for f, t in zip(frames, times))


@functools.cache
def _encoded(take: Take, shared_data: Path) -> tuple[tuple[float, str], ...]:
    return encode_take(take, shared_data, 0)


# Two-action windows added by hand from the labels: (first, last) clip frames (inclusive), the
# actions answered (in the order the labels show them) and the frame step. plan_windows proposes
# d3's turn right + blink and turn left + open mouth, but place_windows' context floor then drops
# turn left + turn right; d9 has no turns, so plan_windows proposes no pair there at all. d3's turn
# left + open mouth is not a pair here: its open mouth is d3's only single-action (payment) take.
PAIRS: dict[str, list[tuple[int, int, tuple[str, ...], int]]] = {
    # turn right 5-27, then blink 47-52 (and a second blink 56-61)
    "d3.mp4": [
        (0, 64, ("turn_right", "blink"), 2),
        # turn left 148-182, then turn right 196-228
        (140, 236, ("turn_left", "turn_right"), 2),
    ],
    # blink 36-47, then open mouth 68-71; open mouth 86-89, then blink 141-144. The two mouths are 14
    # frames apart: with place_windows' gap between captures (0.2 s), each window keeps 4 frames of
    # context there (the mouth is closed for most of each window). The second mouth is wide open in
    # one frame only (87), so that window takes every frame (30 fps).
    "d9.mp4": [(24, 75, ("blink", "open_mouth"), 2), (82, 156, ("open_mouth", "blink"), 1)],
    # For the load and latency tools, which enrol every clip person with two-action captures:
    # d6's blink 206-210, then open mouth 212-220 (before the cut at 226); open mouth 365-376, then
    # blink 377-382 (before the cut at 390). d18's open mouth 63-97, then blink 93-99.
    "d6.mp4": [(196, 224, ("blink", "open_mouth"), 2), (350, 389, ("open_mouth", "blink"), 2)],
    "d18.mp4": [(48, 102, ("open_mouth", "blink"), 2)],
}


@functools.cache
def labels() -> dict:
    return json.loads(LABELS_FILE.read_text(encoding="utf-8"))["clips"]


def _pair_window(label: dict, first: int, last: int, actions: tuple[str, ...]) -> clips_mod.Window:
    events = [e for e in clips_mod._challenge_events(label) if first <= e[1] and e[2] <= last]
    picked, after = [], -1
    for action in actions:  # the first labelled event of each action, in order
        event = next(e for e in events if e[0] == action and e[1] > after)
        picked.append(event)
        after = event[1]
    return clips_mod.Window(
        actions, "real_name", first, last, (picked[0][1], max(e[2] for e in picked)), tuple(e[3] for e in picked)
    )


@functools.cache
def catalogue(clip: str) -> tuple[Take, ...]:
    """The unmirrored takes of one clip, in order: no two share a frame, none holds a labelled edit.

    The clips' frame rates and lengths come from the labels; ``place_windows`` is given the labelled
    edits only (``captures_from_clips`` also looks for hard cuts in the pixels, and finds none in
    these clips)."""
    label = labels()[clip]
    fps, n = float(label["fps"]), int(label["frames"])
    step = clips_mod.sample_step(fps)
    events = clips_mod._challenge_events(label)
    planned = clips_mod.plan_windows(events, n, fps)
    if clip in PAIRS:
        candidates = [_pair_window(label, a, b, acts) for a, b, acts, _ in PAIRS[clip]]
        candidates += [w for w in planned if len(w.actions) == 1]
    else:
        candidates = planned
    placed = clips_mod.place_windows(candidates, clips_mod.labelled_cuts(label), fps, step, 8, 90, Counter())
    steps = {(a, b, acts): st for a, b, acts, st in PAIRS.get(clip, [])}
    missing = set(steps) - {(w.first, w.last, w.actions) for w in placed}
    assert not missing, f"{clip}: hand-placed pairs not kept as placed: {missing}"
    takes = []
    for w in placed:
        shows = tuple((a, s, e) for a, s, e, _ in events if w.first <= s and e <= w.last)
        takes.append(
            Take(clip, w.first, w.last, steps.get((w.first, w.last, w.actions), step), tuple(w.actions), shows)
        )
    return tuple(takes)


def takes_of(clip: str, kind: str, mirrored: bool = False) -> list[Take]:
    """The clip's takes of one kind, ``payment`` (one quick action: a face payment's challenge) or
    ``two`` (two distinct actions: real-name, enrolment, step-up, credit), in the clip's order, each
    followed by its mirror (each preceded by it if ``mirrored``). A take and its mirror come first
    because they cost the same, and d9's second two-action take (every frame of two and a half
    seconds) costs twice its first."""
    own = [t for t in catalogue(clip) if (len(t.actions) == 1) == (kind == "payment")]
    if kind == "payment":
        own = [t for t in own if t.actions[0] in QUICK_ACTIONS]
    return [u for t in own for u in ((t.mirror(), t) if mirrored else (t, t.mirror()))]


class Material:
    """The takes handed out in one test world: never two that show a moment in common."""

    def __init__(self) -> None:
        self.used: list[Take] = []

    def free(self, candidates: list[Take]) -> list[Take]:
        return [t for t in candidates if not any(t.overlaps(u) for u in self.used)]

    def take(self, candidates: list[Take], what: str = "a capture") -> Take:
        free = self.free(candidates)
        assert free, f"no unused take left for {what} (used: {[u.name for u in self.used]})"
        self.used.append(free[0])
        return free[0]


_MATERIAL: weakref.WeakKeyDictionary[object, Material] = weakref.WeakKeyDictionary()


def material(app) -> Material:
    """The ledger of takes of the world ``app`` serves (one per app object)."""
    if app not in _MATERIAL:
        _MATERIAL[app] = Material()
    return _MATERIAL[app]


# --- sessions ---------------------------------------------------------------------------------


def new_session(client, app, h, purpose: str, actions: list[str] | None = None) -> dict:
    """Create a session over HTTP; ``actions`` then fixes the challenge to what the clip shows. (The
    device is the one the platform bound to the token ``h`` when it signed the user in.)"""
    body = {"purpose": purpose}
    r = client.post("/v1/me/liveness-sessions", json=body, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    if actions is not None:
        with app.state.sessions() as s:
            s.get(LivenessSession, created["session_id"]).actions = json.dumps(list(actions))
            s.commit()
        created["actions"] = list(actions)
    return created


def fix_payment_challenge(app, intent_id: str, actions) -> None:
    """Fix the challenge of a payment's current capture (found through the intent: the capture page
    opened it) to what the take shows. A recording cannot follow a random challenge; a person can."""
    from facetrust.payments.models import PaymentIntent

    with app.state.sessions() as s:
        intent = s.get(PaymentIntent, intent_id)
        assert intent is not None and intent.liveness_session_id, "the capture page has not opened a capture yet"
        s.get(LivenessSession, intent.liveness_session_id).actions = json.dumps(list(actions))
        s.commit()


# A real person turning to their right (frames 5-27) and then blinking (47-52), at 30 fps: the
# first take of d3 (also used, as this tuple, by tests that cut the frames themselves).
D3_TURN_THEN_BLINK = ("d3.mp4", 0, 64, ["turn_right", "blink"])


def passed_session(client, app, h, shared_data: Path, purpose: str, take: Take | None = None) -> str:
    """A passed liveness session for ``purpose``, answering the take's actions with its frames. By
    default the world's next unused two-action take of d3 (a woman turning and blinking)."""
    take = take or material(app).take(takes_of("d3.mp4", "two"), f"a {purpose} pass")
    created = new_session(client, app, h, purpose, list(take.actions))
    r = client.post(
        f"/v1/me/liveness-sessions/{created['session_id']}/capture",
        json=take.burst(shared_data, created["nonce"]),
        headers=h,
    )
    assert r.status_code == 200 and r.json()["status"] == "passed", f"{take.name}: {r.text}"
    return created["session_id"]
