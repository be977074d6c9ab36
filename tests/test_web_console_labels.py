"""No English codes on a Chinese page (issue 22, item 10): every code the service can put in front of
an operator or a person (typologies, event kinds and outcomes, decisions, case outcomes, the keys of
an event's details, features, who answered a real-name check) has a Chinese and an English label in
the pages' JavaScript dictionaries. The codes are enumerated from the Python that emits them; the
JavaScript files are read as text, as tests/test_error_codes.py reads errors.js."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import facetrust
from facetrust.identity import adapters
from facetrust.risk import cases, events, features, rules

ROOT = Path(facetrust.__file__).resolve().parent
STATIC = ROOT / "web" / "static"
ENTRY = re.compile(r'^\s*"([a-z0-9_.]+)": \{ zh: "((?:[^"\\]|\\.)*)", en: "((?:[^"\\]|\\.)*)" \},$', re.M)
CJK = re.compile(r"[\u4e00-\u9fff]")


def labels(*files: str) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for name in files:
        for key, zh, en in ENTRY.findall((STATIC / name).read_text(encoding="utf-8")):
            assert key not in found, f"{key} is labelled twice"
            found[key] = (zh, en)
    return found


CONSOLE = labels("console/labels.js", "console/common.js")


def assert_labelled(table: dict[str, tuple[str, str]], prefix: str, codes) -> None:
    missing = sorted(c for c in codes if prefix + c not in table)
    assert missing == [], f"no label for {prefix}{missing}"
    for code in codes:
        zh, en = table[prefix + code]
        assert CJK.search(zh) or zh in ("App",), (code, zh)  # Chinese (a brand name may stay as it is)
        assert en and not CJK.search(en), (code, en)


def runtime_calls(name: str):
    """Every call ``name(...)`` in the runtime (the tools simulate their own events)."""
    for path in sorted(ROOT.rglob("*.py")):
        if "tools" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                if (f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)) == name:
                    yield path, node


def literal_strings(expr: ast.expr) -> set[str]:
    """A literal, a constant of facetrust.risk.events (``events.QUICK``, ``COMPLETED``), or either
    branch of ``a if test else b`` (nested)."""
    if isinstance(expr, ast.IfExp):
        return literal_strings(expr.body) | literal_strings(expr.orelse)
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    name = expr.attr if isinstance(expr, ast.Attribute) else expr.id if isinstance(expr, ast.Name) else None
    if name and name.isupper() and isinstance(getattr(events, name, None), str):
        return {getattr(events, name)}
    return set()


def test_every_typology_a_case_can_carry_is_labelled():
    """The shipped rule set's typologies, and those a flow opens a case with itself."""
    own = set()
    for _, call in runtime_calls("open_case"):
        if len(call.args) > 4 and isinstance(call.args[4], ast.List):
            own |= {e.value for e in call.args[4].elts if isinstance(e, ast.Constant)}
    assert "identity_change" in own
    assert_labelled(CONSOLE, "typology.", sorted({t.id for t in rules.load().typologies} | own))


def test_every_reason_of_the_shipped_rules_is_labelled():
    assert_labelled(CONSOLE, "reason.", sorted({reason for r in rules.load().rules for reason in r.reasons}))


def test_every_event_kind_is_labelled():
    assert_labelled(CONSOLE, "kind.", events.KINDS)


def test_every_event_outcome_the_flows_store_is_labelled():
    emitted = set()
    for name in ("EventIn", "RealNameAuthentication"):
        for _, call in runtime_calls(name):
            for kw in call.keywords:
                if kw.arg == "outcome":
                    emitted |= literal_strings(kw.value)
    assert {"passed", "failed", "late", "on_time", "early", "quick"} <= emitted
    assert emitted - set(events.OUTCOMES) == set(), "an outcome not in events.OUTCOMES"
    assert_labelled(CONSOLE, "event_outcome.", events.OUTCOMES)
    assert_labelled(CONSOLE, "action.", rules.DECISIONS)  # a money-out event's outcome until it completes


def test_every_case_outcome_is_labelled():
    assert_labelled(CONSOLE, "outcome.", cases.OUTCOMES)


def test_every_key_of_an_events_details_is_labelled():
    keys = {"ip_source", "device_source"}  # ClientInfo.vouched(), the details of a sign-in event
    for _, call in runtime_calls("EventIn"):
        for kw in call.keywords:
            if kw.arg == "data" and isinstance(kw.value, ast.Dict):
                keys |= {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
    assert {"limit_fen", "used_fen", "method", "purpose", "reason"} <= keys
    assert_labelled(CONSOLE, "data.", sorted(keys))


def test_every_key_and_purpose_of_an_audit_record_is_labelled():
    """The audit page shows each record's details as "label value" and its purpose by name."""
    keys, purposes = set(), set()
    for _, call in runtime_calls("append"):
        if getattr(call.func, "value", None) is None or getattr(call.func.value, "id", None) != "audit":
            continue
        for kw in call.keywords:
            if kw.arg == "details" and isinstance(kw.value, ast.Dict):
                keys |= {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
            if kw.arg == "purpose":
                purposes |= literal_strings(kw.value)
    assert {"reason", "amount_fen", "limit_fen", "fields"} <= keys and "compliance" in purposes
    assert_labelled(CONSOLE, "data.", sorted(keys))
    assert_labelled(CONSOLE, "value.", sorted(purposes))


def test_every_audit_action_is_labelled():
    """Literal actions, and those built from a value: real_name.{face,bank_card}, credit.{installment,loan},
    device.review_{approved,denied}."""
    actions, built = set(), set()
    for path, call in runtime_calls("append"):
        if getattr(getattr(call.func, "value", None), "id", None) != "audit":
            continue
        for kw in call.keywords:
            if kw.arg == "action":
                found = literal_strings(kw.value)
                actions |= found
                if not found:
                    built.add(f"{path.relative_to(ROOT)}: {ast.unparse(kw.value)}")
    assert built == {
        "identity/kyc.py: f'real_name.{method}'",
        "credit/plans.py: f'credit.{product.kind}'",
        "devices/rebind.py: f'device.review_{review.status}'",
    }
    actions |= {"real_name.face", "real_name.bank_card", "credit.installment", "credit.loan"}
    actions |= {"device.review_approved", "device.review_denied"}
    assert len(actions) >= 50
    assert_labelled(CONSOLE, "audit_action.", sorted(actions))


def test_every_feature_is_labelled():
    assert_labelled(CONSOLE, "feature.", features.FEATURES)


@pytest.mark.parametrize("code", adapters.SOURCE_CODES[:-1])
def test_every_real_name_source_is_worded_in_both_languages_and_still_says_it_is_a_simulator(code):
    zh, en = labels("sources.js")["source." + code]
    assert CJK.search(zh) and "模拟" in zh
    assert "imulated" in en and not CJK.search(en)


def test_a_stored_source_text_maps_to_its_code():
    citizen, bank = adapters.SimulatedCitizenRegistry.source, adapters.SimulatedBankRegistry.source
    assert adapters.source_of(citizen) == adapters.SourceOf("simulated_citizen_registry", None)
    assert adapters.source_of(f"ICBC ({bank})") == adapters.SourceOf("simulated_bank_registry", "ICBC")
    assert adapters.source_of("a real authority") == adapters.SourceOf("other", None)
