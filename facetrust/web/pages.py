"""Serve the pages and their static files, each with headers that keep them to themselves.

Every page is a fixed file; scripts and styles come only from /static (no inline script, so the
Content-Security-Policy can forbid it). Tokens travel in the URL fragment, which never reaches the
server or a Referer header. Only the pages that capture a face may use the camera.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

# path -> (file under static/, may this page use the camera)
PAGES: dict[str, tuple[str, bool]] = {
    "/app/": ("app/index.html", False),
    "/app/real-name": ("app/real-name.html", True),
    "/app/consents": ("app/consents.html", True),
    "/app/checkout": ("app/checkout.html", True),
    "/app/loan": ("app/loan.html", True),
    "/app/history": ("app/history.html", False),
    "/app/device": ("app/device.html", True),  # verifying a new device: the face check
    "/pay/capture": ("pay/capture.html", True),
    "/terminal/": ("terminal/index.html", False),
    "/console/": ("console/index.html", False),
    "/console/cases": ("console/cases.html", False),
    "/console/case": ("console/case.html", False),
    "/console/accounts": ("console/accounts.html", False),
    "/console/audit": ("console/audit.html", False),
    "/console/webhooks": ("console/webhooks.html", False),
    "/console/devices": ("console/devices.html", False),
    "/console/operators": ("console/operators.html", False),
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def headers(camera: bool) -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "Permissions-Policy": f"camera=({'self' if camera else ''}), microphone=(), geolocation=()",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def _page(file: str, camera: bool):
    def serve() -> FileResponse:
        return FileResponse(STATIC / file, media_type="text/html; charset=utf-8", headers=headers(camera))

    return serve


@lru_cache(maxsize=1)
def favicon() -> bytes:
    """The pages' icon, drawn here (no image file to ship): a 32x32 ICO holding one PNG, the brand's
    green disc with a white oval, the capture frame's shape."""
    size, green, white = 32, (0x0B, 0x6E, 0x4F), (0xFF, 0xFF, 0xFF)
    rows = []
    for y in range(size):
        row = bytearray(b"\0")  # PNG filter: none
        for x in range(size):
            dx, dy = x + 0.5 - size / 2, y + 0.5 - size / 2
            disc = dx * dx + dy * dy <= (size / 2 - 0.5) ** 2
            oval = abs((dx / 7.5) ** 2 + (dy / 10.5) ** 2 - 1) < 0.28
            row += bytes((*white, 255)) if disc and oval else bytes((*green, 255)) if disc else bytes(4)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )
    header = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 6 + 16)
    return header + png


def _favicon() -> Response:
    return Response(
        favicon(),
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def install(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)
    for path, (file, camera) in PAGES.items():
        router.add_api_route(path, _page(file, camera), methods=["GET"])
    router.add_api_route("/favicon.ico", _favicon, methods=["GET"])
    router.add_api_route("/", lambda: RedirectResponse("/app/"), methods=["GET"])
    for area in ("app", "terminal", "console"):
        router.add_api_route(f"/{area}", lambda area=area: RedirectResponse(f"/{area}/"), methods=["GET"])
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
