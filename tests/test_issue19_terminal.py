"""Holes an outside attack test found at the terminals, in face pay and around them (issue 19),
tried again over HTTP with real faces: closing an account that owes money (item 3), one customer
locking a vending machine for everyone (6), a stranger's failures landing on the victim's account
(7), the terminal learning the payer's decline reasons through the capture token (8), and one
admin freezing and then unfreezing the same account (14)."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from sqlalchemy import create_engine, text

from facetrust.credit.models import CreditLine, CreditPlan
from facetrust.identity.models import Account, Credential
from facetrust.payments import ledger
from facetrust.payments.models import LedgerAccount, PaymentIntent
from facetrust.security.models import StoredTemplate

from creditworld import CNY, World, error
from facepay import LI, FramePool, merchant_terminal, pay_with_face, switch_on


def _fresh_database(directory) -> str:
    """An empty database for one module's world (as ``conftest.database_url`` makes one per test)."""
    url = os.environ.get("FACETRUST_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{directory / 'test.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


# --- item 3: an account cannot close while it owes money ----------------------------------------

@pytest.fixture()
def borrower(tmp_path, database_url, shared_data):
    """Li with a credit line and face pay; any payment over 1 yuan a day asks for a step-up."""
    w = World(tmp_path, database_url, shared_data, face_pay_daily_limit_yuan=1)
    yield w
    w.close()


def _still_open(w: World) -> None:
    """The refused closure changed nothing: the account is active, can sign in and keeps its faces."""
    with w.app.state.sessions() as s:
        assert s.get(Account, w.account_id).status == "active"
        assert s.query(Credential).filter_by(account_id=w.account_id).count() >= 1
        assert s.query(StoredTemplate).filter_by(account_id=w.account_id).count() >= 1
    assert w.client.get("/v1/me", headers=w.h).status_code == 200


def test_an_account_that_owes_money_or_has_a_payment_in_flight_cannot_close(borrower):
    w = borrower
    assert w.grant(10_000 * CNY).status_code == 200
    loan = w.loan(3_000 * CNY, w.face_pass("loan"), "loan-1", periods=6)
    assert loan.status_code == 201, loan.text
    r = w.client.delete("/v1/me", headers=w.h)
    assert r.status_code == 409 and error(r) == "account_has_open_credit", r.text
    assert r.json()["error"]["open"] == {"open_credit": 1, "negative_balance": 1}
    _still_open(w)

    payoff = w.repay(loan.json()["plan_id"], "payoff", "payoff-1")
    assert payoff.status_code == 201, payoff.text
    with w.app.state.sessions() as s:  # a balance below zero on the account's books, whatever the plans say
        credit = s.query(LedgerAccount).filter_by(kind=ledger.CREDIT, owner_id=w.account_id).one()
        assert credit.balance_fen == 0 and s.get(CreditPlan, loan.json()["plan_id"]).status == "paid_off"
        credit.balance_fen = -1
        s.commit()
    r = w.client.delete("/v1/me", headers=w.h)
    assert r.status_code == 409 and error(r) == "account_has_negative_balance", r.text
    with w.app.state.sessions() as s:
        s.query(LedgerAccount).filter_by(kind=ledger.CREDIT, owner_id=w.account_id).one().balance_fen = 0
        s.commit()

    # A payment identified as Li's and waiting for her step-up (2 yuan, over the 1-yuan day).
    assert switch_on(w.client, w.app, w.h, w.shared_data, LI).status_code == 201
    terminal = merchant_terminal(w.client, w.hs, w.tenant)
    intent, _, view = pay_with_face(w.client, FramePool(w.shared_data, w.app), terminal, LI, 200, "pending-1")
    assert view["status"] == "needs_input" and view["step"] == "step_up", view
    r = w.client.delete("/v1/me", headers=w.h)
    assert r.status_code == 409 and error(r) == "account_has_pending_payment", r.text
    assert r.json()["error"]["open"] == {"pending_payment": 1}
    _still_open(w)

    with w.app.state.sessions() as s:  # once it has expired it can no longer move money
        row = s.get(PaymentIntent, intent["intent_id"])
        row.expires_at = row.created_at
        s.commit()
    r = w.client.delete("/v1/me", headers=w.h)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    with w.app.state.sessions() as s:
        assert s.get(Account, w.account_id).status == "closed"
        assert s.query(CreditLine).filter_by(account_id=w.account_id).one().status == "closed"
    w.books_ok()
