"""Image intake: every error code, and the formats and quirks a real client sends."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from facetrust.biometrics import errors
from facetrust.biometrics.intake import decode_image

LIMITS = dict(max_bytes=2_000_000, max_pixels=4_000_000, min_side=32)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def gradient(w: int = 64, h: int = 48, mode: str = "RGB") -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w)[None, :]
    arr[..., 1] = np.linspace(0, 255, h)[:, None]
    return Image.fromarray(arr).convert(mode)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_decode_to_bgr(fmt):
    decoded = decode_image(encode(gradient(), fmt), **LIMITS)
    assert decoded.source_format == fmt
    assert decoded.pixels.shape == (48, 64, 3) and decoded.pixels.dtype == np.uint8
    # BGR: the red ramp (left to right) lands in channel 2
    assert decoded.pixels[10, -1, 2] > 200 and decoded.pixels[10, 0, 2] < 40


def test_empty_input():
    with pytest.raises(errors.ImageEmpty) as exc:
        decode_image(b"", **LIMITS)
    assert exc.value.code == "image_empty"


def test_too_many_bytes():
    data = encode(gradient(), "PNG")
    with pytest.raises(errors.ImageTooLarge) as exc:
        decode_image(data, **{**LIMITS, "max_bytes": len(data) - 1})
    assert exc.value.code == "image_too_large"


def test_decompression_bomb_is_refused_before_decoding():
    # A 20000x20000 PNG of zeros compresses to a few hundred KB; its header alone must refuse it.
    bomb = encode(Image.new("L", (20000, 20000)), "PNG", optimize=False)
    assert len(bomb) < LIMITS["max_bytes"]
    with pytest.raises(errors.ImageTooLarge) as exc:
        decode_image(bomb, **LIMITS)
    assert "pixels" in exc.value.message


def test_too_small():
    with pytest.raises(errors.ImageTooSmall) as exc:
        decode_image(encode(gradient(20, 20), "PNG"), **LIMITS)
    assert exc.value.code == "image_too_small"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_unsupported(fmt):
    with pytest.raises(errors.ImageFormatUnsupported) as exc:
        decode_image(encode(gradient(), fmt), **LIMITS)
    assert exc.value.code == "image_format_unsupported"


@pytest.mark.parametrize(
    "data",
    [b"hello, this is text", b"%PDF-1.4 not an image", bytes(range(256)) * 4],
    ids=["text", "pdf", "binary"],
)
def test_non_images_are_unreadable(data):
    with pytest.raises(errors.ImageUnreadable) as exc:
        decode_image(data, **LIMITS)
    assert exc.value.code == "image_unreadable"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_files_are_unreadable(fmt):
    data = encode(gradient(256, 256), fmt)
    with pytest.raises(errors.ImageUnreadable):
        decode_image(data[: len(data) // 2], **LIMITS)


def test_corrupt_png_checksum_is_unreadable():
    data = bytearray(encode(gradient(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # flips a byte of compressed data; its CRC no longer matches
    with pytest.raises(errors.ImageUnreadable):
        decode_image(bytes(data), **LIMITS)


def test_wrong_type_is_unreadable():
    with pytest.raises(errors.ImageUnreadable):
        decode_image("not bytes", **LIMITS)  # type: ignore[arg-type]


def test_exif_orientation_is_applied(lfw_bytes, engine):
    upright = Image.open(io.BytesIO(lfw_bytes("Colin_Powell/Colin_Powell_0001.jpg")))
    stored = upright.rotate(90, expand=True)  # what a phone stores for a portrait shot
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    decoded = decode_image(data, **LIMITS)
    rgb = np.asarray(upright.convert("RGB"))[:, :, ::-1].astype(int)
    assert decoded.pixels.shape == rgb.shape
    assert np.abs(decoded.pixels.astype(int) - rgb).mean() < 6
    analysis = engine.analyse(data)
    assert analysis.template is not None and abs(analysis.geometry.roll) < 15


def test_malformed_exif_is_ignored_not_fatal():
    img = gradient()
    data = encode(img, "JPEG", exif=b"Exif\x00\x00" + b"\x00" * 40)
    assert decode_image(data, **LIMITS).pixels.shape == (48, 64, 3)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "I;16", "CMYK"])
def test_unusual_modes_flatten_to_rgb(mode):
    img = gradient().convert("RGBA" if mode == "CMYK" else "RGB")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 256)
    else:
        img = img.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    decoded = decode_image(encode(img, fmt), **LIMITS)
    assert decoded.pixels.shape == (48, 64, 3)


def test_multi_frame_webp_uses_first_frame():
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    decoded = decode_image(buf.getvalue(), **LIMITS)
    assert decoded.pixels[0, 0].tolist() == [0, 0, 255]  # BGR red


def test_large_jpeg_is_decoded_at_reduced_scale():
    big = gradient(4000, 3000)
    decoded = decode_image(encode(big, "JPEG"), max_bytes=10**8, max_pixels=10**8, min_side=32)
    assert decoded.original_size == (4000, 3000)
    assert max(decoded.width, decoded.height) < 4000
    assert max(decoded.width, decoded.height) >= 1000


def test_png_with_lying_header_is_unreadable():
    # A PNG whose IHDR claims 64x48 but whose data is garbage.
    ihdr = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"garbage") + chunk(b"IEND", b"")
    with pytest.raises(errors.ImageUnreadable):
        decode_image(data, **LIMITS)
