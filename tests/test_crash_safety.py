"""Crash safety: the service, run as its own process, is killed with SIGKILL at random moments while a
client pays by face, draws loans and buys on installments confirmed by face, and revokes face pay;
it is started again after every kill and the client retries what was interrupted, as a real terminal
and app would (the same idempotency keys; a new capture for every face check: the people's takes
not used before, then their takes again, replayed on purpose with the content fingerprints
forgotten in between, see crashworld.Frames). At the end the books and the audit chain must verify, every payment
the client saw paid must be in the ledger exactly once and nothing else paid, no credit plan may be
half-written, and no one who revoked face pay may still be recognised.

The short form (a few kills) runs in the normal suite. The long form:

    FACETRUST_CRASH_KILLS=30 FACETRUST_SHARED_DATA=/work/shared/data \\
        .venv/bin/python -m pytest tests/test_crash_safety.py -s

(FACETRUST_CRASH_SEED picks another random sequence; FACETRUST_TEST_DATABASE_URL runs it on PostgreSQL.)
With -s it prints its figures: kills, operations, acknowledged, charged, duplicates, lost money, time.
"""

from __future__ import annotations

import json
import os
import random
import time

import httpx
import pytest
from crashworld import DbApp, Frames, Service, dump, face_pass, killed_during, ledger_facts, operator_headers
from creditworld import quiet_rules
from facepay import LI, ZHANG, authority, consent, merchant_terminal, register, switch_on, token_of

pytestmark = pytest.mark.system

CNY = 100
FUND_FEN = 5_000 * CNY
FAST = 0.03  # seconds: the window to kill a request that needs no face in (they take some milliseconds)


class Run:
    """The client side of the run: what it asked for and what it saw acknowledged."""

    def __init__(self, tmp_path, database_url, shared_data, seed: int) -> None:
        self.rng = random.Random(seed)
        registry = authority(tmp_path, shared_data, [LI, ZHANG])
        self.service = Service(
            tmp_path,
            database_url,
            FACETRUST_AUTHORITY_REGISTRY=str(registry),
            # This test is about crashes, not risk: a stream of payments and draws from one account
            # within minutes is what the default rules rightly stop, so a rule set that approves all.
            FACETRUST_RISK_RULES_PATH=str(quiet_rules(tmp_path)),
            # ... and not about load either: the stream is faster than the per-minute rate limits.
            **{
                f"FACETRUST_RATE_LIMIT_{g}_PER_MINUTE": "0"
                for g in ("AUTH", "FACE", "CAPTURE", "TERMINAL", "OPERATOR", "IP")
            },
        )
        self.service.start()
        try:
            self._setup(database_url, shared_data)
        except BaseException:
            self.service.stop()
            raise

    def _setup(self, database_url, shared_data) -> None:
        self.app = DbApp(database_url)
        self.client = httpx.Client(base_url=self.service.url, timeout=120)
        self.hs = operator_headers(self.app)
        self.frames = Frames(shared_data, self.app)
        c, app, hs = self.client, self.app, self.hs
        self.h = {}
        for person in (LI, ZHANG):
            self.h[person.user] = register(c, app, hs, shared_data, person, fund_fen=FUND_FEN)
            assert switch_on(c, app, self.h[person.user], shared_data, person).status_code == 201
        consent(c, self.h[LI.user], "credit_face_verification")
        li_account = c.get("/v1/me", headers=self.h[LI.user]).json()["account_id"]
        r = c.put(
            f"/v1/operator/accounts/{li_account}/credit-line",
            headers=hs["op"],
            json={"limit_fen": 200_000 * CNY, "reason": "crash test"},
        )
        assert r.status_code == 200, r.text
        self.terminal = merchant_terminal(c, hs, hs["tenant_a"])
        r = c.post(
            "/v1/operator/merchants",
            json={"tenant_id": hs["tenant_a"], "name": "Mi Store", "fee_bps": 60},
            headers=hs["admin"],
        )
        assert r.status_code == 201, r.text
        self.merchant_id = r.json()["merchant_id"]
        self.n = 0
        self.requested: dict[str, tuple[str, int]] = {}  # intent id -> (payer, amount)
        self.paid: dict[str, str] = {}  # intent id -> transaction id, as the terminal saw it
        self.declined: dict[str, str] = {}
        self.plans: dict[str, str] = {}  # loan key or checkout id -> plan id, as the app saw it
        self.loans_fen = 0
        self.operations = 0
        self.retries = 0

    def close(self) -> None:
        self.client.close()
        self.service.stop()
        self.app.close()

    # --- sending, maybe with a kill -------------------------------------------------------------

    def send(self, kill: bool, request, max_delay: float = 0.4):
        """The response, or None when the service died before answering (then it is running again).
        Requests that need no face answer in some milliseconds: kill those sooner (max_delay)."""
        if kill:
            return killed_during(self.service, self.rng, request, max_delay)
        return request()

    @staticmethod
    def lost(r) -> bool:
        return r is None or r.status_code >= 500

    # --- operations -------------------------------------------------------------------------------

    def pay(self, person, kill_at: str | None, capture: bool = True) -> None:
        """One face payment: the terminal's intent, then the payer's frames (kill_at: intent | frames)."""
        self.operations += 1
        self.n += 1
        order = f"order-{self.n}"
        amount = self.rng.randint(1, 30) * CNY + self.rng.randint(0, 99)
        r = self.send(kill_at == "intent", lambda: self.terminal.intent(amount, order), FAST)
        if self.lost(r):  # the same key again: the same intent, never a second one
            self.retries += 1
            r = self.terminal.intent(amount, order)
        assert r.status_code in (200, 201), r.text
        intent = r.json()
        self.requested[intent["intent_id"]] = (person.user, amount)
        if not capture:
            return
        token = token_of(intent)
        view = self.client.get(f"/v1/capture/{token}").json()
        body = self.frames.payment(
            self.client, person, intent["intent_id"], token, view["challenge"]["nonce"]
        )  # read before the clock starts
        r = self.send(kill_at == "frames", lambda: self.client.post(f"/v1/capture/{token}/frames", json=body))
        if self.lost(r):
            # Processed before the kill or not? Ask; capture again (a new take) only if still waiting.
            self.retries += 1
            view = self.client.get(f"/v1/capture/{token}").json()
            if view["status"] == "awaiting_face":
                body = self.frames.payment(self.client, person, intent["intent_id"], token, view["challenge"]["nonce"])
                r = self.client.post(f"/v1/capture/{token}/frames", json=body)
                assert r.status_code == 200, r.text
        seen = self.terminal.call("GET", f"/v1/terminal/payment-intents/{intent['intent_id']}")
        assert seen.status_code == 200, seen.text
        if seen.json()["status"] == "paid":
            self.paid[intent["intent_id"]] = seen.json()["transaction_id"]
        else:
            self.declined[intent["intent_id"]] = seen.json()["status"]

    def loan(self, kill: bool) -> None:
        """A loan drawn into Li's wallet, confirmed by a live face moments before."""
        self.operations += 1
        self.n += 1
        key = f"loan-{self.n}"
        amount = self.rng.randint(5, 20) * 100 * CNY

        def draw(session_id: str):
            return self.client.post(
                "/v1/me/credit/loans",
                headers=self.h[LI.user],
                json={
                    "product_id": "cash-loan-annuity",
                    "amount_fen": amount,
                    "periods": 12,
                    "liveness_session_id": session_id,
                    "idempotency_key": key,
                },
            )

        sid = face_pass(self.client, self.app, self.h[LI.user], self.frames, LI, "loan")
        r = self.send(kill, lambda: draw(sid))
        if self.lost(r):  # a new face check, the same key: the first drawdown if it was made
            self.retries += 1
            r = draw(face_pass(self.client, self.app, self.h[LI.user], self.frames, LI, "loan"))
        assert r.status_code in (200, 201), r.text
        self.plans[f"loan:{key}"] = r.json()["plan_id"]
        self.loans_fen += amount

    def checkout(self, kill_at: str | None, confirm: bool = True) -> None:
        """A merchant's installment checkout, confirmed by Li's live face (kill_at: create | confirm)."""
        self.operations += 1
        self.n += 1
        amount = self.rng.randint(10, 40) * 100 * CNY

        def create():
            return self.client.post(
                f"/v1/accounts/{LI.user}/credit/checkouts",
                headers=self.hs["a"],
                json={
                    "merchant_id": self.merchant_id,
                    "merchant_order_id": f"co-{self.n}",
                    "amount_fen": amount,
                    "category": "electronics",
                },
            )

        r = self.send(kill_at == "create", create, FAST)
        if self.lost(r):
            self.retries += 1
            r = create()
        assert r.status_code in (200, 201), r.text
        checkout_id = r.json()["checkout_id"]
        if not confirm:
            return

        def confirm_with(session_id: str):
            return self.client.post(
                f"/v1/me/credit/checkouts/{checkout_id}/confirm",
                headers=self.h[LI.user],
                json={"product_id": "mall-installment-fee", "periods": 12, "liveness_session_id": session_id},
            )

        sid = face_pass(self.client, self.app, self.h[LI.user], self.frames, LI, "installment")
        r = self.send(kill_at == "confirm", lambda: confirm_with(sid))
        if self.lost(r):
            self.retries += 1
            seen = self.client.get(f"/v1/me/credit/checkouts/{checkout_id}", headers=self.h[LI.user]).json()
            if seen["plan_id"] is None:  # not confirmed before the kill: confirm again with a new face check
                r = confirm_with(face_pass(self.client, self.app, self.h[LI.user], self.frames, LI, "installment"))
                assert r.status_code == 201, r.text
                plan_id = r.json()["plan_id"]
            else:
                plan_id = seen["plan_id"]
        else:
            assert r.status_code == 201, r.text
            plan_id = r.json()["plan_id"]
        self.plans[f"checkout:{checkout_id}"] = plan_id

    def revoke(self, person, kill: bool, path: str) -> None:
        """Face pay off (DELETE /v1/me/face-pay) or its consent withdrawn; a retry after a kill may
        find it already done (409 consent_not_granted)."""
        self.operations += 1
        h = self.h[person.user]
        r = self.send(kill, lambda: self.client.delete(path, headers=h), FAST)
        if self.lost(r):
            self.retries += 1
            r = self.client.delete(path, headers=h)
            assert r.status_code == 200 or (
                r.status_code == 409 and r.json()["error"]["code"] == "consent_not_granted"
            ), r.text
        else:
            assert r.status_code == 200, r.text
        status = self.client.get("/v1/me/face-pay", headers=h).json()
        assert status["enabled"] is False and status["consent_granted"] is False, status

    def not_recognised(self, person) -> None:
        """A capture by ``person``'s live face is declined as not recognised."""
        self.n += 1
        r = self.terminal.intent(500, f"order-{self.n}")
        assert r.status_code == 201, r.text
        intent_id, token = r.json()["intent_id"], token_of(r.json())
        self.requested[intent_id] = (person.user, 500)
        view = self.client.get(f"/v1/capture/{token}").json()
        r = self.client.post(
            f"/v1/capture/{token}/frames",
            json=self.frames.payment(self.client, person, intent_id, token, view["challenge"]["nonce"]),
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["decline_reason"]) == ("declined", "not_recognised"), r.text
        self.declined[intent_id] = "declined"

    def wallet(self, person) -> int:
        return self.client.get("/v1/me/wallet", headers=self.h[person.user]).json()["balance_fen"]


def run_stream(run: Run, kills: int) -> None:
    """Operations in random order, a kill during a random request of most of them, until ``kills``."""
    rng = run.rng
    kill_p = 0.75
    # Zhang pays once (recognised), then revokes face pay somewhere in the first half of the stream.
    run.pay(ZHANG, rng.choice(["intent", "frames", None]))
    zhang_revoked = False
    while run.service.kills < kills:
        kill = rng.random() < kill_p
        if not zhang_revoked and (run.service.kills >= kills // 3 or rng.random() < 0.15):
            run.revoke(ZHANG, kill, "/v1/me/face-pay")
            zhang_revoked = True
            continue
        if run.frames.left(LI, "payment") >= 5 and run.frames.left(LI, "two") >= 5:
            kind = rng.choices(["pay", "loan", "checkout"], weights=[55, 20, 25])[0]
            if kind == "pay":
                where = rng.choice(["intent", "frames", "frames"])
                run.pay(LI, where if kill else None)
            elif kind == "loan":
                run.loan(kill)
            else:
                run.checkout(rng.choice(["create", "confirm", "confirm"]) if kill else None)
        else:  # out of captures of Li's face: requests that need no face
            if rng.random() < 0.5:
                run.pay(LI, "intent" if kill else None, capture=False)
            else:
                run.checkout("create" if kill else None, confirm=False)
    if not zhang_revoked:
        run.revoke(ZHANG, False, "/v1/me/face-pay")
    # After one more restart the gallery is rebuilt from the database: Zhang is not in it.
    run.service.kill()
    run.service.start()
    run.not_recognised(ZHANG)
    # Li withdraws the face-pay consent, killed mid-request: her template goes with it.
    run.revoke(LI, True, "/v1/me/consents/face_pay")
    run.not_recognised(LI)


def check_books(run: Run) -> dict:
    facts = ledger_facts(run.app)
    # Every payment seen paid is in the ledger exactly once (reference payment:<intent>), nothing
    # else was paid, and no intent is paid twice.
    refs = facts["payment_refs"]
    duplicates = len(refs) - len(set(refs))
    assert duplicates == 0, refs
    assert set(refs) == {f"payment:{i}" for i in facts["paid"]}, (refs, facts["paid"])
    assert facts["paid"] == run.paid, dump({"db": facts["paid"], "client": run.paid})
    # One intent per idempotency key: retried intent POSTs made no second intent.
    assert facts["intents"] == len(run.requested), (facts["intents"], len(run.requested))
    # Plans: each one the client saw, each whole (its installments and its ledger posting), no others.
    assert sorted(facts["plans"]) == sorted(run.plans.values()), dump({"db": facts["plans"], "client": run.plans})
    for plan_id, plan in facts["plans"].items():
        assert plan["installments"] == plan["periods"] and plan["posted"], (plan_id, plan)
    # Money: the wallets hold what was funded, drawn and paid, to the fen.
    spent = {p: sum(run.requested[i][1] for i in run.paid if run.requested[i][0] == p) for p in (LI.user, ZHANG.user)}
    lost = {
        LI.user: FUND_FEN + run.loans_fen - spent[LI.user] - run.wallet(LI),
        ZHANG.user: FUND_FEN - spent[ZHANG.user] - run.wallet(ZHANG),
    }
    assert lost == {LI.user: 0, ZHANG.user: 0}, lost
    # No face-pay template left for anyone who revoked (both did by the end).
    assert [t for t in facts["templates"] if t[1] == "face_pay"] == [], facts["templates"]
    # The command line's own checks, as separate processes on the same database.
    ledger = run.service.cli("ledger", "check", "--json")
    assert ledger.returncode == 0 and json.loads(ledger.stdout)["ok"], ledger.stdout + ledger.stderr
    audit = run.service.cli("audit", "verify", "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["ok"], audit.stdout + audit.stderr
    return {
        "duplicates": duplicates,
        "lost_fen": sum(lost.values()),
        "charged": len(facts["paid"]),
        "charged_fen": sum(run.requested[i][1] for i in facts["paid"]),
        "plans": len(facts["plans"]),
        "ledger_transactions": json.loads(ledger.stdout)["transactions"],
    }


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path, database_url, shared_data):
    kills = int(os.environ.get("FACETRUST_CRASH_KILLS", "6"))
    seed = int(os.environ.get("FACETRUST_CRASH_SEED", "20261124"))
    t0 = time.monotonic()
    run = Run(tmp_path, database_url, shared_data, seed)
    try:
        setup_s = time.monotonic() - t0
        run_stream(run, kills)
        figures = check_books(run)
    finally:
        run.close()
    figures.update(
        kills=run.service.kills,
        interrupted=run.service.interrupted,
        operations=run.operations,
        retries=run.retries,
        requested=len(run.requested),
        acknowledged=len(run.paid),
        declined=len(run.declined),
        seed=seed,
        setup_s=round(setup_s, 1),
        total_s=round(time.monotonic() - t0, 1),
        start_s_max=round(max(run.service.start_seconds), 1),
    )
    print("\ncrash safety:", json.dumps(figures))
    assert run.service.kills >= kills
    assert figures["duplicates"] == 0 and figures["lost_fen"] == 0
