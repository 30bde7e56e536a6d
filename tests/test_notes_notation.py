"""Issue 15, one test per notation item: macros, upright d, \\ell, scripts in any order, hats, named costs, hidden h,
layers as subscripts, stated values, x by shape, the document's own cost (and a flag conflict), strength, repairs."""

import pytest

from derive.claims import check_equation, check_text
from derive.claims.macros import MAX_PASSES, expand_document
from derive.claims.semantics import context_from_directive
from derive.cli.app import main

NIELSEN = context_from_directive("net=2-3-2 act=sigmoid cost=quadratic")
TWO_LAYER = context_from_directive("net=2-3-2 act=tanh,identity cost=quadratic")


def verdicts(text: str, kind: str = "tex") -> list[str]:
    return [r.verdict for r in check_text(text, kind, timeout=None).rows]


def test_newcommand_with_arguments_renewcommand_and_def_are_expanded():
    doc = ("\\newcommand{\\pd}[2]{\\frac{\\partial #1}{\\partial #2}}\n\\renewcommand{\\vec}[1]{\\mathbf{#1}}\n"
           "\\def\\sig{\\sigma}\n\\def\\g#1{\\nabla_{#1} C}\n"
           "$$\\pd{C}{b^l_j} = \\delta^l_j$$\n$$\\vec{\\delta}^L = \\g{a} \\odot \\sig'(\\vec{z}^L)$$\n")
    report = check_text(doc, "tex", timeout=None)
    assert [r.verdict for r in report.rows] == ["proven", "proven"]
    assert any("\\pd [2 arguments]" in e for e in report.expansions)


def test_declare_math_operator_and_an_optional_argument():
    text, done = expand_document("\\DeclareMathOperator{\\diag}{diag}\n\\newcommand{\\w}[2][l]{w^{#1}_{#2}}\n"
                                 "$$\\diag \\w{jk} \\w[2]{jk}$$")
    assert "\\operatorname{diag}" in text and "w^{l}_{jk}" in text and "w^{2}_{jk}" in text and len(done) == 2


def test_mathjax_macros_and_a_newcommand_inside_a_math_block():
    doc = ('<script>MathJax = {tex: {macros: {pdv: ["\\\\frac{\\\\partial #1}{\\\\partial #2}", 2], '
           'act: "\\\\sigma"}}};</script>\n'
           "$$\\pdv{C}{b^l_j} = \\pdv{C}{z^l_j}$$\n$$\\newcommand{\\err}{\\delta} \\err^L_j = \\pdv{C}{a^L_j} "
           "\\act'(z^L_j)$$\n")
    assert verdicts(doc, "md") == ["proven", "proven"]


def test_the_expander_is_bounded_and_reads_no_file():
    text, _ = expand_document("\\def\\a{\\a\\a}\n$$\\a$$")
    assert len(text) < 2 ** (MAX_PASSES + 2) * 10
    text, _ = expand_document("\\newcommand{\\x}{\\input{/etc/passwd}}\n$$\\x = 1$$")
    assert "root:" not in text


@pytest.mark.parametrize("tex", [
    r"\frac{dC}{db^l_j} = \delta^l_j",
    r"\frac{\mathrm{d}C}{\mathrm{d}w^l_{jk}} = a^{l-1}_k \delta^l_j",
    r"\frac{\partial C}{\partial b^\ell_j} = \delta^\ell_j",
    r"\frac{\partial C}{\partial w_{jk}^{l}} = a_k^{l-1} \delta_j^l",
    r"\frac{\partial C}{\partial W^l_{jk}} = a^{l-1}_k \delta^l_j",
])
def test_upright_d_ell_and_scripts_in_any_order(tex):
    assert check_equation(tex, NIELSEN)["verdict"] == "proven"


@pytest.mark.parametrize("tex", [
    r"\frac{\partial E}{\partial \hat{y_k}} = \hat{y}_k - y_k",
    r"\frac{\partial \mathcal{L}}{\partial \hat{y}} = \hat{y} - y",
    r"\frac{\partial C_{MSE}}{\partial b^L_j} = \hat{y}_j - y_j",
    r"\frac{\partial E}{\partial h} = W_2^T (\hat{y} - y)",
])
def test_hats_named_costs_and_the_hidden_h(tex):
    assert check_equation(tex, TWO_LAYER, layer_subscripts=True)["verdict"] == "proven"


def test_a_layer_subscript_on_b_needs_the_document_to_write_layers_as_subscripts():
    tex = r"\frac{\partial E}{\partial b_2} = \hat{y} - y"
    assert check_equation(tex, TWO_LAYER, layer_subscripts=True)["verdict"] == "proven"
    assert check_equation(tex, TWO_LAYER)["verdict"] == "unparsed"  # b_2 alone is a unit, and has no layer


def test_stated_values_and_definition_chains():
    assert check_equation("m = 20", NIELSEN)["verdict"] == "definition"
    chain = check_equation(r"\delta^l_j := \frac{\partial C}{\partial z^l_j} = \sum_k w^{l+1}_{kj} \delta^{l+1}_k "
                           r"\sigma'(z^l_j)", NIELSEN)
    assert chain["verdict"] == "proven"


def test_times_is_read_by_shape():
    rows = context_from_directive("net=2-2-2 act=sigmoid cost=quadratic layout=rows")  # hidden 2, m 3
    good = r"\frac{\partial C}{\partial Z^1} = \frac{\partial C}{\partial Z^2} (W^2)^T \times \sigma'(Z^1)"
    assert check_equation(good, rows)["verdict"] == "proven"


def test_the_documents_cost_wins_and_a_new_cost_applies_from_its_section():
    doc = ("$$C = \\sum_j (y_j - a^L_j)^2$$\n$$\\nabla_a C = 2(a^L - y)$$\n"
           "$$C = -\\sum_j \\left[y_j \\ln a^L_j + (1 - y_j) \\ln(1 - a^L_j)\\right]$$\n$$\\delta^L = a^L - y$$\n")
    assert verdicts(doc) == ["definition", "proven", "definition", "proven"]


def test_a_flag_that_conflicts_with_the_document_wins_with_a_warning(tmp_path, capsys):
    doc = tmp_path / "d.tex"
    doc.write_text("$$C = \\sum_j (y_j - a^L_j)^2$$\n$$\\nabla_a C = 2(a^L - y)$$\n")
    assert main(["check", str(doc)]) == 0
    assert main(["check", str(doc), "--net", "2-3-2", "--cost", "quadratic"]) == 1
    err = capsys.readouterr().err
    assert "the command line wins" in err and "cost=squared" in err


def test_an_unknown_cost_never_refutes_a_claim_true_under_some_cost():
    doc = "$$C = \\text{whatever}$$\n$$\\delta^L = a^L - y$$\n"
    assert verdicts(doc) == ["definition", "not checkable"]


def test_proofs_say_their_strength_and_refutations_carry_a_repair():
    proven = check_equation(r"\frac{\partial C}{\partial b^l_j} = \delta^l_j", NIELSEN)
    assert proven["strength"] == "numeric"
    exact = check_equation(r"\frac{\partial C}{\partial b^l_j} = \delta^l_j",
                           context_from_directive("net=2-3-2 act=identity cost=quadratic"))
    assert exact["strength"] == "exact"
    wrong = check_equation(r"\delta^l = (w^{l+1} \delta^{l+1}) \odot \sigma'(z^l)", NIELSEN)
    assert wrong["verdict"] == "refuted" and "transpose" in wrong["diagnosis"]
    fixed = check_equation(wrong["repair"], NIELSEN)
    assert fixed["verdict"] == "proven"
