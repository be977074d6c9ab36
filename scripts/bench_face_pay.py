"""End-to-end face-pay latency over HTTP, against the real service in its own process.

One payment is what a vending machine and its payer do: the terminal's signed intent, the capture
page opened with the intent's token (the challenge: one quick action, a blink or an open mouth), the
payer's JPEG frames posted (liveness, identification, limits, risk, ledger posting), and the
terminal's signed read of the result. Eight terminals run concurrently in two load shapes:

- closed loop: each terminal starts its next payment as soon as the last one finished (worst case);
- paced: each terminal's payers arrive at random, on average one every ``--interval`` seconds
  (exponential gaps, a Poisson process per terminal: people do not arrive on a timetable, and a
  fixed timetable with fixed phases would make the same two terminals collide on every round, so
  the figure would depend on the seed's phases); a terminal whose last payment is still running
  starts the next one late, and says so.

A third, smaller run is the baseline: one terminal alone, one payment at a time (the latency floor).

Setup (in-process, on the same database, before the server starts): a tenant, an admin operator
and one payer per usable clip person of the shared face clips (real people), each with the
consents, a face real-name authentication against a simulated authority photo (a frame of their own
clip that no capture uses), face pay switched on with a passed ``face_pay_enrolment`` check, and a
funded wallet. Every capture is a take of the tests' catalogue (tests/capture.py): a window of a
hand-labelled clip around labelled actions, answering the challenge of the actions it shows (two for
real name and enrolment, one quick action for a payment), or the same window mirrored (another
capture of the same person). Takes that the service's own liveness decision or identification would
not pass (a jump cut, say) are screened out in-process first, so the timed payments measure the
path a paying customer takes, not the lockout that repeated failures would trigger.

A recording cannot follow a random challenge: each payment's challenge is fixed in the database to
the action its take shows, between the capture page and the frames, and that moment is not timed.
The clips hold fewer payment takes than the shapes make payments, so the bench replays the same
recorded people on purpose: each shape (with its warm-up) is one round through the takes, with a new
faint noise on the pixels (the exact-pixel check stays), and the content fingerprints the replay
defence keeps are deleted between rounds through the bench's own database connection
(``Replays``); no setting of the service is changed for it.

Figures go to stdout and, with ``--json``, to a file (docs/bench-face-pay.json is quoted by the
docs). Service defaults are used throughout; nothing about quality or security is relaxed.

    .venv/bin/python scripts/bench_face_pay.py --wait-quiet 1800 --json docs/bench-face-pay.json
    .venv/bin/python scripts/bench_face_pay.py --database-url postgresql+psycopg://...   # empty database
    .venv/bin/python scripts/bench_face_pay.py --profile      # instrumented server: where the time goes

``--profile`` runs the same service code under a bootstrap that times the main stages (frame
decoding, per-frame analysis, the texture check, identification, SQL, commits, audit appends, model
loads in new worker threads) and prints the breakdown per shape; its latencies are labelled as
instrumented and are not the reference figures. The machine must be otherwise idle: ``--wait-quiet``
waits for other processes to stop using the cores, and every shape reports how busy they kept them.
Memory: about 2 GB for this process (encoded captures, the in-process setup) and 2.5 GB for the server.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime as dt
import http.client
import itertools
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
TARGET_P95_MS = 300.0
STEPS = ("intent", "capture_page", "frames", "result")

RATE_LIMITS = ("auth", "face", "capture", "terminal", "operator", "ip")
LOAD_SETTINGS_NOTE = (
    "defaults, EXCEPT the default risk rules in shadow (every rule evaluated and stored, "
    "no typology acts) and every rate limit off (FACETRUST_RATE_LIMIT_*_PER_MINUTE=0)"
)


def load_settings(work: Path) -> tuple[dict[str, str], dict]:
    """The two settings a load test changes, as the server's environment and as Settings overrides.

    A few terminals paying for nine clip people every few seconds is what the rate limits and the
    velocity rules exist to stop, so: the rate limits are off, and the risk engine runs the default
    rule set in shadow. Every default rule, and every feature it reads, is evaluated and its
    decision stored exactly as in production (so the risk engine costs what it costs), but the
    typologies are replaced by one that cannot fire, so nothing is declined or stepped up."""
    import yaml

    from facetrust.risk import rules as rules_mod

    doc = yaml.safe_load(rules_mod.DEFAULT_PATH.read_text(encoding="utf-8"))
    doc["version"] = f"load-shadow-of-{doc['version']}"
    doc["rules"].append(
        {
            "id": "never",
            "description": "cannot fire",
            "description_zh": "不会触发",
            "applies_to": ["payment"],
            "when": {"feature": "amount_fen", "op": "<", "value": 0},
            "score": 1,
            "reasons": ["never"],
        }
    )
    doc["typologies"] = [
        {
            "id": "never",
            "description": "cannot fire: the rules above run in shadow",
            "description_zh": "不会触发：以上规则仅影子运行",
            "rules": ["never"],
            "min_score": 1,
            "action": "review",
        }
    ]
    path = work / "shadow-rules.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rules_mod.load(path)  # fail here, not in the server, if it is not a valid rule set
    env = {
        "FACETRUST_RISK_RULES_PATH": str(path),
        **{f"FACETRUST_RATE_LIMIT_{k.upper()}_PER_MINUTE": "0" for k in RATE_LIMITS},
    }
    return env, {"risk_rules_path": path, **{f"rate_limit_{k}_per_minute": 0 for k in RATE_LIMITS}}


# Names for the payers (fictional); one per clip, in this order.
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周婷", "吴斌", "徐丽", "孙浩"]


# --------------------------------------------------------------------------------------- clips


def takes_module():
    """The tests' catalogue of real capture takes (tests/capture.py): windows of the hand-labelled
    clips around labelled actions, each answering the challenge of the actions it shows, and their
    mirrored copies (another capture of the same person)."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import capture

    return capture


@dataclass
class Window:
    """One capture of one clip person, JPEG-encoded as a phone's capture page sends them: a take of the
    catalogue (``variant`` > 0: the same frames with a faint noise, for a replay on purpose), or one
    frame for the authority's photo."""

    clip: str
    start: int
    jpegs: list[bytes]
    times_ms: list[float]
    actions: tuple[str, ...] = ()  # the challenge the frames answer
    take: object = None  # capture.Take
    variant: int = 0
    hashes: list[str] = field(default_factory=list)
    passed: bool = False
    reasons: list[str] = field(default_factory=list)
    reference_index: int | None = None
    template: object = None  # Template of the most frontal frame (what the service identifies)
    quality_passed: bool = False

    @property
    def name(self) -> str:
        return self.take.name if self.take is not None else f"{Path(self.clip).stem}:{self.start}"

    def burst(self, nonce: str) -> dict:
        return {
            "nonce": nonce,
            "frames": [
                {"t_ms": t, "image_base64": base64.b64encode(j).decode()} for j, t in zip(self.jpegs, self.times_ms)
            ],
        }


def take_window(data: Path, take, variant: int = 0) -> Window:
    """The take's frames as JPEG (quality 92, like the tests' capture page), with their timestamps."""
    encoded = takes_module().encode_take(take, data, variant)
    return Window(
        take.clip,
        take.first,
        [base64.b64decode(b) for _, b in encoded],
        [t for t, _ in encoded],
        tuple(take.actions),
        take,
        variant,
    )


def photo_windows(engine, data: Path, clip: str, every: int = 12) -> list[Window]:
    """Candidate authority photos: single frames of the clip that no take of the catalogue uses,
    with the engine's template of their face."""
    import cv2

    capture = takes_module()
    busy = [(t.first, t.last) for t in capture.catalogue(clip)]
    frames = capture.labels()[clip]["frames"]
    wanted = [f for f in range(0, frames, every) if not any(a - 3 <= f <= b + 3 for a, b in busy)]
    out = []
    for f in wanted:
        pixels, _ = capture.clip_frames(data, clip, f, f + 1)
        analysis = engine.analyse_pixels(pixels[0])
        if analysis.template is not None and analysis.faces_found == 1:
            out.append(
                Window(
                    clip,
                    f,
                    [cv2.imencode(".jpg", pixels[0], [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()],
                    [0.0],
                    passed=True,
                    reference_index=0,
                    template=analysis.template,
                    quality_passed=analysis.quality.passed,
                )
            )
    return out


def screen_window(engine, texture, limits, policy, window: Window) -> Window:
    """Decide the window exactly as the service would (its decoding, its liveness decision with the
    challenge fixed to the take's actions)."""
    from facetrust.errors import DomainError
    from facetrust.liveness import frames as frames_mod
    from facetrust.liveness.decision import decide

    try:
        frames = frames_mod.from_images(engine, list(zip(window.jpegs, window.times_ms)), limits)
    except DomainError as exc:
        window.reasons = [exc.code]
        return window
    window.hashes = [f.sha256 for f in frames]
    result = decide(engine, texture, frames, list(window.actions), policy)
    window.passed, window.reasons = result.passed, result.reasons
    window.reference_index = result.reference_index
    if result.reference is not None:
        window.template = result.reference.template
        window.quality_passed = result.reference.quality.passed
    return window


class Replays:
    """The tools replay the same recorded people many times on purpose: a few clips' takes for more
    captures than they hold. The replay defence would rightly refuse a capture showing moments an
    earlier one showed, so before a take is shown again the tool deletes the content fingerprints
    (``CaptureFingerprint`` and ``FingerprintBand`` rows) through its own connection to the
    service's database; the service's settings are untouched, no defence is switched off, and the
    exact-pixel check stays (a replay sends the take with a new faint noise, ``Window.variant``).
    ``showing`` serialises the captures of one take, so no capture of it is decided between the
    deletion and the replay."""

    def __init__(self, database_url: str) -> None:
        from sqlalchemy import create_engine

        self.db = create_engine(
            database_url, **({"connect_args": {"timeout": 30}} if database_url.startswith("sqlite") else {})
        )
        self.lock = threading.Lock()
        self.locks: dict[str, threading.Lock] = {}
        self.shown: set[str] = set()
        self.forgotten = 0

    def forget(self) -> None:
        from sqlalchemy import delete

        from facetrust.liveness.models import CaptureFingerprint, FingerprintBand

        with self.db.begin() as conn:
            conn.execute(delete(FingerprintBand))
            conn.execute(delete(CaptureFingerprint))
        with self.lock:
            self.forgotten += 1

    def showing(self, name: str):
        """A context for one capture of the take ``name``: the fingerprints are forgotten first if
        the take was shown before."""
        import contextlib

        @contextlib.contextmanager
        def cm():
            with self.lock:
                lock = self.locks.setdefault(name, threading.Lock())
            with lock:
                with self.lock:
                    again = name in self.shown
                if again:
                    self.forget()
                yield
                with self.lock:
                    self.shown.add(name)

        return cm()

    def fix_challenge(self, session_id: str, actions) -> None:
        """Fix a pending capture's challenge to the actions its take shows (a recording cannot follow
        a random challenge; a person can)."""
        from sqlalchemy import update

        from facetrust.liveness.models import LivenessSession

        with self.db.begin() as conn:
            conn.execute(
                update(LivenessSession)
                .where(LivenessSession.id == session_id)
                .values(actions=json.dumps(list(actions)))
            )

    def close(self) -> None:
        self.db.dispose()


# -------------------------------------------------------------------------------------- people


@dataclass
class Payer:
    clip: str
    user: str
    name: str
    id_number: str
    mobile: str
    photo: Window | None = None
    real_name: Window | None = None
    enrol: Window | None = None
    pay_windows: list[Window] = field(default_factory=list)  # one quick action (blink or open mouth)
    two_windows: list[Window] = field(default_factory=list)  # two actions, left after the setup
    account_id: str | None = None
    screening: Counter = field(default_factory=Counter)


def make_payer(i: int, clip: str) -> Payer:
    from facetrust.identity import idnumber

    first17 = f"1101051985{(i % 12) + 1:02d}{(i % 27) + 1:02d}{i + 101:03d}"
    return Payer(
        clip=clip,
        user=f"bench-{Path(clip).stem}",
        name=NAMES[i % len(NAMES)],
        id_number=first17 + idnumber.checksum_char(first17),
        mobile=f"139{i + 10:04d}{1000 + 37 * i:04d}",
    )


def choose_setup_windows(engine, payer: Payer, windows: list[Window], photos: list[Window]) -> bool:
    """The photo, the real-name window and the enrolment window: a photo frame and two passing
    two-action windows (two takes, or one take and its mirror) whose faces the service will accept
    for each step. The other two-action windows are left for credit."""
    ok = [w for w in windows if w.passed and w.template is not None]
    kyc, pay = engine.calibration.profile("kyc").threshold, engine.calibration.profile("payment").threshold
    from facetrust.biometrics.templates import similarity

    for photo in photos:
        for real in ok:
            if similarity(real.template, photo.template) <= kyc + 0.02:  # a margin: the photo is re-encoded
                continue
            for enrol in (w for w in ok if w is not real and w.quality_passed):
                if similarity(enrol.template, real.template) > pay + 0.02:
                    payer.photo, payer.real_name, payer.enrol = photo, real, enrol
                    payer.two_windows = [w for w in ok if w not in (real, enrol)]
                    return True
    return False


def screen_payer(
    i: int, clip: str, data: Path, engine, texture, limits, policy, pool, need: int | None = None
) -> Payer | None:
    """A payer for the clip's person, with the setup windows and the payment windows that the
    service's own liveness decision passes (screened in-process; payment takes in chunks until
    ``need`` pass, all of them by default); None if the clip cannot give one (no two-action take,
    say)."""
    capture = takes_module()
    payer = make_payer(i, clip)
    two_takes, pay_takes = capture.takes_of(clip, "two"), capture.takes_of(clip, "payment")
    if not two_takes or not pay_takes:
        payer.screening["no two-action and payment takes"] += 1
        return None
    seen: set[str] = set()

    def screen(takes) -> list[Window]:
        out = list(pool.map(lambda t: screen_window(engine, texture, limits, policy, take_window(data, t)), takes))
        for w in out:  # a picture the clip repeats would be refused as a replay
            if w.passed and (len(set(w.hashes)) != len(w.hashes) or seen & set(w.hashes)):
                w.passed, w.reasons = False, ["repeated_frame"]
            seen.update(w.hashes)
            if not w.passed:
                payer.screening["liveness:" + ",".join(w.reasons or ["failed"])] += 1
        return out

    if not choose_setup_windows(engine, payer, screen(two_takes), photo_windows(engine, data, clip)):
        return None
    chunk = len(pay_takes) if need is None else need + 2
    while pay_takes and (need is None or len(payer.pay_windows) < need):
        batch, pay_takes = pay_takes[:chunk], pay_takes[chunk:]
        payer.pay_windows += [w for w in screen(batch) if w.passed and w.template is not None]
    return payer


def screen_identification(engine, policy, payers: list[Payer]) -> None:
    """Keep the payment windows whose face the open-set rule names directly as their own payer,
    scored as the service does (exactly, against the enrolled templates: the enrolment windows')."""
    from facetrust.biometrics.templates import similarity
    from facetrust.gallery import decision
    from facetrust.gallery.decision import Candidate

    enrolled = {p.user: p.enrol.template for p in payers}
    for p in payers:
        kept = []
        for w in p.pay_windows:
            ranked = sorted(
                (Candidate(u, similarity(w.template, t)) for u, t in enrolled.items()),
                key=lambda c: c.score,
                reverse=True,
            )[: policy.candidates]
            found = decision.identify(ranked, len(enrolled), engine.calibration, policy)
            if found.outcome == decision.IDENTIFIED and found.key == p.user:
                kept.append(w)
            else:
                p.screening[f"identification:{found.outcome}:{found.reason or found.key}"] += 1
        p.pay_windows = kept


# ------------------------------------------------------------------------------------- setup


def authority_registry(root: Path, payers: list[Payer]) -> Path:
    """The simulated identity authority: a CSV and one photo per payer, a frame of their clip that
    no capture uses."""
    import cv2
    import numpy as np

    reg = root / "registry"
    reg.mkdir(parents=True, exist_ok=True)
    lines = ["name,id_number,photo"]
    for p in payers:
        w = p.photo
        pixels = cv2.imdecode(np.frombuffer(w.jpegs[w.reference_index or 0], np.uint8), cv2.IMREAD_COLOR)
        cv2.imwrite(str(reg / f"{p.user}.jpg"), pixels)
        lines.append(f"{p.name},{p.id_number},{p.user}.jpg")
    (reg / "citizens.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return reg / "citizens.csv"


def setup_world(settings, payers: list[Payer], fund_fen: int) -> dict:
    """Tenant, admin operator and enrolled, funded payers, through the service's own API in-process
    (a TestClient on the same database). Returns the tenant id, API key and admin token."""
    import datetime as dt

    from fastapi.testclient import TestClient

    from facetrust.api.app import create_app
    from facetrust.consent.notices import NOTICES
    from facetrust.identity import service
    from facetrust.liveness.models import LivenessSession

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=True) as client:
        with app.state.sessions() as s:
            tenant, api_key = service.create_tenant(s, "bench-platform")
            admin, _ = service.create_operator_token(s, "bench-admin", "admin", dt.timedelta(hours=8))
            s.commit()
            tenant_id = tenant.id
        ha = {"X-Api-Key": api_key}

        def ok(r, status=201):
            if r.status_code != status:
                raise SystemExit(f"setup failed: {r.request.method} {r.request.url.path} -> {r.status_code} {r.text}")
            return r.json()

        def live_pass(h, purpose: str, window: Window) -> str:
            created = ok(client.post("/v1/me/liveness-sessions", json={"purpose": purpose}, headers=h))
            with app.state.sessions() as s:  # the challenge the take shows (a recording cannot follow a random one)
                s.get(LivenessSession, created["session_id"]).actions = json.dumps(list(window.actions))
                s.commit()
            decided = ok(
                client.post(
                    f"/v1/me/liveness-sessions/{created['session_id']}/capture",
                    json=window.burst(created["nonce"]),
                    headers=h,
                ),
                200,
            )
            if decided["status"] != "passed":
                raise SystemExit(f"setup failed: {purpose} liveness for {window.name} {decided['reasons']}")
            return created["session_id"]

        for p in payers:
            p.account_id = ok(
                client.post("/v1/accounts", json={"platform_user_id": p.user, "mobile": p.mobile}, headers=ha)
            )["account_id"]
            h = {"Authorization": "Bearer " + ok(client.post(f"/v1/accounts/{p.user}/tokens", headers=ha))["token"]}
            for purpose in ("kyc_face_verification", "face_pay"):
                ok(
                    client.post(
                        f"/v1/me/consents/{purpose}", json={"notice_version": NOTICES[purpose].version}, headers=h
                    )
                )
            session_id = live_pass(h, "real_name", p.real_name)
            ok(
                client.post(
                    "/v1/me/real-name/face",
                    headers=h,
                    json={"name": p.name, "id_number": p.id_number, "liveness_session_id": session_id},
                )
            )
            session_id = live_pass(h, "face_pay_enrolment", p.enrol)
            ok(client.post("/v1/me/face-pay", json={"liveness_session_id": session_id}, headers=h))
            ok(
                client.post(
                    f"/v1/accounts/{p.user}/wallet/top-ups",
                    headers=ha,
                    json={"amount_fen": fund_fen, "reference": f"fund-{p.user}"},
                )
            )
    app.state.engine.dispose()
    return {"tenant_id": tenant_id, "api_key": api_key, "admin_token": admin}


# ------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``facetrust serve`` in its own process (its own session, stopped by its process id)."""

    def __init__(self, env: dict, port: int, log_path: Path, profile_out: Path | None) -> None:
        if profile_out is None:
            cmd = [str(VENV_BIN / "facetrust"), "serve", "--port", str(port)]
        else:  # the same service under the timing bootstrap below
            cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-instrumented", str(port)]
            env = {**env, "BENCH_PROFILE_OUT": str(profile_out)}
        self.command = cmd
        self.port = port
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )

    def wait_ready(self, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"the server exited with {self.proc.returncode}; see {self.log_path}:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/ready")
                r = conn.getresponse()
                body = r.read()
                conn.close()
                if r.status == 200:
                    return json.loads(body)
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the server was not ready within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> int | None:
        """SIGINT (uvicorn's graceful shutdown), then SIGTERM, then SIGKILL, to this process only."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    self.proc.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log.close()
        return self.proc.returncode


# ------------------------------------------------------------------------------------ client


class Http:
    """One keep-alive HTTP/1.1 connection (a terminal's, or a payer's phone's)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict]:
        headers = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {"raw": data[:200].decode(errors="replace")}
        return r.status, parsed

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@dataclass
class TerminalCreds:
    id: str
    secret: str


@dataclass
class Job:
    """One payment, with every request body encoded before the timed part."""

    order: str
    amount_fen: int
    payer: str
    clip: str
    frame_start: int
    intent_body: bytes
    frames_prefix: bytes  # b'{"nonce":"'
    frames_suffix: bytes  # b'","frames":[...]}'
    actions: tuple[str, ...] = ()  # what the take shows: the capture page's challenge is fixed to it
    take: str = ""  # the take's name
    frame_count: int = 0


def make_job(order: str, amount_fen: int, payer: Payer, window: Window) -> Job:
    intent = json.dumps(
        {"amount_fen": amount_fen, "currency": "CNY", "merchant_order_id": order, "idempotency_key": f"key-{order}"}
    ).encode()
    frames = json.dumps(window.burst("")["frames"], separators=(",", ":")).encode()
    return Job(
        order,
        amount_fen,
        payer.user,
        window.clip,
        window.start,
        intent,
        b'{"nonce":"',
        b'","frames":' + frames + b"}",
        tuple(window.actions),
        window.name,
        len(window.jpegs),
    )


@dataclass
class Result:
    order: str
    payer: str
    terminal: int
    started: float  # perf_counter
    scheduled: float | None
    total_ms: float
    steps_ms: dict
    outcome: str  # paid, or what happened instead
    detail: str = ""


def run_payment(
    term: TerminalCreds,
    term_http: Http,
    page_http: Http,
    job: Job,
    index: int,
    scheduled: float | None,
    replays: Replays,
) -> Result:
    from facetrust.security import signing

    marks = [time.perf_counter()]
    steps: dict = {}

    def done(outcome: str, detail: str = "") -> Result:
        names = STEPS[: len(marks) - 1]
        steps.update({n: (b - a) * 1000 for n, a, b in zip(names, marks, marks[1:])})
        return Result(
            job.order, job.payer, index, marks[0], scheduled, (marks[-1] - marks[0]) * 1000, steps, outcome, detail
        )

    path = "/v1/terminal/payment-intents"
    status, body = term_http.request(
        "POST",
        path,
        job.intent_body,
        signing.headers(term.id, term.secret, "POST", path, job.intent_body, int(time.time())),
    )
    marks.append(time.perf_counter())
    if status != 201:
        return done(f"intent_http_{status}", json.dumps(body)[:300])
    intent_id, token = body["intent_id"], body["capture_url"].split("#", 1)[1]

    status, view = page_http.request("GET", f"/v1/capture/{token}")
    marks.append(time.perf_counter())
    if status != 200 or not view.get("challenge"):
        return done(f"capture_page_http_{status}", json.dumps(view)[:300])
    if len(view["challenge"]["actions"]) != 1:
        return done("step_up_asked", json.dumps(view["challenge"]["actions"]))
    # The challenge is one random quick action; the take shows one: fix the challenge to it in the
    # database (a recording cannot follow a random challenge). Not timed: the clock is moved on by
    # as long as the fix took, so every step and the whole payment measure what a payer waits for.
    paused = time.perf_counter()
    replays.fix_challenge(view["challenge"]["session_id"], job.actions)
    shift = time.perf_counter() - paused
    marks[:] = [m + shift for m in marks]

    status, view = page_http.request(
        "POST",
        f"/v1/capture/{token}/frames",
        job.frames_prefix + view["challenge"]["nonce"].encode() + job.frames_suffix,
    )
    marks.append(time.perf_counter())
    if status != 200:
        return done(f"frames_http_{status}", json.dumps(view)[:300])

    path = f"/v1/terminal/payment-intents/{intent_id}"
    status, seen = term_http.request(
        "GET", path, None, signing.headers(term.id, term.secret, "GET", path, b"", int(time.time()))
    )
    marks.append(time.perf_counter())
    if status != 200:
        return done(f"result_http_{status}", json.dumps(seen)[:300])
    if seen["status"] != "paid" or view["status"] != "paid":
        reason = view.get("decline_reason") or view.get("step") or ""
        return done(f"{seen['status']}:{reason}", json.dumps(view)[:300])
    return done("paid")


def run_shape(
    name: str,
    port: int,
    terminals: list[TerminalCreds],
    jobs: list[Job],
    interval: float | None,
    seed: int,
    replays: Replays,
) -> tuple[list[Result], float]:
    """Run ``jobs`` on the terminals: closed loop (interval None) or payers arriving at each terminal
    at random, ``interval`` s apart on average."""
    lock = threading.Lock()
    queue = list(reversed(jobs))
    results: list[Result] = []
    n = len(terminals)
    rng = random.Random(seed)
    per_terminal = [jobs[i::n] for i in range(n)]
    arrivals = (
        [list(itertools.accumulate(rng.expovariate(1.0 / interval) for _ in per_terminal[i])) for i in range(n)]
        if interval
        else []
    )
    barrier = threading.Barrier(n + 1)
    t0_box: list[float] = []

    def worker(i: int) -> None:
        term_http, page_http = Http(port), Http(port)
        try:
            barrier.wait()
            t0 = t0_box[0]
            if interval is None:
                while True:
                    with lock:
                        if not queue:
                            return
                        job = queue.pop()
                    r = run_payment(terminals[i], term_http, page_http, job, i, None, replays)
                    with lock:
                        results.append(r)
            else:
                for k, job in enumerate(per_terminal[i]):
                    scheduled = t0 + arrivals[i][k]
                    delay = scheduled - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    r = run_payment(terminals[i], term_http, page_http, job, i, scheduled, replays)
                    with lock:
                        results.append(r)
        finally:
            term_http.close()
            page_http.close()

    threads = [threading.Thread(target=worker, args=(i,), name=f"{name}-terminal-{i}") for i in range(n)]
    for t in threads:
        t.start()
    t0_box.append(time.perf_counter())
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0_box[0]
    return sorted(results, key=lambda r: r.started), elapsed


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarise(results: list[Result], elapsed: float, concurrency: int, interval: float | None) -> dict:
    paid = [r for r in results if r.outcome == "paid"]
    totals = [r.total_ms for r in paid]
    out = {
        "shape": "closed_loop" if interval is None else "paced",
        "concurrency": concurrency,
        "interval_s": interval,
        "payments": len(results),
        "paid": len(paid),
        "failures": len(results) - len(paid),
        "failure_kinds": dict(Counter(r.outcome for r in results if r.outcome != "paid")),
        "failure_examples": [
            {"order": r.order, "outcome": r.outcome, "detail": r.detail} for r in results if r.outcome != "paid"
        ][:5],
        "duration_s": round(elapsed, 2),
        "throughput_per_s": round(len(paid) / elapsed, 2) if elapsed else None,
        "offered_per_s": round(concurrency / interval, 2) if interval else None,
        "latency_of": "paid payments, from the terminal's intent request to its read of the result",
    }
    if totals:
        out.update(
            {
                "p50_ms": round(percentile(totals, 50), 1),
                "p95_ms": round(percentile(totals, 95), 1),
                "p99_ms": round(percentile(totals, 99), 1),
                "max_ms": round(max(totals), 1),
                "min_ms": round(min(totals), 1),
                "mean_ms": round(statistics.fmean(totals), 1),
                "steps_median_ms": {s: round(statistics.median([r.steps_ms[s] for r in paid]), 1) for s in STEPS},
                "steps_p95_ms": {s: round(percentile([r.steps_ms[s] for r in paid], 95), 1) for s in STEPS},
                "meets_target_p95": percentile(totals, 95) <= TARGET_P95_MS,
            }
        )
    if interval is not None:
        late = [(r.started - r.scheduled) * 1000 for r in results if r.scheduled is not None]
        out["late_starts"] = sum(1 for x in late if x > 50)
        out["max_start_delay_ms"] = round(max(late, default=0.0), 1)
    return out


def print_shape(title: str, s: dict) -> None:
    print(
        f"\n== {title}: {s['concurrency']} terminal{'s' if s['concurrency'] > 1 else ''}"
        + (
            f", payers arriving at each at random, every {s['interval_s']:g} s on average"
            if s["interval_s"]
            else ", closed loop"
        )
    )
    print(
        f"  payments {s['payments']}, paid {s['paid']}, failures {s['failures']}"
        + (f" {s['failure_kinds']}" if s["failures"] else "")
        + f"; {s['duration_s']:.1f} s, {s['throughput_per_s']} paid/s"
    )
    if "p50_ms" in s:
        verdict = "meets" if s["meets_target_p95"] else "MISSES"
        print(
            f"  whole payment: p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms, "
            f"max {s['max_ms']:.0f} ms ({verdict} the p95 <= {TARGET_P95_MS:.0f} ms target)"
        )
        print("  step medians: " + ", ".join(f"{k} {v:.0f} ms" for k, v in s["steps_median_ms"].items()))
        print("  step p95s:    " + ", ".join(f"{k} {v:.0f} ms" for k, v in s["steps_p95_ms"].items()))
    if "server_cpu" in s:
        c = s["server_cpu"]
        print(
            f"  server CPU {c['cpu_ms_per_paid_payment']:.0f} ms per paid payment, {c['cores_busy']:.2f} cores busy, "
            f"{c['threads_after']} server threads, {c['rss_mb_after']} MB resident; "
            f"load generator CPU {s['load_generator_cpu_s']:.1f} s"
        )
    if s.get("other_processes_cores_busy", 0) > 0.2:
        print(
            f"  WARNING: other processes (a database server on this machine counts too) kept "
            f"{s['other_processes_cores_busy']:.2f} cores busy during this shape: the figures are not those of a "
            "quiet machine"
        )
    if s.get("late_starts"):
        print(
            f"  {s['late_starts']} payments started over 50 ms after their slot "
            f"(max {s['max_start_delay_ms']:.0f} ms): the terminal's previous payment was still running"
        )


def capacity(shapes: dict, payer_every_s: float) -> dict:
    """The largest offered payment rate at which every payment was paid and p95 met the target, over
    the capacity rounds (and the paced shape), and what it means for a platform sizing its servers:
    terminals per core, if each terminal's busiest hour brings a payer every ``payer_every_s``."""
    rounds = sorted(
        (s for k, s in shapes.items() if k.startswith("capacity_") or k == "paced"), key=lambda s: s["offered_per_s"]
    )
    rows = [
        {
            "interval_s": s["interval_s"],
            "offered_per_s": s["offered_per_s"],
            "paid_per_s": s["throughput_per_s"],
            "p50_ms": s.get("p50_ms"),
            "p95_ms": s.get("p95_ms"),
            "failures": s["failures"],
            "cpu_ms_per_paid_payment": s["server_cpu"]["cpu_ms_per_paid_payment"],
            "cores_busy": s["server_cpu"]["cores_busy"],
            "meets": bool(s.get("meets_target_p95")) and s["failures"] == 0,
        }
        for s in rounds
    ]
    best = max((r["offered_per_s"] for r in rows if r["meets"]), default=None)
    cores = os.cpu_count() or 1
    return {
        "target_p95_ms": TARGET_P95_MS,
        "rounds": rows,
        "max_rate_per_s_meeting_target": best,
        "cores": cores,
        "payer_every_s": payer_every_s,
        "terminals_per_core": round(best * payer_every_s / cores, 1) if best else None,
        "note": "one server process on this machine; the rate is what its cores sustained with p95 within "
        "the target and no failure; terminals per core assumes each terminal's busiest hour brings a "
        f"payer every {payer_every_s:g} s and that the rate scales with cores",
    }


def print_capacity(c: dict) -> None:
    print(f"\n== capacity (p95 <= {c['target_p95_ms']:.0f} ms, no failure)")
    for r in c["rounds"]:
        print(
            f"  offered {r['offered_per_s']:.2f}/s (every {r['interval_s']:g} s per terminal): paid "
            f"{r['paid_per_s']}/s, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, failures {r['failures']}, "
            f"{r['cpu_ms_per_paid_payment']:.0f} ms CPU per payment, {r['cores_busy']:.2f} cores busy"
            f" -> {'meets' if r['meets'] else 'misses'}"
        )
    if c["max_rate_per_s_meeting_target"]:
        print(
            f"  capacity: {c['max_rate_per_s_meeting_target']:.2f} payments/s on {c['cores']} cores; "
            f"{c['terminals_per_core']} terminals per core at one payer every {c['payer_every_s']:g} s each"
        )
    else:
        print("  no rate tried met the target")


# ------------------------------------------------------------------------------------- admin


def register_terminals(port: int, admin_token: str, tenant_id: str, count: int) -> list[TerminalCreds]:
    client = Http(port)
    h = {"Authorization": f"Bearer {admin_token}"}
    status, m = client.request(
        "POST",
        "/v1/operator/merchants",
        json.dumps({"tenant_id": tenant_id, "name": "Vending fleet", "fee_bps": 60}).encode(),
        h,
    )
    if status != 201:
        raise SystemExit(f"merchant registration failed: {status} {m}")
    out = []
    for i in range(count):
        status, t = client.request(
            "POST",
            f"/v1/operator/merchants/{m['merchant_id']}/terminals",
            json.dumps({"label": f"machine {i + 1}"}).encode(),
            h,
        )
        if status != 201:
            raise SystemExit(f"terminal registration failed: {status} {t}")
        out.append(TerminalCreds(t["terminal_id"], t["secret"]))
    client.close()
    return out


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all processes on the machine have used so far (every core; Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait_s: float, threshold: float = 0.3) -> float:
    """Cores kept busy by other processes (sampled over 2 s), after waiting up to ``max_wait_s`` for
    that to fall under ``threshold``; a warning is printed if it does not."""
    deadline = time.monotonic() + max_wait_s
    while True:
        own0, all0 = time.process_time(), machine_busy_s()
        time.sleep(2.0)
        busy = max(machine_busy_s() - all0 - (time.process_time() - own0), 0.0) / 2.0
        if busy < threshold or time.monotonic() >= deadline:
            break
    if busy >= threshold:
        print(
            f"WARNING: other processes keep {busy:.2f} cores busy; the figures will not be those of a quiet machine",
            flush=True,
        )
    return round(busy, 2)


def process_status(pid: int, key: str) -> int:
    """A number from /proc/PID/status, e.g. Threads or VmRSS (kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cli_json(env: dict, *args: str) -> dict:
    r = subprocess.run(
        [str(VENV_BIN / "facetrust"), *args], env=env, capture_output=True, text=True, cwd=REPO, timeout=600
    )
    try:
        report = json.loads(r.stdout)
    except ValueError:
        report = {"ok": False, "output": (r.stdout + r.stderr)[-1000:]}
    report["exit_code"] = r.returncode
    return report


def server_log_problems(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    bad = [ln for ln in lines if any(w in ln for w in ("Traceback", "ERROR", "unhandled", " 500 "))]
    return bad[:20]


# --------------------------------------------------------------------------- instrumented server


def serve_instrumented(port: int) -> None:
    """The service exactly as ``facetrust serve`` runs it, with timers around its main stages.
    GET /__bench/profile returns the totals so far (and resets them with ?reset=1)."""
    import functools
    from collections import defaultdict

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    import facetrust.api.app as app_mod
    from facetrust.biometrics import detect, embed, landmarks, modelpool
    from facetrust.biometrics import engine as engine_mod
    from facetrust.gallery import decision as gallery_decision
    from facetrust.gallery import service as gallery_service
    from facetrust.liveness import decision, frames
    from facetrust.liveness import service as liveness_service
    from facetrust.payments import intents, ledger, merchants
    from facetrust.security import audit, envelope

    stats: dict = defaultdict(lambda: [0, 0.0, 0.0, 0.0])  # calls, wall ms, thread cpu ms, max wall ms
    lock = threading.Lock()
    loop_thread: list[int] = []

    def add(name: str, wall: float, cpu: float) -> None:
        with lock:
            s = stats[name]
            s[0] += 1
            s[1] += wall
            s[2] += cpu
            s[3] = max(s[3], wall)

    def timed(name: str, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                add(name, (time.perf_counter() - w0) * 1000, (time.thread_time() - c0) * 1000)
                if loop_thread and threading.get_ident() == loop_thread[0]:
                    add(f"on the event loop: {name}", (time.perf_counter() - w0) * 1000, 0.0)

        return wrapper

    def patch(owner, attr: str, name: str) -> None:
        setattr(owner, attr, timed(name, getattr(owner, attr)))

    patch(frames, "from_images", "capture: decode JPEGs + pixel hashes")
    patch(liveness_service, "_replayed", "capture: replay lookup")
    patch(liveness_service, "submit", "capture: liveness.submit (all of liveness)")
    patch(decision, "decide", "capture: liveness decision")
    patch(
        engine_mod.FaceEngine,
        "analyse_pixels",
        "frame: analyse_pixels (reference frame: detect+landmarks+quality+embed)",
    )
    patch(detect.YuNetDetector, "detect", "frame: detect (YuNet)")
    patch(landmarks.LandmarkModel, "geometry", "frame: landmarks (MediaPipe mesh + blendshapes)")
    patch(embed.SFaceEmbedder, "embed_crop", "frame: embed (SFace)")
    patch(engine_mod, "assess", "frame: quality gate")
    patch(decision, "check_texture", "capture: texture check")
    patch(decision, "check_identity", "capture: identity check")
    patch(decision, "check_actions", "capture: actions check")
    patch(gallery_service.Gallery, "search", "capture: gallery search (+ template reads)")
    patch(gallery_decision, "identify", "capture: open-set rule")
    patch(intents, "submit_frames", "capture: intents.submit_frames (everything)")
    patch(intents, "_authorise", "capture: authorise (consent, lockout, risk, limits, ledger)")
    patch(ledger, "post", "capture: ledger.post")
    patch(intents, "create_intent", "intent: create_intent")
    patch(intents, "current_capture", "page: current_capture")
    patch(merchants, "authenticate", "terminal: signature + nonce")
    patch(audit, "append", "db: audit.append")
    patch(Session, "commit", "db: session.commit")
    patch(envelope.Keyring, "seal", "crypto: keyring.seal")
    patch(envelope.Keyring, "open", "crypto: keyring.open")

    original_init = modelpool.ModelPool.__init__

    def pool_init(self, factory, size):
        original_init(
            self, timed("model load (a pool's first object, or another when concurrency needs it)", factory), size
        )

    modelpool.ModelPool.__init__ = pool_init

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info.setdefault("bench_t", []).append((time.perf_counter(), time.thread_time()))

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        w0, c0 = conn.info["bench_t"].pop()
        verb = statement.lstrip().split(None, 1)[0].upper()
        add(f"db: SQL {verb}", (time.perf_counter() - w0) * 1000, (time.thread_time() - c0) * 1000)

    original_create_app = app_mod.create_app

    def create_app(settings=None):
        app = original_create_app(settings)
        inner = app.build_middleware_stack

        def build():
            stack = inner()

            async def timing(scope, receive, send):
                if scope["type"] != "http":
                    return await stack(scope, receive, send)
                if not loop_thread:
                    loop_thread.append(threading.get_ident())
                path = scope["path"]
                if path == "/__bench/profile":
                    with lock:
                        body = json.dumps(
                            {
                                k: {
                                    "calls": v[0],
                                    "wall_ms": round(v[1], 1),
                                    "cpu_ms": round(v[2], 1),
                                    "max_ms": round(v[3], 1),
                                }
                                for k, v in stats.items()
                            }
                        ).encode()
                        if b"reset=1" in scope.get("query_string", b""):
                            stats.clear()
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
                route = "/" + "/".join(
                    "{token}" if p.startswith("ftc_") else "{id}" if len(p) >= 16 else p
                    for p in path.strip("/").split("/")
                )
                t0 = time.perf_counter()
                try:
                    await stack(scope, receive, send)
                finally:
                    add(f"request: {scope['method']} {route}", (time.perf_counter() - t0) * 1000, 0.0)

            return timing

        app.build_middleware_stack = build
        return app

    app_mod.create_app = create_app
    from facetrust.cli import main as cli

    sys.argv = ["facetrust", "serve", "--port", str(port)]
    cli()


def fetch_profile(port: int, reset: bool) -> dict:
    c = Http(port)
    try:
        _, body = c.request("GET", "/__bench/profile" + ("?reset=1" if reset else ""))
    finally:
        c.close()
    return body


def print_profile(title: str, profile: dict, paid: int, elapsed: float) -> dict:
    """Per paid payment: wall time (includes waiting for a core, the GIL or a lock) and CPU time."""
    rows = {
        k: {
            "calls_per_payment": round(v["calls"] / paid, 2),
            "wall_ms_per_payment": round(v["wall_ms"] / paid, 1),
            "cpu_ms_per_payment": round(v["cpu_ms"] / paid, 1),
            "max_ms": v["max_ms"],
        }
        for k, v in sorted(profile.items())
        if paid
    }
    print(f"\n-- where the time goes ({title}, per paid payment; wall includes waiting for a core, the GIL or a lock)")
    print(f"   {'stage':<66}{'calls':>7}{'wall ms':>9}{'cpu ms':>8}{'max ms':>8}")
    for k, v in rows.items():
        print(
            f"   {k:<66}{v['calls_per_payment']:>7.2f}{v['wall_ms_per_payment']:>9.1f}{v['cpu_ms_per_payment']:>8.1f}"
            f"{v['max_ms']:>8.0f}"
        )
    return rows


# ---------------------------------------------------------------------------------------- main


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-instrumented":
        serve_instrumented(int(sys.argv[2]))
        return

    from facetrust.settings import Settings, get_settings

    defaults = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=defaults.shared_data, help="shared data (face-clips/)")
    parser.add_argument(
        "--clips",
        default="d0,d3,d6,d9,d10,d11,d18,s18,s29",
        help="clip people to enrol (comma-separated; those without enough usable frames are left out)",
    )
    parser.add_argument(
        "--database-url", default=None, help="an EMPTY database to use (e.g. PostgreSQL); default: a fresh SQLite file"
    )
    parser.add_argument("--terminals", type=int, default=8)
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        help="paced shape: mean seconds between a terminal's payers (exponential gaps)",
    )
    parser.add_argument(
        "--closed-payments",
        type=int,
        default=None,
        help="payments in the closed-loop shape (default: the usable captures less the warm-up)",
    )
    parser.add_argument(
        "--paced-payments",
        type=int,
        default=None,
        help="payments in the paced shape (default: the usable captures less the warm-up)",
    )
    parser.add_argument(
        "--single-payments",
        type=int,
        default=16,
        help="payments of the baseline: one terminal alone, one payment at a time (0: skip)",
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed payments before each shape (default: terminals)"
    )
    parser.add_argument("--json", dest="json_out", type=Path, default=None)
    parser.add_argument("--profile", action="store_true", help="instrumented server: print where the time goes")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before the timed part, wait up to this long for other processes to go quiet",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--capacity",
        default="",
        metavar="INTERVALS",
        help="also run the paced shape at each of these mean per-terminal intervals (s, comma-"
        "separated, e.g. 8,6,4,3,2,1.5) and report the largest payment rate whose p95 meets "
        "the target: the server's capacity",
    )
    parser.add_argument(
        "--payer-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a terminal's busiest hour, one payer every SECONDS (for terminals per core)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="facetrust-bench-facepay-"))
    try:
        run(args, defaults, work, Settings)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nkept {work}")


def run(args, defaults, work: Path, Settings) -> None:
    data_dir = work / "data"
    data_dir.mkdir()
    database_url = args.database_url or f"sqlite:///{data_dir / 'facetrust.db'}"
    models_dir = defaults.resolved_models_dir
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("FACETRUST_")}
    load_env, overrides = load_settings(work)
    env = {
        **base_env,
        "FACETRUST_DATA_DIR": str(data_dir),
        "FACETRUST_DATABASE_URL": database_url,
        "FACETRUST_MODELS_DIR": str(models_dir),
        **load_env,
    }
    t_setup = time.perf_counter()

    # 1. Cut and screen the clips.
    from facetrust.bootstrap import face_engine
    from facetrust.gallery.decision import OpenSetPolicy
    from facetrust.liveness.decision import DecisionPolicy
    from facetrust.liveness.service import capture_limits
    from facetrust.liveness.texture import TextureModel

    probe_settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url, models_dir=models_dir)
    engine = face_engine(probe_settings)
    texture, limits = TextureModel.load(), capture_limits(probe_settings)
    live_policy = DecisionPolicy()
    open_set = OpenSetPolicy(
        target_fpir=probe_settings.face_pay_target_fpir,
        margin=probe_settings.face_pay_margin,
        direct_max_gallery=probe_settings.face_pay_direct_max_gallery,
        candidates=probe_settings.face_pay_candidates,
    )
    clips = [c if c.endswith(".mp4") else f"{c}.mp4" for c in args.clips.split(",") if c]
    print(
        f"screening {len(clips)} clips' capture takes (windows around labelled actions, each also mirrored; "
        "the service's own decision, in-process)...",
        flush=True,
    )
    payers: list[Payer] = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for i, clip in enumerate(clips):
            payer = screen_payer(i, clip, args.data, engine, texture, limits, live_policy, pool)
            if payer is None:
                print(f"  {clip}: left out (no photo / real-name / enrolment takes the service would accept)")
                continue
            payers.append(payer)
    screen_identification(engine, open_set, payers)
    payers = [p for p in payers if p.pay_windows]
    if len(payers) < 5:
        raise SystemExit(f"only {len(payers)} clip people are usable; at least 5 are needed")
    for p in payers:
        print(
            f"  {p.clip}: {len(p.pay_windows)} payment captures"
            + (f" (screened out: {dict(p.screening)})" if p.screening else "")
        )
    total_windows = sum(len(takes_module().takes_of(p.clip, k)) for p in payers for k in ("two", "payment"))

    # 2. Set up the world in-process, on the database the server will use.
    registry = authority_registry(work, payers)
    env["FACETRUST_AUTHORITY_REGISTRY"] = str(registry)
    server_settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=database_url,
        models_dir=models_dir,
        authority_registry=registry,
        **overrides,
    )
    if args.database_url:
        from sqlalchemy import create_engine, inspect, text

        eng = create_engine(database_url)
        if "liveness_seen_frames" in inspect(eng).get_table_names():
            with eng.connect() as c:
                if c.execute(text("SELECT count(*) FROM liveness_seen_frames")).scalar():
                    raise SystemExit(
                        "the database has frames from an earlier run (the replay defence would refuse "
                        "them): give an empty database"
                    )
        eng.dispose()
    fund_fen = 10_000 * 100
    print(f"setting up {len(payers)} payers (accounts, consents, face real-name, face pay, wallets)...", flush=True)
    world = setup_world(server_settings, payers, fund_fen)
    setup_s = time.perf_counter() - t_setup

    # 3. Jobs: people interleaved, amounts under the limits. The clips hold fewer payment takes than
    # the shapes make payments, so each shape (with its warm-up) is one round through them: every take
    # at most once per round, each round with its own faint noise on the pixels, and the content
    # fingerprints forgotten between rounds (``Replays``: the bench replays recorded people on purpose).
    rng = random.Random(args.seed)
    windows = [(p, w) for p in payers for w in p.pay_windows]
    rng.shuffle(windows)
    n = args.terminals
    warm = n if args.warmup is None else args.warmup
    single_n = min(args.single_payments, len(windows))
    closed_n = args.closed_payments if args.closed_payments is not None else len(windows) - warm
    paced_n = args.paced_payments if args.paced_payments is not None else len(windows) - warm
    if max(warm + closed_n, warm + paced_n) > len(windows) or min(closed_n, paced_n, single_n) < 0:
        raise SystemExit(
            f"only {len(windows)} payment captures per round (a shape and its warm-up); "
            f"asked for {warm} + {closed_n} and {warm} + {paced_n}"
        )
    order = itertools.count()

    def round_jobs(variant: int, count: int) -> list[Job]:
        chosen = windows[:count]
        return [
            make_job(
                f"order-{next(order):05d}",
                rng.randint(100, 2000),
                p,
                w if variant == 0 else take_window(args.data, w.take, variant),
            )
            for p, w in chosen
        ]

    closed_round = round_jobs(0, warm + closed_n)
    warm_closed, closed_jobs = closed_round[:warm], closed_round[warm:]
    paced_round = round_jobs(1, warm + paced_n)
    warm_paced, paced_jobs = paced_round[:warm], paced_round[warm:]
    single_jobs = round_jobs(2, single_n)
    capacity_intervals = [float(x) for x in args.capacity.split(",") if x.strip()]
    capacity_rounds = [(interval, round_jobs(3 + k, paced_n)) for k, interval in enumerate(capacity_intervals)]
    replays = Replays(database_url)

    # 4. The real service, in its own process (on a quiet machine: other processes' load skews it).
    background = wait_for_quiet(args.wait_quiet)
    port = free_port()
    server = Server(env, port, work / "server.log", work / "profile.json" if args.profile else None)
    report: dict = {}
    try:
        ready = server.wait_ready()
        terminals = register_terminals(port, world["admin_token"], world["tenant_id"], n)
        frames_each = sorted(j.frame_count for j in closed_jobs + paced_jobs + single_jobs)
        print(
            f"server up on 127.0.0.1:{port} ({ready['database']}); {n} terminals registered; "
            f"{len(closed_jobs)} closed-loop + {len(paced_jobs)} paced + {len(single_jobs)} baseline timed payments, "
            f"{frames_each[0]}-{frames_each[-1]} frames each (median {statistics.median(frames_each):g})",
            flush=True,
        )
        shapes, profiles, warmups = {}, {}, {}
        for key, title, warm_jobs, timed_jobs, interval, fleet in (
            ("closed_loop", "closed loop", warm_closed, closed_jobs, None, terminals),
            ("paced", "paced", warm_paced, paced_jobs, args.interval, terminals),
            ("single_terminal", "baseline, one terminal alone", [], single_jobs, None, terminals[:1]),
            *(
                (f"capacity_{interval:g}s", f"capacity, paced at {interval:g} s", [], jobs, interval, terminals)
                for interval, jobs in capacity_rounds
            ),
        ):
            if not timed_jobs:
                continue
            if key != "closed_loop":  # a new round of the same takes: forget what the last one showed
                replays.forget()
            if warm_jobs:  # first requests load the models (per worker thread); not timed
                wres, _ = run_shape(f"{key}-warmup", port, fleet, warm_jobs, None, args.seed, replays)
                warmups[key] = {
                    "payments": len(wres),
                    "paid": sum(r.outcome == "paid" for r in wres),
                    "max_ms": round(max(r.total_ms for r in wres), 1),
                }
            time.sleep(1.0)
            if args.profile:
                fetch_profile(port, reset=True)
            cpu0, own0, all0 = process_cpu_s(server.proc.pid), time.process_time(), machine_busy_s()
            results, elapsed = run_shape(key, port, fleet, timed_jobs, interval, args.seed, replays)
            summary = summarise(results, elapsed, len(fleet), interval)
            server_cpu, own_cpu = process_cpu_s(server.proc.pid) - cpu0, time.process_time() - own0
            others = machine_busy_s() - all0 - server_cpu - own_cpu
            summary["server_cpu"] = {
                "cpu_s": round(server_cpu, 2),
                "cpu_ms_per_paid_payment": round(1000 * server_cpu / max(summary["paid"], 1), 1),
                "cores_busy": round(server_cpu / elapsed, 2),
                "threads_after": process_status(server.proc.pid, "Threads"),
                "rss_mb_after": round(process_status(server.proc.pid, "VmRSS") / 1024),
            }
            summary["load_generator_cpu_s"] = round(own_cpu, 2)
            summary["other_processes_cores_busy"] = round(max(others, 0.0) / elapsed, 2)
            if key == "single_terminal":
                summary["note"] = (
                    "one terminal, one payment at a time: the latency floor of a payment on an "
                    "otherwise idle server (not one of the two load shapes)"
                )
            shapes[key] = summary
            print_shape(title, summary)
            if args.profile:
                profiles[key] = print_profile(title, fetch_profile(port, reset=True), summary["paid"], elapsed)
        stop_code = server.stop()
    finally:
        if server.proc.poll() is None:
            server.stop()
        replays.close()

    # 5. The books and the audit chain after the run.
    ledger = cli_json(env, "ledger", "check", "--json")
    audit_chain = cli_json(env, "audit", "verify", "--json")
    print(f"\nledger check: {'OK' if ledger.get('ok') else 'BROKEN'} {json.dumps(ledger)}")
    print(f"audit verify: {'OK' if audit_chain.get('ok') else 'BROKEN'} {json.dumps(audit_chain)}")
    problems = server_log_problems(server.log_path)
    if problems:
        print(f"server log problems ({len(problems)} shown):\n  " + "\n  ".join(problems))
    print(f"server stopped (exit code {stop_code})")

    relevant = [
        "liveness_min_frames",
        "liveness_max_frames",
        "liveness_max_fps",
        "liveness_session_seconds",
        "threads",
        "detector_max_side",
        "face_pay_transaction_limit_yuan",
        "face_pay_daily_limit_yuan",
        "face_pay_over_limit",
        "face_pay_target_fpir",
        "face_pay_margin",
        "face_pay_direct_max_gallery",
        "gallery_engine",
        "store_raw_images",
        "lockout_max_failures",
        "lockout_window_seconds",
    ]
    report = {"capacity": capacity(shapes, args.payer_every)} if capacity_rounds else {}
    report |= {
        "benchmark": "face pay end to end over HTTP: signed terminal intent, capture page, payer's frames "
        "(liveness, identification, limits, risk, ledger), signed result read",
        "target": {"p95_ms": TARGET_P95_MS, "concurrency": n},
        "instrumented": bool(args.profile),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "other_processes_cores_busy_before": background,
        },
        "command": "python scripts/bench_face_pay.py " + " ".join(sys.argv[1:]),
        "server": {
            "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(server.command)),
            "process": "one uvicorn worker (facetrust serve defaults)",
            "settings_changed": LOAD_SETTINGS_NOTE,
            "database": ready["database"],
            "frames_per_capture": {
                "min": frames_each[0],
                "median": statistics.median(frames_each),
                "max": frames_each[-1],
            },
            "liveness": "one quick action (a blink or an open mouth), the challenge fixed in the database to "
            "what the take shows (not timed); amounts under the limits: no step-up",
            "settings": {k: getattr(server_settings, k) for k in relevant},
        },
        "data": {
            "clips": [p.clip for p in payers],
            "payers": len(payers),
            "capture_takes": total_windows,
            "usable_payment_captures": sum(len(p.pay_windows) for p in payers),
            "per_payer": {
                p.clip: {"payment_captures": len(p.pay_windows), "screened_out": dict(p.screening)} for p in payers
            },
            "fingerprints_forgotten": replays.forgotten,
            "note": "takes of the labelled clips around a blink or an open mouth (and mirrored), that the "
            "service's own liveness decision and identification pass (screened in-process before "
            "the run); each used once per shape, the shapes replaying them with a new faint noise "
            "after the content fingerprints were forgotten",
        },
        "summary": {
            k: {
                m: shapes[k].get(m)
                for m in (
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "max_ms",
                    "payments",
                    "failures",
                    "throughput_per_s",
                    "meets_target_p95",
                )
            }
            for k in shapes
        },
        "setup_seconds": round(setup_s, 1),
        "warmup": warmups,
        **shapes,
        "ledger_check": ledger,
        "audit_verify": audit_chain,
        "server_log_problems": problems,
    }
    if capacity_rounds:
        print_capacity(report["capacity"])
    if args.profile:
        report["profile_per_paid_payment"] = profiles
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.json_out}")
    if not ledger.get("ok"):
        raise SystemExit("the ledger check failed after the run")


if __name__ == "__main__":
    main()
