"""The tools' commands: `facetrust simulate`, `facetrust bench gallery|risk` and `facetrust eval
identify`. The tools (``facetrust.tools``) compute and return their reports; these commands parse
the options, print and write them, and map failures to codes."""

from __future__ import annotations

from pathlib import Path

import click

from facetrust.cli.common import CliError, report_out, run
from facetrust.tools import gallery_bench, risk_bench, risk_simulate
from facetrust.tools.evaluation import identify


@click.command("risk")
@click.option("--events", "n_events", default=1_000_000, show_default=True, help="Events in the store before timing.")
@click.option(
    "--decisions",
    "n_decisions",
    default=5000,
    show_default=True,
    help="Decisions timed one at a time, again on the worker threads, and again on worker processes.",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    help="Threads (each with its own sessions) for the throughput run; and as many processes after it, if 2+.",
)
@click.option(
    "--profile",
    "n_profile",
    default=500,
    show_default=True,
    help="Decisions of the instrumented pass (where the time goes); 0 to skip.",
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A rule set file (default: the packaged one).",
)
@click.option(
    "--database-url",
    default=None,
    help="An EMPTY database to fill (default: a fresh temporary SQLite file, deleted afterwards).",
)
@click.option("--seed", default=1, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def risk_command(
    n_events: int,
    n_decisions: int,
    workers: int,
    n_profile: int,
    rules_path: Path | None,
    database_url: str | None,
    seed: int,
    json_out: Path | None,
) -> None:
    """Latency and throughput of risk decisions over a realistic event store."""

    def body() -> int:
        from facetrust.risk.rules import RuleSetError

        if n_events < 1000 or n_decisions < 10 or workers < 1:
            raise CliError(
                "invalid_argument", "--events must be at least 1000, --decisions at least 10, --workers at least 1"
            )
        try:
            report = risk_bench.run(
                n_events,
                n_decisions,
                workers,
                database_url,
                rules_path,
                seed,
                n_profile,
                echo=lambda m: click.echo(m, err=True),
            )
        except RuleSetError as err:
            raise CliError("rule_set_invalid", str(err)) from None
        return report_out(risk_bench.summary(report), report, json_out)

    run(False, body)


@click.group()
def bench() -> None:
    """Benchmarks (figures, not tests)."""


@bench.command("gallery")
@click.option("--size", default=1_000_000, show_default=True, help="Templates in the gallery.")
@click.option(
    "--engine", "engine_name", type=click.Choice(["inprocess", "milvus"]), default="inprocess", show_default=True
)
@click.option("--probes", default=3000, show_default=True, help="Identifications timed (and scored).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--shortlist", default=None, type=int, help="inprocess: candidates re-ranked exactly.")
@click.option("--ef", default=None, type=int, help="milvus: HNSW search breadth.")
@click.option(
    "--milvus-uri",
    default=None,
    help="milvus: a server URI, or a .db path for Milvus Lite (default: a temporary Milvus Lite file).",
)
@click.option("--milvus-index", default="HNSW", show_default=True, help="milvus: index type (HNSW, FLAT, ...).")
@click.option("--seed", default=1, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Processes for the one-time template extraction.")
@click.option("--mutations", default=100, show_default=True, help="Adds, re-adds and removes timed after the searches.")
def gallery_command(
    size: int,
    engine_name: str,
    probes: int,
    json_out: Path | None,
    shortlist: int | None,
    ef: int | None,
    milvus_uri: str | None,
    milvus_index: str,
    seed: int,
    workers: int,
    mutations: int,
) -> None:
    """Latency, recall@1 against an exact scan, build time and memory of a 1:N engine."""

    def body() -> int:
        if size < 100 or probes < 10:
            raise CliError("invalid_argument", "--size must be at least 100 and --probes at least 10")
        try:
            report = gallery_bench.run(
                size,
                engine_name,
                probes,
                seed,
                shortlist,
                ef,
                milvus_uri,
                milvus_index,
                workers,
                mutations,
                echo=lambda m: click.echo(m, err=True),
            )
        except FileNotFoundError as exc:
            raise CliError("data_not_found", str(exc)) from None
        return report_out(gallery_bench.summary(report), report, json_out)

    run(False, body)


@click.command("identify")
@click.option(
    "--images",
    "images_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of <Name>/<image> files.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--workers", default=2, show_default=True, help="Extraction worker processes.")
@click.option("--threads", default=1, show_default=True, help="Threads per worker.")
@click.option(
    "--seed",
    default=identify.DEFAULT_SEED,
    show_default=True,
    help="Seeds the enrolled half, the mobile numbers and the impostors' wrong digits.",
)
@click.option(
    "--limit-identities",
    default=None,
    type=int,
    help="Only the first N identities in name order (quick runs; not a figure).",
)
def eval_identify(
    images_dir: Path, json_out: Path | None, workers: int, threads: int, seed: int, limit_identities: int | None
) -> None:
    """Open-set FPIR and FNIR of the payment search, with and without the phone-digit step."""

    def body() -> int:
        if not any(d.is_dir() for d in images_dir.iterdir()):
            raise CliError("no_images", f"{images_dir} has no <Name>/ folders of images")
        report = identify.run(images_dir, workers, threads, seed, limit_identities)
        return report_out(identify.summary(report), report, json_out)

    run(False, body)


@click.command("simulate")
@click.option("--normal-users", default=2000, show_default=True, help="Honest users in the population.")
@click.option("--scenarios", default=50, show_default=True, help="Fraud scenarios injected per typology.")
@click.option("--days", default=60, show_default=True, help="Days of simulated time.")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A rule set file (default: the packaged one).",
)
@click.option("--database-url", default=None, help="Default: a fresh temporary SQLite file, deleted afterwards.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the full report here as JSON.",
)
def simulate(
    normal_users: int,
    scenarios: int,
    days: int,
    seed: int,
    rules_path: Path | None,
    database_url: str | None,
    json_out: Path | None,
) -> None:
    """Run a simulated population with labelled fraud scenarios through the real risk engine and
    report detection per typology and false positives on normal users."""

    def body() -> int:
        from facetrust.risk.rules import RuleSetError

        try:
            rep = risk_simulate.run(
                normal_users, scenarios, days, seed, database_url, rules_path, echo=lambda m: click.echo(m, err=True)
            )
        except ValueError as err:
            raise CliError("invalid_argument", str(err)) from None
        except RuleSetError as err:
            raise CliError("rule_set_invalid", str(err)) from None
        rep["command"] = (
            f"facetrust simulate --normal-users {normal_users} --scenarios {scenarios} --days {days} "
            f"--seed {seed}" + (f" --rules {rules_path}" if rules_path else "")
        )
        return report_out(risk_simulate.summary(rep), rep, json_out)

    run(False, body)
