"""Image intake: untrusted bytes in, an upright BGR pixel array out, or a typed error.

Only JPEG, PNG and WebP are accepted, recognised by their magic bytes rather than a client's claimed
content type. Size limits are checked before any pixel is decoded, so a decompression bomb costs a
header parse, not memory. EXIF orientation is applied, because phone cameras store portrait selfies
sideways and a sideways face is not detected.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from facetrust.biometrics.errors import (
    DecodedSizeTooLarge,
    ImageEmpty,
    ImageFormatUnsupported,
    ImageTooLarge,
    ImageTooSmall,
    ImageUnreadable,
)

# Pillow's own bomb guard would raise its own exception type (or only warn); our limit is checked
# explicitly below, so switch Pillow's off rather than let two limits disagree.
Image.MAX_IMAGE_PIXELS = None

# Decoding a JPEG larger than this long side is done at a reduced scale (libjpeg's DCT scaling):
# detection works at 640 and alignment needs far less than a 12-megapixel phone photo.
DECODE_TARGET_SIDE = 1600

# A progressive JPEG may legally have any number of scans, and each scan costs a pass over the whole
# image however few bytes it takes: 240 KB of empty scans cost 6 s of CPU, the 10 MB limit minutes.
# Real encoders write about 10 (Pillow and libjpeg 10, mozjpeg a few more); the libjpeg-turbo
# discussion of this attack (Red Hat bug 1344214) finds no real use for more than 100.
MAX_JPEG_SCANS = 100
# The end of a scan's entropy-coded data: a marker, i.e. 0xFF followed by anything but a stuffed
# zero byte or a restart marker (RST0-RST7).
_JPEG_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7]")

_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("JPEG", b"\xff\xd8\xff", 0),
    ("PNG", b"\x89PNG\r\n\x1a\n", 0),
    ("WEBP", b"WEBP", 8),  # RIFF....WEBP
)
_OTHER_IMAGE_SIGNATURES: tuple[tuple[str, bytes], ...] = (
    ("GIF", b"GIF8"),
    ("BMP", b"BM"),
    ("TIFF", b"II*\x00"),
    ("TIFF", b"MM\x00*"),
    ("HEIF", b"ftyp"),  # at offset 4
)


@dataclass(frozen=True)
class DecodedImage:
    """An upright 8-bit BGR image (OpenCV's layout) and where it came from."""

    pixels: np.ndarray
    source_format: str
    original_size: tuple[int, int]  # width, height as stored, before scaled decoding

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def sniff_format(data: bytes) -> str:
    """Name of the accepted format the bytes start with, or a typed error."""
    for name, magic, offset in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if name == "WEBP" and data[:4] != b"RIFF":
                continue
            return name
    for name, magic in _OTHER_IMAGE_SIGNATURES:
        offset = 4 if name == "HEIF" else 0
        if data[offset : offset + len(magic)] == magic:
            raise ImageFormatUnsupported(f"{name} images are not accepted; send a JPEG, PNG or WebP image")
    raise ImageUnreadable("the data is not a JPEG, PNG or WebP image")


def decode_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    min_side: int,
    max_decoded_pixels: int | None = None,
) -> DecodedImage:
    """Decode untrusted image bytes within the given limits. ``max_decoded_pixels`` bounds the image
    as it will be decoded (a large JPEG is decoded at a reduced scale), checked before decoding."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageUnreadable("image data must be bytes")
    data = bytes(data)
    if len(data) == 0:
        raise ImageEmpty("the image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the image is {len(data)} bytes; the limit is {max_bytes} bytes")
    fmt = sniff_format(data)
    if fmt == "JPEG" and _jpeg_scans(data, MAX_JPEG_SCANS) > MAX_JPEG_SCANS:
        raise ImageUnreadable(f"the JPEG image has more than {MAX_JPEG_SCANS} scans; no camera writes that many")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = img.size
            if width * height > max_pixels:
                raise ImageTooLarge(f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels")
            if min(width, height) < min_side:
                raise ImageTooSmall(f"the image is {width}x{height} pixels; each side must be at least {min_side}")
            if fmt == "JPEG" and max(width, height) > DECODE_TARGET_SIDE:
                scale = DECODE_TARGET_SIDE / max(width, height)
                img.draft("RGB", (int(width * scale), int(height * scale)))
            if max_decoded_pixels is not None and img.size[0] * img.size[1] > max_decoded_pixels:
                raise DecodedSizeTooLarge(
                    f"the image decodes to {img.size[0]}x{img.size[1]} pixels; "
                    f"the limit here is {max_decoded_pixels} pixels",
                    img.size,
                )
            img.load()  # multi-frame files: the first frame only
            _upright(img)
            rgb = np.asarray(_to_rgb(img), dtype=np.uint8)
    except (ImageTooLarge, ImageTooSmall):
        raise
    except Exception as exc:  # Pillow raises many types for corrupt data; all mean the same here
        raise ImageUnreadable(f"the {fmt} image is corrupt or truncated and cannot be decoded") from exc

    # Pillow's copy of the pixels goes before the BGR copy is made: at the 40 MP limit each copy
    # is 120-160 MB, and no more than two are alive at once.
    del img
    # OpenCV's channel swap: 0.1 ms at 512x480, where numpy's reversed-stride copy took 1.5 ms.
    pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return DecodedImage(pixels=pixels, source_format=fmt, original_size=(width, height))


def _jpeg_scans(data: bytes, stop_after: int) -> int:
    """How many scans (SOS segments) a JPEG has, by walking its marker segments without decoding;
    counting stops past ``stop_after``. A malformed structure ends the count: the decoder then
    refuses the file itself."""
    i, scans = 2, 0  # after SOI
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # EOI
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers carry no length
            i += 2
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:  # SOS: its header, then entropy-coded data up to the next marker
            scans += 1
            if scans > stop_after:
                break
            found = _JPEG_MARKER_IN_SCAN.search(data, i)
            if found is None:
                break
            i = found.start()
    return scans


def _upright(img: Image.Image) -> None:
    """Apply EXIF orientation in place (no copy when there is nothing to turn); a malformed EXIF
    block is ignored rather than fatal."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:
        pass


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten any mode (palette, greyscale, 16-bit, CMYK, alpha) to 8-bit RGB on white."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode == "I;16" or img.mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        peak = arr.max() or 1.0
        return Image.fromarray((arr * (255.0 / peak)).astype(np.uint8)).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")
