"""`facetrust eval liveness`: the judging order, the report's arithmetic, errors for empty and
malformed folders, and the command end to end on three real captures (a bona fide window of a
shared clip, its noise replay and a still injected from it).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from facetrust.cli import main
from facetrust.liveness.judge import Verdict
from facetrust.tools import attacks
from facetrust.tools.evaluation import liveness_eval
from facetrust.tools.evaluation.captures import find_captures, write_capture


def flat(level: int) -> np.ndarray:
    frame = np.full((40, 40, 3), level, np.uint8)
    frame[level % 40, :] = 255 - level  # a line, so that JPEG keeps frames of near levels apart
    return frame


def write(root: Path, name: str, label: str, species: str | None = None, levels=(10, 20, 30, 40)) -> None:
    body = {"label": label, "purpose": "payment", "actions": ["blink"]}
    if species:
        body["species"] = species
    write_capture(root / name, [flat(v) for v in levels], body)


class RecordingJudge:
    """Passes what its ``passes`` says, by capture (identified by its first frame's level)."""

    def __init__(self, passes: dict[int, bool]) -> None:
        self.passes, self.calls = passes, []

    def judge(self, frames, t_ms, purpose, actions):
        level = int(round(float(np.median(frames[0]))))
        self.calls.append(level)
        ok = self.passes[level]
        return Verdict(
            ok,
            [] if ok else (["action_not_performed", "planar_motion"] if level % 20 else ["frames_replayed"]),
            {"texture": {"passed": ok, "reason": None, "measures": {"model_id": "tex-1"}}},
        )


def test_bona_fide_captures_are_judged_first_and_rates_are_per_species(tmp_path):
    root = tmp_path / "caps"
    # Relative-path order puts attacks before the bona fide captures ("a..." < "z..."): the judge must not.
    write(root, "a_attacks/splice/s1", "attack", "splice", (50, 51, 52, 53))
    write(root, "a_attacks/splice/s2", "attack", "splice", (60, 61, 62, 63))
    write(root, "a_attacks/noise_replay/n1", "attack", "noise_replay", (70, 71, 72, 73))
    write(root, "z_bona/b1", "bona_fide", None, (10, 11, 12, 13))
    write(root, "z_bona/b2", "bona_fide", None, (20, 21, 22, 23))
    write(root, "z_bona/b3", "bona_fide", None, (30, 31, 32, 33))
    judge = RecordingJudge({10: True, 20: False, 30: True, 50: True, 60: False, 70: False})
    outcomes, versions = liveness_eval.judge_all(judge, find_captures(root), progress=False)
    assert judge.calls == [10, 20, 30, 70, 50, 60]  # bona fide first, then attacks, each in path order
    assert versions == {"texture.model_id": "tex-1"}
    report = liveness_eval.liveness_report(outcomes, versions)
    assert report["captures"] == {"bona_fide": 3, "attack": 3, "per_species": {"noise_replay": 1, "splice": 2}}
    assert report["bpcer"] == pytest.approx(1 / 3) and report["bona_fide_rejected"] == 1
    assert report["apcer_per_species"]["splice"]["apcer"] == 0.5
    assert report["apcer_per_species"]["splice"]["accepted"] == 1
    assert report["apcer_per_species"]["noise_replay"]["apcer"] == 0.0
    assert report["apcer"] == 0.5 and report["worst_species"] == "splice"
    assert report["failures_by_reason"] == {
        "bona_fide": {"frames_replayed": 1},
        "per_species": {
            "noise_replay": {"action_not_performed": 1, "planar_motion": 1},  # two reasons, both counted
            "splice": {"frames_replayed": 1},
        },
    }
    assert [r["capture"] for r in report["results"]][:3] == ["z_bona/b1", "z_bona/b2", "z_bona/b3"]
    assert set(report["ms_per_capture"]) >= {"wall", "cpu", "decode_wall", "captures"}
    assert "bona fide captures first" in report["order"]
    json.dumps(report)  # plain JSON values
    assert "splice" in liveness_eval.format_report(report)


def test_attacks_stopped_only_as_replays_are_judged_again_as_if_their_source_were_unseen(tmp_path):
    # s2 (level 60) is stopped as a replay alone; a judge that remembers nothing would pass it. n1 (70)
    # fails other checks and is not judged again; s1 (50) passed anyway.
    root = tmp_path / "caps"
    write(root, "attacks/splice/s1", "attack", "splice", (50, 51, 52, 53))
    write(root, "attacks/splice/s2", "attack", "splice", (60, 61, 62, 63))
    write(root, "attacks/noise_replay/n1", "attack", "noise_replay", (70, 71, 72, 73))
    judge = RecordingJudge({50: True, 60: False, 70: False})
    fresh = RecordingJudge({60: True, 70: True})
    outcomes, _ = liveness_eval.judge_all(judge, find_captures(root), progress=False, fresh_judge=lambda: fresh)
    assert fresh.calls == [60]
    report = liveness_eval.liveness_report(outcomes)
    splice = report["apcer_per_species"]["splice"]
    assert (splice["apcer"], splice["apcer_if_source_unseen"], splice["accepted_if_source_unseen"]) == (0.5, 1.0, 2)
    assert report["apcer_per_species"]["noise_replay"]["apcer_if_source_unseen"] == 0.0
    assert [r["passed_if_source_unseen"] for r in report["results"]] == [None, None, True]
    assert "source had never been sent" in liveness_eval.format_report(report)


@pytest.mark.parametrize(
    "setup,code",
    [
        ("empty", "captures_not_found"),
        ("no capture.json", "captures_not_found"),
        ("malformed", "capture_malformed"),
    ],
)
def test_empty_or_malformed_folders_exit_with_a_code(tmp_path, setup, code):
    root = tmp_path / "caps"
    root.mkdir()
    if setup == "no capture.json":
        cv2.imwrite(str(root / "frame_0.jpg"), flat(100))
    if setup == "malformed":
        write(root, "good", "bona_fide")
        write(root, "bad", "bona_fide")
        (root / "bad" / "capture.json").write_text('{"label": "attack", "purpose": "payment", "actions": []}')
    result = CliRunner().invoke(main, ["eval", "liveness", "--captures", str(root)])
    assert result.exit_code == 2, result.output
    assert f"error [{code}]" in result.output and "Traceback" not in result.output
    if setup == "malformed":
        assert "capture bad: an attack needs a 'species'" in result.output


@pytest.fixture(scope="module")
def tiny_captures(shared_data, engine, tmp_path_factory) -> Path:
    """A bona fide capture (d9's first blink, labelled 10-18: frames 0-35 at 15 fps), its noise
    replay and a still injected from it."""
    reader = cv2.VideoCapture(str(shared_data / "face-clips" / "d9.mp4"))
    frames = []
    for _ in range(36):
        ok, frame = reader.read()
        assert ok
        frames.append(frame)
    reader.release()
    root = tmp_path_factory.mktemp("eval") / "captures"
    write_capture(
        root / "bona_fide" / "d9_blink",
        frames[::2],
        {
            "label": "bona_fide",
            "purpose": "payment",
            "actions": ["blink"],
            "t_ms": [round(i * 1000 / 15, 3) for i in range(18)],
            "recording": "d9.mp4",
            "events": [{"action": "blink", "start": 5, "end": 9}],
        },
    )
    for species in ("noise_replay", "still_injection"):
        attacks.write_capture_attacks(root / "bona_fide", root / "attacks", species, seed=1, detector=engine.detector)
    return root


def test_eval_liveness_end_to_end(tiny_captures, tmp_path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["eval", "liveness", "--captures", str(tiny_captures), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["captures"] == {"bona_fide": 1, "attack": 2, "per_species": {"noise_replay": 1, "still_injection": 1}}
    assert set(report["apcer_per_species"]) == {"noise_replay", "still_injection"}
    for row in report["apcer_per_species"].values():
        assert (
            set(row)
            == {
                "apcer",
                "captures",
                "accepted",
                "apcer_if_source_unseen",
                "accepted_if_source_unseen",
                "failures_by_reason",
            }
            and row["captures"] == 1
        )
    assert report["worst_species"] in report["apcer_per_species"]
    assert report["bpcer"] in (0.0, 1.0) and report["apcer"] in (0.0, 1.0)
    assert [r["label"] for r in report["results"]] == ["bona_fide", "attack", "attack"]
    # A still cannot blink: the still injection is refused (by the actions check, or as a replay, and
    # then by the checks again when its source is taken as never seen).
    assert report["apcer_per_species"]["still_injection"]["accepted_if_source_unseen"] == 0
    timing = report["ms_per_capture"]
    assert timing["captures"] == 3 and timing["wall"]["median"] > 0 and timing["cpu"]["p95"] > 0
    assert "texture" in report["models"]
    for words in ("BPCER", "APCER", "noise_replay", "still_injection", "time per capture"):
        assert words in result.output
