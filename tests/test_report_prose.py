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


# ----- the main text and its appendices (issue 18, items 2, 3 and 5) ------------------------------------------
_LINK = re.compile(r"\\hyperlink\{([^}]*)\}")
_TARGET = re.compile(r"\\hypertarget\{([^}]*)\}")


def _main_and_appendix(text: str) -> tuple[str, str]:
    main, mark, appendix = text.partition("\\appendix")
    assert mark, "the report has no appendices"
    return main, appendix


@pytest.mark.parametrize("name", ["regression", "binary_classifier"])
def test_every_mark_of_the_main_text_links_to_a_proof_log_entry(tex, name):
    main, appendix = _main_and_appendix(tex[name])
    links = set(_LINK.findall(main))
    assert len(links) > 15  # the functions, BP1-BP4 and every batch row are linked
    missing = links - set(_TARGET.findall(appendix))
    assert not missing, f"{name}: links without a target in the appendices: {sorted(missing)[:3]}"


@pytest.mark.parametrize("name", ["regression", "binary_classifier"])
def test_the_main_text_states_results_and_the_appendices_hold_the_evidence(tex, name):
    main, appendix = _main_and_appendix(tex[name])
    for bp in ("BP1", "BP2", "BP3", "BP4"):
        assert f"\\tag{{{bp}}}" in main
        assert f"{bp} for the batch of this model" in main  # the batch forms with this model's shapes
    assert "Checked:" not in main  # the method of each check is in the proof log, not in the main text
    assert "\\bpvbrief{" in main
    headings = ["Proof log", "Verification", "The generated kernel", "Reproduce"]
    where = [appendix.find(f"\\section{{{h}") for h in headings]
    assert -1 not in where and where == sorted(where), dict(zip(headings, where, strict=True))
    assert "Checked:" in appendix and "\\begin{lstlisting}" in appendix


def test_the_kept_tex_compiles_on_its_own_with_its_figures_inline(tex):
    for text in tex.values():
        assert "-figures.pdf" not in text and "<<FIG:" not in text
        assert "\\begin{tikzpicture}" in text


def test_no_figures_file_is_planned_beside_a_report():
    from derive.report.build import planned_outputs
    from numeric.catalog import get_model

    names = [p.name for p in planned_outputs([get_model("regression")], "out")]
    assert names and not any("figures" in n for n in names)


@pytest.mark.skipif(not __import__("derive.core.texbuild", fromlist=["tex_available"]).tex_available(),
                    reason="no TeX engine")
def test_regression_main_text_is_at_most_six_pages(tex, tmp_path):
    from derive.core.texbuild import compile_pdf

    pdf = compile_pdf(tex["regression"], tmp_path / "regression.pdf", keep_tex=False)
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    before = pages.stdout.split("Proof log: every step")[0]
    assert before.count("\f") + 1 <= 6, f"the main text runs to page {before.count(chr(12)) + 1}"


@pytest.mark.parametrize("name", ["regression", "binary_classifier"])
def test_no_code_names_for_operations_outside_the_kernel_listing(tex, name):
    outside = re.sub(r"\\begin\{lstlisting\}.*?\\end\{lstlisting\}", "", tex[name], flags=re.S)
    assert "sympy.diff" not in outside and "sp.diff" not in outside


def test_the_bias_entries_show_no_placeholder_for_the_ones_vector(tex):
    main, _ = _main_and_appendix(tex["regression"])
    assert "BP3 for the batch of this model" in main
    assert "{u}_{" not in tex["regression"]  # the all-ones vector's entries are 1 in the index form
