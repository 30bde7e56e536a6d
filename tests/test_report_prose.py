"""The report's text reads as a book: no code internals in prose, no display printed twice in a row, and each
concrete layer's activation named in the batch forms (issue 18)."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from derive.report.named import NamedApply, named_activations

INTERNALS = ("z.def", "da\\_dz", "dz\\_next", "Sum(", "Derivative(", "convert\\_")
_DISPLAY = re.compile(r"\\begin\{(equation\*?|align\*?)\}(.*?)\\end\{\1\}", re.S)


@pytest.fixture(scope="module")
def tex(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("prose")
    bpv = str(Path(sys.executable).with_name("bpv"))
    subprocess.run([bpv, "report", "regression", "binary_classifier", "-o", str(out), "--no-pdf"],
                   check=True, capture_output=True)
    return {name: (out / f"{name}.tex").read_text() for name in ("regression", "binary_classifier")}


def _displays(text: str) -> list[str]:
    """The displayed equations in order, without their tags and labels."""
    return [re.sub(r"\\(tag|label)\{[^}]*\}|\s+", "", m.group(2)) for m in _DISPLAY.finditer(text)]


@pytest.mark.parametrize("name", ["regression", "binary_classifier"])
def test_no_code_internals_in_the_text(tex, name):
    found = [s for s in INTERNALS if s in tex[name]]
    assert not found, f"{name}.tex shows code internals: {found}"


@pytest.mark.parametrize("name", ["regression", "binary_classifier"])
def test_no_equation_printed_twice_in_a_row(tex, name):
    shown = _displays(tex[name])
    assert len(shown) > 20
    twice = [a for a, b in itertools.pairwise(shown) if a == b]
    assert not twice, f"{name}.tex prints these twice in a row: {twice[:3]}"


def test_a_claim_equal_to_its_derived_form_is_said_not_printed(tex):
    assert "is exactly this" in tex["binary_classifier"]


def test_regression_batch_forms_name_relu_for_layer_3(tex):
    text = tex["regression"]
    assert "A^{3} = \\operatorname{ReLU}\\left(Z^{3}\\right)" in text
    assert "\\operatorname{ReLU}'\\left(Z^{3}\\right)" in text
    assert "A^{3} = \\sigma\\left(Z^{3}\\right)" not in text
    assert "\\sigma'\\left(Z^{3}\\right)" not in text
    assert "A^{2} = \\sigma\\left(Z^{2}\\right)" in text  # a sigmoid layer keeps sigma: there it is the sigmoid


def test_naming_is_display_only_and_leaves_symbolic_layers_alone():
    import sympy as sp

    from derive.backprop.batch_nodes import Apply, Fn
    from numeric.catalog import get_model

    spec = get_model("regression")
    z3, zl = sp.MatrixSymbol("Z^{3}", 2, 2), sp.MatrixSymbol("Z^{l}", 2, 2)
    assert named_activations(Apply(Fn.FORWARD, z3), spec) == NamedApply("ReLU", z3)
    assert named_activations(Apply(Fn.DERIVATIVE, z3), spec) == NamedApply("ReLU'", z3)
    assert named_activations(Apply(Fn.FORWARD, zl), spec) == Apply(Fn.FORWARD, zl)
    assert named_activations(Apply(Fn.FORWARD, sp.MatrixSymbol("Z^{1}", 2, 2)), spec).kind is Fn.FORWARD
