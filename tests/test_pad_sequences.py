"""Reading folders into PAD sequences: NUAA grouping and windowing, species, videos, bad files.

The NUAA and face-clip checks use the shared data (FACETRUST_SHARED_DATA) and skip without it; the
layout, windowing and bad-file checks write their own small files under tmp_path.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.tools.attacks import SPECIES, write_attack_dataset
from facetrust.tools.evaluation.sequences import NoSequencesError, SequenceStats, iter_sequences, natural_key


def expected_windows(n: int, window: int = 15, min_frames: int = 5) -> tuple[list[int], int]:
    """(window lengths, dropped frames) for a recording of n frames, from the rules as stated."""
    if n < window:
        return [n], 0
    lengths = [window] * (n // window)
    rest = n % window
    if rest >= min_frames:
        return lengths + [rest], 0
    return lengths, rest


def nuaa_groups(folder: Path) -> dict[tuple[str, str], list[int]]:
    """NUAA recordings straight from the file names: (subject folder, ID_glasses_pos_session) ->
    the sorted picNos."""
    groups: dict[tuple[str, str], list[int]] = {}
    for path in folder.rglob("*.jpg"):
        id_, glasses, pos, session, pic = path.stem.split("_")
        groups.setdefault((path.parent.name, f"{id_}_{glasses}_{pos}_{session}"), []).append(int(pic))
    return {k: sorted(v) for k, v in groups.items()}


def grey(level: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    return np.full((*size, 3), level, np.uint8)


def write_frames(folder: Path, names: list[str], levels: list[int] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        assert cv2.imwrite(str(folder / name), grey(levels[i] if levels else 100))


def write_video(path: Path, n: int) -> None:
    """An MJPG video of n flat grey frames, frame k at level 5 * k (mod 250)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (64, 48))
    assert writer.isOpened()
    for k in range(n):
        writer.write(grey(5 * k % 250))
    writer.release()


@pytest.fixture(scope="module")
def nuaa(shared_data: Path) -> Path:
    return shared_data / "nuaa-dev"  # the shared_data fixture has checked it is there


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> Path:
    return shared_data / "face-clips"  # the shared_data fixture has checked it is there


# --- NUAA ------------------------------------------------------------------------------------------


def test_one_nuaa_subject_gives_the_windows_its_file_names_imply(nuaa):
    subject = nuaa / "ClientRaw" / "0001"
    groups = nuaa_groups(subject)
    stats = SequenceStats()
    seqs = list(iter_sequences(subject, is_attack=False, stats=stats))

    expected_lengths, expected_dropped = [], 0
    for key in sorted(groups):
        lengths, dropped = expected_windows(len(groups[key]))
        expected_lengths += lengths
        expected_dropped += dropped
    assert [len(s.frames) for s in seqs] == expected_lengths
    assert stats.sequences == len(seqs) and stats.recordings == len(groups)
    assert stats.dropped_frames == expected_dropped and stats.skipped_files == 0

    # Each window is consecutive picNos of one recording, in numeric order; frames are BGR uint8.
    by_recording: dict[str, list[int]] = {}
    for s in seqs:
        assert s.species is None
        keys = {p.stem.rsplit("_", 1)[0] for p in s.source}
        assert keys == {s.recording}
        by_recording.setdefault(s.recording, []).extend(int(p.stem.rsplit("_", 1)[1]) for p in s.source)
        assert all(f.dtype == np.uint8 and f.shape == (480, 640, 3) for f in s.frames)
    for recording, pics in by_recording.items():
        kept = groups[("0001", recording)]
        assert pics == kept[: len(pics)]  # in order; only a short tail may be missing


@pytest.mark.parametrize(
    "folder, is_attack, species", [("ClientRaw", False, None), ("ImposterRaw", True, "ImposterRaw")]
)
def test_nuaa_folders(nuaa, folder, is_attack, species):
    groups = nuaa_groups(nuaa / folder)
    stats = SequenceStats()
    seqs = list(iter_sequences(nuaa / folder, is_attack=is_attack, stats=stats))
    expected = [expected_windows(len(pics)) for pics in groups.values()]
    assert len(seqs) == sum(len(lengths) for lengths, _ in expected)
    assert stats.dropped_frames == sum(dropped for _, dropped in expected)
    assert stats.recordings == len(groups)
    assert {s.species for s in seqs} == {species}  # subject-ID folders: the folder's own name
    assert len({s.name for s in seqs}) == len(seqs)
    # Every readable frame is in exactly one window, apart from the dropped tails.
    used = Counter(p for s in seqs for p in s.source)
    assert max(used.values()) == 1
    assert len(used) + stats.dropped_frames == sum(len(p) for p in groups.values())


def test_nuaa_attack_species_can_be_imposed(nuaa):
    first = next(iter_sequences(nuaa / "ImposterRaw", is_attack=True, species="photo"))
    assert first.species == "photo"


# --- species from the folder layout ----------------------------------------------------------------


def test_species_from_the_attack_folder_layout(tmp_path):
    attack = tmp_path / "attack"
    write_frames(attack / "print" / "x", [f"f{i}.jpg" for i in range(6)])
    write_frames(attack / "replay" / "0003" / "y", [f"f{i}.png" for i in range(6)])
    write_frames(attack / "0007", [f"f{i}.jpg" for i in range(6)])  # subject-ID folder
    write_frames(attack, [f"f{i}.jpg" for i in range(6)])  # directly in the folder
    write_video(attack / "screen" / "clip.avi", 6)
    write_video(attack / "loose.avi", 6)
    seqs = list(iter_sequences(attack, is_attack=True))
    species = {s.name: s.species for s in seqs}
    assert species == {
        "attack[0:6]": "attack",
        "loose.avi[0:6]": "attack",
        "0007[0:6]": "attack",
        "print/x[0:6]": "print",
        "replay/0003/y[0:6]": "replay",
        "screen/clip.avi[0:6]": "screen",
    }
    assert {s.species for s in iter_sequences(attack, is_attack=True, species="mask")} == {"mask"}
    assert {s.species for s in iter_sequences(attack, is_attack=False)} == {None}


def test_generated_attack_data_set_gives_its_species(tmp_path):
    image = tmp_path / "still.png"
    rng = np.random.default_rng(0)
    assert cv2.imwrite(str(image), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    out = tmp_path / "generated"
    for species in SPECIES:
        write_attack_dataset([image], out, species, seed=1, n_frames=6)
    seqs = list(iter_sequences(out, is_attack=True))
    assert sorted((s.species, s.recording, len(s.frames)) for s in seqs) == [
        (species, f"{species}/still", 6) for species in sorted(SPECIES)
    ]


# --- ordering and windowing -----------------------------------------------------------------------


def test_plain_frame_names_are_in_natural_order(tmp_path):
    names = [f"frame_{i}.jpg" for i in range(12)]  # frame_2 must come before frame_10
    write_frames(tmp_path / "s", names, levels=[10 * i for i in range(12)])
    (seq,) = iter_sequences(tmp_path, is_attack=False)
    assert [p.name for p in seq.source] == names
    assert [round(float(f.mean()) / 10) for f in seq.frames] == list(range(12))
    assert sorted(["b10", "b2", "a"], key=natural_key) == ["a", "b2", "b10"]


def test_nuaa_names_are_grouped_and_ordered_by_picture_number(tmp_path):
    names = ["0005_00_01_02_130.jpg", "0005_00_01_02_9.jpg", "0005_00_01_02_12.jpg", "0005_01_01_02_1.jpg", "other.jpg"]
    write_frames(tmp_path / "0005", names)
    seqs = {s.recording: [p.name for p in s.source] for s in iter_sequences(tmp_path, is_attack=False)}
    assert seqs == {
        "0005/0005_00_01_02": ["0005_00_01_02_9.jpg", "0005_00_01_02_12.jpg", "0005_00_01_02_130.jpg"],
        "0005/0005_01_01_02": ["0005_01_01_02_1.jpg"],
        "0005": ["other.jpg"],  # not NUAA-named: the folder's own sequence
    }


@pytest.mark.parametrize("n", [3, 5, 14, 15, 19, 20, 33, 37, 45])
def test_windowing(tmp_path, n):
    write_frames(tmp_path / "rec", [f"{i}.png" for i in range(n)])
    stats = SequenceStats()
    seqs = list(iter_sequences(tmp_path, is_attack=True, stats=stats))
    lengths, dropped = expected_windows(n)
    assert [len(s.frames) for s in seqs] == lengths
    assert stats.dropped_frames == dropped
    assert stats.short_sequences == (1 if n < 5 else 0)  # kept, and counted
    starts = [int(re.search(r"\[(\d+):", s.name).group(1)) for s in seqs]
    assert starts == [15 * k for k in range(len(seqs))]


def test_window_parameters(tmp_path):
    write_frames(tmp_path / "rec", [f"{i}.png" for i in range(23)])
    lengths = [len(s.frames) for s in iter_sequences(tmp_path, is_attack=False, window=10, min_frames=3)]
    assert lengths == [10, 10, 3]
    lengths = [len(s.frames) for s in iter_sequences(tmp_path, is_attack=False, window=10, min_frames=4)]
    assert lengths == [10, 10]
    for bad in ({"window": 0}, {"min_frames": 0}, {"min_frames": 16}, {"max_video_frames": 0}):
        with pytest.raises(ValueError):
            list(iter_sequences(tmp_path, is_attack=False, **bad))
    with pytest.raises(ValueError):
        list(iter_sequences(tmp_path, is_attack=False, species="print"))  # bona fide has no species
    with pytest.raises(NotADirectoryError):
        list(iter_sequences(tmp_path / "missing", is_attack=False))


def test_sequences_are_yielded_lazily(tmp_path):
    for k in range(3):
        write_frames(tmp_path / f"rec{k}", [f"{i}.png" for i in range(30)])
    stats = SequenceStats()
    it = iter_sequences(tmp_path, is_attack=False, stats=stats)
    first = next(it)
    assert first.name == "rec0[0:15]" and stats.sequences == 1
    assert len(list(it)) == 5 and stats.sequences == 6


# --- videos ---------------------------------------------------------------------------------------


def test_real_clips_give_windows_of_15_frames(clips, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("d0.mp4", "s29.mp4"):  # 78 frames, and 160 frames (more than the cap)
        (folder / name).symlink_to(clips / name)
    stats = SequenceStats()
    seqs = list(iter_sequences(folder, is_attack=False, stats=stats))
    assert [s.name for s in seqs] == [f"d0.mp4[{15 * k}:{15 * k + 15}]" for k in range(5)] + [
        f"s29.mp4[{15 * k}:{15 * k + 15}]" for k in range(10)
    ]
    assert all(len(s.frames) == 15 and s.source == (folder / s.recording,) for s in seqs)
    assert seqs[0].frames[0].shape == (512, 512, 3) and seqs[0].frames[0].dtype == np.uint8
    assert stats.dropped_frames == 3  # d0's last 3 frames
    assert stats.videos_capped == 1  # s29: 150 of 160 frames read


def test_video_frame_cap(tmp_path):
    write_video(tmp_path / "v.avi", 40)
    stats = SequenceStats()
    seqs = list(iter_sequences(tmp_path, is_attack=False, max_video_frames=32, stats=stats))
    assert [len(s.frames) for s in seqs] == [15, 15]  # 32 read: a tail of 2 dropped
    assert stats.videos_capped == 1 and stats.dropped_frames == 2 and stats.max_video_frames == 32
    # Frames come in order, from the start of the video.
    assert [round(float(f.mean()) / 5) for f in seqs[1].frames] == list(range(15, 30))


# --- unreadable files -----------------------------------------------------------------------------


def test_unreadable_files_are_skipped_and_counted(tmp_path, caplog):
    write_frames(tmp_path / "a", [f"frame_{i}.jpg" for i in range(16)], levels=list(range(0, 160, 10)))
    (tmp_path / "a" / "frame_5.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    (tmp_path / "a" / "frame_16.png").write_bytes(b"")
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    (tmp_path / "notes.txt").write_text("ignored")
    write_frames(tmp_path / "b", [f"{i}.jpg" for i in range(6)])
    stats = SequenceStats()
    seqs = list(iter_sequences(tmp_path, is_attack=True, stats=stats))
    assert [(s.recording, len(s.frames)) for s in seqs] == [("a", 15), ("b", 6)]
    assert "frame_5.jpg" not in {p.name for p in seqs[0].source}
    assert stats.skipped_files == 3
    assert {Path(p).name for p, _ in stats.skipped} == {"frame_5.jpg", "frame_16.png", "broken.mp4"}
    assert stats.ignored_files == 1
    assert "skipping" in caplog.text and stats.to_dict()["skipped_files"] == 3


def test_a_folder_of_only_unreadable_frames_is_an_error_and_counts(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "1.jpg").write_bytes(b"junk")
    (tmp_path / "x" / "notes.txt").write_text("ignored")
    stats = SequenceStats()
    with pytest.raises(NoSequencesError, match=r"no sequences to evaluate .*1 unreadable .*1 other file") as refused:
        list(iter_sequences(tmp_path, is_attack=True, stats=stats))
    assert isinstance(refused.value, ValueError) and refused.value.code == "sequences_not_found"
    assert stats.skipped_files == 1 and stats.recordings == 0


def test_an_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(NoSequencesError, match="no sequences to evaluate"):
        list(iter_sequences(tmp_path / "empty", is_attack=False))


# --- symbolic links -------------------------------------------------------------------------------


def test_symlinked_folders_are_followed_and_loops_end(tmp_path):
    data, picked = tmp_path / "data", tmp_path / "picked"
    write_frames(data / "s1", [f"{i}.png" for i in range(6)])
    write_frames(data / "s2" / "inner", [f"{i}.png" for i in range(4)])
    picked.mkdir()
    (picked / "one").symlink_to(data / "s1", target_is_directory=True)  # a subset picked by links
    (picked / "two").symlink_to(data / "s2", target_is_directory=True)
    (data / "s2" / "inner" / "back").symlink_to(picked, target_is_directory=True)  # a loop
    (picked / "again").symlink_to(data / "s1", target_is_directory=True)  # the same folder twice: read once
    seqs = list(iter_sequences(picked, is_attack=True))
    assert [(s.recording, s.species, len(s.frames)) for s in seqs] == [("again", "again", 6), ("two/inner", "two", 4)]


def test_eval_pad_maps_an_input_without_sequences_to_a_code(tmp_path):
    from click.testing import CliRunner

    from facetrust.cli import main

    (tmp_path / "bona").mkdir()
    (tmp_path / "attack" / "print").mkdir(parents=True)
    (tmp_path / "attack" / "print" / "notes.txt").write_text("no frames here")
    result = CliRunner().invoke(
        main, ["eval", "pad", "--bona-fide", str(tmp_path / "bona"), "--attack", str(tmp_path / "attack")]
    )
    assert result.exit_code == 2, result.output
    assert "error [sequences_not_found]" in result.output and "no sequences to evaluate" in result.output
