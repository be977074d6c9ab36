"""The service as a separate process that a test can SIGKILL and start again, and the people,
merchant and terminal of a face-pay and credit world set up over its HTTP API.

The helpers of facepay.py and capture.py want an ``app`` only for ``app.state.sessions()`` (to fix a
liveness challenge to what a clip shows) and as the key of the world's takes; ``DbApp`` gives them
one on the same database URL as the service process, so they work unchanged against the running
service.

The crash test replays the same recorded people many times on purpose (``Frames``): a stream of
payments, loans and checkouts, each confirmed by a face, for as long as the kills take, from two
people's few seconds of clip."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
from capture import Take, fix_payment_challenge, material, new_session
from sqlalchemy import delete

from facetrust.settings import get_settings
from facetrust.store.db import make_engine, session_factory

REPO = Path(__file__).resolve().parent.parent


class DbApp:
    """Looks enough like the app for the test helpers: ``state.sessions()`` on the service's database."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.state = SimpleNamespace(sessions=session_factory(self.engine))

    def close(self) -> None:
        self.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """``python -m facetrust serve`` on a port of its own; ``kill()`` is SIGKILL, no goodbye."""

    def __init__(self, tmp_path: Path, database_url: str, *args: str, **env: str) -> None:
        self.args = args  # more options of ``serve``
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "service.log"
        self.env = {
            **os.environ,
            "FACETRUST_DATA_DIR": str(tmp_path / "data"),
            "FACETRUST_DATABASE_URL": database_url,
            "FACETRUST_MODELS_DIR": str(get_settings().resolved_models_dir),
            "FACETRUST_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0
        self.interrupted = 0  # kills that left a request without an answer
        self.start_seconds: list[float] = []

    def start(self, timeout: float = 120.0) -> None:
        t0 = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "facetrust", "serve", "--port", str(self.port), *self.args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    self.starts += 1
                    self.start_seconds.append(time.monotonic() - t0)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the service did not answer /health in {timeout} s")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """The command line as a separate process against the service's database."""
        return subprocess.run(
            [sys.executable, "-m", "facetrust", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )


def killed_during(service: Service, rng, send, max_delay: float = 0.4):
    """Send a request in a thread, SIGKILL the service after a random 0..max_delay s (so some kills
    land mid-transaction), start it again. Returns the response if one came back before the kill,
    else None (the client does not know what happened)."""
    out: dict = {}

    def run() -> None:
        try:
            out["r"] = send()
        except httpx.TransportError as e:
            out["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(rng.uniform(0, max_delay))
    service.kill()
    thread.join(timeout=60)
    assert not thread.is_alive()
    service.start()
    if "r" not in out:
        service.interrupted += 1
    return out.get("r")


def operator_headers(app: DbApp) -> dict:
    """Two tenants' API keys and an admin and a risk analyst's bearer tokens, made in the database
    as `facetrust tenants create` / `operators token` would."""
    from facetrust.identity import service

    with app.state.sessions() as s:
        (tenant, key_a), _ = service.create_tenant(s, "shop-a"), service.create_tenant(s, "shop-b")
        admin, _ = service.create_operator_token(s, "root", "admin", dt.timedelta(hours=4))
        analyst, _ = service.create_operator_token(s, "alice", "risk_analyst", dt.timedelta(hours=4))
        s.commit()
        tenant_id = tenant.id
    return {
        "a": {"X-Api-Key": key_a},
        "admin": {"Authorization": f"Bearer {admin}"},
        "op": {"Authorization": f"Bearer {analyst}"},
        "tenant_a": tenant_id,
    }


def forget_fingerprints(app: DbApp) -> None:
    """Delete every capture's content fingerprints (``CaptureFingerprint`` and ``FingerprintBand``),
    through the test's own connection to the service's database.

    Why: this test replays the same recorded people many times on purpose (two clips' few takes
    for a stream as long as the kills take), and the replay defence would rightly refuse a capture
    that shows moments an earlier one showed. The service is not told anything and no setting
    switches the defence off: the test forgets what the defence remembers, between captures."""
    from facetrust.liveness.models import CaptureFingerprint, FingerprintBand

    with app.state.sessions() as s:
        s.execute(delete(FingerprintBand))
        s.execute(delete(CaptureFingerprint))
        s.commit()


class Frames:
    """Each person's takes for payments (one quick action) and for loans and checkouts (two
    actions): first those no capture of the world used, then, once they are used up, the person's
    takes again in turn, a replay on purpose: each time with the content fingerprints forgotten
    first (``forget_fingerprints``) and a new faint noise on the pixels (``Take.burst``'s variant),
    so the exact-pixel check, which stays, does not see a picture twice either."""

    ROUNDS = 20  # how many times a person's takes may come round

    def __init__(self, shared_data: Path, app: DbApp) -> None:
        self.shared_data = shared_data
        self.app = app
        self.replays: dict[tuple[str, str], int] = {}

    def left(self, person, kind: str = "two") -> int:
        """How many more captures of the kind this run may make of the person."""
        takes = person.takes(kind)
        return len(material(self.app).free(takes)) + self.ROUNDS * len(takes) - self.replays.get((person.user, kind), 0)

    def take(self, person, kind: str) -> tuple[Take, int]:
        """The next take of the person and the variant of its pixels to send."""
        fresh = material(self.app).free(person.takes(kind))
        if fresh:
            return material(self.app).take(fresh), 0
        n = self.replays.get((person.user, kind), 0)
        assert n < self.ROUNDS * len(person.takes(kind)), f"{person.user}'s takes came round {self.ROUNDS} times"
        self.replays[(person.user, kind)] = n + 1
        takes = person.takes(kind)
        forget_fingerprints(self.app)
        return takes[n % len(takes)], 1 + n // len(takes)

    def burst(self, person, kind: str, nonce: str) -> tuple[Take, dict]:
        take, variant = self.take(person, kind)
        return take, take.burst(self.shared_data, nonce, variant)

    def payment(self, client, person, intent_id: str, token: str, nonce: str) -> dict:
        """The body of a payment capture by ``person``, the page's challenge fixed to what it shows."""
        take, body = self.burst(person, "payment", nonce)
        fix_payment_challenge(self.app, intent_id, take.actions)
        return body


def face_pass(client, app: DbApp, h: dict, frames: Frames, person, purpose: str) -> str:
    """A passed liveness session for ``purpose``: a two-action take of the person (``Frames``),
    the challenge fixed to its actions."""
    take, variant = frames.take(person, "two")
    created = new_session(client, app, h, purpose, list(take.actions))
    r = client.post(
        f"/v1/me/liveness-sessions/{created['session_id']}/capture",
        json=take.burst(frames.shared_data, created["nonce"], variant),
        headers=h,
    )
    assert r.status_code == 200 and r.json()["status"] == "passed", f"{take.name} (variant {variant}): {r.text}"
    return created["session_id"]


def ledger_facts(app: DbApp) -> dict:
    """From the database: every payment transaction's intent, paid intents, and credit plans with
    their installment counts and ledger transactions."""
    from sqlalchemy import func, select

    from facetrust.credit.models import CreditInstallment as Installment
    from facetrust.credit.models import CreditPlan as Plan
    from facetrust.payments.models import LedgerTransaction, PaymentIntent
    from facetrust.security.models import StoredTemplate as FaceTemplate

    with app.state.sessions() as s:
        refs = [r for r in s.scalars(select(LedgerTransaction.reference)) if r.startswith("payment:")]
        paid = {i.id: i.transaction_id for i in s.scalars(select(PaymentIntent).where(PaymentIntent.status == "paid"))}
        all_intents = s.scalar(select(func.count()).select_from(PaymentIntent))
        txns = set(s.scalars(select(LedgerTransaction.id)))
        plans = {
            p.id: {
                "key": p.idempotency_key,
                "periods": p.periods,
                "posted": p.transaction_id in txns,
                "installments": s.scalar(
                    select(func.count()).select_from(Installment).where(Installment.plan_id == p.id)
                ),
            }
            for p in s.scalars(select(Plan))
        }
        templates = [(t.account_id, t.purpose) for t in s.scalars(select(FaceTemplate))]
    return {"payment_refs": refs, "paid": paid, "intents": all_intents, "plans": plans, "templates": templates}


def dump(obj) -> str:
    return json.dumps(obj, indent=1, default=str)
