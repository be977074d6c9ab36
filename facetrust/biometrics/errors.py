"""Typed errors of the biometric engine, each with a stable machine-readable code from the catalogue
(``facetrust.errorcodes``, which also gives the HTTP status the API answers it with).

The message says what is wrong with the input in words a client can act on; it never contains face
data or a stack trace.
"""

from __future__ import annotations

from facetrust.errorcodes import ErrorCode


class BiometricError(ValueError):
    code: ErrorCode = ErrorCode.BIOMETRIC_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ImageEmpty(BiometricError):
    code = ErrorCode.IMAGE_EMPTY


class ImageTooLarge(BiometricError):
    """Too many bytes, or too many pixels (a decompression bomb looks like the second)."""

    code = ErrorCode.IMAGE_TOO_LARGE


class DecodedSizeTooLarge(ImageTooLarge):
    """The image would decode to more pixels than this caller takes (a capture frame's limit is far
    below a single photo's); raised from the header, before decoding. ``size`` is (width, height)."""

    def __init__(self, message: str, size: tuple[int, int]) -> None:
        super().__init__(message)
        self.size = size


class ImageTooSmall(BiometricError):
    code = ErrorCode.IMAGE_TOO_SMALL


class ImageFormatUnsupported(BiometricError):
    code = ErrorCode.IMAGE_FORMAT_UNSUPPORTED


class ImageUnreadable(BiometricError):
    """Corrupt or truncated data of a supported format, or not an image at all."""

    code = ErrorCode.IMAGE_UNREADABLE


class FaceNotUsable(BiometricError):
    """The image decoded but its face failed the quality gate; ``reasons`` lists why."""

    code = ErrorCode.FACE_NOT_USABLE

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons

    def as_dict(self) -> dict:  # type: ignore[override]
        return {"code": self.code, "message": self.message, "reasons": self.reasons}


class TemplateMismatch(BiometricError):
    """Two templates from different models or model versions cannot be compared."""

    code = ErrorCode.TEMPLATE_MODEL_MISMATCH


class CalibrationError(BiometricError):
    code = ErrorCode.CALIBRATION_INVALID
