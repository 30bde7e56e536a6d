"""The architecture holds: numeric never reaches up, packages export what they say, modules stay small.

These are the rules of docs/architecture.md, checked on the source (ast), so a change that breaks one fails here.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: hand-written package code (the shipped kernels are generated; the codegen template is filled, not imported)
SOURCES = sorted(p for pkg in ("derive", "numeric") for p in (ROOT / pkg).rglob("*.py")
                 if "kernels" not in p.parts and "templates" not in p.parts)
#: reshaped by their own issue (bpv check on real notes): moved here, not rewritten
SIZE_EXEMPT: set[str] = set()  # issue 15 split notation, semantics and extract
PACKAGES = sorted({".".join(p.relative_to(ROOT).parent.parts) for p in SOURCES if p.name == "__init__.py"})


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


@pytest.mark.parametrize("path", [p for p in SOURCES if p.parts[len(ROOT.parts)] == "numeric"], ids=_rel)
def test_numeric_imports_neither_sympy_nor_derive(path):
    for module, _ in _imports(_tree(path)):
        assert module.split(".")[0] not in ("sympy", "derive"), f"{_rel(path)} imports {module}"


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_no_private_name_crosses_a_module(path):
    for module, names in _imports(_tree(path)):
        if module.split(".")[0] in ("derive", "numeric"):
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            assert not private, f"{_rel(path)} imports {private} from {module}"


@pytest.mark.parametrize("path", [p for p in SOURCES if _rel(p) not in SIZE_EXEMPT], ids=_rel)
def test_modules_and_functions_stay_small(path):
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= 500, f"{_rel(path)} has {source.count(chr(10))} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= 60, f"{_rel(path)}: {node.name} has {length} lines"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_exports_what_it_lists(package):
    mod = importlib.import_module(package)
    for name in getattr(mod, "__all__", []):
        assert getattr(mod, name, None) is not None, f"{package}.{name}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_submodule_is_named_like_a_public_name_of_its_package(package):
    mod = importlib.import_module(package)
    subs = {info.name for info in pkgutil.iter_modules(mod.__path__)}
    clash = subs & set(getattr(mod, "__all__", [])) - {"kernels"}
    assert not clash, f"{package}: submodule(s) {sorted(clash)} shadow the public name(s) once imported"


def test_importing_every_package_loads_no_sympy():
    code = "import sys\n" + "".join(f"import {p}\n" for p in PACKAGES) + \
        "assert 'sympy' not in sys.modules, sorted(m for m in sys.modules if m.startswith(('derive', 'numeric')))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
