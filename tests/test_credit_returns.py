"""Returns of goods bought on installments (issue 24, item 1): the merchant's signed terminal takes
back all or part of an order, and the plan is unwound to the fen by its product's rule
(``facetrust/credit/unwind.py``).

Three layers: the rule itself as pure arithmetic, with property tests over random plans, repayments
and returns; the service over a database, with a property test that runs random repayments and
returns through the real services and checks the books after every step; and the HTTP API in the
credit world (real faces confirm the purchases): full and partial returns, a return after
repayments, idempotency, concurrent duplicates, who may return, the risk event and the history."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction

import pytest
from creditworld import CNY, World, error, quiet_rules
from facepay import Terminal
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from facetrust.clock import new_id
from facetrust.credit import books, lines, plans, products, repayments, returns, schedule, unwind
from facetrust.credit.models import CreditCheckout, CreditInstallment, CreditLine, CreditPlan, CreditReturn
from facetrust.errors import DomainError
from facetrust.identity import service
from facetrust.identity.models import Account, Tenant
from facetrust.payments import ledger
from facetrust.payments.models import LedgerTransaction, Merchant
from facetrust.payments.models import Terminal as TerminalRow
from facetrust.risk import features, rules
from facetrust.risk.events import EventIn, emit
from facetrust.risk.models import RiskEvent
from facetrust.store.db import make_engine, session_factory

CATALOGUE = products.load(None, Decimal("1"), Decimal("10"))
FEE_PRODUCT = CATALOGUE.products["mall-installment-fee"]  # refund_cost_pro_rata
INTEREST_PRODUCT = CATALOGUE.products["mall-installment-interest"]  # keep_paid_cost


# --- the rule, as arithmetic ---------------------------------------------------------------------


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=24))
@settings(max_examples=400, deadline=None)
def test_spread_is_exact_and_proportional(total, weights):
    if sum(weights) == 0:
        total = 0
    parts = unwind.spread(total, weights)
    assert sum(parts) == total and min(parts) >= 0
    for part, w in zip(parts, weights, strict=True):  # each within one fen of its exact share
        if sum(weights):
            assert abs(Fraction(part) - Fraction(total * w, sum(weights))) < 1


def test_spread_gives_remainders_to_the_largest_then_the_earliest():
    assert unwind.spread(10, [1, 1, 1]) == [4, 3, 3]
    assert unwind.spread(2, [1, 2, 2]) == [0, 1, 1]
    assert unwind.spread(7, [0, 5]) == [0, 7]


class PlanState:
    """A plan as the pure rule sees it: its installments and what the person paid and got back."""

    def __init__(self, principal: int, periods: int, pricing: schedule.Pricing, rule: str) -> None:
        built = schedule.build(principal, periods, pricing)
        self.principal, self.rule = principal, rule
        self.original_cost = built.total_cost_fen
        self.unpaid = [unwind.Row(i.number, i.principal_fen, i.interest_fen, i.fee_fen) for i in built.installments]
        self.returned = self.repaid_principal = self.cancelled_principal = 0
        self.fee_paid = self.interest_paid = 0  # net of what returns gave back
        self.paid_in = self.paid_back = 0  # what the person paid, and what came back to the wallet

    def repay_next(self) -> None:
        row = self.unpaid.pop(0)
        self.repaid_principal += row.principal_fen
        self.fee_paid += row.fee_fen
        self.interest_paid += row.interest_fen
        self.paid_in += row.amount_fen

    def give_back(self, amount: int) -> unwind.Unwinding:
        result = unwind.unwind(
            self.principal, self.returned, amount, self.unpaid, self.fee_paid, self.interest_paid, self.rule
        )
        self.returned += amount
        self.cancelled_principal += result.principal_cancelled_fen
        self.fee_paid -= result.fee_refunded_fen
        self.interest_paid -= result.interest_refunded_fen
        self.paid_back += result.wallet_fen
        self.unpaid = [row for row in result.rows if row.amount_fen]
        return result

    @property
    def outstanding(self) -> int:
        return sum(row.principal_fen for row in self.unpaid)


pricings = st.one_of(
    st.builds(lambda r: (schedule.Pricing("flat_fee", Decimal(r) / 10_000), products.REFUND_COST), st.integers(0, 100)),
    st.builds(
        lambda r, rule: (schedule.Pricing("annuity", Decimal(r) / 10_000), rule),
        st.integers(0, 2_400),
        st.sampled_from(products.RETURN_RULES),
    ),
    st.builds(
        lambda r, rule: (schedule.Pricing("equal_principal", Decimal(r) / 10_000), rule),
        st.integers(0, 2_400),
        st.sampled_from(products.RETURN_RULES),
    ),
)
# A step: repay the next installment, or return a share (in 1/1000) of what is still kept.
steps = st.lists(st.one_of(st.just("repay"), st.integers(1, 1000)), max_size=12)


@given(st.integers(1, 5_000_000), st.sampled_from([3, 6, 12, 24]), pricings, steps)
@settings(max_examples=600, deadline=None)
def test_any_returns_between_any_repayments_unwind_exactly(principal, periods, pricing_rule, ops):
    """After every step: the return is split exactly into cancelled and refunded principal; the
    installments left sum to the principal owed, none negative; the cost comes off exactly as much
    as the return says; nothing is refunded beyond what was paid; the principal is what is owed,
    repaid and cancelled; and what the person paid, less what came back, is the kept goods' price
    less what they still owe, plus the cost they keep."""
    pricing, rule = pricing_rule
    state = PlanState(principal, periods, pricing, rule)
    returns_made = 0
    for op in ops:
        kept = principal - state.returned
        if op == "repay":
            if state.unpaid:
                state.repay_next()
            continue
        if kept == 0:
            with pytest.raises(ValueError):
                unwind.unwind(principal, state.returned, 1, state.unpaid, state.fee_paid, state.interest_paid, rule)
            continue
        amount = max(1, kept * op // 1000)
        before_rows, owed_before = list(state.unpaid), state.outstanding
        fee_paid_before, interest_paid_before = state.fee_paid, state.interest_paid
        result = state.give_back(amount)
        returns_made += 1
        assert result.principal_cancelled_fen + result.principal_refunded_fen == amount
        assert result.principal_cancelled_fen == min(amount, owed_before)
        assert sum(r.principal_fen for r in result.rows) == owed_before - result.principal_cancelled_fen
        assert all(min(r.principal_fen, r.interest_fen, r.fee_fen) >= 0 for r in result.rows)
        assert [r.number for r in result.rows] == [r.number for r in before_rows]
        assert sum(r.fee_fen for r in before_rows) - sum(r.fee_fen for r in result.rows) == result.fee_cancelled_fen
        assert (
            sum(r.interest_fen for r in before_rows) - sum(r.interest_fen for r in result.rows)
            == result.interest_cancelled_fen
        )
        assert min(result.fee_cancelled_fen, result.interest_cancelled_fen) >= 0
        assert 0 <= result.fee_refunded_fen <= fee_paid_before
        assert 0 <= result.interest_refunded_fen <= interest_paid_before
        if rule == products.KEEP_PAID_COST:
            assert result.fee_refunded_fen == result.interest_refunded_fen == 0
        assert result.full == (amount == kept)
        if result.full:
            assert state.unpaid == [] and state.outstanding == 0
            if rule == products.REFUND_COST:
                assert state.fee_paid == state.interest_paid == 0
        # The books' identities.
        assert principal == state.outstanding + state.repaid_principal + state.cancelled_principal
        cost_kept = state.fee_paid + state.interest_paid
        assert state.paid_in - state.paid_back == (principal - state.returned - state.outstanding) + cost_kept
    if state.returned == principal and rule == products.REFUND_COST:
        assert state.paid_in == state.paid_back  # everything returned: the plan cost nothing
    if rule == products.REFUND_COST and state.unpaid and returns_made:
        # While installments remain, the plan's whole cost is its cost on the goods kept, give or
        # take the rounding of each return (the fees paid and the fees to come, one fen each).
        total_cost = state.fee_paid + state.interest_paid + sum(r.interest_fen + r.fee_fen for r in state.unpaid)
        exact = Fraction(state.original_cost * (principal - state.returned), principal)
        assert abs(total_cost - exact) <= 2 * returns_made


def test_a_worked_example_of_the_fee_rule():
    """3,000 yuan over 6 months at a fee of 0.6 % a month (18 yuan a month), two months repaid."""
    state = PlanState(300_000, 6, FEE_PRODUCT.pricing, products.REFUND_COST)
    state.repay_next()
    state.repay_next()
    # A third of the goods back: 1,000 yuan off the 2,000 still owed, the four fees to come down by
    # a third (72 -> 48 yuan), a third of the 36 yuan of fees paid back to the wallet.
    first = state.give_back(100_000)
    assert (first.principal_cancelled_fen, first.principal_refunded_fen) == (100_000, 0)
    assert [(r.principal_fen, r.fee_fen) for r in first.rows] == [(25_000, 1_200)] * 4
    assert (first.fee_cancelled_fen, first.fee_refunded_fen, first.wallet_fen) == (2_400, 1_200, 1_200)
    # 1,500 of the 2,000 still kept back: the 1,000 owed is cancelled, 500 of the principal repaid
    # comes back, and three quarters of the 24 yuan of fees still paid.
    second = state.give_back(150_000)
    assert (second.principal_cancelled_fen, second.principal_refunded_fen) == (100_000, 50_000)
    assert second.cancelled == [3, 4, 5, 6] and not second.full
    assert (second.fee_refunded_fen, second.wallet_fen) == (1_800, 51_800)
    # The last 500: everything paid comes back.
    last = state.give_back(50_000)
    assert last.full and (last.principal_refunded_fen, last.fee_refunded_fen) == (50_000, 600)
    assert state.paid_in == state.paid_back == 100_000 + 3_600


def test_the_rule_refuses_what_no_plan_can_be():
    rows = [unwind.Row(1, 100, 0, 5)]
    for args in [(100, 0, 0), (100, 0, 101), (100, 100, 1), (100, 50, 60)]:
        with pytest.raises(ValueError):
            unwind.unwind(*args, rows, 0, 0, products.REFUND_COST)
    with pytest.raises(ValueError):
        unwind.unwind(100, 0, 10, rows, 0, 0, "refund_everything")


def test_the_catalogue_writes_the_return_rule_in_each_installment_product():
    assert {p.id: p.returns for p in CATALOGUE.products.values()} == {
        "mall-installment-fee": "refund_cost_pro_rata",
        "mall-installment-interest": "keep_paid_cost",
        "cash-loan": None,
        "cash-loan-annuity": None,
    }
    with pytest.raises(ValueError, match="a loan product has no return rule"):
        products.Product.model_validate({**CATALOGUE.products["cash-loan"].terms(), "returns": "keep_paid_cost"})


# --- the service over a database ------------------------------------------------------------------


class Shop:
    """A tenant, a buyer with a funded wallet and a credit line, a merchant and its terminal, and
    installment plans written as ``plans.open_plan`` writes them (the face confirmation it re-checks
    is the credit API tests' subject, not this one's)."""

    WALLET = 10_000_000

    def __init__(self, sessions, fee_bps: int, account_id: str | None = None) -> None:
        """A new tenant and buyer, or the buyer ``account_id`` (with its tenant) if given."""
        self.sessions = sessions
        with sessions() as s:
            if account_id is None:
                tenant, _ = service.create_tenant(s, f"shop-{new_id()[:12]}")
                account = service.register_account(s, tenant, f"u-{new_id()[:8]}", "13800000001")
            else:
                account = s.get(Account, account_id)
                tenant = s.get(Tenant, account.tenant_id)
            s.flush()
            s.add(CreditLine(account_id=account.id, limit_fen=10**10, used_fen=0, granted_by="test"))
            merchant = Merchant(tenant_id=tenant.id, name="m", fee_bps=fee_bps)
            s.add(merchant)
            s.flush()
            terminal = TerminalRow(
                merchant_id=merchant.id, label="t", secret_sealed=b"", secret_wrapped_key=b"", master_key_id=""
            )
            s.add(terminal)
            ledger.post(
                s,
                "top_up",
                f"top-up:{account.id}",
                [
                    (ledger.account(s, ledger.FUNDING, tenant.id), -self.WALLET),
                    (ledger.account(s, ledger.WALLET, account.id), self.WALLET),
                ],
            )
            s.commit()
            self.tenant_id, self.account_id, self.merchant_id, self.terminal_id = (
                tenant.id,
                account.id,
                merchant.id,
                terminal.id,
            )

    def buy(self, product: products.Product, principal: int, periods: int, start: dt.date) -> str:
        """The checkout id of a confirmed purchase on installments."""
        with self.sessions() as s:
            sched = schedule.build(principal, periods, product.pricing)
            checkout = CreditCheckout(
                tenant_id=self.tenant_id,
                account_id=self.account_id,
                merchant_id=self.merchant_id,
                merchant_order_id=new_id(),
                amount_fen=principal,
                category="electronics",
                status="confirmed",
                expires_at=dt.datetime.now(dt.UTC),
            )
            s.add(checkout)
            s.flush()
            lines.draw(s, self.account_id, principal)
            plan = CreditPlan(
                id=new_id(),
                account_id=self.account_id,
                tenant_id=self.tenant_id,
                kind="installment",
                product_id=product.id,
                terms=json.dumps(product.terms()),
                principal_fen=principal,
                periods=periods,
                apr=str(sched.apr),
                start_date=start,
                outstanding_principal_fen=principal,
                status=plans.ACTIVE,
                version=0,
                checkout_id=checkout.id,
                merchant_id=self.merchant_id,
                idempotency_key=f"checkout:{checkout.id}",
                liveness_session_id=new_id(),
                face_score=0.9,
                face_threshold=0.4,
                face_model_id="test",
                face_calibration_id="test",
                transaction_id="",
            )
            s.add(plan)
            s.flush()
            checkout.plan_id = plan.id
            s.add_all(
                CreditInstallment(
                    plan_id=plan.id,
                    number=i.number,
                    due_date=plans.add_months(start, i.number),
                    principal_fen=i.principal_fen,
                    interest_fen=i.interest_fen,
                    fee_fen=i.fee_fen,
                    penalty_paid_fen=0,
                    status=plans.UNPAID,
                )
                for i in sched.installments
            )
            fee = ledger.fee_for(principal, s.get(Merchant, self.merchant_id).fee_bps)
            plan.transaction_id = ledger.post(
                s,
                "installment",
                f"installment:{plan.id}",
                [
                    (ledger.account(s, ledger.CREDIT, self.account_id), -principal),
                    (ledger.account(s, ledger.MERCHANT, self.merchant_id), principal - fee),
                    (ledger.account(s, ledger.PLATFORM_FEES, self.tenant_id), fee),
                ],
            ).id
            s.commit()
            return checkout.id

    def give_back(self, checkout_id: str, return_id: str, amount: int):
        with self.sessions() as s:
            terminal = s.get(TerminalRow, self.terminal_id)
            row, plan, created = returns.return_goods(s, terminal, checkout_id, return_id, amount)
            s.commit()
            return row, created


@pytest.fixture()
def sessions(database_url):
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def check_books(s, shop: Shop, plan: CreditPlan, fee: int) -> None:
    """Every invariant of the books, and the plan's money accounted for from both sides."""
    assert ledger.check(s).ok, ledger.check(s).problems
    assert books.check(s) == []
    paid = repayments.history(s, plan.id)
    back = returns.of_plan(s, plan.id)
    rows = plans.installments(s, plan.id)
    unpaid = [r for r in rows if r.status == plans.UNPAID]
    assert all(min(r.principal_fen, r.interest_fen, r.fee_fen) >= 0 for r in rows)
    assert sum(r.principal_fen for r in unpaid) == plan.outstanding_principal_fen
    assert lines.line_of(s, shop.account_id).used_fen == plan.outstanding_principal_fen
    wallet = ledger.balance(s, ledger.WALLET, shop.account_id)
    assert wallet == Shop.WALLET - sum(r.amount_fen for r in paid) + sum(r.wallet_fen for r in back)
    assert wallet >= 0
    returned = sum(r.amount_fen for r in back)
    assert plan.returned_fen == returned <= plan.principal_fen
    fee_back = sum(r.merchant_fee_fen for r in back)
    assert ledger.balance(s, ledger.MERCHANT, shop.merchant_id) == plan.principal_fen - fee - (returned - fee_back)
    assert ledger.balance(s, ledger.PLATFORM_FEES, shop.tenant_id) == fee - fee_back >= 0
    # What the person repaid of the principal, less what came back, is the kept goods' price less
    # what they still owe.
    assert sum(r.principal_fen for r in paid) - sum(r.principal_refunded_fen for r in back) == (
        plan.principal_fen - returned - plan.outstanding_principal_fen
    )
    cost_kept = sum(r.fee_fen + r.interest_fen for r in paid) - sum(
        r.fee_refunded_fen + r.interest_refunded_fen for r in back
    )
    assert cost_kept >= 0
    if plan.status == plans.RETURNED:
        assert returned == plan.principal_fen and not unpaid
        penalties = sum(r.penalty_fen for r in paid)
        if json.loads(plan.terms)["returns"] == products.REFUND_COST:
            assert cost_kept == 0
        assert sum(r.amount_fen for r in paid) - sum(r.wallet_fen for r in back) == penalties + cost_kept


# A step: move the clock some days; repay the next installment, part of the principal (in 1/1000
# of what is owed) or everything; or return a share (in 1/1000) of the goods still kept. Returns
# are drawn as often as all repayments together, and every run ends with one.
returning = st.tuples(st.just("return"), st.one_of(st.just(1000), st.integers(1, 999)))
db_steps = st.tuples(
    st.lists(
        st.one_of(
            st.tuples(st.just("wait"), st.integers(1, 45)),
            st.tuples(st.just("installment"), st.just(0)),
            st.tuples(st.just("partial"), st.integers(1, 999)),
            st.tuples(st.just("payoff"), st.just(0)),
            returning,
            returning,
            returning,
        ),
        max_size=9,
    ),
    returning,
).map(lambda t: [*t[0], t[1]])


@given(
    product=st.sampled_from([FEE_PRODUCT, INTEREST_PRODUCT]),
    principal=st.integers(10_000, 2_000_000),
    periods=st.sampled_from([3, 6, 12]),
    fee_bps=st.integers(0, 1000),
    ops=db_steps,
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_repayments_and_returns_keep_the_books(sessions, product, principal, periods, fee_bps, ops):
    shop = Shop(sessions, fee_bps)
    start = dt.date(2026, 11, 23)
    checkout_id = shop.buy(product, principal, periods, start)
    today = start
    fee = ledger.fee_for(principal, fee_bps)
    for n, (op, x) in enumerate(ops):
        with sessions() as s:
            plan = s.get(CreditPlan, s.get(CreditCheckout, checkout_id).plan_id)
            account = s.get(Account, shop.account_id)
            unpaid = [r for r in plans.installments(s, plan.id) if r.status == plans.UNPAID]
            try:
                if op == "wait":
                    today += dt.timedelta(days=x)
                elif op == "return":
                    kept = plan.principal_fen - plan.returned_fen
                    returns.return_goods(
                        s, s.get(TerminalRow, shop.terminal_id), checkout_id, f"r{n}", max(1, kept * x // 1000)
                    )
                elif op == "partial":
                    owed = plan.outstanding_principal_fen
                    if not unpaid or unpaid[0].due_date <= today or owed < 2:
                        continue
                    repayments.repay(s, account, plan, op, max(1, owed * x // 1000), f"p{n}", today)
                else:
                    if op == "installment" and unpaid:
                        today = max(today, unpaid[0].due_date)
                    repayments.repay(s, account, plan, op, None, f"p{n}", today)
                s.commit()
            except DomainError as refused:
                s.rollback()
                assert refused.code in ("plan_paid_off", "plan_already_returned"), refused
                assert plan.status != plans.ACTIVE
        with sessions() as s:
            check_books(s, shop, s.get(CreditPlan, s.get(CreditCheckout, checkout_id).plan_id), fee)
    with sessions() as s:
        plan = s.get(CreditPlan, s.get(CreditCheckout, checkout_id).plan_id)
        event(f"plan {plan.status}, {len(returns.of_plan(s, plan.id))} returns")


def test_a_full_return_after_repayments_gives_back_exactly_what_was_paid(sessions):
    shop = Shop(sessions, fee_bps=60)
    checkout_id = shop.buy(FEE_PRODUCT, 300_000, 6, dt.date(2026, 11, 23))
    with sessions() as s:
        plan = s.get(CreditPlan, s.get(CreditCheckout, checkout_id).plan_id)
        account = s.get(Account, shop.account_id)
        repayments.repay(s, account, plan, "installment", None, "one", dt.date(2026, 12, 23))
        s.commit()
    row, created = shop.give_back(checkout_id, "rma-1", 300_000)
    assert created and row.full and row.principal_refunded_fen == 50_000 and row.fee_refunded_fen == 1_800
    assert row.wallet_fen == 51_800 and row.merchant_fee_fen == ledger.fee_for(300_000, 60)
    with sessions() as s:
        plan = s.get(CreditPlan, row.plan_id)
        assert plan.status == plans.RETURNED and plan.outstanding_principal_fen == 0
        assert ledger.balance(s, ledger.WALLET, shop.account_id) == Shop.WALLET
        assert ledger.balance(s, ledger.MERCHANT, shop.merchant_id) == 0
        assert ledger.balance(s, ledger.CREDIT_INCOME, shop.tenant_id) == 0
        statuses = [r.status for r in plans.installments(s, plan.id)]
        assert statuses == ["paid"] + ["cancelled"] * 5
        check_books(s, shop, plan, ledger.fee_for(300_000, 60))
        # A return is one balanced transaction, posted once.
        txn = s.get(LedgerTransaction, row.transaction_id)
        assert txn.kind == "credit_return" and txn.reference == f"credit_return:{row.id}"
    with pytest.raises(DomainError) as again:
        shop.give_back(checkout_id, "rma-2", 1)
    assert again.value.code == "plan_already_returned"


def test_the_merchant_must_hold_what_it_gives_back(sessions):
    shop = Shop(sessions, fee_bps=0)
    checkout_id = shop.buy(FEE_PRODUCT, 100_000, 3, dt.date(2026, 11, 23))
    with sessions() as s:  # the merchant paid its balance out elsewhere
        ledger.post(
            s,
            "payout",
            "payout:1",
            [
                (ledger.account(s, ledger.MERCHANT, shop.merchant_id), -90_000),
                (ledger.account(s, ledger.FUNDING, shop.tenant_id), 90_000),
            ],
        )
        s.commit()
    with pytest.raises(DomainError) as refused:
        shop.give_back(checkout_id, "rma-1", 50_000)
    assert refused.value.code == "merchant_funds_insufficient"
    with sessions() as s:  # nothing moved
        assert s.query(CreditReturn).count() == 0
        assert lines.line_of(s, shop.account_id).used_fen == 100_000
    row, _ = shop.give_back(checkout_id, "rma-2", 10_000)
    assert row.principal_cancelled_fen == 10_000


def test_a_frozen_account_gets_its_debt_cancelled_but_no_money_until_it_is_reviewed(sessions):
    """Cancelling principal owed never waits; money into a frozen account's wallet does, as a
    refund's does (a frozen account moves no money until an operator reviews it)."""
    shop = Shop(sessions, fee_bps=60)
    checkout_id = shop.buy(FEE_PRODUCT, 300_000, 6, dt.date(2026, 11, 23))

    def set_status(status: str) -> None:
        with sessions() as s:
            s.get(Account, shop.account_id).status = status
            s.commit()

    set_status("frozen")
    row, _ = shop.give_back(checkout_id, "rma-1", 60_000)  # nothing paid yet: only debt is cancelled
    assert row.principal_cancelled_fen == 60_000 and row.wallet_fen == 0
    set_status("active")
    with sessions() as s:
        plan = s.get(CreditPlan, s.get(CreditCheckout, checkout_id).plan_id)
        repayments.repay(s, s.get(Account, shop.account_id), plan, "installment", None, "one", dt.date(2026, 12, 23))
        s.commit()
    set_status("frozen")
    with pytest.raises(DomainError) as refused:  # a share of the fee paid would go to the wallet
        shop.give_back(checkout_id, "rma-2", 120_000)
    assert refused.value.code == "account_frozen"
    set_status("active")
    row, _ = shop.give_back(checkout_id, "rma-2", 120_000)
    assert row.fee_refunded_fen > 0 and row.wallet_fen == row.fee_refunded_fen
    with sessions() as s:
        check_books(s, shop, s.get(CreditPlan, row.plan_id), ledger.fee_for(300_000, 60))


# --- risk: quick returns feed the cash-out typologies --------------------------------------------


def test_quick_returns_are_counted_and_feed_the_cash_out_typologies(sessions):
    t0 = dt.datetime(2026, 12, 1, 4, tzinfo=dt.UTC)
    with sessions() as s:
        for n in range(4):
            at = t0 + dt.timedelta(days=n)
            emit(
                s, EventIn("installment", account_id="acc", merchant_id="m", ref=f"plan{n}", outcome="completed", at=at)
            )
            emit(
                s,
                EventIn(
                    "credit_returned",
                    account_id="acc",
                    merchant_id="m",
                    ref=f"plan{n}",
                    outcome="quick" if n else None,  # the first came back after 72 hours
                    amount_fen=100,
                    at=at + dt.timedelta(hours=5),
                ),
            )
        order = emit(
            s, EventIn("installment", account_id="acc", merchant_id="m", amount_fen=100, at=t0 + dt.timedelta(days=5))
        )
        s.flush()
        stored = s.get(RiskEvent, order.seq)
        values = features.compute(
            s, ["account_quick_returns_30d", "account_refunds_at_merchant_30d", "merchant_refund_share_30d"], stored
        )
        assert values == {
            "account_quick_returns_30d": 3,
            "account_refunds_at_merchant_30d": 4,  # a return is a refund of the order at the merchant
            "merchant_refund_share_30d": 1.0,
        }
    ruleset = rules.load()
    base = {"category": "electronics", "installment_is_max_term": 0}
    assert ruleset.evaluate("installment", {**base, "account_quick_returns_30d": 1}).decision == "approve"
    two = ruleset.evaluate("installment", {**base, "account_quick_returns_30d": 2})
    assert two.decision == "review" and "quick_return_loop" in two.typologies
    four = ruleset.evaluate("installment", {"category": "furniture", "account_quick_returns_30d": 4})
    assert four.decision == "review" and "quick_return_loop" in four.typologies
    # With one more cash-out signal, quick returns are enough for the cash-out typology too.
    cashout = ruleset.evaluate(
        "installment", {"category": "furniture", "account_quick_returns_30d": 2, "account_refunds_at_merchant_30d": 1}
    )
    assert "installment_cashout_merchant" in cashout.typologies


# --- over HTTP, in the credit world ----------------------------------------------------------------


@pytest.fixture()
def world(tmp_path, database_url, shared_data):
    w = World(tmp_path, database_url, shared_data, risk_rules_path=quiet_rules(tmp_path))
    yield w
    w.close()


def terminal_of(world: World, merchant_id: str) -> Terminal:
    r = world.client.post(
        f"/v1/operator/merchants/{merchant_id}/terminals", json={"label": "till"}, headers=world.hs["admin"]
    )
    assert r.status_code == 201, r.text
    return Terminal(r.json()["terminal_id"], r.json()["secret"], world.client)


def bought(world: World, amount_fen: int, order: str, product: str, periods: int) -> dict:
    checkout = world.checkout(amount_fen, order)
    r = world.confirm(checkout["checkout_id"], world.face_pass("installment"), product=product, periods=periods)
    assert r.status_code == 201, r.text
    return {"checkout_id": checkout["checkout_id"], **r.json()}


def give_back(terminal: Terminal, checkout_id: str, return_id: str, amount_fen: int):
    return terminal.call(
        "POST",
        f"/v1/terminal/credit/checkouts/{checkout_id}/returns",
        {"return_id": return_id, "amount_fen": amount_fen},
    )


def plan_of(world: World, plan_id: str) -> dict:
    r = world.client.get(f"/v1/me/credit/plans/{plan_id}", headers=world.h)
    assert r.status_code == 200, r.text
    return r.json()


def test_full_return_before_any_repayment_cancels_everything(world):
    """Nothing was repaid: every installment is cancelled, the line is whole again, no wallet money
    moves, the merchant gives back the price less the platform fee, which the platform gives back;
    the same return id answers the same return, another amount under it is refused."""
    assert world.grant(10_000 * CNY).status_code == 200
    wallet = world.wallet()
    plan = bought(world, 5_999 * CNY, "ret-1", "mall-installment-fee", 12)
    till = terminal_of(world, world.merchant_id)
    r = give_back(till, plan["checkout_id"], "rma-1", 5_999 * CNY)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["full"] and made["returned_fen"] == 599_900 and made["returnable_fen"] == 0
    assert made["merchant_order_id"] == "ret-1" and "account_id" not in made and "plan_id" not in made
    after = plan_of(world, plan["plan_id"])
    assert after["status"] == "returned" and after["outstanding_principal_fen"] == 0 and after["next_payment"] is None
    assert {i["status"] for i in after["installments"]} == {"cancelled"}
    assert after["returned_fen"] == 599_900 and len(after["returns"]) == 1
    back = after["returns"][0]
    assert back["principal_cancelled_fen"] == 599_900 and back["wallet_fen"] == 0
    assert back["fee_cancelled_fen"] == 43_193  # every fee of the plan (test_credit_api's quote)
    assert world.line() == {"limit_fen": 1_000_000, "used_fen": 0, "available_fen": 1_000_000, "status": "active"}
    assert world.wallet() == wallet
    with world.app.state.sessions() as s:
        assert ledger.balance(s, ledger.MERCHANT, world.merchant_id) == 0
        assert ledger.balance(s, ledger.CREDIT, world.account_id) == 0
        event = s.query(RiskEvent).filter_by(kind="credit_returned").one()
        assert (event.ref, event.amount_fen, event.outcome, event.merchant_id) == (
            plan["plan_id"],
            599_900,
            "quick",
            world.merchant_id,
        )
        audit_row = s.execute(text("SELECT actor, action FROM audit_log WHERE action = 'credit.return'")).one()
        assert audit_row.actor == f"terminal:{till.id}"
        # The platform's back end hears of it (a webhook event written with the return), and a plan
        # whose goods all went back is not reported as repaid.
        hooks = s.execute(text("SELECT kind, body FROM webhook_events")).all()
        returned = [json.loads(b)["data"] for k, b in hooks if k == "checkout.returned"]
        assert [(d["checkout_id"], d["amount_fen"], d["full"], d["plan_status"]) for d in returned] == [
            (plan["checkout_id"], 599_900, True, "returned")
        ]
        assert "plan.repaid" not in {k for k, _ in hooks}
    world.books_ok()
    # The same return again: the same answer, nothing moves twice.
    again = give_back(till, plan["checkout_id"], "rma-1", 5_999 * CNY)
    assert again.status_code == 200 and again.json()["transaction_id"] == made["transaction_id"]
    reused = give_back(till, plan["checkout_id"], "rma-1", 100 * CNY)
    assert reused.status_code == 409 and error(reused) == "idempotency_key_reused"
    more = give_back(till, plan["checkout_id"], "rma-2", 1)
    assert more.status_code == 409 and error(more) == "plan_already_returned"
    repay = world.repay(plan["plan_id"], "installment", "k-1")
    assert repay.status_code == 409 and error(repay) == "plan_already_returned"
    world.books_ok()


def test_partial_returns_and_returns_after_repayments_are_exact_to_the_fen(world):
    """A fee plan with two installments repaid: a third of the goods back reduces the four left
    exactly and refunds a third of the fees paid; the rest back returns the repaid principal and the
    fees to the wallet. An interest plan keeps the interest paid (its product's rule)."""
    assert world.grant(20_000 * CNY).status_code == 200
    wallet = world.wallet()
    fee_plan = bought(world, 3_000 * CNY, "ret-fee", "mall-installment-fee", 6)
    till = terminal_of(world, world.merchant_id)
    for n, day in enumerate(("2026-12-23", "2027-01-23")):
        world.clock.to(dt.date.fromisoformat(day))
        assert world.repay(fee_plan["plan_id"], "installment", f"fee-{n}").status_code == 201
    assert world.wallet() == wallet - 2 * (50_000 + 1_800)
    r = give_back(till, fee_plan["checkout_id"], "rma-fee-1", 1_000 * CNY)
    assert r.status_code == 201 and r.json()["returnable_fen"] == 200_000 and not r.json()["full"]
    after = plan_of(world, fee_plan["plan_id"])
    left = [(i["principal_fen"], i["fee_fen"]) for i in after["installments"] if i["status"] != "paid"]
    assert left == [(25_000, 1_200)] * 4 and after["outstanding_principal_fen"] == 100_000
    assert after["returns"][0]["fee_refunded_fen"] == 1_200 and world.wallet() == wallet - 2 * 51_800 + 1_200
    assert world.line()["used_fen"] == 100_000
    r = give_back(till, fee_plan["checkout_id"], "rma-fee-2", 2_000 * CNY)
    assert r.status_code == 201 and r.json()["full"]
    after = plan_of(world, fee_plan["plan_id"])
    assert after["status"] == "returned" and after["returns"][1]["wallet_fen"] == 100_000 + 2_400
    assert world.wallet() == wallet  # every fen paid on the plan came back
    world.books_ok()

    interest_plan = bought(world, 3_000 * CNY, "ret-interest", "mall-installment-interest", 6)
    first = interest_plan["installments"][0]
    world.clock.to(dt.date.fromisoformat(first["due_date"]))
    assert world.repay(interest_plan["plan_id"], "installment", "int-0").status_code == 201
    before = plan_of(world, interest_plan["plan_id"])
    rows = [
        unwind.Row(i["number"], i["principal_fen"], i["interest_fen"], i["fee_fen"]) for i in before["installments"][1:]
    ]
    expected = unwind.unwind(300_000, 0, 50_000, rows, 0, first["interest_fen"], products.KEEP_PAID_COST)
    paid_so_far = world.wallet()
    r = give_back(till, interest_plan["checkout_id"], "rma-int-1", 500 * CNY)
    assert r.status_code == 201
    after = plan_of(world, interest_plan["plan_id"])
    got = [(i["principal_fen"], i["interest_fen"]) for i in after["installments"][1:]]
    assert got == [(row.principal_fen, row.interest_fen) for row in expected.rows]
    assert sum(p for p, _ in got) == 300_000 - first["principal_fen"] - 50_000
    assert after["returns"][0]["interest_refunded_fen"] == 0 and world.wallet() == paid_so_far
    world.books_ok()
    # The user's history shows both plans' returns.
    credit = world.client.get("/v1/me/credit", headers=world.h).json()
    assert sorted(len(p["returns"]) for p in credit["plans"]) == [1, 2]


def test_returns_are_refused_clearly(world):
    assert world.grant(10_000 * CNY).status_code == 200
    plan = bought(world, 2_000 * CNY, "ret-refused", "mall-installment-fee", 3)
    till = terminal_of(world, world.merchant_id)
    too_much = give_back(till, plan["checkout_id"], "rma-1", 2_000 * CNY + 1)
    assert too_much.status_code == 422 and error(too_much) == "return_exceeds_purchase"
    assert too_much.json()["error"]["returnable_fen"] == 200_000
    # An order offered but never bought on installments.
    open_checkout = world.checkout(1_000 * CNY, "ret-open")
    r = give_back(till, open_checkout["checkout_id"], "rma-2", 100)
    assert r.status_code == 409 and error(r) == "checkout_not_confirmed"
    # Another merchant's terminal does not see this order at all; an unsigned request is refused.
    r = world.client.post(
        "/v1/operator/merchants",
        json={"tenant_id": world.tenant, "name": "Other", "fee_bps": 0},
        headers=world.hs["admin"],
    )
    other = terminal_of(world, r.json()["merchant_id"])
    r = give_back(other, plan["checkout_id"], "rma-3", 100)
    assert r.status_code == 404 and error(r) == "checkout_not_found"
    r = world.client.post(
        f"/v1/terminal/credit/checkouts/{plan['checkout_id']}/returns", json={"return_id": "x", "amount_fen": 100}
    )
    assert r.status_code == 401 and error(r) == "signature_missing"
    r = till.call(
        "POST",
        f"/v1/terminal/credit/checkouts/{plan['checkout_id']}/returns",
        {"return_id": "rma-4", "amount_fen": 100},
        secret=other.secret,
    )
    assert r.status_code == 401 and error(r) == "signature_invalid"
    r = give_back(till, plan["checkout_id"], "rma-5", 0)
    assert r.status_code == 422
    assert plan_of(world, plan["plan_id"])["returned_fen"] == 0
    world.books_ok()


def test_concurrent_duplicate_returns_return_once(world):
    assert world.grant(10_000 * CNY).status_code == 200
    plan = bought(world, 2_000 * CNY, "ret-race", "mall-installment-fee", 6)
    till = terminal_of(world, world.merchant_id)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: give_back(till, plan["checkout_id"], "rma-race", 1_500 * CNY), range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, [r.text for r in answers]
    assert {error(r) for r in answers if r.status_code == 409} <= {"credit_return_in_progress"}
    assert give_back(till, plan["checkout_id"], "rma-race", 1_500 * CNY).status_code == 200
    # Different return ids racing for more than is left: only what is left can be returned.
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda n: give_back(till, plan["checkout_id"], f"rma-{n}", 400 * CNY), range(3)))
    assert sorted(r.status_code for r in answers).count(201) == 1, [r.text for r in answers]
    after = plan_of(world, plan["plan_id"])
    assert after["returned_fen"] == 190_000 and len(after["returns"]) == 2
    with world.app.state.sessions() as s:
        assert s.query(RiskEvent).filter_by(kind="credit_returned").count() == 2
    world.books_ok()
