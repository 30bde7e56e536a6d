"""Derivations rendered for the terminal and as LaTeX; `bpv derive --latex` is a complete document."""

import shutil

import pytest

from derive.cli.app import main
from derive.core.render import derivation_latex, derivation_text
from derive.core.texbuild import compile_pdf
from derive.functions.activations import derive_activation
from numeric.spec import ActSpec


def test_text_shows_every_step_with_its_verdict_and_method():
    text = derivation_text(derive_activation(ActSpec.parse("sigmoid")).derivation)
    assert "(3) σ'(z) = σ(z)*(1 - σ(z))" in text  # book order: sigma(z)(1 - sigma(z))
    assert "✓ holds — symbolic" in text and "definition" in text


def test_latex_prints_each_equation_from_sympy():
    tex = derivation_latex(derive_activation(ActSpec.parse("tanh")).derivation)
    assert "\\operatorname{tanh}'\\left(z\\right)" in tex and tex.count("\\begin{dmath*}") == 3


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="needs a TeX engine")
def test_derive_latex_is_a_document_that_compiles(tmp_path, capsys):
    assert main(["derive", "--net", "2-1", "--act", "sigmoid", "--cost", "bce", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    pdf = compile_pdf(tex, tmp_path / "derive.pdf")
    assert pdf.stat().st_size > 10_000
