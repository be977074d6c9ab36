"""Rule sets: versioned data (YAML, or the canonical JSON a decision was stored with), validated at
load, evaluated on the features of one event.

A **rule** is a condition over features (``facetrust.risk.features.FEATURES``) for the event kinds
it applies to, a score it adds when it fires and the reason codes it gives. A **typology** is a
fraud pattern: a set of rules and a minimum score; it fires when the scores of its fired rules add
up to ``min_score``, and asks for its action. The decision is the most severe action of the fired
typologies (``approve`` when none fires).

Conditions::

    {feature: NAME, op: OP, value: V}     OP: > >= < <= == != in not_in is_null not_null
                                          V: a number or a string; a list for in / not_in; none for
                                          is_null / not_null; or {feature: NAME, times: NUMBER} to
                                          compare with another feature times a factor
    {all: [CONDITION, ...]}  {any: [CONDITION, ...]}  {not: CONDITION}

A feature that is None (does not apply) makes every comparison false except ``is_null``; ``not``
negates its condition's result. In YAML, quote the operators (``op: ">="``): a bare ``>`` starts a
folded block.

A malformed rule set is refused with every problem in it, each naming the rule or typology and the
field: ``rule 'burst_10m': when.all[1].feature: unknown feature 'acount_money_out_10m'``.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from facetrust.risk.events import KINDS
from facetrust.risk.features import FEATURES, Value

DECISIONS = ("approve", "step_up", "review", "decline", "freeze")  # in order of severity
ACTIONS = DECISIONS[1:]
OPS = (">", ">=", "<", "<=", "==", "!=", "in", "not_in", "is_null", "not_null")
ORDERING = (">", ">=", "<", "<=")
DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "default.yaml"
ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_SEVERITY = {d: i for i, d in enumerate(DECISIONS)}


class RuleSetError(ValueError):
    """A rule set that cannot be used; ``problems`` lists each one."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


# ---------------------------------------------------------------------------------------------
# the schema


def _err(kind: str, message: str) -> PydanticCustomError:
    """A validation error with a finished message (pydantic only fills in context keys it is given)."""
    return PydanticCustomError(kind, message)


def _known_feature(name: str) -> str:
    if name not in FEATURES:
        raise _err("unknown_feature", f"unknown feature {name!r}")
    return name


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class FeatureRef(_Strict):
    """Another feature's value times a factor, as the right-hand side of a comparison."""

    feature: Annotated[str, Field(min_length=1)]
    times: float = 1.0

    _check_feature = field_validator("feature")(lambda cls, v: _known_feature(v))

    @field_validator("times", mode="before")
    @classmethod
    def _number(cls, v: object) -> object:
        if not _is_number(v):
            raise _err("not_a_number", f"must be a number, not {v!r}")
        return v


class Compare(_Strict):
    feature: Annotated[str, Field(min_length=1)]
    op: str
    value: Any = None

    _check_feature = field_validator("feature")(lambda cls, v: _known_feature(v))

    @field_validator("op")
    @classmethod
    def _known_op(cls, v: str) -> str:
        if v not in OPS:
            raise _err("unknown_op", f"unknown operator {v!r} (one of {' '.join(OPS)})")
        return v

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: object) -> object:
        if isinstance(v, FeatureRef):
            return v
        if isinstance(v, dict):
            if set(v) - {"feature", "times"} or "feature" not in v:
                raise _err("bad_value", f"a feature reference is {{feature: NAME, times: NUMBER}}, not {v!r}")
            if v.get("feature") not in FEATURES:
                raise _err("unknown_feature", f"feature: unknown feature {v.get('feature')!r}")
            times = v.get("times", 1.0)
            if not _is_number(times):
                raise _err("not_a_number", f"times: must be a number, not {times!r}")
            return FeatureRef(feature=v["feature"], times=times)
        if isinstance(v, list):
            if not v or not all(_is_number(x) or isinstance(x, str) for x in v):
                raise _err("bad_value", "a list value must hold numbers or strings, and not be empty")
            return tuple(v)
        if v is None or _is_number(v) or isinstance(v, str):
            return v
        raise _err("bad_value", f"must be a number, a string, a list or {{feature:, times:}}, not {v!r}")

    @model_validator(mode="after")
    def _op_fits_value(self) -> Compare:
        op, v = self.op, self.value
        if op in ("is_null", "not_null"):
            if v is not None:
                raise _err("bad_value", f"value: {op} takes no value")
        elif op in ("in", "not_in"):
            if not isinstance(v, tuple):
                raise _err("bad_value", f"value: {op} needs a list")
        elif v is None:
            raise _err("bad_value", f"value: missing (the operator {op} compares with a value)")
        elif isinstance(v, tuple):
            raise _err("bad_value", f"value: a list only goes with in / not_in, not {op}")
        elif op in ORDERING and isinstance(v, str):
            raise _err("bad_value", f"value: {op} needs a number or a feature, not a string")
        return self

    def features(self) -> set[str]:
        return {self.feature} | ({self.value.feature} if isinstance(self.value, FeatureRef) else set())


class AllOf(_Strict):
    all: Annotated[list[Condition], Field(min_length=1)]

    def features(self) -> set[str]:
        return set().union(*(c.features() for c in self.all))


class AnyOf(_Strict):
    any: Annotated[list[Condition], Field(min_length=1)]

    def features(self) -> set[str]:
        return set().union(*(c.features() for c in self.any))


class NotOf(_Strict):
    model_config = ConfigDict(populate_by_name=True)
    not_: Condition = Field(alias="not")

    def features(self) -> set[str]:
        return self.not_.features()


def _condition_tag(v: object) -> str | None:
    if isinstance(v, dict):
        keys = set(v)
        for key in ("all", "any", "not"):
            if key in keys:
                return key
        return "compare" if keys & {"feature", "op", "value"} else None
    return {Compare: "compare", AllOf: "all", AnyOf: "any", NotOf: "not"}.get(type(v))  # type: ignore[call-overload]


Condition = Annotated[
    Annotated[Compare, Tag("compare")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="a condition is {feature:, op:, value:}, {all: [...]}, {any: [...]} or {not: ...}",
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def _known_kind(v: str) -> str:
    if v not in KINDS:
        raise _err("unknown_kind", f"unknown event kind {v!r}")
    return v


def _positive_number(v: object) -> object:
    if not _is_number(v):
        raise _err("not_a_number", f"must be a number, not {v!r}")
    if v <= 0:  # type: ignore[operator]
        raise _err("not_positive", f"must be greater than 0, not {v!r}")
    return v


# Descriptions are shown to operators in their language: ``description`` is the English text and
# ``description_zh`` the Chinese one. A rule set file must carry both (``_validate`` refuses one
# without); a rule set stored with decisions before descriptions were bilingual has no Chinese text
# and stays readable (None), so old decisions can still be explained and replayed.
ZhText = Annotated[str, Field(min_length=1)] | None


class Rule(_Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    description: Annotated[str, Field(min_length=1)]
    description_zh: ZhText = None
    applies_to: Annotated[list[Annotated[str, AfterValidator(_known_kind)]], Field(min_length=1)]
    when: Condition
    score: float
    reasons: Annotated[list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]*$")]], Field(min_length=1)]

    _check_score = field_validator("score", mode="before")(lambda cls, v: _positive_number(v))


class Typology(_Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    description: Annotated[str, Field(min_length=1)]
    description_zh: ZhText = None
    rules: Annotated[list[str], Field(min_length=1)]
    min_score: float
    action: str

    _check_score = field_validator("min_score", mode="before")(lambda cls, v: _positive_number(v))

    @field_validator("action")
    @classmethod
    def _known_action(cls, v: str) -> str:
        if v not in ACTIONS:
            raise _err("unknown_action", f"unknown action {v!r} (one of {' '.join(ACTIONS)})")
        return v


class _Head(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
    description: Annotated[str, Field(min_length=1)]
    rules: Annotated[list[Any], Field(min_length=1)]
    typologies: Annotated[list[Any], Field(min_length=1)]


# ---------------------------------------------------------------------------------------------
# validation with every problem reported


def _path(raw: object, loc: tuple) -> str:
    """A pydantic error location as a path through the document (union tags dropped)."""
    out, node = "", raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            out, node = f"{out}[{part}]", node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            out, node = f"{out}.{part}" if out else part, node[part]
        elif isinstance(part, str) and not isinstance(node, dict | list):
            continue
        elif isinstance(part, str) and isinstance(node, dict) and part not in ("compare", "all", "any", "not"):
            out = f"{out}.{part}" if out else part  # a missing field
            node = None
    return out


_FIELD_PREFIX = re.compile(r"^((?:value|feature|times)(?:\.(?:feature|times))?): ")


def _problems(error: ValidationError, raw: object) -> list[str]:
    problems = []
    for e in error.errors():
        msg = e["msg"]
        if e["type"] == "missing":
            msg = "missing"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        where = _path(raw, tuple(e["loc"]))
        inner = _FIELD_PREFIX.match(msg)
        if inner and where:  # a model-level check naming the field it is about
            where, msg = f"{where}.{inner.group(1)}", msg[inner.end() :]
        problems.append(f"{where}: {msg}" if where else msg)
    return problems


def _label(kind: str, raw: object, index: int) -> str:
    rid = raw.get("id") if isinstance(raw, dict) else None
    return f"{kind} {rid!r}" if isinstance(rid, str) and rid else f"{kind} #{index + 1}"


def _missing_zh(kind: str, raw_items: list | None, parsed_ids: set[str]) -> list[str]:
    """A rule or typology of a rule set file without its Chinese description (the parsed ones only:
    an item that failed to parse has its own problems reported)."""
    return [
        f"{_label(kind, raw, i)}: description_zh: missing"
        for i, raw in enumerate(raw_items or [])
        if isinstance(raw, dict) and raw.get("id") in parsed_ids and raw.get("description_zh") is None
    ]


def _validate(doc: object, source: str, bilingual: bool = True) -> RuleSet:
    """``bilingual``: every rule and typology must carry ``description_zh`` too (rule set files; a
    stored rule set from before may lack it)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise RuleSetError(
            f"invalid rule set {source}: the document must be a mapping with version, description, rules and typologies"
        )
    try:
        _Head.model_validate(doc)
    except ValidationError as error:
        problems += [p for p in _problems(error, doc) if not p.startswith(("rules[", "typologies["))]
    rules: list[Rule] = []
    rule_ids: dict[str, str] = {}
    raw_rules = doc.get("rules") if isinstance(doc.get("rules"), list) else []
    for i, raw in enumerate(raw_rules):
        label = _label("rule", raw, i)
        rid = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(rid, str):
            if rid in rule_ids:
                problems.append(f"{label}: id: duplicate rule id (rule #{i + 1} and an earlier one)")
            rule_ids.setdefault(rid, label)
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as error:
            problems += [f"{label}: {p}" for p in _problems(error, raw)]
    scores = {}
    for r in rules:
        scores.setdefault(r.id, r.score)
    typologies: list[Typology] = []
    raw_typologies = doc.get("typologies") if isinstance(doc.get("typologies"), list) else []
    typology_ids: set[str] = set()
    for i, raw in enumerate(raw_typologies):
        label = _label("typology", raw, i)
        tid = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(tid, str):
            if tid in typology_ids:
                problems.append(f"{label}: id: duplicate typology id (typology #{i + 1} and an earlier one)")
            typology_ids.add(tid)
        named = raw.get("rules") if isinstance(raw, dict) else None
        if isinstance(named, list):
            for j, rid in enumerate(named):
                if isinstance(rid, str) and rid not in rule_ids:
                    problems.append(f"{label}: rules[{j}]: unknown rule {rid!r}")
            if len(set(map(str, named))) != len(named):
                problems.append(f"{label}: rules: a rule is listed twice")
        try:
            typology = Typology.model_validate(raw)
        except ValidationError as error:
            problems += [f"{label}: {p}" for p in _problems(error, raw)]
            continue
        reachable = sum(scores.get(rid, 0) for rid in set(typology.rules))
        if all(rid in scores for rid in typology.rules) and reachable < typology.min_score:
            problems.append(
                f"{label}: min_score: {typology.min_score:g} can never be reached "
                f"(its rules' scores add up to {reachable:g})"
            )
        typologies.append(typology)
    if bilingual:
        problems += _missing_zh("rule", raw_rules, {r.id for r in rules})
        problems += _missing_zh("typology", raw_typologies, {t.id for t in typologies})
    if problems:
        raise RuleSetError(f"invalid rule set {source}:\n" + "\n".join(f"  {p}" for p in problems), problems)
    return RuleSet(str(doc["version"]), str(doc["description"]), tuple(rules), tuple(typologies))


# ---------------------------------------------------------------------------------------------
# evaluation


Check = Callable[[Mapping[str, Value]], bool]
_ORDER_OPS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _comparable(a: object, b: object) -> bool:
    num_a, num_b = _is_number(a), _is_number(b)
    return (num_a and num_b) or (isinstance(a, str) and isinstance(b, str))


def _compile(c: Compare | AllOf | AnyOf | NotOf) -> Check:
    if isinstance(c, AllOf):
        parts = [_compile(x) for x in c.all]
        return lambda f: all(p(f) for p in parts)
    if isinstance(c, AnyOf):
        parts = [_compile(x) for x in c.any]
        return lambda f: any(p(f) for p in parts)
    if isinstance(c, NotOf):
        inner = _compile(c.not_)
        return lambda f: not inner(f)
    name, op, value = c.feature, c.op, c.value
    if op == "is_null":
        return lambda f: f.get(name) is None
    if op == "not_null":
        return lambda f: f.get(name) is not None
    if op in ("in", "not_in"):
        members = frozenset(value)
        want = op == "in"
        return lambda f: f.get(name) is not None and (f.get(name) in members) == want
    compare = _ORDER_OPS[op]
    if isinstance(value, FeatureRef):
        other, times = value.feature, value.times

        def against_feature(f: Mapping[str, Value]) -> bool:
            a, b = f.get(name), f.get(other)
            if not (_is_number(a) and _is_number(b)):
                return False
            return compare(a, b * times)  # type: ignore[operator]

        return against_feature

    def against_value(f: Mapping[str, Value]) -> bool:
        a = f.get(name)
        return a is not None and _comparable(a, value) and compare(a, value)

    return against_value


@dataclass(frozen=True)
class Evaluation:
    decision: str  # the most severe action of the fired typologies; "approve" if none
    score: float  # the sum of the fired rules' scores
    rules: list[str]  # fired rule ids, in file order
    typologies: list[str]  # fired typology ids, in file order
    reasons: list[str]  # the fired rules' reasons, de-duplicated, in order


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set. Build it with ``load`` or ``from_json``."""

    version: str
    description: str
    rules: tuple[Rule, ...]
    typologies: tuple[Typology, ...]

    @cached_property
    def _compiled(self) -> dict[str, list[tuple[Rule, Check]]]:
        by_kind: dict[str, list[tuple[Rule, Check]]] = {}
        for rule in self.rules:
            check = _compile(rule.when)
            for kind in rule.applies_to:
                by_kind.setdefault(kind, []).append((rule, check))
        return by_kind

    @cached_property
    def _features_by_kind(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for rule in self.rules:
            for kind in rule.applies_to:
                out.setdefault(kind, set()).update(rule.when.features())
        return {k: frozenset(v) for k, v in out.items()}

    def features_for(self, kind: str) -> set[str]:
        """Every feature the rules applying to this event kind read."""
        return set(self._features_by_kind.get(kind, ()))

    def evaluate(self, kind: str, features: Mapping[str, Value]) -> Evaluation:
        """Pure: the same kind and feature values give the same evaluation. A feature missing from
        ``features`` counts as None."""
        fired: list[Rule] = [rule for rule, check in self._compiled.get(kind, ()) if check(features)]
        scores = {r.id: r.score for r in fired}
        typologies, decision = [], "approve"
        for typology in self.typologies:
            if sum(scores.get(rid, 0.0) for rid in typology.rules) >= typology.min_score:
                typologies.append(typology.id)
                if _SEVERITY[typology.action] > _SEVERITY[decision]:
                    decision = typology.action
        reasons = list(dict.fromkeys(reason for r in fired for reason in r.reasons))
        return Evaluation(decision, float(sum(scores.values())), [r.id for r in fired], typologies, reasons)

    def as_dict(self) -> dict:
        # A missing Chinese description is left out rather than stored as null: a rule set stored
        # before descriptions were bilingual keeps its canonical JSON, and so its sha256.
        return {
            "version": self.version,
            "description": self.description,
            "rules": [_without_null_zh(r.model_dump(mode="json", by_alias=True)) for r in self.rules],
            "typologies": [_without_null_zh(t.model_dump(mode="json")) for t in self.typologies],
        }

    def canonical_json(self) -> str:
        """Sorted keys, compact: what a decision's rule set is stored as (``from_json`` reads it)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def typology(self, typology_id: str) -> Typology:
        return next(t for t in self.typologies if t.id == typology_id)


def _without_null_zh(item: dict) -> dict:
    if item.get("description_zh") is None:
        item.pop("description_zh", None)
    return item


def load(path: Path | str | None = None) -> RuleSet:
    """A rule set from a YAML (or JSON) file; None: the packaged default rule set."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuleSetError(f"cannot read rule set {path}: {error.strerror or error}") from None
    try:
        # libyaml's loader when PyYAML has it: 22 ms for the default rule set against 111 ms in pure
        # Python, which was most of an app's start.
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise RuleSetError(f"invalid rule set {path}: not valid YAML: {error}") from None
    return _validate(doc, str(path))


def from_json(text: str) -> RuleSet:
    """The inverse of ``RuleSet.canonical_json`` (a stored rule set, for replay). A stored rule set
    may predate the Chinese descriptions, so they are not required here."""
    try:
        doc = json.loads(text)
    except ValueError as error:
        raise RuleSetError(f"invalid rule set (JSON): not valid JSON: {error}") from None
    return _validate(doc, "(JSON)", bilingual=False)


def from_dict(doc: object, source: str = "(dict)") -> RuleSet:
    return _validate(doc, source)
