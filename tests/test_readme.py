"""The README's Python examples work as written: every import resolves to what the README says it is."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _imports() -> list[tuple[str, str]]:
    found = []
    for block in _python_blocks():
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module:
                found += [(node.module, alias.name) for alias in node.names]
    return found


def test_the_readme_has_python_examples():
    assert len(_python_blocks()) >= 2
    assert ("derive", "verify") in _imports()


@pytest.mark.parametrize(("module", "name"), _imports())
def test_every_readme_import_resolves(module, name):
    mod = importlib.import_module(module)
    assert hasattr(mod, name) or importlib.util.find_spec(f"{module}.{name}") is not None, f"{module}.{name}"


def test_verify_is_the_function_even_after_its_package_is_imported():
    # a submodule named like a public function would shadow it: `from derive import verify` must stay the function
    code = ("import derive.verification, derive.cli, derive.report, derive.graph, derive.codegen\n"
            "from derive import verify, derive_model\n"
            "import inspect; assert inspect.isfunction(verify) and inspect.isfunction(derive_model), verify\n"
            "from numeric import gradcheck; assert inspect.isfunction(gradcheck), gradcheck\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_spec_example_gives_the_shapes_it_shows():
    from numeric import ModelSpec

    spec = ModelSpec.build("3-30-10-3-1", "sigmoid,sigmoid,relu,identity", cost="mse", reduction="mean")
    shapes = spec.param_shapes()
    assert (shapes["W1"], shapes["b1"]) == ((30, 3), (30, 1))
    assert inspect.isclass(type(spec))


def test_importing_derive_loads_no_sympy():
    code = "import derive, derive.cli, sys; assert 'sympy' not in sys.modules, 'sympy loaded'"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
