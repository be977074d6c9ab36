"""Serve the pages and their static files, each with headers that keep them to themselves.

Every page is a fixed file; scripts and styles come only from /static (no inline script, so the
Content-Security-Policy can forbid it). Tokens travel in the URL fragment, which never reaches the
server or a Referer header. Only the pages that capture a face may use the camera.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
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
    "/pay/capture": ("pay/capture.html", True),
    "/terminal/": ("terminal/index.html", False),
    "/console/": ("console/index.html", False),
    "/console/cases": ("console/cases.html", False),
    "/console/case": ("console/case.html", False),
    "/console/accounts": ("console/accounts.html", False),
    "/console/audit": ("console/audit.html", False),
}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


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


def install(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)
    for path, (file, camera) in PAGES.items():
        router.add_api_route(path, _page(file, camera), methods=["GET"])
    router.add_api_route("/", lambda: RedirectResponse("/app/"), methods=["GET"])
    for area in ("app", "terminal", "console"):
        router.add_api_route(f"/{area}", lambda area=area: RedirectResponse(f"/{area}/"), methods=["GET"])
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
