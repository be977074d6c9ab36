"""The database refuses rows that break the ledger's and the accounts' invariants, whatever code
writes them (migration 0015): the service's own checks are the first wall, not the only one."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from facetrust.identity import service
from facetrust.payments import ledger
from facetrust.store.db import make_engine, session_factory

BAD_UPDATES = {
    "a wallet below zero": "UPDATE ledger_accounts SET balance_fen = -1 WHERE kind = 'wallet'",
    "a posting of nothing": "UPDATE ledger_postings SET amount_fen = 0",
    "an account state nobody knows": "UPDATE accounts SET status = 'deleted'",
    "a merchant fee over 100 %": "UPDATE merchants SET fee_bps = 10001",
}


@pytest.fixture()
def books(database_url):
    """A tenant, an account with a funded wallet (two postings) and a merchant."""
    from facetrust.payments.models import Merchant

    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with sessions() as s:
        tenant, _ = service.create_tenant(s, "shop")
        account = service.register_account(s, tenant, "u-1", "13800000001")
        s.flush()
        ledger.post(
            s,
            "top_up",
            "top-up:1",
            [
                (ledger.account(s, ledger.FUNDING, tenant.id), -5_000),
                (ledger.account(s, ledger.WALLET, account.id), 5_000),
            ],
        )
        s.add(Merchant(tenant_id=tenant.id, name="m", fee_bps=60))
        s.commit()
    yield sessions
    engine.dispose()


@pytest.mark.parametrize("what", sorted(BAD_UPDATES))
def test_the_database_refuses_a_row_that_breaks_an_invariant(books, what):
    with books() as s:
        with pytest.raises(IntegrityError):
            s.execute(text(BAD_UPDATES[what]))
            s.flush()
        s.rollback()
        # Nothing changed: the wallet still holds what was put in, the account is active.
        assert s.execute(text("SELECT balance_fen FROM ledger_accounts WHERE kind = 'wallet'")).scalar_one() == 5_000
        assert s.execute(text("SELECT status FROM accounts")).scalar_one() == "active"
