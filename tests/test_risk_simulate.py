"""The fraud-scenario simulator and the risk bench, run small through the real engine and the
packaged rules: the report's shape, detection of every typology, few false positives on honest
users; the bench prints its figures. No timing is asserted here (`facetrust bench risk` measures)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from facetrust.cli.tools import risk_command, simulate
from facetrust.tools.risk_simulate import TYPOLOGIES

MOST = 0.5  # of a typology's scenarios detected, in a run this small (4 per typology)


def test_simulation_detects_every_typology_with_few_false_positives(tmp_path, database_url):
    out = tmp_path / "simulation.json"
    result = CliRunner().invoke(
        simulate,
        [
            "--normal-users",
            "150",
            "--scenarios",
            "4",
            "--days",
            "30",
            "--seed",
            "11",
            "--database-url",
            database_url,
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rep = json.loads(out.read_text())

    assert set(rep["typologies"]) == set(TYPOLOGIES)
    for typology, row in rep["typologies"].items():
        assert row["scenarios"] == 4
        assert row["started"] == 4, f"{typology}: every scenario ran inside the window"
        assert 0 <= row["detected"] <= row["scenarios"]
        assert row["detection_rate"] == round(row["detected"] / (row["scenarios"] - row["already_frozen"]), 4)
        assert {"frozen", "no_freeze", "median", "p95"} <= set(row["minutes_to_freeze"])
        assert row["minutes_to_freeze"]["frozen"] + row["minutes_to_freeze"]["no_freeze"] == row["scenarios"]
        assert row["money_out_moved_yuan"] <= row["money_out_attempted_yuan"]
    normal = rep["normal"]
    assert normal["users"] == 150
    assert normal["decisions"] > 1000  # a month of ordinary life went through the engine
    assert sum(normal["decisions_by_outcome"].values()) == normal["decisions"]
    assert rep["targets"] == {"detection_rate_per_typology": 0.95, "normal_false_positive_rate": 0.005}
    assert "targets:" in result.output and "false positives" in result.output

    missed = {t: row["detection_rate"] for t, row in rep["typologies"].items() if row["detection_rate"] < MOST}
    assert not missed, f"typologies detected in under half of their scenarios: {missed}"
    assert normal["false_positive_rate"] <= 0.02, normal["false_positives_by_behaviour"]


def test_simulation_refuses_a_degenerate_run():
    result = CliRunner().invoke(simulate, ["--normal-users", "3"])
    assert result.exit_code == 2
    assert "invalid_argument" in result.output


def test_bench_prints_latency_and_throughput(tmp_path, database_url):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        risk_command,
        [
            "--events",
            "20000",
            "--decisions",
            "200",
            "--profile",
            "50",
            "--database-url",
            database_url,
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    for text in ("p50", "p95", "p99", "threads", "processes", "decisions/s", "targets: p99 <= 20 ms"):
        assert text in result.output
    rep = json.loads(out.read_text())
    assert rep["loaded"]["events"] >= 19000
    assert rep["single_thread"]["decisions"] == 200
    assert rep["threads"]["decisions"] == 200 and rep["threads"]["errors"] == 0
    assert rep["single_thread"]["p50_ms"] <= rep["single_thread"]["p95_ms"] <= rep["single_thread"]["p99_ms"]
    assert rep["processes"]["decisions"] == 200 and rep["processes"]["errors"] == 0
    assert set(rep["met"]) == {"p99", "throughput", "throughput_processes"}
    assert rep["where_the_time_goes"]["features_mean_ms"]  # every feature the rules read, timed
