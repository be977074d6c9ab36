"""Face-confirmed credit over HTTP, with real faces from the shared clips: installment checkout and
loan drawdown confirmed by a live face, their refusals (no fresh pass, another person's face, no
credit, a frozen account), repayments, partial prepayment, payoff and overdue penalties as the
months pass, concurrent checkouts against one credit line, and the books after all of it."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from creditworld import CNY, World, error, quiet_rules
from facepay import LI, ZHANG

import facetrust
from facetrust.credit import face, plans, schedule
from facetrust.credit.models import CreditPlan
from facetrust.identity.models import Account
from facetrust.liveness.models import LivenessSession
from facetrust.payments import ledger
from facetrust.payments.models import LedgerTransaction
from facetrust.risk.models import RiskDecision, RiskEvent
from facetrust.security.models import FailedFaceAttempt


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    w = World(tmp_path, database_url, shared_data)
    yield w
    w.close()


@pytest.fixture()
def quiet_world(tmp_path, database_url, shared_data):
    """The world under a rule set that approves everything: for the tests that draw credit many
    times within minutes, which the default rules rightly send to review."""
    w = World(tmp_path, database_url, shared_data, risk_rules_path=quiet_rules(tmp_path))
    yield w
    w.close()


def test_installment_checkout_confirmed_by_face(world):
    """The offers and the schedule shown before confirming are the exact schedule that is booked;
    the merchant is settled less the platform fee and the credit line goes down, in one step."""
    assert world.grant(10_000 * CNY).status_code == 200
    checkout = world.checkout(5_999 * CNY, "mi-1")
    offered = {(o["product_id"], o["periods"]) for o in checkout["offers"]}
    assert offered == {(p, n) for p in ("mall-installment-fee", "mall-installment-interest") for n in (3, 6, 12, 24)}
    quote = world.client.get(
        f"/v1/me/credit/checkouts/{checkout['checkout_id']}/quote",
        headers=world.h,
        params={"product_id": "mall-installment-fee", "periods": 12},
    ).json()
    expected = schedule.build(599_900, 12, schedule.Pricing("flat_fee", Decimal("0.006")))
    assert quote["apr"] == str(expected.apr) and Decimal(quote["apr"]) > Decimal("0.072") * Decimal("1.7")
    assert [line["fee_fen"] for line in quote["schedule"]] == [3599] * 11 + [3604]
    assert sum(line["principal_fen"] for line in quote["schedule"]) == 599_900
    assert quote["schedule"][0]["due_date"] == "2026-12-23" and quote["total_cost_fen"] == 43_193

    r = world.confirm(checkout["checkout_id"], world.face_pass("installment"))
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["apr"] == quote["apr"] and plan["status"] == "active" and plan["outstanding_principal_fen"] == 599_900
    assert [i["amount_fen"] for i in plan["installments"]] == [line["payment_fen"] for line in quote["schedule"]]
    assert plan["next_payment"]["number"] == 1 and plan["next_payment"]["due_date"] == "2026-12-23"
    assert world.line() == {"limit_fen": 1_000_000, "used_fen": 599_900, "available_fen": 400_100, "status": "active"}
    with world.app.state.sessions() as s:
        assert ledger.balance(s, ledger.MERCHANT, world.merchant_id) == 599_900 - ledger.fee_for(599_900, 60)
        assert ledger.balance(s, ledger.CREDIT, world.account_id) == -599_900
        assert s.get(LivenessSession, plan_face := s.get(CreditPlan, plan["plan_id"]).liveness_session_id).used_at
        assert s.get(LivenessSession, plan_face).used_by == f"installment:{plan['plan_id']}"
    again = world.confirm(checkout["checkout_id"], world.face_pass("installment"))
    assert again.status_code == 409 and error(again) == "checkout_already_confirmed"
    # The user sees the plan among their plans; an operator sees it with its face check.
    mine = world.client.get("/v1/me/credit/plans", headers=world.h).json()
    assert [p["plan_id"] for p in mine] == [plan["plan_id"]] and mine[0]["face_check"] is None
    seen = world.client.get(f"/v1/operator/credit/plans/{plan['plan_id']}", headers=world.hs["op"]).json()
    assert seen["face_check"]["score"] >= seen["face_check"]["threshold"]
    world.books_ok()


def test_checkout_refusals_leave_nothing_behind(world):
    """No pass, a pass for another purpose, a stale pass, another person's face, too little
    credit, a frozen account: each refused with its code, and no plan, no money moved."""
    assert world.grant(3_000 * CNY).status_code == 200
    checkout = world.checkout(2_000 * CNY, "mi-2")["checkout_id"]
    assert error(world.confirm(checkout, "no-such-session")) == "liveness_required"
    assert error(world.confirm(checkout, world.face_pass("loan"))) == "liveness_required"
    stale = world.face_pass("installment")
    with world.app.state.sessions() as s:
        row = s.get(LivenessSession, stale)
        row.decided_at = row.decided_at - dt.timedelta(seconds=121)
        s.commit()
    r = world.confirm(checkout, stale)
    assert r.status_code == 403 and error(r) == "liveness_required" and "too old" in r.json()["error"]["message"]

    r = world.confirm(checkout, world.face_pass("installment", face=ZHANG))
    assert r.status_code == 403 and error(r) == "face_mismatch"
    with world.app.state.sessions() as s:  # the mismatch is kept on record: a lockout failure and a risk alert
        assert s.query(FailedFaceAttempt).filter_by(account_id=world.account_id).count() == 1
        failed = (
            s.query(RiskEvent).filter_by(kind="face_verification", outcome="failed", account_id=world.account_id).one()
        )
        assert json.loads(failed.data) == {"purpose": "installment"}
        assert s.query(RiskDecision).filter_by(event_seq=failed.seq).count() == 1

    big = world.checkout(3_500 * CNY, "mi-3")["checkout_id"]
    r = world.confirm(big, world.face_pass("installment"))
    assert r.status_code == 409 and error(r) == "insufficient_credit" and r.json()["error"]["available_fen"] == 300_000

    pass_before_freeze = world.face_pass("installment")
    assert (
        world.client.post(
            f"/v1/operator/accounts/{world.account_id}/freeze",
            headers=world.hs["op"],
            json={"reason": "cash-out suspected"},
        ).json()["status"]
        == "frozen"
    )
    r = world.confirm(checkout, pass_before_freeze)
    assert r.status_code == 403 and error(r) == "account_frozen"
    with world.app.state.sessions() as s:
        assert s.query(CreditPlan).count() == 0
        assert s.query(LedgerTransaction).filter(LedgerTransaction.kind == "installment").count() == 0
    assert world.line()["used_fen"] == 0
    world.client.post(
        f"/v1/operator/accounts/{world.account_id}/unfreeze", headers=world.hs["admin"], json={"reason": "cleared"}
    )
    assert world.confirm(checkout, pass_before_freeze).status_code == 201
    world.books_ok()


def test_loan_drawdown_needs_a_live_face_every_time(world):
    assert world.grant(10_000 * CNY).status_code == 200
    quote = world.client.get(
        "/v1/me/credit/loan-quote",
        headers=world.h,
        params={"product_id": "cash-loan-annuity", "amount_fen": 300_000, "periods": 6},
    ).json()
    assert abs(Decimal(quote["apr"]) - Decimal("0.1825")) < Decimal("0.0001")
    assert error(world.loan(300_000, "", "k-0", periods=6)) == "invalid_request"
    assert error(world.loan(300_000, world.face_pass("installment"), "k-1", periods=6)) == "liveness_required"
    r = world.loan(300_000, world.face_pass("loan", face=ZHANG), "k-2", periods=6)
    assert r.status_code == 403 and error(r) == "face_mismatch"
    before = world.wallet()
    session_id = world.face_pass("loan")
    r = world.loan(300_000, session_id, "k-3", periods=6)
    assert r.status_code == 201, r.text
    assert world.wallet() == before + 300_000 and world.line()["used_fen"] == 300_000
    replay = world.loan(300_000, session_id, "k-3", periods=6)
    assert replay.status_code == 200 and replay.json()["plan_id"] == r.json()["plan_id"]
    assert world.wallet() == before + 300_000
    assert error(world.loan(400_000, world.face_pass("loan"), "k-3", periods=6)) == "idempotency_key_reused"
    r = world.loan(800_000, world.face_pass("loan"), "k-4", periods=6)
    assert r.status_code == 409 and error(r) == "insufficient_credit" and r.json()["error"]["available_fen"] == 700_000
    fresh = world.face_pass("loan")
    world.client.post(
        f"/v1/operator/accounts/{world.account_id}/freeze", headers=world.hs["op"], json={"reason": "review"}
    )
    r = world.loan(100_000, fresh, "k-5", periods=6)
    assert r.status_code == 403 and error(r) == "account_frozen"
    assert world.wallet() == before + 300_000 and world.line()["used_fen"] == 300_000
    # Operators and the platform's back end have no door to a drawdown.
    assert (
        world.client.post(
            "/v1/me/credit/loans",
            headers=world.hs["admin"],
            json={
                "product_id": "cash-loan-annuity",
                "amount_fen": 100_000,
                "periods": 6,
                "liveness_session_id": session_id,
                "idempotency_key": "op",
            },
        ).status_code
        == 403
    )
    assert (
        world.client.post(
            "/v1/me/credit/loans",
            headers=world.hs["a"],
            json={
                "product_id": "cash-loan-annuity",
                "amount_fen": 100_000,
                "periods": 6,
                "liveness_session_id": session_id,
                "idempotency_key": "api",
            },
        ).status_code
        == 401
    )
    world.books_ok()


def test_no_path_to_a_drawdown_skips_the_face_check(world):
    """Statically: every function that opens a plan calls ``face.confirm`` before it, and only
    ``open_plan`` posts a drawdown. At run time: ``open_plan`` refuses a confirmation whose pass
    was not spent by this draw, so a made-up confirmation moves nothing."""
    callers, posters = [], []
    for path in Path(facetrust.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
            names = [(c.func.value.id if isinstance(c.func.value, ast.Name) else "", c.func.attr, c) for c in calls]
            opens = [c for mod, attr, c in names if attr == "open_plan"]
            if opens:
                confirms = [c for mod, attr, c in names if mod == "face" and attr == "confirm"]
                assert confirms and min(c.lineno for c in confirms) < min(c.lineno for c in opens), (
                    f"{path.name}:{fn.name} opens a plan without a face confirmation first"
                )
                callers.append(f"{path.stem}.{fn.name}")
            for mod, attr, _c in names:
                if mod == "ledger" and attr == "post" and path.stem in ("plans", "loans", "checkouts"):
                    posters.append(f"{path.stem}.{fn.name}")
    assert sorted(callers) == ["checkouts.confirm", "loans.draw"]
    assert posters == ["plans.open_plan"]
    first_step = ast.parse(inspect.getsource(plans.open_plan).strip()).body[0].body[1]  # after the docstring
    assert ast.unparse(first_step) == "face.verify_spent(session, confirmation)"

    assert world.grant(10_000 * CNY).status_code == 200
    unspent = world.face_pass("loan")
    with world.app.state.sessions() as s:
        account = s.get(Account, world.account_id)
        product = world.app.state.credit.catalogue.get("cash-loan", "loan")
        forged = face.FaceConfirmation(account.id, "loan", "f" * 32, unspent, 0.9, 0.4, "m", "c")
        with pytest.raises(Exception) as refused:
            plans.open_plan(
                s,
                account,
                product,
                100_000,
                6,
                forged,
                dt.date(2026, 11, 23),
                "loan:forged",
                [(ledger.account(s, ledger.WALLET, account.id), 100_000)],
            )
        assert getattr(refused.value, "code", None) == "liveness_required"
        s.rollback()
    assert world.wallet() == 20_000 * CNY and world.line()["used_fen"] == 0


def test_repayments_prepayment_penalties_and_payoff_as_months_pass(world):
    assert world.grant(20_000 * CNY).status_code == 200
    r = world.loan(1_200_000, world.face_pass("loan"), "loan-1", product="cash-loan-annuity", periods=12)
    assert r.status_code == 201, r.text
    plan = r.json()
    first = plan["installments"][0]
    expected = schedule.build(1_200_000, 12, schedule.Pricing("annuity", Decimal("0.1825"))).installments
    assert [(i["principal_fen"], i["interest_fen"]) for i in plan["installments"]] == [
        (i.principal_fen, i.interest_fen) for i in expected
    ]

    # Month 1 paid on its due date, no penalty.
    world.clock.to(dt.date(2026, 12, 23))
    wallet = world.wallet()
    r = world.repay(plan["plan_id"], "installment", "r-1")
    assert r.status_code == 201, r.text
    assert r.json()["repayment"]["amount_fen"] == first["principal_fen"] + first["interest_fen"]
    assert world.wallet() == wallet - r.json()["repayment"]["amount_fen"]
    assert world.repay(plan["plan_id"], "installment", "r-1").status_code == 200  # a retry pays nothing twice
    assert world.wallet() == wallet - r.json()["repayment"]["amount_fen"]

    # Month 2 is 10 days late: penalty interest per day on its principal, at 0.05 % a day.
    world.clock.to(dt.date(2027, 2, 2))
    second = world.client.get(f"/v1/me/credit/plans/{plan['plan_id']}", headers=world.h).json()["installments"][1]
    penalty = schedule.round_half_up(Decimal(second["principal_fen"]) * Decimal("0.0005") * 10)
    assert second["status"] == "overdue" and second["days_overdue"] == 10 and second["penalty_fen"] == penalty
    r = world.repay(plan["plan_id"], "partial", "r-2", amount_fen=100_000)
    assert r.status_code == 409 and error(r) == "installment_due_first"
    r = world.repay(plan["plan_id"], "installment", "r-3")
    assert r.json()["repayment"]["penalty_fen"] == penalty > 0

    # A partial prepayment of 2,000 yuan, 10 days into period 3: interest by day on the prepaid
    # part, and the rest re-spread over the 10 remaining periods with lower installments.
    before = world.client.get(f"/v1/me/credit/plans/{plan['plan_id']}", headers=world.h).json()
    outstanding = before["outstanding_principal_fen"]
    r = world.repay(plan["plan_id"], "partial", "r-4", amount_fen=200_000)
    assert r.status_code == 201, r.text
    made = r.json()["repayment"]
    assert made["principal_fen"] == 200_000
    assert made["interest_fen"] == schedule.round_half_up(Decimal(200_000) * Decimal("0.1825") * 10 / 360)
    after = r.json()["plan"]
    assert after["outstanding_principal_fen"] == outstanding - 200_000
    rest = [i for i in after["installments"] if i["status"] != "paid"]
    respread = schedule.build(outstanding - 200_000, 10, schedule.Pricing("annuity", Decimal("0.1825"))).installments
    assert [(i["principal_fen"], i["interest_fen"]) for i in rest] == [
        (i.principal_fen, i.interest_fen) for i in respread
    ]
    assert rest[0]["amount_fen"] < before["installments"][2]["amount_fen"]

    # Paying everything off 10 days into period 4 (February has 28 days), with period 3 10 days overdue.
    world.clock.to(dt.date(2027, 3, 5))
    quote = world.client.get(
        f"/v1/me/credit/plans/{plan['plan_id']}/repayment-quote", headers=world.h, params={"kind": "payoff"}
    ).json()
    r = world.repay(plan["plan_id"], "payoff", "r-5")
    assert r.status_code == 201, r.text
    paid = r.json()["repayment"]
    assert {k: paid[k] for k in ("amount_fen", "principal_fen", "interest_fen", "penalty_fen")} == {
        k: quote[k] for k in ("amount_fen", "principal_fen", "interest_fen", "penalty_fen")
    }
    period3 = rest[0]
    balance4 = outstanding - 200_000 - period3["principal_fen"]
    accrued = schedule.round_half_up(Decimal(balance4) * Decimal("0.1825") * 10 / 360)
    assert paid["interest_fen"] == period3["interest_fen"] + accrued
    assert paid["penalty_fen"] == schedule.round_half_up(Decimal(period3["principal_fen"]) * Decimal("0.0005") * 10)
    assert r.json()["plan"]["status"] == "paid_off" and r.json()["plan"]["next_payment"] is None
    assert world.line()["used_fen"] == 0
    assert error(world.repay(plan["plan_id"], "installment", "r-6")) == "plan_paid_off"
    world.books_ok()


def test_fee_product_prepayment_follows_its_rule(world):
    """The fee product charges the fee of the period in progress on payoff and waives the rest."""
    assert world.grant(10_000 * CNY).status_code == 200
    plan = world.confirm(world.checkout(5_999 * CNY, "mi-fee")["checkout_id"], world.face_pass("installment")).json()
    world.clock.to(dt.date(2027, 1, 1))  # period 2 in progress
    assert world.repay(plan["plan_id"], "installment", "p-1").json()["repayment"]["fee_fen"] == 3599
    r = world.repay(plan["plan_id"], "payoff", "p-2")
    assert r.status_code == 201, r.text
    assert r.json()["repayment"]["fee_fen"] == 3599 and r.json()["repayment"]["principal_fen"] == 599_900 - 49_992
    assert r.json()["repayment"]["interest_fen"] == 0
    world.books_ok()


def test_repayment_needs_money_in_the_wallet(world):
    assert world.grant(20_000 * CNY).status_code == 200
    plan = world.loan(1_000_000, world.face_pass("loan"), "big", product="cash-loan", periods=3).json()
    balance = world.wallet()
    with world.app.state.sessions() as s:  # the wallet is emptied by a payment elsewhere
        ledger.post(
            s,
            "payment",
            "elsewhere",
            [
                (ledger.account(s, ledger.WALLET, world.account_id), -balance),
                (ledger.account(s, ledger.MERCHANT, world.merchant_id), balance),
            ],
        )
        s.commit()
    r = world.repay(plan["plan_id"], "installment", "broke")
    assert r.status_code == 409 and error(r) == "insufficient_funds"
    assert world.client.get(f"/v1/me/credit/plans/{plan['plan_id']}", headers=world.h).json()["repayments"] == []
    world.books_ok()


def test_concurrent_checkouts_never_exceed_the_credit_line(quiet_world):
    world = quiet_world
    assert world.grant(5_000 * CNY).status_code == 200
    orders = [world.checkout(2_000 * CNY, f"race-{n}")["checkout_id"] for n in range(4)]
    passes = [world.face_pass("installment") for _ in orders]
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda i: world.confirm(orders[i], passes[i], product="mall-installment-interest", periods=6), range(4)
            )
        )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 201, 409, 409], [r.text for r in answers]
    assert {error(r) for r in answers if r.status_code == 409} == {"insufficient_credit"}
    assert world.line()["used_fen"] == 400_000
    world.books_ok()


def test_credit_line_needs_real_name_and_the_right_role(world):
    r = world.client.post(
        "/v1/accounts", json={"platform_user_id": "nobody", "mobile": "13600000000"}, headers=world.hs["a"]
    )
    other = r.json()["account_id"]
    r = world.client.put(f"/v1/operator/accounts/{other}/credit-line", headers=world.hs["op"], json={"limit_fen": 100})
    assert r.status_code == 409 and error(r) == "real_name_required"
    r = world.client.put(
        f"/v1/operator/accounts/{world.account_id}/credit-line", headers=world.h, json={"limit_fen": 100}
    )
    assert r.status_code == 403
    assert world.grant(-1).status_code == 422


def test_random_sequences_of_repayments_keep_the_books(quiet_world):
    """Purchases and loans of every pricing method, then random repayments, partial prepayments
    and payoffs on random days (overdue ones with penalties): after every step the ledger, the
    plans and the credit line agree, and no wallet or line goes wrong."""
    import random

    world = quiet_world
    rng = random.Random(20261123)
    assert world.grant(60_000 * CNY).status_code == 200
    ids = [
        world.confirm(
            world.checkout(5_999 * CNY, "seq-fee")["checkout_id"],
            world.face_pass("installment"),
            product="mall-installment-fee",
            periods=6,
        ).json()["plan_id"],
        world.confirm(
            world.checkout(3_456_78, "seq-annuity")["checkout_id"],
            world.face_pass("installment"),
            product="mall-installment-interest",
            periods=12,
        ).json()["plan_id"],
        world.loan(2_000_001, world.face_pass("loan"), "seq-ep", product="cash-loan", periods=24).json()["plan_id"],
        world.loan(777_777, world.face_pass("loan"), "seq-an", product="cash-loan-annuity", periods=3).json()[
            "plan_id"
        ],
    ]
    world.client.post(
        f"/v1/accounts/{LI.user}/wallet/top-ups",
        headers=world.hs["a"],
        json={"amount_fen": 100_000 * CNY, "reference": "seq-fund"},
    )
    outcomes: dict[str, int] = {}
    charged = {"penalty_fen": 0, "interest_fen": 0, "fee_fen": 0}
    for step in range(60):
        world.clock.now += dt.timedelta(days=rng.choice([0, 0, 1, 2, 4, 8, 16, 40]))
        active = [
            i for i in ids if world.client.get(f"/v1/me/credit/plans/{i}", headers=world.h).json()["status"] == "active"
        ]
        plan_id = rng.choice(active or ids)  # once all are paid off, a repayment must be refused
        kind = rng.choices(["installment", "partial", "payoff"], weights=[10, 4, 1])[0]
        amount = rng.randint(1, 300_000) if kind == "partial" else None
        quote = world.client.get(
            f"/v1/me/credit/plans/{plan_id}/repayment-quote",
            headers=world.h,
            params={"kind": kind, **({"amount_fen": amount} if amount else {})},
        )
        wallet, used = world.wallet(), world.line()["used_fen"]
        r = world.repay(plan_id, kind, f"step-{step}", amount)
        outcome = str(r.status_code) if r.status_code == 201 else error(r)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if r.status_code == 201:
            made = r.json()["repayment"]
            assert quote.status_code == 200 and made["amount_fen"] == quote.json()["amount_fen"]
            assert world.wallet() == wallet - made["amount_fen"]
            assert world.line()["used_fen"] == used - made["principal_fen"]
            outcomes[kind] = outcomes.get(kind, 0) + 1
            charged = {k: v + made[k] for k, v in charged.items()}
        else:
            assert r.status_code in (409, 422) and outcome in (
                "plan_paid_off",
                "installment_due_first",
                "amount_invalid",
            )
            assert world.wallet() == wallet and world.line()["used_fen"] == used
        world.books_ok()
    assert outcomes.get("201", 0) >= 15 and outcomes.get("partial") and outcomes.get("payoff"), outcomes
    assert all(charged.values()), charged  # penalties, interest and fees were all part of it
    for plan_id in ids:
        plan = world.client.get(f"/v1/me/credit/plans/{plan_id}", headers=world.h).json()
        paid = sum(r["principal_fen"] for r in plan["repayments"])
        assert paid + plan["outstanding_principal_fen"] == plan["principal_fen"]
