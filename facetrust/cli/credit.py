"""`facetrust credit quote`: the full repayment schedule of a plan or loan, with its APR (IRR x 12).

    facetrust credit quote --principal 5999.00 --periods 12 --fee-rate 0.006
    facetrust credit quote --principal 5999.00 --periods 12 --annual-rate 0.12 [--method equal_principal] --json

Every input is read as text and checked here, so that a bad value is reported like every other
command error (a stable code and a message, JSON under --json, exit status 2) rather than as a
usage screen.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal

import click

from facetrust.credit import schedule

_RATE_RE = re.compile(r"\+?(?:\d+(?:\.\d*)?|\.\d+)")  # plain decimal notation, no sign, exponent, nan, inf
_PERIODS_RE = re.compile(r"\+?\d{1,6}")
MAX_PERIODS = 600  # an input sanity bound for the command (50 years); the product catalogue allows 3-24
INTEREST_METHODS = (schedule.ANNUITY, schedule.EQUAL_PRINCIPAL)


def _parse_rate(text: str, option: str) -> Decimal:
    from facetrust.cli.common import CliError

    s = text.strip()
    if s.startswith("-"):
        raise CliError("invalid_argument", f"{option} must be zero or more, not {text!r}")
    if not _RATE_RE.fullmatch(s):
        raise CliError("invalid_argument", f"{option} must be a decimal fraction like 0.006 (0.6 %), not {text!r}")
    return Decimal(s)


def _parse_inputs(
    principal: str | None, periods: str | None, fee_rate: str | None, annual_rate: str | None, method: str | None
) -> tuple[int, int, schedule.Pricing]:
    from facetrust.cli.common import CliError

    if principal is None:
        raise CliError("invalid_argument", "--principal is required (in yuan, e.g. 5999.00)")
    if periods is None:
        raise CliError("invalid_argument", "--periods is required (the number of monthly installments)")
    try:
        principal_fen = schedule.parse_yuan(principal)
    except ValueError as exc:
        raise CliError("invalid_argument", f"--principal: {exc}") from None
    if principal_fen <= 0:
        raise CliError("invalid_argument", f"--principal must be more than 0, not {principal!r}")
    if not _PERIODS_RE.fullmatch(periods.strip()) or not 1 <= int(periods) <= MAX_PERIODS:
        raise CliError(
            "invalid_argument", f"--periods must be a whole number of months from 1 to {MAX_PERIODS}, not {periods!r}"
        )
    n = int(periods)

    if (fee_rate is None) == (annual_rate is None):
        raise CliError(
            "invalid_argument",
            "give exactly one of --fee-rate (a fee per period on the original "
            "principal) and --annual-rate (interest on the balance)",
        )
    if fee_rate is not None:
        if method is not None:
            raise CliError(
                "invalid_argument",
                "--method applies to --annual-rate only; a --fee-rate plan is always a flat fee per period",
            )
        pricing = schedule.Pricing(schedule.FLAT_FEE, _parse_rate(fee_rate, "--fee-rate"))
    else:
        method = method or schedule.ANNUITY
        if method not in INTEREST_METHODS:
            raise CliError("invalid_argument", f"--method must be one of {', '.join(INTEREST_METHODS)}, not {method!r}")
        pricing = schedule.Pricing(method, _parse_rate(annual_rate, "--annual-rate"))
    return principal_fen, n, pricing


def percent(rate: Decimal) -> str:
    """A fraction as a percentage with 2 decimals, half-up: Decimal("0.130343") -> "13.03%"."""
    return f"{(rate * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def render(plan: schedule.Schedule) -> str:
    """The schedule as a Markdown table (readable as is in a terminal), then the totals and rates."""
    fee_plan = plan.pricing.method == schedule.FLAT_FEE
    header = ["Period", "Due (months)", "Principal", "Fee" if fee_plan else "Interest", "Payment", "Balance"]
    rows = [
        [
            str(i.number),
            f"+{i.number}",
            schedule.yuan(i.principal_fen),
            schedule.yuan(i.fee_fen if fee_plan else i.interest_fen),
            schedule.yuan(i.payment_fen),
            schedule.yuan(i.balance_after_fen),
        ]
        for i in plan.installments
    ]
    rows.append(
        [
            "Total",
            "",
            schedule.yuan(plan.principal_fen),
            schedule.yuan(plan.total_cost_fen),
            schedule.yuan(plan.total_payment_fen),
            "",
        ]
    )
    widths = [max(len(header[c]), *(len(r[c]) for r in rows)) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.rjust(w) for cell, w in zip(cells, widths)) + " |"

    rate = plan.pricing.rate
    if fee_plan:
        pricing = f"flat fee of {percent(rate)} of the principal per period"
    else:
        kind = "equal installments" if plan.pricing.method == schedule.ANNUITY else "equal principal"
        pricing = f"{percent(rate)} a year on the balance, {kind}"
    out = [
        f"{schedule.yuan(plan.principal_fen)} yuan over {len(plan.installments)} months, {pricing}",
        "",
        line(header),
        "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|",
    ]
    out += [line(r) for r in rows]
    out += [
        "",
        f"Total cost: {schedule.yuan(plan.total_cost_fen)} yuan "
        f"(total repaid {schedule.yuan(plan.total_payment_fen)} yuan)",
        f"APR (IRR x 12): {percent(plan.apr)}; effective annual rate: {percent(plan.effective_annual_rate)}",
    ]
    return "\n".join(out)


@click.group()
def credit() -> None:
    """Credit: installment plans and loans."""


@credit.command("quote")
@click.option("--principal", default=None, metavar="YUAN", help="The amount financed, in yuan (e.g. 5999.00).")
@click.option("--periods", default=None, metavar="N", help="Monthly installments (e.g. 3, 6, 12, 24).")
@click.option(
    "--fee-rate",
    default=None,
    metavar="FRACTION",
    help="Flat fee per period as a fraction of the original principal (0.006 = 0.6 %).",
)
@click.option(
    "--annual-rate",
    default=None,
    metavar="FRACTION",
    help="Annual interest rate on the outstanding balance (0.12 = 12 %).",
)
@click.option(
    "--method",
    default=None,
    metavar="annuity|equal_principal",
    help="With --annual-rate: equal installments (annuity, the default) or equal principal.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON (money as yuan strings).")
def quote(
    principal: str | None,
    periods: str | None,
    fee_rate: str | None,
    annual_rate: str | None,
    method: str | None,
    as_json: bool,
) -> None:
    """The repayment schedule, total cost and APR (IRR x 12) of a plan."""
    from facetrust.cli.common import run

    def body() -> int:
        principal_fen, n, pricing = _parse_inputs(principal, periods, fee_rate, annual_rate, method)
        plan = schedule.build(principal_fen, n, pricing)
        if as_json:
            click.echo(json.dumps(plan.as_dict(), ensure_ascii=False))
        else:
            click.echo(render(plan))
        return 0

    run(as_json, body)
