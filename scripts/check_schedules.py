"""Schedule arithmetic against independent oracles, over many random plans; prints the figures.

For each random plan (principal 0.01 to 10,000,000 yuan, 3/6/12/24 periods, a fee of 0 to 2 % a
period or 0 to 36 % a year of interest, annuity or equal principal):
- the principal parts sum exactly to the principal and the last balance is zero;
- the APR (IRR x 12) against a brute-force float bisection IRR x 12 and numpy-financial's irr x 12;
- for annuities, the level payment against numpy-financial's pmt.

Usage: .venv/bin/python scripts/check_schedules.py [--plans 20000] [--seed 1] [--json OUT]
(numpy-financial is a test dependency: `pip install -e .[dev]`, which `make test` does.)
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

import numpy as np
import numpy_financial as npf

from facetrust.credit.schedule import ANNUITY, EQUAL_PRINCIPAL, FLAT_FEE, Pricing, build


def bisection_irr(principal: int, payments: list[int]) -> float:
    def excess(x: float) -> float:
        return sum(p / (1 + x) ** k for k, p in enumerate(payments, start=1)) - principal

    lo, hi = 0.0, 1.0
    while excess(hi) > 0:
        lo, hi = hi, hi * 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    worst_bisection = worst_npf = worst_pmt = 0.0
    exact = 0
    build_seconds = 0.0
    for _ in range(args.plans):
        method = (FLAT_FEE, ANNUITY, EQUAL_PRINCIPAL)[int(rng.integers(3))]
        rate = (
            Decimal(int(rng.integers(0, 20_001))).scaleb(-6)
            if method == FLAT_FEE
            else Decimal(int(rng.integers(0, 360_001))).scaleb(-6)
        )
        principal = int(rng.integers(1, 1_000_000_001))
        periods = int(rng.choice([3, 6, 12, 24]))
        started = time.perf_counter()
        plan = build(principal, periods, Pricing(method, rate))
        apr = float(plan.apr)
        build_seconds += time.perf_counter() - started
        rows = plan.installments
        exact += sum(i.principal_fen for i in rows) == principal and rows[-1].balance_after_fen == 0
        payments = [i.payment_fen for i in rows]
        if sum(payments) == principal:
            continue  # a zero-cost plan: both sides are 0
        worst_bisection = max(worst_bisection, abs(apr - 12 * bisection_irr(principal, payments)))
        worst_npf = max(worst_npf, abs(apr - 12 * float(npf.irr([principal, *[-p for p in payments]]))))
        if method == ANNUITY and rate > 0:
            level = -npf.pmt(float(rate) / 12, periods, principal)
            worst_pmt = max(worst_pmt, abs(rows[0].payment_fen - level))
    figures = {
        "plans": args.plans,
        "seed": args.seed,
        "principal_sums_exact": f"{exact}/{args.plans}",
        "apr_max_abs_diff_pp_vs_bisection_irr": round(worst_bisection * 100, 6),
        "apr_max_abs_diff_pp_vs_numpy_financial_irr": round(worst_npf * 100, 6),
        "annuity_level_payment_max_abs_diff_fen_vs_numpy_financial_pmt": round(worst_pmt, 4),
        "build_and_apr_ms_per_plan": round(1000 * build_seconds / args.plans, 3),
        "target": "APR within 0.01 percentage points of the oracle; periods sum exactly to the principal",
    }
    print(json.dumps(figures, indent=2))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
