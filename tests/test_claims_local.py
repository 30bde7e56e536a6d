"""Issue 15 part 2: local derivatives, Jacobian layouts, shapes on a declared model, × by shape, matrix literals,
cases, messages with line and column, and the strength ``symbolic``."""

import pytest

from derive.claims import check_equation, check_text
from derive.claims.semantics import Context, context_from_directive

DECLARED = context_from_directive("net=2-3-4 act=sigmoid cost=quadratic")
NUMERATOR = context_from_directive("net=2-3-4 act=sigmoid cost=quadratic jacobian=numerator")
RELU = context_from_directive("net=2-3-4 act=relu,identity cost=quadratic")


@pytest.mark.parametrize("tex", [
    r"\frac{\partial a^l_j}{\partial z^l_j} = \sigma'(z^l_j)",
    r"\frac{\partial a^l}{\partial z^l} = \sigma'(z^l)",
    r"\frac{d a^l_j}{d z^l_j} = a^l_j (1 - a^l_j)",
    r"\frac{\partial z^l_j}{\partial w^l_{jk}} = a^{l-1}_k",
    r"\frac{\partial z^l_j}{\partial b^l_j} = 1",
    r"\frac{\partial z^l}{\partial b^l} = 1",
    r"\frac{\partial z^{l+1}_k}{\partial a^l_j} = w^{l+1}_{kj}",
    r"\frac{\partial z^{l+1}}{\partial a^l} = w^{l+1}",
    r"\frac{\partial}{\partial a^L_j}\left(\frac{1}{2}(a^L_j - y_j)^2\right) = a^L_j - y_j",
    r"\partial z^l_j / \partial b^l_j = 1",
])
def test_true_local_derivatives_are_proven(tex):
    assert check_equation(tex, DECLARED)["verdict"] == "proven"


@pytest.mark.parametrize("tex, slip", [
    (r"\frac{\partial z^l}{\partial w^l} = w^l", "wrong quantity"),
    (r"\frac{\partial a^l_j}{\partial z^l_j} = \sigma'(a^l_j)", "sigma' at a instead of z"),
    (r"\frac{\partial z^{l+1}_k}{\partial a^l_j} = w^{l+1}_{jk}", "swapped index"),
    (r"\frac{\partial z^{l+1}_k}{\partial a^l_j} = w^{l}_{kj}", "layer index"),
])
def test_planted_slips_in_local_derivatives_are_refuted_with_the_slip(tex, slip):
    got = check_equation(tex, DECLARED)
    assert got["verdict"] == "refuted" and slip in got["diagnosis"]


def test_a_missing_transpose_is_ambiguous_unless_the_layout_is_declared():
    tex = r"\frac{\partial z^{l+1}}{\partial a^l} = (w^{l+1})^T"
    assert check_equation(tex, DECLARED)["verdict"] == "ambiguous"
    got = check_equation(tex, NUMERATOR)
    assert got["verdict"] == "refuted" and "transpose" in got["diagnosis"]
    doc = "Jacobians in the numerator layout.\n\n$$" + tex + "$$\n"
    assert [r.verdict for r in check_text(doc, "md", DECLARED, timeout=None).rows] == ["refuted"]


def test_shapes_refute_on_a_declared_model_and_are_not_checkable_on_an_inferred_one():
    tex = r"\delta^l = (w^{l+1})^T \delta^{l+1} (a^l)^T"
    got = check_equation(tex, DECLARED)
    assert got["verdict"] == "refuted" and got["diagnosis"].startswith("shapes:")
    assert check_equation(tex, Context())["verdict"] == "not checkable"


def test_times_of_two_square_matrices_is_ambiguous_when_the_readings_differ():
    tex = (r"(w^2)^T w^2 \times \frac{\partial a^1}{\partial z^1} = "
           r"(w^2)^T w^2 \frac{\partial a^1}{\partial z^1}")
    got = check_equation(tex, DECLARED)
    assert got["verdict"] == "ambiguous" and "matrix product" in got["reason"]


def test_matrix_literals_and_cases():
    doc = ("$$z^1 = \\begin{pmatrix} z^1_1 \\\\ z^1_2 \\\\ z^1_3 \\end{pmatrix}$$\n"
           "$$z^1 = \\begin{bmatrix} z^1_1 \\\\ z^1_3 \\\\ z^1_2 \\end{bmatrix}$$\n"
           "$$\\frac{\\partial a^1_j}{\\partial z^1_j} = \\begin{cases} 1 & z^1_j > 0 \\\\ 0 & \\text{otherwise}"
           " \\end{cases}$$\n"
           "$$\\frac{\\partial a^1_j}{\\partial z^1_j} = \\begin{cases} 0 & z^1_j > 0 \\\\ 1 & \\text{otherwise}"
           " \\end{cases}$$\n")
    rows = check_text(doc, "md", RELU, timeout=None).rows
    assert [r.verdict for r in rows] == ["proven", "refuted", "proven", "refuted"]
    assert "cases" in rows[3].diagnosis


def test_unparsed_rows_say_line_column_snippet_and_what_would_be_read():
    rows = check_text("Intro\n\n$$\\frac{\\partial C}{\\partial w} = \\foo(a^L)$$\n", "md", timeout=None).rows
    r = rows[0]
    assert r.verdict == "unparsed" and r.line == 3 and r.column == 35 and r.snippet.startswith("\\foo")
    assert r.reason.startswith("line 3, column 35") and "understood instead" in r.reason


@pytest.mark.parametrize("tex", [
    r"\frac{\partial z^l_j}{\partial w^l_{jk}} = a^{l-1}_k",
    r"\frac{\partial a^l_j}{\partial z^l_j} = a^l_j (1 - a^l_j)",
    r"\sigma'(z) = \sigma(z)(1 - \sigma(z))",
])
def test_identities_of_every_size_are_symbolic(tex):
    got = check_equation(tex, DECLARED)
    assert got["verdict"] == "proven" and got["strength"] == "symbolic"


def test_a_claim_about_an_instance_stays_numeric():
    got = check_equation(r"\frac{\partial C}{\partial b^l_j} = \delta^l_j", DECLARED)
    assert got["strength"] in ("numeric", "exact")
