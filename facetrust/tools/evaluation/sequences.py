"""Reading a folder of presentations into the sequences that a PAD evaluation scores.

The liveness decision is made over a short run of frames (a session), so the unit that ISO/IEC
30107-3 error rates count here is a *sequence* of frames, not a single image. A folder holds:

* videos (``.mp4 .avi .mov .webm .mkv``, decoded with ``cv2.VideoCapture``): each file is one
  recording;
* frames (``.jpg .jpeg .png .bmp .webp``), found recursively. Frames named like NUAA's
  ``ID_glasses_pos_session_picNo`` (e.g. ``0001_00_00_01_130.jpg``) are grouped by
  (folder, ID, glasses, pos, session) — one subject, one session, one condition — and ordered by
  picNo as a number. Other frames: all of one folder are one recording, in natural order of their
  names (``frame_2`` before ``frame_10``).

Each recording is then cut into consecutive windows of ``window`` frames (default 15), because a
recording of 150 frames is ten sessions' worth of evidence, not one, and so that long and short
recordings weigh alike. A remainder at the end is kept as a window of its own when it has at least
``min_frames`` frames (default 5), else its frames are dropped and counted. A whole recording
shorter than ``window`` is always kept as one sequence, however short: dropping short attacks would
flatter the APCER. Videos are read from their start, at most ``max_video_frames`` frames each
(default 150, i.e. ten windows), to bound the evaluation time; how many videos hit the cap is
counted.

Folders are found recursively, following symbolic links to folders (a folder of links to clips or
to subject folders is a common way to pick a subset without copying data); a link back to a folder
already visited (a loop, or a second link to the same folder) is not followed again, so each
folder's files are read once, under the first path that reaches them in the (natural) walk order.

Sequences are yielded lazily, one window in memory at a time. A file that cannot be read (corrupt
image, undecodable video) is skipped with a logged warning and counted in ``SequenceStats``; it
never stops the evaluation (an unreadable frame is left out of its recording, whose windows close
over the gap). Everything dropped or skipped is counted there, for the report.

Attack species (PAIS): the name of the attack folder's immediate subfolder that holds the
sequence when that name is not all digits (``attack/print/...`` -> ``print``); otherwise (the
sequence sits directly in the folder, or in a subject-ID folder like NUAA's ``ImposterRaw/0001/``)
the attack folder's own name (``ImposterRaw``). The caller may impose one species for everything.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".webm", ".mkv"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

DEFAULT_WINDOW = 15
DEFAULT_MIN_FRAMES = 5
DEFAULT_MAX_VIDEO_FRAMES = 150

# NUAA's ID_glasses_pos_session_picNo (see nuaa-dev/readme.txt).
NUAA_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)_(\d+)$")


class DataFolderError(ValueError):
    """An evaluation input folder that cannot be evaluated: nothing in it, or something malformed.

    ``code`` is a stable machine-readable code; the command line prints it with the message and
    exits with status 2 (an input error), like its other input errors. Subclasses set their own.
    """

    code = "data_folder_invalid"


class NoSequencesError(DataFolderError):
    """A folder (with its subfolders) that gives no sequence at all: empty, or with no readable
    image or video. An evaluation of nothing must not look like a result."""

    code = "sequences_not_found"


@dataclass(frozen=True)
class Sequence:
    """One window of frames, scored as one presentation.

    ``name`` is unique within one folder's reading: the recording's name and the window's frame
    range in it, e.g. ``0001/0001_00_00_01[15:30]`` or ``clips/d0.mp4[0:15]``.
    ``species`` is the attack instrument species, None for bona fide.
    ``source`` holds the image files of the frames, or the one video file.
    ``frames`` are BGR uint8 images, in presentation order.
    """

    name: str
    species: str | None
    source: tuple[Path, ...]
    frames: list[np.ndarray]
    recording: str  # the recording this window was cut from (several windows share it)


@dataclass
class SequenceStats:
    """What reading one folder produced and what it left out, filled in while iterating.

    The counts are only complete once the iterator is exhausted.
    """

    window: int = DEFAULT_WINDOW
    min_frames: int = DEFAULT_MIN_FRAMES
    max_video_frames: int = DEFAULT_MAX_VIDEO_FRAMES
    recordings: int = 0  # recordings that gave at least one sequence
    sequences: int = 0  # windows yielded
    frames: int = 0  # frames in the yielded windows
    short_sequences: int = 0  # whole recordings shorter than min_frames, kept as one sequence
    dropped_frames: int = 0  # remainders shorter than min_frames at the end of a recording
    videos_capped: int = 0  # videos with more than max_video_frames frames (the rest was not read)
    ignored_files: int = 0  # files that are neither images nor videos by their suffix
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of unreadable files

    @property
    def skipped_files(self) -> int:
        return len(self.skipped)

    def to_dict(self) -> dict:
        """The counts as plain JSON values."""
        return {
            "window": self.window,
            "min_frames": self.min_frames,
            "max_video_frames": self.max_video_frames,
            "recordings": self.recordings,
            "sequences": self.sequences,
            "frames": self.frames,
            "short_sequences": self.short_sequences,
            "dropped_frames": self.dropped_frames,
            "videos_capped": self.videos_capped,
            "ignored_files": self.ignored_files,
            "skipped_files": self.skipped_files,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``frame_2`` before ``frame_10``."""
    parts = (part for part in re.split(r"(\d+)", name) if part)
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in parts)


def species_of(root: Path, folder: Path) -> str:
    """The attack species of a sequence whose files sit in ``folder`` (inside ``root``): the name of
    root's immediate subfolder on the way to it unless that name is all digits (a subject ID), else
    the root's own name (the sequence sits directly in root, or in a subject folder)."""
    parts = folder.relative_to(root).parts
    if parts and not parts[0].isdigit():
        return parts[0]
    return root.resolve().name


def iter_sequences(
    root: Path,
    *,
    is_attack: bool,
    species: str | None = None,
    window: int = DEFAULT_WINDOW,
    min_frames: int = DEFAULT_MIN_FRAMES,
    max_video_frames: int = DEFAULT_MAX_VIDEO_FRAMES,
    stats: SequenceStats | None = None,
) -> Iterator[Sequence]:
    """Yield the sequences (windows) of the folder ``root``, lazily, in a stable order.

    ``is_attack`` marks the folder as attack presentations: each sequence then gets a species, the
    explicit ``species`` if given, else by the folder rule (module docstring). Bona fide sequences
    have species None. ``window`` frames per sequence; a final remainder shorter than
    ``min_frames`` (default 5) is dropped and counted, unless the recording has no full window, in
    which case it is kept whatever its length. At most ``max_video_frames`` frames are read per
    video. Pass a ``SequenceStats`` to receive the counts (skipped files, dropped frames, ...).
    Raises ValueError for bad parameters and NotADirectoryError if ``root`` is not a folder;
    unreadable files are skipped, not raised.
    """
    if window < 1 or not 1 <= min_frames <= window or max_video_frames < 1:
        raise ValueError(
            f"need window >= 1, 1 <= min_frames <= window and max_video_frames >= 1; "
            f"got window={window}, min_frames={min_frames}, max_video_frames={max_video_frames}"
        )
    if species is not None and (not is_attack or not species.strip()):
        raise ValueError("an explicit species needs is_attack=True and a non-empty name")
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    if stats is None:
        stats = SequenceStats()
    stats.window, stats.min_frames, stats.max_video_frames = window, min_frames, max_video_frames

    for folder, videos, frame_groups in _walk(root, stats):
        label = None if not is_attack else species if species is not None else species_of(root, folder)
        for video in videos:
            frames = _video_frames(video, max_video_frames, stats)
            yield from _windows(frames, video.relative_to(root).as_posix(), label, video, stats)
        for key, paths in frame_groups:
            # A NUAA group is named after its folder and key; a plain folder of frames after the folder.
            where = folder.relative_to(root) / key if key else folder.relative_to(root)
            recording = where.as_posix() if where.parts else root.resolve().name
            yield from _windows(_image_frames(paths, stats), recording, label, None, stats)
    if stats.sequences == 0:
        found = f"{stats.skipped_files} unreadable image or video file(s), {stats.ignored_files} other file(s)"
        raise NoSequencesError(
            f"{root}: no sequences to evaluate (found no readable image or video in it or its subfolders; {found})"
        )


def _walk(root: Path, stats: SequenceStats) -> Iterator[tuple[Path, list[Path], list[tuple[str, list[Path]]]]]:
    """Per folder (recursively, natural order): its videos and its frame groups (name, ordered paths).

    Only file names are listed here; no pixels are read until a window is yielded. Symbolic links
    to folders are followed; a folder already visited (by its real path) is not entered again,
    which stops link loops.
    """
    for folder, filenames in walk_folders(root):
        videos, images = [], []
        for name in sorted(filenames, key=natural_key):
            if name.startswith("."):
                continue
            suffix = Path(name).suffix.lower()
            if suffix in VIDEO_SUFFIXES:
                videos.append(folder / name)
            elif suffix in IMAGE_SUFFIXES:
                images.append(folder / name)
            else:
                stats.ignored_files += 1
        if videos or images:
            yield folder, videos, _group_frames(images)


def walk_folders(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, names of the files in it) for ``root`` and every folder below it, top-down,
    subfolders in natural order of their names, following symbolic links to folders. Hidden
    folders (``.name``) are left out. A folder whose real path was already visited is not entered
    again (a link loop, or a second link to the same folder), so the walk ends and reads each
    folder once."""
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=natural_key)
        yield Path(dirpath), filenames


def _group_frames(images: list[Path]) -> list[tuple[str, list[Path]]]:
    """NUAA-named frames grouped by (ID, glasses, pos, session) and ordered by picNo; the other
    frames of the folder form one group in natural order (the input is already in natural order)."""
    nuaa: dict[tuple[str, ...], list[tuple[int, Path]]] = {}
    others: list[Path] = []
    for path in images:
        match = NUAA_NAME.match(path.stem)
        if match:
            nuaa.setdefault(match.groups()[:4], []).append((int(match.group(5)), path))
        else:
            others.append(path)
    groups = [
        ("_".join(key), [p for _, p in sorted(members, key=lambda m: (m[0], natural_key(m[1].name)))])
        for key, members in sorted(nuaa.items(), key=lambda item: natural_key("_".join(item[0])))
    ]
    if others:
        groups.append(("", others))  # the folder itself is the recording
    return groups


def _image_frames(paths: list[Path], stats: SequenceStats) -> Iterator[tuple[np.ndarray, Path]]:
    """The readable frames of ``paths``, in order; unreadable files are skipped and counted."""
    for path in paths:
        try:
            image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
        except (OSError, cv2.error) as exc:
            _skip(stats, path, f"cannot read: {exc}")
            continue
        if image is None:
            _skip(stats, path, "not a decodable image")
            continue
        yield image, path


def _video_frames(path: Path, max_frames: int, stats: SequenceStats) -> Iterator[tuple[np.ndarray, Path]]:
    """Up to ``max_frames`` frames of a video from its start; a video with no readable frame is
    skipped and counted, one that has more than ``max_frames`` is counted as capped."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            _skip(stats, path, "cannot open the video")
            return
        count = 0
        while count < max_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            count += 1
            yield _as_bgr(frame), path
        if count == 0:
            _skip(stats, path, "no decodable video frame")
        elif count == max_frames and capture.grab():
            stats.videos_capped += 1
    finally:
        capture.release()


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    """Video decoders normally give BGR uint8 already; grey or BGRA frames are converted."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def _skip(stats: SequenceStats, path: Path, reason: str) -> None:
    log.warning("skipping %s: %s", path, reason)
    stats.skipped.append((str(path), reason))


def _windows(
    frames: Iterable[tuple[np.ndarray, Path]],
    recording: str,
    species: str | None,
    video: Path | None,
    stats: SequenceStats,
) -> Iterator[Sequence]:
    """Cut one recording's frames into windows as they arrive, holding one window in memory.

    A window's ``source`` is its frame files, or ``(video,)`` for a video.
    """
    window, min_frames = stats.window, stats.min_frames
    buffer: list[tuple[np.ndarray, Path]] = []
    start = 0

    def emit() -> Sequence:
        source = (video,) if video is not None else tuple(p for _, p in buffer)
        stats.sequences += 1
        stats.frames += len(buffer)
        return Sequence(
            name=f"{recording}[{start}:{start + len(buffer)}]",
            species=species,
            source=source,
            frames=[f for f, _ in buffer],
            recording=recording,
        )

    for item in frames:
        buffer.append(item)
        if len(buffer) == window:
            if start == 0:
                stats.recordings += 1
            yield emit()
            start += window
            buffer = []
    if not buffer:
        return
    if start == 0:  # the whole recording is shorter than one window: always kept
        stats.recordings += 1
        if len(buffer) < min_frames:
            stats.short_sequences += 1
        yield emit()
    elif len(buffer) >= min_frames:
        yield emit()
    else:
        stats.dropped_frames += len(buffer)
