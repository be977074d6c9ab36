"""The credit product catalogue: the packaged one loads within its ceilings; a catalogue that breaks
a ceiling or is malformed is refused by the loader, and the service does not start on it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from facetrust.credit import products, schedule
from facetrust.settings import Settings

CEILINGS = {"penalty_ceiling": Decimal("0.0005"), "apr_ceiling": Decimal("0.24")}


def product(**changes) -> dict:
    base = {
        "id": "p-1",
        "kind": "installment",
        "name": "P",
        "name_zh": "P",
        "method": "flat_fee",
        "rate": "0.006",
        "periods": [3, 12],
        "categories": ["electronics"],
        "min_principal_fen": 10_000,
        "max_principal_fen": 1_000_000,
        "penalty_daily_rate": "0.0005",
        "prepayment": "waive_fees_not_yet_due",
    }
    return {**base, **changes}


def write(tmp_path, *items) -> object:
    path = tmp_path / "products.json"
    path.write_text(json.dumps({"products": list(items)}))
    return path


def test_the_packaged_catalogue_loads_within_its_ceilings():
    catalogue = products.load(None, **CEILINGS)
    assert {p.kind for p in catalogue.products.values()} == {"installment", "loan"}
    for p in catalogue.products.values():
        assert p.penalty_daily_rate <= CEILINGS["penalty_ceiling"]
        for n in p.periods:
            assert schedule.build(p.max_principal_fen, n, p.pricing).apr <= CEILINGS["apr_ceiling"]


def test_a_penalty_above_the_ceiling_is_refused(tmp_path):
    with pytest.raises(products.ProductConfigError, match="penalty_daily_rate 0.0006 is above the ceiling 0.0005"):
        products.load(write(tmp_path, product(penalty_daily_rate="0.0006")), **CEILINGS)
    assert products.load(write(tmp_path, product(penalty_daily_rate="0.0005")), **CEILINGS).products


def test_an_annualised_cost_above_the_ceiling_is_refused(tmp_path):
    # 2 % a period on the original principal looks small; over 12 periods its IRR x 12 is about 43 %.
    with pytest.raises(products.ProductConfigError, match=r"the APR over 12 periods is 0\.4"):
        products.load(write(tmp_path, product(rate="0.02")), **CEILINGS)
    with pytest.raises(products.ProductConfigError, match="APR over 24 periods"):
        products.load(
            write(tmp_path, product(method="annuity", rate="0.30", periods=[24], prepayment="accrued_interest")),
            **CEILINGS,
        )


@pytest.mark.parametrize(
    "changes,problem",
    [
        ({"method": "annuity"}, "prepayment rule is 'accrued_interest'"),
        ({"prepayment": "accrued_interest"}, "a fee product's prepayment rule"),
        ({"periods": [5]}, "periods must be distinct values"),
        ({"rate": "-0.01"}, "rate"),
        ({"kind": "loan"}, "a loan product has no item categories"),
        ({"min_principal_fen": 2_000_000}, "min_principal_fen is above max_principal_fen"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_malformed_products_are_refused_with_the_reason(tmp_path, changes, problem):
    with pytest.raises(products.ProductConfigError, match=problem):
        products.load(write(tmp_path, product(**changes)), **CEILINGS)


def test_the_service_does_not_start_on_a_catalogue_above_its_ceilings(tmp_path):
    from facetrust.api.app import create_app

    path = write(tmp_path, product(penalty_daily_rate="0.001"))
    with pytest.raises(products.ProductConfigError):
        create_app(Settings(data_dir=tmp_path, credit_products_path=path))
    with pytest.raises(products.ProductConfigError, match="cannot read"):
        create_app(Settings(data_dir=tmp_path, credit_products_path=tmp_path / "missing.json"))
