"""A capture's video, decoded in a child process with a memory cap.

OpenCV's FFmpeg backend decodes a video's first frame while it opens the file (to learn the
stream's parameters), before any size can be checked, and FFmpeg's own pixel limit is not reachable
through OpenCV: a 1.7 MB AVI of PNG frames declaring 16000x16000 cost about 740 MB there, and a
container can declare one size while its frames have another. So the decoding runs in a child whose
private memory is capped (``RLIMIT_DATA``): such a frame fails to decode there, and the service's
own memory never holds more than frames within the capture's limits. The child sends each frame as
soon as it is decoded and checked, so the cap needs to hold one frame and the decoder, not the
capture; a child that dies, or takes too long, is a video that cannot be decoded.

Children are forked from a small server process that has already imported OpenCV (multiprocessing's
``forkserver``), not from the service, whose threads and open connections a fork would copy.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError

if TYPE_CHECKING:
    from facetrust.liveness.frames import CaptureLimits, Frame

DECODER_MEMORY_BYTES = 256 * 2**20  # beyond the child's own start-up: a decoder and one frame
DECODE_SECONDS = 20.0

_CONTEXT = mp.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["facetrust.liveness.video", "facetrust.liveness.frames"])


def _invalid(message: str) -> DomainError:
    return DomainError(ErrorCode.CAPTURE_INVALID, message)


def read(path: str, limits: CaptureLimits) -> list[Frame]:
    """The frames of the video at ``path``, taken no faster than the capture's frame-rate limit,
    with times from the first frame; 422 ``capture_invalid`` if it cannot be decoded within the
    limits, the memory cap or the time limit."""
    from facetrust.liveness.frames import Frame  # frames imports this module

    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_decode, args=(path, limits, sender), daemon=True)
    child.start()
    sender.close()
    frames = []
    deadline = time.monotonic() + DECODE_SECONDS
    try:
        while True:
            if not receiver.poll(max(deadline - time.monotonic(), 0.0)):
                raise _invalid("the video took too long to decode")
            try:
                kind, payload = receiver.recv()
            except EOFError:  # the child died: the memory cap, or a crash in the decoder
                raise _invalid("the video cannot be decoded") from None
            if kind == "error":
                raise _invalid(payload)
            if kind == "end":
                break
            frames.append(Frame(*payload))
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if not frames:
        raise _invalid("the video cannot be decoded")
    return frames


def _decode(path: str, limits: CaptureLimits, sender: Connection) -> None:
    """The child: cap the memory, then send each frame as it is decoded."""
    try:
        _cap_private_memory(DECODER_MEMORY_BYTES)
        for pixels, t_ms, sha256 in _frames(path, limits):
            sender.send(("frame", (pixels, t_ms, sha256)))
        sender.send(("end", None))
    except DomainError as error:
        sender.send(("error", error.message))
    except MemoryError:
        sender.send(("error", "the video cannot be decoded within the memory limit"))
    finally:
        sender.close()


def _cap_private_memory(extra_bytes: int) -> None:
    with open("/proc/self/status", encoding="ascii") as status:
        data_kb = next(int(line.split()[1]) for line in status if line.startswith("VmData:"))
    cap = data_kb * 1024 + extra_bytes
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


def _frames(path: str, limits: CaptureLimits) -> Iterator[tuple]:
    import cv2

    from facetrust.liveness.frames import content_hash

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise _invalid("the video cannot be decoded")
    min_gap = 1000.0 / limits.max_fps
    first_ms = last_ms = None
    sent = 0
    try:
        # The size the container declares, refused before any further frame is decoded (a frame
        # larger than declared is caught below, or fails under the memory cap).
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > limits.max_frame_pixels:
            raise _invalid(f"video frames of {width}x{height} exceed {limits.max_frame_pixels} pixels")
        while True:
            ok, pixels = capture.read()
            if not ok:
                return
            if pixels.shape[0] * pixels.shape[1] > limits.max_frame_pixels:
                raise _invalid(
                    f"video frames of {pixels.shape[1]}x{pixels.shape[0]} exceed {limits.max_frame_pixels} pixels"
                )
            t_ms = float(capture.get(cv2.CAP_PROP_POS_MSEC))
            if first_ms is not None and t_ms - first_ms > limits.max_duration_ms:
                raise _invalid(f"the video is longer than the session allows ({limits.max_duration_ms} ms)")
            if last_ms is not None and t_ms - last_ms < min_gap - 1.0:
                continue
            first_ms = t_ms if first_ms is None else first_ms
            last_ms = t_ms
            sent += 1
            if sent > limits.max_frames:
                raise _invalid(f"the video has more than {limits.max_frames} frames at up to {limits.max_fps:g} fps")
            yield pixels, t_ms - first_ms, content_hash(pixels)
    finally:
        capture.release()
