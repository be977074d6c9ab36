"""Closing an account that still owes money or has a payment in flight (issue 19, item 3): after
a loan the account closed, nobody could sign in to repay it, and the plan stayed active. Over HTTP,
with a real face for the loan and the payment."""

from __future__ import annotations

import pytest
from creditworld import CNY, World, error
from facepay import LI, FramePool, merchant_terminal, pay_with_face, switch_on

from facetrust.credit.models import CreditLine, CreditPlan
from facetrust.identity.models import Account, Credential
from facetrust.payments import ledger
from facetrust.payments.models import LedgerAccount, PaymentIntent
from facetrust.security.models import StoredTemplate


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


def test_an_account_that_owes_money_or_has_a_payment_in_flight_cannot_close(borrower, monkeypatch):
    w = borrower
    assert w.grant(10_000 * CNY).status_code == 200
    loan = w.loan(3_000 * CNY, w.face_pass("loan"), "loan-1", periods=6)
    assert loan.status_code == 201, loan.text
    r = w.client.delete("/v1/me", headers=w.h)
    assert r.status_code == 409 and error(r) == "account_has_open_credit", r.text
    assert r.json()["error"]["open"] == {"open_credit": 1, "negative_balance": 1}
    _still_open(w)
    # A drawdown committed just after the closure's checks read (they saw nothing open): the closure's
    # last write, closing the credit line only while nothing is drawn on it, still refuses.
    from facetrust.payments import obligations

    with monkeypatch.context() as m:
        m.setattr(obligations, "open_items", lambda session, account_id: {})
        r = w.client.delete("/v1/me", headers=w.h)
    assert r.status_code == 409 and error(r) == "account_has_open_credit", r.text
    _still_open(w)
    assert w.line()["status"] == "active"

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
