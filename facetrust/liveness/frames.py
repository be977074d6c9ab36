"""A liveness capture: untrusted frames (a burst of images with timestamps, or a short video) in,
checked frames with content hashes out.

Everything about the capture that can be checked without looking for a face is checked here, before
the expensive analysis: the number of frames, their size, their timestamps and the capture's length.
The content hash of a frame is taken over its decoded pixels, so re-wrapping the same pictures in a
new file (stripped metadata, another container) does not hide a replay.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from facetrust.biometrics.engine import FaceEngine
from facetrust.biometrics.errors import DecodedSizeTooLarge
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.liveness import video


@dataclass(frozen=True)
class CaptureLimits:
    min_frames: int
    max_frames: int
    max_frame_pixels: int
    max_fps: float  # frames closer together than this allows are not from one camera
    max_duration_ms: int
    max_video_bytes: int


@dataclass(frozen=True)
class Frame:
    pixels: np.ndarray  # BGR uint8
    t_ms: float  # from the first frame of the capture
    sha256: str  # of the decoded pixels


def content_hash(pixels: np.ndarray) -> str:
    digest = hashlib.sha256(f"{pixels.shape}".encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()


def _invalid(message: str) -> DomainError:
    return DomainError(ErrorCode.CAPTURE_INVALID, message)


def _check_frame_size(pixels: np.ndarray, first: np.ndarray, limits: CaptureLimits) -> None:
    if pixels.shape != first.shape:
        raise _invalid("the frames of one capture must all have the same size")
    if pixels.shape[0] * pixels.shape[1] > limits.max_frame_pixels:
        raise _invalid(f"frames of {pixels.shape[1]}x{pixels.shape[0]} exceed {limits.max_frame_pixels} pixels")


def check_capture(frames: list[Frame], limits: CaptureLimits) -> list[Frame]:
    """The frames, if they can be one camera's capture within the limits; else ``capture_invalid``."""
    if len(frames) < limits.min_frames:
        raise _invalid(f"the capture has {len(frames)} frames; at least {limits.min_frames} are needed")
    if len(frames) > limits.max_frames:
        raise _invalid(f"the capture has {len(frames)} frames; at most {limits.max_frames} are accepted")
    for frame in frames:
        _check_frame_size(frame.pixels, frames[0].pixels, limits)
    times = np.array([f.t_ms for f in frames], dtype=np.float64)
    gaps = np.diff(times)
    if times[0] < 0 or np.any(gaps <= 0):
        raise _invalid("frame timestamps must start at or after 0 and strictly increase")
    if np.any(gaps < 1000.0 / limits.max_fps - 1.0):
        raise _invalid(f"frames are closer together than a {limits.max_fps:g} fps camera allows")
    if times[-1] - times[0] > limits.max_duration_ms:
        raise _invalid(
            f"the capture lasts {times[-1] - times[0]:.0f} ms; the session allows {limits.max_duration_ms} ms"
        )
    return frames


def from_images(engine: FaceEngine, images: list[tuple[bytes, float]], limits: CaptureLimits) -> list[Frame]:
    """A burst of (image bytes, timestamp in ms). Each image goes through the engine's intake
    (format sniffing, size limits before decoding, EXIF orientation).

    A frame's size limit is checked from its header, before it is decoded: the intake admits single
    images up to ``max_image_pixels`` (40 MP), far above a capture frame's limit, and a burst of
    tiny, highly compressed 40 MP PNGs (about 100 KB each, 90 of them in a 16 MB request) would
    otherwise be decoded at several hundred MB each."""
    if not images:
        raise _invalid("the capture has no frames")
    if len(images) > limits.max_frames:  # before decoding anything
        raise _invalid(f"the capture has {len(images)} frames; at most {limits.max_frames} are accepted")

    def decode(image: tuple[bytes, float]) -> Frame:
        try:
            pixels = engine.decode(image[0], max_decoded_pixels=limits.max_frame_pixels).pixels
        except DecodedSizeTooLarge as exc:
            raise _invalid(f"frames of {exc.size[0]}x{exc.size[1]} exceed {limits.max_frame_pixels} pixels") from None
        return Frame(pixels, float(image[1]), content_hash(pixels))

    return check_capture(engine.map(decode, images), limits)


def from_video(data: bytes, limits: CaptureLimits) -> list[Frame]:
    """A short video, decoded with OpenCV's FFmpeg backend in a memory-capped child process
    (``video.py``). Frames are taken no faster than the capture's frame-rate limit, so a 60 fps
    clip costs no more to analyse than a 30 fps one."""
    if not data:
        raise _invalid("the video is empty")
    if len(data) > limits.max_video_bytes:
        raise DomainError(
            ErrorCode.VIDEO_TOO_LARGE, f"the video is {len(data)} bytes; the limit is {limits.max_video_bytes}"
        )
    fd, path = tempfile.mkstemp(suffix=".video")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return check_capture(video.read(path, limits), limits)
    finally:
        os.unlink(path)
