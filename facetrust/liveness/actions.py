"""Active challenge actions, found in the per-frame landmark measures of a capture.

Each detector reads one series of the MediaPipe mesh (the eyeBlink blendshape, yaw and pitch from
the mesh's depth, the inner-lip gap) and looks for a change *within the capture* as well as an
absolute level: a person who holds a three-quarter pose has a large yaw in every frame but has not
turned, and a person with naturally narrow eyes has a high blink score without blinking. Thresholds
come from ``ActionThresholds``, tuned on windows of the hand-labelled shared face clips around each
labelled action and on windows without it (``facetrust eval actions``; the README has the rates).

Directions are the subject's own: ``turn_left`` is the subject turning to their left, which in an
unmirrored camera frame moves the nose toward the image's right and makes the yaw negative (see
``landmarks.yaw_pitch``). Clients send frames as the camera took them, not a mirrored preview.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIONS = ("blink", "turn_left", "turn_right", "nod", "open_mouth")


@dataclass(frozen=True)
class ActionThresholds:
    turn_deg: float = 10.0  # yaw beyond this, and this far from the capture's most frontal frame
    nod_deg: float = 10.0  # pitch up by this from the start, then down by as much from the peak
    blink_score: float = 0.4  # the mesh's eyeBlink blendshape at least this (0..1, closed = 1)
    blink_rise: float = 0.25  # and this much above the capture's open-eye level
    blink_max_ms: float = 1200.0  # longer is eyes lowered or held shut, not a blink
    blink_max_pitch_change_deg: float = 8.0  # looking down narrows the eyes: that is not a blink
    mouth_open: float = 0.3  # inner-lip gap over mouth width at the widest
    mouth_rise: float = 0.2  # and this much more than the capture's most closed frame


@dataclass(frozen=True)
class Series:
    """Per-frame measures of the subject; NaN where a frame had no usable face."""

    t_ms: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    ear: np.ndarray  # eye aspect ratio
    mouth: np.ndarray  # inner-lip gap over mouth width
    blink: np.ndarray  # the mesh's eyeBlink blendshapes (mean of both eyes), 0..1
    jaw: np.ndarray  # the jawOpen blendshape, 0..1

    def __len__(self) -> int:
        return len(self.t_ms)


@dataclass(frozen=True)
class ActionEvent:
    action: str
    start: int  # frame indices, inclusive
    peak: int
    end: int

    def as_dict(self) -> dict:
        return {"action": self.action, "start": self.start, "peak": self.peak, "end": self.end}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs in a boolean array."""
    runs, start = [], None
    for i, on in enumerate(mask):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def _peak(values: np.ndarray, start: int, end: int, highest: bool) -> int:
    window = values[start : end + 1]
    return start + int(np.nanargmax(window) if highest else np.nanargmin(window))


def turns(s: Series, th: ActionThresholds) -> list[ActionEvent]:
    if np.all(np.isnan(s.yaw)):
        return []
    frontal = s.yaw[int(np.nanargmin(np.abs(s.yaw)))]
    events = []
    for action, sign in (("turn_left", -1.0), ("turn_right", 1.0)):
        signed = sign * s.yaw
        mask = np.nan_to_num(signed >= th.turn_deg) & np.nan_to_num(signed - sign * frontal >= th.turn_deg)
        events += [ActionEvent(action, a, _peak(signed, a, b, True), b) for a, b in _runs(mask)]
    return events


def blinks(s: Series, th: ActionThresholds) -> list[ActionEvent]:
    """A rise of the eyeBlink blendshape with open eyes on both sides of it. The open-eye level is a
    low percentile of the capture, so a capture with several blinks still has the right level, and
    eyes that are narrow by nature (a high level throughout) do not read as shut."""
    valid = ~np.isnan(s.blink)
    if valid.sum() < 3:
        return []
    open_level = float(np.nanpercentile(s.blink, 20))
    closed = np.nan_to_num(s.blink >= th.blink_score) & np.nan_to_num(s.blink - open_level >= th.blink_rise)
    events = []
    for a, b in _runs(closed):
        before = [i for i in range(a) if valid[i] and not closed[i]]
        after = [i for i in range(b + 1, len(s)) if valid[i] and not closed[i]]
        if not before or not after:
            continue  # eyes shut at the start or the end: not a blink seen whole
        if s.t_ms[b] - s.t_ms[a] > th.blink_max_ms:
            continue
        peak = _peak(s.blink, a, b, True)
        pitch_around = np.nanmean([s.pitch[before[-1]], s.pitch[after[0]]])
        if abs(s.pitch[peak] - pitch_around) > th.blink_max_pitch_change_deg:
            continue
        events.append(ActionEvent("blink", a, peak, b))
    return events


def nods(s: Series, th: ActionThresholds) -> list[ActionEvent]:
    """Up, then down: the pitch rises from its level at the start of the capture, and later falls
    from that peak by at least as much."""
    valid = np.flatnonzero(~np.isnan(s.pitch))
    if len(valid) < 3:
        return []
    base = float(np.nanmedian(s.pitch[valid[: max(2, len(valid) // 5)]]))
    up = np.nan_to_num(s.pitch - base >= th.nod_deg)
    events = []
    for a, b in _runs(up):
        peak = _peak(s.pitch, a, b, True)
        later = np.flatnonzero(np.nan_to_num(s.pitch[peak + 1 :] <= s.pitch[peak] - th.nod_deg))
        if len(later):
            events.append(ActionEvent("nod", a, peak, peak + 1 + int(later[0])))
    return events


def mouth_openings(s: Series, th: ActionThresholds) -> list[ActionEvent]:
    if np.all(np.isnan(s.mouth)):
        return []
    closed_level = float(np.nanmin(s.mouth))
    mask = np.nan_to_num(s.mouth >= th.mouth_open) & np.nan_to_num(s.mouth - closed_level >= th.mouth_rise)
    return [ActionEvent("open_mouth", a, _peak(s.mouth, a, b, True), b) for a, b in _runs(mask)]


def detect(s: Series, th: ActionThresholds) -> list[ActionEvent]:
    """Every action event in the capture, ordered by its peak frame."""
    events = turns(s, th) + blinks(s, th) + nods(s, th) + mouth_openings(s, th)
    return sorted(events, key=lambda e: (e.peak, e.action))


def match_in_order(requested: list[str], events: list[ActionEvent]) -> list[ActionEvent | None]:
    """For each requested action, the first event of it that peaks after the previous action's
    peak (None when there is none): the actions must be performed in the order asked."""
    matched: list[ActionEvent | None] = []
    after = -1
    for action in requested:
        found = next((e for e in events if e.action == action and e.peak > after), None)
        matched.append(found)
        if found is not None:
            after = found.peak
    return matched
