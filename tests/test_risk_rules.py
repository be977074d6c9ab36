"""Risk rules and features: the packaged rule set loads; a malformed one is refused with every
problem named by rule or typology id and field; evaluation is pure, None-safe and picks the most
severe action; each feature is checked by hand on a real database (windows end at the event's time,
an event just outside a window or after the event is not counted)."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.orm import Session

from facetrust.risk import features, rules
from facetrust.risk.models import RiskEvent
from facetrust.store.db import make_engine

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
MIN, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)
SEC = dt.timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------
# rule sets: loading and validation


def minimal() -> dict:
    return {
        "version": "t-1",
        "description": "test rules",
        "rules": [
            {
                "id": "burst",
                "description": "a burst",
                "description_zh": "集中出款",
                "applies_to": ["payment"],
                "when": {"feature": "account_money_out_10m", "op": ">=", "value": 5},
                "score": 2,
                "reasons": ["velocity.burst"],
            }
        ],
        "typologies": [
            {
                "id": "velocity",
                "description": "bursts",
                "description_zh": "短时集中出款",
                "rules": ["burst"],
                "min_score": 2,
                "action": "step_up",
            }
        ],
    }


def write(tmp_path, doc, name="rules.yaml"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return path


def refused(tmp_path, doc) -> str:
    with pytest.raises(rules.RuleSetError) as info:
        rules.load(write(tmp_path, doc))
    return str(info.value)


def test_the_packaged_rule_set_loads_with_the_required_typologies():
    rs = rules.load()
    ids = {t.id for t in rs.typologies}
    assert {
        "velocity_burst",
        "new_device_high_amount",
        "shared_device_or_identity",
        "bust_out",
        "installment_cashout_merchant",
        "repeated_face_failures",
        "unusual_location",
    } <= ids
    assert rs.version and len(rs.sha256) == 64
    # Money-out kinds read the velocity and history features; failed face attempts only their own.
    assert {"account_money_out_10m", "amount_vs_max_completed_90d", "face_accounts"} <= rs.features_for("payment")
    assert rs.features_for("liveness") == {
        "account_failed_face_1h",
        "account_failed_face_24h",
        "device_failed_face_1h",
        "device_failed_face_accounts_1h",
    }
    assert {"on_time_repayments", "merchant_quick_refund_share_30d", "category"} <= rs.features_for("installment")
    assert rs.features_for("refund") == set()
    for rule in rs.rules:  # every feature a rule reads exists (the loader checked) and it applies somewhere
        assert rule.applies_to and rule.when.features() <= set(features.FEATURES)


def test_canonical_json_round_trips_and_hashes_stably(tmp_path):
    rs = rules.load()
    again = rules.from_json(rs.canonical_json())
    assert again.canonical_json() == rs.canonical_json() and again.sha256 == rs.sha256
    assert again.version == rs.version
    assert json.loads(rs.canonical_json())["version"] == rs.version
    text_ = rs.canonical_json()
    assert text_ == json.dumps(json.loads(text_), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # A file differing only in layout and comments gives the same canonical form and hash.
    path = write(tmp_path, "# comment\n" + yaml.safe_dump(minimal(), default_flow_style=True))
    assert rules.load(path).sha256 == rules.load(write(tmp_path, minimal(), "b.yaml")).sha256
    changed = minimal()
    changed["rules"][0]["score"] = 3
    changed["typologies"][0]["min_score"] = 3
    assert rules.load(write(tmp_path, changed, "c.yaml")).sha256 != rules.load(path).sha256


def mutate(path: str, value):
    """A copy of the minimal rule set with one field (a dotted path) set, or deleted when value is ...."""
    doc = minimal()
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = doc
    for p in parents:
        node = node[p]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (
            "rules.0.when",
            {
                "all": [
                    {"feature": "amount_fen", "op": ">", "value": 1},
                    {"feature": "acount_money_out_10m", "op": ">=", "value": 5},
                ]
            },
            "rule 'burst': when.all[1].feature: unknown feature 'acount_money_out_10m'",
        ),
        ("rules.0.when.op", "=>", "rule 'burst': when.op: unknown operator '=>'"),
        (
            "rules.0.when.value",
            {"feature": "nope", "times": 3},
            "rule 'burst': when.value.feature: unknown feature 'nope'",
        ),
        (
            "rules.0.when.value",
            {"feature": "amount_fen", "times": "three"},
            "rule 'burst': when.value.times: must be a number",
        ),
        ("rules.0.when.value", [1, 2], "rule 'burst': when.value: a list only goes with in / not_in"),
        ("rules.0.when.value", "many", "rule 'burst': when.value: >= needs a number or a feature"),
        (
            "rules.0.when",
            {"feature": "category", "op": "in", "value": "phones"},
            "rule 'burst': when.value: in needs a list",
        ),
        (
            "rules.0.when",
            {"feature": "category", "op": "is_null", "value": 1},
            "rule 'burst': when.value: is_null takes no value",
        ),
        ("rules.0.when", {"any": []}, "rule 'burst': when.any: List should have at least 1 item"),
        ("rules.0.when", {"not": {"anything": 1}}, "rule 'burst': when.not: a condition is"),
        ("rules.0.when.op", ..., "rule 'burst': when.op: missing"),
        ("rules.0.applies_to", ["payment", "paymnet"], "rule 'burst': applies_to[1]: unknown event kind 'paymnet'"),
        ("rules.0.applies_to", "payment", "rule 'burst': applies_to: Input should be a valid list"),
        ("rules.0.score", 0, "rule 'burst': score: must be greater than 0"),
        ("rules.0.score", "2", "rule 'burst': score: must be a number, not '2'"),
        ("rules.0.reasons", [], "rule 'burst': reasons: List should have at least 1 item"),
        ("rules.0.description", ..., "rule 'burst': description: missing"),
        ("rules.0.description_zh", ..., "rule 'burst': description_zh: missing"),
        ("rules.0.description_zh", "", "rule 'burst': description_zh: String should have at least 1 character"),
        ("typologies.0.description_zh", ..., "typology 'velocity': description_zh: missing"),
        ("rules.0.colour", "red", "rule 'burst': colour: unknown field"),
        ("rules.0.id", "Burst Rule", "rule 'Burst Rule': id: String should match pattern"),
        ("typologies.0.rules", ["burst", "brust"], "typology 'velocity': rules[1]: unknown rule 'brust'"),
        ("typologies.0.action", "block", "typology 'velocity': action: unknown action 'block'"),
        ("typologies.0.min_score", 5, "typology 'velocity': min_score: 5 can never be reached"),
        ("typologies.0.min_score", ..., "typology 'velocity': min_score: missing"),
        ("typologies.0.rules", "burst", "typology 'velocity': rules: Input should be a valid list"),
        ("version", 3, "version: Input should be a valid string"),
        ("typologies", ..., "typologies: missing"),
        ("extra", 1, "extra: unknown field"),
    ],
)
def test_a_malformed_rule_set_is_refused_naming_the_rule_and_the_field(tmp_path, path, value, expected):
    message = refused(tmp_path, mutate(path, value))
    assert expected in message, message


def test_every_packaged_rule_and_typology_is_described_in_chinese_and_english():
    rs = rules.load()
    for item in (*rs.rules, *rs.typologies):
        assert item.description and item.description_zh, item.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in item.description_zh), item.id  # Chinese, not a copy


def test_a_stored_rule_set_from_before_chinese_descriptions_still_loads_unchanged():
    """Decisions keep the rule set they ran under; one stored without description_zh is still
    explained and replayed, and its canonical JSON (so its sha256) is what was stored."""
    doc = minimal()
    del doc["rules"][0]["description_zh"]
    del doc["typologies"][0]["description_zh"]
    stored = rules.from_json(json.dumps(doc)).canonical_json()
    assert "description_zh" not in stored  # left out, not stored as null
    rs = rules.from_json(stored)
    assert rs.rule("burst").description_zh is None and rs.typology("velocity").description_zh is None
    assert rs.canonical_json() == stored


def test_duplicate_ids_are_refused(tmp_path):
    doc = minimal()
    doc["rules"].append(dict(doc["rules"][0]))
    doc["typologies"].append(dict(doc["typologies"][0]))
    message = refused(tmp_path, doc)
    assert "rule 'burst': id: duplicate rule id" in message
    assert "typology 'velocity': id: duplicate typology id" in message


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    doc = minimal()
    doc["rules"].append(
        {
            "id": "second",
            "description": "x",
            "applies_to": ["loan"],
            "when": {"feature": "amount_fen", "op": "~", "value": 1},
            "score": -1,
            "reasons": ["x"],
        }
    )
    doc["rules"][0]["when"]["feature"] = "nope"
    doc["typologies"][0]["action"] = "block"
    with pytest.raises(rules.RuleSetError) as info:
        rules.load(write(tmp_path, doc))
    problems = info.value.problems
    assert any(p.startswith("rule 'burst': when.feature: unknown feature 'nope'") for p in problems)
    assert any(p.startswith("rule 'second': when.op: unknown operator") for p in problems)
    assert any(p.startswith("rule 'second': score: must be greater than 0") for p in problems)
    assert any(p.startswith("typology 'velocity': action: unknown action") for p in problems)
    assert all(p in str(info.value) for p in problems)


def test_non_yaml_missing_files_and_wrong_shapes_are_refused(tmp_path):
    assert "not valid YAML" in refused(tmp_path, "rules: [unclosed\n  - {")
    assert "must be a mapping" in refused(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in refused(tmp_path, "")
    with pytest.raises(rules.RuleSetError, match="cannot read"):
        rules.load(tmp_path / "absent.yaml")
    with pytest.raises(rules.RuleSetError, match="not valid JSON"):
        rules.from_json("{nope")
    doc = minimal()
    doc["rules"] = [{"id": "only_an_id"}, "a string"]
    message = refused(tmp_path, doc)
    assert "rule 'only_an_id': description: missing" in message and "rule 'only_an_id': when: missing" in message
    assert "rule #2: Input should be a valid dictionary" in message


# ---------------------------------------------------------------------------------------------
# evaluation


def ruleset(rule_list: list[dict], typology_list: list[dict]) -> rules.RuleSet:
    base = {"description": "d", "reasons": ["r"], "applies_to": ["payment"], "score": 1}
    return rules.from_json(
        json.dumps(
            {
                "version": "e-1",
                "description": "eval",
                "rules": [{**base, "reasons": [f"reason.{r['id']}"], **r} for r in rule_list],
                "typologies": [{"description": "d", **t} for t in typology_list],
            }
        )
    )


def cond(feature, op, value=None):
    return {"feature": feature, "op": op, "value": value}


def test_the_most_severe_action_wins_and_typologies_below_min_score_do_not_fire():
    rs = ruleset(
        [
            {"id": "a", "when": cond("amount_fen", ">", 100), "score": 2},
            {"id": "b", "when": cond("account_money_out_10m", ">=", 5), "score": 1},
            {"id": "c", "when": cond("face_accounts", ">=", 2), "score": 3},
        ],
        [
            {"id": "t_step", "rules": ["a"], "min_score": 2, "action": "step_up"},
            {"id": "t_decline", "rules": ["a", "b"], "min_score": 3, "action": "decline"},
            {"id": "t_review", "rules": ["c"], "min_score": 3, "action": "review"},
        ],
    )
    e = rs.evaluate("payment", {"amount_fen": 500, "account_money_out_10m": 1, "face_accounts": 3})
    assert (e.decision, e.rules, e.typologies, e.score) == ("review", ["a", "c"], ["t_step", "t_review"], 5.0)
    assert e.reasons == ["reason.a", "reason.c"]
    e = rs.evaluate("payment", {"amount_fen": 500, "account_money_out_10m": 7, "face_accounts": 3})
    assert e.decision == "decline" and e.typologies == ["t_step", "t_decline", "t_review"]
    e = rs.evaluate("payment", {"amount_fen": 50, "account_money_out_10m": 7, "face_accounts": 1})
    assert (e.decision, e.rules, e.typologies, e.score) == ("approve", ["b"], [], 1.0)  # b alone is below 3
    # Rules apply only to their kinds.
    assert rs.evaluate("loan", {"amount_fen": 500, "face_accounts": 3}).decision == "approve"


def test_evaluation_is_none_safe():
    rs = ruleset(
        [
            {"id": "gt", "when": cond("amount_fen", ">", 1)},
            {"id": "ne", "when": cond("category", "!=", "phones")},
            {"id": "notin", "when": cond("category", "not_in", ["phones"])},
            {"id": "null", "when": cond("category", "is_null")},
            {"id": "notnull", "when": cond("category", "not_null")},
            {"id": "ratio", "when": cond("amount_fen", ">", {"feature": "max_completed_out_90d_fen", "times": 2})},
            {"id": "neg", "when": {"not": cond("amount_fen", ">", 1)}},
        ],
        [{"id": "t", "rules": ["gt"], "min_score": 1, "action": "review"}],
    )
    e = rs.evaluate("payment", {"amount_fen": None, "category": None, "max_completed_out_90d_fen": None})
    assert e.rules == ["null", "neg"] and e.decision == "approve"
    assert rs.evaluate("payment", {}).rules == ["null", "neg"]  # missing features are None
    e = rs.evaluate("payment", {"amount_fen": 10, "category": "food", "max_completed_out_90d_fen": None})
    assert e.rules == ["gt", "ne", "notin", "notnull"]  # the ratio against None is false
    # A string against a number is false, not an error.
    assert rs.evaluate("payment", {"amount_fen": "10"}).rules == ["null", "neg"]


def test_feature_times_factor_comparisons_and_composite_conditions():
    rs = ruleset(
        [
            {"id": "jump", "when": cond("amount_fen", ">=", {"feature": "max_completed_installment_fen", "times": 3})},
            {
                "id": "combo",
                "when": {
                    "all": [
                        cond("category", "in", ["phones", "gift_cards"]),
                        {"any": [cond("installment_is_max_term", "==", 1), cond("credit_utilisation", ">=", 0.9)]},
                        {"not": cond("late_repayments", ">", 0)},
                    ]
                },
            },
        ],
        [{"id": "t", "rules": ["jump", "combo"], "min_score": 2, "action": "freeze"}],
    )
    base = {
        "amount_fen": 300_000,
        "max_completed_installment_fen": 100_000,
        "category": "phones",
        "installment_is_max_term": 0,
        "credit_utilisation": 0.95,
        "late_repayments": 0,
    }
    assert rs.evaluate("payment", base).decision == "freeze"
    assert rs.evaluate("payment", {**base, "amount_fen": 299_999}).rules == ["combo"]
    assert rs.evaluate("payment", {**base, "credit_utilisation": 0.5}).rules == ["jump"]
    assert (
        rs.evaluate("payment", {**base, "credit_utilisation": 0.5, "installment_is_max_term": 1}).decision == "freeze"
    )
    assert rs.evaluate("payment", {**base, "late_repayments": 1}).rules == ["jump"]
    assert rs.evaluate("payment", {**base, "category": "food"}).rules == ["jump"]
    assert rs.features_for("payment") == {
        "amount_fen",
        "max_completed_installment_fen",
        "category",
        "installment_is_max_term",
        "credit_utilisation",
        "late_repayments",
    }


def test_evaluation_is_deterministic():
    rs = rules.load()
    values = {
        "account_money_out_10m": 6,
        "device_is_new_for_account": 1,
        "amount_vs_max_completed_90d": 4.0,
        "amount_fen": 800_000,
        "face_accounts": 1,
        "account_completed_out_90d": 3,
        "account_age_days": 100.0,
    }
    first = rs.evaluate("installment", values)
    assert all(rs.evaluate("installment", dict(reversed(list(values.items())))) == first for _ in range(5))
    assert rules.from_json(rs.canonical_json()).evaluate("installment", values) == first
    assert first.decision == "step_up" and {"velocity_burst", "new_device_high_amount"} <= set(first.typologies)


# The shipped typologies on hand-made feature values: each pattern fires, an ordinary customer
# with the same kind of event does not.
NORMAL_PAYMENT = {
    "account_money_out_10m": 1,
    "account_money_out_1h": 2,
    "account_money_out_24h": 4,
    "account_amount_out_24h": 8_000,
    "account_refused_out_24h": 0,
    "account_completed_out_90d": 120,
    "amount_fen": 2_500,
    "amount_vs_max_completed_90d": 0.2,
    "amount_vs_avg_completed_90d": 1.1,
    "max_completed_out_90d_fen": 12_000,
    "face_accounts": 1,
    "account_failed_face_1h": 0,
    "km_from_usual_merchants": 3.5,
    "merchant_is_new_for_account": 0,
    "account_devices_30d": 1,
    "account_age_days": 200.0,
    "km_from_last_payment": 2.0,
    "travel_speed_kmh": 1.5,
    "account_completed_same_kind_90d": 110,
    "amount_vs_max_same_kind_90d": 0.3,
    "amount_vs_avg_same_kind_90d": 1.1,
}
NORMAL_INSTALLMENT = {
    **NORMAL_PAYMENT,
    "amount_fen": 450_000,
    "amount_vs_max_completed_90d": 1.2,
    "amount_vs_avg_completed_90d": 6.0,
    "max_completed_out_90d_fen": 300_000,
    "device_is_new_for_account": 0,
    "device_accounts_30d": 2,
    "address_accounts_30d": 2,
    "ip_accounts_24h": 3,
    "device_money_out_10m": 1,
    "ip_money_out_10m": 1,
    "on_time_repayments": 12,
    "late_repayments": 0,
    "max_completed_installment_fen": 300_000,
    "installment_is_max_term": 1,
    "credit_utilisation": 0.4,
    "category": "electronics",
    "merchant_installments_30d": 40,
    "merchant_max_term_share_30d": 0.3,
    "merchant_distinct_accounts_max_term_30d": 12,
    "merchant_orders_30d": 300,
    "merchant_refund_share_30d": 0.03,
    "merchant_quick_refund_share_30d": 0.01,
    "account_installments_at_merchant_30d": 1,
    "account_refunds_at_merchant_30d": 0,
}


@pytest.mark.parametrize(
    "kind, changes, typology, decision",
    [
        ("payment", {"account_money_out_10m": 6}, "velocity_burst", "step_up"),
        ("payment", {"account_money_out_10m": 12, "account_money_out_1h": 12}, "velocity_burst_severe", "decline"),
        ("installment", {"device_money_out_10m": 5}, "velocity_burst", "step_up"),
        (
            "installment",
            {"device_is_new_for_account": 1, "amount_vs_max_completed_90d": 3.0},
            "new_device_high_amount",
            "step_up",
        ),
        (
            "loan",
            {
                "device_is_new_for_account": 1,
                "account_completed_out_90d": 0,
                "amount_vs_max_completed_90d": None,
                "amount_vs_avg_completed_90d": None,
                "amount_fen": 800_000,
            },
            "new_device_high_amount",
            "step_up",
        ),
        ("installment", {"device_accounts_30d": 3}, "shared_device_or_identity", "review"),
        (
            "loan",
            {
                "device_is_new_for_account": 1,
                "days_since_real_name": 0.2,
                "credit_utilisation": 0.95,
                "amount_fen": 500_000,
            },
            "new_device_high_amount",
            "step_up",
        ),
        (
            "installment",
            {
                "merchant_installments_30d": 12,
                "merchant_max_term_share_30d": 0.9,
                "merchant_distinct_accounts_max_term_30d": 11,
            },
            "installment_cashout_merchant",
            "review",
        ),
        ("installment", {"address_accounts_30d": 9}, "shared_device_or_identity", "review"),
        ("payment", {"face_accounts": 2}, "shared_face_money_out", "freeze"),
        (
            "installment",
            {
                "on_time_repayments": 3,
                "credit_history_days": 60,
                "amount_fen": 900_000,
                "max_completed_installment_fen": 60_000,
                "category": "phones",
            },
            "bust_out",
            "review",
        ),
        (
            "loan",
            {
                "on_time_repayments": 2,
                "credit_history_days": 100,
                "amount_fen": 2_000_000,
                "max_completed_installment_fen": 100_000,
                "credit_utilisation": 0.97,
                "installment_is_max_term": 0,
            },
            "bust_out",
            "review",
        ),
        (
            "installment",
            {
                "on_time_repayments": 3,
                "credit_history_days": 60,
                "amount_fen": 900_000,
                "max_completed_installment_fen": 60_000,
                "category": "phones",
                "account_credit_draws_7d": 2,
            },
            "bust_out_repeated",
            "freeze",
        ),
        ("loan", {"account_loans_1h": 2}, "credit_draws_burst", "review"),
        ("liveness", {"account_failed_face_24h": 10}, "repeated_face_failures_severe", "freeze"),
        (
            "installment",
            {
                "merchant_max_term_share_30d": 0.9,
                "merchant_distinct_accounts_max_term_30d": 8,
                "account_installments_at_merchant_30d": 2,
            },
            "installment_cashout_merchant",
            "review",
        ),
        (
            "installment",
            {
                "merchant_max_term_share_30d": 0.9,
                "merchant_quick_refund_share_30d": 0.5,
                "account_installments_at_merchant_30d": 3,
            },
            "installment_cashout_merchant_strong",
            "freeze",
        ),
        ("liveness", {"account_failed_face_1h": 3}, "repeated_face_failures", "step_up"),
        ("face_verification", {"account_failed_face_1h": 7}, "repeated_face_failures_severe", "freeze"),
        (
            "liveness",
            {"device_failed_face_1h": 4, "device_failed_face_accounts_1h": 3},
            "repeated_face_failures_severe",
            "freeze",
        ),
        (
            "payment",
            {"km_from_usual_merchants": 1100.0, "merchant_is_new_for_account": 1, "amount_vs_avg_same_kind_90d": 6.0},
            "unusual_location",
            "step_up",
        ),
        (
            "payment",
            {"km_from_usual_merchants": 1100.0, "km_from_last_payment": 1100.0, "travel_speed_kmh": 2200.0},
            "unusual_location",
            "step_up",
        ),
        (
            "installment",
            {
                "account_age_days": 0.5,
                "account_completed_out_90d": 0,
                "amount_vs_max_completed_90d": None,
                "amount_vs_avg_completed_90d": None,
                "amount_fen": 900_000,
                "days_since_real_name": 0.4,
                "credit_utilisation": 0.95,
                "device_is_new_for_account": 1,
            },
            "new_device_high_amount",
            "step_up",
        ),
    ],
)
def test_each_shipped_typology_fires_on_its_pattern(kind, changes, typology, decision):
    rs = rules.load()
    normal = NORMAL_INSTALLMENT if kind in ("installment", "loan") else NORMAL_PAYMENT
    if kind in ("liveness", "face_verification"):
        normal = {"account_failed_face_1h": 1, "device_failed_face_1h": 1, "device_failed_face_accounts_1h": 1}
    assert rs.evaluate(kind, normal).decision == "approve"
    e = rs.evaluate(kind, {**normal, **changes})
    assert typology in e.typologies and e.decision == decision, e


@pytest.mark.parametrize(
    "kind, changes",
    [
        ("installment", {"device_is_new_for_account": 1}),  # a new phone, the usual kind of amount
        (
            "payment",
            {
                "km_from_usual_merchants": 1100.0,
                "merchant_is_new_for_account": 1,
                "km_from_last_payment": 1100.0,
                "travel_speed_kmh": 180.0,
                "amount_vs_avg_same_kind_90d": 2.5,
                "amount_vs_max_same_kind_90d": 1.2,
            },
        ),  # a traveller, a good dinner
        (
            "payment",
            {"km_from_usual_merchants": 40.0, "merchant_is_new_for_account": 1, "amount_vs_avg_same_kind_90d": 6},
        ),
        (
            "installment",
            {
                "account_age_days": 0.5,
                "device_is_new_for_account": 1,
                "account_completed_out_90d": 0,
                "amount_vs_max_completed_90d": None,
                "amount_vs_avg_completed_90d": None,
            },
        ),  # a new customer
        ("installment", {"device_accounts_30d": 2}),  # a couple's tablet
        ("installment", {"address_accounts_30d": 5}),  # an office address
        (
            "installment",
            {
                "on_time_repayments": 3,
                "amount_fen": 900_000,
                "max_completed_installment_fen": 60_000,
                "category": "furniture",
                "installment_is_max_term": 0,
            },
        ),  # a large sofa after a few repayments
        (
            "installment",
            {"merchant_max_term_share_30d": 0.7, "merchant_distinct_accounts_max_term_30d": 8},
        ),  # first order
        ("installment", {"account_failed_face_1h": 2, "account_money_out_10m": 3}),
        ("payment", {"account_money_out_10m": 4, "account_money_out_1h": 9}),
    ],
)
def test_ordinary_variations_are_approved(kind, changes):
    normal = NORMAL_INSTALLMENT if kind == "installment" else NORMAL_PAYMENT
    assert rules.load().evaluate(kind, {**normal, **changes}).decision == "approve"


# ---------------------------------------------------------------------------------------------
# features on a real database


@pytest.fixture(scope="module")
def db_engine(tmp_path_factory):
    """One migrated database for the module (PostgreSQL when FACETRUST_TEST_DATABASE_URL names
    one); each test works in a transaction rolled back at its end, with ids of its own."""
    from facetrust.store import migrate

    url = os.environ.get("FACETRUST_TEST_DATABASE_URL")
    if url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('risk') / 'risk.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture()
def s(db_engine):
    with Session(db_engine) as session:
        yield session
        session.rollback()


class World:
    """Hand-made events with explicit times, and unique ids for this test's accounts and devices."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tag = uuid.uuid4().hex[:8]

    def id(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def ev(self, kind: str, at: dt.datetime, **kw) -> RiskEvent:
        for key in ("account_id", "device_id", "ip", "merchant_id", "address_hash", "face_key", "ref"):
            if isinstance(kw.get(key), str) and not kw[key].startswith("terminal:"):
                kw[key] = self.id(kw[key])
        if isinstance(kw.get("data"), dict):
            kw["data"] = json.dumps(kw["data"])
        row = RiskEvent(kind=kind, at=at, **kw)
        self.session.add(row)
        self.session.flush()
        return row

    def f(self, event: RiskEvent, *names: str) -> dict:
        return features.compute(self.session, names, event)

    def one(self, event: RiskEvent, name: str):
        return features.compute(self.session, [name], event)[name]

    def tenant(self) -> str:
        from facetrust.identity.models import Tenant

        t = Tenant(id=uuid.uuid4().hex, name=f"tenant-{uuid.uuid4().hex}", api_key_hash=uuid.uuid4().hex * 2)
        self.session.add(t)
        self.session.flush()
        return t.id

    def account(self, name: str, **kw) -> str:
        from facetrust.identity.models import Account

        account = Account(
            id=self.id(name)[:32], tenant_id=self.tenant(), platform_user_id=self.id(name), mobile="13800000000", **kw
        )
        self.session.add(account)
        self.session.flush()
        return account.id

    def merchant(self, name: str, lat: float | None, lon: float | None) -> str:
        from facetrust.payments.models import Merchant

        m = Merchant(id=self.id(name)[:32], tenant_id=self.tenant(), name=name, latitude=lat, longitude=lon)
        self.session.add(m)
        self.session.flush()
        return m.id


@pytest.fixture()
def w(s) -> World:
    return World(s)


def test_compute_returns_only_the_named_features_and_refuses_unknown_names(w):
    e = w.ev("payment", T0, account_id="a", amount_fen=100)
    assert w.f(e, "amount_fen", "category") == {"amount_fen": 100, "category": None}
    with pytest.raises(KeyError, match="acount_money_out_10m"):
        features.compute(w.session, ["amount_fen", "acount_money_out_10m"], e)
    assert all(f.description and "\n" not in f.description for f in features.FEATURES.values())


def test_account_velocity_windows_end_at_the_event(w):
    w.ev("payment", T0 - 10 * MIN, account_id="a", amount_fen=1_000)  # exactly 10 minutes: outside (t-10m, t]
    w.ev("payment", T0 - 9 * MIN, account_id="a", amount_fen=2_000, outcome="completed")
    w.ev("installment", T0 - 5 * MIN, account_id="a", amount_fen=30_000, outcome="decline")
    w.ev("loan", T0 - 59 * MIN, account_id="a", amount_fen=40_000)
    w.ev("payment", T0 - HOUR - SEC, account_id="a", amount_fen=50_000)
    w.ev("payment", T0 - DAY - SEC, account_id="a", amount_fen=60_000)  # outside 24 hours
    w.ev("refund", T0 - 2 * MIN, account_id="a", amount_fen=70_000)  # not money-out
    w.ev("payment", T0 - 2 * MIN, account_id="other", amount_fen=80_000)  # another account
    e = w.ev("payment", T0, account_id="a", amount_fen=3_000)
    w.ev("payment", T0 - 1 * MIN, account_id="a", amount_fen=90_000)  # stored after the event: not seen
    w.ev("payment", T0 + 1 * MIN, account_id="a", amount_fen=90_000)
    assert w.f(
        e,
        "account_money_out_10m",
        "account_money_out_1h",
        "account_money_out_24h",
        "account_amount_out_24h",
        "account_refused_out_24h",
    ) == {
        "account_money_out_10m": 3,
        "account_money_out_1h": 5,
        "account_money_out_24h": 6,
        "account_amount_out_24h": 1_000 + 2_000 + 30_000 + 40_000 + 50_000 + 3_000,
        "account_refused_out_24h": 1,
    }
    bare = w.ev("payment", T0, amount_fen=5)
    assert w.one(bare, "account_money_out_10m") is None and w.one(bare, "account_amount_out_24h") is None


def test_device_and_ip_velocity(w):
    for i, acc in enumerate(["a", "b", "c"]):
        w.ev("installment", T0 - (i + 1) * MIN, account_id=acc, device_id="phone", ip="1.2.3.4", amount_fen=10_000)
    w.ev("loan", T0 - 11 * MIN, account_id="a", device_id="phone", ip="1.2.3.4", amount_fen=10_000)
    w.ev("login", T0 - 1 * MIN, account_id="d", device_id="phone", ip="1.2.3.4")
    w.ev("login", T0 - 25 * HOUR, account_id="e", ip="1.2.3.4")  # outside the IP's 24 hours
    e = w.ev("installment", T0, account_id="a", device_id="phone", ip="1.2.3.4", amount_fen=10_000)
    assert w.f(e, "device_money_out_10m", "ip_money_out_10m", "ip_accounts_24h", "device_accounts_30d") == {
        "device_money_out_10m": 4,
        "ip_money_out_10m": 4,
        "ip_accounts_24h": 4,
        "device_accounts_30d": 4,
    }
    # A merchant terminal is no one's own device: the device features do not apply to it.
    t = w.ev("payment", T0, account_id="a", device_id="terminal:xyz", amount_fen=100)
    assert set(
        w.f(
            t,
            "device_money_out_10m",
            "device_accounts_30d",
            "device_is_new_for_account",
            "hours_since_device_change",
            "device_failed_face_1h",
            "ip_money_out_10m",
        ).values()
    ) == {None}


def test_distinct_accounts_per_device_face_address_and_devices_per_account(w):
    for i in range(3):
        w.ev("login", T0 - (i + 1) * DAY, account_id=f"acc{i}", device_id="dev")
        w.ev("installment", T0 - (i + 1) * HOUR, account_id=f"acc{i}", address_hash="addr", amount_fen=1)
        w.ev("payment", T0 - (i + 1) * 30 * DAY, account_id=f"acc{i}", face_key="face", amount_fen=1)
    w.ev("login", T0 - 30 * DAY - SEC, account_id="old", device_id="dev")  # outside 30 days
    w.ev("installment", T0 - 31 * DAY, account_id="old", address_hash="addr", amount_fen=1)
    w.ev("payment", T0 - 366 * DAY, account_id="old", face_key="face", amount_fen=1)  # outside 365 days
    w.ev("login", T0 - 2 * HOUR, account_id="acc0", device_id="dev")  # the same account again
    for d in ("d1", "d2", "terminal:t1", "terminal:t2"):
        w.ev("login", T0 - 3 * DAY, account_id="acc0", device_id=d)
    w.ev("login", T0 - 31 * DAY, account_id="acc0", device_id="d3")
    e = w.ev("installment", T0, account_id="acc0", device_id="dev", address_hash="addr", face_key="face", amount_fen=5)
    assert w.f(e, "device_accounts_30d", "address_accounts_30d", "face_accounts", "account_devices_30d") == {
        "device_accounts_30d": 3,
        "address_accounts_30d": 3,
        "face_accounts": 3,
        "account_devices_30d": 3,
    }
    bare = w.ev("installment", T0, amount_fen=5)
    assert set(
        w.f(
            bare,
            "device_accounts_30d",
            "address_accounts_30d",
            "face_accounts",
            "account_devices_30d",
            "ip_accounts_24h",
        ).values()
    ) == {None}


def test_device_change(w):
    w.ev("login", T0 - 10 * DAY, account_id="a", device_id="old-phone")
    w.ev("login", T0 - 3 * HOUR, account_id="a", device_id="new-phone")
    w.ev("login", T0 - 50 * DAY, account_id="someone-else", device_id="new-phone")  # another account's use
    e = w.ev("loan", T0, account_id="a", device_id="new-phone", amount_fen=1)
    assert w.f(e, "device_is_new_for_account", "hours_since_device_change") == {
        "device_is_new_for_account": 1,
        "hours_since_device_change": 3.0,
    }
    e = w.ev("loan", T0, account_id="a", device_id="old-phone", amount_fen=1)
    assert w.f(e, "device_is_new_for_account", "hours_since_device_change") == {
        "device_is_new_for_account": 0,
        "hours_since_device_change": 240.0,
    }
    # First seen with the event itself; exactly 24 hours is no longer new.
    e = w.ev("loan", T0, account_id="a", device_id="brand-new", amount_fen=1)
    assert w.f(e, "device_is_new_for_account", "hours_since_device_change") == {
        "device_is_new_for_account": 1,
        "hours_since_device_change": 0.0,
    }
    w.ev("login", T0 - DAY, account_id="b", device_id="phone-b")
    e = w.ev("loan", T0, account_id="b", device_id="phone-b", amount_fen=1)
    assert w.one(e, "device_is_new_for_account") == 0
    assert w.one(w.ev("loan", T0, account_id="a", amount_fen=1), "device_is_new_for_account") is None


def test_amount_against_the_accounts_own_history(w):
    w.ev("payment", T0 - 10 * DAY, account_id="a", amount_fen=10_000, outcome="completed")
    w.ev("installment", T0 - 20 * DAY, account_id="a", amount_fen=30_000, outcome="completed")
    w.ev("payment", T0 - 5 * DAY, account_id="a", amount_fen=99_000, outcome="decline")  # not completed
    w.ev("payment", T0 - 90 * DAY - SEC, account_id="a", amount_fen=500_000, outcome="completed")  # too old
    w.ev("top_up", T0 - DAY, account_id="a", amount_fen=800_000, outcome="completed")  # not money-out
    e = w.ev("payment", T0, account_id="a", amount_fen=60_000, outcome="completed")  # itself: never history
    w.ev("payment", T0 - HOUR, account_id="a", amount_fen=700_000, outcome="completed")  # stored later
    assert w.f(
        e,
        "account_completed_out_90d",
        "max_completed_out_90d_fen",
        "avg_completed_out_90d_fen",
        "amount_vs_max_completed_90d",
        "amount_vs_avg_completed_90d",
        "amount_fen",
    ) == {
        "account_completed_out_90d": 2,
        "max_completed_out_90d_fen": 30_000,
        "avg_completed_out_90d_fen": 20_000,
        "amount_vs_max_completed_90d": 2.0,
        "amount_vs_avg_completed_90d": 3.0,
        "amount_fen": 60_000,
    }
    assert w.f(e, "account_completed_same_kind_90d", "amount_vs_max_same_kind_90d", "amount_vs_avg_same_kind_90d") == {
        "account_completed_same_kind_90d": 1,
        "amount_vs_max_same_kind_90d": 6.0,
        "amount_vs_avg_same_kind_90d": 6.0,
    }
    credit = w.ev("loan", T0, account_id="a", amount_fen=90_000)  # against the installment only
    assert w.f(credit, "account_completed_same_kind_90d", "amount_vs_max_same_kind_90d") == {
        "account_completed_same_kind_90d": 1,
        "amount_vs_max_same_kind_90d": 3.0,
    }
    new = w.ev("payment", T0, account_id="new", amount_fen=60_000)
    assert w.f(
        new,
        "account_completed_out_90d",
        "amount_vs_max_completed_90d",
        "amount_vs_avg_completed_90d",
        "max_completed_out_90d_fen",
    ) == {
        "account_completed_out_90d": 0,
        "amount_vs_max_completed_90d": None,
        "amount_vs_avg_completed_90d": None,
        "max_completed_out_90d_fen": None,
    }


def test_days_since_real_name_from_events_else_the_account(w):
    w.ev("real_name", T0 - 10 * DAY, account_id="a", outcome="passed")
    w.ev("real_name", T0 - 2 * DAY, account_id="a", outcome="failed")
    w.ev("real_name", T0 + DAY, account_id="a", outcome="passed")  # after the event
    assert w.one(w.ev("payment", T0, account_id="a", amount_fen=1), "days_since_real_name") == 10.0
    acc = w.account("b", real_name_verified_at=T0 - 36 * HOUR)
    e = w.ev("payment", T0, amount_fen=1)
    e.account_id = acc
    w.session.flush()
    assert w.one(e, "days_since_real_name") == 1.5
    assert w.one(w.ev("payment", T0, account_id="never", amount_fen=1), "days_since_real_name") is None
    assert w.one(w.ev("payment", T0, account_id="a", amount_fen=1), "account_age_days") == 10.0


def test_failed_face_attempts(w):
    for i, (acc, outcome) in enumerate([("a", "failed"), ("a", "failed"), ("b", "failed"), ("a", "passed")]):
        w.ev(
            "liveness" if i % 2 else "face_verification",
            T0 - (i + 1) * MIN,
            account_id=acc,
            device_id="phone",
            outcome=outcome,
        )
    w.ev("liveness", T0 - HOUR - SEC, account_id="a", device_id="phone", outcome="failed")  # outside the hour
    w.ev("payment", T0 - MIN, account_id="a", device_id="phone", outcome="failed")  # not a face attempt
    e = w.ev("liveness", T0, account_id="a", device_id="phone", outcome="failed")
    assert w.f(e, "account_failed_face_1h", "device_failed_face_1h", "device_failed_face_accounts_1h") == {
        "account_failed_face_1h": 3,
        "device_failed_face_1h": 4,
        "device_failed_face_accounts_1h": 2,
    }


def test_repayment_history_and_credit_features(w):
    acc = w.account("borrower")
    from facetrust.credit.models import CreditLine

    w.session.add(CreditLine(account_id=acc, limit_fen=1_000_000, used_fen=100_000, granted_by="test"))
    w.session.flush()

    def ev(kind, at, **kw):
        row = w.ev(kind, at, **kw)
        row.account_id = acc
        w.session.flush()
        return row

    ev("installment", T0 - 100 * DAY, amount_fen=50_000, periods=3, outcome="completed")
    ev("installment", T0 - 60 * DAY, amount_fen=80_000, periods=6, outcome="decline")  # never completed
    ev("loan", T0 - 400 * DAY, amount_fen=70_000, periods=3, outcome="completed")
    ev("payment", T0 - DAY, amount_fen=900_000, outcome="completed")  # not credit
    for i, outcome in enumerate(["on_time", "on_time", "early", "late"]):
        ev("repayment", T0 - (90 - 30 * i) * DAY, amount_fen=17_000, outcome=outcome)
    e = ev("installment", T0, amount_fen=400_000, periods=24, category="phones")
    ev("repayment", T0 - HOUR, amount_fen=17_000, outcome="on_time")  # stored after the event
    assert w.f(
        e,
        "on_time_repayments",
        "late_repayments",
        "max_completed_installment_fen",
        "installment_is_max_term",
        "credit_utilisation",
        "category",
    ) == {
        "on_time_repayments": 3,
        "late_repayments": 1,
        "max_completed_installment_fen": 70_000,
        "installment_is_max_term": 1,
        "credit_utilisation": 0.5,
        "category": "phones",
    }
    # The limit and usage the credit flow recorded on the event win over the line as it is now.
    e = ev("loan", T0, amount_fen=100_000, periods=12, data={"limit_fen": 200_000, "used_fen": 80_000})
    assert w.f(e, "credit_utilisation", "installment_is_max_term") == {
        "credit_utilisation": 0.9,
        "installment_is_max_term": 0,
    }
    p = w.ev("payment", T0, account_id="no-line", amount_fen=5)
    assert w.f(
        p, "credit_utilisation", "installment_is_max_term", "on_time_repayments", "max_completed_installment_fen"
    ) == {
        "credit_utilisation": None,
        "installment_is_max_term": None,
        "on_time_repayments": 0,
        "max_completed_installment_fen": None,
    }


def test_merchant_cash_out_features(w):
    def inst(acc, at, periods, outcome="completed"):
        return w.ev(
            "installment",
            at,
            account_id=acc,
            merchant_id="shop",
            periods=periods,
            amount_fen=100_000,
            outcome=outcome,
            ref=f"plan-{uuid.uuid4().hex[:6]}",
        )

    inst("a", T0 - 1 * DAY, 24)
    inst("a", T0 - 2 * DAY, 24)
    inst("b", T0 - 3 * DAY, 24)
    inst("c", T0 - 4 * DAY, 6, outcome="decline")  # counted as an order attempt, not as completed
    inst("c", T0 - 31 * DAY, 24)  # outside 30 days
    pay1 = w.ev(
        "payment", T0 - 10 * DAY, account_id="d", merchant_id="shop", amount_fen=5_000, outcome="completed", ref="pay1"
    )
    w.ev("payment", T0 - 9 * DAY, account_id="e", merchant_id="shop", amount_fen=5_000, outcome="completed", ref="pay2")
    w.ev(
        "payment", T0 - 40 * DAY, account_id="f", merchant_id="shop", amount_fen=5_000, outcome="completed", ref="pay3"
    )
    w.ev("refund", T0 - 10 * DAY + 71 * HOUR, account_id="d", merchant_id="shop", amount_fen=5_000, ref="pay1")  # quick
    w.ev("refund", T0 - 9 * DAY + 80 * HOUR, account_id="e", merchant_id="shop", amount_fen=5_000, ref="pay2")  # slow
    w.ev("refund", T0 - 28 * DAY, account_id="f", merchant_id="shop", amount_fen=5_000, ref="pay3")  # slow (12 days)
    w.ev("refund", T0 - 2 * DAY, account_id="a", merchant_id="shop", amount_fen=1, ref="unknown")  # no order found
    assert pay1.ref.startswith("pay1")
    e = inst("a", T0, 24, outcome=None)
    # 5 installment events (4 + this one) of which 4 max-term, from accounts a, b (+ a again);
    # completed orders: 3 installments + 2 payments = 5; 4 refunds, 1 of them quick.
    assert w.f(
        e,
        "merchant_installments_30d",
        "merchant_max_term_share_30d",
        "merchant_distinct_accounts_max_term_30d",
        "merchant_orders_30d",
        "merchant_refund_share_30d",
        "merchant_quick_refund_share_30d",
        "account_orders_at_merchant_30d",
        "account_installments_at_merchant_30d",
        "account_refunds_at_merchant_30d",
    ) == {
        "merchant_installments_30d": 5,
        "merchant_max_term_share_30d": 0.8,
        "merchant_distinct_accounts_max_term_30d": 2,
        "merchant_orders_30d": 5,
        "merchant_refund_share_30d": 0.8,
        "merchant_quick_refund_share_30d": 0.2,
        "account_orders_at_merchant_30d": 3,
        "account_installments_at_merchant_30d": 3,
        "account_refunds_at_merchant_30d": 1,
    }
    empty = w.ev("installment", T0, account_id="z", merchant_id="empty-shop", periods=3, amount_fen=1)
    assert w.f(
        empty,
        "merchant_max_term_share_30d",
        "merchant_refund_share_30d",
        "merchant_quick_refund_share_30d",
        "merchant_installments_30d",
    ) == {
        "merchant_max_term_share_30d": 0.0,
        "merchant_refund_share_30d": None,
        "merchant_quick_refund_share_30d": None,
        "merchant_installments_30d": 1,
    }
    loan = w.ev("loan", T0, account_id="a", amount_fen=1)
    assert set(
        w.f(
            loan,
            "merchant_installments_30d",
            "merchant_quick_refund_share_30d",
            "account_orders_at_merchant_30d",
            "merchant_is_new_for_account",
        ).values()
    ) == {None}


def test_distance_from_the_usual_merchants(w):
    beijing = [w.merchant(f"bj{i}", 39.90 + i * 0.01, 116.40) for i in range(3)]
    shanghai = w.merchant("sh", 31.23, 121.47)
    nowhere = w.merchant("nowhere", None, None)

    def pay(merchant, at, outcome="completed", **kw):
        e = w.ev("payment", at, account_id="a", amount_fen=1_000, outcome=outcome, **kw)
        e.merchant_id = merchant
        w.session.flush()
        return e

    for i, m in enumerate(beijing):
        pay(m, T0 - (i + 1) * DAY)
    pay(shanghai, T0 - 91 * DAY)  # too old to count as usual, but a completed payment there (365 days)
    pay(beijing[0], T0 - HOUR, outcome="decline")
    e = pay(shanghai, T0, outcome=None)
    km = w.one(e, "km_from_usual_merchants")
    assert 1060 < km < 1075  # Beijing (39.91, 116.40) to Shanghai
    assert w.one(e, "merchant_is_new_for_account") == 0
    # The latest completed payment was at bj0 (39.90, 116.40) a day before: about 1067 km/24 h.
    last = w.f(e, "km_from_last_payment", "travel_speed_kmh")
    assert 1060 < last["km_from_last_payment"] < 1075
    assert abs(last["travel_speed_kmh"] - last["km_from_last_payment"] / 24) < 0.1
    new = pay(w.merchant("sh2", 31.24, 121.48), T0, outcome=None)
    assert w.one(new, "merchant_is_new_for_account") == 1
    # Paying where one usually pays: that merchant is left out of the usual place, the others remain.
    home = pay(beijing[1], T0, outcome=None)
    assert w.one(home, "km_from_usual_merchants") < 2 and w.one(home, "merchant_is_new_for_account") == 0
    assert w.one(pay(nowhere, T0, outcome=None), "km_from_usual_merchants") is None
    # Paid in Shanghai, then two minutes later in Beijing: the time is floored at 6 minutes.
    pay(shanghai, T0 + HOUR)
    jump = pay(beijing[2], T0 + HOUR + 2 * MIN, outcome=None)
    far = w.f(jump, "km_from_last_payment", "travel_speed_kmh")
    assert 1060 < far["km_from_last_payment"] < 1080 and far["travel_speed_kmh"] > 10_000
    first = w.ev("payment", T0, account_id="first-timer", amount_fen=1)
    first.merchant_id = shanghai
    w.session.flush()
    assert w.f(first, "km_from_usual_merchants", "merchant_is_new_for_account", "travel_speed_kmh") == {
        "km_from_usual_merchants": None,
        "merchant_is_new_for_account": 1,
        "travel_speed_kmh": None,
    }


def test_every_feature_computes_on_a_bare_event_and_on_a_full_one(w):
    bare = w.ev("payment", T0)
    values = features.compute(w.session, features.FEATURES, bare)
    assert set(values) == set(features.FEATURES) and values["amount_fen"] is None
    full = w.ev(
        "installment",
        T0,
        account_id="a",
        device_id="p",
        ip="ip",
        merchant_id="m",
        address_hash="h",
        face_key="f",
        amount_fen=10,
        periods=24,
        category="phones",
        outcome=None,
        data={"limit_fen": 100},
    )
    values = features.compute(w.session, features.FEATURES, full)
    assert all(v is None or isinstance(v, int | float | str) for v in values.values())
    json.dumps(values)  # stored with the decision
    assert values["device_is_new_for_account"] == 1 and values["account_money_out_10m"] == 1


def test_features_and_rules_together_on_a_bust_out(w):
    """A few small installment purchases repaid on time, then phones at the longest term."""
    rs = rules.load()
    t = T0 - 120 * DAY
    for i in range(2):
        w.ev(
            "installment",
            t + i * 20 * DAY,
            account_id="bo",
            device_id="bo-phone",
            amount_fen=30_000,
            periods=3,
            category="electronics",
            outcome="completed",
        )
    for i in range(4):
        w.ev("repayment", t + (30 + i * 15) * DAY, account_id="bo", amount_fen=10_000, outcome="on_time")
    e = w.ev(
        "installment",
        T0,
        account_id="bo",
        device_id="bo-phone",
        amount_fen=600_000,
        periods=24,
        category="phones",
        data={"limit_fen": 800_000, "used_fen": 20_000},
    )
    values = features.compute(w.session, rs.features_for("installment"), e)
    verdict = rs.evaluate("installment", values)
    assert values["credit_history_days"] == 120
    assert verdict.decision == "review" and "bust_out" in verdict.typologies, (verdict, values)
    # The same purchase by a customer whose clean credit record is over a year old is not a bust-out.
    old = T0 - 400 * DAY
    w.ev(
        "installment",
        old,
        account_id="ok",
        device_id="ok-phone",
        amount_fen=30_000,
        periods=3,
        category="electronics",
        outcome="completed",
    )
    for i in range(4):
        w.ev("repayment", old + (30 + i * 15) * DAY, account_id="ok", amount_fen=10_000, outcome="on_time")
    e = w.ev(
        "installment",
        T0 + MIN,
        account_id="ok",
        device_id="ok-phone",
        amount_fen=600_000,
        periods=24,
        category="phones",
        data={"limit_fen": 800_000, "used_fen": 20_000},
    )
    assert (
        "bust_out"
        not in rs.evaluate("installment", features.compute(w.session, rs.features_for("installment"), e)).typologies
    )


def test_features_and_rules_together_on_a_burst(w):
    rs = rules.load()
    verdicts = []
    for i in range(11):
        e = w.ev(
            "payment", T0 + i * 30 * SEC, account_id="burst", device_id="terminal:1", amount_fen=500, face_key="burst"
        )
        verdicts.append(rs.evaluate("payment", features.compute(w.session, rs.features_for("payment"), e)).decision)
    assert verdicts[:4] == ["approve"] * 4 and verdicts[4] == "step_up" and verdicts[-1] == "decline"
