"""The load script in miniature (about 30-45 s on 2 cores): the real service in its own process on a
fresh SQLite file, 2 terminals, 4 face payments (one of them refunded), 1 installment checkout
confirmed by face and 1 repayment; the books must balance and nothing may be applied twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.system

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "loadtest.py"


def test_loadtest_smoke_keeps_the_books(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    r = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--terminals",
            "2",
            "--users",
            "3",
            "--payments",
            "4",
            "--refunds",
            "1",
            "--checkouts",
            "1",
            "--repayments",
            "1",
            "--retry-share",
            "0.5",
            "--seconds",
            "120",
            "--data",
            str(shared_data),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    report = json.loads(out.read_text())
    books = report["books"]
    assert books["ok"] and all(books["invariants"].values()), books
    assert books["duplicates_total"] == 0
    assert books["money_created_or_lost_fen"] == 0 and books["balance_sum_fen"] == 0
    assert report["ledger_check"]["ok"]
    assert books["charges"]["requested"]["count"] == 4
    assert books["charges"]["charged"]["count"] >= 1  # the money path was exercised, not only refused
    assert books["charges"]["charged"] == books["charges"]["database_charged"]
    assert books["charges"]["refunded"] == books["charges"]["database_refunded"]
    assert books["credit"]["plans"]["count"] == 1 and books["credit"]["repaid"]["count"] == 1
    assert "settings: defaults, EXCEPT the default risk rules in shadow" in report["header"]


def test_the_accounting_catches_a_second_charge_and_lost_money() -> None:
    """The invariants fail when the database shows a charge the client never saw, or a wallet
    that moved by another amount than the client was told (no server needed)."""
    sys.path.insert(0, str(SCRIPT.parent))
    import loadtest

    payer = loadtest.bfp.Payer(clip="x.mp4", user="u1", name="n", id_number="i", mobile="m", account_id="acc1")
    books = loadtest.Books()
    books.requested = [500]
    books.paid = {"intent1": ("u1", 500)}
    ledger = {"ok": True}

    def db(payments, wallet):
        return {
            "payments": payments,
            "refunds": (0, 0),
            "repayments": (0, 0),
            "installments": (0, 0),
            "payment_rows": 1,
            "refund_rows": 0,
            "repayment_rows": 0,
            "orders_paid_twice": 0,
            "balance_sum_fen": 0,
            "wallets": {"acc1": wallet},
        }

    good = loadtest.account(books, db((1, 500), 9_500), ledger, [payer], {"u1": 10_000}, {"u1": 9_500})
    assert good["ok"] and good["duplicates_total"] == 0 and good["money_created_or_lost_fen"] == 0
    twice = loadtest.account(books, db((2, 1_000), 9_000), ledger, [payer], {"u1": 10_000}, {"u1": 9_000})
    assert not twice["ok"] and twice["duplicates_total"] >= 1 and twice["money_created_or_lost_fen"] > 0
    lost = loadtest.account(books, db((1, 500), 9_400), ledger, [payer], {"u1": 10_000}, {"u1": 9_400})
    assert not lost["ok"] and not lost["invariants"]["wallet_deltas_match_client"]
