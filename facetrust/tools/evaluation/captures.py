"""Liveness captures on disk: the folder format, its reader and writer, and bona fide captures cut
from the hand-labelled shared face clips.

A **capture** is what one liveness session receives: a burst of frames with timestamps, answering a
challenge (the requested actions) for a purpose. On disk it is a folder holding its frames
(``*.jpg``, ``*.jpeg``, ``*.png``, taken in natural order of their names: ``frame_2`` before
``frame_10``) and a ``capture.json``::

    {"label": "bona_fide" | "attack",
     "species": "...",            # required for attacks; bona fide: optional, default "bona_fide"
     "purpose": "payment" | "real_name" | "face_pay_enrolment" | "installment" | "loan",
     "actions": ["blink", ...],   # the requested actions, in order (blink, turn_left, turn_right,
                                  # nod, open_mouth); [] is a passive check
     "t_ms": [0, 66.7, ...]}      # optional: one per frame, increasing; 15 fps if absent

Optional fields, tolerated by the reader (any other field is kept in ``Capture.meta`` too):
``source`` (where it came from), ``events`` (list of ``{"action", "start", "end"}`` frame indices,
inclusive, of actions performed in the capture; checked when present), ``replay_of`` /
``spliced_from`` (relative paths of source captures), ``recording`` (an id: captures cut from the
same recording share it), ``variant``, ``cuts``.

A **captures folder** is any folder tree: every folder that holds a ``capture.json`` is one capture
(found recursively, following symbolic links to folders, a folder reached twice read once), named
by its path relative to the tree's root and sorted by it (natural order, part by part). A
capture's frames are the image files of its own folder, not of its subfolders.

Reading refuses, with ``CaptureError`` (a ValueError whose message names the capture and the
problem; the command line prints its ``code`` and exits 2): a folder with no capture.json anywhere
(``captures_not_found``), and (``capture_malformed``) malformed JSON, an unknown label, purpose or
action, a missing species on an attack, ``t_ms`` of another length than the frames or not
numbers or not strictly increasing, a capture with no frames, malformed ``events``, and (when the
frames are loaded) an unreadable image. What a liveness check would refuse (too few frames, mixed
sizes, frames faster than 30 fps, too few actions for the purpose) is not a format error: it is
the decision's to refuse, and attacks may do it on purpose.

``write_capture`` writes the frames as JPEG (quality 95) ``frame_0000.jpg``... and the
capture.json, after checking it as the reader would.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facetrust.liveness.actions import ACTIONS
from facetrust.tools.evaluation.sequences import DataFolderError, natural_key, walk_folders

CAPTURE_FILE = "capture.json"
FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
LABELS = ("bona_fide", "attack")
PURPOSES = ("payment", "real_name", "face_pay_enrolment", "installment", "loan")
# The fewest requested actions the service asks for each purpose (a payment's active step-up may
# ask one; every other purpose asks 2-3).
PURPOSE_MIN_ACTIONS = {"payment": 1, "real_name": 2, "face_pay_enrolment": 2, "installment": 2, "loan": 2}
DEFAULT_FPS = 15.0
WRITE_JPEG_QUALITY = 95


class CaptureError(DataFolderError):
    """A capture (or a captures folder) that cannot be read; the message names it and the problem."""

    code = "capture_malformed"


class NoCapturesError(CaptureError):
    """A captures folder with no capture.json in it or below it."""

    code = "captures_not_found"


Decoder = Callable[[bytes], np.ndarray]


def decode_bgr(data: bytes) -> np.ndarray | None:
    """OpenCV's decoding of image bytes to BGR uint8 (None if they are not a readable image)."""
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None


@dataclass(frozen=True)
class Capture:
    """One capture folder, its capture.json checked; the frames are decoded by ``load_frames``."""

    name: str  # path relative to the captures folder's root ("." for the root itself)
    folder: Path
    label: str
    species: str
    purpose: str
    actions: tuple[str, ...]
    t_ms: tuple[float, ...]
    frame_paths: tuple[Path, ...]
    meta: dict = field(default_factory=dict, compare=False)  # capture.json as read, extra fields included

    @property
    def is_attack(self) -> bool:
        return self.label == "attack"

    @property
    def events(self) -> list[dict]:
        return list(self.meta.get("events") or [])

    @property
    def recording(self) -> str | None:
        value = self.meta.get("recording")
        return str(value) if value is not None else None

    def load_frames(self, decode: Decoder | None = None) -> list[np.ndarray]:
        """The frames as BGR uint8 images, in order. ``decode`` turns a file's bytes into pixels
        (default: OpenCV); it may raise, or return None, for an unreadable image, which becomes a
        ``CaptureError`` naming the capture and the file."""
        frames = []
        for path in self.frame_paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise CaptureError(f"capture {self.name}: cannot read {path.name}: {exc.strerror}") from None
            try:
                pixels = (decode or decode_bgr)(data)
            except ValueError as exc:  # the engine's intake raises ValueError subclasses
                raise CaptureError(f"capture {self.name}: {path.name} is not a readable image ({exc})") from None
            if pixels is None:
                raise CaptureError(f"capture {self.name}: {path.name} is not a readable image")
            frames.append(pixels)
        return frames


# --- reading --------------------------------------------------------------------------------------


def default_t_ms(count: int) -> list[float]:
    """Timestamps of ``count`` frames at 15 fps: i * 1000 / 15."""
    return [i * 1000.0 / DEFAULT_FPS for i in range(count)]


def frame_files(folder: Path) -> list[Path]:
    """The frame images of one capture folder (not of its subfolders), in natural order."""
    names = [
        p.name
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in FRAME_SUFFIXES and not p.is_dir()
    ]
    return [folder / name for name in sorted(names, key=natural_key)]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_meta(meta: object, frame_count: int, where: str) -> dict:
    """The fields of a capture.json, checked against its frame count; ``CaptureError`` naming
    ``where`` otherwise. Returns {label, species, purpose, actions, t_ms, events}."""

    def bad(problem: str) -> CaptureError:
        return CaptureError(f"capture {where}: {problem}")

    if not isinstance(meta, dict):
        raise bad(f"{CAPTURE_FILE} must hold a JSON object, not {type(meta).__name__}")
    for key in ("label", "purpose", "actions"):
        if key not in meta:
            raise bad(f"{CAPTURE_FILE} has no {key!r}")
    label = meta["label"]
    if label not in LABELS:
        raise bad(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    species = meta.get("species")
    if label == "attack":
        if not isinstance(species, str) or not species.strip():
            raise bad("an attack needs a 'species' (a non-empty name)")
    elif species is None:
        species = "bona_fide"
    elif not isinstance(species, str) or not species.strip():
        raise bad("'species' must be a non-empty name")
    purpose = meta["purpose"]
    if purpose not in PURPOSES:
        raise bad(f"unknown purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
    actions = meta["actions"]
    if not isinstance(actions, list):
        raise bad("'actions' must be a list of action names")
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise bad(f"unknown action(s) {unknown!r}; expected some of {', '.join(ACTIONS)}")
    if frame_count == 0:
        raise bad("no frames (expected *.jpg, *.jpeg or *.png files beside capture.json)")
    t_ms = meta.get("t_ms")
    if t_ms is None:
        t_ms = default_t_ms(frame_count)
    else:
        if not isinstance(t_ms, list) or not all(_is_number(t) for t in t_ms):
            raise bad("'t_ms' must be a list of finite numbers (milliseconds)")
        if len(t_ms) != frame_count:
            raise bad(f"'t_ms' has {len(t_ms)} timestamps for {frame_count} frames")
        if any(b <= a for a, b in zip(t_ms, t_ms[1:])):
            raise bad("'t_ms' must be strictly increasing")
        t_ms = [float(t) for t in t_ms]
    events = meta.get("events")
    if events is not None:
        if not isinstance(events, list):
            raise bad("'events' must be a list of {action, start, end}")
        for event in events:
            if (
                not isinstance(event, dict)
                or event.get("action") not in ACTIONS
                or not all(
                    isinstance(event.get(k), int) and not isinstance(event.get(k), bool) for k in ("start", "end")
                )
                or not 0 <= event["start"] <= event["end"] < frame_count
            ):
                raise bad(f"malformed event {event!r}: needs an action and 0 <= start <= end < {frame_count}")
    return {
        "label": label,
        "species": species.strip(),
        "purpose": purpose,
        "actions": list(actions),
        "t_ms": t_ms,
        "events": events,
    }


def open_capture(folder: Path, name: str | None = None) -> Capture:
    """The capture in ``folder`` (its capture.json and frame list checked; no pixels decoded)."""
    folder = Path(folder)
    where = name or folder.name
    try:
        text = (folder / CAPTURE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaptureError(f"capture {where}: no {CAPTURE_FILE} in {folder}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptureError(f"capture {where}: cannot read {CAPTURE_FILE}: {exc}") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaptureError(
            f"capture {where}: {CAPTURE_FILE} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    frames = frame_files(folder)
    fields = check_meta(meta, len(frames), where)
    return Capture(
        name=where,
        folder=folder,
        label=fields["label"],
        species=fields["species"],
        purpose=fields["purpose"],
        actions=tuple(fields["actions"]),
        t_ms=tuple(fields["t_ms"]),
        frame_paths=tuple(frames),
        meta=meta,
    )


def find_captures(root: Path) -> list[Capture]:
    """Every capture in the folder tree ``root``, checked, in natural order of their relative paths.

    Raises ``NoCapturesError`` for a missing or empty folder, or one with no capture.json anywhere,
    and ``CaptureError`` for the first malformed capture (frames are not decoded here:
    ``Capture.load_frames`` does that and refuses an unreadable image)."""
    root = Path(root)
    if not root.is_dir():
        raise NoCapturesError(f"{root} is not a folder")
    captures = []
    for folder, filenames in walk_folders(root):
        if CAPTURE_FILE in filenames:
            captures.append(open_capture(folder, folder.relative_to(root).as_posix()))
    if not captures:
        raise NoCapturesError(
            f"{root}: no captures (no folder in it or below it holds a {CAPTURE_FILE}; "
            f"a capture is a folder of frames with a {CAPTURE_FILE})"
        )
    return sorted(captures, key=lambda c: tuple(natural_key(part) for part in c.name.split("/")))


# --- writing --------------------------------------------------------------------------------------


def encode_frame(frame: np.ndarray) -> bytes:
    """A frame as the writer stores it: JPEG at quality 95."""
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, WRITE_JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def write_capture(folder: Path, frames: list[np.ndarray], meta: dict) -> Path:
    """Write ``frames`` (BGR uint8) as ``frame_0000.jpg``... (JPEG quality 95) and ``meta`` as
    capture.json into ``folder``, replacing the frames of an earlier capture written there.
    ``meta`` is checked as the reader checks it first (``CaptureError``); returns the folder."""
    check_meta(meta, len(frames), str(folder))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in frame_files(folder):
        stale.unlink()
    for i, frame in enumerate(frames):
        (folder / f"frame_{i:04d}.jpg").write_bytes(encode_frame(frame))
    (folder / CAPTURE_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return folder


# --- bona fide captures from the labelled face clips ----------------------------------------------

# Challenge actions as the labels give them (see facetrust.tools.evaluation.pad._labelled: a look up
# followed by a look down is a nod).
SINGLE_ACTIONS = ("blink", "open_mouth")  # one-action captures: purpose "payment"
MOVES = ("turn_left", "turn_right", "nod")  # two-action captures with a neighbour: purpose "real_name"
CONTEXT_S = 0.5  # before and after the labelled action(s)
MIN_CONTEXT_S = 0.25  # the least context kept where two captures' windows meet
MIN_GAP_S = 0.2  # between two captures of one clip
MAX_PAIR_S = 6.0  # the longest two-action window
TARGET_FPS = 15.0
# A hard cut: the mean absolute change of the whole (64x64 grey) image between two frames is at
# least this many grey levels and this many times its median over the 10 neighbouring frame pairs.
# Natural motion in the shared clips stays under 9.5 grey levels (head lean in d6, measured).
CUT_MIN_CHANGE = 12.0
CUT_MIN_RATIO = 4.0

_CONFIDENCE_RANK = {"": -1, "low": 0, "medium": 1, "high": 2}
_CUT_WORDS = re.compile(r"\b(cut|cuts|edit|edited|blend|cross-fade)\b", re.IGNORECASE)
_EXAMPLE_LIST = re.compile(r"for example ([\d\s,\-–]+)\)")
_CUT_ARROW = re.compile(r"cut (\d+)\s*->\s*(\d+)")


@dataclass
class Window:
    actions: tuple[str, ...]  # requested, in order
    purpose: str
    first: int  # the clip's frame range of the capture, inclusive
    last: int
    labelled: tuple[int, int]  # the labelled span of the requested action(s)
    confidence: tuple[str, ...]

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def _challenge_events(label: dict) -> list[tuple[str, int, int, str]]:
    """(action, start, end, confidence) of the clip's challenge actions, by start frame."""
    events = label.get("events", [])
    out = [
        (e["action"], e["start_frame"], e["end_frame"], e.get("confidence", ""))
        for e in events
        if e["action"] in SINGLE_ACTIONS + ("turn_left", "turn_right")
    ]
    for up in (e for e in events if e["action"] == "look_up"):
        down = next((e for e in events if e["action"] == "look_down" and e["start_frame"] >= up["start_frame"]), None)
        if down is not None:
            confidence = min((up.get("confidence", ""), down.get("confidence", "")), key=_CONFIDENCE_RANK.get)
            out.append(("nod", up["start_frame"], down["end_frame"], confidence))
    return sorted(out, key=lambda e: (e[1], e[2], e[0]))


def labelled_cuts(label: dict) -> list[tuple[int, int]]:
    """Frame spans (inclusive) that the labels say hold an edit: the "for example a-b, c" lists in
    a clip's description when it speaks of cuts, "cut a->b", and every labelled event (or other
    event) whose note speaks of a cut, an edit or a blend frame."""
    spans: list[tuple[int, int]] = []
    for text in (label.get("faces", ""), label.get("notes", "")):
        if not _CUT_WORDS.search(text or ""):
            continue
        for listed in _EXAMPLE_LIST.findall(text):
            for item in listed.split(","):
                bounds = [int(v) for v in re.findall(r"\d+", item)]
                if bounds:
                    spans.append((min(bounds), max(bounds)))
    for event in label.get("events", []) + label.get("other_events", []):
        note = event.get("note", "")
        for a, b in _CUT_ARROW.findall(note):
            spans.append((int(a), int(b)))
        if _CUT_WORDS.search(note):
            spans.append((event["start_frame"], event["end_frame"]))
    return sorted(set(spans))


def is_edited(label: dict) -> bool:
    """Whether the labels describe the clip as edited (jump cuts, cross-fades)."""
    return bool(re.search(r"jump cut|edited", f"{label.get('faces', '')} {label.get('notes', '')}", re.IGNORECASE))


def frame_changes(small: list[np.ndarray]) -> np.ndarray:
    """Mean absolute change between consecutive small grey frames; entry k is frames k-1 -> k
    (entry 0 is 0)."""
    out = np.zeros(len(small))
    for k in range(1, len(small)):
        out[k] = float(np.abs(small[k] - small[k - 1]).mean())
    return out


def detect_hard_cuts(changes: np.ndarray) -> list[int]:
    """Frame indices k where a new shot starts (a hard cut between k-1 and k): the whole image
    changes by at least CUT_MIN_CHANGE grey levels and CUT_MIN_RATIO times the median change of
    the neighbouring frame pairs."""
    cuts = []
    for k in range(1, len(changes)):
        around = np.concatenate([changes[max(1, k - 5) : k], changes[k + 1 : k + 6]])
        local = float(np.median(around)) if around.size else 0.0
        if changes[k] >= CUT_MIN_CHANGE and changes[k] >= CUT_MIN_RATIO * max(local, 1.0):
            cuts.append(k)
    return cuts


def _scan_clip(path: Path) -> tuple[list[float], np.ndarray, float]:
    """(timestamps in ms, frame-to-frame change, frame rate) of a video, without keeping frames."""
    capture = cv2.VideoCapture(str(path))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or 30.0
        times, small = [], []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            times.append(float(capture.get(cv2.CAP_PROP_POS_MSEC)))
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            small.append(cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32))
    finally:
        capture.release()
    if len(times) > 1 and any(b <= a for a, b in zip(times, times[1:])):
        times = [i * 1000.0 / fps for i in range(len(times))]  # the container's clock is unusable
    return times, frame_changes(small), fps


def sample_step(fps: float) -> int:
    """Every how many frames to take one, for a rate of 12.5-15 fps (30 fps: 2; 25 fps: 2)."""
    return max(1, math.ceil(fps / TARGET_FPS - 1e-6)) if fps > TARGET_FPS else 1


def plan_windows(events: list[tuple[str, int, int, str]], n_frames: int, fps: float) -> list[Window]:
    """The candidate captures of one clip, before placement: one per blink or open_mouth (purpose
    payment), and one per turn or nod with its nearest non-overlapping labelled neighbour of
    another action (purpose real_name, the two actions in their order) when both fit in MAX_PAIR_S
    with context. Each spans the labelled action(s) with CONTEXT_S before and after."""
    context = round(CONTEXT_S * fps)

    def window(actions, purpose, start, end, conf) -> Window:
        return Window(
            tuple(actions),
            purpose,
            max(0, start - context),
            min(n_frames - 1, end + context),
            (start, end),
            tuple(conf),
        )

    out = [window([a], "payment", s, e, [c]) for a, s, e, c in events if a in SINGLE_ACTIONS]
    pairs = set()
    for i, (action, start, end, _conf) in enumerate(events):
        if action not in MOVES:
            continue
        best = None
        for j, (other, o_start, o_end, _) in enumerate(events):
            if j == i or other == action or not (o_start > end or o_end < start):
                continue
            lo, hi = min(start, o_start), max(end, o_end)
            if (hi - lo + 2 * context + 1) / fps > MAX_PAIR_S:
                continue
            gap = o_start - end if o_start > end else start - o_end
            key = (gap, 0 if o_start > end else 1)  # nearest; a tie goes to the one that follows
            if best is None or key < best[0]:
                best = (key, j)
        if best is None:
            continue
        a, b = sorted((i, best[1]), key=lambda k: events[k][1])
        if (a, b) in pairs:
            continue
        pairs.add((a, b))
        out.append(
            window(
                [events[a][0], events[b][0]],
                "real_name",
                events[a][1],
                max(events[a][2], events[b][2]),
                [events[a][3], events[b][3]],
            )
        )
    return sorted(out, key=lambda w: (w.first, w.last, w.actions))


def place_windows(
    candidates: list[Window],
    cuts: list[tuple[int, int]],
    fps: float,
    step: int,
    min_frames: int,
    max_frames: int,
    skipped: Counter,
) -> list[Window]:
    """The windows to write, trimmed so that no two share a frame of the clip and none holds an
    edit; ``skipped`` counts the others by reason.

    Two real sessions never share a frame, and the judge (rightly) refuses a capture that shows
    frames it has passed before, so overlapping windows would turn real captures into "replays"
    of each other. Windows are placed in priority order (two-action windows first, being rarer;
    then by label confidence, then by start): where a window's context meets a placed window's,
    the two contexts are split midway between their labelled actions, with MIN_GAP_S between them;
    where it meets a cut (``cuts``: frame spans), its context stops before the cut. A window whose
    labelled action(s) would keep less than MIN_CONTEXT_S of context on a side (where the clip
    has it) is skipped, as is one that ends up with fewer than ``min_frames`` or more than
    ``max_frames`` sampled frames."""
    min_context, gap = round(MIN_CONTEXT_S * fps), max(1, round(MIN_GAP_S * fps))
    order = sorted(
        candidates,
        key=lambda w: (
            -len(w.actions),
            -min(_CONFIDENCE_RANK.get(c, -1) for c in w.confidence),
            w.labelled[0],
            w.actions,
        ),
    )
    placed: list[Window] = []
    floor = {}  # per window: the least context it keeps on each side

    for cand in order:
        start, end = cand.labelled
        need = (min(min_context, start - cand.first), min(min_context, cand.last - end))
        first, last = cand.first, cand.last
        reason = None
        for c0, c1 in cuts:
            if c1 < start:
                first = max(first, c1 + 1)
            elif c0 > end:
                last = min(last, c0 - 1)
            else:
                reason = "a labelled or detected cut inside the action"
        trims: list[tuple[Window, int, int]] = []
        for other in placed:
            o_start, o_end = other.labelled
            if o_end < start and other.last + gap >= first:  # other before this one, too close
                middle = (o_end + start) // 2
                trims.append((other, other.first, min(other.last, middle - gap // 2 - gap % 2)))
                first = max(first, middle + gap // 2 + 1)
            elif o_start > end and last + gap >= other.first:  # other after this one
                middle = (end + o_start) // 2
                trims.append((other, max(other.first, middle + gap // 2 + 1), other.last))
                last = min(last, middle - gap // 2 - gap % 2)
            elif not (o_end < start or o_start > end):
                reason = "its action overlaps a placed capture's"
        if reason is None and (start - first < need[0] or last - end < need[1]):
            reason = "too close to a cut or another capture for context"
        for other, o_first, o_last in trims:
            o_need = floor[id(other)]
            if other.labelled[0] - o_first < o_need[0] or o_last - other.labelled[1] < o_need[1]:
                reason = reason or "too close to another capture for context"
        if reason is None and not min_frames <= (last - first) // step + 1 <= max_frames:
            reason = f"not {min_frames}-{max_frames} frames"
        if reason:
            skipped[reason] += 1
            continue
        for other, o_first, o_last in trims:
            other.first, other.last = o_first, o_last
        cand.first, cand.last = first, last
        floor[id(cand)] = need
        placed.append(cand)
    for w in list(placed):  # a neighbour's trim may have left too few frames
        if (w.last - w.first) // step + 1 < min_frames:
            placed.remove(w)
            skipped[f"not {min_frames}-{max_frames} frames"] += 1
    return sorted(placed, key=lambda w: w.first)


def captures_from_clips(
    clips_dir: Path,
    labels_file: Path,
    out_dir: Path,
    max_frames: int = 90,
    min_frames: int = 8,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Write bona fide captures cut from the labelled clips of ``clips_dir`` into ``out_dir/<clip>/``.

    For each labelled challenge action (``_challenge_events``), a window from half a second before
    it to half a second after it (``plan_windows`` says which actions and purposes), placed so that
    no two captures share a frame (``place_windows``: contexts are trimmed where windows meet, to
    no less than a quarter second), sampled at 12.5-15 fps (every 2nd frame of a 25 or 30 fps
    clip), with the video's own timestamps (from the window's first frame) and ``min_frames`` to
    ``max_frames`` frames. ``events`` holds every labelled challenge action that lies wholly inside
    the window, in capture frame indices; ``recording`` is the clip's name; ``source`` says where
    the frames came from (``source_frames``: the clip's frame indices).

    Edits: no window holds a frame the labels mark as an edit (``labelled_cuts``: d6 and d10 are
    edited videos whose labels list example cut positions and note events at cuts) or a hard cut
    found in the pixels (``detect_hard_cuts``: a large change of the whole image between two
    frames, far above the change around it); a window's context stops before one, and a window
    whose action holds one is skipped. The labels list d6's and d10's cuts only as examples, and
    their jump cuts keep the framing (the same person, background and size; the expression jumps),
    which whole-image change does not tell from motion: measured on these clips, the change at the
    listed cuts (2-5 grey levels on 64x64 grey frames) is within that of natural motion (up to
    9.2), so the detector finds none there. Windows of those two clips may therefore still hold an
    unlisted jump cut; their ``source`` says so.

    Returns {"written": {actions key: count}, "skipped": {reason: count}, "clips": [...]}.
    """
    clips = json.loads(Path(labels_file).read_text(encoding="utf-8"))["clips"]
    written: Counter = Counter()
    skipped: Counter = Counter()
    used_clips = []
    for clip_name in sorted(clips, key=natural_key):
        path = Path(clips_dir) / clip_name
        if not path.is_file():
            skipped["clip missing"] += 1
            continue
        label = clips[clip_name]
        times, changes, fps = _scan_clip(path)
        if not times:
            skipped["clip unreadable"] += 1
            continue
        used_clips.append(clip_name)
        detected = detect_hard_cuts(changes)
        spans = sorted(set(labelled_cuts(label) + [(k - 1, k) for k in detected]))
        edited = is_edited(label)
        step = sample_step(fps)
        events = _challenge_events(label)
        plans = place_windows(plan_windows(events, len(times), fps), spans, fps, step, min_frames, max_frames, skipped)
        if log and (spans or edited):
            log(
                f"{clip_name}: {len(spans)} edit span(s) ({len(detected)} hard cut(s) detected in the pixels)"
                f"{'; an edited video: unlisted jump cuts may remain' if edited else ''}"
            )
        source = f"{Path(clips_dir).name}/{clip_name}"
        _write_windows(path, clip_name, source, plans, events, times, step, edited, Path(out_dir), written)
    return {"written": dict(sorted(written.items())), "skipped": dict(sorted(skipped.items())), "clips": used_clips}


def _window_events(events, w: Window, step: int) -> list[dict]:
    """The labelled challenge actions wholly inside the window, in capture frame indices."""
    n = (w.last - w.first) // step + 1
    out = []
    for action, start, end, conf in events:
        if start < w.first or end > w.last:
            continue
        s = math.ceil((start - w.first) / step)
        e = (end - w.first) // step
        if s > e:  # shorter than the sampling step: the nearest sampled frame
            s = e = min(n - 1, round(((start + end) / 2 - w.first) / step))
        out.append({"action": action, "start": int(s), "end": int(e), "confidence": conf})
    return out


def _write_windows(
    path: Path,
    clip_name: str,
    source: str,
    plans: list[Window],
    events,
    times: list[float],
    step: int,
    edited: bool,
    out_dir: Path,
    written: Counter,
) -> None:
    """Stream the clip once, keeping only the frames that a pending window still needs."""
    if not plans:
        return
    wanted = {w: list(range(w.first, w.last + 1, step)) for w in plans}
    needed = set().union(*wanted.values())
    pending = sorted(plans, key=lambda w: wanted[w][-1])
    buffer: dict[int, np.ndarray] = {}
    stem = Path(clip_name).stem
    capture = cv2.VideoCapture(str(path))
    try:
        index = -1
        while pending:
            ok, frame = capture.read()
            if not ok:
                break
            index += 1
            if index in needed:
                buffer[index] = frame
            while pending and wanted[pending[0]][-1] == index:
                w = pending.pop(0)
                picks = wanted[w]
                t0 = times[picks[0]]
                name = f"{'+'.join(w.actions)}_{w.labelled[0]:04d}-{w.labelled[1]:04d}"
                note = (
                    (
                        "; an edited video: windows with a listed or detected cut are left out, "
                        "an unlisted jump cut may remain"
                    )
                    if edited
                    else ""
                )
                meta = {
                    "label": "bona_fide",
                    "species": "bona_fide",
                    "purpose": w.purpose,
                    "actions": list(w.actions),
                    "t_ms": [round(times[i] - t0, 3) for i in picks],
                    "events": _window_events(events, w, step),
                    "recording": clip_name,
                    "source": f"{source} frames {w.first}-{w.last}, every {step}{note}",
                    "source_frames": picks,
                    "label_confidence": list(w.confidence),
                }
                write_capture(out_dir / stem / name, [buffer[i] for i in picks], meta)
                written["+".join(w.actions)] += 1
            keep_from = min((wanted[w][0] for w in pending), default=index + 1)
            for i in [i for i in buffer if i < keep_from]:
                del buffer[i]
    finally:
        capture.release()
