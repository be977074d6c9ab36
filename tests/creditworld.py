"""A credit world for tests: Li (real-name authenticated by face, with the credit consent and a
funded wallet), Zhang (another real person), a merchant, an operator, a movable credit clock, and
liveness passes for installments and loans: real two-action captures over HTTP while the world has
unused takes of the person (``capture.py``), then, for the tests that need more passes of Li than
the shared clips hold, passes stored as the liveness service stores one (``mint_pass``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from capture import catalogue, clip_frames, labels, material, passed_session
from click.testing import CliRunner
from conftest import app_over, restore, settings_key, world_snapshot
from facepay import LI, ZHANG, Person, consent, face_pay_world, register, take_for

from facetrust.cli import main as cli
from facetrust.credit import books
from facetrust.payments import ledger

CNY = 100  # fen per yuan

# A rule set that approves everything (its one rule cannot fire), for tests about something else
# than risk that make many draws or payments within minutes, which the default rules rightly stop.
QUIET_RULES = """
version: test-quiet-2
description: approves everything
rules:
  - {id: never, description: never, description_zh: 不会触发, applies_to: [payment],
     when: {feature: amount_fen, op: "<", value: 0},
     score: 1, reasons: [never]}
typologies:
  - {id: never, description: never, description_zh: 不会触发, rules: [never], min_score: 1, action: review}
"""


def quiet_rules(tmp_path: Path) -> Path:
    path = tmp_path / "quiet-rules.yaml"
    path.write_text(QUIET_RULES)
    return path


class Clock:
    """The credit clock, moved by the test: months pass without waiting for them."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)  # noon in Beijing

    def __call__(self) -> dt.datetime:
        return self.now

    def to(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(4, 0), dt.UTC)


def mint_pass(app, shared_data: Path, account_id: str, purpose: str, person: Person, n: int) -> str:
    """A passed liveness session of ``account_id`` for ``purpose``, stored as the liveness service
    stores one, without a capture: the session is issued by ``service.create_session`` (consent,
    account status, lockout and a random challenge at the purpose's floor, as for any session) and
    decided by the service's own ``_finish`` (status passed, decided now, the live face sealed with
    the service's keyring, the risk event and the audit record of a decision). The live face is the
    engine's template of a real frame of ``person``'s clip that no capture take uses (the ``n``-th such
    frame, well apart from the others); the stored checks and versions say it was minted.

    Why: a credit test confirms up to eight installments and loans in one world, each needing a
    fresh pass of Li's face, and the replay defence rightly refuses a capture that shows moments an
    earlier one showed (the same frames re-encoded, the odd frames of the same window, overlapping
    windows, on any account). Li's clip holds two two-action stretches, four with mirroring, one of
    which her real-name check uses: too few. So ``World.face_pass`` uses real captures over HTTP
    while it can, and a world's first pass of each purpose is always a real capture; only the passes
    beyond the clips' material are minted. Never used for a face payment, real-name or enrolment."""
    import datetime as dt

    from facetrust.identity.models import Account
    from facetrust.liveness import service as liveness
    from facetrust.liveness.checks import Check
    from facetrust.liveness.decision import LivenessDecision

    ctx = app.state.liveness  # built by the world's first liveness request (a real capture)
    frame_index = unused_frames(person)[n * 7 % len(unused_frames(person))]
    frames, _ = clip_frames(shared_data, person.clip, frame_index, frame_index + 1)
    analysis = ctx.engine.analyse_pixels(frames[0])
    assert analysis.template is not None and analysis.subject is not None, f"no face in frame {frame_index}"
    attack = ctx.texture.sequence_score([ctx.texture.frame_score(frames[0], analysis.subject)])
    why = (
        "test helper: a pass stored without a capture, because the replay defence rightly refuses the "
        "same moments twice and the shared clips hold too few distinct two-action stretches"
    )
    result = LivenessDecision(
        passed=True,
        score=round(1.0 - attack, 4),
        checks={"minted": Check(True, None, {"note": why, "clip": person.clip, "frame": frame_index})},
        versions={
            "decision": "test-minted-pass",
            "embedding": ctx.engine.model_id,
            "calibration": ctx.engine.calibration.calibration_id,
        },
        reference_index=0,
        reference=analysis,
    )
    with app.state.sessions() as s:
        row = liveness.create_session(s, ctx, s.get(Account, account_id), purpose, None)
        liveness._finish(
            s,
            ctx,
            row,
            True,
            [],
            dt.datetime.now(dt.UTC),
            result,
            frame_count=1,
            audit_details={"minted_by_test_helper": True},
        )
        s.commit()
        return row.id


def unused_frames(person: Person) -> list[int]:
    """Frames of the person's clip outside every take of the catalogue and every labelled action,
    and away from the authority's photo."""
    label = labels()[person.clip]
    busy = [(t.first, t.last) for t in catalogue(person.clip)]
    busy += [
        (e["start_frame"] - 3, e["end_frame"] + 3)
        for e in label.get("events", []) + label.get("other_events", [])
        if e["action"] not in ("cheek_puff_pursed_lips", "smile", "talking", "static_yaw", "smile_teeth")
    ]
    busy.append((person.photo_frame - 10, person.photo_frame + 10))
    return [f for f in range(int(label["frames"])) if not any(a <= f <= b for a, b in busy)]


def build(data_dir: Path, database_url: str, shared_data: Path, settings: dict) -> dict:
    """A credit world from an empty database: Li registered (real-name authentication by face) with
    a funded wallet and the credit consent, a merchant; returns what a test needs to use it."""
    ctx, client, app, hs, tenant = face_pay_world(data_dir, database_url, shared_data, [LI, ZHANG], **settings)
    try:
        h = register(client, app, hs, shared_data, LI, fund_fen=20_000 * CNY)
        consent(client, h, "credit_face_verification")
        account_id = client.get("/v1/me", headers=h).json()["account_id"]
        r = client.post(
            "/v1/operator/merchants", json={"tenant_id": tenant, "name": "Mi Store", "fee_bps": 60}, headers=hs["admin"]
        )
        assert r.status_code == 201, r.text
        return {
            "hs": hs,
            "tenant": tenant,
            "h": h,
            "account_id": account_id,
            "merchant_id": r.json()["merchant_id"],
            "used": list(material(app).used),
        }
    finally:
        ctx.__exit__(None, None, None)


class World:
    """Li (the borrower, real-name authenticated by face) and Zhang (another real person), a
    merchant, a credit line, and liveness passes for credit (``face_pass``)."""

    def __init__(self, tmp_path: Path, database_url: str, shared_data: Path, **settings) -> None:
        """The world built once per session for these settings (``build``), copied for this test
        (conftest's ``world_snapshot``), with an app of its own over the copy."""
        snap = world_snapshot(
            ("credit", settings_key(settings)), lambda data_dir, url: build(data_dir, url, shared_data, settings)
        )
        restore(snap, tmp_path, database_url)
        self.ctx = app_over(
            tmp_path, database_url, authority_registry=tmp_path / "registry" / "citizens.csv", **settings
        )
        self.client, self.app = self.ctx.__enter__()
        state = snap.state
        self.hs = {caller: dict(h) for caller, h in state["hs"].items()}
        self.tenant, self.account_id, self.merchant_id = state["tenant"], state["account_id"], state["merchant_id"]
        self.h = dict(state["h"])
        material(self.app).used[:] = state["used"]  # the takes the build's captures showed
        self.shared_data = shared_data
        self.real_passes: set[str] = set()  # purposes this world has had a real capture for
        self.minted = 0
        self.clock = Clock()
        self.app.state.credit.clock = self.clock

    def close(self) -> None:
        self.ctx.__exit__(None, None, None)

    def grant(self, limit_fen: int):
        return self.client.put(
            f"/v1/operator/accounts/{self.account_id}/credit-line",
            headers=self.hs["op"],
            json={"limit_fen": limit_fen, "reason": "test"},
        )

    def face_pass(self, purpose: str, face: Person = LI) -> str:
        """A passed liveness session of Li's account for ``purpose``, showing ``face``: a real capture
        over HTTP of the person's next two-action take that this world has not used; when Li's takes
        are used up, a minted pass of Li (``mint_pass``), once the world has had a real one for the
        purpose."""
        if face != LI or material(self.app).free(face.takes("two")) or purpose not in self.real_passes:
            take = take_for(self.app, face, "two")
            session_id = passed_session(self.client, self.app, self.h, self.shared_data, purpose, take)
            self.real_passes.add(purpose)
            return session_id
        self.minted += 1
        return mint_pass(self.app, self.shared_data, self.account_id, purpose, LI, self.minted)

    def checkout(self, amount_fen: int, order: str, category: str = "electronics") -> dict:
        r = self.client.post(
            f"/v1/accounts/{LI.user}/credit/checkouts",
            headers=self.hs["a"],
            json={
                "merchant_id": self.merchant_id,
                "merchant_order_id": order,
                "amount_fen": amount_fen,
                "category": category,
            },
        )
        assert r.status_code == 201, r.text
        return r.json()

    def confirm(self, checkout_id: str, session_id: str, product: str = "mall-installment-fee", periods: int = 12):
        return self.client.post(
            f"/v1/me/credit/checkouts/{checkout_id}/confirm",
            headers=self.h,
            json={"product_id": product, "periods": periods, "liveness_session_id": session_id},
        )

    def loan(self, amount_fen: int, session_id: str, key: str, product: str = "cash-loan-annuity", periods: int = 12):
        return self.client.post(
            "/v1/me/credit/loans",
            headers=self.h,
            json={
                "product_id": product,
                "amount_fen": amount_fen,
                "periods": periods,
                "liveness_session_id": session_id,
                "idempotency_key": key,
            },
        )

    def repay(self, plan_id: str, kind: str, key: str, amount_fen: int | None = None):
        body = {"kind": kind, "idempotency_key": key, **({"amount_fen": amount_fen} if amount_fen else {})}
        return self.client.post(f"/v1/me/credit/plans/{plan_id}/repayments", headers=self.h, json=body)

    def wallet(self) -> int:
        return self.client.get("/v1/me/wallet", headers=self.h).json()["balance_fen"]

    def line(self) -> dict:
        return self.client.get("/v1/me/credit", headers=self.h).json()["line"]

    def books_ok(self) -> None:
        with self.app.state.sessions() as s:
            report = ledger.check(s)
            problems = report.problems + books.check(s)
        assert not problems, problems
        result = self.cli("ledger", "check", "--json")
        assert result.exit_code == 0 and json.loads(result.output)["ok"], result.output
        assert json.loads(result.output)["transactions"] == report.transactions  # the same database

    def cli(self, *args: str):
        """Run the command line against this world's database (settings are read afresh for it)."""
        from facetrust.settings import get_settings

        get_settings.cache_clear()
        try:
            return CliRunner().invoke(
                cli,
                list(args),
                env={
                    "FACETRUST_DATABASE_URL": self.app.state.engine.url.render_as_string(hide_password=False),
                    "FACETRUST_DATA_DIR": str(self.app.state.settings.data_dir),
                },
            )
        finally:
            get_settings.cache_clear()


def error(r) -> str:
    return r.json()["error"]["code"]
