"""How well per-frame landmark signals separate the hand-labelled actions of the shared face clips:
the area under the ROC curve of each signal, frame by frame.

Every frame of every labelled clip is measured once. For each action, the positive frames are those
inside a labelled span of it; the negatives are the frames outside every span of that action and of
its look-alikes (a wink or partial blink is neither a blink nor an open eye; talking is neither an
open mouth nor a closed one), with two frames of margin around each span, whose edges are a matter
of judgement. A signal that ranks every positive frame above every negative one has an AUC of 1.

The signals come from a ``measure`` callable (image, detected face) -> {signal: value}, so the old
and new landmark models are measured on exactly the same frames, faces and labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from facetrust.biometrics.detect import DetectedFace, YuNetDetector, choose_subject

LABELS_FILE = Path(__file__).with_name("face_clips_labels.json")
MARGIN = 2  # frames around a span that count as neither positive nor negative

# action -> (labels that are positive, labels that are excluded from the negatives, the signal
# and its direction: +1 when a larger value means the action).
SIGNALS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "blink": (("blink",), ("wink", "partial_blink", "eyes_downcast", "look_down")),
    "open_mouth": (("open_mouth",), ("talking", "teeth_showing", "smile_teeth")),
    "turn": (("turn_left", "turn_right"), ()),
}

Measure = Callable[[np.ndarray, DetectedFace], dict[str, float]]


def roc_auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half (the Mann-Whitney U statistic)."""
    values = np.concatenate([negatives, positives])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):  # average ranks of ties
        tied = values == v
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    u = ranks[len(negatives) :].sum() - len(positives) * (len(positives) + 1) / 2
    return float(u / (len(positives) * len(negatives)))


def _spans(events: list[dict], names: tuple[str, ...]) -> list[tuple[int, int]]:
    return [(e["start_frame"], e["end_frame"]) for e in events if e.get("action") in names]


def _mask(n: int, spans: list[tuple[int, int]], margin: int = 0) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for a, b in spans:
        mask[max(0, a - margin) : min(n, b + margin + 1)] = True
    return mask


def measure_clips(
    detector: YuNetDetector, measure: Measure, clips_dir: Path, labels_file: Path = LABELS_FILE
) -> dict[str, list[dict[str, float] | None]]:
    """Per clip, the signals of each frame (None where no face was found)."""
    clips = json.loads(labels_file.read_text(encoding="utf-8"))["clips"]
    out: dict[str, list[dict[str, float] | None]] = {}
    for name in sorted(clips):
        capture = cv2.VideoCapture(str(clips_dir / name))
        rows: list[dict[str, float] | None] = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            face = choose_subject(detector.detect(frame), frame.shape)
            rows.append(measure(frame, face) if face is not None else None)
        capture.release()
        out[name] = rows
    return out


def auc_report(
    measured: dict[str, list[dict[str, float] | None]],
    signals: dict[str, dict[str, int]],
    labels_file: Path = LABELS_FILE,
) -> dict:
    """``signals`` maps an action to {signal name: direction}; the AUC of each, pooled over clips."""
    clips = json.loads(labels_file.read_text(encoding="utf-8"))["clips"]
    report: dict = {}
    for action, wanted in signals.items():
        positives, excluded = SIGNALS[action]
        for signal, direction in wanted.items():
            pos, neg = [], []
            for name, rows in measured.items():
                events = clips[name]["events"] + clips[name].get("other_events", [])
                n = len(rows)
                is_pos = _mask(n, _spans(clips[name]["events"], positives))
                near = _mask(n, _spans(events, positives + excluded), MARGIN)
                values = np.array([r[signal] * direction if r is not None else np.nan for r in rows])
                pos += list(values[is_pos & ~np.isnan(values)])
                neg += list(values[~near & ~np.isnan(values)])
            report.setdefault(action, {})[signal] = {
                "auc": round(roc_auc(np.array(neg), np.array(pos)), 4) if pos and neg else None,
                "positive_frames": len(pos),
                "negative_frames": len(neg),
            }
    return report
