"""The layers' import rules, read from the code (every import statement, top-level or inside a
function), so they stay true as the code grows:

- a domain's route module is imported only by the app that mounts it (``facetrust.api.app``), never
  by another domain: routes get what they need from ``facetrust.api.deps``, built by the composition
  root (``facetrust.bootstrap``);
- the web framework and the web layer (``fastapi``, ``starlette``, ``facetrust.api``) are imported
  only by the web layer itself (``facetrust.api``, ``facetrust.web``), the domains' routes, the
  composition root and the command line: services, models and the engine know nothing of HTTP;
- the runtime (every package but ``facetrust.cli`` and ``facetrust.tools``) imports neither the
  command line nor the tools (evaluation, benchmarks, simulators, attack generators);
- the kernel (errors and their codes, settings, the clock and ids, the message bus) imports nothing
  of the project but the kernel;
- the face engine (``facetrust.biometrics``) imports nothing of the project but itself and the
  error-code catalogue: it takes its own configuration (``EngineConfig``), not the service's settings;
- the pure image analysis of liveness (actions, checks, continuity, the decision, fingerprints,
  frames, observation, texture, video) imports only the engine, itself and the kernel's errors.
"""

from __future__ import annotations

import ast
from pathlib import Path

import facetrust

ROOT = Path(facetrust.__file__).resolve().parent


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, absolute (``from . import x`` resolved against ``name``)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "facetrust" or m.startswith("facetrust.")}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_module_but_the_app_imports_a_domains_routes():
    mods = modules()
    routes = {m for m in mods if m.endswith(".routes")}
    offenders = sorted(
        (name, imported)
        for name, path in mods.items()
        if name != "facetrust.api.app"
        for imported in imports_of(path, name)
        if imported in routes and imported != name
    )
    assert offenders == []


def _web_imports(path: Path) -> set[str]:
    """The third-party web framework modules ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and not node.level
            else []
        )
        found.update(n for n in names if n.split(".")[0] in ("fastapi", "starlette"))
    return found


def test_only_the_web_layer_and_the_routes_know_http():
    web = (
        "facetrust.api",
        "facetrust.web",
        "facetrust.cli",
        "facetrust.tools",
        "facetrust.bootstrap",
        "facetrust.__main__",
    )
    offenders = sorted(
        (name, imported)
        for name, path in modules().items()
        if not name.endswith(".routes") and not any(_under(name, w) for w in web)
        for imported in imports_of(path, name) | _web_imports(path)
        if _under(imported, "facetrust.api") or imported.split(".")[0] in ("fastapi", "starlette")
    )
    assert offenders == []


def test_the_runtime_imports_neither_the_command_line_nor_the_tools():
    offenders = sorted(
        (name, imported)
        for name, path in modules().items()
        if not any(_under(name, p) for p in ("facetrust.cli", "facetrust.tools", "facetrust.__main__"))
        for imported in imports_of(path, name)
        if _under(imported, "facetrust.cli") or _under(imported, "facetrust.tools")
    )
    assert offenders == []


def test_the_face_engine_imports_nothing_of_the_project_but_itself_and_the_error_codes():
    offenders = sorted(
        (name, imported)
        for name, path in modules().items()
        if _under(name, "facetrust.biometrics")
        for imported in imports_of(path, name)
        if imported != "facetrust"
        and not any(_under(imported, a) for a in ("facetrust.biometrics", "facetrust.errorcodes"))
    )
    assert offenders == []


KERNEL = {f"facetrust.{m}" for m in ("errors", "errorcodes", "settings", "clock", "messagebus")}


def test_the_kernel_imports_nothing_of_the_project_but_the_kernel():
    offenders = sorted(
        (name, imported)
        for name, path in modules().items()
        if name in KERNEL
        for imported in imports_of(path, name)
        if imported != "facetrust" and imported not in KERNEL and not any(imported.startswith(k + ".") for k in KERNEL)
    )
    assert offenders == []


PURE_LIVENESS = {
    f"facetrust.liveness.{m}"
    for m in ("actions", "checks", "continuity", "decision", "fingerprint", "frames", "observe", "texture", "video")
}


def test_the_pure_liveness_analysis_imports_only_the_engine_itself_and_errors():
    allowed = ("facetrust.biometrics", "facetrust.errors", "facetrust.errorcodes", *PURE_LIVENESS)
    offenders = sorted(
        (name, imported)
        for name, path in modules().items()
        if name in PURE_LIVENESS
        for imported in imports_of(path, name)
        if imported not in ("facetrust", "facetrust.liveness") and not any(_under(imported, a) for a in allowed)
    )
    assert offenders == []


def test_the_rules_see_imports_inside_functions(tmp_path):
    # A lazy import is still an import: the check reads them too.
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from facetrust.liveness.routes import router\n    from . import sibling\n")
    assert imports_of(path, "facetrust.payments.mod") == {
        "facetrust.liveness.routes",
        "facetrust.liveness.routes.router",
        "facetrust.payments",
        "facetrust.payments.sibling",
    }
