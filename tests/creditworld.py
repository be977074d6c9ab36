"""A credit world for tests: Li (real-name authenticated by face, with the credit consent and a
funded wallet), Zhang (another real person), a merchant, an operator, a movable credit clock, and
fresh passive liveness passes cut from frames no capture used before."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from facetrust.cli import main as cli
from facetrust.credit import books
from facetrust.payments import ledger

from capture import as_burst, clip_frames, new_session
from facepay import LI, ZHANG, Person, consent, face_pay_world, register

CNY = 100  # fen per yuan

# A rule set that approves everything (its one rule cannot fire), for tests about something else
# than risk that make many draws or payments within minutes, which the default rules rightly stop.
QUIET_RULES = """
version: test-quiet-1
description: approves everything
rules:
  - {id: never, description: never, applies_to: [payment], when: {feature: amount_fen, op: "<", value: 0},
     score: 1, reasons: [never]}
typologies:
  - {id: never, description: never, rules: [never], min_score: 1, action: review}
"""


def quiet_rules(tmp_path: Path) -> Path:
    path = tmp_path / "quiet-rules.yaml"
    path.write_text(QUIET_RULES)
    return path


class Clock:
    """The credit clock, moved by the test: months pass without waiting for them."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.timezone.utc)  # noon in Beijing

    def __call__(self) -> dt.datetime:
        return self.now

    def to(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(4, 0), dt.timezone.utc)


class World:
    """Li (the borrower, real-name authenticated by face) and Zhang (another real person), a
    merchant, a credit line, and fresh face captures cut from frames no capture used before."""

    def __init__(self, tmp_path: Path, database_url: str, shared_data: Path, **settings) -> None:
        self.ctx, self.client, self.app, self.hs, self.tenant = face_pay_world(tmp_path, database_url, shared_data,
                                                                               [LI, ZHANG], **settings)
        self.shared_data = shared_data
        self.next_frame = {LI.user: LI.pay_frames[0], ZHANG.user: ZHANG.pay_frames[0]}
        self.clock = Clock()
        self.h = register(self.client, self.app, self.hs, shared_data, LI, fund_fen=20_000 * CNY)
        consent(self.client, self.h, "credit_face_verification")
        self.account_id = self.client.get("/v1/me", headers=self.h).json()["account_id"]
        r = self.client.post("/v1/operator/merchants", json={"tenant_id": self.tenant, "name": "Mi Store", "fee_bps": 60},
                             headers=self.hs["admin"])
        assert r.status_code == 201, r.text
        self.merchant_id = r.json()["merchant_id"]
        self.app.state.credit = None  # built on first use, then given the test's clock below
        self.client.get("/v1/me/credit", headers=self.h)
        self.app.state.credit.clock = self.clock

    def close(self) -> None:
        self.ctx.__exit__(None, None, None)

    def grant(self, limit_fen: int):
        return self.client.put(f"/v1/operator/accounts/{self.account_id}/credit-line", headers=self.hs["op"],
                               json={"limit_fen": limit_fen, "reason": "test"})

    def face_pass(self, purpose: str, face: Person = LI) -> str:
        """A passed passive liveness session of Li's account, showing ``face`` (8 unused frames)."""
        created = new_session(self.client, self.app, self.h, purpose, actions=[])
        start = self.next_frame[face.user]
        assert start + 8 <= face.pay_frames[1], "out of unused frames"
        self.next_frame[face.user] = start + 8
        frames, times = clip_frames(self.shared_data, face.clip, start, start + 8)
        r = self.client.post(f"/v1/me/liveness-sessions/{created['session_id']}/capture",
                             json=as_burst(frames, times, created["nonce"]), headers=self.h)
        assert r.status_code == 200 and r.json()["status"] == "passed", r.text
        return created["session_id"]

    def checkout(self, amount_fen: int, order: str, category: str = "electronics") -> dict:
        r = self.client.post(f"/v1/accounts/{LI.user}/credit/checkouts", headers=self.hs["a"],
                             json={"merchant_id": self.merchant_id, "merchant_order_id": order, "amount_fen": amount_fen,
                                   "category": category})
        assert r.status_code == 201, r.text
        return r.json()

    def confirm(self, checkout_id: str, session_id: str, product: str = "mall-installment-fee", periods: int = 12):
        return self.client.post(f"/v1/me/credit/checkouts/{checkout_id}/confirm", headers=self.h,
                                json={"product_id": product, "periods": periods, "liveness_session_id": session_id})

    def loan(self, amount_fen: int, session_id: str, key: str, product: str = "cash-loan-annuity", periods: int = 12):
        return self.client.post("/v1/me/credit/loans", headers=self.h,
                                json={"product_id": product, "amount_fen": amount_fen, "periods": periods,
                                      "liveness_session_id": session_id, "idempotency_key": key})

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
            return CliRunner().invoke(cli, list(args), env={
                "FACETRUST_DATABASE_URL": self.app.state.engine.url.render_as_string(hide_password=False),
                "FACETRUST_DATA_DIR": str(self.app.state.settings.data_dir)})
        finally:
            get_settings.cache_clear()



def error(r) -> str:
    return r.json()["error"]["code"]
