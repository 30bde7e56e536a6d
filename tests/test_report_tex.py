"""The report's LaTeX layout: escaping, BP tags, breaking long equations, tables, listings, the template."""

import re
import shutil
import subprocess

import pytest
import sympy as sp

from derive.core.book import book_latex
from derive.core.steps import Derivation
from derive.core.symbols import a, delta, w, z
from derive.report import layout as rt

j, k = sp.symbols("j k", integer=True, positive=True)
NASTY = "odd_name 100% & #1 \\ end {x} ~ ^ $"


def test_prose_escapes_every_special_character_of_user_text():
    out = rt.prose(NASTY)
    for raw, escaped in (("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"), ("$", r"\$"),
                         ("\\", r"\textbackslash{}"), ("{", r"\{")):
        assert escaped in out, raw
    assert re.search(r"(?<!\\)[%&#$]", out.replace(r"\textbackslash{}", "")) is None


def test_prose_typesets_ascii_maths_as_math_and_nothing_else():
    assert rt.prose("delta^L = a - y") == "$\\delta^{L}$ = a - y"
    assert rt.prose("a^{l-1}_k and y_k") == "$a^{l-1}_{k}$ and $y_{k}$"
    # a code name for an operation is said in words, and nothing of it is taken for maths
    assert rt.prose("sympy.diff of the definition") == "SymPy's derivative of the definition"
    assert rt.prose("mysympy.diff_x") == "mysympy.diff\\_x"


def test_a_step_labelled_bp1_is_tagged_bp1_and_shows_kind_justification_and_method():
    d = Derivation("t")
    d.derive("BP1", delta[2, j], sp.Derivative(sp.Symbol("C_x"), a[2, j]) * z[2, j], "chain rule",
             expected=sp.Derivative(sp.Symbol("C_x"), a[2, j]) * z[2, j])
    tex = rt.step_tex(d.steps[0])
    assert "\\tag{BP1}" in tex
    assert "chain rule" in tex and "Checked:" in tex and "\\bpvok" in tex
    assert rt.bp_tag("general.BP3") == "BP3" and rt.bp_tag("BP1a") == "BP1a" and rt.bp_tag("sigmoid.diff") is None


def test_short_equation_is_one_line_printed_by_book_latex():
    tex = rt.display(a[1, j], sp.Function("sigma")(z[1, j]))
    assert book_latex(sp.Function("sigma")(z[1, j])) in tex
    assert "aligned" not in tex and "\\\\" not in tex


def test_long_sum_is_broken_between_terms_and_keeps_every_term():
    terms = [w[2, i, 1] * a[1, i] ** 2 * sp.exp(z[1, i]) for i in range(1, 13)]
    rhs = sp.Add(*terms)
    tex = rt.display(delta[1, 1], rhs)
    assert "\\begin{aligned}" in tex
    lines = tex.split("\\\\")
    assert len(lines) >= 3
    assert all(rt.math_width(ln) <= rt.MAX_LINE + 10 for ln in lines[1:])
    for i in range(1, 13):
        assert f"w^{{2}}_{{{i}1}}" in tex or f"w^{{2}}_{{{i},1}}" in tex


def test_a_huge_expression_is_summarised_not_printed():
    rhs = sp.Add(*[sp.Symbol(f"x{i}") * sp.Symbol(f"y{i}") for i in range(2000)])
    tex = rt.display(sp.Symbol("C"), rhs)
    assert "not printed" in tex and len(tex) < 500


def test_math_width_counts_fractions_by_their_wider_part():
    assert rt.math_width("\\frac{a}{b}") < rt.math_width("a b c")
    assert rt.math_width("x^{2}") < rt.math_width("x 2")


def test_kernel_listing_is_ascii_and_cannot_close_the_environment():
    tex = rt.kernel_tex("x = 1  # δ\n# \\end{lstlisting} \\input{/etc/passwd}\n")
    assert tex.isascii()
    assert tex.count("\\end{lstlisting}") == 1 and tex.rstrip().endswith("\\end{lstlisting}")


def test_table_has_booktabs_rules():
    tex = rt.table_tex(["a", "b"], [["1", "2"]], "ll")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex


def test_document_fills_the_shipped_template_and_refuses_a_template_without_body():
    doc = rt.document("BODY TEXT", title_block="\\title{x}")
    for pkg in ("amsmath", "booktabs", "listings", "pgfplots", "tikz", "xcolor", "hyperref", "geometry"):
        assert pkg in doc
    assert "BODY TEXT" in doc and "<<" not in doc
    with pytest.raises(ValueError, match="BODY"):
        rt.document("x", title_block="", template="\\documentclass{article}")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs a TeX engine")
def test_long_equations_compile_without_overfull_lines(tmp_path):
    """One pdflatex run over the hardest layouts: a long sum, a wide single term, a wide matrix."""
    long_sum = sp.Add(*[w[2, i, 1] * sp.exp(-z[1, i]) / (1 + sp.exp(-z[1, i])) ** 2 for i in range(1, 9)])
    wide_term = sp.Mul(*[(1 + sp.exp(-z[1, i])) for i in range(1, 10)], evaluate=False) / (1 + a[1, 1])
    matrix = sp.Matrix(3, 3, lambda r, c: a[1, r + 1] * (sp.KroneckerDelta(r, c) - a[1, c + 1]))
    body = "\n".join([
        rt.display(delta[1, 1], long_sum, tag="BP2"),
        rt.display(sp.Symbol("C"), wide_term),
        rt.display(sp.MatrixSymbol("J_3", 3, 3), matrix),
    ])
    doc = rt.document(body, title_block="")
    (tmp_path / "t.tex").write_text(doc)
    proc = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-2000:]
    over = [float(m) for m in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert not [o for o in over if o > 2.0], over


def test_a_long_derivation_shows_the_first_steps_and_tabulates_the_rest():
    d = Derivation("many")
    for i in range(1, rt.MAX_STEPS + 6):
        d.derive(f"e2e.w{i}", sp.Symbol(f"g{i}"), sp.Integer(i), "sympy.diff", expected=sp.Integer(i))
    tex = rt.derivation_tex(d, "subsection")
    assert tex.count("\\begin{equation}") == rt.SHOWN_STEPS
    assert "longtable" in tex and f"e2e.w{rt.MAX_STEPS + 5}" in tex.replace("\\_", "_")
