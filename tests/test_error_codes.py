"""One error-code catalogue (``facetrust/errorcodes.py``), and everything that names a code keyed by it:

- every refusal in the code (``DomainError``, ``RecordedRefusal``, the API's own error bodies) takes
  its code from the catalogue, never a string literal, and its status from the catalogue too;
- the catalogue lists nothing that is never answered;
- ``/openapi.json`` publishes the catalogue as the error body's ``code`` enum;
- the pages (``facetrust/web/static/errors.js``) have a Chinese and an English text, what happened
  and what to do, for every code of the catalogue and every liveness reason and decline reason, and
  no text for a code nobody sends.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import facetrust
from facetrust.biometrics.errors import BiometricError
from facetrust.errorcodes import DeclineReason, ErrorCode, LivenessReason
from facetrust.errors import DomainError, RecordedRefusal

ROOT = Path(facetrust.__file__).resolve().parent
ERRORS_JS = ROOT / "web" / "static" / "errors.js"

# Codes only the pages themselves use: the browser's own failures, the capture page's fallback for a
# decline without a reason, and the face engine's quality reason for a picture without a face.
PAGE_CODES = {
    "camera_denied",
    "camera_missing",
    "camera_busy",
    "network_error",
    "unknown_error",
    "insecure_context",
    "bad_capture_url",
    "payment_not_completed",
    "no_face",
}


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def called(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return None


def catalogue_member(node: ast.AST) -> str | None:
    """``X`` of an ``ErrorCode.X`` expression."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ErrorCode":
        return node.attr
    return None


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', '?')}"


def test_the_catalogue_is_well_formed():
    assert len(ErrorCode.__members__) == len(list(ErrorCode)), "two names for one code (an enum alias)"
    for code in ErrorCode:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code.value), code
        assert code.name == code.value.upper(), code
        assert 400 <= code.status < 600, code
        assert code.message and code.message == code.message.strip(), code
        assert all(400 <= s < 600 and s != code.status for s in code.other_statuses), code


def test_a_domain_error_takes_its_status_and_default_message_from_the_catalogue():
    err = DomainError(ErrorCode.PLAN_NOT_FOUND)
    assert (err.status, err.code, err.message, err.extra) == (404, "plan_not_found", "no such plan", {})
    err = RecordedRefusal(ErrorCode.FACE_ATTEMPTS_LOCKED, "try again in 30 minutes", retry_after_seconds=1800)
    assert (err.status, err.code, err.message, err.extra) == (
        429,
        "face_attempts_locked",
        "try again in 30 minutes",
        {"retry_after_seconds": 1800},
    )
    assert DomainError(ErrorCode.FACE_MISMATCH, "no match", status=403).status == 403  # a listed second status
    with pytest.raises(ValueError):
        DomainError(ErrorCode.PLAN_NOT_FOUND, "no such plan", status=409)
    with pytest.raises(TypeError):
        DomainError("plan_not_found", "no such plan")  # type: ignore[arg-type]


def test_no_refusal_names_its_code_or_status_as_a_literal():
    offenders = []
    for path, tree in sources():
        for node in ast.walk(tree):
            name = called(node)
            if name in ("DomainError", "RecordedRefusal"):
                assert isinstance(node, ast.Call)
                if not node.args:
                    offenders.append((where(path, node), "no code"))
                    continue
                first, member = node.args[0], catalogue_member(node.args[0])
                if isinstance(first, ast.Constant) or len(node.args) > 2:
                    offenders.append((where(path, node), ast.unparse(node)[:80]))
                elif member is not None and member not in ErrorCode.__members__:
                    offenders.append((where(path, node), f"ErrorCode.{member} is not in the catalogue"))
                for kw in node.keywords:
                    if (
                        kw.arg == "status"
                        and isinstance(kw.value, ast.Constant)
                        and member is not None
                        and not ErrorCode[member].allows(kw.value.value)
                    ):
                        offenders.append((where(path, node), f"{member} is not answered {kw.value.value}"))
            elif (
                name == "error_body"
                and isinstance(node, ast.Call)
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                offenders.append((where(path, node), ast.unparse(node)[:80]))
            elif name == "HTTPException":
                offenders.append((where(path, node), "an HTTPException: refuse with a DomainError"))
            elif isinstance(node, ast.Dict):  # a hand-built error body {"code": "..."}
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and key.value == "code" and isinstance(value, ast.Constant):
                        offenders.append((where(path, node), ast.unparse(node)[:80]))
            elif isinstance(node, ast.ClassDef) and any(
                getattr(b, "id", None) == "BiometricError" or getattr(b, "attr", None) == "BiometricError"
                for b in node.bases
            ):
                for item in node.body:
                    if isinstance(item, ast.Assign | ast.AnnAssign) and isinstance(item.value, ast.Constant):
                        offenders.append((where(path, item), f"{node.name}: a literal code"))
    assert offenders == []


def test_every_code_in_the_catalogue_is_answered_somewhere():
    used = {
        member
        for path, tree in sources()
        if path.name != "errorcodes.py"
        for node in ast.walk(tree)
        if (member := catalogue_member(node))
    }
    assert used - set(ErrorCode.__members__) == set()
    assert set(ErrorCode.__members__) - used == set()


def test_the_face_engines_errors_carry_catalogue_codes():
    pending, seen = [BiometricError], []
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        seen.append(cls)
        assert isinstance(cls.code, ErrorCode), cls
    assert len(seen) >= 9


def outcomes(expr: ast.expr) -> set[str]:
    """The string values an expression can take: a literal, or either branch of ``a if test else b``."""
    if isinstance(expr, ast.IfExp):
        return outcomes(expr.body) | outcomes(expr.orelse)
    return {expr.value} if isinstance(expr, ast.Constant) and isinstance(expr.value, str) else set()


def test_the_liveness_and_decline_reasons_in_the_code_are_listed():
    from facetrust.liveness import service

    liveness, declines = {service.CHALLENGE_TOO_WEAK, service.NONCE_MISMATCH, service.FRAMES_REPLAYED}, set()
    for path, tree in sources():
        for node in ast.walk(tree):
            name = called(node)
            if name == "Check" and path.parent.name == "liveness":
                assert isinstance(node, ast.Call)
                liveness |= outcomes(node.args[1])
            elif name == "_decline" and path.parent.name == "payments":
                assert isinstance(node, ast.Call)
                declines |= outcomes(node.args[2])
            if isinstance(node, ast.keyword) and node.arg == "decline_reason" and isinstance(node.value, ast.Constant):
                declines.add(node.value.value)
    assert len(liveness) >= 12 and len(declines) >= 10
    assert liveness - set(LivenessReason) == set()
    assert declines - set(DeclineReason) == set()


def test_openapi_publishes_the_catalogue_as_the_error_code_enum(tmp_path):
    from facetrust.api.app import create_app
    from facetrust.settings import Settings

    spec = create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/unused.db")).openapi()
    schemas = spec["components"]["schemas"]
    ref = schemas["ErrorDetail"]["properties"]["code"]["$ref"]
    assert schemas[ref.rsplit("/", 1)[1]]["enum"] == [code.value for code in ErrorCode]


# errors.js: ``key: E("what zh", "what en", "todo zh", "todo en"),`` or ``key: NAME,`` for a text several
# codes share (``const NAME = E(...);``).
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
CJK = re.compile(r"[\u4e00-\u9fff]")


def page_texts() -> dict[str, list[str]]:
    js = ERRORS_JS.read_text(encoding="utf-8")
    shared = {
        m.group(1): STRING.findall(m.group(2)) for m in re.finditer(r"^const ([A-Z_]+) = (E\(.*?\));$", js, re.M | re.S)
    }
    block = js[js.index("export const ERRORS = {") :]
    block = block[: block.index("\n};")]
    entries = re.split(r"^  ([a-z][a-z0-9_]*): ", block, flags=re.M)[1:]
    keys = entries[0::2]
    assert len(keys) == len(set(keys)), "a code is listed twice"
    texts = {}
    for key, value in zip(keys, entries[1::2]):
        value = "\n".join(line for line in value.splitlines() if not line.strip().startswith("//")).strip()
        texts[key] = STRING.findall(value) if value.startswith("E(") else shared[value.rstrip(",")]
    return texts


def test_the_pages_have_both_texts_for_every_code():
    texts = page_texts()
    needed = {*ErrorCode, *LivenessReason, *DeclineReason}
    assert sorted(needed - set(texts)) == []
    for code, strings in texts.items():
        assert len(strings) == 4, code
        what_zh, what_en, todo_zh, todo_en = strings
        for zh in (what_zh, todo_zh):
            assert CJK.search(zh), (code, zh)
        for en in (what_en, todo_en):
            assert re.search(r"[A-Za-z]{2}", en) and not CJK.search(en), (code, en)
        assert what_zh != todo_zh and what_en != todo_en, code  # what happened, then what to do


def test_the_pages_explain_no_code_that_nobody_sends():
    assert sorted(set(page_texts()) - {*ErrorCode, *LivenessReason, *DeclineReason} - PAGE_CODES) == []


def test_the_page_specific_texts_are_for_known_codes_in_both_languages():
    """``PAGE_ERRORS``: the same code in other words where a page needs them (the vending machine, the
    loan and checkout pages, real name, face pay), and sharper variants (``code.variant``)."""
    js = ERRORS_JS.read_text(encoding="utf-8")
    block = js[js.index("export const PAGE_ERRORS = {") :]
    entries = re.findall(r'^    "?([a-z][a-z0-9_.]*)"?: E\((.*?)\),$', block, re.M | re.S)
    assert len(entries) >= 15
    known = {*ErrorCode, *LivenessReason, *DeclineReason} | PAGE_CODES
    for key, args in entries:
        code, _, variant = key.partition(".")
        assert code in known and variant in ("", "review", "which"), key
        what_zh, what_en, todo_zh, todo_en = STRING.findall(args)
        assert CJK.search(what_zh) and CJK.search(todo_zh), key
        assert not CJK.search(what_en) and not CJK.search(todo_en), key
    pages = set(re.findall(r"^  ([a-z_]+): \{$", block, re.M))
    assert pages == {"any", "kiosk", "real_name", "checkout", "loan", "face_pay"}
    # Every page that sets its name has texts under it.
    static = ERRORS_JS.parent
    named = {
        m
        for path in static.rglob("*.js")
        for m in re.findall(r'setErrorPage\("([a-z_]+)"\)', path.read_text(encoding="utf-8"))
    }
    assert named and named <= pages, named - pages
