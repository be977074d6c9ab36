"""An uploaded capture (a JPEG burst with timestamps, or a short video) read from its request body:
the liveness routes and the face-pay capture page's routes take the same upload."""

from __future__ import annotations

import base64
import binascii

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError
from facetrust.liveness import frames as frames_mod
from facetrust.liveness.schemas import CaptureIn
from facetrust.liveness.service import LivenessContext


def _b64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError(ErrorCode.CAPTURE_INVALID, f"{field} is not valid base64") from None


def read_capture(body: CaptureIn, ctx: LivenessContext) -> list[frames_mod.Frame]:
    """Decode and check an uploaded capture; 422 ``capture_invalid`` if bad."""
    if body.video_base64 is not None:
        return frames_mod.from_video(_b64(body.video_base64, "video_base64"), ctx.limits)
    images = [(_b64(f.image_base64, f"frames[{i}].image_base64"), f.t_ms) for i, f in enumerate(body.frames or [])]
    return frames_mod.from_images(ctx.engine, images, ctx.limits)
