"""Liveness captures on disk and the attacks made from them: the reader's errors, the writer, the
folder walk, bona fide captures from the labelled clips, and the still injection, noise replay and
splice species.

Most checks use small synthetic frames written under tmp_path; the still injection (which needs a
face's landmarks) and the clip reader use the shared data and skip without it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.liveness.frames import content_hash
from facetrust.tools import attacks
from facetrust.tools.evaluation import captures as cap
from facetrust.tools.evaluation.captures import (
    PURPOSE_MIN_ACTIONS,
    CaptureError,
    NoCapturesError,
    find_captures,
    open_capture,
    write_capture,
)


def pattern_frame(level: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """A frame whose mean grey level is about ``level``, with texture (JPEG keeps it distinct)."""
    rng = np.random.default_rng(level)
    base = np.full((*size, 3), level, np.int16) + rng.integers(-6, 7, (*size, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def frames_of(levels: list[int]) -> list[np.ndarray]:
    return [pattern_frame(v) for v in levels]


def meta(**extra) -> dict:
    body = {"label": "bona_fide", "purpose": "payment", "actions": ["blink"]}
    body.update(extra)
    return body


def levels_of(frames: list[np.ndarray]) -> list[int]:
    return [int(round(float(f.mean()))) for f in frames]


def read_back(folder: Path) -> list[np.ndarray]:
    return open_capture(folder).load_frames()


# --- reader errors --------------------------------------------------------------------------------


def write_raw(folder: Path, n_frames: int, body: object, raw: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_frames):
        assert cv2.imwrite(str(folder / f"frame_{i}.png"), pattern_frame(10 * i + 20))
    (folder / "capture.json").write_text(raw if raw is not None else json.dumps(body))


@pytest.mark.parametrize(
    "n_frames,body,raw,message",
    [
        (4, None, '{"label": "bona_fide", "purpose": ', "capture.json is not valid JSON"),
        (4, ["a", "list"], None, "must hold a JSON object"),
        (4, {"purpose": "payment", "actions": []}, None, "has no 'label'"),
        (4, meta(label="genuine"), None, "unknown label 'genuine'"),
        (4, meta(purpose="shopping"), None, "unknown purpose 'shopping'"),
        (4, meta(actions=["blink", "smile"]), None, "unknown action(s) ['smile']"),
        (4, meta(actions="blink"), None, "'actions' must be a list"),
        (4, meta(label="attack"), None, "an attack needs a 'species'"),
        (4, meta(t_ms=[0, 66, 133]), None, "'t_ms' has 3 timestamps for 4 frames"),
        (4, meta(t_ms=[0, 66, "133", 200]), None, "'t_ms' must be a list of finite numbers"),
        (4, meta(t_ms=[0, 66, True, 200]), None, "'t_ms' must be a list of finite numbers"),
        (4, meta(t_ms=[0, 66, 66, 200]), None, "'t_ms' must be strictly increasing"),
        (4, meta(t_ms=[0, 66, 50, 200]), None, "'t_ms' must be strictly increasing"),
        (0, meta(), None, "no frames"),
        (4, meta(events=[{"action": "blink", "start": 2, "end": 9}]), None, "malformed event"),
    ],
)
def test_each_malformed_capture_is_refused_with_its_message(tmp_path, n_frames, body, raw, message):
    write_raw(tmp_path / "set" / "one", n_frames, body, raw)
    with pytest.raises(CaptureError) as refused:
        find_captures(tmp_path / "set")
    assert isinstance(refused.value, ValueError) and refused.value.code == "capture_malformed"
    assert message in str(refused.value) and "capture one:" in str(refused.value)


def test_an_unreadable_image_is_refused_when_the_frames_are_loaded(tmp_path):
    write_raw(tmp_path / "c", 3, meta())
    (tmp_path / "c" / "frame_1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (capture,) = find_captures(tmp_path)
    with pytest.raises(CaptureError, match=r"capture c: frame_1.png is not a readable image"):
        capture.load_frames()


@pytest.mark.parametrize("layout", ["empty", "frames only", "missing"])
def test_a_folder_without_captures_is_refused(tmp_path, layout):
    root = tmp_path / "root"
    if layout != "missing":
        root.mkdir()
    if layout == "frames only":
        (root / "sub").mkdir()
        cv2.imwrite(str(root / "sub" / "frame_0.jpg"), pattern_frame(50))
    with pytest.raises(NoCapturesError) as refused:
        find_captures(root)
    assert refused.value.code == "captures_not_found" and str(root) in str(refused.value)


# --- writer and reader ----------------------------------------------------------------------------


def test_write_then_read_round_trip(tmp_path):
    frames = frames_of([30, 60, 90, 120, 150, 180, 210, 240, 15, 45, 75])
    extra = {
        "source": "synthetic",
        "recording": "r1",
        "replay_of": "x/y",
        "spliced_from": ["a", "b"],
        "events": [{"action": "blink", "start": 2, "end": 4}],
        "anything": {"else": 1},
    }
    body = meta(species="bona_fide", t_ms=[i * 70.0 for i in range(11)], **extra)
    write_capture(tmp_path / "caps" / "r1" / "w0", frames, body)
    names = sorted(p.name for p in (tmp_path / "caps" / "r1" / "w0").iterdir())
    assert names == ["capture.json"] + [f"frame_{i:04d}.jpg" for i in range(11)]
    (capture,) = find_captures(tmp_path / "caps")
    assert capture.name == "r1/w0" and capture.label == "bona_fide" and not capture.is_attack
    assert capture.species == "bona_fide" and capture.purpose == "payment" and capture.actions == ("blink",)
    assert capture.t_ms == tuple(i * 70.0 for i in range(11)) and capture.recording == "r1"
    assert capture.events == extra["events"] and capture.meta["anything"] == {"else": 1}
    loaded = capture.load_frames()
    assert [f.shape for f in loaded] == [(48, 64, 3)] * 11
    assert max(float(np.abs(a.astype(int) - b).mean()) for a, b in zip(loaded, frames)) < 4.0  # JPEG 95 of noise


def test_defaults_and_natural_frame_order(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    for i in range(12):  # frame_2 must come before frame_10; png and jpeg both count
        suffix = ".png" if i % 2 else ".jpeg"
        cv2.imwrite(str(folder / f"frame_{i}{suffix}"), pattern_frame(20 * i + 10))
    (folder / "notes.txt").write_text("not a frame")
    (folder / "capture.json").write_text(
        json.dumps({"label": "attack", "species": "print", "purpose": "loan", "actions": ["nod", "blink"]})
    )
    (capture,) = find_captures(tmp_path)
    assert capture.name == "c" and capture.is_attack and capture.species == "print"
    assert [p.name for p in capture.frame_paths][:3] == ["frame_0.jpeg", "frame_1.png", "frame_2.jpeg"]
    assert levels_of(capture.load_frames()) == [20 * i + 10 for i in range(12)]
    assert capture.t_ms == tuple(i * 1000.0 / 15 for i in range(12))  # 15 fps when absent


def test_the_writer_checks_what_it_writes_and_replaces_stale_frames(tmp_path):
    with pytest.raises(CaptureError, match="unknown purpose"):
        write_capture(tmp_path / "x", frames_of([1, 2]), meta(purpose="nope"))
    write_capture(tmp_path / "c", frames_of([10, 20, 30, 40]), meta())
    write_capture(tmp_path / "c", frames_of([50, 60]), meta())
    assert levels_of(read_back(tmp_path / "c")) == [50, 60]


def test_captures_are_found_recursively_through_symlinks_in_path_order(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    for folder in (root / "b" / "c10", root / "b" / "c2", root / "a", elsewhere / "linked"):
        write_capture(folder, frames_of([40, 80]), meta())
    write_capture(root / "a" / "nested", frames_of([40, 80]), meta())  # a capture inside a capture
    (root / "z").symlink_to(elsewhere, target_is_directory=True)  # a linked folder is followed
    (elsewhere / "loop").symlink_to(root, target_is_directory=True)  # a loop back to the root
    names = [c.name for c in find_captures(root)]
    assert names == ["a", "a/nested", "b/c2", "b/c10", "z/linked"]
    assert [len(c.frame_paths) for c in find_captures(root)] == [2] * 5  # a capture's own frames only


# --- bona fide captures from clips ----------------------------------------------------------------


def test_window_placement_shares_no_frame_and_keeps_out_of_cuts():
    events = [
        ("blink", 40, 45, "high"),
        ("open_mouth", 43, 60, "low"),
        ("blink", 100, 104, "high"),
        ("blink", 150, 155, "medium"),
        ("blink", 170, 174, "high"),
        ("turn_left", 200, 220, "high"),
        ("blink", 235, 240, "high"),
    ]
    candidates = cap.plan_windows(events, 300, 30.0)
    # A turn gets its nearest labelled neighbour of another action: the blink 15 frames after it.
    assert [(w.actions, w.labelled) for w in candidates if len(w.actions) == 2] == [
        (("turn_left", "blink"), (200, 240))
    ]
    skipped = Counter()
    placed = cap.place_windows(candidates, [(90, 91)], 30.0, 2, 8, 90, skipped)
    assert [(w.first, w.last, w.actions) for w in placed] == [
        (25, 60, ("blink",)),  # half a second (15 frames) of context on each side
        (92, 119, ("blink",)),  # its context stops after the cut at 90-91
        (155, 184, ("blink",)),  # this and the pair met: split midway, 6 frames (0.2 s) apart
        (191, 255, ("turn_left", "blink")),
    ]
    assert skipped == {
        "its action overlaps a placed capture's": 2,  # the open_mouth and the paired blink
        "too close to a cut or another capture for context": 1,
    }  # the blink at 150


def test_labelled_cuts_and_hard_cuts():
    label = {
        "faces": "Edited video with jump cuts (for example 1-2, 94-95, 220)",
        "events": [
            {"action": "blink", "start_frame": 221, "end_frame": 225, "note": "both ends abrupt (edit?)"},
            {"action": "open_mouth", "start_frame": 95, "end_frame": 112, "note": "starts at a cut 94->95"},
            {"action": "blink", "start_frame": 300, "end_frame": 305, "note": "closed 301-304"},
        ],
    }
    assert cap.labelled_cuts(label) == [(1, 2), (94, 95), (95, 112), (220, 220), (221, 225)]
    assert cap.is_edited(label)
    smooth = np.full(40, 1.5)
    smooth[20] = 30.0  # a new shot
    smooth[30] = 8.0  # fast motion: five times its neighbours, but under CUT_MIN_CHANGE
    assert cap.detect_hard_cuts(smooth) == [20]


def test_from_clips_on_one_labelled_clip(tmp_path, shared_data):
    labels = tmp_path / "labels.json"
    source = json.loads(Path(cap.__file__).with_name("face_clips_labels.json").read_text())
    labels.write_text(json.dumps({"clips": {"d0.mp4": source["clips"]["d0.mp4"]}}))
    result = cap.captures_from_clips(shared_data / "face-clips", labels, tmp_path / "out")
    assert result["written"] == {"blink": 1} and result["clips"] == ["d0.mp4"]
    (capture,) = find_captures(tmp_path / "out")
    assert capture.name == "d0/blink_0064-0069" and capture.purpose == "payment" and capture.actions == ("blink",)
    # d0 is 25 fps and 78 frames: every 2nd frame (12.5 fps) from 0.5 s before the blink to the end.
    assert capture.meta["source_frames"] == list(range(52, 78, 2)) and capture.recording == "d0.mp4"
    assert capture.t_ms == tuple(80.0 * i for i in range(13))
    assert capture.events == [{"action": "blink", "start": 6, "end": 8, "confidence": "high"}]
    assert capture.load_frames()[0].shape == (512, 512, 3)


# --- attack species -------------------------------------------------------------------------------


@pytest.fixture()
def bona_fide_set(tmp_path) -> Path:
    """Three synthetic bona fide captures: two of one recording with labelled events, one without."""
    root = tmp_path / "bona"
    t_ms = [0.0, 66.7, 133.3, 200.0, 266.7, 333.3, 400.0, 466.7, 533.3, 600.0, 666.7, 733.3, 800.0, 866.7]
    write_capture(
        root / "r1" / "a",
        frames_of(list(range(20, 160, 10))),
        meta(
            purpose="real_name",
            actions=["blink", "open_mouth"],
            t_ms=t_ms,
            recording="r1",
            events=[{"action": "blink", "start": 2, "end": 3}, {"action": "open_mouth", "start": 9, "end": 11}],
        ),
    )
    write_capture(
        root / "r1" / "b",
        frames_of(list(range(165, 235, 5))),
        meta(actions=["open_mouth"], recording="r1", events=[{"action": "open_mouth", "start": 5, "end": 7}]),
    )
    write_capture(root / "plain", frames_of(list(range(12, 252, 24))), meta(actions=["blink"]))
    return root


def test_noise_replay_changes_every_frame_and_keeps_the_challenge(bona_fide_set, tmp_path):
    out = tmp_path / "out"
    result = attacks.write_capture_attacks(bona_fide_set, out, "noise_replay", seed=3)
    assert result["written"] == 3 and result["sources"] == 3
    sources = {c.name: c for c in find_captures(bona_fide_set)}
    replays = find_captures(out)
    assert [c.name for c in replays] == ["noise_replay/plain", "noise_replay/r1__a", "noise_replay/r1__b"]
    for replay in replays:
        source = sources[replay.meta["replay_of"]]
        assert replay.is_attack and replay.species == "noise_replay"
        assert replay.actions == source.actions and replay.t_ms == source.t_ms
        assert len(replay.actions) >= PURPOSE_MIN_ACTIONS[replay.purpose]
        ours, theirs = replay.load_frames(), source.load_frames()
        assert len(ours) == len(theirs) and ours[0].shape == theirs[0].shape
        assert all(not np.array_equal(a, b) for a, b in zip(ours, theirs))  # every frame differs
        assert not {content_hash(f) for f in ours} & {content_hash(f) for f in theirs}
        assert len({content_hash(f) for f in ours}) == len(ours)
        # ... and still shows the same thing: a few grey levels apart at most.
        assert max(abs(a - b) for a, b in zip(levels_of(ours), levels_of(theirs))) <= 16
    again = tmp_path / "again"
    attacks.write_capture_attacks(bona_fide_set, again, "noise_replay", seed=3)
    assert (again / "noise_replay" / "r1__a" / "frame_0005.jpg").read_bytes() == (
        out / "noise_replay" / "r1__a" / "frame_0005.jpg"
    ).read_bytes()  # deterministic for a seed


def test_splice_reorders_joins_and_swaps_halves(bona_fide_set, tmp_path):
    out = tmp_path / "out"
    result = attacks.write_capture_attacks(bona_fide_set, out, "splice", seed=1)
    assert result["by_kind"] == {"halves": 1, "join": 2, "reorder": 1}
    made = {c.name: c for c in find_captures(out)}
    source = {c.name: c.load_frames() for c in find_captures(bona_fide_set)}
    levels = {name: levels_of(frames) for name, frames in source.items()}

    reorder = made["splice/r1__a__reorder"]
    # blink 2-3 and open_mouth 9-11 with 4 frames of context, split midway (6/7): open_mouth first.
    assert reorder.actions == ("open_mouth", "blink") and reorder.meta["mode"] == "reorder"
    assert levels_of(reorder.load_frames()) == levels["r1/a"][7:14] + levels["r1/a"][0:7]
    assert reorder.meta["cuts"] == [7] and reorder.meta["spliced_from"] == ["r1/a"]
    assert reorder.events == [
        {"action": "open_mouth", "start": 2, "end": 4},
        {"action": "blink", "start": 9, "end": 10},
    ]
    assert reorder.t_ms == pytest.approx([i * 66.7 for i in range(14)], abs=0.01)  # regular, the median interval

    join = made["splice/r1__b__join__a"]
    # b's open_mouth (5-7, context 1-11) then a's blink, the action of a other than open_mouth (2-3, context 0-7).
    assert join.actions == ("open_mouth", "blink") and join.meta["spliced_from"] == ["r1/b", "r1/a"]
    assert levels_of(join.load_frames()) == levels["r1/b"][1:12] + levels["r1/a"][0:8]
    assert join.meta["cuts"] == [11] and join.t_ms == pytest.approx([i * 1000 / 15 for i in range(19)], abs=0.01)
    assert "splice/r1__a__join__b" in made

    halves = made["splice/plain__halves"]
    assert halves.actions == ("blink",) and halves.meta["cuts"] == [5]
    assert levels_of(halves.load_frames()) == levels["plain"][5:] + levels["plain"][:5]
    # Spliced frames are neither the sources' exact pixels nor another splice's (three reuse r1/a's).
    seen = {content_hash(f) for frames in source.values() for f in frames}
    for capture in made.values():
        hashes = {content_hash(f) for f in capture.load_frames()}
        assert len(hashes) == len(capture.frame_paths) and not hashes & seen
        seen |= hashes


def test_unknown_species_and_no_bona_fide_captures(bona_fide_set, tmp_path):
    with pytest.raises(ValueError, match="unknown capture attack species"):
        attacks.write_capture_attacks(bona_fide_set, tmp_path / "o", "hologram", seed=1)
    only_attacks = tmp_path / "only"
    write_capture(only_attacks / "x", frames_of([10, 20]), meta(label="attack", species="print"))
    with pytest.raises(CaptureError, match="no bona fide captures"):
        attacks.write_capture_attacks(only_attacks, tmp_path / "o", "splice", seed=1)


@pytest.fixture(scope="module")
def face_capture(shared_data, tmp_path_factory) -> Path:
    """A real bona fide capture: 9 frames of one NUAA session (640x480), requesting a blink."""
    session = sorted(
        (shared_data / "nuaa-dev" / "ClientRaw" / "0001").glob("0001_00_00_01_*.jpg"),
        key=lambda p: int(p.stem.split("_")[-1]),
    )[:9]
    root = tmp_path_factory.mktemp("face") / "bona"
    write_capture(root / "s1", [cv2.imread(str(p)) for p in session], meta(t_ms=[i * 200.0 for i in range(9)]))
    return root


def register(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``frame`` warped onto ``reference`` by the affine transform that ECC finds between them."""
    grey = [cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float32) for x in (reference, frame)]
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    _, warp = cv2.findTransformECC(grey[0], grey[1], warp, cv2.MOTION_AFFINE, criteria, None, 5)
    h, w = reference.shape[:2]
    return cv2.warpAffine(frame, warp, (w, h), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP)


@pytest.mark.parametrize("variant", attacks.STILL_VARIANTS)
def test_still_injection_repeats_one_frame_with_small_edits(face_capture, engine, variant):
    (capture,) = find_captures(face_capture)
    frames = capture.load_frames()
    rng = np.random.default_rng(5)
    made = attacks.make_still_injection(capture, frames, rng, engine.detector, variant=variant)
    assert made.meta["variant"] == variant and made.meta["species"] == "still_injection"
    assert (made.meta["purpose"], made.meta["actions"], made.meta["t_ms"]) == ("payment", ["blink"], list(capture.t_ms))
    still = frames[made.meta["still_frame"]]
    assert len(made.frames) == len(frames)
    hashes = {attacks._written_hash(f) for f in made.frames}
    assert len(hashes) == len(frames) and not hashes & {content_hash(f) for f in frames}
    if variant == "jitter":  # moved by up to 2 px and turned a little: registered back first
        made_frames = [register(f, still) for f in made.frames]
    else:
        made_frames = made.frames
    centre = (slice(40, -40), slice(40, -40))
    diffs = [float(np.abs(f[centre].astype(int) - still[centre]).mean()) for f in made_frames]
    assert max(diffs) < 3.0, diffs  # every frame is the same picture, nearly
    if variant == "fake_action":  # the blink: the eyes of the middle frames squashed
        landmarks = attacks._subject_landmarks(engine.detector, still)
        x, y = landmarks[0].astype(int)
        eye = (slice(y - 12, y + 12), slice(x - 15, x + 15))
        eye_change = [float(np.abs(f[eye].astype(int) - still[eye]).mean()) for f in made.frames]
        assert sorted(eye_change)[-1] > 4 * sorted(eye_change)[0] and max(eye_change) > 3


def test_still_injection_writes_its_variant_per_capture(face_capture, engine, tmp_path):
    result = attacks.write_capture_attacks(
        face_capture, tmp_path / "out", "still_injection", seed=1, detector=engine.detector
    )
    (made,) = find_captures(tmp_path / "out")
    assert made.name == "still_injection/s1" and made.meta["variant"] in attacks.STILL_VARIANTS
    assert result["by_kind"] == {made.meta["variant"]: 1}


def test_the_capture_folders_symlink_is_followed_by_the_attack_maker(bona_fide_set, tmp_path):
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(bona_fide_set / "r1", linked / "r1", target_is_directory=True)
    result = attacks.write_capture_attacks(linked, tmp_path / "o", "noise_replay", seed=1)
    assert result["sources"] == 2


# --- the commands ---------------------------------------------------------------------------------


def test_attacks_make_command_for_captures(bona_fide_set, tmp_path):
    from click.testing import CliRunner

    from facetrust.cli import main

    runner = CliRunner()
    ok = runner.invoke(
        main,
        [
            "attacks",
            "make",
            "--captures",
            str(bona_fide_set),
            "--out",
            str(tmp_path / "o"),
            "--species",
            "splice",
            "--seed",
            "1",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "4 splice attack captures written" in ok.output and len(find_captures(tmp_path / "o")) == 4
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), pattern_frame(100))
    for args in (
        ["--species", "splice"],
        ["--species", "print", "--captures", str(bona_fide_set), str(still)],
        ["--species", "noise_replay", "--captures", str(bona_fide_set), str(still)],
    ):
        refused = runner.invoke(main, ["attacks", "make", "--out", str(tmp_path / "x"), *args])
        assert refused.exit_code == 2 and "error [attack_input_invalid]" in refused.output, refused.output
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = runner.invoke(
        main, ["attacks", "make", "--captures", str(empty), "--out", str(tmp_path / "x"), "--species", "noise_replay"]
    )
    assert refused.exit_code == 2 and "error [captures_not_found]" in refused.output


def test_captures_from_clips_command(tmp_path, shared_data):
    from click.testing import CliRunner

    from facetrust.cli import main

    source = json.loads(Path(cap.__file__).with_name("face_clips_labels.json").read_text())
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"clips": {name: source["clips"][name] for name in ("d0.mp4", "d18.mp4")}}))
    result = CliRunner().invoke(
        main,
        [
            "captures",
            "from-clips",
            "--clips",
            str(shared_data / "face-clips"),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    written = {c.name for c in find_captures(tmp_path / "out")}
    # d18: the blink at 93-99 overlaps the first open_mouth (63-97), and the second open_mouth
    # (115-156) starts 18 frames after it: too close for both to keep a quarter second of context.
    assert written == {"d0/blink_0064-0069", "d18/open_mouth_0063-0097", "d18/blink_0185-0188"}
    assert "bona fide captures written" in result.output and "blink" in result.output
