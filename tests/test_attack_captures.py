"""The print and screen presentation attacks written as captures (``write_capture_attacks`` with
``print`` or ``screen``, ``attacks make --captures``): folder structure, the capture.json (the
source's purpose, actions and t_ms, provenance, generator parameters), which source frames the
output frames show, determinism for a seed, and frames that are not the source's.

The synthetic checks use flat coloured frames written under tmp_path (the dominant colour of the
frame's centre says which source frame an output frame shows); the frontal-frame choice uses a real
NUAA session from the shared data and skips without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.liveness.frames import content_hash
from facetrust.tools import attacks
from facetrust.tools.evaluation.captures import find_captures, write_capture

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]  # BGR: blue, green, red
CENTRE = (slice(40, 80), slice(60, 100))  # of a 120x160 frame


def coloured_frame(colour: tuple[int, int, int], seed: int) -> np.ndarray:
    """A 120x160 frame of one colour with a little texture (so that JPEG keeps frames distinct)."""
    rng = np.random.default_rng(seed)
    base = np.array(colour, np.int16)[None, None, :] + rng.integers(-8, 9, (120, 160, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def dominant(frame: np.ndarray) -> int:
    """The channel (0 blue, 1 green, 2 red) that dominates the frame's centre."""
    return int(np.argmax(frame[CENTRE].reshape(-1, 3).mean(axis=0)))


@pytest.fixture()
def sources(tmp_path) -> Path:
    """Two bona fide captures: 10 frames cycling blue, green, red (requesting a blink and an open
    mouth, with labelled events) and 7 frames, red except a green middle frame."""
    root = tmp_path / "bona"
    t_ms = [round(i * 66.667, 3) for i in range(10)]
    write_capture(
        root / "rec" / "cycle",
        [coloured_frame(COLOURS[i % 3], i) for i in range(10)],
        {
            "label": "bona_fide",
            "purpose": "real_name",
            "actions": ["blink", "open_mouth"],
            "t_ms": t_ms,
            "events": [{"action": "blink", "start": 2, "end": 3}, {"action": "open_mouth", "start": 6, "end": 8}],
            "recording": "rec",
        },
    )
    write_capture(
        root / "plain",
        [coloured_frame(COLOURS[1 if i == 3 else 2], 100 + i) for i in range(7)],
        {"label": "bona_fide", "purpose": "payment", "actions": ["turn_left"], "t_ms": [i * 100.0 for i in range(7)]},
    )
    # An attack in the source folder is not attacked again.
    write_capture(
        root / "old_attack",
        [coloured_frame(COLOURS[0], 50 + i) for i in range(5)],
        {"label": "attack", "species": "splice", "purpose": "payment", "actions": ["blink"]},
    )
    return root


def frames_by_name(folder: Path) -> dict[str, list[np.ndarray]]:
    return {c.name: c.load_frames() for c in find_captures(folder)}


def check_common(made, source, source_frames: list[np.ndarray], species: str) -> list[np.ndarray]:
    """The checks every print and screen capture passes; returns its frames."""
    assert made.is_attack and made.species == species
    assert (made.purpose, made.actions, made.t_ms) == (source.purpose, source.actions, source.t_ms)
    frames = made.load_frames()
    assert len(frames) == len(source_frames)
    assert all(f.shape == source_frames[0].shape for f in frames)
    hashes = {content_hash(f) for f in frames}
    assert len(hashes) == len(frames) and not hashes & {content_hash(f) for f in source_frames}
    # Not the source with a few pixels changed: a re-captured picture, different throughout.
    assert min(float(np.abs(a.astype(int) - b).mean()) for a, b in zip(frames, source_frames)) > 5.0
    generator = made.meta["generator"]
    assert set(generator) >= {"motion", "light", "camera"}
    assert 70 <= generator["camera"]["jpeg_quality"] <= 90
    json.dumps(made.meta)  # the record is plain JSON
    return frames


def test_screen_replays_each_capture_frame_for_frame(sources, tmp_path):
    out = tmp_path / "out"
    result = attacks.write_capture_attacks(sources, out, "screen", seed=1)
    assert result == {"written": 2, "by_kind": {"screen": 2}, "sources": 2, "not_used": 0}
    made = {c.name: c for c in find_captures(out)}
    assert sorted(made) == ["screen/plain", "screen/rec__cycle"]
    source = {c.name: c for c in find_captures(sources)}
    source_frames = frames_by_name(sources)
    for name, capture in made.items():
        of = capture.meta["replay_of"]
        assert name == f"screen/{of.replace('/', '__')}"
        frames = check_common(capture, source[of], source_frames[of], "screen")
        # Output frame i shows source frame i.
        assert [dominant(f) for f in frames] == [dominant(f) for f in source_frames[of]]
        assert set(capture.meta["generator"]) >= {"screen"}
        assert of in capture.meta["source"]
    # The replayed person performs the challenge: the labelled events still hold.
    assert made["screen/rec__cycle"].events == source["rec/cycle"].events
    assert "events" not in made["screen/plain"].meta


def test_print_shows_one_frame_for_the_captures_length(sources, tmp_path):
    out = tmp_path / "out"
    result = attacks.write_capture_attacks(sources, out, "print", seed=1)
    assert result["written"] == 2 and result["by_kind"] == {"print": 2}
    made = {c.name: c for c in find_captures(out)}
    source = {c.name: c for c in find_captures(sources)}
    source_frames = frames_by_name(sources)
    plain = made["print/plain"]
    frames = check_common(plain, source["plain"], source_frames["plain"], "print")
    # Without a detector the middle frame (the green one) is printed, and shown in every frame.
    assert plain.meta["still_frame"] == 3 and plain.meta["still_choice"] == "middle"
    assert {dominant(f) for f in frames} == {1}
    assert plain.meta["print_of"] == "plain" and "frame 3 of capture plain" in plain.meta["source"]
    assert set(plain.meta["generator"]) >= {"print", "bend", "margin_px"}
    cycle = made["print/rec__cycle"]
    frames = check_common(cycle, source["rec/cycle"], source_frames["rec/cycle"], "print")
    assert cycle.meta["still_frame"] == 5 and {dominant(f) for f in frames} == {dominant(source_frames["rec/cycle"][5])}
    assert "events" not in cycle.meta  # a print performs none of the actions


@pytest.mark.parametrize("species", attacks.SPECIES)
def test_capture_attacks_are_deterministic_for_a_seed(sources, tmp_path, species):
    first, again, other = (tmp_path / n for n in ("first", "again", "other"))
    attacks.write_capture_attacks(sources, first, species, seed=4)
    attacks.write_capture_attacks(sources, again, species, seed=4)
    attacks.write_capture_attacks(sources, other, species, seed=5)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)
    frame = Path(species) / "rec__cycle" / "frame_0004.jpg"
    assert (first / frame).read_bytes() != (other / frame).read_bytes()
    # One capture's attack does not depend on the other captures in the folder.
    alone = tmp_path / "alone"
    write_capture(
        alone / "plain",
        find_captures(sources / "plain")[0].load_frames(),
        {k: v for k, v in find_captures(sources / "plain")[0].meta.items()},
    )
    attacks.write_capture_attacks(alone, tmp_path / "alone_out", species, seed=4)
    (single,) = find_captures(tmp_path / "alone_out")
    assert single.meta["generator"] == find_captures(first / species / "plain")[0].meta["generator"]


def test_a_capture_with_frames_of_two_sizes_is_replayed_at_the_first_size(tmp_path):
    frames = [coloured_frame(COLOURS[i % 3], i) for i in range(4)]
    frames[2] = cv2.resize(frames[2], (200, 150))
    write_capture(
        tmp_path / "bona" / "mixed", frames, {"label": "bona_fide", "purpose": "payment", "actions": ["blink"]}
    )
    attacks.write_capture_attacks(tmp_path / "bona", tmp_path / "out", "screen", seed=1)
    (made,) = find_captures(tmp_path / "out")
    shown = made.load_frames()
    assert [f.shape for f in shown] == [(120, 160, 3)] * 4
    assert [dominant(f) for f in shown] == [0, 1, 2, 0]


def test_attacks_make_command_print_and_screen_from_captures(sources, tmp_path):
    from click.testing import CliRunner

    from facetrust.cli import main

    runner = CliRunner()
    out = tmp_path / "o"
    ok = runner.invoke(
        main, ["attacks", "make", "--captures", str(sources), "--out", str(out), "--species", "screen", "--seed", "1"]
    )
    assert ok.exit_code == 0, ok.output
    assert "2 screen attack captures written" in ok.output and "screen 2" in ok.output
    assert sorted(c.name for c in find_captures(out)) == ["screen/plain", "screen/rec__cycle"]
    # The files equal write_capture_attacks' for that seed.
    direct = tmp_path / "direct"
    attacks.write_capture_attacks(sources, direct, "screen", seed=1)
    name = Path("screen") / "plain" / "frame_0002.jpg"
    assert (out / name).read_bytes() == (direct / name).read_bytes()
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), coloured_frame(COLOURS[0], 9))
    for args in (
        ["--species", "screen", "--captures", str(sources), str(still)],  # both inputs
        ["--species", "screen", "--captures", str(sources), "--frames", "5"],  # the source's count
        ["--species", "print"],
    ):  # neither
        refused = runner.invoke(main, ["attacks", "make", "--out", str(tmp_path / "x"), *args])
        assert refused.exit_code == 2 and "error [attack_input_invalid]" in refused.output, refused.output
    # INPUT files still give frame sequences, 15 frames by default.
    ok = runner.invoke(main, ["attacks", "make", str(still), "--out", str(tmp_path / "seq"), "--species", "print"])
    assert ok.exit_code == 0, ok.output
    assert len(list((tmp_path / "seq" / "print" / "still").glob("frame_*.jpg"))) == 15
    assert not list((tmp_path / "seq").rglob("capture.json"))


@pytest.fixture(scope="module")
def face_session(shared_data, tmp_path_factory) -> Path:
    """A real capture: 7 frames of one NUAA session (640x480)."""
    session = sorted(
        (shared_data / "nuaa-dev" / "ClientRaw" / "0001").glob("0001_00_00_01_*.jpg"),
        key=lambda p: int(p.stem.split("_")[-1]),
    )[:7]
    frames = [cv2.imread(str(p)) for p in session]
    root = tmp_path_factory.mktemp("face") / "bona"
    write_capture(
        root / "s1",
        frames,
        {"label": "bona_fide", "purpose": "payment", "actions": ["turn_left"], "t_ms": [i * 66.7 for i in range(7)]},
    )
    return root


def test_print_with_a_detector_prints_the_most_frontal_frame(face_session, engine):
    (capture,) = find_captures(face_session)
    frames = capture.load_frames()
    index, landmarks = attacks.choose_still(frames, engine.detector)
    assert landmarks is not None
    made = attacks.make_print_attack(capture, frames, np.random.default_rng(2), engine.detector)
    assert made.meta["still_frame"] == index and made.meta["still_choice"] == "most frontal"
    # The printed face is still a face to the detector in most frames.
    found = sum(attacks._subject_landmarks(engine.detector, f) is not None for f in made.frames)
    assert found >= len(made.frames) - 1
