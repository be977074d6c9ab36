"""`facetrust risk ...`: check a rule set file, replay a stored decision."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def risk() -> None:
    """Risk control: rule sets and decisions."""


@risk.command("rules")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def rules_check(path: Path | None, as_json: bool) -> None:
    """Validate a rule set file (default: the packaged one) the way the service does at start."""
    from facetrust.cli.common import CliError, run
    from facetrust.risk import rules

    def body() -> int:
        try:
            ruleset = rules.load(path)
        except rules.RuleSetError as err:
            raise CliError("rule_set_invalid", str(err)) from None
        summary = {
            "version": ruleset.version,
            "sha256": ruleset.sha256,
            "rules": len(ruleset.rules),
            "typologies": [t.id for t in ruleset.typologies],
        }
        click.echo(
            json.dumps(summary)
            if as_json
            else f"rule set {ruleset.version} OK: {summary['rules']} rules, "
            f"typologies {', '.join(summary['typologies'])}"
        )
        return 0

    run(as_json, body)


@risk.command("replay")
@click.argument("decision_id")
@click.option("--json", "as_json", is_flag=True, help="Print the replay as JSON.")
def replay(decision_id: str, as_json: bool) -> None:
    """Re-run a stored decision under its stored rule set and recompute its features from the
    stored events. Exit 0 if it reproduces, 1 if it does not."""
    from facetrust.cli.common import CliError, in_transaction, run
    from facetrust.errors import DomainError
    from facetrust.risk import engine

    def body() -> int:
        try:
            result = in_transaction(lambda session: engine.replay(session, decision_id)).as_dict()
        except DomainError as err:
            raise CliError(err.code, err.message) from None
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            stored, replayed = result["stored"], result["replayed"]
            click.echo(
                f"decision {decision_id}: stored {stored['decision']} {stored['typologies']} under "
                f"{stored['rule_set_version']}; replayed {replayed['decision']} {replayed['typologies']}: "
                f"{'REPRODUCED' if result['reproduced'] else 'DIFFERENT'}"
            )
            click.echo(
                "features recomputed from the stored events: "
                + ("identical" if result["recomputed_features_match"] else f"differ {result['feature_differences']}")
            )
        return 0 if result["reproduced"] else 1

    run(as_json, body)
