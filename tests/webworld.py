"""Browser tests' world: the real service on a loopback port, headless Debian Chromium with a fake
camera that plays real face clips, and helpers to drive and photograph the pages.

The fake camera reads its .y4m file afresh each time a page opens the camera, so before each capture
the test puts the segment of a clip it wants in front of the camera (``Camera.show``), one that shows
the actions the challenge (fixed by ``fix_challenge`` or ``fix_payment_challenge``) asks. No two
segments of a world show a moment in common, nor a segment and a take the world's API captures used
(``capture.material``): the service's replay defence refuses frames it has seen before, and the same
moments in other pictures, as it should. A mirrored segment is another capture of the same person.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from capture import Material, Take, material

from facetrust.liveness.models import LivenessSession
from facetrust.liveness.schemas import INSTRUCTIONS

CHROMIUM = Path(os.environ.get("FACETRUST_CHROMIUM", "/usr/bin/chromium"))
# The README's pictures (docs/screenshots) are tracked: the tests refresh them only when asked,
# FACETRUST_SCREENSHOTS_DIR=docs/screenshots; by default they go to a scratch directory.
SCRATCH_SCREENSHOTS = Path(tempfile.gettempdir()) / "facetrust-screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def require_browser() -> None:
    """Debian's Chromium is installed by the test setup (scripts/test.sh); without it, say so."""
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM} (scripts/test.sh installs Debian's chromium package)"
        if os.environ.get("FACETRUST_REQUIRE_DATA"):
            pytest.fail(message)
        pytest.skip(message)


def write_y4m(path: Path, frames: list, fps: float) -> None:
    """Frames (BGR, one size) as an uncompressed YUV4MPEG2 file, the format Chromium's fake camera reads."""
    h, w = frames[0].shape[:2]
    num, den = (int(round(fps * 1000)), 1000)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{num}:{den} Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    tmp.replace(path)  # the camera never reads half a file


class Camera:
    """What the fake camera shows next: a segment of a shared face clip (a real person)."""

    def __init__(self, path: Path, shared_data: Path, used: Material | None = None) -> None:
        self.path = path
        self.shared_data = shared_data
        self.used = used if used is not None else Material()  # the world's takes and segments so far

    def show(self, clip: str, start: int, stop: int, speed: float = 0.5, mirrored: bool = False) -> None:
        """Frames start..stop-1 of ``clip`` (flipped left to right if ``mirrored``), played at
        ``speed`` (half by default: the person moves at half speed, so a few seconds of a clip
        last a whole capture; no frame repeats). The segment must show no moment an earlier capture
        of the world showed."""
        segment = Take(clip, start, stop - 1, 1, (), mirrored=mirrored)
        self.used.take([segment], f"the camera segment {segment.name}")
        frames, fps = self._read(clip, start, stop)
        if mirrored:
            frames = [cv2.flip(f, 1) for f in frames]
        write_y4m(self.path, frames, fps * speed)

    def show_crop(self, clip: str, start: int, stop: int, box: tuple[int, int, int, int]) -> None:
        """A region (x, y, w, h) of the clip's frames blown up to full size: the room without the face,
        with a real sensor's noise (a still wall in a compressed clip repeats pixels exactly; a camera
        never does)."""
        frames, fps = self._read(clip, start, stop)
        x, y, w, h = box
        size = (frames[0].shape[1], frames[0].shape[0])
        rng = np.random.default_rng(0)
        noisy = [
            np.clip(cv2.resize(f[y : y + h, x : x + w], size) + rng.normal(0, 3, (size[1], size[0], 3)), 0, 255).astype(
                np.uint8
            )
            for f in frames
        ]
        write_y4m(self.path, noisy, fps / 2)

    def _read(self, clip: str, start: int, stop: int) -> tuple[list, float]:
        capture = cv2.VideoCapture(str(self.shared_data / "face-clips" / clip))
        fps = capture.get(cv2.CAP_PROP_FPS)
        frames, index = [], 0
        while index < stop:
            ok, frame = capture.read()
            if not ok:
                break
            if index >= start:
                frames.append(frame)
            index += 1
        capture.release()
        assert frames, f"no frames {start}..{stop} in {clip}"
        return frames, fps


@contextmanager
def live_server(app):
    """The app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def chromium(camera: Path | None, *, camera_allowed: bool = True):
    """Headless Chromium whose camera plays ``camera`` (a .y4m file). Without camera_allowed the
    permission prompt is not auto-accepted, so a page asking for the camera is denied."""
    from playwright.sync_api import sync_playwright

    args = ["--use-fake-device-for-media-stream"]
    if camera is not None:
        args.append(f"--use-file-for-fake-video-capture={camera}")
    if camera_allowed:
        args.append("--use-fake-ui-for-media-stream")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, base_url: str, *, viewport: dict = PHONE, lang: str = "zh", camera_allowed: bool = True):
    """A page in a fresh context (no shared storage), in the given language."""
    context = browser.new_context(
        base_url=base_url,
        viewport=viewport,
        locale="zh-CN" if lang == "zh" else "en-GB",
        permissions=["camera"] if camera_allowed else [],
    )
    # The person's first language; a choice they make on a page is kept across loads, as for anyone.
    # (about:blank has no storage: nothing to set there.)
    context.add_init_script(
        f"try {{ localStorage.getItem('facetrust.lang') || localStorage.setItem('facetrust.lang', '{lang}'); }} catch {{}}"
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # a script error fails the test
    page.errors = []
    return page


def fix_challenge(page, app, actions: list[str]) -> None:
    """Fix the next liveness challenge a page is issued to the actions the clip shows (as the API tests
    do with ``capture.new_session``): the recording cannot follow a random challenge, a person can."""

    def handle(route):
        response = route.fetch()
        body = response.json()
        if route.request.method == "POST" and response.status == 201:
            with app.state.sessions() as s:
                s.get(LivenessSession, body["session_id"]).actions = json.dumps(actions)
                s.commit()
            body["actions"] = actions
            body["instructions"] = [INSTRUCTIONS[a] for a in actions]
        route.fulfill(response=response, json=body)

    page.route("**/v1/me/liveness-sessions", handle)


def fix_payment_challenge(page, app, actions: list[str]) -> None:
    """Fix every payment challenge the platform's capture page on ``page`` is shown to ``actions``
    (what the segment in front of the camera shows): in the database, for the capture the page
    opened, and in the view the page reads. A recording cannot follow a random challenge."""

    def handle(route):
        if route.request.method != "GET":
            route.fallback()
            return
        response = route.fetch()
        body = response.json()
        if response.status == 200 and body.get("challenge"):
            with app.state.sessions() as s:
                s.get(LivenessSession, body["challenge"]["session_id"]).actions = json.dumps(actions)
                s.commit()
            body["challenge"]["actions"] = actions
            body["challenge"]["instructions"] = [INSTRUCTIONS[a] for a in actions]
        route.fulfill(response=response, json=body)

    page.route(re.compile(r".*/v1/capture/[^/?#]+$"), handle)


OPERATOR_PIN = "2468"  # the vending machine's operator PIN the tests' installer chooses


def set_up_terminal(page, terminal, secret: str | None = None, pin: str = OPERATOR_PIN) -> None:
    """Enter a vending machine's operator PIN (twice), terminal id and secret on its setup screen, as
    its installer does."""
    page.goto("/terminal/")
    page.fill("#terminal-pin", pin)
    page.fill("#terminal-pin-again", pin)
    page.fill("#terminal-id", terminal.id)
    page.fill("#terminal-secret", secret or terminal.secret)
    page.click("#setup-save")


def type_amount(page, text: str) -> None:
    """Tap an amount in yuan on the vending machine's keypad, e.g. "12.5"."""
    for key in text:
        page.click(f'#keypad [data-key="{key}"]')


def screenshot(page, name: str) -> Path:
    """A full-page screenshot into FACETRUST_SCREENSHOTS_DIR if set (docs/screenshots refreshes the
    README's), else into a scratch directory."""
    folder = Path(os.environ.get("FACETRUST_SCREENSHOTS_DIR") or SCRATCH_SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def api_client(base_url: str) -> httpx.Client:
    """What the platform's back end and the test use to call the same running service."""
    return httpx.Client(base_url=base_url, timeout=60)


class WebWorld:
    """The service running for a browser: a platform tenant (its back end is the test), operators
    of each role, the authority simulator holding Li and Zhang, and a vending machine's terminal."""

    def __init__(self, app, base_url: str, client: httpx.Client, hs: dict, tenant_id: str, camera: Camera) -> None:
        self.app, self.base_url, self.client, self.hs, self.tenant_id, self.camera = (
            app,
            base_url,
            client,
            hs,
            tenant_id,
            camera,
        )

    def new_user(self, person, fund_fen: int = 0) -> str:
        """An account for ``person`` as the platform's back end creates it; returns a fresh user token."""
        r = self.client.post(
            "/v1/accounts", json={"platform_user_id": person.user, "mobile": person.mobile}, headers=self.hs["a"]
        )
        assert r.status_code == 201, r.text
        if fund_fen:
            r = self.client.post(
                f"/v1/accounts/{person.user}/wallet/top-ups",
                headers=self.hs["a"],
                json={"amount_fen": fund_fen, "reference": f"fund-{person.user}"},
            )
            assert r.status_code == 201, r.text
        return self.token(person)

    def token(self, person) -> str:
        r = self.client.post(f"/v1/accounts/{person.user}/tokens", headers=self.hs["a"])
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def operator_token(self, role: str) -> str:
        return self.hs[role]["Authorization"].split(" ", 1)[1]


@contextmanager
def web_world(tmp_path: Path, database_url: str, shared_data: Path, people: list, **settings):
    import datetime as dt

    from conftest import face_engine_for
    from facepay import authority

    from facetrust.api.app import create_app
    from facetrust.identity import service
    from facetrust.settings import Settings, get_settings

    shared = face_engine_for(settings)
    settings.setdefault("models_dir", get_settings().resolved_models_dir)
    app = create_app(
        Settings(
            data_dir=tmp_path,
            database_url=database_url,
            authority_registry=authority(tmp_path, shared_data, people),
            **settings,
        ),
        shared,
    )
    with live_server(app) as base_url, api_client(base_url) as client:
        hs = {}
        with app.state.sessions() as s:
            tenant, key = service.create_tenant(s, "shop-a")
            for name, role in (("root", "admin"), ("alice", "risk_analyst"), ("carol", "compliance_officer")):
                token, _ = service.create_operator_token(s, name, role, dt.timedelta(hours=1))
                hs[role] = {"Authorization": f"Bearer {token}"}
            s.commit()
        hs["a"] = {"X-Api-Key": key}
        yield WebWorld(
            app, base_url, client, hs, tenant.id, Camera(tmp_path / "camera.y4m", shared_data, material(app))
        )


# axe-core, the accessibility checker, from npm (tests/package.json, pinned; scripts/test.sh runs
# `npm ci --prefix tests`): injected into the page under test, it runs there against the live DOM.
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


def require_axe() -> None:
    """Without axe-core (npm not run), skip with the reason, or fail under FACETRUST_REQUIRE_DATA."""
    if not AXE.exists():
        from conftest import absent

        absent(f"no axe-core at {AXE} (run `npm ci --prefix tests`, as scripts/test.sh does)")


def assert_no_axe_violations(page, where: str = "") -> None:
    """axe-core's WCAG 2.x A/AA and best-practice rules find nothing on the page as it is now; else
    fail listing each violation with the elements it found."""
    require_axe()
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, not as a <script> tag (add_script_tag): the pages'
        # Content-Security-Policy (script-src 'self') rightly refuses inline scripts.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + ": " + n.failureSummary.replace(/\\s+/g, " ")),
            }));
        }"""
    )
    listed = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
    )
    assert not violations, f"axe-core found {len(violations)} violation(s) on {where or page.url}:\n{listed}"
